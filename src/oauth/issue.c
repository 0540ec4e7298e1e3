/* issue.c — the issuing core; see issue.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "jose/jose.h"
#include "jose/keyring.h"
#include "keys/keys.h"
#include "oauth/client_auth.h"
#include "oauth/client_cache.h"
#include "oauth/issue.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "security/opaque_token.h"
#include "server/context.h"
#include "util/json_flat.h"
#include "util/util.h"

#define MAX_SCOPE_LEN 2048

static int
client_has_scope(const struct client_entry *ce, const char *s, size_t n)
{
	for (size_t i = 0; i < ce->nscopes; i++)
		if (strlen(ce->scopes[i]) == n && memcmp(ce->scopes[i], s, n) == 0)
			return 1;
	return 0;
}

/* The granted scope: the asked one when every token is allowed, else the
 * client's whole set when none was asked (RFC 6749 §3.3). */
static int
grant_scope(const struct client_entry *ce, const char *asked, char **out,
    struct oauth_error *e)
{
	char buf[MAX_SCOPE_LEN + 1];
	size_t used = 0;

	buf[0] = '\0';
	if (asked == NULL) {
		for (size_t i = 0; i < ce->nscopes; i++)
			used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%s",
			    i ? " " : "", ce->scopes[i]);
	} else {
		const char *p = asked;
		if (strlen(asked) > MAX_SCOPE_LEN)
			return oauth_fail(e, 400, OAUTH_INVALID_SCOPE, "scope is longer than %d bytes", MAX_SCOPE_LEN);
		while (*p != '\0') {
			size_t n = strcspn(p, " ");
			if (n == 0) {
				p++;
				continue;
			}
			if (!scope_token_ok(p, n))
				return oauth_fail(e, 400, OAUTH_INVALID_SCOPE,
				    "scope has a character outside RFC 6749 §3.3");
			if (!client_has_scope(ce, p, n))
				return oauth_fail(e, 400, OAUTH_INVALID_SCOPE,
				    "scope '%.*s' is not allowed for this client", (int)(n > 64 ? 64 : n), p);
			/* Skip a repeat of a token already granted. */
			{
				int dup = 0;
				const char *q = buf;
				while (*q != '\0' && !dup) {
					size_t m = strcspn(q, " ");
					dup = m == n && memcmp(q, p, n) == 0;
					q += m + (q[m] == ' ');
				}
				if (!dup)
					used += (size_t)snprintf(buf + used, sizeof(buf) - used, "%s%.*s",
					    used ? " " : "", (int)n, p);
			}
			p += n;
		}
		/* RFC 6749 §3.3: a scope is one or more tokens. */
		if (used == 0)
			return oauth_fail(e, 400, OAUTH_INVALID_SCOPE,
			    "scope holds only spaces: name one or more scopes, or leave it out");
	}
	if ((*out = strdup(buf)) == NULL)
		return oauth_fail(e, 500, OAUTH_SERVER_ERROR, "out of memory");
	return 0;
}

static int
audience_allowed(const struct gh_ctx *ctx, const char *aud)
{
	const char *p = ctx->audiences;
	size_t n = strlen(aud);

	if (strcmp(aud, ctx->issuer) == 0)
		return 1;
	while (*p != '\0') {
		size_t m = strcspn(p, " ");
		if (m == n && memcmp(p, aud, n) == 0)
			return 1;
		p += m + (p[m] == ' ');
	}
	return 0;
}

/* The audience of a token that names none: the issuer. Configured
 * audiences are those a request may name: a policy rule with aud= accepts
 * only the tokens asked for that API (docs/policy.md), so none is given
 * one unasked. */
static char *
default_audience(const struct gh_ctx *ctx)
{
	return strdup(ctx->issuer);
}

