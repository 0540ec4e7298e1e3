/*
 * pgsql_internal.h — private to the PostgreSQL backend: what its topic files
 * (pgsql_<topic>.c, one per feature, beside store_pgsql.c and mirroring
 * sqlite_<topic>.c) need from the core file: the connection pool, bound
 * parameters, statement helpers with the error mapping, and transactions
 * that increment (and NOTIFY) the generation. The core is split by concern
 * (the list is at the top of store_pgsql.c): store_pgsql.c, pgsql_values.c
 * (bound parameters, array literals, UTF-8), pgsql_exec.c (statements
 * under the query deadline, the error mapping), pgsql_conn.c
 * (the pool, the generation cache), pgsql_open.c (open, migrations, close)
 * and pgsql_tokens.c (tokens, the group commit); what these share among
 * themselves besides is declared here too, under the name of the file that
 * defines it. Nothing outside src/store/ includes this.
 */
#ifndef GH_PGSQL_INTERNAL_H
#define GH_PGSQL_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-events.h>
#include <libpq-fe.h>

#include "store/store_backend.h"

/* The backend handle (void *h of store_backend.h). Its members are the
 * core files' business: pgsql_open.c sets them up before any other thread
 * starts and tears them down after; then the pool and the failure state
 * are pgsql_conn.c's (under mu), so is the generation cache (under gmu),
 * and w is the writer thread's (pgsql_tokens.c). The topic files use the
 * functions below, never a member. */
struct pg {
	char		*url;		/* the URL without our parameters */
	char		 connect_timeout[16];
	int		 pool_size;
	int		 pool_timeout_ms;
	int		 resync_ms;
	int		 query_timeout_ms;
	int		 migrate_wait_s;	/* for another node's migration lock */

	pthread_mutex_t	 mu;		/* guards the pool and the failure state */
	pthread_cond_t	 freed;
	PGconn		**pool;
	unsigned char	*busy;
	int64_t		 down_until;	/* monotonic ms: fail fast until then */
	int64_t		 up_at;		/* monotonic ms: the last connect that worked */
	char		 down_msg[200];

	pthread_mutex_t	 gmu;		/* guards the generation cache */
	struct store_gen gen;
	int		 listening;	/* the listener is connected and has read gen */

	pthread_t	 listener;
	int		 listener_started;
	int		 stop_pipe[2];

	PGconn		*w;		/* the writer thread's alone */
	char		 server_version[32];	/* as the server said at open */
};

/* Bound parameters, $1.. in order: text (NULL binds ""), SQL NULL, int64
 * (sent as text), bytea (binary). Values are not copied: they must outlive
 * the statement. */
#define PV_MAX 24
struct pv {
	int		 n;
	const char	*v[PV_MAX];
	int		 len[PV_MAX];
	int		 fmt[PV_MAX];
	char		 num[PV_MAX][24];
};
void	pv_s(struct pv *, const char *s);
void	pv_null(struct pv *);
void	pv_i(struct pv *, int64_t v);
void	pv_b(struct pv *, const void *b, size_t n);
/* Text, or SQL NULL for NULL (an optional filter or column). */
void	pv_opt(struct pv *, const char *s);

/* The text of an array literal, "{e1,e2,...}", bound as one parameter so
 * that a batch of rows goes in with one statement (INSERT ... SELECT FROM
 * unnest($1::text[], ...)). Zero it, put "{", add elements (first: 1 for
 * the first, which takes no comma), then pgi_arr_bind. Running out of
 * memory is remembered in oom and reported once, by pgi_arr_bind. The
 * caller frees p. */
struct pgi_arr {
	char	*p;
	size_t	 len, cap;
	int	 oom;
};
void	pgi_arr_put(struct pgi_arr *, const char *s, size_t n);	/* raw bytes */
void	pgi_arr_s(struct pgi_arr *, const char *s, int first);	/* quoted, escaped */
void	pgi_arr_i(struct pgi_arr *, int64_t v, int first);
/* Closes a[0..n) with "}" and binds each as the next text parameter of p:
 * 0, or -1 when any ran out of memory. */
int	pgi_arr_bind(struct pgi_arr *a, int n, struct pv *p);

/* How a statement failed: unique and foreign-key violations are left to the
 * caller to name; PQ_FAIL has set the error (UNAVAILABLE for a lost or
 * refusing server). */
enum pq_kind { PQ_OK, PQ_UNIQUE, PQ_FKEY, PQ_FAIL };

/* PQexecParams with text results: the result on success (PQclear it), else
 * NULL with *kind, and *rc set for PQ_FAIL. */
PGresult *pgi_q(PGconn *c, const char *sql, const struct pv *p, enum pq_kind *kind,
	    int *rc, const char *what);
