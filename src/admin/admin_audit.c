/*
 * admin_audit.c — GET /admin/v1/audit: the audit trail (audit/audit.h) of
 * the caller's tenant, newest first, filtered by the query: client (actor
 * or target), action, since/until (Unix seconds), before (a seq, for
 * paging), limit (1..1000, default 100); tenant= for platform principals.
 * Also the dispatcher's record of each admin action (admin_audit_call).
 */
#include <stdio.h>
#include <string.h>

#include "admin/internal.h"
#include "audit/audit.h"
#include "obs/log.h"
#include "http/params.h"
#include "util/util.h"

/* The row of the call as answered with status (ev's strings point into
 * target and detail, and into c). */
static void
call_event(const struct admin_call *c, const char *action, int status, struct audit_event *ev,
    char target[400], char detail[64])
{
	target[0] = '\0';
	if (c->target[0] != '\0')
		snprintf(target, 400, "%s", c->target);
	for (size_t i = 0; c->target[0] == '\0' && i < ADMIN_MAX_ARGS && c->arg[i][0] != '\0'; i++)
		snprintf(target + strlen(target), 400 - strlen(target), "%s%s",
		    i ? "/" : "", c->arg[i]);
	/* A retry answered from its X-Request-ID's record did nothing: its row
	 * says so, or the trail would show a change made twice. */
	snprintf(detail, 64, "{\"status\":%d%s}", status,
	    c->idem_answered ? ",\"idempotent_replay\":true" : "");
	memset(ev, 0, sizeof(*ev));
	ev->request_id = c->x->req.request_id;
	ev->actor = c->p != NULL ? c->p->client_id : "";
	ev->tenant = c->tenant[0] != '\0' ? c->tenant : c->p != NULL ? c->p->tenant_id : "";
	ev->address = c->addr;
	ev->action = action;
	ev->target = target;
	ev->outcome = status == 202 ? "pending" : status < 400 ? "ok" : status < 500 ? "refused" :
	    "error";
	ev->detail = detail;
}

/* The status a write answers when it succeeds: 201 for the ones that make
 * something (tests/integration/test_admin_api.py checks each), else 200. */
static int
success_status(const char *action)
{
	static const char *const made[] = { "admin.client.create", "admin.tenant.create",
	    "admin.secret.rotate", "admin.key.rotate" };

	for (size_t i = 0; i < GH_ARRAY_LEN(made); i++)
		if (strcmp(action, made[i]) == 0)
			return 201;
	return 200;
}

void
admin_audit_stage(struct admin_call *c, const char *action)
{
	struct audit_event ev;
	char target[400], detail[64];

	c->audit_staged = c->audit_committed = 0;
	c->audit_status = success_status(action);
	call_event(c, action, c->audit_status, &ev, target, detail);
	/* 1 (the trail is off) or -1 (logged): the row is written after the
	 * change, as it was before staging. */
	c->audit_staged = audit_stage(c->ctx->store, c->ctx->cfg, &ev) == 0;
	c->audit_action = action;
}

void
admin_audit_restage(struct admin_call *c)
{
	struct audit_event ev;
	const char *action;
	char target[400], detail[64];

	if (!c->audit_staged || (action = c->audit_action) == NULL)
		return;
	(void)store_audit_unstage(c->ctx->store);
	call_event(c, action, c->audit_status, &ev, target, detail);
	c->audit_staged = audit_stage(c->ctx->store, c->ctx->cfg, &ev) == 0;
}

void
admin_audit_unstage(struct admin_call *c)
{
	if (!c->audit_staged)
		return;
	c->audit_staged = 0;
	c->audit_committed = store_audit_unstage(c->ctx->store);
}

void
admin_audit_call(struct admin_call *c, const char *action)
{
	struct audit_event ev;
	const struct http_response *r = &c->x->resp;
	char target[400], detail[64];

	admin_audit_unstage(c);
	/* The change committed its row, and the answer is the one it says. */
	if (c->audit_committed && r->status == c->audit_status && !c->idem_answered)
		return;
	call_event(c, action, r->status, &ev, target, detail);
	/* A change is answered once its row is durable, as the change itself
	 * is: a crash must not leave a change the trail does not show. A
	 * refusal's row, or a replay's, is queued (it changed nothing). */
	if (c->x->req.method == HTTP_GET || r->status >= 400 || c->idem_answered) {
		(void)audit_emit(c->ctx, &ev);	/* logs its own failure */
		return;
	}
	test_fault_point("admin-before-audit");
	if (audit_write(c->ctx->store, c->ctx->cfg, &ev) == -1)
		log_event(LOG_ERROR, "audit.write_failed", json_pack("{s:s, s:s, s:s}",
		    "action", action, "request_id", c->x->req.request_id,
		    "note", "the change is made; its audit row is not"));
}

