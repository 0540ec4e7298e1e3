/* token_route.c — see token_route.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "oauth/issue.h"
#include "oauth/token_route.h"
#include "server/context.h"
#include "server/offload.h"
#include "util/util.h"

/* Runs on the store's writer thread once the record is durable. */
static void
record_done(void *arg, int err)
{
	struct http_exchange *x = arg;

	if (err != 0) {
		struct oauth_error e;
		oauth_fail(&e, 503, OAUTH_TEMPORARILY_UNAVAILABLE,
		    "the token could not be recorded; try again");
		e.retry_after = 1;
		/* The token was never valid: it has no record. Drop it. */
		http_response_reset(&x->resp);
		dialect_respond_error(&x->resp, &e);
	}
	http_exchange_resume(x);
}

/* Runs on the writer thread once a refusal's audit row is durable (or
 * failed: then logged here, and the refusal is answered all the same).
 * One line a second at most, counting the refusals it stands for: while
 * the store is down every refused request fails its row, and a guesser
 * sends thousands (the writer's store.commit_failed line says why). */
static void
refusal_done(void *arg, int err)
{
	static uint64_t last_log_ns;	/* the writer thread's alone */
	static long unlogged;
	struct http_exchange *x = arg;

	if (err != 0) {
		uint64_t now = clock_mono_ns();

		unlogged++;
		if (last_log_ns == 0 || now - last_log_ns >= 1000000000ULL) {
			log_event(LOG_ERROR, "audit.write_failed", json_pack("{s:s, s:s, s:I}",
			    "action", AUDIT_TOKEN_REFUSED, "request_id", x->req.request_id,
			    "failed_rows", (json_int_t)unlogged));
			last_log_ns = now;
			unlogged = 0;
		}
	}
	http_exchange_resume(x);
}

/* The audit row of a refusal into *ev (detail: its buffer): the claimed
 * client id (it may not exist), the error code and its description (never
 * the secret). A known client's refusals belong to its tenant's trail. On
 * a loop that must not wait, the entry the loop found (must_offload) is the
 * one to ask: the cache may have been emptied since. */
static void
refusal_event(struct gh_ctx *ctx, struct http_exchange *x, const struct token_request *r,
    const struct oauth_error *e, const struct client_entry *known,
    struct audit_event *ev, char detail[320])
{
	struct client_entry *ce = NULL;

	snprintf(detail, 320, "%s: %s", oauth_code_names[e->code], e->description);
	if (x->resp.log_tenant[0] == '\0' && known != NULL)
		str_copy(x->resp.log_tenant, sizeof(x->resp.log_tenant), known->c.tenant_id);
	else if (x->resp.log_tenant[0] == '\0' && r->client_id != NULL && r->client_id[0] != '\0' &&
	    ctx_may_wait(ctx, x) &&
	    client_cache_get(ctx->clients, r->client_id, &ce) == STORE_OK)
		str_copy(x->resp.log_tenant, sizeof(x->resp.log_tenant), ce->c.tenant_id);
	client_entry_release(ce);
	memset(ev, 0, sizeof(*ev));
	ev->request_id = x->req.request_id;
	ev->actor = r->client_id;
	ev->tenant = x->resp.log_tenant;
	ev->address = r->peer_ip;
	ev->action = AUDIT_TOKEN_REFUSED;
	ev->target = r->client_id;
	ev->outcome = "refused";
	ev->detail = detail;
}

/* Answers e with its audit row: once the row is durable (HTTP_DEFERRED),
 * or at once when the trail is off. */
static enum http_result
refuse(struct gh_ctx *ctx, struct http_exchange *x, const struct token_request *r,
    const struct oauth_error *e, const struct client_entry *known)
{
	struct audit_event ev;
	char detail[320];

	dialect_respond_error(&x->resp, e);
	refusal_event(ctx, x, r, e, known, &ev, detail);
	return audit_emit_async(ctx, &ev, refusal_done, x) == 0 ? HTTP_DEFERRED : HTTP_DONE;
}

/* The audit row of an issued token, queued before the token's record so
 * that it is durable no later than the answer. 0 or -1. */
static int
audit_issued(struct gh_ctx *ctx, struct http_exchange *x, const struct token_request *r,
    const struct issued_token *t)
{
	struct audit_event ev;
	char detail[320];

	snprintf(detail, sizeof(detail), "{\"jti\":\"%s\",\"exp\":%lld}", t->record_id,
	    (long long)t->exp);
	memset(&ev, 0, sizeof(ev));
	ev.request_id = x->req.request_id;
	ev.actor = t->client_id;
	ev.tenant = t->tenant_id;
	ev.address = r->peer_ip;
	ev.action = AUDIT_TOKEN_ISSUED;
	ev.target = t->name;
	ev.outcome = "ok";
	ev.detail = detail;
	return audit_emit(ctx, &ev);
}

static void
count_issued(const struct issued_token *t)
{
	const char *labels[2] = { t->tenant_id, t->alg };
	metrics_add("gatehouse_tokens_issued_total", 1, labels);
}