/* pgi_q for statements whose rows do not matter: *changes gets the count;
 * a unique violation is STORE_CONFLICT with conflict, a foreign-key one
 * STORE_NOTFOUND with fkey (NULL: a generic message). */
int	pgi_run(PGconn *c, const char *sql, const struct pv *p, int *changes,
	    const char *what, const char *conflict, const char *fkey);

/* A pooled connection (waits pool_timeout_ms at most; fails fast while the
 * database is down); give it back with pgi_release (which rolls back a
 * transaction left open). */
int	pgi_acquire(struct pg *, int *slot, PGconn **c, const char *what);
void	pgi_release(struct pg *, int slot);

/* BEGIN; and COMMIT when rc is STORE_OK (incrementing and notifying first
 * the generations of bump, a set of STORE_GEN_BIT: 1 is the data's), else
 * ROLLBACK keeping rc. */
int	pgi_tx_begin(PGconn *c);
int	pgi_tx_end(struct pg *, PGconn *c, int rc, unsigned bump);
/* One statement in its own transaction on a pooled connection, moving the
 * generations of bump as pgi_tx_end does; with PGI_IF_CHANGED in bump,
 * only when the statement changed rows. */
#define PGI_IF_CHANGED	(1u << 16)
#define PGI_DATA_IF_CHANGED	(STORE_GEN_BIT(STORE_GEN_DATA) | PGI_IF_CHANGED)
int	pgi_write1(struct pg *, const char *sql, const struct pv *p, unsigned bump,
	    int *changes, const char *what, const char *conflict, const char *fkey);

/* Columns of a text result: heap copies (NULL: no memory) and integers. */
char	*pgi_col_s(const PGresult *r, int row, int col);
int64_t	 pgi_col_i(const PGresult *r, int row, int col);
uint8_t	*pgi_col_b(const PGresult *r, int row, int col, size_t *len);

/* Collects every row of a query into a fresh array (row fills one element,
 * -1 for no memory; clear, store_X_clear_v of store_backend.h, frees one).
 * fetch_one: STORE_NOTFOUND with notfound when there is no row. */
typedef int (*row_fn)(const PGresult *, int, void *dst);
int	pgi_collect(struct pg *, const char *sql, const struct pv *p, size_t size,
	    row_fn row, store_clear_fn clear, void **out, size_t *n, const char *what);
int	pgi_fetch_one(struct pg *, const char *sql, const struct pv *p, size_t size,
	    row_fn row, store_clear_fn clear, void *out, const char *what, const char *notfound);
/* A reader and clear for a row of one integer (an int64_t dst). */
int	pgi_int64_row(const PGresult *r, int i, void *dst);
void	pgi_int64_clear(void *dst);

/* UTF-8 validity (PostgreSQL text refuses invalid bytes, SQLite does not),
 * and a heap copy with invalid bytes as '?'. */
int	 pgi_utf8_valid(const char *s);
char	*pgi_utf8_fixed(const char *s);

/* A plain connection for url (our parameters removed); NULL with err. */
PGconn	*pgi_connect_url(const char *url, char *err, size_t errlen);

/* The NOTIFY channel of the generations: every transaction that increments
 * one notifies here (pgi_tx_end), and the listener LISTENs. The payload is
 * the new value after its kind's prefix: "" for the data's ("12", as nodes
 * from before the other kinds read it), "locks:", "revoked:". */
#define PGI_CHANNEL		"gatehouse_generation"
extern const char *const pgi_gen_prefixes[STORE_GEN__MAX];	/* pgsql_conn.c */

/* pgsql_exec.c, for the core files. */
int64_t	 pgi_now_ms(void);	/* CLOCK_MONOTONIC, in ms */
/* libpq's message msg (may be NULL) on one line into out[outlen]. */
void	 pgi_oneline(const char *msg, char *out, size_t outlen);
/* The event procedure a connection's query deadline is kept under
 * (PQinstanceData(c, pgi_conn_event): ms, 0 for none); pg_connect registers
 * it. It handles no events. */
int	 pgi_conn_event(PGEventId id, void *info, void *arg);
/* PQexecParams (p may be NULL) under c's query deadline: its result (PQclear
 * it; NULL when libpq has none), or NULL with *timed_out set when the
 * deadline passed (the connection is then shut down: it is bad). */
PGresult *pgi_exec_bounded(PGconn *c, const char *sql, const struct pv *p, int *timed_out);
/* ROLLBACK under the query deadline; its own failure is not reported. */
void	 pgi_rollback(PGconn *c);
/* The statements s[0..n) as one pipeline under c's query deadline: res[i]
 * gets statement i's result (PQclear each), all NULL when the pipeline
 * broke (*timed_out set when the deadline passed). pgi_pipe_outcome:
 * STORE_OK when statement what's result r reached want, else its error
 * with the message set (a unique violation as STORE_CONFLICT with conflict
 * when not NULL). */
