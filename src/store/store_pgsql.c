/*
 * store_pgsql.c — the PostgreSQL backend (store_backend.h; the only user of
 * libpq-fe.h). Several gatehouse nodes share one database:
 *   - a small pool of connections serves reads and the operator's writes;
 *     a request waits at most pool_timeout_ms for a free one, and a
 *     connection found broken is reconnected on its next use;
 *   - the group-commit writer thread owns one connection of its own and
 *     inserts a whole batch with one statement (unnest of arrays, ON
 *     CONFLICT (id) DO NOTHING RETURNING id): one round trip, one commit;
 *     with the batch's audit rows, two round trips of libpq's pipeline
 *     mode and one commit (commit_with_audit());
 *   - the change generation is cached: a listener thread holds a dedicated
 *     connection that LISTENs on gatehouse_generation (every change NOTIFYs
 *     in its own transaction) and re-reads the row every resync_ms as a
 *     safety net; while it is disconnected, generation() reads the row
 *     through the pool, so /readyz and the caches see an outage.
 * After a failed connect every caller fails at once with STORE_UNAVAILABLE
 * for RETRY_MS instead of each waiting for its own connect (a database that
 * is down turns into fast 503s, not into piled-up requests).
 *
 * URL: postgresql://user:password@host:port/db?params — libpq's own
 * parameters (connect_timeout, sslmode, ...) plus ours, removed before the
 * URL reaches libpq: pool_size (1..64, default 4), pool_timeout_ms (wait for
 * a free connection, default 2000), resync_ms (default 2000),
 * query_timeout_ms (how long a statement's answer is waited for, default
 * 30000; see pgi_exec_bounded) and migrate_wait_s (how long a starting node
 * waits for another's migration lock, 1..86400, default 300; pgsql_open.c).
 *
 * Values only ever reach SQL as bound parameters of PQexecParams (STYLE 15);
 * the static migration DDL is the only SQL run with PQexec.
 *
 * The backend's files, sharing pgsql_internal.h:
 *   - this one: transactions (one-statement writes among them), rows
 *     and their collectors, the engine line and the ops table;
 *   - pgsql_values.c: bound parameters, array literals and UTF-8;
 *   - pgsql_exec.c: statements under the query deadline (one at a time,
 *     or pipelined) and their error mapping;
 *   - pgsql_conn.c: the connection pool, the fail-fast state and the
 *     generation cache with its listener thread;
 *   - pgsql_open.c: the URL, open (with the migrations) and close;
 *   - pgsql_tokens.c: tokens and the group commit;
 *   - pgsql_<topic>.c: one per feature (approvals, audit, clients with
 *     their secrets, idempotency, keys, locks, tenants), mirroring
 *     sqlite_<topic>.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/pgsql_internal.h"

/* Increments a generation ($1: its key) and tells every listening node
 * ($2: its kind's prefix), in the caller's transaction: the notification
 * goes out only if it commits. */
#define SQL_BUMP "UPDATE meta SET value = value + 1 WHERE key = $1" \
	" RETURNING value, pg_notify('" PGI_CHANNEL "', $2 || value::text)"

/* -- transactions -------------------------------------------------------------------- */

int
pgi_tx_begin(PGconn *c)
{
	return pgi_run(c, "BEGIN", NULL, NULL, "begin", NULL, NULL);
}

/* Commits when rc is STORE_OK (after incrementing the generation when
 * bump), else rolls back keeping rc and its message. */
/* Increments and notifies the generation of kind: STORE_OK with *v its
 * new value, or the error (set). */
static int
bump_one(PGconn *c, enum store_gen_kind kind, uint64_t *v)
{
	struct pv args = { 0 };
	enum pq_kind pk;
	int rc = STORE_OK;
	PGresult *r;

	pv_s(&args, store_gen_keys[kind]);
	pv_s(&args, pgi_gen_prefixes[kind]);
	if ((r = pgi_q(c, SQL_BUMP, &args, &pk, &rc, "generation")) == NULL)
		return pk == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "generation: cannot update");
	if (PQntuples(r) == 1)
		*v = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	else
		rc = store_set_error(STORE_ERROR, "generation: the %s row is missing",
		    store_gen_keys[kind]);
	PQclear(r);
	return rc;
}

/* The marks this thread staged on p (store_backend.h store_mark_staged),
 * in the open transaction of a change: each guarded update must change its
 * row, else the change is refused (STORE_SUPERSEDED; tx_end rolls it back).
 * The row lock the update takes orders two nodes' appliers (or a call and
 * the retry that took its key over): the second waits for the first's
 * commit, then finds the row changed. */
