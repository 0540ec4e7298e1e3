/*
 * pgsql_tokens.c — the PostgreSQL side of store_token_* and of the group
 * commit (store_backend.h commit_tokens and commit_batch, which writer.c
 * calls from its thread only, on the connection p->w of its own), table
 * tokens. A batch goes in with one statement (unnest of arrays, ON
 * CONFLICT (id) DO NOTHING RETURNING id): one round trip, one commit; with
 * audit rows (pgsql_audit.c), two pipelined round trips and one commit.
 * Revocations move the generation, and record the value they moved it to
 * (every node reads the tokens revoked since its set's generation on it);
 * recording and pruning tokens do not.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/pgsql_internal.h"

#define TOKEN_COLS "id, client_id, tenant_id, name, format, env, scope, aud, issued_at," \
	" expires_at, revoked_at"

/* -- tokens ---------------------------------------------------------------------- */

static int
token_row(const PGresult *r, int i, void *dst)
{
	struct store_token *t = dst;

	t->id = pgi_col_s(r, i, 0);
	t->client_id = pgi_col_s(r, i, 1);
	t->tenant_id = pgi_col_s(r, i, 2);
	t->name = pgi_col_s(r, i, 3);
	t->format = (enum store_format)pgi_format_of(pgi_col_i(r, i, 4));
	t->env = (enum store_env)pgi_env_of(pgi_col_i(r, i, 5));
	t->scope = pgi_col_s(r, i, 6);
	t->aud = pgi_col_s(r, i, 7);
	t->issued_at = pgi_col_i(r, i, 8);
	t->expires_at = pgi_col_i(r, i, 9);
	t->revoked_at = pgi_col_i(r, i, 10);
	return t->id && t->client_id && t->tenant_id && t->name && t->scope && t->aud ? 0 : -1;
}

int
pg_token_get(void *h, const char *id, struct store_token *out)
{
	struct pv v = { 0 };

	pv_s(&v, id);
	return pgi_fetch_one(h, "SELECT " TOKEN_COLS " FROM tokens WHERE id = $1", &v, sizeof(*out),
	    token_row, store_token_clear_v, out, "token get", "no such token");
}

int
pg_token_list(void *h, const char *client_id, int64_t after_issued, const char *after_id,
    size_t limit, struct store_token **out, size_t *n)
{
	struct pv v = { 0 };

	pv_s(&v, client_id);
	pv_i(&v, after_issued);
	pv_s(&v, after_id);
	pv_i(&v, (int64_t)limit);
	/* One page after the cursor ($2, $3), through tokens_client. The
	 * planner does not draw a bound on issued_at from the OR: without
	 * issued_at >= $2 the index scan starts at the client's first record
	 * and filters its way to the cursor, every page (21 ms against
	 * 0.1 ms at 100,000 records in, PostgreSQL 15). */
	return pgi_collect(h, "SELECT " TOKEN_COLS " FROM tokens WHERE client_id = $1"
	    " AND issued_at >= $2 AND (issued_at > $2 OR (issued_at = $2 AND id > $3))"
	    " ORDER BY issued_at, id LIMIT $4", &v, sizeof(**out), token_row,
	    store_token_clear_v, (void **)out, n, "token list");
}

int
pg_token_list_revoked(void *h, int64_t now, size_t limit, struct store_token **out, size_t *n)
{
	struct pv v = { 0 };

	/* Served by the partial index tokens_revoked (migration 2). */
	pv_i(&v, now);
	pv_i(&v, (int64_t)limit);
	return pgi_collect(h, "SELECT " TOKEN_COLS " FROM tokens WHERE revoked_at <> 0"
	    " AND expires_at > $1 LIMIT $2", &v, sizeof(**out), token_row, store_token_clear_v,
	    (void **)out, n, "token list revoked");
}

int
pg_token_list_revoked_since(void *h, uint64_t since, int64_t now, size_t limit,
    struct store_token **out, size_t *n)
{
	struct pv v = { 0 };