struct pipe_stmt {
	const char	*sql;
	const struct pv	*p;
};
void	 pgi_exec_pipeline(PGconn *c, const struct pipe_stmt *s, size_t n, PGresult **res,
	    int *timed_out);
int	 pgi_pipe_outcome(PGconn *c, PGresult *r, ExecStatusType want, int timed_out,
	    const char *what, const char *conflict);

/* store_pgsql.c, for the core files. */
/* An env or format column as the enum; a value out of range (a newer
 * binary's) as STORE_ENV_SANDBOX, STORE_FORMAT_JWT. */
int	 pgi_env_of(int64_t v);
int	 pgi_format_of(int64_t v);

/* pgsql_conn.c */
/* A new connection with our settings (keepalives, lock_timeout, the query
 * deadline): the caller PQfinish()es it; NULL with a one-line reason in
 * err. */
PGconn	*pg_connect(struct pg *, char *err, size_t errlen);
/* Makes *c usable: kept while idle and quiet, else PQfinish()ed and
 * replaced by a new connection (NULL on failure); STORE_UNAVAILABLE with
 * the error set when that fails or the database is known to be down. */
int	 pgi_ensure(struct pg *, PGconn **c, const char *what);
/* Moves the cached generation of kind forward to v (never back). */
void	 pgi_gen_note(struct pg *, enum store_gen_kind kind, uint64_t v);
/* Reads the generation rows on c into *v: STORE_OK, or the error (set). */
int	 pgi_read_gen(PGconn *c, struct store_gen *v, const char *what);
/* The listener thread (arg: the struct pg), until a byte on stop_pipe. */
void	*pgi_listener_main(void *arg);
int	 pg_generation(void *h, struct store_gen *out);
int	 pg_generation_cached(void *h, struct store_gen *out);
/* The pool's size (pool_size). */
int	 pg_connections(void *h);

/* pgsql_open.c */
int	 pg_open(const char *target, void **h, char *err, size_t errlen);
/* store_backend.h url_has_password. */
int	 pg_url_has_password(const char *url);
void	 pg_close(void *h);
int	 pg_schema_version(void *h, int *current, int *latest);
int	 pg_write_probe(void *h, int64_t now);

/* pgsql_tokens.c */
int	pg_token_get(void *h, const char *id, struct store_token *out);
int	pg_token_list(void *h, const char *client_id, int64_t after_issued,
	    const char *after_id, size_t limit, struct store_token **out, size_t *n);
int	pg_token_list_revoked(void *h, int64_t now, size_t limit, struct store_token **out,
	    size_t *n);
int	pg_token_list_revoked_since(void *h, uint64_t since, int64_t now, size_t limit,
	    struct store_token **out, size_t *n);
int	pg_token_revoke(void *h, const char *id, int64_t at);
int	pg_token_revoke_by_name(void *h, const char *client_id, const char *name, int64_t at,
	    int *count);
int	pg_token_prune(void *h, int64_t expired_before, int64_t limit, int64_t *pruned);
int	pg_token_latest_expiry(void *h, int env, int64_t now, int64_t *latest);
int	pg_commit_batch(void *h, const struct store_token *t, size_t n, int *errs,
	    const struct store_audit_key *key, const struct store_audit *au, size_t na);
int	pg_commit_tokens(void *h, const struct store_token *t, size_t n, int *errs);

/* pgsql_tenants.c */
int	pg_tenant_create(void *h, const struct store_tenant *t);
int	pg_tenant_get(void *h, const char *id, struct store_tenant *out);
int	pg_tenant_list(void *h, const char *only, const char *after_id, int64_t limit,
	    struct store_tenant **out, size_t *n);

/* pgsql_clients.c */
int	pg_client_create(void *h, const struct store_client *cl, struct store_secret *first);
int	pg_client_get(void *h, const char *id, struct store_client *out);
int	pg_client_list(void *h, const char *tenant_id, int64_t after_created, const char *after_id,
	    int64_t limit, struct store_client **out, size_t *n);
int	pg_client_update(void *h, const struct store_client *next, const struct store_client *read);
int	pg_client_set_disabled(void *h, const char *id, int disabled, int64_t at);
int	pg_client_void_tokens(void *h, const char *id, int64_t after, int64_t at);
int	pg_client_delete(void *h, const char *id);
int	pg_secret_rotate(void *h, struct store_secret *sec, int64_t end_by, size_t max_live,
	    int64_t *prev_end);
int	pg_secret_list(void *h, const char *client_id, struct store_secret **out, size_t *n);
int	pg_secret_count_due(void *h, int64_t made_by, int64_t now, int64_t *count);
int	pg_secret_update(void *h, const struct store_secret *sec, int64_t void_after, int64_t at);

