/* respond.c — token answers and errors in each dialect's spelling. */
#include <stdio.h>
#include <string.h>

#include "oauth/dialect.h"
#include "util/json_flat.h"
#include "util/util.h"

void
dialect_respond(const struct dialect *d, struct http_response *resp,
    const struct issued_token *t)
{
	struct json_flat j;
	char *body;
	size_t len = 0;

	/* Hot path: written straight to text (util/json_flat.h says why). */
	json_flat_begin(&j);
	json_flat_str(&j, d->out.token, t->token);
	if (d->out.token_type != NULL)
		json_flat_str(&j, "token_type", d->out.token_type);
	if (d->out.expires_in)
		json_flat_int(&j, "expires_in", (long long)(t->exp - t->iat));
	if (d->out.valid_until) {
		char iso[21];
		time_iso8601(t->exp, iso);
		json_flat_str(&j, "valid_until", iso);
	}
	/* RFC 6749 §3.3: a scope is one or more tokens; a client granted none
	 * is told none rather than "" (§5.1: omitted when as asked). */
	if (d->out.scope && t->scope[0] != '\0')
		json_flat_str(&j, "scope", t->scope);
	if (d->out.token_name)
		json_flat_str(&j, "token_name", t->name);
	body = json_flat_end(&j, &len);
	http_response_json_text(resp, 200, body, len);
	/* RFC 6749 §5.1. */
	http_response_header(resp, "Cache-Control", "no-store");
	http_response_header(resp, "Pragma", "no-cache");
}

void
dialect_respond_error(struct http_response *resp, const struct oauth_error *e)
{
	json_t *o = json_pack("{s:s, s:s}", "error", oauth_code_names[e->code],
	    "error_description", e->description);

	http_response_json(resp, e->status, o);
	resp->reason = oauth_code_names[e->code];
	http_response_header(resp, "Cache-Control", "no-store");
	http_response_header(resp, "Pragma", "no-cache");
	if (e->status == 401 && e->basic_challenge)
		http_response_header(resp, "WWW-Authenticate", "Basic realm=\"gatehouse\", charset=\"UTF-8\"");
	if (e->retry_after > 0) {
		char v[24];
		snprintf(v, sizeof(v), "%lld", (long long)e->retry_after);
		http_response_header(resp, "Retry-After", v);
	}
}