	/* Through the partial index tokens_revoked_gen (migration 18). The
	 * "+ 0" keeps the planner off tokens_expiry and tokens_revoked: without
	 * statistics (revocations in bulk before autovacuum's ANALYZE) it took
	 * tokens_expiry and read every unexpired row again, 20,000 of them per
	 * revocation in bench/revoked_reload.py. */
	pv_i(&v, (int64_t)since);
	pv_i(&v, now);
	pv_i(&v, (int64_t)limit);
	return pgi_collect(h, "SELECT " TOKEN_COLS " FROM tokens WHERE revoked_at <> 0"
	    " AND revoked_gen > $1 AND expires_at + 0 > $2 LIMIT $3", &v,
	    sizeof(**out), token_row,
	    store_token_clear_v, (void **)out, n, "token list revoked since");
}

/*
 * The revocations' generation the revoking transaction makes (pgi_tx_end
 * adds 1 to the row read here). FOR UPDATE: the row stays locked until
 * the commit, so two revocations at once do not both read N and record
 * N + 1 (one of them would be N + 2 in meta, and a node that had loaded
 * N + 1 would never read the other). Under READ COMMITTED the waiting one
 * reads the value the first committed. Taken before any token row is
 * locked (the SET is computed before the row is updated): no deadlock.
 */
#define PG_REVOKED_GEN_NEXT "(SELECT value + 1 FROM meta WHERE key = 'revocation_generation'" \
	" FOR UPDATE)"

int
pg_token_revoke(void *h, const char *id, int64_t at)
{
	struct pg *p = h;
	struct pv v = { 0 };
	PGconn *c;
	PGresult *r;
	enum pq_kind kind;
	int slot, rc, changes = 0;

	pv_i(&v, at);
	pv_s(&v, id);
	if ((rc = pgi_acquire(p, &slot, &c, "token revoke")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = pgi_run(c, "UPDATE tokens SET revoked_at = $1, revoked_gen = " PG_REVOKED_GEN_NEXT
		    " WHERE id = $2 AND revoked_at = 0", &v,
		    &changes, "token revoke", "token revoke: constraint failed", NULL);
		if (rc == STORE_OK && changes == 0) {
			/* Already revoked is success; absent is not. */
			struct pv e = { 0 };
			pv_s(&e, id);
			if ((r = pgi_q(c, "SELECT 1 FROM tokens WHERE id = $1", &e, &kind, &rc,
			    "token revoke")) == NULL)
				rc = kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR,
				    "token revoke: the lookup failed");
			else {
				if (PQntuples(r) == 0)
					rc = store_set_error(STORE_NOTFOUND, "no such token");
				PQclear(r);
			}
		}
		/* Revocations move their own generation: the gate's caches
		 * reload on it, and nothing else. */
		rc = pgi_tx_end(p, c, rc, changes > 0 ? STORE_GEN_BIT(STORE_GEN_REVOKED) : 0);
	}
	pgi_release(p, slot);
	return rc;
}

int
pg_token_revoke_by_name(void *h, const char *client_id, const char *name, int64_t at, int *count)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, at);
	pv_s(&v, name);
	if (client_id != NULL)
		pv_s(&v, client_id);
	rc = pgi_write1(h, client_id != NULL ?
	    "UPDATE tokens SET revoked_at = $1, revoked_gen = " PG_REVOKED_GEN_NEXT
	    " WHERE name = $2 AND client_id = $3 AND revoked_at = 0" :
	    "UPDATE tokens SET revoked_at = $1, revoked_gen = " PG_REVOKED_GEN_NEXT
	    " WHERE name = $2 AND revoked_at = 0", &v,
	    STORE_GEN_BIT(STORE_GEN_REVOKED) | PGI_IF_CHANGED, &changes,
	    "token revoke", "token revoke: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "no live token named %.64s", name);
	if (rc == STORE_OK)
		*count = changes;
	return rc;
}

