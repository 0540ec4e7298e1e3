/*
 * store_backend.h — private to src/store/: the operations every backend
 * implements. store.c validates arguments, normalizes optional strings and
 * dispatches through a struct store_ops; writer.c runs the group commit
 * through ops->commit_tokens. Nothing outside src/store/ includes this.
 *
 * A backend handle (void *h) is what ops->open returned. Threading:
 *   - every op except commit_tokens may be called from many threads at once;
 *     the backend serializes what its connections need;
 *   - commit_tokens is only ever called from the one writer thread, so it may
 *     own a connection of its own without a lock;
 *   - close is called once, after the writer has stopped.
 *
 * Return values are enum store_err. On an error return the backend has set
 * the message with store_set_error() (one line, no secrets, no SQL values
 * other than identifiers the caller gave).
 *
 * Inputs the backend may rely on (store.c checks them): the store pointer
 * and out pointers are non-NULL; identifiers marked required in store.c are
 * non-NULL; optional text fields are "" (claims "{}") rather than NULL; enums
 * are in range. Out structs, *out and *n are zeroed before the call; on an
 * error return the backend leaves nothing allocated in them.
 */
#ifndef GH_STORE_BACKEND_H
#define GH_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_ops {
	const char *name;	/* store_backend(): "sqlite", "postgresql" */
	/* store.h store_engine: one line into buf[0..len), len > 0. NULL:
	 * the name alone. */
	void	(*engine)(void *h, char *buf, size_t len);

	/* target: the path for sqlite ("sqlite:" removed), the whole URL for
	 * postgresql. Applies migrations; refuses a newer schema. On failure
	 * returns non-zero with a one-line reason in err and *h untouched. */
	int	(*open)(const char *target, void **h, char *err, size_t errlen);
	void	(*close)(void *h);
	int	(*schema_version)(void *h, int *current, int *latest);
	int	(*write_probe)(void *h, int64_t now);
	/* Must be cheap (every request): cache, and re-read only when another
	 * connection or process may have committed. */
	int	(*generation)(void *h, struct store_gen *out);
	/* Each kind's row in the meta table: "generation", "lock_generation",
	 * "revocation_generation" (store_gen_keys). A transaction's bump is a
	 * set of STORE_GEN_BIT(kind) (store.h), 0 for none. */
	/* The cache alone, never a round trip (store_generation_cached);
	 * NULL where generation's reads are local. */
	int	(*generation_cached)(void *h, struct store_gen *out);

	/* Every mutating op below increments the generation in the same
	 * transaction as its change. Unique violation: STORE_CONFLICT; a
	 * missing referenced row (tenant, client): STORE_NOTFOUND with
	 * "tenant X does not exist" / "client X does not exist". */
	int	(*tenant_create)(void *h, const struct store_tenant *);
	int	(*tenant_get)(void *h, const char *id, struct store_tenant *out);
	/* The list ops are the pages of store.h (STORE_LIST_PAGE_MAX), in
	 * one statement each: at most limit rows after the cursor, which
	 * store.c has made a place before every row for the first page
	 * (ids are never empty: "" is before them all); a whole list is one
	 * page of limit INT64_MAX. tenant_list: id > after_id (and id = only
	 * unless NULL), by id. */
	int	(*tenant_list)(void *h, const char *only, const char *after_id,
		    int64_t limit, struct store_tenant **out, size_t *n);

	/* first is NULL or has client_id == c->id; sets first->id. */
	int	(*client_create)(void *h, const struct store_client *c,
		    struct store_secret *first);
	int	(*client_get)(void *h, const char *id, struct store_client *out);
	/* (created_at, id) > (after_created, after_id), in that order. */
	int	(*client_list)(void *h, const char *tenant_id /* NULL: all */,
		    int64_t after_created, const char *after_id, int64_t limit,
		    struct store_client **out, size_t *n);
	int	(*client_update)(void *h, const struct store_client *next,
		    const struct store_client *read);
	int	(*client_set_disabled)(void *h, const char *id, int disabled, int64_t at);
	int	(*client_void_tokens)(void *h, const char *id, int64_t after, int64_t at);
	/* NULL in a backend that lacks it: store.c answers STORE_ERROR. */
	int	(*client_delete)(void *h, const char *id);

	int	(*secret_list)(void *h, const char *client_id,
		    struct store_secret **out, size_t *n);
	/* void_after > 0: the client's tokens voided as client_void_tokens
	 * (void_after, at) does, in the same transaction. */
	int	(*secret_update)(void *h, const struct store_secret *, int64_t void_after,
		    int64_t at);
	int	(*secret_count_due)(void *h, int64_t made_by, int64_t now, int64_t *count);
	int	(*secret_rotate)(void *h, struct store_secret *, int64_t end_by,
		    size_t max_live, int64_t *prev_end);

	int	(*key_add)(void *h, const struct store_key *);
	int	(*key_list)(void *h, struct store_key **out, size_t *n);
	/* r[0..n) in one transaction (store.h store_key_rotate_envs). */
	int	(*key_rotate)(void *h, const struct store_key_rotation *r, size_t n,
		    int64_t now);
	int	(*key_revoke)(void *h, const char *kid, int64_t now);

	int	(*token_get)(void *h, const char *id, struct store_token *out);
	/* At most limit records after (after_issued, after_id) in
	 * (issued_at, id) order, in one statement through tokens_client;
	 * store.c has checked limit and made a NULL after_id the start. */
	int	(*token_list)(void *h, const char *client_id, int64_t after_issued,
		    const char *after_id, size_t limit, struct store_token **out, size_t *n);
	/* Tokens with revoked_at != 0 and expires_at > now, any order, at
	 * most limit. Runs on every generation change of every node: must
	 * use an index on revoked tokens, never scan the whole table. */
	int	(*token_list_revoked)(void *h, int64_t now, size_t limit,
		    struct store_token **out, size_t *n);
	/* Tokens with revoked_at != 0, revoked_gen > since and expires_at >
	 * now, any order, at most limit; through an index on revoked_gen,
	 * never reading the rows revoked before. */
	int	(*token_list_revoked_since)(void *h, uint64_t since, int64_t now,
		    size_t limit, struct store_token **out, size_t *n);
	/* Increment the generation only when a row changed; each row revoked
	 * gets the revocations' generation the transaction makes in
	 * revoked_gen (what token_list_revoked_since reads), with no other
	 * revocation committing in between. */
	int	(*token_revoke)(void *h, const char *id, int64_t at);
	int	(*token_revoke_by_name)(void *h, const char *client_id /* NULL */,
		    const char *name, int64_t at, int *count);
	/* Deletes at most limit records with expires_at < expired_before, in
	 * one transaction, through the tokens_expiry index (never a scan of
	 * the table); *pruned gets how many. No generation change: nothing a
	 * node caches holds an expired token. */
	int	(*token_prune)(void *h, int64_t expired_before, int64_t limit,
		    int64_t *pruned);
	/* Through the tokens_expiry index, from its end: the live records
	 * only, never the table. *latest 0 when there is none. */
	int	(*token_latest_expiry)(void *h, int env, int64_t now, int64_t *latest);

	/* Idempotency records (store.h store_idem_*); none bumps the
	 * generation. begin: insert RUNNING, or STORE_CONFLICT with the live
	 * record in *existing; an expired one, or a stale RUNNING one of the
	 * same fingerprint (store.h), is replaced in the same transaction.
	 * finish/release: STORE_NOTFOUND when no unfinished (release: no
	 * RUNNING) record begun at created_at.
	 * NULL in a backend that lacks them: store.c answers STORE_ERROR. */
	int	(*idem_begin)(void *h, const struct store_idem *rec, int64_t now,
		    int64_t stale_before, struct store_idem *existing);
	int	(*idem_finish)(void *h, const char *client_id, const char *key,
		    int64_t created_at, int status, const char *body);
	int	(*idem_release)(void *h, const char *client_id, const char *key,
		    int64_t created_at);

	/*
	 * Lockout locks (store.h store_lock_*), one row per (kind, address,
	 * client_id) — client_id "" for STORE_LOCK_ADDRESS; store.c has checked
	 * kind, a non-empty address of at most 45 bytes, a non-empty client_id
	 * of at most 128 bytes for a pair lock, and until > created_at.
	 * lock_put(lk[0..n), n >= 1), in ONE transaction: deletes every row
	 * with until <= the greatest lk[i].created_at (expired: keeps the
	 * table as small as the locks in force); for each lk[i] in order,
	 * inserts the row, or when the key exists sets created_at to the new
	 * one and until to the greater of the two (PostgreSQL: INSERT ... ON
	 * CONFLICT (kind, address, client_id) DO UPDATE SET created_at =
	 * EXCLUDED.created_at, until = GREATEST(locks.until, EXCLUDED.until),
	 * gen = EXCLUDED.gen), each row's gen the generation this transaction
	 * makes, also into *gen; increments the generation ONCE. Always
	 * STORE_OK on success (never CONFLICT); on any error nothing is
	 * written.
	 * lock_list: rows with until > now and (address, client_id, kind) >
	 * (after_address, after_client_id, after_kind), ordered by address,
	 * client_id, kind, at most limit; tenant_id not NULL: only kind PAIR
	 * rows whose client_id is a client of that tenant; *out as
	 * store_lock_free() frees (strings malloc'd).
	 * lock_clear, in ONE transaction: deletes the rows matching the
	 * filters — address NULL: any, else equal; client_id NULL: any kind,
	 * else kind PAIR and equal — expired or not; *count = how many deleted
	 * rows had until > now; inserts a lock_clears row (its filters, ''
	 * for NULL; gen the generation this transaction makes; cleared_at the
	 * store's clock, now on SQLite) and deletes those cleared_at <= that
	 * clock - STORE_LOCK_CLEARED_KEEP; increments the generation ONCE,
	 * even when nothing matched (STORE_OK, *count 0).
	 * lock_cleared: the lock_clears rows with gen > since, by gen, at
	 * most limit; '' read back as NULL.
	 * NULL in a backend that lacks them: store.c answers STORE_ERROR.
	 */
	int	(*lock_put)(void *h, const struct store_lock *lk, size_t n, uint64_t *gen);
	int	(*lock_list)(void *h, int64_t now, const char *tenant_id /* NULL */,
		    const char *after_address, const char *after_client_id, int after_kind,
		    int64_t limit, struct store_lock **out, size_t *n);
	int	(*lock_clear)(void *h, const char *address /* NULL */,
		    const char *client_id /* NULL */, int64_t now, int *count);
	int	(*lock_cleared)(void *h, uint64_t since, int64_t limit,
		    struct store_lock_cleared **out, size_t *n);

	/*
	 * Shared failure counters (store.h store_failure_*); store.c has
	 * checked the keys as lock keys (an address key's client_id is "")
	 * and 1 <= n <= 4, window > 0. failure_add, atomically: for each key,
	 * inserts (window_start now, failures 1); when the row exists and its
	 * window_start <= now - window (ended), sets it to (now, 1), else
	 * increments failures; counts[i] = the row's failures after. Rows
	 * whose window ended are deleted at least every 64 calls. failure_reset deletes the keys'
	 * rows. Neither moves the generation (counters are read by their
	 * writers only). shared: 1 when several nodes may use the store.
	 */
	int	(*failure_add)(void *h, const struct store_failure_key *k, size_t n,
		    int64_t now, int64_t window, int64_t *counts);
	int	(*failure_reset)(void *h, const struct store_failure_key *k, size_t n);
	/* failure_pairs: pair rows with window_start > since, newest
	 * window first, at most max (strings malloc'd). */
	int	(*failure_pairs)(void *h, int64_t since, size_t max,
		    struct store_failure_row **out, size_t *n);
	int	shared;
	/* store_connections; NULL: 1. */
	int	(*connections)(void *h);

	/*
	 * Shared issuance counts (store.h store_rate_*); store.c has checked
	 * node (1..STORE_RATE_NODE_MAX bytes), client ids (1..128 bytes),
	 * taken > 0 and 1 <= n <= 10000. rate_push, in ONE transaction:
	 * deletes rows with updated_at <= now - 300; for each row, inserts
	 * (client_id, node, taken, now) or adds taken to the existing row's
	 * and sets its updated_at to now. rate_pull: rows with node <>
	 * not_node and updated_at >= since (strings malloc'd). Neither moves
	 * the generation.
	 */
	int	(*rate_push)(void *h, const char *node, const struct store_rate *rows,
		    size_t n, int64_t now);
	int	(*rate_pull)(void *h, const char *not_node, int64_t since,
		    struct store_rate **out, size_t *n);
	/* store_clock: the database server's clock; NULL: this process's. */
	int	(*clock)(void *h, int64_t *now);

	/*
	 * Maker-checker approvals (store.h store_approval_*). One row per
	 * approval, keyed by id; states stored as the enum's integers.
	 * store.c has checked: id, tenant_id, kind, maker, maker_tenant
	 * non-empty; payload non-empty; reason, conflict_key "" when none;
	 * state PENDING on create; from/to in range; limit 1..1000.
	 * approval_create, in ONE transaction: UPDATE approvals SET state =
	 * EXPIRED WHERE state = PENDING AND expires_at <= a->created_at;
	 * then, when conflict_key != "", a row with state PENDING and that
	 * conflict_key -> STORE_CONFLICT "a pending approval (ID) already has
	 * this conflict key" (rollback); INSERT (duplicate id: STORE_CONFLICT);
	 * increment the generation. checker, result "" and decided_at,
	 * used_at 0 on insert whatever a holds.
	 * approval_get: the row, or STORE_NOTFOUND "approval X does not exist".
	 * approval_list: filters tenant_id (NULL any) and state (__MAX any:
	 * the stored state when as_of_now is 0, else the state as of now,
	 * store.h store_approval_list_page), (created_at, id) <
	 * (before_created, before_id), ORDER BY created_at DESC, id DESC
	 * LIMIT limit; through the indexes of migration 16, never a scan
	 * of every row for one state.
	 * approval_transition, in ONE statement-level guarded update:
	 * UPDATE approvals SET state = to [, checker = ?, decided_at = now]
	 * [, used_at = ?] [, result = ?] WHERE id = ? AND state = from
	 * [AND expires_at > now when check_expiry]; 1 row changed: increment
	 * the generation in the same transaction, STORE_OK; 0 rows: read the
	 * row: absent -> STORE_NOTFOUND, else STORE_CONFLICT "approval X is
	 * <state name>" (or "... has expired"); no generation change. Two
	 * concurrent transitions from the same state: exactly one STORE_OK
	 * (PostgreSQL: the row lock of UPDATE gives this at READ COMMITTED,
	 * the loser re-evaluates the WHERE and changes 0 rows).
	 * NULL in a backend that lacks them: store.c answers STORE_ERROR.
	 */
	int	(*approval_create)(void *h, const struct store_approval *a);
	int	(*approval_get)(void *h, const char *id,
		    struct store_approval *out);
	int	(*approval_list)(void *h, const char *tenant_id /* NULL */,
		    enum store_approval_state state, int as_of_now, int64_t now,
		    int64_t before_created, const char *before_id, int64_t limit,
		    struct store_approval **out, size_t *n);
	int	(*approval_transition)(void *h, const char *id,
		    enum store_approval_state from, enum store_approval_state to,
		    int check_expiry, int64_t now, const char *checker /* NULL */,
		    int64_t used_at /* 0: unchanged */,
		    const char *result /* NULL: unchanged */);
	/*
	 * approval_claim, one guarded update: UPDATE approvals SET
	 * claim_until = until WHERE id = ? AND state = APPROVED AND kind <>
	 * 'call' AND claim_until <= now; 1 row: STORE_OK; 0 rows: absent ->
	 * STORE_NOTFOUND, else STORE_CONFLICT. Two concurrent claims: exactly
	 * one STORE_OK (as approval_transition). No generation change: a
	 * claim is nobody's cached data.
	 * approval_unclaimed: WHERE state = APPROVED AND kind <> 'call' AND
	 * claim_until <= now AND id > after_id ORDER BY id LIMIT limit,
	 * through the partial index of migration 17.
	 */
	int	(*approval_claim)(void *h, const char *id, int64_t now, int64_t until);
	int	(*approval_unclaimed)(void *h, int64_t now, const char *after_id,
		    int64_t limit, struct store_approval **out, size_t *n);

	/*
	 * The group commit (writer thread only): inserts t[0..n) in ONE
	 * transaction with a durable commit, and does NOT touch the
	 * generation. Returns STORE_OK when the transaction committed; then
	 * errs[i] is STORE_OK, or STORE_CONFLICT for a record whose id already
	 * exists (that record is skipped, the others commit — on PostgreSQL use
	 * INSERT ... ON CONFLICT (id) DO NOTHING and the row count). Any other
	 * return means nothing committed and every record failed with it.
	 */
	int	(*commit_tokens)(void *h, const struct store_token *t, size_t n,
		    int *errs);
	/* The shortest time between two group commits' starts, for a
	 * backend whose commits are cheap enough to come more often than
	 * writer.h's WRITER_MIN_INTERVAL_NS (0: that; writer.c says why). */
	int64_t	commit_interval_ns;
	/* Whether a URL of this backend holds a password (store.h
	 * store_url_has_password); NULL: its URLs never do. */
	int	(*url_has_password)(const char *url);

	/*
	 * The audit trail (store.h store_audit_*). NULL in a backend without
	 * it: store_audit_supported() is 0 and store.c answers STORE_ERROR.
	 * k is the store's audit key (store.c has checked it is set).
	 * commit_batch (writer thread only): exactly commit_tokens for t[], and
	 * in the SAME transaction, after the tokens, appends a[0..na) in order:
	 * read the head (max seq and its hash; 0 and zero bytes when empty),
	 * then for each row seq = head + 1, prev_hash = head hash, chain =
	 * STORE_AUDIT_CHAIN_V2, hash = store_audit_link(k, row). a[i].seq,
	 * chain, prev_hash and hash on input are ignored.
	 * On PostgreSQL take pg_advisory_xact_lock(STORE_AUDIT_LOCK) before
	 * reading the head, so nodes never fork the chain. A failed audit row
	 * fails the whole transaction (nothing commits).
	 * audit_list: store_audit_filter (store.c has checked limit and filled
	 * NULLs as "no filter"), ORDER BY seq DESC LIMIT limit.
	 * audit_scan: ascending seq from from_seq; fn's non-zero stops and is
	 * returned; rows passed to fn are freed by the backend after fn.
	 * audit_prune: store.h's retention contract, in ONE transaction that
	 * holds the chain lock (SQLite BEGIN IMMEDIATE, PostgreSQL the
	 * advisory lock); kept_digest is store_audit_digest_new(k)'s; the
	 * checkpoint row is appended as commit_batch does (head = the max seq
	 * BEFORE the delete), with at = now and "" for request_id, actor,
	 * tenant, address, target; then the delete, whose row count must
	 * equal the checkpoint's "pruned".
	 * audit_seal: the key record (store.h). k NULL: read it into *out,
	 * STORE_NOTFOUND when there is none. k set: in ONE transaction holding
	 * the chain lock, read it; when there is none and the head row is not
	 * v2 (or the trail is empty), insert store_audit_seal_make(k, head
	 * seq, head hash), answer it and set *wrote to 1; when there is none
	 * but the head is v2 (the record was deleted), insert nothing:
	 * STORE_NOTFOUND. *wrote is 0 unless this call inserted the record.
	 */
	int	(*commit_batch)(void *h, const struct store_token *t, size_t nt,
		    int *errs, const struct store_audit_key *k,
		    const struct store_audit *a, size_t na);
	int	(*audit_list)(void *h, const struct store_audit_filter *f,
		    struct store_audit **out, size_t *n);
	int	(*audit_scan)(void *h, int64_t from_seq, store_audit_fn fn,
		    void *arg);
	int	(*audit_prune)(void *h, const struct store_audit_key *k, int64_t before,
		    int64_t now, int64_t *pruned);
	int	(*audit_seal)(void *h, const struct store_audit_key *k,
		    struct store_audit_seal *out, int *wrote);
};

