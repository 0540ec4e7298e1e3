/* gate.c — the gate check (/gate), its lifecycle and its routes; see gate.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit/audit.h"
#include "gate/claims.h"
#include "gate/gate.h"
#include "gate/internal.h"
#include "jose/jose.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "security/secret.h"
#include "server/context.h"
#include "server/offload.h"
#include "server/routes.h"
#include "util/util.h"

/* X-Original-Method as the policy knows it. */
static const struct {
	const char		*name;
	enum http_method	 m;
} orig_methods[] = {
	{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
	{ "PUT", HTTP_PUT }, { "PATCH", HTTP_PATCH }, { "DELETE", HTTP_DELETE },
	{ "OPTIONS", HTTP_OPTIONS },
};

int
gate_init(struct gh_ctx *ctx, char *err, size_t errlen)
{
	struct gate *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		snprintf(err, errlen, "gate: out of memory");
		return -1;
	}
	g->ctx = ctx;
	pthread_mutex_init(&g->lock, NULL);
	pthread_mutex_init(&g->revoked_mu, NULL);
	atomic_init(&g->cache_gen, atomic_load(&ctx->gate_epoch));
	atomic_init(&g->revoked_tag, atomic_load(&ctx->loaded[STORE_GEN_REVOKED]));
	atomic_init(&g->revoked_floor, INT64_MIN);
	if (ctx->cfg->gate_cache &&
	    (g->cache = gate_cache_new((size_t)ctx->cfg->gate_cache_size)) == NULL) {
		snprintf(err, errlen, "gate: out of memory");
		gate_free(g);
		return -1;
	}
	if (ctx->cfg->policy != NULL && ctx->cfg->policy[0] != '\0') {
		if (policy_load(ctx->cfg->policy, &g->policy, err, errlen) == -1) {
			gate_free(g);
			return -1;
		}
		log_event(LOG_INFO, "gate.policy_loaded", json_pack("{s:s, s:I}",
		    "file", ctx->cfg->policy, "rules", (json_int_t)g->policy->n));
	} else
		log_event(LOG_WARN, "gate.no_policy", json_pack("{s:s}", "note",
		    "no route policy configured (policy = FILE): the gate refuses every call"));
	ctx->gate = g;
	return 0;
}

int
gate_reload(struct gh_ctx *ctx, char *err, size_t errlen)
{
	struct gate *g = ctx->gate;
	struct policy *p = NULL, *old;

	if (g == NULL || ctx->cfg->policy == NULL || ctx->cfg->policy[0] == '\0')
		return 0;
	if (policy_load(ctx->cfg->policy, &p, err, errlen) == -1) {
		log_event(LOG_ERROR, "gate.policy_refused", json_pack("{s:s, s:s, s:s}",
		    "file", ctx->cfg->policy, "reason", err, "note", "the previous policy stays"));
		return -1;
	}
	pthread_mutex_lock(&g->lock);
	old = g->policy;
	g->policy = p;
	pthread_mutex_unlock(&g->lock);
	/* Calls holding the old policy finish with it; the last frees it. */
	policy_unref(old);
	log_event(LOG_INFO, "gate.policy_loaded", json_pack("{s:s, s:I}",
	    "file", ctx->cfg->policy, "rules", (json_int_t)p->n));
	return 0;
}