/* The query's filter into f (strings pointing into q, whose unknown
 * parameters admin_query has refused): numbers in range, and a tenant the
 * caller may see (a tenant's principals see their own only). -1 after
 * answering 400 or 404. */
static int
audit_filter(struct admin_call *c, const struct http_params *q, struct store_audit_filter *f)
{
	int64_t since = 0, until = 0, before = 0, limit = 100;

	if (admin_query_i64(c, q, "since", 1, INT64_MAX / 1000, &since) == -1 ||
	    admin_query_i64(c, q, "until", 1, INT64_MAX / 1000, &until) == -1 ||
	    admin_query_i64(c, q, "before", 1, INT64_MAX, &before) == -1 ||
	    admin_query_i64(c, q, "limit", 1, 1000, &limit) == -1)
		return -1;
	memset(f, 0, sizeof(*f));
	f->tenant = http_params_get(q, "tenant");
	if (f->tenant != NULL && !admin_tenant_visible(c, f->tenant)) {
		admin_error(c, 404, "not_found", "tenant %.64s does not exist", f->tenant);
		return -1;
	}
	/* A tenant's principals read their own tenant's trail only. */
	if (!c->platform)
		f->tenant = c->p->tenant_id;
	f->client = http_params_get(q, "client");
	f->action = http_params_get(q, "action");
	f->since = since * 1000;
	f->until = until * 1000;
	f->before_seq = before;
	f->limit = (size_t)limit;
	return 0;
}

/* The rows as the answer's events. */
static json_t *
audit_events(const struct store_audit *rows, size_t n)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < n; i++) {
		char at[21];
		time_iso8601(rows[i].at / 1000, at);
		json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
		    " s:s, s:s}",
		    "seq", (json_int_t)rows[i].seq, "at", at, "at_ms", (json_int_t)rows[i].at,
		    "request_id", rows[i].request_id, "actor", rows[i].actor, "tenant", rows[i].tenant,
		    "address", rows[i].address, "action", rows[i].action, "target", rows[i].target,
		    "outcome", rows[i].outcome, "detail", rows[i].detail,
		    "chain", audit_chain_name(rows[i].chain)));
	}
	return arr;
}

static void
audit_list(struct admin_call *c)
{
	static const char *const known[] = { "tenant", "client", "action", "since", "until",
	    "before", "limit", NULL };
	struct http_params q;
	struct store_audit_filter f;
	struct store_audit *rows = NULL;
	size_t n = 0;

	if (admin_query(c, &q, known) == -1)
		return;
	if (audit_filter(c, &q, &f) == -1)
		goto out;
	if (!store_audit_supported(c->ctx->store)) {
		admin_error(c, 501, "not_implemented", "this store backend keeps no audit trail");
		goto out;
	}
	if (store_audit_list(c->ctx->store, &f, &rows, &n) != STORE_OK) {
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
		goto out;
	}
	admin_answer(c, 200, json_pack("{s:o}", "events", audit_events(rows, n)));
	store_audit_free(rows, n);
out:
	http_params_clear(&q);
}

/* The whole chain is every tenant's: the platform's to check. */
static void
audit_verify_call(struct admin_call *c)
{
	struct audit_verify_result r;

	if (admin_require_platform(c, "the audit chain") == -1)
		return;
	if (c->x->req.query[0] != '\0') {
		admin_error(c, 400, "invalid_request", "audit/verify takes no query parameters");
		return;
	}
	if (!store_audit_supported(c->ctx->store)) {
		admin_error(c, 501, "not_implemented", "this store backend keeps no audit trail");
		return;
	}
	memset(&r, 0, sizeof(r));
	/* The key this server links rows with (set at start, cli_serve.c). */
	if (audit_verify(c->ctx->store, store_audit_get_key(c->ctx->store), &r) == -1) {
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
		return;
	}
	admin_answer(c, 200, json_pack("{s:b, s:I, s:o, s:s, s:I, s:s, s:I}", "ok", r.ok,
	    "rows", (json_int_t)r.rows, "first_bad", r.ok ? json_null() : json_integer(r.first_bad),
	    "why", r.ok ? "" : r.why, "head_seq", (json_int_t)r.head_seq, "head_hash", r.head_hash,
	    "checkpoint", (json_int_t)r.checkpoint));
}

const struct admin_op admin_audit_ops[] = {
	{ HTTP_GET, "audit", ADMIN_VIEWER, audit_list, "admin.audit.list" },
	{ HTTP_GET, "audit/verify", ADMIN_VIEWER, audit_verify_call, "admin.audit.verify" },
};
const size_t admin_naudit_ops = GH_ARRAY_LEN(admin_audit_ops);
