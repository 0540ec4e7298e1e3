/* errors.c — RFC 6749 §5.2 error codes and the normalized request's upkeep. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "http/params.h"
#include "oauth/issue.h"
#include "oauth/token_request.h"
#include "util/util.h"

const char *const oauth_code_names[OAUTH_CODE__MAX] = {
	[OAUTH_INVALID_REQUEST] = "invalid_request",
	[OAUTH_INVALID_CLIENT] = "invalid_client",
	[OAUTH_INVALID_GRANT] = "invalid_grant",
	[OAUTH_UNAUTHORIZED_CLIENT] = "unauthorized_client",
	[OAUTH_UNSUPPORTED_GRANT_TYPE] = "unsupported_grant_type",
	[OAUTH_INVALID_SCOPE] = "invalid_scope",
	[OAUTH_INVALID_TARGET] = "invalid_target",
	[OAUTH_ACCESS_DENIED] = "access_denied",
	[OAUTH_TEMPORARILY_UNAVAILABLE] = "temporarily_unavailable",
	[OAUTH_SERVER_ERROR] = "server_error",
	[OAUTH_NOT_ACCEPTABLE] = "not_acceptable",
	[OAUTH_UNSUPPORTED_MEDIA_TYPE] = "unsupported_media_type",
};

int
oauth_fail(struct oauth_error *e, int status, enum oauth_code code,
    const char *fmt, ...)
{
	va_list ap;
	char text[sizeof(e->description)];

	memset(e, 0, sizeof(*e));
	e->status = status;
	e->code = code;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* It may quote the client, cut short anywhere: RFC 6749 §5.2 allows
	 * only NQSCHAR (no '"', '\\' or non-ASCII), which JSON packs too. */
	str_nqschar(text, e->description, sizeof(e->description));
	return -1;
}

int
oauth_parse_fail(struct oauth_error *e, int rc, const char *why)
{
	if (rc == HTTP_PARSE_NOMEM)
		return oauth_fail(e, 500, OAUTH_SERVER_ERROR, "out of memory");
	return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "%s", why != NULL ? why : "malformed request");
}

static void
free_secret(char *s)
{
	if (s != NULL) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

void
token_request_clear(struct token_request *r)
{
	free(r->client_id);
	free_secret(r->client_secret);
	free(r->grant_type);
	free(r->scope);
	free(r->audience);
	free(r->token_name);
	free(r->tenant);
	memset(r, 0, sizeof(*r));
}

void
issued_token_clear(struct issued_token *t)
{
	if (t->token != NULL) {
		OPENSSL_cleanse(t->token, t->token_len);
		free(t->token);
	}
	free(t->scope);
	free(t->aud);
	memset(t, 0, sizeof(*t));
}