/* pgsql_keys.c */
int	pg_key_add(void *h, const struct store_key *k);
int	pg_key_list(void *h, struct store_key **out, size_t *n);
int	pg_key_rotate(void *h, const struct store_key_rotation *r, size_t n, int64_t now);
int	pg_key_revoke(void *h, const char *kid, int64_t now);

/* pgsql_idempotency.c */
int	pg_idem_begin(void *h, const struct store_idem *rec, int64_t now,
	    int64_t stale_before, struct store_idem *existing);
int	pg_idem_finish(void *h, const char *client_id, const char *key,
	    int64_t created_at, int status, const char *body);
int	pg_idem_release(void *h, const char *client_id, const char *key,
	    int64_t created_at);

/* pgsql_locks.c */
int	pg_failure_add(void *h, const struct store_failure_key *k, size_t n,
	    int64_t now, int64_t window, int64_t *counts);
int	pg_failure_reset(void *h, const struct store_failure_key *k, size_t n);
int	pg_failure_pairs(void *h, int64_t since, size_t max,
	    struct store_failure_row **out, size_t *n);
int	pg_rate_push(void *h, const char *node, const struct store_rate *rows,
	    size_t n, int64_t now);
int	pg_rate_pull(void *h, const char *not_node, int64_t since,
	    struct store_rate **out, size_t *n);
int	pg_clock(void *h, int64_t *now);
int	pg_lock_put(void *h, const struct store_lock *lk, size_t n, uint64_t *gen);
int	pg_lock_list(void *h, int64_t now, const char *tenant_id, const char *after_address,
	    const char *after_client_id, int after_kind, int64_t limit, struct store_lock **out,
	    size_t *n);
int	pg_lock_clear(void *h, const char *address, const char *client_id,
	    int64_t now, int *count);
int	pg_lock_cleared(void *h, uint64_t since, int64_t limit,
	    struct store_lock_cleared **out, size_t *n);

/* pgsql_approvals.c */
int	pg_approval_create(void *h, const struct store_approval *a);
int	pg_approval_get(void *h, const char *id, struct store_approval *out);
int	pg_approval_list(void *h, const char *tenant_id,
	    enum store_approval_state state, int as_of_now, int64_t now,
	    int64_t before_created, const char *before_id, int64_t limit,
	    struct store_approval **out, size_t *n);
int	pg_approval_transition(void *h, const char *id,
	    enum store_approval_state from, enum store_approval_state to,
	    int check_expiry, int64_t now, const char *checker, int64_t used_at,
	    const char *result);
int	pg_approval_claim(void *h, const char *id, int64_t now, int64_t until);
int	pg_approval_unclaimed(void *h, int64_t now, const char *after_id,
	    int64_t limit, struct store_approval **out, size_t *n);

/* pgsql_audit.c */
int	pg_audit_append_tx(PGconn *c, const struct store_audit_key *k,
	    const struct store_audit *a, size_t na);
/* The pieces of an append, for a caller that pipelines them (the writer's
 * batch): take the chain lock (pg_audit_lock_sql, its parameter from
 * pg_audit_lock_param), then read the head (pg_audit_head_sql, parsed by
 * pg_audit_head: seq 0 and a zero hash when the chain is empty), then
 * insert the rows chained after it (pg_audit_insert_sql with w->v). */
#define PG_AUDIT_NCOLS		12
#define PG_AUDIT_SEQ_TAKEN	"audit: append: a row of this seq exists"
struct pg_audit_rows {
	struct pgi_arr	 b[PG_AUDIT_NCOLS];
	struct pv	 v;	/* points into b: never copied */
};
extern const char pg_audit_lock_sql[], pg_audit_head_sql[], pg_audit_insert_sql[];
void	pg_audit_lock_param(struct pv *);
void	pg_audit_head(const PGresult *r, int64_t *seq, uint8_t prev[32]);
/* Fills *w with a[0..na) chained after (seq, head), linked under k (v2):
 * STORE_OK, or an error with nothing to free. pg_audit_rows_free releases
 * it. */
int	pg_audit_rows(struct pg_audit_rows *w, const struct store_audit_key *k,
	    const struct store_audit *a, size_t na, int64_t seq, const uint8_t head[32]);
void	pg_audit_rows_free(struct pg_audit_rows *w);
int	pg_audit_list(void *h, const struct store_audit_filter *f,
	    struct store_audit **out, size_t *n);
int	pg_audit_scan(void *h, int64_t from_seq, store_audit_fn fn, void *arg);
int	pg_audit_prune(void *h, const struct store_audit_key *k, int64_t before,
	    int64_t now, int64_t *pruned);
int	pg_audit_seal(void *h, const struct store_audit_key *k, struct store_audit_seal *out,
	    int *wrote);

#endif
