/* token_route.c — see token_route.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "obs/log.h"
#include "obs/metrics.h"
#include "oauth/issue.h"
#include "oauth/token_route.h"
#include "server/context.h"

/* Drops a prepared answer so an error can replace it. */
static void
reset_response(struct http_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	for (size_t i = 0; i < resp->nheaders; i++)
		free(resp->headers[i].value);
	resp->nheaders = 0;
}

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
		reset_response(&x->resp);
		dialect_respond_error(&x->resp, &e);
	}
	http_exchange_resume(x);
}

static void
count_issued(const struct issued_token *t)
{
	const char *labels[2] = { t->tenant_id, t->alg };
	metrics_add("gatehouse_tokens_issued_total", 1, labels);
}

enum http_result
token_route_handle(struct http_exchange *x)
{
	const struct token_route *tr = x->route_ctx;
	struct gh_ctx *ctx = tr->ctx;
	struct token_request r;
	struct issued_token t;
	struct oauth_error e;
	int https = 0;

	memset(&r, 0, sizeof(r));
	memset(&t, 0, sizeof(t));
	ctx_client_address(ctx, &x->req, r.peer_ip, &https);
	if (ctx->require_https && !https) {
		oauth_fail(&e, 400, OAUTH_INVALID_REQUEST,
		    "token requests must use HTTPS (RFC 6749 §3.2)");
		goto fail;
	}
	if (dialect_parse(tr->dialect, &x->req, &r, &e) == -1)
		goto fail;
	snprintf(x->resp.log_client, sizeof(x->resp.log_client), "%.64s", r.client_id);
	ctx_refresh_every(ctx, ctx->cfg->gate_refresh_ms);
	if (oauth_issue(ctx, &r, &t, &e) == -1) {
		if (e.code == OAUTH_INVALID_CLIENT)
			log_event(LOG_WARN, "auth.client_failed", json_pack("{s:s, s:s, s:s}",
			    "client", x->resp.log_client, "peer", r.peer_ip,
			    "request_id", x->req.request_id));
		goto fail;
	}
	snprintf(x->resp.log_tenant, sizeof(x->resp.log_tenant), "%s", t.tenant_id);
	dialect_respond(tr->dialect, &x->resp, &t);
	if (t.secret_age_days * 86400 >= ctx->cfg->secret_rotation_age) {
		/* The client learns its secret is due, where it cannot miss it. */
		char v[64];
		snprintf(v, sizeof(v), "due; age-days=%lld", (long long)t.secret_age_days);
		http_response_header(&x->resp, "X-Gatehouse-Secret-Rotation", v);
	}
	if (oauth_record(ctx, &t, record_done, x) == -1) {
		reset_response(&x->resp);
		oauth_fail(&e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "the store is busy; try again");
		e.retry_after = 1;
		goto fail;
	}
	count_issued(&t);
	token_request_clear(&r);
	issued_token_clear(&t);
	return HTTP_DEFERRED;
fail:
	dialect_respond_error(&x->resp, &e);
	token_request_clear(&r);
	issued_token_clear(&t);
	return HTTP_DONE;
}