/* store_audit.c, for the backends' write-commit paths (sqi_tx_end,
 * sq_tx_end, pgi_tx_end): the row this thread staged on the store whose
 * backend handle is h (store.h store_audit_stage): 1 with *k and *a set
 * (the caller appends it in its open transaction, before COMMIT), else 0.
 * store_audit_staged_committed(h): that transaction committed. */
int	store_audit_staged(const void *h, const struct store_audit_key **k,
	    const struct store_audit **a);
void	store_audit_staged_committed(const void *h);
/* store_audit.c, the test fault hook (util.h test_fault_point) of the
 * backends' change transactions (the write-commit paths above, and the
 * retention prune's): "store-commit-N" ends the process just before the
 * N-th such COMMIT it makes (counted from 1), as a crash there would, so
 * that a test can show that no commit of a change leaves half of it. */
void	store_fault_before_commit(void);

/* store_marks.c, for the same write-commit paths: the marks this thread
 * staged on the store whose backend handle is h (store.h
 * store_approval_mark_applied, store_idem_mark_acted). The commit path
 * runs each staged one's guarded update in its open transaction, before
 * COMMIT, and rolls the change back (STORE_SUPERSEDED) when it changes no
 * row; after COMMIT, store_marks_committed(h).
 *   STORE_MARK_APPROVAL_APPLIED  a: the approval id; v: used_at
 *   STORE_MARK_IDEM_ACTED        a: client id; b: key; v: its created_at */