static int
check_client_policy(struct gh_ctx *ctx, const struct client_entry *ce,
    const struct token_request *r, struct oauth_error *e)
{
	if (ce->c.disabled)
		return oauth_fail(e, 400, OAUTH_UNAUTHORIZED_CLIENT, "this client is disabled");
	if (strcmp(r->grant_type, "client_credentials") != 0)
		return oauth_fail(e, 400, OAUTH_UNSUPPORTED_GRANT_TYPE,
		    "grant type '%.40s' is not supported; use client_credentials", r->grant_type);
	if (r->tenant != NULL && strcmp(r->tenant, ce->c.tenant_id) != 0)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
		    "X-TENANT-ID does not name this client's tenant");
	if (ce->allow.n > 0 && !cidr_match(&ce->allow, r->peer_ip))
		return oauth_fail(e, 400, OAUTH_UNAUTHORIZED_CLIENT,
		    "requests from %s are not allowed for this client", r->peer_ip);
	(void)ctx;
	return 0;
}

/* Issuance per client (seed 000: clients cache their tokens). */
static int
check_rate(struct gh_ctx *ctx, const struct client_entry *ce, struct oauth_error *e)
{
	int64_t per_minute = ce->c.rate_limit > 0 ? ce->c.rate_limit : ctx->cfg->rate_limit;
	int64_t retry = 0;

	if (ratelimit_take(ctx->ratelimit, ce->c.id, per_minute,
	    (int64_t)(clock_mono_ns() / 1000000), &retry))
		return 0;
	oauth_fail(e, 429, OAUTH_TEMPORARILY_UNAVAILABLE, "this client may take %lld tokens a "
	    "minute; cache each token until it nears expiry", (long long)per_minute);
	e->retry_after = retry;
	return -1;
}

/*
 * The claims of t's JWT as one JSON object: the client's fragment (made
 * once per client: iss, sub, client_id, tenant_id, roles, env, its extra
 * claims, ...), then this token's own. Into *out (the caller frees) and
 * *outlen; -1 when it would not fit (which the bound below rules out) or
 * out of memory, with e set.
 */
static int
claims_json(const struct client_entry *ce, const struct issued_token *t, char **out,
    size_t *outlen, struct oauth_error *e)
{
	size_t cap = ce->claims_fragment_len + 3 * strlen(t->scope) +
	    6 * (strlen(t->aud) + strlen(t->name)) + 256;
	char *p;
	int len;

	if ((p = malloc(cap)) == NULL) {
		oauth_fail(e, 500, OAUTH_SERVER_ERROR, "out of memory");
		return -1;
	}
	p[0] = '{';
	memcpy(p + 1, ce->claims_fragment, ce->claims_fragment_len);
	len = 1 + (int)ce->claims_fragment_len;
	len += snprintf(p + len, cap - (size_t)len, "\"aud\":");
	if ((len = json_append_string(p, (size_t)len, cap, t->aud)) < 0)
		goto toolong;
	len += snprintf(p + len, cap - (size_t)len,
	    ",\"exp\":%lld,\"nbf\":%lld,\"iat\":%lld,\"jti\":\"%s\",\"scope\":",
	    (long long)t->exp, (long long)t->iat, (long long)t->iat, t->record_id);
	if ((len = json_append_string(p, (size_t)len, cap, t->scope)) < 0)
		goto toolong;
	p[len++] = ',';
	memcpy(p + len, "\"scopes\":[", 10);
	len += 10;
	for (const char *s = t->scope; *s != '\0';) {
		size_t n = strcspn(s, " ");
		char one[MAX_SCOPE_LEN + 1];
		memcpy(one, s, n);
		one[n] = '\0';
		if (s != t->scope)
			p[len++] = ',';
		if ((len = json_append_string(p, (size_t)len, cap, one)) < 0)
			goto toolong;
		s += n + (s[n] == ' ');
	}
	len += snprintf(p + len, cap - (size_t)len, "],\"token_name\":");
	if ((len = json_append_string(p, (size_t)len, cap, t->name)) < 0 || (size_t)len + 2 > cap)
		goto toolong;
	p[len++] = '}';
	p[len] = '\0';
	*out = p;
	*outlen = (size_t)len;
	return 0;
toolong:
	free(p);
	oauth_fail(e, 500, OAUTH_SERVER_ERROR, "claims too large");
	return -1;
}

