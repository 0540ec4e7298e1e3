/*
 * verify_token.c — checks a gatehouse access token in-process with
 * libgatehouse-verify, as a C service would before serving a call.
 *
 *   verify_token (--audience AUD | --any-audience) --env production|sandbox|any
 *                [--tenant TENANT] [--allow-http] JWKS_URL ISSUER TOKEN
 *
 * --audience is this API's identifier, which tokens must name in aud (RFC
 * 9068 §4; gatehouse's tokens name the issuer unless the client asked for
 * another audience). --any-audience skips that check, deliberately. --env
 * is the environment this API serves; "any" takes sandbox tokens too.
 *
 * TOKEN "-" reads the token from standard input (keeps it out of ps).
 * Exit status 0 when valid (the claims are printed as JSON), 1 when refused
 * (the reason is printed), 2 on a usage error.
 *
 * Build: cc verify_token.c $(pkg-config --cflags --libs gatehouse-verify)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gatehouse/verify.h>

static int
usage(void)
{
	fprintf(stderr, "usage: verify_token (--audience AUD | --any-audience) "
	    "--env production|sandbox|any [--tenant TENANT] [--allow-http] "
	    "JWKS_URL ISSUER TOKEN|-\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct gh_verify_options o;
	struct gh_verify_claims c;
	gh_verifier *v = NULL;
	const char *tenant = NULL, *pos[3];
	char token[8193], err[256];
	size_t npos = 0, len;
	int rc;

	memset(&o, 0, sizeof(o));
	o.leeway = -1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--audience") == 0 && i + 1 < argc)
			o.audience = argv[++i];
		else if (strcmp(argv[i], "--any-audience") == 0)
			o.audience = GH_VERIFY_ANY_AUDIENCE;
		else if (strcmp(argv[i], "--tenant") == 0 && i + 1 < argc)
			tenant = argv[++i];
		else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc)
			o.required_env = argv[++i];
		else if (strcmp(argv[i], "--allow-http") == 0)
			o.allow_http = 1;
		else if (argv[i][0] == '-' && argv[i][1] == '-')
			return usage();
		else if (npos < 3)
			pos[npos++] = argv[i];
		else
			return usage();
	}
	if (npos != 3)
		return usage();
	o.jwks_url = pos[0];
	o.issuer = pos[1];
	if (strcmp(pos[2], "-") == 0) {
		if (fgets(token, sizeof(token), stdin) == NULL)
			return usage();
		token[strcspn(token, "\r\n")] = '\0';
	} else if (strlen(pos[2]) < sizeof(token))
		strcpy(token, pos[2]);
	else {
		fprintf(stderr, "verify_token: token too long\n");
		return 1;
	}
	len = strlen(token);
	if ((rc = gh_verifier_new(&o, &v, err, sizeof(err))) != GH_VERIFY_OK) {
		fprintf(stderr, "verify_token: %s\n", err);
		return 2;
	}
	rc = gh_verify_token(v, token, len, tenant, &c);
	if (rc != GH_VERIFY_OK) {
		printf("refused: %s\n", gh_verify_strerror(rc));
		gh_verifier_free(v);
		return 1;
	}
	printf("%s\n", c.payload_json);
	printf("client %s, tenant %s, env %s, scope \"%s\"\n", c.client_id, c.tenant_id,
	    c.env, c.scope);
	gh_verify_claims_clear(&c);
	gh_verifier_free(v);
	return 0;
}
