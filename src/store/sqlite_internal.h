/*
 * sqlite_internal.h — private to the SQLite backend: what its topic files
 * (sqlite_<topic>.c, one per feature, beside store_sqlite.c) need from the
 * core file: the main connection under its mutex, and the error mapping.
 * The core is split by concern too (the list is at the top of
 * store_sqlite.c); what its files share, with the topic files that run
 * its cached statements, is declared at the end. Nothing outside
 * src/store/ includes this.
 */
#ifndef GH_SQLITE_INTERNAL_H
#define GH_SQLITE_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store_backend.h"

/* Locks the main connection of backend handle h and returns it; every
 * statement a topic file runs on it happens before sq_main_unlock(h).
 * Transactions: "BEGIN IMMEDIATE" / "COMMIT" / "ROLLBACK" by hand. */
sqlite3	*sq_main_lock(void *h);
void	 sq_main_unlock(void *h);
/* A failed SQLite call as enum store_err with "what: message" set. */
int	 sq_error(sqlite3 *db, int rc, const char *what);
/* sqlite_util.c: statement helpers for the topic files.
 *
 * One bound parameter: text, a 64-bit integer or a blob. Make it with
 * SQ_TEXT, SQ_INT or SQ_BLOB, never by hand: each initializes the members
 * of its type, so the compiler converts an int, an enum or a size_t given
 * to SQ_INT to int64_t, and with -Werror refuses an integer given to
 * SQ_TEXT or SQ_BLOB, or a pointer given to SQ_INT (-Wint-conversion).
 * SQ_ARGS(SQ_TEXT(id), SQ_INT(now)) passes a statement's arguments, in
 * parameter order, as an array and the count the compiler takes of it:
 * the last two arguments of sq_prep, sq_rebind and sqi_stmt. SQ_NO_ARGS
 * passes none (to sq_prep: prepare only). NULL text binds SQL NULL through
 * sq_prep and sq_rebind, "" through sqi_stmt (see there). */
enum sq_arg_kind { SQ_ARG_TEXT, SQ_ARG_INT, SQ_ARG_BLOB };
struct sq_arg {
	enum sq_arg_kind kind;
	const char	*text;
	int64_t		 integer;
	const void	*blob;
	size_t		 size;		/* the blob's bytes */
};
#define SQ_TEXT(v)	((struct sq_arg){ .kind = SQ_ARG_TEXT, .text = (v) })
#define SQ_INT(v)	((struct sq_arg){ .kind = SQ_ARG_INT, .integer = (v) })
#define SQ_BLOB(p, n)	((struct sq_arg){ .kind = SQ_ARG_BLOB, .blob = (p), .size = (n) })
#define SQ_ARGS(...)	(const struct sq_arg[]){ __VA_ARGS__ }, \
	(sizeof((const struct sq_arg[]){ __VA_ARGS__ }) / sizeof(struct sq_arg))
#define SQ_NO_ARGS	(const struct sq_arg *)NULL, (size_t)0
/* sq_exec runs sql (no rows). sq_prep prepares sql into *st and binds the
 * n arguments args to its parameters from the first; n 0 (SQ_NO_ARGS)
 * prepares only, for sq_rebind to bind row by row. STORE_OK, or an enum
 * store_err with the error set and *st NULL: the statement's parameter
 * count is not n (a bug), or SQLite failed (what names the statement in
 * errors). The caller finalizes *st (sq_step_done does). sq_step_done
 * steps a statement that returns no rows and finalizes it (*changes, may
 * be NULL, gets the rows changed); sq_text copies a text column ("" for
 * NULL; NULL only when out of memory; the caller frees it). */
int	 sq_exec(sqlite3 *db, const char *sql, const char *what);
int	 sq_prep(sqlite3 *db, const char *what, const char *sql, sqlite3_stmt **st,
	    const struct sq_arg *args, size_t n);
int	 sq_step_done(sqlite3 *db, sqlite3_stmt *st, int *changes, const char *what);
/* Whether n arguments give each of st's parameters one: 0, or -1 with
 * the store's error set. */
int	 sq_args_fit(sqlite3_stmt *st, size_t n, const char *what);
/* Binds args to st's parameters from the first, stopping at the first
 * failure: an SQLite code. cached (sqi_stmt's statements): NULL text
 * binds "" and nothing is copied, as those are stepped and reset before
 * their arguments go away; otherwise NULL text binds NULL and values are
 * copied (SQLITE_TRANSIENT). */
