/*
 * call_api.c — call a protected API through the gatehouse client library.
 *
 *   GATEHOUSE_URL=https://auth.example.com GATEHOUSE_CLIENT_ID=... \
 *   GATEHOUSE_CLIENT_SECRET=... GATEHOUSE_TENANT=acme \
 *   API_URL=https://api.example.com/v1/products/ ./call_api
 *
 * Optional: GATEHOUSE_DIALECT (default oauth-basic), GATEHOUSE_SCOPE,
 * GATEHOUSE_CLIENT_SECRET_FILE (instead of GATEHOUSE_CLIENT_SECRET),
 * GATEHOUSE_CA_FILE; arguments -H "Name: value" add request headers, e.g.
 * to ask gatehouse's own gate (API_URL=$GATEHOUSE_URL/gate) about a call:
 *   ./call_api -H "X-Original-Method: GET" -H "X-Original-URI: /v1/products/"
 *
 * Against `make run` (http://127.0.0.1:8080, no route policy, so its gate
 * refuses every call), gatehouse's own admin API is a protected API a viewer
 * may read. With GATEHOUSE_DB=sqlite:var/gatehouse.db and
 * GATEHOUSE_MASTER_KEY=var/master.key (make run's store), create one with
 * `gatehouse tenant create --id acme` and `gatehouse client create --tenant
 * acme --name example --roles viewer`, then
 *   GATEHOUSE_URL=http://127.0.0.1:8080 API_URL=http://127.0.0.1:8080/admin/v1/clients \
 *   GATEHOUSE_CLIENT_ID=<its id> GATEHOUSE_CLIENT_SECRET=<its secret> \
 *   GATEHOUSE_TENANT=acme ./call_api
 *
 * Build against an installed library:
 *   cc call_api.c $(pkg-config --cflags --libs gatehouse-client)
 *
 * Prints the API's answer on stdout; exits 0 on a 2xx, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gatehouse/client.h>

#define MAX_HEADERS 16

int
main(int argc, char **argv)
{
	const char *headers[MAX_HEADERS + 1] = { NULL };
	struct gh_client_options o = { 0 };
	struct gh_client_request req = { 0 };
	struct gh_client_response resp = { 0 };
	struct gh_client_error err = { 0 };
	struct gh_client *c = NULL;
	char *id = NULL, *secret = NULL;
	const char *dialect = getenv("GATEHOUSE_DIALECT");
	int i, n = 0, rc = 1;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-H") != 0 || i + 1 == argc || n == MAX_HEADERS) {
			fprintf(stderr, "usage: call_api [-H \"Name: value\"]... (at most %d)\n",
			    MAX_HEADERS);
			return 2;
		}
		headers[n++] = argv[++i];
	}
	req.headers = n > 0 ? headers : NULL;
	if ((req.url = getenv("API_URL")) == NULL || (o.base_url = getenv("GATEHOUSE_URL")) == NULL) {
		fprintf(stderr, "call_api: set GATEHOUSE_URL and API_URL\n");
		return 2;
	}
	if (dialect != NULL && gh_client_dialect_parse(dialect, &o.dialect) != GH_CLIENT_OK) {
		fprintf(stderr, "call_api: unknown GATEHOUSE_DIALECT %s\n", dialect);
		return 2;
	}
	if (gh_client_credentials_load(NULL, "GATEHOUSE_CLIENT_ID",
	    getenv("GATEHOUSE_CLIENT_SECRET_FILE"), "GATEHOUSE_CLIENT_SECRET", &id, &secret,
	    &err) != GH_CLIENT_OK)
		goto fail;
	o.client_id = id;
	o.client_secret = secret;
	o.tenant = getenv("GATEHOUSE_TENANT");
	o.scope = getenv("GATEHOUSE_SCOPE");
	o.ca_file = getenv("GATEHOUSE_CA_FILE");
	if (gh_client_new(&o, &c, &err) != GH_CLIENT_OK)
		goto fail;
	/* One client per process: it caches the token for every call after this one. */
	if (gh_client_call(c, &req, &resp, &err) != GH_CLIENT_OK) {
		if (resp.status != 0)
			fwrite(resp.body, 1, resp.body_len, stdout);
		goto fail;
	}
	fwrite(resp.body, 1, resp.body_len, stdout);
	if (resp.body_len > 0 && resp.body[resp.body_len - 1] != '\n')
		putchar('\n');
	fprintf(stderr, "call_api: %ld (X-Request-ID %s)\n", resp.status, resp.request_id);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "call_api: %s: %s\n", gh_client_err_name(err.code), err.message);
out:
	gh_client_response_free(&resp);
	gh_client_free(c);
	gh_client_credentials_free(id, secret);
	return rc;
}