int
pg_token_prune(void *h, int64_t expired_before, int64_t limit, int64_t *pruned)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, expired_before);
	pv_i(&v, limit);
	/* Served by tokens_expiry (migration 9). */
	rc = pgi_write1(h, "DELETE FROM tokens WHERE id IN"
	    " (SELECT id FROM tokens WHERE expires_at < $1 LIMIT $2)", &v, 0, &changes,
	    "token prune", "token prune: constraint failed", NULL);
	*pruned = rc == STORE_OK ? changes : 0;
	return rc;
}

int
pg_token_latest_expiry(void *h, int env, int64_t now, int64_t *latest)
{
	struct pv v = { 0 };
	int rc;

	pv_i(&v, now);
	pv_i(&v, env);
	pv_i(&v, STORE_FORMAT_JWT);
	/* tokens_expiry from its end down to $1: the live records only. */
	rc = pgi_fetch_one(h, "SELECT expires_at FROM tokens WHERE expires_at > $1 AND env = $2"
	    " AND format = $3 ORDER BY expires_at DESC LIMIT 1", &v, sizeof(*latest), pgi_int64_row,
	    pgi_int64_clear, latest, "token latest expiry", "no live token");
	if (rc == STORE_NOTFOUND) {
		*latest = 0;
		rc = STORE_OK;
	}
	return rc;
}

/* -- the group commit (writer thread only) ---------------------------------------- */

/* Record indexes sorted by id, to match the ids RETURNING gives back. Per
 * thread: each open store has its own writer thread (a process may hold
 * several, as the tests and store copy do). */
static _Thread_local const struct store_token *sort_base;

static int
by_id(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_base[x].id, sort_base[y].id);

	return c != 0 ? c : (x < y ? -1 : x > y);
}

#define TOKENS_INSERT_SQL "INSERT INTO tokens (" TOKEN_COLS ") SELECT * FROM unnest($1::text[]," \
	" $2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[], $7::text[]," \
	" $8::text[], $9::bigint[], $10::bigint[], $11::bigint[])" \
	" ON CONFLICT (id) DO NOTHING RETURNING id"

/* errs[i] of the records that went in (r: the insert's RETURNING id) set to
 * STORE_OK, of the others (still STORE_CONFLICT) to a duplicate's error. */
static int
mark_recorded(const struct store_token *t, size_t n, int *errs, size_t m, const PGresult *r)
{
	size_t *ix = malloc(m * sizeof(*ix));

	if (ix == NULL)
		return store_set_error(STORE_ERROR, "token record: out of memory");
	for (size_t i = 0, j = 0; i < n; i++)
		if (errs[i] == STORE_CONFLICT)
			ix[j++] = i;
	sort_base = t;
	qsort(ix, m, sizeof(*ix), by_id);
	for (int row = 0; row < PQntuples(r); row++) {
		const char *id = PQgetvalue(r, row, 0);
		size_t lo = 0, hi = m;
		while (lo < hi) {	/* the first record with this id */
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(t[ix[mid]].id, id) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < m && strcmp(t[ix[lo]].id, id) == 0)
			errs[ix[lo]] = STORE_OK;
	}
	for (size_t i = 0; i < m; i++)
		if (errs[ix[i]] == STORE_CONFLICT)
			errs[ix[i]] = store_set_error(STORE_CONFLICT, "token %.64s is already recorded",
			    t[ix[i]].id);
	free(ix);
	return STORE_OK;
}

/*
 * The batch with audit rows, in one transaction and two round trips (each
 * a pipeline): BEGIN, the tokens (tv, when m > 0), the chain lock and the
 * chain head; then, the rows chained after that head, their insert and
 * COMMIT. The head is read by a statement of its own after the lock's, so
 * at READ COMMITTED it sees every append committed before the lock was
 * granted: nodes never fork the chain.
 */
