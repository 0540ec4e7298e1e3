/*
 * events.h — what the approvals engine reports of each filing, decision,
 * application and use: a JSON log line (obs/log.h) and an audit event
 * (audit/audit.h). Never payloads or results: they may hold an admin
 * operation's arguments.
 */
#ifndef GH_APPROVALS_EVENTS_H
#define GH_APPROVALS_EVENTS_H

#include "approvals/approvals.h"

/* actor: who acted (NULL: unknown). outcome: "ok", "refused", "pending",
 * "error" (audit.h conventions). */
void	approvals_event(struct gh_ctx *, const char *action,
	    const struct approval_actor *actor, const struct store_approval *,
	    const char *outcome);

/*
 * The same event with its row committed in the transaction of the state
 * change it reports (filed, decided, used, its outcome recorded), so that
 * a crash leaves both or neither (store.h store_audit_stage):
 * approvals_event_stage before that one store write, 1 when the row is
 * staged; approvals_event_staged after it, which ends the staging. done:
 * whether the write succeeded; then the event is logged, and its row,
 * when the write did not take it (the trail off, staging failed), queued
 * as approvals_event does. When not done the staged row is dropped and
 * the caller reports what happened instead.
 */
int	approvals_event_stage(struct gh_ctx *, const char *action,
	    const struct approval_actor *actor, const struct store_approval *,
	    const char *outcome);
void	approvals_event_staged(struct gh_ctx *, int staged, int done, const char *action,
	    const struct approval_actor *actor, const struct store_approval *,
	    const char *outcome);

/* The application of a by approval recovery (approvals_recover): the
 * server acts, actor "gatehouse" as for its other own work (locks, key
 * rotations), and the detail, a JSON object, names the kind, the checker
 * who decided it and the node (host and process) that finished it. */
void	approvals_event_recovered(struct gh_ctx *, const struct store_approval *,
	    const char *outcome);

#endif