/* 1 when r needs the store before it can go on: a change must be loaded
 * first (ctx_refresh_every loads it where may_wait), or, where it may not
 * wait (an HTTP loop in front of a shared store, whose read could hold the
 * loop's other connections for a round trip or the store's
 * query_timeout_ms, offload.h), its client is not in memory. Else 0, with
 * *known, on a loop, the client's entry as the loop found it, for refuse()
 * (NULL: none, or remembered as unknown). */
static int
must_offload(struct gh_ctx *ctx, int may_wait, const struct token_request *r,
    struct client_entry **known)
{
	int rc;

	if (ctx_refresh_every(ctx, ctx->cfg->gate_refresh_ms, may_wait, CTX_NEEDS_LOCKS))
		return 1;
	return !may_wait && r->client_id != NULL && r->client_id[0] != '\0' &&
	    !client_cache_peek(ctx->clients, r->client_id, known, &rc);
}

/* Hands x to an offload thread, which runs the route again there (parsing
 * is cheap and changed nothing). A full queue, or a turn on the pool that
 * came too late (offload_is_late), is answered 503 at once: its audit row
 * is queued, not waited for, as the store is what is slow. */
static enum http_result
offload(struct gh_ctx *ctx, struct http_exchange *x, const struct token_request *r,
    const struct client_entry *known)
{
	struct oauth_error e;
	struct audit_event ev;
	char detail[320];

	if (!offload_is_late(x) && offload_exchange(ctx->offload, x, token_route_handle) == 0)
		return HTTP_DEFERRED;
	oauth_fail(&e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "the store is busy; try again");
	e.retry_after = 1;
	dialect_respond_error(&x->resp, &e);
	refusal_event(ctx, x, r, &e, known, &ev, detail);
	(void)audit_emit(ctx, &ev);	/* a failure is logged there */
	return HTTP_DONE;
}

enum http_result
token_route_handle(struct http_exchange *x)
{
	const struct token_route *tr = x->route_ctx;
	struct gh_ctx *ctx = tr->ctx;
	struct token_request r;
	struct issued_token t;
	struct oauth_error e;
	struct client_entry *known = NULL;
	enum http_result res;
	int https = 0, rec_rc, parsed, rc, may_wait = ctx_may_wait(ctx, x);

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	if (ctx_client_address(ctx, &x->req, r.peer_ip, &https) == -1) {
		oauth_fail(&e, 400, OAUTH_INVALID_REQUEST, CTX_UNKNOWN_CALLER);
		goto fail;
	}
	if (ctx->require_https && !https) {
		oauth_fail(&e, 400, OAUTH_INVALID_REQUEST,
		    "token requests must use HTTPS (RFC 6749 §3.2)");
		goto fail;
	}
	parsed = dialect_parse(tr->dialect, &x->req, &r, &e);
	if (offload_is_late(x) || must_offload(ctx, may_wait, &r, &known)) {
		res = offload(ctx, x, &r, known);
		goto out;
	}
	if (parsed == -1)
		goto fail;
	/* The caller's claim, cut at 64 bytes, maybe inside a character:
	 * scrubbed where it is logged (below; the request log's in
	 * http/server.c), or jansson would not pack it, and the line would
	 * lose every field, the peer too. */
	snprintf(x->resp.log_client, sizeof(x->resp.log_client), "%.64s", r.client_id);
	r.no_store_wait = !may_wait;
	/* Its record follows in a moment: the group commit waits for it. */
	store_expect_records(ctx->store, 1);
	if ((rc = oauth_issue(ctx, &r, &t, &e)) != 0) {
		store_expect_records(ctx->store, -1);
		if (rc == 1) {	/* its login must read or write the store */
			res = offload(ctx, x, &r, known);
			goto out;
		}
		if (e.code == OAUTH_INVALID_CLIENT) {
			str_scrub_utf8(x->resp.log_client);
			log_event(LOG_WARN, "auth.client_failed", json_pack("{s:s, s:s, s:s}",
			    "client", x->resp.log_client, "peer", r.peer_ip,
			    "request_id", x->req.request_id));
		}
		goto fail;
	}
	str_copy(x->resp.log_tenant, sizeof(x->resp.log_tenant), t.tenant_id);
	dialect_respond(tr->dialect, &x->resp, &t);
	/* In seconds, as /metrics counts it: a whole number of days fell
	 * short of a secret_rotation_age that is not (36h: due at 48h). */
	if (t.secret_age >= ctx->cfg->secret_rotation_age) {
		/* The client learns its secret is due, where it cannot miss it. */
		char v[64];
		snprintf(v, sizeof(v), "due; age-days=%lld", (long long)(t.secret_age / 86400));
		http_response_header(&x->resp, "X-Gatehouse-Secret-Rotation", v);
	}
	rec_rc = audit_issued(ctx, x, &r, &t) == -1 ? -1 : oauth_record(ctx, &t, record_done, x);
	store_expect_records(ctx->store, -1);
	if (rec_rc == -1) {
		http_response_reset(&x->resp);
		oauth_fail(&e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "the store is busy; try again");
		e.retry_after = 1;
		goto fail;
	}
	count_issued(&t);
	res = HTTP_DEFERRED;	/* answered once the record is durable */
	goto out;
fail:
	res = refuse(ctx, x, &r, &e, known);
out:
	/* Locals only: once handed over, x is the pool's or the writer's. */
	client_entry_release(known);
	token_request_clear(&r);
	issued_token_clear(&t);
	return res;
}
