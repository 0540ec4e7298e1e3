/* bearer.c — see bearer.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gate/bearer.h"
#include "gate/claims.h"
#include "gate/internal.h"
#include "http/http.h"
#include "jose/jose.h"
#include "jose/keyring.h"
#include "security/opaque_token.h"
#include "server/context.h"
#include "util/util.h"

int
gate_refuse(struct gate_refusal *r, int status, const char *error,
    const char *reason, const char *fmt, ...)
{
	va_list ap;
	char text[sizeof(r->description)];

	r->status = status;
	r->error = error;
	r->reason = reason;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* It may quote the client (X-Original-Method, say): the header's
	 * quoted-string and the JSON body both take NQSCHAR (RFC 6750 §3). */
	str_nqschar(text, r->description, sizeof(r->description));
	return -1;
}

void
gate_principal_release(struct gate_principal *p)
{
	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	client_entry_release(p->client);
	free(p->scope);
	for (size_t i = 0; i < p->naud; i++)
		free(p->aud[i]);
	free(p);
}

int
gate_principal_has_aud(const struct gate_principal *p, const char *a)
{
	for (size_t i = 0; i < p->naud; i++)
		if (strcmp(p->aud[i], a) == 0)
			return 1;
	return 0;
}

/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * (RFC 6750 §2.1): 1 for the first part's characters, 2 for '='. A table,
 * since a verified token's ~700 bytes each went through eight compares. */