int	 sq_bind(sqlite3_stmt *st, const struct sq_arg *args, size_t n, int cached);
char	*sq_text(sqlite3_stmt *st, int col);
/* sq_rebind resets st (one statement for every row of a batch) and binds
 * its n arguments args as sq_prep does; n must be st's parameter count,
 * even 0. An SQLite code: SQLITE_MISUSE (the store's error set) when n is
 * not that count. */
int	 sq_rebind(sqlite3_stmt *st, const struct sq_arg *args, size_t n);
/* Ends a transaction begun with "BEGIN IMMEDIATE" on db (h locked): when rc
 * is STORE_OK, increments the generations of bump (a set of STORE_GEN_BIT;
 * 0: none) and commits (commit names a failure); otherwise, or when either
 * fails, rolls back. Returns rc or that failure. */
int	 sq_tx_end(void *h, sqlite3 *db, int rc, unsigned bump, const char *commit);
/* The marks this thread staged on h, in a change's open transaction
 * (sqlite_util.c): STORE_OK, or STORE_SUPERSEDED when a guard fails. */
int	 sq_marks_tx(const void *h, sqlite3 *db);
/* Steps st (bound; the caller resets or finalizes it after) and collects
 * every row into a fresh array of elements of size. row fills one zeroed
 * element: 0, 1 to skip the row (nothing allocated), or -1 for no memory
 * (clear, store_X_clear_v of store_backend.h, frees one). On an error *out
 * is NULL and nothing is left allocated; what names the query in errors. */
typedef int (*sq_row_fn)(sqlite3_stmt *, void *dst);
int	 sq_collect(sqlite3 *db, sqlite3_stmt *st, size_t size, sq_row_fn row,
	    store_clear_fn clear, void **out, size_t *n, const char *what);
/* arr (used of *cap elements of size bytes taken) with room for one more,
 * doubled when full: arr or its replacement, or NULL out of memory (arr
 * is then still valid and still the caller's). */
void	*sq_grow(void *arr, size_t *cap, size_t used, size_t size);
/* After committing a change that incremented the generation on the main
 * connection (h still locked): PRAGMA data_version does not move for our
 * own commits, so the cached generation must be re-read. */
void	 sq_generation_stale(void *h);

/* sqlite_open.c: opens and configures a connection to path (WAL,
 * synchronous=FULL, the busy timeout): 0, or -1 with a reason in err. */
int	 sq_connect(const char *path, sqlite3 **db, char *err, size_t errlen);
/* sqlite_util.c: whether db's file was moved or deleted since it was
 * opened (a stat); the STORE_UNAVAILABLE that says so; and BEGIN IMMEDIATE
 * after that check: every write transaction starts with it, so that no
 * write is reported done into a file no later start opens. */
int	 sq_file_moved(sqlite3 *db);
int	 sq_moved_error(void);
int	 sq_begin_write(sqlite3 *db, const char *what);

/* sqlite_pcache.c: SQLite's default page cache behind a check that spares
 * commits its full scan (the file says why). sq_pcache_install sets it up
 * once, before the first connection opens: 1 when in place, 0 when SQLite
 * was initialized first (it then runs as it is). sq_pcache_stats counts,
 * since start, the truncates passed on to the cache and those skipped. */
struct sq_pcache_stats {
	unsigned long	passed, skipped;
};
int	 sq_pcache_install(void);
void	 sq_pcache_stats(struct sq_pcache_stats *out);

/* sqlite_walbuf.c: SQLite's default VFS with each WAL file's consecutive
 * writes gathered into one write before SQLite syncs, reads or publishes
 * them (the file says why). sq_walbuf_vfs registers it once and returns
 * its name for sqlite3_open_v2, or NULL when it could not (SQLite's own
 * VFS is then used). sq_walbuf_stats counts, since start, the writes
 * gathered and the writes made of them. */
struct sq_walbuf_stats {
	unsigned long	gathered, written;
};
const char *sq_walbuf_vfs(void);
void	 sq_walbuf_stats(struct sq_walbuf_stats *out);

/* sqlite_ckpt.c: checkpoints on a thread of their own instead of inside
 * the commits. sq_ckpt_start prepares one for path (0, or -1 with a
 * reason in err); its thread and connection start with the first commit
 * that needs a pass (a short CLI command runs none); sq_ckpt_attach hands it
 * the checkpoints of db's commits (at most 4 connections; db must outlive
 * sq_ckpt_stop); sq_ckpt_set_frames changes the thresholds, in WAL frames,
 * for a pass (1000) and for an inline RESTART that bounds the WAL (16000),
 * for tests; sq_ckpt_failed is 1, with the reason in why, once the thread
 * could not start or connect (the commits then checkpoint inline, at the
 * bound only), else 0; sq_ckpt_stop unhooks the connections and joins the
 * thread (NULL: no-op). */
