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

/* The longest string claim read: a client's whole scope string (manage/
 * takes 2048 bytes of scopes). At 512, every token of a client with more
 * than ~45 scopes was refused by the gate, introspection and the
 * verifying library ("scope is not a string"). */
#define MAX_CLAIM_STRING 2048

static enum claims_err
fail(enum claims_err e, char *desc, size_t desclen, const char *what)
{
	snprintf(desc, desclen, "%s", what);
	return e;
}

/* A string claim of at most MAX_CLAIM_STRING bytes (json_view strings hold
 * no NUL: "\u0000" is refused). */
static int
get_string(const struct json_view *o, const char *name, const char **out)
{
	const struct json_view_member *v = json_view_get(o, name);

	if (v == NULL || v->type != JSON_VIEW_STRING)
		return v == NULL ? 0 : -1;
	if (v->len > MAX_CLAIM_STRING)
		return -1;
	*out = v->str;
	return 1;
}

/* A NumericDate (RFC 7519 §2): a JSON number of seconds, whole or not. */
static int
get_date(const struct json_view *o, const char *name, int64_t *out)
{
	const struct json_view_member *v = json_view_get(o, name);

	if (v == NULL)
		return 0;
	if (v->type == JSON_VIEW_INTEGER) {
		*out = (int64_t)v->integer;
		return *out >= 0 && *out < (INT64_C(1) << 40) ? 1 : -1;
	}
	if (v->type != JSON_VIEW_REAL || !isfinite(v->real) || v->real < 0 ||
	    v->real >= 1099511627776.0)
		return -1;
	*out = (int64_t)v->real;
	return 1;
}

int
claims_aud_has(const struct json_view_member *aud, const char *want)
{
	const char *s;

	if (aud == NULL)
		return 0;
	if (aud->type == JSON_VIEW_STRING)
		return strcmp(aud->str, want) == 0;
	if (aud->type != JSON_VIEW_ARRAY || aud->strings == NULL)
		return 0;
	s = aud->strings;
	for (size_t i = 0; i < aud->len; i++, s = json_view_next_string(s))
		if (strcmp(s, want) == 0)
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
aud_ok(const struct json_view_member *aud)
{
	return aud->type == JSON_VIEW_STRING || (aud->type == JSON_VIEW_ARRAY &&
	    aud->strings != NULL && aud->len > 0 && aud->len <= 32);
}

/* The role bits the roles claim names (unknown names are ignored); -1 when
 * it is not an array of strings. */
static int
get_roles(const struct json_view *o, unsigned *out)
{
	const struct json_view_member *v = json_view_get(o, "roles");
	const char *r;

	*out = 0;
	if (v == NULL)
		return 0;
	if (v->type != JSON_VIEW_ARRAY || v->strings == NULL)
		return -1;
	r = v->strings;
	for (size_t i = 0; i < v->len; i++, r = json_view_next_string(r)) {
		if (strcmp(r, "viewer") == 0)
			*out |= CLAIMS_ROLE_VIEWER;
		else if (strcmp(r, "operator") == 0)
			*out |= CLAIMS_ROLE_OPERATOR;
		else if (strcmp(r, "admin") == 0)
			*out |= CLAIMS_ROLE_ADMIN;
	}
	return 0;
}

enum claims_err
claims_check(const struct json_view *header, const struct json_view *payload,
    const struct claims_rules *rules, struct claims *out, char *desc,
    size_t desclen)
{
	const char *typ = NULL, *iss = NULL;

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
	if ((out->aud = json_view_get(payload, "aud")) != NULL && !aud_ok(out->aud))
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token's aud is not a string or an array of strings");
	if (get_roles(payload, &out->roles) == -1)
		return fail(CLAIMS_MALFORMED, desc, desclen, "the token's roles is not an array of strings");
	if (rules->audience != NULL && !claims_aud_has(out->aud, rules->audience))
		return fail(CLAIMS_AUDIENCE, desc, desclen, "the token is not meant for this audience");
	if (rules->tenant != NULL && strcmp(out->tenant_id, rules->tenant) != 0)
		return fail(CLAIMS_TENANT, desc, desclen, "the token belongs to another tenant");
	return CLAIMS_OK;
}