static int
commit_with_audit(struct pg *p, const struct store_token *t, size_t n, int *errs, size_t m,
    const struct pv *tv, const struct store_audit_key *key, const struct store_audit *au,
    size_t na)
{
	struct pipe_stmt st[4];
	struct pg_audit_rows w;
	struct pv lock = { 0 };
	PGresult *res[4];
	uint8_t head[32];
	int64_t seq = 0;
	size_t ns = 0, ti = 0;
	int rc, timed_out;

	pg_audit_lock_param(&lock);
	st[ns++] = (struct pipe_stmt){ "BEGIN", NULL };
	if (m > 0) {
		ti = ns;
		st[ns++] = (struct pipe_stmt){ TOKENS_INSERT_SQL, tv };
	}
	st[ns++] = (struct pipe_stmt){ pg_audit_lock_sql, &lock };
	st[ns++] = (struct pipe_stmt){ pg_audit_head_sql, NULL };
	pgi_exec_pipeline(p->w, st, ns, res, &timed_out);
	rc = pgi_pipe_outcome(p->w, res[0], PGRES_COMMAND_OK, timed_out, "begin", NULL);
	if (rc == STORE_OK && m > 0)
		rc = pgi_pipe_outcome(p->w, res[ti], PGRES_TUPLES_OK, timed_out, "token record", NULL);
	if (rc == STORE_OK)
		rc = pgi_pipe_outcome(p->w, res[ns - 2], PGRES_TUPLES_OK, timed_out, "audit: chain lock",
		    NULL);
	if (rc == STORE_OK)
		rc = pgi_pipe_outcome(p->w, res[ns - 1], PGRES_TUPLES_OK, timed_out, "audit: chain head",
		    NULL);
	if (rc == STORE_OK && m > 0)
		rc = mark_recorded(t, n, errs, m, res[ti]);
	if (rc == STORE_OK)
		pg_audit_head(res[ns - 1], &seq, head);
	for (size_t k = 0; k < ns; k++)
		PQclear(res[k]);
	if (rc != STORE_OK || (rc = pg_audit_rows(&w, key, au, na, seq, head)) != STORE_OK)
		return rc;
	st[0] = (struct pipe_stmt){ pg_audit_insert_sql, &w.v };
	st[1] = (struct pipe_stmt){ "COMMIT", NULL };
	pgi_exec_pipeline(p->w, st, 2, res, &timed_out);
	rc = pgi_pipe_outcome(p->w, res[0], PGRES_COMMAND_OK, timed_out, "audit: append",
	    PG_AUDIT_SEQ_TAKEN);
	if (rc == STORE_OK)
		rc = pgi_pipe_outcome(p->w, res[1], PGRES_COMMAND_OK, timed_out, "commit", NULL);
	/* A COMMIT that answers anything but COMMIT (a failed transaction
	 * answers ROLLBACK) did not commit. */
	if (rc == STORE_OK && strcmp(PQcmdStatus(res[1]), "COMMIT") != 0)
		rc = store_set_error(STORE_ERROR, "commit: the transaction was rolled back");
	PQclear(res[0]);
	PQclear(res[1]);
	pg_audit_rows_free(&w);
	return rc;
}

/* The batch's columns, one array literal each (pgi_arr). */
enum { A_ID, A_CLIENT, A_TENANT, A_NAME, A_FORMAT, A_ENV, A_SCOPE, A_AUD, A_ISSUED,
    A_EXPIRES, A_REVOKED, A__MAX };

/* PostgreSQL refuses text that is not UTF-8, and would fail the whole
 * batch: such a record (nothing validates every field upstream) fails
 * alone, before the statement. errs[i] is STORE_CONFLICT for a record to
 * send (until the insert says otherwise); how many there are. */