struct sq_ckpt;
int	 sq_ckpt_start(struct sq_ckpt **out, const char *path, char *err, size_t errlen);
void	 sq_ckpt_attach(struct sq_ckpt *, sqlite3 *db);
int	 sq_ckpt_failed(struct sq_ckpt *, char *why, size_t len);
void	 sq_ckpt_set_frames(struct sq_ckpt *, int background, int force);
void	 sq_ckpt_stop(struct sq_ckpt *);

/* sqlite_tenants.c */
int	sq_tenant_create(void *h, const struct store_tenant *t);
int	sq_tenant_get(void *h, const char *id, struct store_tenant *out);
int	sq_tenant_list(void *h, const char *only, const char *after_id, int64_t limit,
	    struct store_tenant **out, size_t *n);

/* sqlite_clients.c */
int	sq_client_create(void *h, const struct store_client *c, struct store_secret *first);
int	sq_client_get(void *h, const char *id, struct store_client *out);
int	sq_client_list(void *h, const char *tenant_id, int64_t after_created, const char *after_id,
	    int64_t limit, struct store_client **out, size_t *n);
int	sq_client_update(void *h, const struct store_client *next, const struct store_client *read);
int	sq_client_set_disabled(void *h, const char *id, int disabled, int64_t at);
int	sq_client_void_tokens(void *h, const char *id, int64_t after, int64_t at);
int	sq_client_delete(void *h, const char *id);
int	sq_secret_rotate(void *h, struct store_secret *sec, int64_t end_by, size_t max_live,
	    int64_t *prev_end);
int	sq_secret_list(void *h, const char *client_id, struct store_secret **out, size_t *n);
int	sq_secret_count_due(void *h, int64_t made_by, int64_t now, int64_t *count);
int	sq_secret_update(void *h, const struct store_secret *sec, int64_t void_after, int64_t at);

/* sqlite_keys.c */
int	sq_key_add(void *h, const struct store_key *k);
int	sq_key_list(void *h, struct store_key **out, size_t *n);
int	sq_key_rotate(void *h, const struct store_key_rotation *r, size_t n, int64_t now);
int	sq_key_revoke(void *h, const char *kid, int64_t now);

/* sqlite_idempotency.c */
int	sq_idem_begin(void *h, const struct store_idem *rec, int64_t now,
	    int64_t stale_before, struct store_idem *existing);
int	sq_idem_finish(void *h, const char *client_id, const char *key,
	    int64_t created_at, int status, const char *body);
int	sq_idem_release(void *h, const char *client_id, const char *key,
	    int64_t created_at);

/* sqlite_locks.c */
int	sq_lock_put(void *h, const struct store_lock *lk, size_t n, uint64_t *gen);
int	sq_lock_list(void *h, int64_t now, const char *tenant_id, const char *after_address,
	    const char *after_client_id, int after_kind, int64_t limit, struct store_lock **out,
	    size_t *n);
int	sq_failure_add(void *h, const struct store_failure_key *k, size_t n,
	    int64_t now, int64_t window, int64_t *counts);
int	sq_failure_reset(void *h, const struct store_failure_key *k, size_t n);
int	sq_failure_pairs(void *h, int64_t since, size_t max,
	    struct store_failure_row **out, size_t *n);
int	sq_rate_push(void *h, const char *node, const struct store_rate *rows,
	    size_t n, int64_t now);
int	sq_rate_pull(void *h, const char *not_node, int64_t since,
	    struct store_rate **out, size_t *n);
int	sq_lock_clear(void *h, const char *address, const char *client_id,
	    int64_t now, int *count);
int	sq_lock_cleared(void *h, uint64_t since, int64_t limit,
	    struct store_lock_cleared **out, size_t *n);

/* sqlite_approvals.c */
int	sq_approval_create(void *h, const struct store_approval *a);
int	sq_approval_get(void *h, const char *id, struct store_approval *out);
int	sq_approval_list(void *h, const char *tenant_id,
	    enum store_approval_state state, int as_of_now, int64_t now,
	    int64_t before_created, const char *before_id, int64_t limit,
	    struct store_approval **out, size_t *n);
int	sq_approval_transition(void *h, const char *id,
	    enum store_approval_state from, enum store_approval_state to,
	    int check_expiry, int64_t now, const char *checker, int64_t used_at,
	    const char *result);
int	sq_approval_claim(void *h, const char *id, int64_t now, int64_t until);
int	sq_approval_unclaimed(void *h, int64_t now, const char *after_id,
	    int64_t limit, struct store_approval **out, size_t *n);

