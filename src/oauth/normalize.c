/*
 * normalize.c — reads a token request in any dialect's spelling into one
 * struct token_request. Everything a client sends is checked here, with an
 * error that names the field in the client's own spelling; the core gets
 * only well-formed values.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "http/limits.h"
#include "http/params.h"
#include "oauth/dialect.h"
#include "security/secret.h"
#include "util/util.h"

#define MAX_LIFETIME	(10 * 366 * 86400LL)
#define MAX_TOKEN_NAME	128
#define MAX_CLIENT_ID	128

/* A body as parsed: either form parameters or a JSON object. */
struct body {
	int			 json;
	struct http_params	 form;
	json_t			*obj;
};

enum field_state { FIELD_ABSENT, FIELD_OK, FIELD_BAD };

/* Reads string field name. An empty string counts as given-but-bad. */
static enum field_state
body_string(const struct body *b, const char *name, const char **out,
    struct oauth_error *e)
{
	if (name == NULL)
		return FIELD_ABSENT;
	if (b->json) {
		json_t *v = json_object_get(b->obj, name);
		if (v == NULL)
			return FIELD_ABSENT;
		if (!json_is_string(v)) {
			oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' must be a string", name);
			return FIELD_BAD;
		}
		*out = json_string_value(v);
		if (strlen(*out) != json_string_length(v)) {
			oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' contains a NUL character", name);
			return FIELD_BAD;
		}
	} else {
		if ((*out = http_params_get(&b->form, name)) == NULL)
			return FIELD_ABSENT;
	}
	if ((*out)[0] == '\0') {
		oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' is empty", name);
		return FIELD_BAD;
	}
	if (!str_is_clean_utf8(*out, strlen(*out))) {
		oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' contains control characters", name);
		return FIELD_BAD;
	}
	return FIELD_OK;
}

/*
 * A JSON number of seconds into *out, for body_seconds to bound. Seed 002
 * types "expiration" as "numeric", and JSON has one kind of number (RFC
 * 8259 §6), of which 86400.0 is a whole one: Python's
 * timedelta.total_seconds() and a Java Double write whole seconds so.
 * A real is taken when its value is whole; one out of range is set just
 * past the bound it crosses, so that it is refused as an integer there
 * would be (and the cast stays defined). A fraction, and anything not a
 * number (null included), is refused.
 */
static enum field_state
json_seconds(const json_t *v, const char *name, int64_t *out,
    struct oauth_error *e)
{
	double d;

	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return FIELD_OK;
	}
	if (!json_is_real(v)) {
		oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' must be a number of seconds", name);
		return FIELD_BAD;
	}
	d = json_real_value(v);
	if (d < 1)
		*out = 0;
	else if (d > (double)MAX_LIFETIME)
		*out = MAX_LIFETIME + 1;
	else if ((double)(int64_t)d != d) {
		oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' must be a whole number of seconds", name);
		return FIELD_BAD;
	} else
		*out = (int64_t)d;
	return FIELD_OK;
}

/* Reads a whole number of seconds, 1..MAX_LIFETIME. */
static enum field_state
body_seconds(const struct body *b, const char *name, int64_t *out,
    struct oauth_error *e)
{
	const char *why;

	if (name == NULL)
		return FIELD_ABSENT;
	if (b->json) {
		json_t *v = json_object_get(b->obj, name);
		if (v == NULL)
			return FIELD_ABSENT;
		if (json_seconds(v, name, out, e) == FIELD_BAD)
			return FIELD_BAD;
	} else {
		const char *s = http_params_get(&b->form, name);
		if (s == NULL)
			return FIELD_ABSENT;
		if (num_parse_i64(s, strlen(s), INT64_MIN, INT64_MAX, out, &why) == -1) {
			oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' %s", name, why);
			return FIELD_BAD;
		}
	}
	if (*out < 1) {
		oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' must be at least 1 second", name);
		return FIELD_BAD;
	}
	if (*out > MAX_LIFETIME) {
		oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' must be at most %lld seconds",
		    name, (long long)MAX_LIFETIME);
		return FIELD_BAD;
	}
	return FIELD_OK;
}

static int
parse_body(const struct dialect *d, const struct http_request *req,
    struct body *b, struct oauth_error *e)
{
	size_t n = 0;
	const char *ct = http_request_header(req, "Content-Type", &n), *why = NULL;
	char field[HTTP_MAX_FIELD_NAME];
	int rc;

