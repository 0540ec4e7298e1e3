/* claims.c — see claims.h. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "gate/claims.h"

const char *const claims_err_codes[CLAIMS_ERR__MAX] = {
	[CLAIMS_OK] = "ok",
	[CLAIMS_TYP] = "typ",
	[CLAIMS_MALFORMED] = "claims",
	[CLAIMS_EXPIRED] = "expired",
	[CLAIMS_NOT_YET_VALID] = "not_yet_valid",
	[CLAIMS_ISSUER] = "issuer",
	[CLAIMS_AUDIENCE] = "audience",
	[CLAIMS_TENANT] = "tenant",
};

#define MAX_CLAIM_STRING 512

static enum claims_err
fail(enum claims_err e, char *desc, size_t desclen, const char *what)
{
	snprintf(desc, desclen, "%s", what);
	return e;
}

/* A string claim of at most MAX_CLAIM_STRING bytes without NUL. */
static int
get_string(const json_t *o, const char *name, const char **out)
{
	const json_t *v = json_object_get(o, name);

	if (!json_is_string(v))
		return v == NULL ? 0 : -1;
	if (json_string_length(v) > MAX_CLAIM_STRING ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -1;
	*out = json_string_value(v);
	return 1;
}

/* A NumericDate (RFC 7519 §2): a JSON number of seconds, whole or not. */
static int
get_date(const json_t *o, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(o, name);
	double d;

	if (v == NULL)
		return 0;
	if (json_is_integer(v)) {
		*out = (int64_t)json_integer_value(v);
		return *out >= 0 && *out < (INT64_C(1) << 40) ? 1 : -1;
	}
	if (!json_is_real(v))
		return -1;
	d = json_real_value(v);
	if (!isfinite(d) || d < 0 || d >= 1099511627776.0)
		return -1;
	*out = (int64_t)d;
	return 1;
}

int
claims_aud_has(const json_t *aud, const char *want)
{
	size_t i;
	const json_t *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0;
	if (!json_is_array(aud))
		return 0;
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), want) == 0)
			return 1;
	return 0;
}

int
claims_scope_has(const char *scope, const char *s, size_t n)
{
	while (*scope != '\0') {
		size_t m = strcspn(scope, " ");
		if (m == n && memcmp(scope, s, n) == 0)
			return 1;
		scope += m;
		while (*scope == ' ')
			scope++;
	}
	return 0;
}

static int
aud_ok(const json_t *aud)
{
	size_t i;
	const json_t *v;

	if (json_is_string(aud))
		return 1;
	if (!json_is_array(aud) || json_array_size(aud) == 0 || json_array_size(aud) > 32)
		return 0;
	json_array_foreach(aud, i, v)
		if (!json_is_string(v))
			return 0;
	return 1;
}

enum claims_err
claims_check(const json_t *header, const json_t *payload,
    const struct claims_rules *rules, struct claims *out, char *desc,
    size_t desclen)
{
	const char *typ = NULL, *iss = NULL;
	const json_t *roles;
	size_t i;
	const json_t *v;

	memset(out, 0, sizeof(*out));
	out->scope = "";
	/* RFC 9068 §2.1 and §4: typ is "at+jwt" (or the full media type), so
	 * that an ID token or another JWT cannot pass as an access token
	 * (RFC 8725 §3.11). Media types compare case-insensitively. */
	if (get_string(header, "typ", &typ) != 1 ||
	    (strcasecmp(typ, "at+jwt") != 0 && strcasecmp(typ, "application/at+jwt") != 0))
		return fail(CLAIMS_TYP, desc, desclen, "the token's typ is not at+jwt (RFC 9068)");
	if (get_date(payload, "exp", &out->exp) != 1)
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token has no valid exp claim");
	if (get_date(payload, "nbf", &out->nbf) == -1 || get_date(payload, "iat", &out->iat) == -1)
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token's nbf or iat is not a date");
	if (!rules->skip_time) {
		/* RFC 7519 §4.1.4: expired at or after exp; leeway for skew. */
		if (rules->now >= out->exp + rules->leeway)
			return fail(CLAIMS_EXPIRED, desc, desclen, "the token has expired");
		if (out->nbf != 0 && out->nbf > rules->now + rules->leeway)
			return fail(CLAIMS_NOT_YET_VALID, desc, desclen, "the token is not valid yet (nbf)");
		if (out->iat != 0 && out->iat > rules->now + rules->leeway)
			return fail(CLAIMS_NOT_YET_VALID, desc, desclen, "the token was issued in the future (iat)");
	}
	if (get_string(payload, "iss", &iss) != 1)
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token has no iss claim");
	if (strcmp(iss, rules->issuer) != 0)
		return fail(CLAIMS_ISSUER, desc, desclen, "the token was issued by another issuer");
	if (get_string(payload, "client_id", &out->client_id) != 1 ||
	    get_string(payload, "tenant_id", &out->tenant_id) != 1 ||
	    get_string(payload, "jti", &out->jti) != 1 ||
	    out->client_id[0] == '\0' || out->tenant_id[0] == '\0' || out->jti[0] == '\0')
		return fail(CLAIMS_MALFORMED, desc, desclen,
		    "the token lacks client_id, tenant_id or jti");
	if (get_string(payload, "sub", &out->sub) == -1 ||
	    get_string(payload, "scope", &out->scope) == -1 ||
	    get_string(payload, "env", &out->env) == -1)
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token's sub, scope or env is not a string");
	if ((out->aud = json_object_get(payload, "aud")) != NULL && !aud_ok(out->aud))
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token's aud is not a string or an array of strings");
	roles = json_object_get(payload, "roles");
	if (roles != NULL && !json_is_array(roles))
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token's roles is not an array");
	json_array_foreach(roles, i, v) {
		const char *r = json_string_value(v);
		if (r == NULL)
			return fail(CLAIMS_MALFORMED, desc, desclen, "the token's roles are not strings");
		if (strcmp(r, "viewer") == 0)
			out->roles |= CLAIMS_ROLE_VIEWER;
		else if (strcmp(r, "operator") == 0)
			out->roles |= CLAIMS_ROLE_OPERATOR;
		else if (strcmp(r, "admin") == 0)
			out->roles |= CLAIMS_ROLE_ADMIN;
	}
	if (rules->audience != NULL && (out->aud == NULL || !claims_aud_has(out->aud, rules->audience)))
		return fail(CLAIMS_AUDIENCE, desc, desclen, "the token is not meant for this audience");
	if (rules->tenant != NULL && strcmp(out->tenant_id, rules->tenant) != 0)
		return fail(CLAIMS_TENANT, desc, desclen, "the token belongs to another tenant");
	return CLAIMS_OK;
}