static int
marks_tx(struct pg *p, PGconn *c)
{
	const struct store_mark *m;
	struct pv v = { 0 };
	int rc, changes = 0;

	if ((m = store_mark_staged(p, STORE_MARK_APPROVAL_APPLIED)) != NULL) {
		pv_i(&v, m->v);
		pv_s(&v, m->a);
		if ((rc = pgi_run(c, "UPDATE approvals SET used_at = $1 WHERE id = $2 AND state = 1"
		    " AND used_at = 0", &v, &changes, "approval mark", NULL, NULL)) != STORE_OK)
			return rc;
		if (changes == 0)
			return store_mark_refused(STORE_MARK_APPROVAL_APPLIED, m);
	}
	if ((m = store_mark_staged(p, STORE_MARK_IDEM_ACTED)) != NULL) {
		struct pv w = { 0 };
		pv_s(&w, m->a);
		pv_s(&w, m->b);
		pv_i(&w, m->v);
		if ((rc = pgi_run(c, "UPDATE idempotency SET state = 2 WHERE client_id = $1"
		    " AND key = $2 AND created_at = $3 AND state = 0", &w, &changes,
		    "idempotency mark", NULL, NULL)) != STORE_OK)
			return rc;
		if (changes == 0)
			return store_mark_refused(STORE_MARK_IDEM_ACTED, m);
	}
	return STORE_OK;
}

/* pgi_tx_end; with audit 0, a row staged for the change stays staged
 * (the change changed nothing), and so do the marks. */
static int
tx_end(struct pg *p, PGconn *c, int rc, unsigned bump, int audit)
{
	struct store_gen v = { { 0 } };
	const struct store_audit_key *ak;
	const struct store_audit *row;
	int staged = 0;

	/* The audit row of this change (store.h store_audit_stage), in its
	 * transaction, under the chain lock every node's appends take. */
	if (rc == STORE_OK && audit && (staged = store_audit_staged(p, &ak, &row)))
		rc = pg_audit_append_tx(c, ak, row, 1);
	if (rc == STORE_OK && audit)
		rc = marks_tx(p, c);
	for (int k = 0; rc == STORE_OK && k < STORE_GEN__MAX; k++)
		if (bump & STORE_GEN_BIT(k))
			rc = bump_one(c, (enum store_gen_kind)k, &v.v[k]);
	if (rc == STORE_OK) {
		store_fault_before_commit();
		if ((rc = pgi_run(c, "COMMIT", NULL, NULL, "commit", NULL, NULL)) == STORE_OK) {
			/* Ours, before their notifications. */
			for (int k = 0; k < STORE_GEN__MAX; k++)
				if (bump & STORE_GEN_BIT(k))
					pgi_gen_note(p, (enum store_gen_kind)k, v.v[k]);
			if (staged)
				store_audit_staged_committed(p);
			if (audit)
				store_marks_committed(p);
			return STORE_OK;
		}
		return rc;
	}
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		pgi_rollback(c);
	return rc;
}

/* Commits when rc is STORE_OK (after incrementing the generations of bump),
 * else rolls back keeping rc and its message. */
int
pgi_tx_end(struct pg *p, PGconn *c, int rc, unsigned bump)
{
	return tx_end(p, c, rc, bump, 1);
}

/* -- rows ------------------------------------------------------------------------ */

char *
pgi_col_s(const PGresult *r, int row, int col)
{
	return strdup(PQgetvalue(r, row, col));
}