	if (n > 1)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "the Content-Type header is repeated");
	if (http_media_is(ct, "application/json") && (d->bodies & DIALECT_JSON)) {
		b->json = 1;
		if ((rc = http_json_parse(req->body, req->body_len, &b->obj, &why)) != 0)
			return oauth_parse_fail(e, rc, why);
		return 0;
	}
	if (http_media_is(ct, "application/x-www-form-urlencoded") && (d->bodies & DIALECT_FORM)) {
		field[0] = '\0';
		if ((rc = http_form_parse(req->body, req->body_len, &b->form, &why, field)) != 0)
			return oauth_parse_fail(e, rc, why);
		return 0;
	}
	return oauth_fail(e, 415, OAUTH_INVALID_REQUEST, "Content-Type must be %s",
	    d->bodies == DIALECT_JSON ? "application/json" :
	    d->bodies == DIALECT_FORM ? "application/x-www-form-urlencoded" :
	    "application/x-www-form-urlencoded or application/json");
}

static int
copy_field(char **dst, const char *src, struct oauth_error *e)
{
	if ((*dst = strdup(src)) == NULL)
		return oauth_fail(e, 500, OAUTH_SERVER_ERROR, "out of memory");
	return 0;
}

static int
read_credentials(const struct dialect *d, const struct http_request *req,
    const struct body *b, struct token_request *out, struct oauth_error *e)
{
	size_t n = 0;
	const char *authz = http_request_header(req, "Authorization", &n);
	const char *id = NULL, *secret = NULL, *why = NULL;
	enum field_state sid, ssec;
	int rc;

	if (n > 1)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "the Authorization header is repeated");
	if ((sid = body_string(b, d->in.client_id, &id, e)) == FIELD_BAD ||
	    (ssec = body_string(b, d->in.client_secret, &secret, e)) == FIELD_BAD)
		return -1;

	/* On a route that takes credentials only in the body, an
	 * Authorization header of another scheme (a client's stale "Bearer"
	 * default, kept on every request of its HTTP session) authenticates
	 * nothing here and is no second method (RFC 6749 §2.3): it is
	 * ignored, not refused. Basic still is: it is one. */
	if (authz != NULL && !(d->auth & DIALECT_AUTH_BASIC) && strncasecmp(authz, "Basic ", 6) != 0)
		authz = NULL;
	if (authz != NULL) {
		if (strncasecmp(authz, "Basic ", 6) != 0)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "the Authorization header must use the Basic scheme here");
		if (!(d->auth & DIALECT_AUTH_BASIC))
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "this route takes client credentials in the body ('%s', '%s'), not in an Authorization header",
			    d->in.client_id, d->in.client_secret);
		/* RFC 6749 §2.3: one authentication method per request. The
		 * client's id alone in the body is not a second one: a client
		 * MAY name itself so (§3.2.1; oauthlib's include_client_id),
		 * and it must then be the id of the Basic credentials. */
		if (ssec == FIELD_OK)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "client credentials were sent both in the Authorization header and in the body; use one method");
		if ((rc = http_basic_parse(authz, &out->client_id, &out->client_secret, &why)) != 0) {
			if (rc == HTTP_PARSE_NOMEM)
				return oauth_parse_fail(e, rc, why);
			oauth_fail(e, 401, OAUTH_INVALID_CLIENT, "%s", why);
			e->basic_challenge = 1;
			return -1;
		}
		out->auth = CLIENT_AUTH_BASIC;
		if (sid == FIELD_OK && strcmp(id, out->client_id) != 0)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "'%s' in the body is not the client of the Basic credentials", d->in.client_id);
		return 0;
	}
	if (!(d->auth & DIALECT_AUTH_BODY) || (sid == FIELD_ABSENT && ssec == FIELD_ABSENT)) {
		if (d->auth & DIALECT_AUTH_BODY)
			oauth_fail(e, 401, OAUTH_INVALID_CLIENT,
			    "client authentication is required: send '%s' and '%s'%s",
			    d->in.client_id, d->in.client_secret,
			    (d->auth & DIALECT_AUTH_BASIC) ? ", or HTTP Basic credentials" : "");
		else
			oauth_fail(e, 401, OAUTH_INVALID_CLIENT,
			    "client authentication is required: send HTTP Basic credentials");
		e->basic_challenge = (d->auth & DIALECT_AUTH_BASIC) != 0;
		return -1;
	}
	if (sid == FIELD_ABSENT)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' is required", d->in.client_id);
	if (ssec == FIELD_ABSENT)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' is required", d->in.client_secret);
	if (copy_field(&out->client_id, id, e) == -1 || copy_field(&out->client_secret, secret, e) == -1)
		return -1;
	out->auth = CLIENT_AUTH_BODY;
	return 0;
}