static const unsigned char b64token[256] = {
	['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['+'] = 1, ['/'] = 1, ['='] = 2,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1,
	['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,
	['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1,
	['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
	['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1,
	['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

int
gate_token_syntax_ok(const char *t, size_t n)
{
	const unsigned char *u = (const unsigned char *)t;
	size_t i = 0;

	while (i < n && b64token[u[i]] == 1)
		i++;
	if (i == 0)
		return 0;
	while (i < n && u[i] == '=')
		i++;
	return i == n;
}

int
gate_bearer_token(const struct http_request *req, const char **tok, size_t *len)
{
	size_t n = 0;
	const char *a = http_request_header(req, "Authorization", &n), *t;

	if (n > 1)
		return -1;
	if (a == NULL || strncasecmp(a, "Bearer", 6) != 0 || (a[6] != ' ' && a[6] != '\0'))
		return 0;
	for (t = a + 6; *t == ' '; t++)
		;
	*tok = t;
	*len = strlen(t);
	return 1;
}

struct lookup_arg {
	const struct keyring	*kr;
	int64_t			 now;
	int			 env;
	int			 asked;
	int			 found;
};

/* The key a kid names, if it is a well-formed kid of a published key. The
 * kid is never used as a path, URL or query: only compared in memory. */
static const struct jose_key *
lookup_key(void *arg, const char *kid)
{
	struct lookup_arg *la = arg;
	const struct jose_key *k;

	la->asked = 1;
	if (!str_is_ident(kid, strlen(kid), JOSE_MAX_KID_LEN))
		return NULL;
	if ((k = keyring_find(la->kr, kid, la->now, &la->env)) != NULL)
		la->found = 1;
	return k;
}

static const char *
role_text(unsigned roles, char out[32])
{
	out[0] = '\0';
	if (roles & STORE_ROLE_ADMIN)
		strcat(out, "admin");
	if (roles & STORE_ROLE_OPERATOR)
		strcat(out, out[0] ? ",operator" : "operator");
	if (roles & STORE_ROLE_VIEWER)
		strcat(out, out[0] ? ",viewer" : "viewer");
	return out;
}

/* The record and client checks both kinds of token share. */
static int
check_record_and_client(struct gh_ctx *ctx, const struct store_token *rec,
    unsigned flags, int64_t now, struct client_entry **ce, struct gate_refusal *why)
{
	int rc;

	if (!(flags & GATE_VERIFY_FOR_REVOCATION) && rec->revoked_at != 0)
		return gate_refuse(why, 401, "invalid_token", "revoked", "the token has been revoked");
	rc = client_cache_get(ctx->clients, rec->client_id, ce);
	if (rc == STORE_NOTFOUND)
		return gate_refuse(why, 401, "invalid_token", "client", "the token's client no longer exists");
	if (rc != STORE_OK)
		return gate_refuse(why, 503, "temporarily_unavailable", "store",
		    "the store is unavailable; try again");
	if (strcmp((*ce)->c.tenant_id, rec->tenant_id) != 0)
		return gate_refuse(why, 401, "invalid_token", "unknown", "the token is not known here");
	if (flags & GATE_VERIFY_FOR_REVOCATION)
		return 0;
	if ((*ce)->c.disabled)
		return gate_refuse(why, 401, "invalid_token", "client_disabled",
		    "the token's client is disabled");
	/* Tokens issued before the client voided its tokens are void. */
	if (rec->issued_at < (*ce)->c.tokens_valid_after)
		return gate_refuse(why, 401, "invalid_token", "revoked",
		    "the token has been revoked (its client's tokens were voided)");
	(void)now;
	return 0;
}

/* A record lookup's result as the gate's answer: 0 when found. */
static int
lookup_result(int rc, struct gate_refusal *why)
{
	if (rc == STORE_NOTFOUND)
		return gate_refuse(why, 401, "invalid_token", "unknown", "the token is not known here");
	if (rc != STORE_OK)
		return gate_refuse(why, 503, "temporarily_unavailable", "store",
		    "the store is unavailable; try again");
	return 0;
}

static int
get_record(struct gh_ctx *ctx, const char *id, struct store_token *rec,
    struct gate_refusal *why)
{
	return lookup_result(store_token_get(ctx->store, id, rec), why);
}

/* The JWT's record from the store, which must agree with its claims. */
static int
jwt_stored_record(struct gh_ctx *ctx, const struct claims *cl, struct store_token *rec,
    struct gate_refusal *why)
{
	if (get_record(ctx, cl->jti, rec, why) == -1)
		return -1;
	if (rec->format != STORE_FORMAT_JWT || strcmp(rec->client_id, cl->client_id) != 0 ||
	    strcmp(rec->tenant_id, cl->tenant_id) != 0)
		return gate_refuse(why, 401, "invalid_token", "unknown",
		    "the token is not known here");
	return 0;
}

/*
 * What the gate must know about a verified JWT beyond its claims: whether it
 * was revoked. From the in-memory revoked set (gate_revoked_get), so a check
 * costs no database read and works while the database is away. Revocation
 * by the revoke endpoint, and a context built without the gate, read the
 * token's record instead (the endpoint must know the token exists); so does
 * a token the set lacks when the set is incomplete (more revoked tokens
 * than revoked_set_max): it may be one of those left out.
 */
static int
jwt_record(struct gh_ctx *ctx, const struct claims *cl, unsigned flags, int64_t now,
    struct store_token *rec, struct gate_refusal *why)
{
	struct revoked_set *rs;
	int revoked, complete;

	if (ctx->gate == NULL || (flags & GATE_VERIFY_FOR_REVOCATION))
		return jwt_stored_record(ctx, cl, rec, why);
	/* Verification runs where it may wait on the store: the gate hands
	 * uncached tokens to the offload pool (gate.c must_offload), and
	 * introspection always runs there. */
	(void)gate_refresh(ctx, 1, now);
	if (gate_revoked_get(ctx->gate, &rs) != STORE_OK)
		return gate_refuse(why, 503, "temporarily_unavailable", "store",
		    "the store is unavailable; try again");
	revoked = revoked_set_has(rs, cl->jti);
	complete = revoked_set_complete(rs);
	revoked_set_unref(rs);
	if (!revoked && !complete)
		return jwt_stored_record(ctx, cl, rec, why);
	if ((rec->id = strdup(cl->jti)) == NULL || (rec->client_id = strdup(cl->client_id)) == NULL ||
	    (rec->tenant_id = strdup(cl->tenant_id)) == NULL)
		return gate_refuse(why, 503, "temporarily_unavailable", "memory", "out of memory");
	rec->format = STORE_FORMAT_JWT;
	rec->issued_at = cl->iat;
	rec->expires_at = cl->exp;
	rec->revoked_at = revoked;	/* any non-zero: revoked */
	return 0;
}

static struct gate_principal *
principal_new(void)
{
	struct gate_principal *p = calloc(1, sizeof(*p));

	if (p != NULL)
		atomic_init(&p->refs, 1);
	return p;
}

static int
add_aud(struct gate_principal *p, const char *a)
{
	if (p->naud == GATE_MAX_AUD)
		return 0;
	if ((p->aud[p->naud] = strdup(a)) == NULL)
		return -1;
	p->naud++;
	return 0;
}

/*
 * The token's signature under a key of the keyring, then its claims (RFC
 * 9068's and ours) and their agreement with that key: into *jwt, *cl (which
 * points into *jwt) and la (the key's environment). -1 with why set.
 */
static int
jwt_check(struct gh_ctx *ctx, const char *token, size_t len, unsigned flags, int64_t now,
    struct lookup_arg *la, struct jose_jwt *jwt, struct claims *cl, struct gate_refusal *why)
{
	const struct jose_key *key = NULL;
	const char *jerr = NULL;
	struct claims_rules rules;
	enum claims_err ce_err;
	char desc[160];

	if (jose_verify_compact(token, len, lookup_key, la, jwt, &key, &jerr) == -1) {
		if (la->asked && !la->found)
			gate_refuse(why, 401, "invalid_token", "kid",
			    "the token's kid names no key of this server");
		else
			gate_refuse(why, 401, "invalid_token", "signature",
			    "the token is not valid: %s", jerr ? jerr : "bad signature or form");
		return -1;
	}
	memset(&rules, 0, sizeof(rules));
	rules.issuer = ctx->issuer;
	rules.now = now;
	rules.leeway = ctx->cfg->leeway;
	rules.skip_time = (flags & GATE_VERIFY_FOR_REVOCATION) != 0;
	if ((ce_err = claims_check(&jwt->header, &jwt->claims, &rules, cl, desc,
	    sizeof(desc))) != CLAIMS_OK) {
		gate_refuse(why, 401, "invalid_token", claims_err_codes[ce_err], "%s", desc);
		return -1;
	}
	/* The signing key fixes the environment: a sandbox key's token is a
	 * sandbox token whatever its claims say. */
	if (la->env < 0 || la->env >= STORE_ENV__MAX || cl->env == NULL ||
	    strcmp(cl->env, store_env_names[la->env]) != 0) {
		gate_refuse(why, 401, "invalid_token", "environment",
		    "the token's env does not match its signing key");
		return -1;
	}
	if (!str_is_ident(cl->jti, strlen(cl->jti), 64) || strlen(cl->client_id) > 128 ||
	    strlen(cl->tenant_id) > 64) {
		gate_refuse(why, 401, "invalid_token", "claims", "the token's identifiers are malformed");
		return -1;
	}
	return 0;
}

/* The scopes of the space-separated scope that ce still holds: a new
 * string, NULL when out of memory. Every scope a token was granted was one
 * of its client's (issue.c), so a scope taken from the client since (a
 * change approved as critical) is gone from its live tokens, as a role is. */
static char *
scope_still_held(const char *scope, const struct client_entry *ce)
{
	char *out = malloc(strlen(scope) + 1);
	size_t o = 0;

	if (out == NULL)
		return NULL;
	for (const char *s = scope; *s != '\0';) {
		size_t n = strcspn(s, " ");
		for (size_t i = 0; n > 0 && i < ce->nscopes; i++)
			if (strlen(ce->scopes[i]) == n && memcmp(ce->scopes[i], s, n) == 0) {
				if (o > 0)
					out[o++] = ' ';
				memcpy(out + o, s, n);
				o += n;
				break;
			}
		for (s += n; *s == ' '; s++)
			;
	}
	out[o] = '\0';
	return out;
}

/* Each role with those it includes (Admin > Operator > Viewer). */
static unsigned
roles_closed(unsigned roles)
{
	if (roles & STORE_ROLE_ADMIN)
		roles |= STORE_ROLE_OPERATOR;
	if (roles & STORE_ROLE_OPERATOR)
		roles |= STORE_ROLE_VIEWER;
	return roles;
}

/* A token's roles cut to its client's now: unchanged while the client
 * holds them all; else what the two share with the hierarchy, so that an
 * Operator's token, its client made a Viewer, acts as a Viewer (the plain
 * intersection was empty, and refused it even on Viewer routes). */
static unsigned
roles_still_held(unsigned token, unsigned client)
{
	if ((token & client) == token)
		return token;
	return roles_closed(token) & roles_closed(client);
}

/* The principal a checked token's claims make, in env, its roles and
 * scopes cut to those its client ce holds now: a role or scope taken away
 * since issuance is gone. Into *out (the caller's; its client not set); -1
 * when out of memory. */
static int
principal_from_claims(const struct claims *cl, enum store_env env,
    const struct client_entry *ce, struct gate_principal **out)
{
	struct gate_principal *p;

	if ((p = principal_new()) == NULL || (p->scope = scope_still_held(cl->scope, ce)) == NULL)
		goto oom;
	str_copy(p->client_id, sizeof(p->client_id), cl->client_id);
	str_copy(p->tenant_id, sizeof(p->tenant_id), cl->tenant_id);
	str_copy(p->token_id, sizeof(p->token_id), cl->jti);
	p->roles = roles_still_held(cl->roles, ce->c.roles);
	role_text(p->roles, p->roles_text);
	p->env = env;
	p->format = STORE_FORMAT_JWT;
	p->exp = cl->exp;
	p->nbf = cl->nbf;
	p->iat = cl->iat;
	if (cl->aud != NULL && cl->aud->type == JSON_VIEW_STRING) {
		if (add_aud(p, cl->aud->str) == -1)
			goto oom;
	} else if (cl->aud != NULL) {
		const char *a = cl->aud->strings;
		for (size_t i = 0; i < cl->aud->len; i++, a = json_view_next_string(a))
			if (add_aud(p, a) == -1)
				goto oom;
	}
	*out = p;
	return 0;
oom:
	gate_principal_release(p);
	return -1;
}

static int
verify_jwt(struct gh_ctx *ctx, const char *token, size_t len, unsigned flags,
    int64_t now, struct gate_principal **out, struct gate_refusal *why)
{
	struct lookup_arg la;
	struct keyring *kr = ctx_keyring(ctx);
	struct jose_jwt jwt;
	struct claims cl;
	struct store_token rec;
	struct client_entry *ce = NULL;
	struct gate_principal *p = NULL;
	int rc = -1;

	memset(&la, 0, sizeof(la));
	memset(&rec, 0, sizeof(rec));
	la.kr = kr;
	la.now = now;
	if (kr == NULL) {
		gate_refuse(why, 503, "temporarily_unavailable", "keys", "no keys are loaded");
		goto out;
	}
	if (jwt_check(ctx, token, len, flags, now, &la, &jwt, &cl, why) == -1 ||
	    jwt_record(ctx, &cl, flags, now, &rec, why) == -1 ||
	    check_record_and_client(ctx, &rec, flags, now, &ce, why) == -1)
		goto out;
	if (principal_from_claims(&cl, (enum store_env)la.env, ce, &p) == -1) {
		gate_refuse(why, 503, "temporarily_unavailable", "memory", "out of memory");
		goto out;
	}
	p->revoked = rec.revoked_at != 0;
	p->client = ce;
	ce = NULL;
	*out = p;
	rc = 0;
out:
	client_entry_release(ce);
	store_token_clear(&rec);
	keyring_unref(kr);
	return rc;
}

/*
 * An opaque token's record: under the id the token carries (opaque_token.h)
 * when it has the shape of ours, else, or when none is found there, under
 * the id records had before tokens carried their time, so that tokens issued
 * before an upgrade keep working until they expire. A miss costs a second
 * index probe; a hit on either is exact (both ids hash the whole token).
 */
static int
opaque_record(struct gh_ctx *ctx, const char *token, size_t len,
    char id[OPAQUE_ID_LEN + 1], struct store_token *rec, struct gate_refusal *why)
{
	int rc = opaque_token_id(ctx->opaque_key, token, len, id);

	if (rc == -1)
		return gate_refuse(why, 503, "temporarily_unavailable", "cipher",
		    "the token cannot be read now; try again");
	if (rc == 1 && (rc = store_token_get(ctx->store, id, rec)) != STORE_NOTFOUND)
		return lookup_result(rc, why);
	if (opaque_token_legacy_id(token, len, id) == -1)
		return gate_refuse(why, 503, "temporarily_unavailable", "cipher",
		    "the token cannot be read now; try again");
	return get_record(ctx, id, rec, why);
}

static int
verify_opaque(struct gh_ctx *ctx, const char *token, size_t len, unsigned flags,
    int64_t now, struct gate_principal **out, struct gate_refusal *why)
{
	struct store_token rec;
	struct client_entry *ce = NULL;
	struct gate_principal *p = NULL;
	char id[OPAQUE_ID_LEN + 1];
	int rc = -1;

	memset(&rec, 0, sizeof(rec));
	if (len > GATE_MAX_OPAQUE_LEN)
		return gate_refuse(why, 401, "invalid_token", "malformed",
		    "the token is not a JWT and too long to be an opaque token");
	if (opaque_record(ctx, token, len, id, &rec, why) == -1)
		goto out;
	if (rec.format != STORE_FORMAT_OPAQUE) {
		gate_refuse(why, 401, "invalid_token", "unknown", "the token is not known here");
		goto out;
	}
	if (!(flags & GATE_VERIFY_FOR_REVOCATION) && now >= rec.expires_at + ctx->cfg->leeway) {
		gate_refuse(why, 401, "invalid_token", "expired", "the token has expired");
		goto out;
	}
	if (check_record_and_client(ctx, &rec, flags, now, &ce, why) == -1)
		goto out;
	if ((p = principal_new()) == NULL || (p->scope = scope_still_held(rec.scope, ce)) == NULL)
		goto oom;
	str_copy(p->client_id, sizeof(p->client_id), rec.client_id);
	str_copy(p->tenant_id, sizeof(p->tenant_id), rec.tenant_id);
	str_copy(p->token_id, sizeof(p->token_id), id);
	p->roles = ce->c.roles;
	role_text(p->roles, p->roles_text);
	p->env = rec.env;
	p->format = STORE_FORMAT_OPAQUE;
	p->exp = rec.expires_at;
	p->iat = rec.issued_at;
	p->nbf = rec.issued_at;
	p->revoked = rec.revoked_at != 0;
	/* A record from before tokens named their audience has none: such a
	 * token named none, which makes it the issuer's (oauth/issue.c). */
	if (add_aud(p, rec.aud != NULL && rec.aud[0] != '\0' ? rec.aud : ctx->issuer) == -1)
		goto oom;
	p->client = ce;
	ce = NULL;
	*out = p;
	p = NULL;
	rc = 0;
	goto out;
oom:
	gate_refuse(why, 503, "temporarily_unavailable", "memory", "out of memory");
out:
	gate_principal_release(p);
	client_entry_release(ce);
	store_token_clear(&rec);
	return rc;
}

int
gate_bearer_verify(struct gh_ctx *ctx, const char *token, size_t len,
    unsigned flags, int64_t now, struct gate_principal **out,
    struct gate_refusal *why)
{
	size_t dots = 0;

	*out = NULL;
	if (len == 0)
		return gate_refuse(why, 401, "invalid_token", "malformed", "the token is empty");
	if (len > JOSE_MAX_TOKEN_LEN)
		return gate_refuse(why, 401, "invalid_token", "too_long",
		    "the token is longer than %d bytes", JOSE_MAX_TOKEN_LEN);
	if (!gate_token_syntax_ok(token, len))
		return gate_refuse(why, 401, "invalid_token", "malformed",
		    "the token has characters outside RFC 6750 b64token");
	for (size_t i = 0; i < len; i++)
		dots += token[i] == '.';
	if (dots == 0)
		return verify_opaque(ctx, token, len, flags, now, out, why);
	if (dots != 2)
		return gate_refuse(why, 401, "invalid_token", "malformed",
		    "a JWT has exactly three segments (RFC 7515 §7.1)");
	return verify_jwt(ctx, token, len, flags, now, out, why);
}
