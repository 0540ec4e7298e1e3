/*
 * cli_token_get.c — `gatehouse token get`: fetch a token with the client
 * library and print it. The secret comes from a file or the environment,
 * never from the command line, where `ps` would show it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extern.h"

struct opt {
	const char	*name;
	const char	*help;
	const char	*value;
	int		 flag;	/* takes no value */
	int		 given;
};

enum { O_URL, O_DIALECT, O_ID, O_SECRET_FILE, O_SCOPE, O_TENANT, O_PATH, O_CA_FILE,
    O_CA_PATH, O_TIMEOUT, O_ALLOW_HTTP, O_JSON, O_HELP, O__MAX };

static void
usage(FILE *f, const struct opt *o)
{
	int i;

	fprintf(f, "usage: gatehouse token get --url URL [--dialect NAME] --client-id ID\n"
	    "                           [--client-secret-file FILE] [options]\n"
	    "Prints a token for the client on stdout. Without --client-secret-file the secret\n"
	    "is read from GATEHOUSE_CLIENT_SECRET. Dialects: oauth-basic (default), oauth-post,\n"
	    "m2p (000), partner (001), papaya (002), mangopay (003).\n");
	for (i = 0; i < O__MAX; i++)
		fprintf(f, "  --%-20s %s\n", o[i].name, o[i].help);
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "--name=value", "--name value" and "--flag" into o: 0, or -1 (told on stderr). */
static int
args_parse(int argc, char **argv, struct opt *o)
{
	int i, k;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		size_t n;

		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "gatehouse token get: unexpected argument \"%.64s\"\n", a);
			return -1;
		}
		a += 2;
		n = (eq = strchr(a, '=')) != NULL ? (size_t)(eq - a) : strlen(a);
		for (k = 0; k < O__MAX; k++)
			if (strlen(o[k].name) == n && strncmp(o[k].name, a, n) == 0)
				break;
		if (k == O__MAX) {
			if (n == 13 && strncmp(a, "client-secret", 13) == 0)
				fprintf(stderr, "gatehouse token get: a secret on the command line is "
				    "visible to every user; use --client-secret-file or "
				    "GATEHOUSE_CLIENT_SECRET\n");
			else
				fprintf(stderr, "gatehouse token get: unknown option --%.*s\n",
				    (int)(n > 64 ? 64 : n), a);
			return -1;
		}
		if (o[k].given) {
			fprintf(stderr, "gatehouse token get: --%s given twice\n", o[k].name);
			return -1;
		}
		o[k].given = 1;
		if (o[k].flag) {
			if (eq != NULL) {
				fprintf(stderr, "gatehouse token get: --%s takes no value\n", o[k].name);
				return -1;
			}
			continue;
		}
		if (eq != NULL)
			o[k].value = eq + 1;
		else if (i + 1 < argc)
			o[k].value = argv[++i];
		else {
			fprintf(stderr, "gatehouse token get: --%s needs a value\n", o[k].name);
			return -1;
		}
	}
	return 0;
}

/* The URL (or GATEHOUSE_URL), the dialect and the timeout: 0, or -1 (told on stderr). */
static int
args_check(const struct opt *o, const char **urlp, struct gh_client_options *opts,
    long *timeout)
{
	const char *url;

	url = o[O_URL].value ? o[O_URL].value : getenv("GATEHOUSE_URL");
	if (url == NULL || *url == '\0') {
		fprintf(stderr, "gatehouse token get: --url is required\n");
		usage(stderr, o);
		return -1;
	}
	if (o[O_DIALECT].value != NULL &&
	    gh_client_dialect_parse(o[O_DIALECT].value, &opts->dialect) != GH_CLIENT_OK) {
		fprintf(stderr, "gatehouse token get: unknown dialect \"%.40s\"\n",
		    o[O_DIALECT].value);
		return -1;
	}
	if (o[O_TIMEOUT].value != NULL &&
	    parse_long(o[O_TIMEOUT].value, 1, 600000, timeout) != 0) {
		fprintf(stderr, "gatehouse token get: --timeout-ms must be 1..600000\n");
		return -1;
	}
	*urlp = url;
	return 0;
}