static int
check_credential_shape(const struct dialect *d, const struct token_request *r,
    struct oauth_error *e)
{
	if (strlen(r->client_id) > MAX_CLIENT_ID ||
	    !str_is_clean_utf8(r->client_id, strlen(r->client_id))) {
		oauth_fail(e, 401, OAUTH_INVALID_CLIENT, "client authentication failed");
		e->basic_challenge = r->auth == CLIENT_AUTH_BASIC;
		return -1;
	}
	if (strlen(r->client_secret) > SECRET_MAX_INPUT) {
		oauth_fail(e, 401, OAUTH_INVALID_CLIENT, "client authentication failed");
		e->basic_challenge = r->auth == CLIENT_AUTH_BASIC;
		return -1;
	}
	(void)d;
	return 0;
}

static int
read_options(const struct dialect *d, const struct http_request *req,
    const struct body *b, struct token_request *out, struct oauth_error *e)
{
	const char *grant = NULL, *scope = NULL, *aud = NULL, *res = NULL, *name = NULL, *tenant;
	enum field_state s;
	size_t n = 0;

	if ((s = body_string(b, d->in.grant_type, &grant, e)) == FIELD_BAD)
		return -1;
	if (s == FIELD_ABSENT) {
		if (d->implied_grant == NULL)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' is required", d->in.grant_type);
		grant = d->implied_grant;
	}
	if (copy_field(&out->grant_type, grant, e) == -1)
		return -1;
	if ((s = body_string(b, d->in.scope, &scope, e)) == FIELD_BAD)
		return -1;
	if (s == FIELD_OK && copy_field(&out->scope, scope, e) == -1)
		return -1;
	if (body_string(b, d->in.audience, &aud, e) == FIELD_BAD ||
	    body_string(b, d->in.resource, &res, e) == FIELD_BAD)
		return -1;
	if (aud != NULL && res != NULL && strcmp(aud, res) != 0)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'audience' and 'resource' name different targets");
	if ((aud != NULL || res != NULL) && copy_field(&out->audience, aud ? aud : res, e) == -1)
		return -1;
	if ((s = body_seconds(b, d->in.lifetime, &out->lifetime, e)) == FIELD_BAD)
		return -1;
	out->lifetime_explicit = s == FIELD_OK;
	if (s == FIELD_ABSENT)
		out->lifetime = d->default_lifetime;
	if ((s = body_string(b, d->in.token_name, &name, e)) == FIELD_BAD)
		return -1;
	if (s == FIELD_OK) {
		if (strlen(name) > MAX_TOKEN_NAME)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'%s' is longer than %d bytes",
			    d->in.token_name, MAX_TOKEN_NAME);
		if (copy_field(&out->token_name, name, e) == -1)
			return -1;
	}
	tenant = http_request_header(req, "X-TENANT-ID", &n);
	if (n > 1)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "the X-TENANT-ID header is repeated");
	if (tenant != NULL) {
		if (!str_is_ident(tenant, strlen(tenant), 64))
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "X-TENANT-ID must be 1-64 characters of [A-Za-z0-9._:-]");
		if (copy_field(&out->tenant, tenant, e) == -1)
			return -1;
	}
	return 0;
}

int
dialect_parse(const struct dialect *d, const struct http_request *req,
    struct token_request *out, struct oauth_error *e)
{
	struct body b;
	int rc = -1;

	memset(&b, 0, sizeof(b));
	if (d->json_accept) {
		/* Every Accept line: RFC 9110 §5.3 reads them as one list. */
		const char *accept[HTTP_MAX_HEADERS];
		size_t n = http_request_headers(req, "Accept", accept, HTTP_MAX_HEADERS);

		if (!http_accepts_media(accept, n, "application/json"))
			return oauth_fail(e, 406, OAUTH_INVALID_REQUEST, "this route answers "
			    "application/json; the Accept header does not allow it");
	}
	if (parse_body(d, req, &b, e) == -1)
		goto out;
	if (read_credentials(d, req, &b, out, e) == -1 ||
	    check_credential_shape(d, out, e) == -1 ||
	    read_options(d, req, &b, out, e) == -1)
		goto out;
	rc = 0;
out:
	if (b.json)
		json_decref(b.obj);
	else
		http_params_clear(&b.form);
	return rc;
}
