/* cli_audit.h — recording the CLI's own admin actions in the audit trail. */
#ifndef GH_CLI_AUDIT_H
#define GH_CLI_AUDIT_H

#include "cli/common.h"

/*
 * Records one admin action done by this command on st (still open):
 * actor "cli:<user>", outcome "ok" when err is NULL, else "error" with err
 * as the detail (err never holds a secret). Reads --config for `audit`.
 * Waits until the row is durable; a failure to record is reported on
 * stderr and returned (-1) but does not undo the action.
 */
int	cli_audit(const struct cli_args *a, struct store *st, const char *action,
	    const char *tenant, const char *target, const char *err);
/* Tells the operator on stderr that this command keyed a trail of unkeyed
 * rows up to seq unkeyed_through (audit.h audit_key_use): expected once. */
void	cli_audit_keyed(int64_t unkeyed_through);

#endif