static size_t
utf8_sort(const struct store_token *t, size_t n, int *errs)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		const char *f[6] = { t[i].id, t[i].client_id, t[i].tenant_id, t[i].name,
		    t[i].scope, t[i].aud };
		int ok = 1;
		for (int k = 0; k < 6 && ok; k++)
			ok = pgi_utf8_valid(f[k] != NULL ? f[k] : "");
		errs[i] = ok ? STORE_CONFLICT : store_set_error(STORE_ERROR,
		    "token record: a field is not valid UTF-8");
		m += ok;
	}
	return m;
}

/* The records to send (errs[i] STORE_CONFLICT) as the column arrays a[]. */
static void
token_arrays(const struct store_token *t, size_t n, const int *errs, struct pgi_arr a[A__MAX])
{
	for (int k = 0; k < A__MAX; k++)
		pgi_arr_put(&a[k], "{", 1);
	for (size_t i = 0, j = 0; i < n; i++) {
		int first = j == 0;
		if (errs[i] != STORE_CONFLICT)
			continue;
		j++;
		pgi_arr_s(&a[A_ID], t[i].id, first);
		pgi_arr_s(&a[A_CLIENT], t[i].client_id, first);
		pgi_arr_s(&a[A_TENANT], t[i].tenant_id, first);
		pgi_arr_s(&a[A_NAME], t[i].name, first);
		pgi_arr_i(&a[A_FORMAT], t[i].format, first);
		pgi_arr_i(&a[A_ENV], t[i].env, first);
		pgi_arr_s(&a[A_SCOPE], t[i].scope, first);
		pgi_arr_s(&a[A_AUD], t[i].aud, first);
		pgi_arr_i(&a[A_ISSUED], t[i].issued_at, first);
		pgi_arr_i(&a[A_EXPIRES], t[i].expires_at, first);
		pgi_arr_i(&a[A_REVOKED], t[i].revoked_at, first);
	}
}

/* Tokens, then the audit rows of the batch (pgsql_audit.c), one commit:
 * with no audit rows the insert is a transaction of its own. */
int
pg_commit_batch(void *h, const struct store_token *t, size_t n, int *errs,
    const struct store_audit_key *key, const struct store_audit *au, size_t na)
{
	struct pg *p = h;
	struct pgi_arr a[A__MAX];
	struct pv v = { 0 };
	size_t m;
	PGresult *r = NULL;
	enum pq_kind kind;
	int rc = STORE_ERROR;

	memset(a, 0, sizeof(a));
	if (n == 0 && na == 0)
		return STORE_OK;
	if ((rc = pgi_ensure(p, &p->w, "token record")) != STORE_OK)
		return rc;
	m = utf8_sort(t, n, errs);
	if (m > 0) {
		token_arrays(t, n, errs, a);
		if (pgi_arr_bind(a, A__MAX, &v) == -1) {
			rc = store_set_error(STORE_ERROR, "token record: out of memory");
			goto out;
		}
	}
	if (na > 0) {
		rc = commit_with_audit(p, t, n, errs, m, &v, key, au, na);
		goto out;
	}
	if (m == 0) {
		rc = STORE_OK;
		goto out;
	}
	/* One statement is one transaction and one commit (synchronous_commit
	 * as the server has it: on by default). A duplicate id skips that
	 * record only; RETURNING names the ones that went in. */
	if ((r = pgi_q(p->w, TOKENS_INSERT_SQL, &v, &kind, &rc, "token record")) == NULL) {
		if (kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "token record: constraint failed");
		goto out;
	}
	rc = mark_recorded(t, n, errs, m, r);
out:
	if (rc != STORE_OK && na > 0 && PQstatus(p->w) == CONNECTION_OK &&
	    PQtransactionStatus(p->w) != PQTRANS_IDLE)
		pgi_rollback(p->w);
	PQclear(r);
	for (int k = 0; k < A__MAX; k++)
		free(a[k].p);
	return rc;
}

int
pg_commit_tokens(void *h, const struct store_token *t, size_t n, int *errs)
{
	return pg_commit_batch(h, t, n, errs, NULL, NULL, 0);
}
