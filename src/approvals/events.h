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

/* The application of a by approval recovery (approvals_recover): the
 * server acts, actor "gatehouse" as for its other own work (locks, key
 * rotations), and the detail, a JSON object, names the kind, the checker
 * who decided it and the node (host and process) that finished it. */
void	approvals_event_recovered(struct gh_ctx *, const struct store_approval *,
	    const char *outcome);

#endif