/* sqlite_audit.c; the appends run inside the caller's write transaction on
 * db. The writer appends in every commit, so it keeps the two statements of
 * an append prepared (sq_audit_prepare); prune's rare append prepares them
 * each time (sq_audit_append_tx). */
struct sq_audit_stmts {
	sqlite3_stmt	*head;		/* the chain's last seq and hash */
	sqlite3_stmt	*ins;
};
int	sq_audit_prepare(sqlite3 *db, struct sq_audit_stmts *s, char *err, size_t errlen);
void	sq_audit_finalize(struct sq_audit_stmts *s);
int	sq_audit_append(sqlite3 *db, struct sq_audit_stmts *s, const struct store_audit_key *k,
	    const struct store_audit *a, size_t na);
int	sq_audit_append_tx(sqlite3 *db, const struct store_audit_key *k,
	    const struct store_audit *a, size_t na);
int	sq_audit_list(void *h, const struct store_audit_filter *f,
	    struct store_audit **out, size_t *n);
int	sq_audit_scan(void *h, int64_t from_seq, store_audit_fn fn, void *arg);
int	sq_audit_prune(void *h, const struct store_audit_key *k, int64_t before,
	    int64_t now, int64_t *pruned);
int	sq_audit_seal(void *h, const struct store_audit_key *k, struct store_audit_seal *out,
	    int *wrote);

/*
 * The core, split by concern (the list is at the top of store_sqlite.c):
 * store_sqlite.c runs the main connection's cached statements and keeps
 * the generation; sqlite_open.c opens and closes; sqlite_tokens.c holds
 * tokens and the group commit. The topic files whose statements are in
 * the cached table (tenants, clients and secrets, keys) use these too.
 * What they share is declared below, under the name of the file that
 * defines it.
 */

/* Every connection's busy timeout: how long a statement waits for another
 * connection's write lock before it fails as STORE_UNAVAILABLE. */
#define SQI_BUSY_TIMEOUT_MS	5000

/* The main connection's statements, prepared once (STYLE 4: a table). */
enum sq_id {
	SQ_BEGIN, SQ_COMMIT, SQ_ROLLBACK, SQ_BUMP, SQ_DATA_VERSION, SQ_GEN, SQ_SCHEMA,
	SQ_TENANT_INSERT, SQ_TENANT_GET, SQ_TENANT_LIST, SQ_TENANT_LIST_ONE,
	SQ_CLIENT_INSERT, SQ_CLIENT_GET, SQ_CLIENT_LIST, SQ_CLIENT_LIST_TENANT, SQ_CLIENT_UPDATE,
	SQ_CLIENT_DISABLE, SQ_CLIENT_VOID,
	SQ_SECRET_INSERT, SQ_SECRET_LIST, SQ_SECRET_DUE, SQ_SECRET_UPDATE, SQ_SECRET_LIVE, SQ_SECRET_END_BY,
	SQ_KEY_INSERT, SQ_KEY_LIST, SQ_KEY_PENDING, SQ_KEY_CURRENT, SQ_KEY_RETIRE,
	SQ_KEY_ENV, SQ_KEY_OTHERS, SQ_KEY_UNRETIRE, SQ_KEY_NEXT, SQ_KEY_FORWARD,
	SQ_TOKEN_GET, SQ_TOKEN_LIST, SQ_TOKEN_LIST_REVOKED, SQ_TOKEN_LIST_REVOKED_SINCE,
	SQ_TOKEN_REVOKE, SQ_TOKEN_EXISTS,
	SQ_TOKEN_REVOKE_NAME, SQ_TOKEN_REVOKE_NAME_CLIENT, SQ_TOKEN_PRUNE, SQ_TOKEN_LATEST_EXPIRY,
	SQ__MAX
};

/* The writer connection's statements. */
enum sw_id { SW_BEGIN, SW_COMMIT, SW_ROLLBACK, SW_INSERT, SW__MAX };

/* The backend handle (void *h of store_backend.h). sqlite_open.c sets it
 * up before the store is shared and tears it down after the writer has
 * stopped; in between, db, st[] and the generation cache are used under
 * mu, and wdb, sw[] and sa by the writer thread alone. */
struct sq {
	pthread_mutex_t	 mu;		/* guards db, st[], and the cache */
	sqlite3		*db;
	sqlite3_stmt	*st[SQ__MAX];
	int		 gen_valid;	/* gen was read at data_version seen */
	int64_t		 seen;
	struct store_gen gen;