int64_t
pgi_col_i(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int
pgi_env_of(int64_t v)
{
	return v >= 0 && v < STORE_ENV__MAX ? (int)v : STORE_ENV_SANDBOX;
}

int
pgi_format_of(int64_t v)
{
	return v >= 0 && v < STORE_FORMAT__MAX ? (int)v : STORE_FORMAT_JWT;
}

/* A bytea column (text result, hex form) as a heap copy; NULL for no memory. */
uint8_t *
pgi_col_b(const PGresult *r, int row, int col, size_t *len)
{
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	uint8_t *b;

	*len = 0;
	if (raw == NULL)
		return NULL;
	if ((b = malloc(n > 0 ? n : 1)) != NULL) {
		memcpy(b, raw, n);
		*len = n;
	}
	PQfreemem(raw);
	return b;
}

/* Runs a query on a pooled connection and collects every row into a fresh
 * array of elements of size; on error leaves *out NULL. */
int
pgi_collect(struct pg *p, const char *sql, const struct pv *params, size_t size, row_fn row,
    store_clear_fn clear, void **out, size_t *n, const char *what)
{
	PGconn *c;
	PGresult *r;
	enum pq_kind kind;
	char *arr = NULL;
	int slot, rc, rows;

	*out = NULL;
	*n = 0;
	if ((rc = pgi_acquire(p, &slot, &c, what)) != STORE_OK)
		return rc;
	r = pgi_q(c, sql, params, &kind, &rc, what);
	pgi_release(p, slot);
	if (r == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "%s: failed", what);
	rows = PQntuples(r);
	if (rows > 0 && (arr = calloc((size_t)rows, size)) == NULL) {
		PQclear(r);
		return store_set_error(STORE_ERROR, "%s: out of memory", what);
	}
	for (int i = 0; i < rows; i++)
		if (row(r, i, arr + (size_t)i * size) == -1) {
			for (int k = 0; k <= i; k++)
				clear(arr + (size_t)k * size);
			free(arr);
			PQclear(r);
			return store_set_error(STORE_ERROR, "%s: out of memory", what);
		}
	PQclear(r);
	*out = arr;
	*n = (size_t)rows;
	return STORE_OK;
}

int
pgi_int64_row(const PGresult *r, int i, void *dst)
{
	*(int64_t *)dst = pgi_col_i(r, i, 0);
	return 0;
}

/* Nothing to free: an integer. */
void
pgi_int64_clear(void *dst)
{
	(void)dst;
}

int
pgi_fetch_one(struct pg *p, const char *sql, const struct pv *params, size_t size, row_fn row,
    store_clear_fn clear, void *out, const char *what, const char *notfound)
{
	void *arr = NULL;
	size_t n = 0;
	int rc = pgi_collect(p, sql, params, size, row, clear, &arr, &n, what);

	if (rc != STORE_OK)
		return rc;
	if (n == 0)
		rc = store_set_error(STORE_NOTFOUND, "%s", notfound);
	else
		memcpy(out, arr, size);
	for (size_t i = 1; i < n; i++)
		clear((char *)arr + i * size);
	free(arr);
	return rc;
}

/*
 * One write transaction on a pooled connection: BEGIN, the statement, the
 * generations of bump (always, or with PGI_IF_CHANGED only when rows
 * changed), COMMIT. *changes gets the statement's row count.
 */
int
pgi_write1(struct pg *p, const char *sql, const struct pv *params, unsigned bump, int *changes,
    const char *what, const char *conflict, const char *fkey)
{
	PGconn *c;
	int slot, rc, ch = 0;

	if ((rc = pgi_acquire(p, &slot, &c, what)) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = pgi_run(c, sql, params, &ch, what, conflict, fkey);
		/* A statement that changed no row changed nothing: its callers
		 * answer STORE_NOTFOUND after the commit, so the change's audit
		 * row must not go in with it (SQLite's roll back instead). */
		rc = tx_end(p, c, rc, (bump & PGI_IF_CHANGED) && ch == 0 ? 0 :
		    bump & ~PGI_IF_CHANGED, ch > 0);
	}
	pgi_release(p, slot);
	if (changes != NULL)
		*changes = ch;
	return rc;
}

/* store.h store_engine. */
static void
pg_engine(void *h, char *buf, size_t len)
{
	struct pg *p = h;

	snprintf(buf, len, "PostgreSQL %s, group commit; pool of %d connections",
	    p->server_version, p->pool_size);
}

const struct store_ops store_pgsql_ops = {
	.name = "postgresql",
	.url_has_password = pg_url_has_password,
	.engine = pg_engine,
	.open = pg_open,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.write_probe = pg_write_probe,
	.generation = pg_generation,
	.generation_cached = pg_generation_cached,
	.tenant_create = pg_tenant_create,
	.tenant_get = pg_tenant_get,
	.tenant_list = pg_tenant_list,
	.client_create = pg_client_create,
	.client_get = pg_client_get,
	.client_list = pg_client_list,
	.client_update = pg_client_update,
	.client_set_disabled = pg_client_set_disabled,
	.client_void_tokens = pg_client_void_tokens,
	.client_delete = pg_client_delete,
	.secret_rotate = pg_secret_rotate,
	.secret_list = pg_secret_list,
	.secret_count_due = pg_secret_count_due,
	.secret_update = pg_secret_update,
	.key_add = pg_key_add,
	.key_list = pg_key_list,
	.key_rotate = pg_key_rotate,
	.key_revoke = pg_key_revoke,
	.token_get = pg_token_get,
	.token_list = pg_token_list,
	.token_list_revoked = pg_token_list_revoked,
	.token_list_revoked_since = pg_token_list_revoked_since,
	.token_prune = pg_token_prune,
	.token_latest_expiry = pg_token_latest_expiry,
	.token_revoke = pg_token_revoke,
	.token_revoke_by_name = pg_token_revoke_by_name,
	.commit_tokens = pg_commit_tokens,
	.commit_batch = pg_commit_batch,
	.audit_list = pg_audit_list,
	.audit_scan = pg_audit_scan,
	.audit_prune = pg_audit_prune,
	.audit_seal = pg_audit_seal,
	.idem_begin = pg_idem_begin,
	.idem_finish = pg_idem_finish,
	.idem_release = pg_idem_release,
	.lock_put = pg_lock_put,
	.lock_list = pg_lock_list,
	.lock_clear = pg_lock_clear,
	.lock_cleared = pg_lock_cleared,
	.failure_add = pg_failure_add,
	.failure_reset = pg_failure_reset,
	.failure_pairs = pg_failure_pairs,
	.rate_push = pg_rate_push,
	.rate_pull = pg_rate_pull,
	.clock = pg_clock,
	.shared = 1,
	.connections = pg_connections,
	.approval_create = pg_approval_create,
	.approval_get = pg_approval_get,
	.approval_list = pg_approval_list,
	.approval_transition = pg_approval_transition,
	.approval_claim = pg_approval_claim,
	.approval_unclaimed = pg_approval_unclaimed,
};