static int
make_jwt(struct gh_ctx *ctx, const struct client_entry *ce,
    struct issued_token *t, struct oauth_error *e)
{
	struct keyring *kr = ctx_keyring(ctx);
	int64_t remove_at = 0;
	const struct jose_key *key = keyring_signing_key(kr, (int)t->env, t->iat, &remove_at);
	char *p = NULL;
	size_t len = 0;
	int rc = -1;
	const char *why = NULL;

	if (key == NULL) {
		oauth_fail(e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "no signing key is active for %s",
		    store_env_names[t->env]);
		goto out;
	}
	/* A key whose successor is scheduled is unpublished at remove_at, set
	 * from the longest lifetime when the rotation was made: a client made
	 * or lengthened since could outlive it. Its tokens end 5 minutes
	 * before (expires_in says so), never after their key is gone. */
	if (remove_at != 0 && t->exp > remove_at - KEYS_REMOVE_MARGIN)
		t->exp = remove_at - KEYS_REMOVE_MARGIN > t->iat ? remove_at - KEYS_REMOVE_MARGIN :
		    t->iat + 1;
	if (claims_json(ce, t, &p, &len, e) == -1)
		goto out;
	if (jose_sign_compact(key, "at+jwt", p, len, &t->token, &t->token_len, &why) == -1) {
		oauth_fail(e, 500, OAUTH_SERVER_ERROR, "signing failed: %s", why ? why : "?");
		goto out;
	}
	t->alg = jose_alg_names[jose_key_alg(key)];
	rc = 0;
out:
	free(p);
	keyring_unref(kr);
	return rc;
}

static int
make_opaque(const struct gh_ctx *ctx, struct issued_token *t, struct oauth_error *e)
{
	/* 32 hex digits, as seed 003 shows; stored only under its record id
	 * (security/opaque_token.h says why that id grows with time). */
	if ((t->token = malloc(OPAQUE_TOKEN_LEN + 1)) == NULL ||
	    opaque_token_new(ctx->opaque_key, clock_now_ms(), t->token, t->record_id) == -1)
		return oauth_fail(e, 500, OAUTH_SERVER_ERROR, "cannot make a token");
	t->token_len = OPAQUE_TOKEN_LEN;
	t->alg = "opaque";
	return 0;
}

/* The audience asked (RFC 8707's resource, or audience), if served
 * here, else this server's default: into *out (the caller frees). */
static int
grant_audience(const struct gh_ctx *ctx, const struct token_request *r, char **out,
    struct oauth_error *e)
{
	if (r->audience != NULL && !audience_allowed(ctx, r->audience)) {
		oauth_fail(e, 400, OAUTH_INVALID_TARGET, "audience '%.64s' is not served here", r->audience);
		return -1;
	}
	*out = r->audience ? strdup(r->audience) : default_audience(ctx);
	if (*out == NULL) {
		oauth_fail(e, 500, OAUTH_SERVER_ERROR, "out of memory");
		return -1;
	}
	return 0;
}

/* Lifetime: the client's, or what was asked up to the client's maximum;
 * a dialect's default ask (seed 002's 24 h) is capped, an explicit ask
 * over the maximum is refused. */
static int
grant_lifetime(const struct client_entry *ce, const struct token_request *r, int64_t *out,
    struct oauth_error *e)
{
	int64_t lifetime = r->lifetime > 0 ? r->lifetime : ce->c.ttl;

	if (lifetime > ce->c.max_ttl) {
		if (r->lifetime_explicit) {
			oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "the lifetime asked (%lld s) exceeds this client's maximum of %lld seconds",
			    (long long)lifetime, (long long)ce->c.max_ttl);
			return -1;
		}
		lifetime = ce->c.max_ttl;
	}
	*out = lifetime;
	return 0;
}