/* The client's options from o and the loaded credentials. */
static void
opts_fill(struct gh_client_options *opts, const struct opt *o, const char *url,
    const char *id, const char *secret, long timeout)
{
	const char *tenant;

	tenant = o[O_TENANT].value ? o[O_TENANT].value : getenv("GATEHOUSE_TENANT");
	opts->base_url = url;
	opts->token_path = o[O_PATH].value;
	opts->client_id = id;
	opts->client_secret = secret;
	opts->scope = o[O_SCOPE].value;
	opts->tenant = tenant;
	opts->ca_file = o[O_CA_FILE].value;
	opts->ca_path = o[O_CA_PATH].value;
	opts->timeout_ms = timeout;
	opts->allow_http = o[O_ALLOW_HTTP].given;
}

int
gh_client_cli_token_get(int argc, char **argv)
{
	struct opt o[O__MAX] = {
		[O_URL] = { "url", "token service base URL (env GATEHOUSE_URL)", NULL, 0, 0 },
		[O_DIALECT] = { "dialect", "request dialect (default oauth-basic)", NULL, 0, 0 },
		[O_ID] = { "client-id", "client id (env GATEHOUSE_CLIENT_ID)", NULL, 0, 0 },
		[O_SECRET_FILE] = { "client-secret-file", "file holding the secret (mode 600)",
		    NULL, 0, 0 },
		[O_SCOPE] = { "scope", "scope to ask for", NULL, 0, 0 },
		[O_TENANT] = { "tenant", "X-TENANT-ID (env GATEHOUSE_TENANT)", NULL, 0, 0 },
		[O_PATH] = { "token-path", "token endpoint path, overriding the dialect's", NULL, 0, 0 },
		[O_CA_FILE] = { "ca-file", "PEM CA bundle for TLS verification", NULL, 0, 0 },
		[O_CA_PATH] = { "ca-path", "directory of CA certificates", NULL, 0, 0 },
		[O_TIMEOUT] = { "timeout-ms", "timeout of one HTTP attempt (default 20000); with its "
		    "retries the command ends by 4 times that", NULL, 0, 0 },
		[O_ALLOW_HTTP] = { "allow-http", "accept http:// to a non-loopback host", NULL, 1, 0 },
		[O_JSON] = { "json", "print {\"token\":...,\"expires_at\":...} instead", NULL, 1, 0 },
		[O_HELP] = { "help", "this text", NULL, 1, 0 },
	};
	struct gh_client_options opts;
	struct gh_client_error err;
	struct gh_client_token *tok = NULL;
	struct gh_client *c = NULL;
	char *id = NULL, *secret = NULL;
	const char *url = NULL;
	long timeout = 0;
	int rc = 1;

	memset(&opts, 0, sizeof(opts));
	memset(&err, 0, sizeof(err));
	if (args_parse(argc, argv, o) != 0)
		return 2;
	if (o[O_HELP].given) {
		usage(stdout, o);
		return 0;
	}
	if (args_check(o, &url, &opts, &timeout) != 0)
		return 2;
	if (gh_client_credentials_load(o[O_ID].value, "GATEHOUSE_CLIENT_ID",
	    o[O_SECRET_FILE].value, "GATEHOUSE_CLIENT_SECRET", &id, &secret, &err) != GH_CLIENT_OK)
		goto fail;
	opts_fill(&opts, o, url, id, secret, timeout);
	if (gh_client_new(&opts, &c, &err) != GH_CLIENT_OK ||
	    gh_client_token_get(c, NULL, NULL, &tok, &err) != GH_CLIENT_OK)
		goto fail;
	if (o[O_JSON].given)
		printf("{\"token\":\"%s\",\"expires_at\":%lld}\n", gh_client_token_value(tok),
		    (long long)gh_client_token_expires_at(tok));
	else
		printf("%s\n", gh_client_token_value(tok));
	rc = fflush(stdout) == 0 ? 0 : 1;
	goto out;
fail:
	fprintf(stderr, "gatehouse token get: %s: %s\n", gh_client_err_name(err.code),
	    err.message);
out:
	gh_client_token_release(tok);
	gh_client_free(c);
	gh_client_credentials_free(id, secret);
	return rc;
}
