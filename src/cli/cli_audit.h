/* cli_audit.h — recording the CLI's own admin actions in the audit trail. */
#ifndef GH_CLI_AUDIT_H
#define GH_CLI_AUDIT_H

#include "cli/common.h"

/*
 * Opens the store (cli_open_store) for a command that changes it and
 * records what it did (action, as cli_audit takes it): when the trail is
 * on, the master key is loaded and matched to the trail's key first, so a
 * missing or wrong key refuses the command before anything changes. 0, or
 * -1 after printing why (*out is then NULL).
 */
int	cli_open_store_audited(const struct cli_args *a, struct store **out,
	    const char *action);
/*
 * Stages the success row of the change this command is about to make on
 * st (audit.h audit_stage; fields as cli_audit's with outcome "ok"): the
 * change's own transaction writes it, so that a crash cannot leave the
 * change without its row. Call it just before the change, and cli_audit
 * after it, always. 0 (staged, or the trail is off), or -1 after printing
 * that nothing was done (the caller then makes no change).
 */
int	cli_audit_stage(const struct cli_args *a, struct store *st, const char *action,
	    const char *tenant, const char *target);
/*
 * Records one admin action done by this command on st (still open): when
 * cli_audit_stage staged its row and the change committed it, nothing
 * more (0). Else:
 * actor "cli:<user>", outcome "ok" when err is NULL, else "error" with err
 * as the detail (err never holds a secret). Reads --config for `audit`.
 * Waits until the row is durable; a failure to record is reported on
 * stderr and returned (-1) but does not undo the action (open the store
 * with cli_open_store_audited, so that a trail that cannot take the row
 * refuses the command first).
 */
int	cli_audit(const struct cli_args *a, struct store *st, const char *action,
	    const char *tenant, const char *target, const char *err);
/* Tells the operator on stderr that this command keyed a trail of unkeyed
 * rows up to seq unkeyed_through (audit.h audit_key_use): expected once. */
void	cli_audit_keyed(int64_t unkeyed_through);

#endif