enum store_mark_kind { STORE_MARK_APPROVAL_APPLIED, STORE_MARK_IDEM_ACTED, STORE_MARK__MAX };
struct store_mark {
	const void	*h;	/* NULL: none staged */
	char		*a;
	char		*b;
	int64_t		 v;
	int		 committed;
};
const struct store_mark *store_mark_staged(const void *h, enum store_mark_kind k);
/* The refusal of the staged mark m of kind k whose guarded update changed
 * no row: STORE_SUPERSEDED, with the reason the caller's answer gives. */
int	store_mark_refused(enum store_mark_kind k, const struct store_mark *m);
void	store_marks_committed(const void *h);

/* audit_chain.c: the checkpoint row's detail text (store.h), into out;
 * store_audit_checkpoint fills *cp as the row audit_prune appends (at, the
 * action and outcome, detail; "" elsewhere); detail must outlive cp. */
void	store_audit_checkpoint_detail(int64_t through, const uint8_t through_hash[32],
	    int64_t kept, const uint8_t kept_digest[32], int64_t pruned,
	    char *out, size_t outlen);
void	store_audit_checkpoint(struct store_audit *cp, int64_t at, char *detail);

/* store.c: approval_transition's answer when no row changed and the row
 * exists in state cur: STORE_CONFLICT, "has expired" when cur is still
 * from (the expiry guard failed), else the state it is in. */
int	store_approval_conflict(const char *id, enum store_approval_state from,
	    enum store_approval_state cur);

/* store_keys.c: whether kids a and b name the same key, NULL naming none
 * (the rotations' check of the key they replace: store_key_rotate). */
int	store_kid_same(const char *a, const char *b);

/* store.c: one element of each row type cleared through a void pointer,
 * the clear_fn of the backends' row collectors (store_X_clear; the lock
 * and rate rows, which have no clear in store.h, get their strings freed). */
typedef void (*store_clear_fn)(void *);
void	store_tenant_clear_v(void *);
void	store_client_clear_v(void *);
void	store_secret_clear_v(void *);
void	store_key_clear_v(void *);
void	store_token_clear_v(void *);
void	store_approval_clear_v(void *);
void	store_audit_clear_v(void *);
void	store_lock_clear_v(void *);
void	store_lock_cleared_clear_v(void *);
void	store_rate_clear_v(void *);
void	store_failure_clear_v(void *);

extern const struct store_ops store_sqlite_ops;	/* store_sqlite.c */
extern const struct store_ops store_pgsql_ops;	/* store_pgsql.c */

/* Sets this thread's store_last_error() message and returns rc. */
int	store_set_error(int rc, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