void
gate_free(struct gate *g)
{
	if (g == NULL)
		return;
	policy_unref(g->policy);
	gate_cache_free(g->cache);
	revoked_set_unref(g->revoked);
	pthread_mutex_destroy(&g->revoked_mu);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void
gate_metrics_publish(struct gh_ctx *ctx)
{
	const char *hit[1] = { "hit" }, *miss[1] = { "miss" };

	if (ctx->gate == NULL || ctx->gate->cache == NULL)
		return;
	metrics_set("gatehouse_gate_cache_lookups_total",
	    (double)atomic_load(&ctx->gate->cache_hits), hit);
	metrics_set("gatehouse_gate_cache_lookups_total",
	    (double)atomic_load(&ctx->gate->cache_misses), miss);
}

void
gate_sync_generation(struct gate *g)
{
	uint64_t gen, seen;

	if (g == NULL)
		return;
	gen = atomic_load(&g->ctx->gate_epoch);
	seen = atomic_load(&g->cache_gen);

	/* ctx_refresh moves ctx->gate_epoch before it reloads anything (and
	 * again once the keys are swapped), so a request that sees the new
	 * number empties the cache itself rather than trust entries from
	 * before a client's or a key's change (a token's revocation is the
	 * revoked set's: revoked_sync). The entries die (a new epoch) before
	 * the number is published: a thread that sees it published finds none
	 * of them, however far the sweep has gone; the thread that publishes
	 * sweeps. */
	if (gen == seen)
		return;
	if (g->cache != NULL)
		gate_cache_invalidate(g->cache);
	if (atomic_compare_exchange_strong(&g->cache_gen, &seen, gen) && g->cache != NULL)
		gate_cache_clear(g->cache);
}

/* Logs when the revoked set goes past its bound, and when it is back
 * within it: not at every load, which follows every revocation. was: the
 * set's completeness before the refresh (which may add to it in place). */
static void
log_revoked_bound(int was, const struct revoked_set *r)
{
	int is = revoked_set_complete(r);

	if (was && !is)
		log_event(LOG_WARN, "gate.revoked_set_incomplete", json_pack("{s:I, s:s}",
		    "kept", (json_int_t)revoked_set_count(r), "note",
		    "more revoked tokens than revoked_set_max: a token not kept is looked up in the store"));
	else if (!was && is)
		log_event(LOG_INFO, "gate.revoked_set_complete", json_pack("{s:I}",
		    "kept", (json_int_t)revoked_set_count(r)));
}

/* 1 when now (less leeway) is behind the revoked set's last read: the wall
 * clock went back, and a token the set left out as expired then may be
 * unexpired now. */
static int
revoked_behind(struct gate *g, int64_t now)
{
	return now - g->ctx->cfg->leeway < atomic_load(&g->revoked_floor);
}

/* 1 when the revoked set must be read again before it is trusted at now:
 * a revocation was loaded since its last read, or the clock went back. */
static int
revoked_due(struct gate *g, int64_t now)
{
	return atomic_load(&g->revoked_tag) != atomic_load(&g->ctx->loaded[STORE_GEN_REVOKED]) ||
	    revoked_behind(g, now);
}

/*
 * Brings the revoked set up to date (the caller holds revoked_mu) and
 * hands it to the cache, tagged with the revocation generation the
 * context had loaded before the read (a revocation in between is read
 * again next time). The set keeps the tokens that expired less than leeway
 * ago: claims_check still takes them, and one left out would pass again,
 * revoked. A refresh reads what was revoked since the set's own
 * revocation generation (a full load each time would let a client that
 * revokes its tokens in a loop make every node read them all each time);
 * after a failure, in full. A cached entry can be checked against the set
 * only when the set holds every revoked token: when it cannot be read, or
 * is past revoked_set_max, the cache is emptied instead (its entries die
 * at once: an insert racing with this is dropped, gate_cache_put).
 */
static int
revoked_refresh_locked(struct gate *g)
{
	uint64_t tag = atomic_load(&g->ctx->loaded[STORE_GEN_REVOKED]);
	int was = revoked_set_complete(g->revoked), rc;
	struct revoked_set *r;

	rc = revoked_set_refresh(g->ctx->store, g->revoked_failed ? NULL : g->revoked,
	    clock_now() - g->ctx->cfg->leeway - GATE_REVOKED_SLACK_S,
	    (size_t)g->ctx->cfg->revoked_set_max, &r);
	if (rc == STORE_OK) {
		log_revoked_bound(was, r);
		revoked_set_unref(g->revoked);
		g->revoked = r;
		g->revoked_failed = 0;
		atomic_store(&g->revoked_floor, revoked_set_floor(r));
		if (g->cache != NULL)
			gate_cache_set_revoked(g->cache, r);
	} else
		g->revoked_failed = 1;
	if (g->cache != NULL && (rc != STORE_OK || !revoked_set_complete(r)))
		gate_cache_clear(g->cache);
	atomic_store(&g->revoked_tag, tag);
	return rc;
}

int
gate_revoked_get(struct gate *g, struct revoked_set **out)
{
	int rc = STORE_OK;

	pthread_mutex_lock(&g->revoked_mu);
	if (g->revoked == NULL || g->revoked_failed || revoked_due(g, clock_now()))
		rc = revoked_refresh_locked(g);
	*out = rc == STORE_OK ? revoked_set_ref(g->revoked) : NULL;
	pthread_mutex_unlock(&g->revoked_mu);
	return rc;
}

/* The cache's side of a revocation loaded since the last look, or of a
 * wall clock gone back behind the set's last read (now): the set the cache
 * checks its entries against, brought up to date before any cached token
 * is taken again. 1 when that must read the store and may_wait is 0.
 * Without a cache there is nothing to check: a check reads the set when it
 * verifies (gate_revoked_get). */
static int
revoked_sync(struct gate *g, int may_wait, int64_t now)
{
	if (g == NULL || g->cache == NULL || !revoked_due(g, now))
		return 0;
	if (!may_wait)
		return 1;
	pthread_mutex_lock(&g->revoked_mu);
	if (revoked_due(g, now))	/* another thread may have read it meanwhile */
		(void)revoked_refresh_locked(g);
	pthread_mutex_unlock(&g->revoked_mu);
	return 0;
}

void
gate_token_revoked(struct gh_ctx *ctx)
{
	struct gate *g = ctx->gate;

	if (g == NULL)
		return;
	/* The revocation's generation loaded (ctx_refresh), then the set read
	 * whatever that did: a reload that timed out waiting for another
	 * must not leave this token passing until the next refresh turn. */
	ctx_changed_here(ctx);
	pthread_mutex_lock(&g->revoked_mu);
	(void)revoked_refresh_locked(g);
	pthread_mutex_unlock(&g->revoked_mu);
}

int
gate_refresh(struct gh_ctx *ctx, int may_wait, int64_t now)
{
	/* Reading the store's generation costs a lock and, with SQLite, a
	 * file lock: one thread does it per interval and the others use what
	 * it saw. Changes made through this process (revocation here) take
	 * effect at once; those of other processes are seen within
	 * gate_refresh_ms. The lockout locks are not the gate's concern. */
	if (ctx_refresh_every(ctx, ctx->cfg->gate_refresh_ms, may_wait, CTX_NEEDS_REVOKED))
		return 1;
	gate_sync_generation(ctx->gate);
	return revoked_sync(ctx->gate, may_wait, now);
}

static struct policy *
policy_get(struct gate *g)
{
	struct policy *p;

	pthread_mutex_lock(&g->lock);
	p = policy_ref(g->policy);
	pthread_mutex_unlock(&g->lock);
	return p;
}

/*
 * The refusal's body again, in X-Gatehouse-Refusal: nginx's auth_request
 * keeps a subrequest's headers (auth_request_set) but drops its body, so
 * without this it could relay the gate's JSON only by asking a second
 * time, and a second ask may use up an approval decided in between for a
 * call that is never made, and counts and audits the refusal twice
 * (docs/nginx/nginx.conf). The body is printable ASCII (descriptions are
 * NQSCHAR, gate_refuse), so it is a valid header value as it is; one that
 * were not is left out rather than sent.
 */
static void
relay_header(struct http_exchange *x)
{
	if (x->resp.body == NULL || x->resp.body_len == 0)
		return;
	for (size_t i = 0; i < x->resp.body_len; i++) {
		unsigned char c = (unsigned char)x->resp.body[i];
		if (c < 0x20 || c > 0x7e)
			return;
	}
	http_response_header(&x->resp, "X-Gatehouse-Refusal", x->resp.body);
}

static void
answer_refusal(struct http_exchange *x, const struct policy_rule *rule,
    const struct gate_refusal *r)
{
	char desc[sizeof(r->description)], hdr[768];
	json_t *body;

	str_nqschar(r->description, desc, sizeof(desc));
	if (r->status == 401 && rule != NULL && rule->style == POLICY_STYLE_MANGOPAY) {
		/* Seed 003's answer to an expired or unknown token. */
		char id[37];
		if (uuid_v4(id) == -1)
			snprintf(id, sizeof(id), "00000000-0000-4000-8000-000000000000");
		body = json_pack("{s:s, s:s, s:s, s:f, s:n}",
		    "Message", "The authorization credentials are not valid",
		    "Type", "invalid_credentials", "Id", id,
		    "Date", (double)clock_now(), "errors");
	} else
		body = json_pack("{s:s, s:s, s:s}", "error", r->error,
		    "error_description", r->description, "reason", r->reason);
	http_response_json(&x->resp, r->status, body);
	x->resp.reason = r->reason;
	http_response_header(&x->resp, "Cache-Control", "no-store");
	relay_header(x);
	if (r->status == 401) {
		/* RFC 6750 §3.1: no error code when no credentials were sent. */
		if (strcmp(r->error, "no_token") == 0)
			snprintf(hdr, sizeof(hdr), "Bearer");
		else
			snprintf(hdr, sizeof(hdr), "Bearer error=\"%s\", error_description=\"%s\"",
			    r->error, desc);
		http_response_header(&x->resp, "WWW-Authenticate", hdr);
	} else if (r->status == 403 && strcmp(r->error, "insufficient_scope") == 0) {
		char scope[256];
		str_nqschar(rule != NULL && rule->scope_text ? rule->scope_text : "", scope, sizeof(scope));
		snprintf(hdr, sizeof(hdr), "Bearer error=\"insufficient_scope\", "
		    "error_description=\"%s\", scope=\"%s\"", desc, scope);
		http_response_header(&x->resp, "WWW-Authenticate", hdr);
	}
}

/* 200 with the caller's identity; for a critical route, the approval
 * used (approval: its id, or NULL) and the body digest it binds (""
 * none), which the upstream checks the body against (approval.c). */
static void
answer_allowed(struct http_exchange *x, const struct gate_principal *p, const char *approval,
    const char *bound)
{
	http_response_json_text(&x->resp, 200, xstrndup("{}", 2), 2);
	x->resp.reason = "allowed";
	http_response_header(&x->resp, "X-Gatehouse-Client", p->client_id);
	http_response_header(&x->resp, "X-Gatehouse-Tenant", p->tenant_id);
	http_response_header(&x->resp, "X-Gatehouse-Roles", p->roles_text);
	http_response_header(&x->resp, "X-Gatehouse-Scopes", p->scope);
	http_response_header(&x->resp, "X-Gatehouse-Env", store_env_names[p->env]);
	if (approval != NULL)
		http_response_header(&x->resp, "X-Gatehouse-Approval", approval);
	if (bound[0] != '\0')
		http_response_header(&x->resp, "X-Gatehouse-Body-Digest", bound);
	http_response_header(&x->resp, "Cache-Control", "no-store");
}

static int
role_level(unsigned roles)
{
	if (roles & STORE_ROLE_ADMIN)
		return POLICY_ROLE_ADMIN;
	if (roles & STORE_ROLE_OPERATOR)
		return POLICY_ROLE_OPERATOR;
	if (roles & STORE_ROLE_VIEWER)
		return POLICY_ROLE_VIEWER;
	return 0;
}

/* The cached principal of tok, still unexpired (a new reference), or NULL;
 * key and *epoch get what a later gate_cache_put needs. */
static struct gate_principal *
principal_cached(struct gate *g, const char *tok, size_t len, int64_t now, uint8_t key[32],
    uint64_t *epoch)
{
	struct gate_principal *p;

	/* A hash that failed is a random key: a miss, and a slot wasted. */
	(void)token_hash(tok, len, key);
	*epoch = gate_cache_epoch(g->cache);
	p = gate_cache_get(g->cache, key);
	if (p != NULL && now < p->exp + g->ctx->cfg->leeway) {
		atomic_fetch_add_explicit(&g->cache_hits, 1, memory_order_relaxed);
		return p;
	}
	/* Expired since it was cached: the verifier says so precisely. */
	gate_principal_release(p);
	return NULL;
}

/* The principal for the token: from the cache, or verified (and cached). */
static int
principal_for(struct gate *g, const char *tok, size_t len, int64_t now,
    struct gate_principal **out, struct gate_refusal *why)
{
	struct gate_principal *p = NULL;
	uint8_t key[32];
	uint64_t epoch = 0;
	int cached = g->cache != NULL && len <= JOSE_MAX_TOKEN_LEN;

	if (cached && (p = principal_cached(g, tok, len, now, key, &epoch)) != NULL) {
		*out = p;
		return 0;
	}
	/* Counted here, not in principal_cached: a loop's miss is looked up
	 * again on the pool (must_offload), and counted once there. */
	if (cached)
		atomic_fetch_add_explicit(&g->cache_misses, 1, memory_order_relaxed);
	if (gate_bearer_verify(g->ctx, tok, len, 0, now, &p, why) == -1)
		return -1;
	if (cached)
		gate_cache_put(g->cache, key, p, epoch);
	*out = p;
	return 0;
}

/* The audit row of a refusal (issue 6): queued, never waited for, so that
 * the gate stays as fast refusing as allowing. The caller when known, the
 * call ("METHOD /path") as the target, the reason; never the token. */
static void
audit_refusal(struct gh_ctx *ctx, struct http_exchange *x, const struct gate_principal *p,
    const char *om, const char *path, const struct gate_refusal *r)
{
	struct audit_event ev;
	char addr[46], target[POLICY_MAX_PATH + 24], detail[256];
	int https = 0;

	(void)ctx_client_address(ctx, &x->req, addr, &https);	/* the proxy's when unknown */
	snprintf(target, sizeof(target), "%.16s %s", om != NULL ? om : "", path);
	snprintf(detail, sizeof(detail), "%d %s: %s", r->status, r->reason, r->description);
	memset(&ev, 0, sizeof(ev));
	ev.request_id = x->req.request_id;
	ev.actor = p != NULL ? p->client_id : "";
	ev.tenant = p != NULL ? p->tenant_id : "";
	ev.address = addr;
	ev.action = "gate.refused";
	ev.target = target;
	ev.outcome = "refused";
	ev.detail = detail;
	audit_emit(ctx, &ev);
}

/*
 * The call nginx asks about (X-Original-Method and X-Original-URI): its
 * method (HTTP_METHOD_OTHER when not one the policy names) and its path,
 * normalized as the policy's paths are. -1 with r set (400) when either
 * header is missing or repeated, or the path is not one.
 */
static int
original_call(struct http_exchange *x, const char **om, enum http_method *m,
    char path[POLICY_MAX_PATH + 1], struct gate_refusal *r)
{
	const char *ouri, *why = NULL;
	size_t nm = 0, nu = 0;

	*om = http_request_header(&x->req, "X-Original-Method", &nm);
	ouri = http_request_header(&x->req, "X-Original-URI", &nu);
	if (*om == NULL || ouri == NULL || nm > 1 || nu > 1) {
		gate_refuse(r, 400, "invalid_request", "original_call",
		    "the gate needs exactly one X-Original-Method and one X-Original-URI");
		return -1;
	}
	for (size_t i = 0; i < GH_ARRAY_LEN(orig_methods); i++)
		if (strcmp(*om, orig_methods[i].name) == 0)
			*m = orig_methods[i].m;
	if (policy_normalize_path(ouri, strlen(ouri), path, &why) == -1) {
		gate_refuse(r, 400, "invalid_request", "path", "X-Original-URI: %s", why);
		return -1;
	}
	return 0;
}

/* The rule deciding the call (NULL: none), or -1 with r set (400) when the
 * readings a server may give the path meet different rules
 * (policy_match_call): the gate cannot know which one the API will use. */
static int
call_rule(const struct policy *pol, enum http_method m, const char *path,
    const struct policy_rule **rule, struct gate_refusal *r)
{
	const char *why = NULL;
	const struct policy_rule *found = NULL;

	if (policy_match_call(pol, m, path, &found, &why) == -1) {
		gate_refuse(r, 400, "invalid_request", "path", "X-Original-URI: %s", why);
		return -1;
	}
	*rule = found;
	return 0;
}

/*
 * Who is calling: the principal of the bearer token, into *p (the caller
 * releases it; one already there, found in the cache, is kept). -1 with r
 * set: 400 for a repeated Authorization header, 401 for none (RFC 6750
 * §3.1: a bare challenge) or a token not good.
 */
static int
caller(struct gh_ctx *ctx, struct http_exchange *x, int64_t now, struct gate_principal **p,
    struct gate_refusal *r)
{
	const char *tok = NULL;
	char addr[46];
	size_t toklen = 0;
	int https = 0, b;

	if ((b = gate_bearer_token(&x->req, &tok, &toklen)) == -1) {
		gate_refuse(r, 400, "invalid_request", "authorization",
		    "the Authorization header is repeated");
		return -1;
	}
	if (b == 0) {
		gate_refuse(r, 401, "no_token", "no_token",
		    "a bearer token is required (Authorization: Bearer ...)");
		return -1;
	}
	if (*p == NULL && principal_for(ctx->gate, tok, toklen, now, p, r) == -1) {
		if (r->status == 401) {
			/* The caller, not nginx: the address after trusted proxies. */
			(void)ctx_client_address(ctx, &x->req, addr, &https);
			log_event(LOG_INFO, "auth.gate_invalid_token", json_pack("{s:s, s:s, s:s}",
			    "reason", r->reason, "peer", addr, "request_id", x->req.request_id));
		}
		return -1;
	}
	return 0;
}

/* The X-TENANT-ID header against the rule and the token: -1 with r set. */
static int
tenant_allowed(struct http_exchange *x, const struct policy_rule *rule,
    const struct gate_principal *p, struct gate_refusal *r)
{
	size_t nt = 0;
	const char *tenant = http_request_header(&x->req, "X-TENANT-ID", &nt);

	if (nt > 1) {
		gate_refuse(r, 400, "invalid_request", "tenant_header", "the X-TENANT-ID header is repeated");
		return -1;
	}
	if (tenant == NULL && !rule->tenant_optional) {
		gate_refuse(r, 400, "invalid_request", "tenant_missing",
		    "the X-TENANT-ID header is required");
		return -1;
	}
	if (tenant != NULL && !str_is_ident(tenant, strlen(tenant), 64)) {
		gate_refuse(r, 400, "invalid_request", "tenant_header",
		    "X-TENANT-ID must be 1-64 characters of [A-Za-z0-9._:-]");
		return -1;
	}
	if (tenant != NULL && strcmp(tenant, p->tenant_id) != 0) {
		gate_refuse(r, 403, "access_denied", "tenant",
		    "the token belongs to another tenant than X-TENANT-ID names");
		return -1;
	}
	return 0;
}

/* The path's segments the rule binds ({tenant}, {client}) against the
 * token: -1 with r set when one names another tenant or client, as the
 * X-TENANT-ID header may not. */
static int
binds_allowed(const struct policy_rule *rule, const struct gate_principal *p, const char *path,
    struct gate_refusal *r)
{
	enum policy_bind which;

	if (!rule->bound || policy_check_binds(rule, path, p->tenant_id, p->client_id, &which) == 0)
		return 0;
	gate_refuse(r, 403, "access_denied", which == POLICY_BIND_TENANT ? "path_tenant" : "path_client",
	    "the path names another %s than the token's", policy_bind_names[which]);
	return -1;
}

/*
 * What the principal may do: default deny, then the rule's conditions in
 * turn (audience, tenant, address, environment, role, scopes). -1 with r
 * set at the first that does not hold. The approval a critical route
 * needs is not checked here: checking uses it up, so it comes last.
 */
static int
rule_allows(struct gh_ctx *ctx, struct http_exchange *x, const struct policy_rule *rule,
    const struct gate_principal *p, const char *om, const char *path, struct gate_refusal *r)
{
	char addr[46];
	const char *want;
	int https = 0;

	if (rule == NULL) {
		gate_refuse(r, 403, "access_denied", "no_rule",
		    "no rule of the route policy allows %.10s %.120s", om, path);
		return -1;
	}
	/* RFC 9068 §4: a token for another audience is invalid here. A rule
	 * that names none serves the issuer's own audience, that of a token
	 * that asked for none: a token asked for another API is no key to
	 * every route of this one. aud=any opts out. */
	want = rule->aud != NULL ? rule->aud : rule->aud_any ? NULL : ctx->issuer;
	if (want != NULL && !gate_principal_has_aud(p, want)) {
		gate_refuse(r, 401, "invalid_token", "audience",
		    "the token is not meant for this audience");
		return -1;
	}
	if (tenant_allowed(x, rule, p, r) == -1 || binds_allowed(rule, p, path, r) == -1)
		return -1;
	if (ctx_client_address(ctx, &x->req, addr, &https) == -1)
		return gate_refuse(r, 400, "invalid_request", "forwarded", CTX_UNKNOWN_CALLER);
	if (p->client->allow.n > 0 && !cidr_match(&p->client->allow, addr)) {
		gate_refuse(r, 403, "access_denied", "address",
		    "calls from %s are not allowed for this client", addr);
		return -1;
	}
	if ((rule->env == POLICY_ENV_PRODUCTION && p->env != STORE_ENV_PRODUCTION) ||
	    (rule->env == POLICY_ENV_SANDBOX && p->env != STORE_ENV_SANDBOX)) {
		gate_refuse(r, 403, "access_denied", "environment",
		    "%s tokens may not call this %s route", store_env_names[p->env],
		    policy_env_names[rule->env]);
		return -1;
	}
	if (role_level(p->roles) < (int)rule->role) {
		gate_refuse(r, 403, "access_denied", "role",
		    "this route needs the %s role", policy_role_names[rule->role]);
		return -1;
	}
	for (size_t i = 0; i < rule->nscopes; i++)
		if (!claims_scope_has(p->scope, rule->scopes[i], strlen(rule->scopes[i]))) {
			gate_refuse(r, 403, "insufficient_scope", "scope",
			    "this route needs the scope %.60s", rule->scopes[i]);
			return -1;
		}
	return 0;
}

static enum http_result gate_check(struct http_exchange *x);

/* 1 when this check may read a shared store and runs on an HTTP loop
 * (offload.h): its token is not in the gate's cache (the verification may
 * look up its client, an opaque token's record), or its rule is critical
 * (the check uses up an approval). Anything else answers from memory: a
 * cached principal found on the way is left in *found for the check. */
static int
must_offload(struct gh_ctx *ctx, int may_wait, const struct http_exchange *x,
    const struct policy_rule *rule, int64_t now, struct gate_principal **found)
{
	const char *tok = NULL;
	size_t len = 0;
	uint8_t key[32];
	uint64_t epoch;

	if (may_wait)
		return 0;
	if (rule != NULL && rule->critical)
		return 1;
	if (gate_bearer_token(&x->req, &tok, &len) != 1)
		return 0;	/* refused without a look at the store */
	if (ctx->gate->cache == NULL || len > JOSE_MAX_TOKEN_LEN)
		return 1;
	*found = principal_cached(ctx->gate, tok, len, now, key, &epoch);
	return *found == NULL;
}

/* Hands x to an offload thread, which runs the check again there. A full
 * queue, or a turn on the pool that came too late (offload_is_late), is
 * answered 503 at once, and audited as every refusal is (queued, never
 * waited for). om and path: the original call's. */
static enum http_result
offload(struct gh_ctx *ctx, struct http_exchange *x, const struct policy_rule *rule,
    const char *om, const char *path)
{
	struct gate_refusal r;

	if (!offload_is_late(x) && offload_exchange(ctx->offload, x, gate_check) == 0)
		return HTTP_DEFERRED;
	memset(&r, 0, sizeof(r));
	gate_refuse(&r, 503, "temporarily_unavailable", "store", "the store is busy; try again");
	answer_refusal(x, rule, &r);
	http_response_header(&x->resp, "Retry-After", "1");
	audit_refusal(ctx, x, NULL, om, path, &r);
	return HTTP_DONE;
}

static enum http_result
gate_check(struct http_exchange *x)
{
	struct gh_ctx *ctx = x->route_ctx;
	struct policy *pol = NULL;
	const struct policy_rule *rule = NULL;
	struct gate_principal *p = NULL;
	struct gate_refusal r;
	const char *om = NULL;
	char path[POLICY_MAX_PATH + 1], bound[APPROVALS_DIGEST_MAX] = "";
	enum http_method m = HTTP_METHOD_OTHER;
	int64_t now = clock_now();
	int may_wait = ctx_may_wait(ctx, x);

	memset(&r, 0, sizeof(r));
	path[0] = '\0';
	if (ctx->gate == NULL || (pol = policy_get(ctx->gate)) == NULL) {
		gate_refuse(&r, 403, "access_denied", "no_policy",
		    "no route policy configured: the gate refuses every call");
		goto refuse;
	}
	if (original_call(x, &om, &m, path, &r) == -1 || call_rule(pol, m, path, &rule, &r) == -1)
		goto refuse;
	/* A change to load first reads the store: on a loop that must not
	 * wait, the pool does it (and the whole check). */
	if (offload_is_late(x) || gate_refresh(ctx, may_wait, now) ||
	    must_offload(ctx, may_wait, x, rule, now, &p)) {
		enum http_result res = offload(ctx, x, rule, om, path);
		policy_unref(pol);
		return res;
	}
	if (caller(ctx, x, now, &p, &r) == -1)
		goto refuse;
	str_copy(x->resp.log_client, sizeof(x->resp.log_client), p->client_id);
	str_copy(x->resp.log_tenant, sizeof(x->resp.log_tenant), p->tenant_id);
	if (rule_allows(ctx, x, rule, p, om, path, &r) == -1)
		goto refuse;
	/* Last, once every other condition holds: the check uses up the
	 * approval. */
	if (rule->critical && gate_approval_check(ctx, &x->req, p, om, path, bound, &r) == -1)
		goto refuse;
	answer_allowed(x, p, rule->critical ? http_request_header(&x->req, "X-Approval-ID", NULL) :
	    NULL, bound);
	gate_principal_release(p);
	policy_unref(pol);
	return HTTP_DONE;
refuse:
	answer_refusal(x, rule, &r);
	audit_refusal(ctx, x, p, om, path, &r);
	gate_principal_release(p);
	policy_unref(pol);
	return HTTP_DONE;
}

int
gate_routes_add(struct route_table *t, struct gh_ctx *ctx)
{
	static const struct {
		enum http_method m;
		const char *path, *name;
		http_handler_fn fn;
		enum http_auth auth;
		size_t max_body;
	} fixed[] = {
		/* auth_request subrequests are GET; HEAD and POST for others. */
		{ HTTP_GET, "/gate", "gate", gate_check, HTTP_AUTH_GATE, 1024 },
		{ HTTP_HEAD, "/gate", "gate", gate_check, HTTP_AUTH_GATE, 1024 },
		{ HTTP_POST, "/gate", "gate", gate_check, HTTP_AUTH_GATE, 1024 },
		{ HTTP_POST, "/oauth/introspect", "introspect", gate_introspect_handle,
		    HTTP_AUTH_CLIENT, 16384 },
		{ HTTP_POST, "/oauth/revoke", "revoke", gate_revoke_handle,
		    HTTP_AUTH_CLIENT, 16384 },
	};

	for (size_t i = 0; i < GH_ARRAY_LEN(fixed); i++) {
		struct http_route r;
		memset(&r, 0, sizeof(r));
		r.method = fixed[i].m;
		r.path = fixed[i].path;
		r.handler = fixed[i].fn;
		r.ctx = ctx;
		r.auth = fixed[i].auth;
		r.max_body = fixed[i].max_body;
		r.name = fixed[i].name;
		/* The gate decides per check (must_offload); introspection and
		 * revocation read the store on every call. */
		if ((r.handler == gate_check ? routes_add(t, &r) :
		    routes_add_offloaded(t, &r, ctx)) == -1)
			return -1;
	}
	return 0;
}
