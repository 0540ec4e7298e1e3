/* events.c — see events.h and approvals.h (approvals_origin). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

#include "approvals/events.h"
#include "audit/audit.h"
#include "obs/log.h"
#include "server/context.h"

/* The request being served by this thread (HTTP handlers and the gate set
 * it; the CLI leaves it empty). */
static _Thread_local char origin_request_id[129];
static _Thread_local char origin_address[46];

void
approvals_origin(const char *request_id, const char *address)
{
	snprintf(origin_request_id, sizeof(origin_request_id), "%s",
	    request_id != NULL ? request_id : "");
	snprintf(origin_address, sizeof(origin_address), "%s", address != NULL ? address : "");
}

static struct audit_event
event_of(const char *action, const struct approval_actor *actor, const struct store_approval *a,
    const char *outcome)
{
	struct audit_event ev = {
		.request_id = origin_request_id,
		.actor = actor != NULL ? actor->client_id : "",
		.tenant = a->tenant_id,
		.address = origin_address,
		.action = action,
		.target = a->id,
		.outcome = outcome,
		.detail = a->kind,
	};

	return ev;
}

static void
event_log(const char *action, const struct approval_actor *actor, const struct store_approval *a,
    const char *outcome)
{
	log_event(LOG_INFO, action, json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s?, s:s, s:s}",
	    "approval", a->id, "tenant", a->tenant_id, "kind", a->kind, "maker", a->maker,
	    "actor", actor != NULL ? actor->client_id : NULL,
	    "actor_tenant", actor != NULL ? actor->tenant_id : NULL, "outcome", outcome,
	    "request_id", origin_request_id));
}

void
approvals_event(struct gh_ctx *ctx, const char *action, const struct approval_actor *actor,
    const struct store_approval *a, const char *outcome)
{
	struct audit_event ev = event_of(action, actor, a, outcome);

	event_log(action, actor, a, outcome);
	/* Queued with the writer's next batch (the CLI's store_close flushes
	 * it); a failure to queue is logged by audit_emit. */
	(void)audit_emit(ctx, &ev);
}

int
approvals_event_stage(struct gh_ctx *ctx, const char *action, const struct approval_actor *actor,
    const struct store_approval *a, const char *outcome)
{
	struct audit_event ev = event_of(action, actor, a, outcome);

	return audit_stage(ctx->store, ctx->cfg, &ev) == 0;
}

void
approvals_event_staged(struct gh_ctx *ctx, int staged, int done, const char *action,
    const struct approval_actor *actor, const struct store_approval *a, const char *outcome)
{
	int committed = staged && store_audit_unstage(ctx->store);

	if (!done)
		return;
	if (committed)
		event_log(action, actor, a, outcome);
	else
		approvals_event(ctx, action, actor, a, outcome);
}

void
approvals_event_recovered(struct gh_ctx *ctx, const struct store_approval *a,
    const char *outcome)
{
	struct audit_event ev = {
		.request_id = "",
		.actor = "gatehouse",
		.tenant = a->tenant_id,
		.address = "",
		.action = "approval.apply",
		.target = a->id,
		.outcome = outcome,
	};
	char host[256] = "", node[300];
	char *detail = NULL;
	json_t *d;

	/* gethostname may leave a truncated name unterminated. */
	if (gethostname(host, sizeof(host) - 1) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	snprintf(node, sizeof(node), "%s:%ld", host[0] != '\0' ? host : "?", (long)getpid());
	d = json_pack("{s:s, s:s, s:b, s:s}", "kind", a->kind, "checker", a->checker,
	    "recovered", 1, "node", node);
	if (d != NULL)
		detail = json_dumps(d, JSON_COMPACT);
	json_decref(d);
	ev.detail = detail != NULL ? detail : a->kind;
	log_event(LOG_INFO, "approval.apply", json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "approval", a->id, "tenant", a->tenant_id, "kind", a->kind, "maker", a->maker,
	    "actor", "gatehouse", "checker", a->checker, "node", node, "outcome", outcome));
	(void)audit_emit(ctx, &ev);
	free(detail);
}