/* The token itself, once t says whose it is and how long it lives: its
 * name (asked, else a new UUID), then an opaque token or a signed JWT. */
static int
make_token(struct gh_ctx *ctx, const struct client_entry *ce, const struct token_request *r,
    struct issued_token *t, struct oauth_error *e)
{
	uint8_t jti[16];

	if (r->token_name != NULL)
		str_copy(t->name, sizeof(t->name), r->token_name);
	else if (uuid_v7(t->name) == -1) {	/* time-ordered: cheap to index */
		oauth_fail(e, 500, OAUTH_SERVER_ERROR, "no randomness");
		return -1;
	}
	if (ce->c.format == STORE_FORMAT_OPAQUE)
		return make_opaque(ctx, t, e);
	/* Time-ordered (UUID v7 bits): the token table's primary key then
	 * grows at its end instead of at random pages. */
	if (uuid_v7_bytes(jti) == -1) {
		oauth_fail(e, 500, OAUTH_SERVER_ERROR, "no randomness");
		return -1;
	}
	hex_encode(jti, sizeof(jti), t->record_id);
	return make_jwt(ctx, ce, t, e);
}

int
oauth_issue(struct gh_ctx *ctx, const struct token_request *r,
    struct issued_token *t, struct oauth_error *e)
{
	struct client_entry *ce = NULL;
	int64_t now = clock_now(), lifetime;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	if ((rc = oauth_client_login(ctx, r->client_id, r->client_secret,
	    r->auth == CLIENT_AUTH_BASIC, r->no_store_wait, r->peer_ip, now, &ce,
	    &t->secret_age, e)) != 0)
		return rc;
	rc = -1;
	if (check_client_policy(ctx, ce, r, e) == -1)
		goto out;
	/* The client's tokens were voided this second (manage/secrets.c):
	 * one issued now would be void at birth. Say when to ask again. */
	if (now < ce->c.tokens_valid_after) {
		oauth_fail(e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "this client's tokens were "
		    "voided less than a second ago; ask again in a second");
		e->retry_after = ce->c.tokens_valid_after - now;
		goto out;
	}
	if (grant_scope(ce, r->scope, &t->scope, e) == -1 ||
	    grant_audience(ctx, r, &t->aud, e) == -1 ||
	    grant_lifetime(ce, r, &lifetime, e) == -1)
		goto out;
	/* Last: only a request that would be issued takes one of the
	 * client's tokens a minute (a refused scope does not). */
	if (check_rate(ctx, ce, e) == -1)
		goto out;
	t->iat = now;
	t->exp = now + lifetime;
	t->env = ce->c.env;
	t->format = ce->c.format;
	str_copy(t->client_id, sizeof(t->client_id), ce->c.id);
	str_copy(t->tenant_id, sizeof(t->tenant_id), ce->c.tenant_id);
	if (make_token(ctx, ce, r, t, e) == -1)
		goto out;
	rc = 0;
out:
	client_entry_release(ce);
	if (rc == -1)
		issued_token_clear(t);
	return rc;
}

int
oauth_record(struct gh_ctx *ctx, const struct issued_token *t,
    store_done_fn done, void *arg)
{
	struct store_token rec;

	memset(&rec, 0, sizeof(rec));
	rec.id = (char *)t->record_id;
	rec.client_id = (char *)t->client_id;
	rec.tenant_id = (char *)t->tenant_id;
	rec.name = (char *)t->name;
	rec.format = t->format;
	rec.env = t->env;
	rec.scope = t->scope;
	rec.aud = t->aud;
	rec.issued_at = t->iat;
	rec.expires_at = t->exp;
	return store_token_record(ctx->store, &rec, done, arg) == STORE_OK ? 0 : -1;
}
