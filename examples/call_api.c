/*
 * call_api.c — call a protected API through the gatehouse client library.
 *
 *   GATEHOUSE_URL=https://auth.example.com GATEHOUSE_CLIENT_ID=... \
 *   GATEHOUSE_CLIENT_SECRET=... GATEHOUSE_TENANT=acme \
 *   API_URL=https://api.example.com/v1/products/ ./call_api
 *
 * Optional: GATEHOUSE_DIALECT (default oauth-basic), GATEHOUSE_SCOPE,
 * GATEHOUSE_CLIENT_SECRET_FILE (instead of GATEHOUSE_CLIENT_SECRET),
 * GATEHOUSE_CA_FILE.
 *
 * Build against an installed library:
 *   cc call_api.c $(pkg-config --cflags --libs gatehouse-client)
 *
 * Prints the API's answer on stdout; exits 0 on a 2xx, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

#include <gatehouse/client.h>

int
main(void)
{
	struct gh_client_options o = { 0 };
	struct gh_client_request req = { 0 };
	struct gh_client_response resp = { 0 };
	struct gh_client_error err = { 0 };
	struct gh_client *c = NULL;
	char *id = NULL, *secret = NULL;
	const char *dialect = getenv("GATEHOUSE_DIALECT");
	int rc = 1;

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