	sqlite3		*wdb;		/* the writer thread's alone */
	sqlite3_stmt	*sw[SW__MAX];
	struct sq_audit_stmts sa;	/* the writer's audit appends */
	struct sq_ckpt	*ckpt;		/* checkpoints for both (sqlite_ckpt.c) */
};

/* store_sqlite.c, for the core files. */
/* The SQL of each statement of enum sq_id and enum sw_id, which sq_open
 * prepares once on the main and the writer connection. */
extern const char *const sqi_sql[SQ__MAX];
extern const char *const sqi_sw_sql[SW__MAX];
/* The cached statement id with its n arguments args bound (SQ_ARGS; NULL
 * text binds "", as the columns are NOT NULL); NULL when n is not its
 * parameter count or a bind failed (error set). Call with q->mu held;
 * reset with sqi_done() after stepping. */
sqlite3_stmt *sqi_stmt(struct sq *q, enum sq_id id, const struct sq_arg *args, size_t n);
/* Resets st (NULL: nothing) so that it holds no read snapshot. */
void	 sqi_done(sqlite3_stmt *st);
/* Runs a cached statement returning no rows (NULL: its bind failed) and
 * resets it: the raw SQLite code (DONE becomes OK), so that callers can
 * tell constraint kinds apart; *changes (may be NULL) gets the rows
 * changed. sqi_run_err: such a failure as enum store_err, a unique or
 * foreign-key violation with the caller's message (fkey NULL: mapped as
 * any other failure). */
int	 sqi_run(struct sq *q, sqlite3_stmt *st, int *changes);
int	 sqi_run_err(struct sq *q, int rc, const char *what, const char *conflict,
	    const char *fkey);
/* Transactions on the main connection, q->mu held: BEGIN IMMEDIATE; and
 * COMMIT when rc is STORE_OK (incrementing first the generations of bump,
 * a set of STORE_GEN_BIT: 1 is the data's), else ROLLBACK keeping rc and
 * its message. */
int	 sqi_tx_begin(struct sq *q);
int	 sqi_tx_end(struct sq *q, int rc, unsigned bump);
/* An env or format column as the enum; a value out of range (a newer
 * binary's) as STORE_ENV_SANDBOX, STORE_FORMAT_JWT. */
int	 sqi_env_of(int v);
int	 sqi_format_of(int v);
/* sq_collect on a cached statement (NULL: its bind failed, error set),
 * which is reset after; sqi_fetch_one: its one row into out, or
 * STORE_NOTFOUND with notfound as the message. q->mu held. */
/* Each reader fills dst from the row; -1 when out of memory (sq_collect
 * then clears dst). */
int	 sqi_collect(struct sq *q, sqlite3_stmt *st, size_t size, sq_row_fn row,
	    store_clear_fn clear, void **out, size_t *n, const char *what);
int	 sqi_fetch_one(struct sq *q, sqlite3_stmt *st, size_t size, sq_row_fn row,
	    store_clear_fn clear, void *out, const char *what, const char *notfound);
/* A reader and clear for a row of one integer (an int64_t dst). */
int	 sqi_int64_row(sqlite3_stmt *st, void *dst);
void	 sqi_int64_clear(void *dst);

/* sqlite_open.c */
int	 sq_open(const char *path, void **h, char *err, size_t errlen);
void	 sq_close(void *h);
int	 sq_schema_version(void *h, int *current, int *latest);
int	 sq_write_probe(void *h, int64_t now);

/* sqlite_tokens.c */
int	 sq_token_get(void *h, const char *id, struct store_token *out);
int	 sq_token_list(void *h, const char *client_id, int64_t after_issued,
	    const char *after_id, size_t limit, struct store_token **out, size_t *n);
int	 sq_token_list_revoked(void *h, int64_t now, size_t limit, struct store_token **out,
	    size_t *n);
int	 sq_token_list_revoked_since(void *h, uint64_t since, int64_t now, size_t limit,
	    struct store_token **out, size_t *n);
int	 sq_token_revoke(void *h, const char *id, int64_t at);
int	 sq_token_revoke_by_name(void *h, const char *client_id, const char *name, int64_t at,
	    int *count);
int	 sq_token_prune(void *h, int64_t expired_before, int64_t limit, int64_t *pruned);
int	 sq_token_latest_expiry(void *h, int env, int64_t now, int64_t *latest);
int	 sq_commit_batch(void *h, const struct store_token *t, size_t n, int *errs,
	    const struct store_audit_key *key, const struct store_audit *a, size_t na);
int	 sq_commit_tokens(void *h, const struct store_token *t, size_t n, int *errs);

#endif
