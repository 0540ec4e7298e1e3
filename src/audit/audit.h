/*
 * audit.h — the tamper-evident audit trail (issue 6): who did what, to what,
 * from where, with what outcome. Never a secret: callers pass ids, names and
 * reasons, never a client secret, token, key or Authorization header.
 *
 * Rows are appended by the store's group-commit writer, in the same
 * transaction as the token records queued around them, so the trail costs
 * the token endpoint no extra fsync. Each row is chained to the one before
 * it by an HMAC under the audit key, derived from the master key (store.h,
 * store_audit_*): without the master key, nobody can rewrite the trail
 * undetected; with it, anyone can. `gatehouse audit verify` checks the
 * chain with the master key. The config key `audit` (on|off) turns the
 * trail off for benchmarks and for stores that cannot hold it; then every
 * call here does nothing.
 *
 * Field conventions (all strings may be NULL, stored as ""):
 *   request_id  the caller's X-Request-ID (or the generated one)
 *   actor       who acted: a client id, "cli:<user>", or "" when unknown
 *   tenant      the tenant the action concerns
 *   address     the caller's source address (ctx_client_address), "" for CLI
 *   action      dotted lower-case verb, e.g. AUDIT_TOKEN_ISSUED, "client.create"
 *   target      what it was done to: a client id, token name, kid, approval id
 *   outcome     "ok", "refused", "pending", "error"
 *   detail      a short reason or a JSON object's text; no secrets
 * Strings longer than AUDIT_FIELD_MAX bytes are cut (at a UTF-8 boundary).
 */
#ifndef GH_AUDIT_H
#define GH_AUDIT_H

#include <stdint.h>

#include "store/store.h"	/* store_done_fn */

struct gh_ctx;
struct store;
struct config;

#define AUDIT_FIELD_MAX	1024

/* Actions whose rows the retention setting (audit_retention) may prune;
 * every other action is kept for good. */
#define AUDIT_TOKEN_ISSUED	"token.issued"
#define AUDIT_TOKEN_REFUSED	"token.refused"

struct audit_event {
	const char	*request_id;
	const char	*actor;
	const char	*tenant;
	const char	*address;
	const char	*action;	/* required */
	const char	*target;
	const char	*outcome;	/* required */
	const char	*detail;
};

/* Queues the event; it is written with the next group-commit batch. Never
 * blocks on the disk. 0 (queued, or the trail is off), or -1 when it could
 * not be queued (queue full, store closing; logged here with the reason). */
int	audit_emit(struct gh_ctx *, const struct audit_event *);

/*
 * The token endpoint's variant: like audit_emit, and done(arg, err) is
 * called from the writer thread once the row's batch is durable (err as
 * store_token_record). Returns 0 when queued (done WILL be called), 1 when
 * the trail is off (done is NOT called: answer now), -1 when it could not be
 * queued (done is NOT called).
 * An event queued before a store_token_record() of the same thread is
 * durable no later than that token record.
 */
int	audit_emit_async(struct gh_ctx *, const struct audit_event *,
	    store_done_fn done, void *arg);

/* For processes without a gh_ctx (the CLI): writes the event and waits until
 * it is durable. cfg decides whether the trail is on. 0, or -1 when it could
 * not be written (logged). */
int	audit_write(struct store *, const struct config *, const struct audit_event *);

/*
 * The success row of a change about to be made, staged (store.h
 * store_audit_stage): the change's own transaction appends it, so that a
 * crash leaves both or neither. After the change, store_audit_unstage(st)
 * says whether it was committed (1); when not (the change failed, or
 * wrote nothing), write the row that applies with audit_write. 0 (staged),
 * 1 when the trail is off (nothing staged), -1 when it could not be
 * staged (logged).
 */
int	audit_stage(struct store *, const struct config *, const struct audit_event *);

/* How a row's link was made, as `audit list` and the admin API show it:
 * "v2" (keyed, STORE_AUDIT_CHAIN_V2), "v1" (unkeyed, from before the chain
 * was keyed), or "unknown" (verify says why). */
const char *audit_chain_name(int chain);

/* Milliseconds since the epoch (with the test clock offset of clock_now). */
int64_t	audit_now_ms(void);

/*
 * The audit key: HKDF-SHA-256 of the master key with an info label of its
 * own (never the master key itself, never another key's label). Lives in
 * memory only; never logged.
 *   audit_key_derive  into out (the caller wipes it). 0 or -1.
 *   audit_key_use     for every process that writes the trail: derives
 *                     the key and sets it on st (store.h
 *                     store_audit_set_key, which writes the key record on
 *                     first use; *keyed_after, when not NULL, as there:
 *                     > 0 when this call keyed a trail of unkeyed rows,
 *                     which the caller reports). 0, or -1 with a one-line
 *                     reason in err (a master key that does not match the
 *                     trail's says so).
 *   audit_key_new     the key as audit_verify takes it; NULL on failure;
 *                     store_audit_key_free() it.
 */
#define AUDIT_KEY_INFO	"gatehouse audit chain v2"
int	audit_key_derive(const uint8_t master[32], uint8_t out[32]);
int	audit_key_use(struct store *, const uint8_t master[32], int64_t *keyed_after,
	    char *err, size_t errlen);
struct store_audit_key *audit_key_new(const uint8_t master[32]);

/*
 * Checks the whole chain under the audit key k (store.h describes the key
 * record and the checkpoint rule). Returns 0 when the check ran — r->ok
 * tells the verdict; when not ok, r->first_bad is the first broken seq (0
 * when the fault is not a row's: the key, the key record) and r->why says
 * how — or -1 when the store could not be read (store_last_error()).
 * r->key_mismatch: k is not the key the trail was written with (a wrong
 * master key), told apart from tampering by the key record's check value.
 */
struct audit_verify_result {
	int	 ok;
	int	 key_mismatch;
	int64_t	 rows;		/* rows read */
	int64_t	 first_bad;	/* seq, when !ok; 0: not a row's fault */
	char	 why[256];
	int64_t	 head_seq;	/* the last row: record its hash elsewhere */
	char	 head_hash[65];	/* hex; "" when the trail is empty */
	int64_t	 checkpoint;	/* through seq of the newest checkpoint; 0 */
};
int	audit_verify(struct store *, const struct store_audit_key *k,
	    struct audit_verify_result *r);

/* The retention prune at the configured audit_retention (store.h
 * store_audit_prune). 0 (and *pruned) or -1; a no-op when retention is 0
 * or the trail is off. */
int	audit_prune(struct store *, const struct config *, int64_t *pruned);

#endif
