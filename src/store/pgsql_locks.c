/*
 * pgsql_locks.c — the PostgreSQL side of store_lock_*, store_failure_* and
 * store_rate_* (store.h; the contract of each op is in store_backend.h),
 * mirroring sqlite_locks.c: tables locks, lock_failures and rate_totals.
 * Every node reads the same rows, so a lockout earned on one node holds on
 * all; lock writes increment and NOTIFY the locks' own generation in their
 * transaction (STORE_GEN_LOCKS), and the other nodes reload their locks,
 * and nothing else, on it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgsql_internal.h"

#define PG_NOW "floor(extract(epoch FROM clock_timestamp()))::bigint"

/* The locks' generation the open transaction makes (pgi_tx_end increments
 * it), its row locked FOR UPDATE until the commit: a concurrent lock
 * write or clear waits, then reads the next number, so no two take the
 * same one and they commit in its order (a reader of "gen > N" misses
 * none). */
static int
next_gen(PGconn *c, int64_t *gen)
{
	enum pq_kind kind;
	PGresult *r;
	int rc = STORE_OK;

	r = pgi_q(c, "SELECT value + 1 FROM meta WHERE key = 'lock_generation' FOR UPDATE", NULL,
	    &kind, &rc, "locks generation");
	if (r == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "locks generation: failed");
	if (PQntuples(r) == 1)
		*gen = pgi_col_i(r, 0, 0);
	else
		rc = store_set_error(STORE_ERROR, "locks: no lock_generation row");
	PQclear(r);
	return rc;
}

int
pg_lock_put(void *h, const struct store_lock *lk, size_t n, uint64_t *gen)
{
	struct pv prune = { 0 };
	int64_t newest = lk[0].created_at, g = 0;
	PGconn *c;
	int slot, rc;

	for (size_t i = 1; i < n; i++)
		if (lk[i].created_at > newest)
			newest = lk[i].created_at;
	pv_i(&prune, newest - STORE_LOCK_PRUNE_AFTER);	/* store.h */
	pv_i(&prune, STORE_LOCK_PRUNE_AFTER);
	if ((rc = pgi_acquire(h, &slot, &c, "locks put")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = next_gen(c, &g);
		/* Ended by the writer's clock and by the database's: by the
		 * writer's alone, a node whose clock ran ahead (2000 s) pruned
		 * locks still in force on the others from every node's list. */
		if (rc == STORE_OK)
			rc = pgi_run(c, "DELETE FROM locks WHERE until <= LEAST($1, " PG_NOW " - $2)",
			    &prune, NULL, "locks prune", NULL, NULL);
		/* Two nodes putting the same lock at once: the upsert takes the
		 * row lock, the later until wins either way. */
		for (size_t i = 0; i < n && rc == STORE_OK; i++) {
			struct pv v = { 0 };
			pv_i(&v, lk[i].kind);
			pv_s(&v, lk[i].address);
			pv_s(&v, lk[i].client_id);
			pv_i(&v, lk[i].created_at);
			pv_i(&v, lk[i].until);
			pv_i(&v, g);
			rc = pgi_run(c, "INSERT INTO locks (kind, address, client_id, created_at, until,"
			    " gen) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (kind, address, client_id)"
			    " DO UPDATE SET created_at = EXCLUDED.created_at,"
			    " until = GREATEST(locks.until, EXCLUDED.until), gen = EXCLUDED.gen", &v,
			    NULL, "locks put", "locks put: conflict", NULL);
		}
		/* One step of the locks' generation for the batch: to g. */
		rc = pgi_tx_end(h, c, rc, STORE_GEN_BIT(STORE_GEN_LOCKS));
	}
	pgi_release(h, slot);
	if (rc == STORE_OK)
		*gen = (uint64_t)g;
	return rc;
}

/* A row of lock_clears: '' is "any" (NULL). */
static int
cleared_row(const PGresult *r, int i, void *dst)
{
	struct store_lock_cleared *c = dst;

	c->gen = (uint64_t)pgi_col_i(r, i, 0);
	c->cleared_at = pgi_col_i(r, i, 3);
	if (PQgetlength(r, i, 1) > 0 && (c->address = pgi_col_s(r, i, 1)) == NULL)
		return -1;
	if (PQgetlength(r, i, 2) > 0 && (c->client_id = pgi_col_s(r, i, 2)) == NULL)
		return -1;
	return 0;
}

int
pg_lock_cleared(void *h, uint64_t since, int64_t limit, struct store_lock_cleared **out,
    size_t *n)
{
	struct pv v = { 0 };

	pv_i(&v, (int64_t)since);
	pv_i(&v, limit);
	return pgi_collect(h, "SELECT gen, address, client_id, cleared_at FROM lock_clears"
	    " WHERE gen > $1 ORDER BY gen LIMIT $2", &v, sizeof(**out), cleared_row,
	    store_lock_cleared_clear_v, (void **)out, n, "locks cleared");
}

static int
lock_row(const PGresult *r, int i, void *dst)
{
	struct store_lock *l = dst;

	l->kind = (enum store_lock_kind)pgi_col_i(r, i, 0);
	l->address = pgi_col_s(r, i, 1);
	l->client_id = pgi_col_s(r, i, 2);
	l->created_at = pgi_col_i(r, i, 3);
	l->until = pgi_col_i(r, i, 4);
	l->gen = (uint64_t)pgi_col_i(r, i, 5);
	return l->address && l->client_id ? 0 : -1;
}

/* The page after ($3, $4, $5) through locks_page (migration 15), of
 * tenant $7's clients' pair locks (kind 0, STORE_LOCK_PAIR) when given.
 * Kinds a newer binary wrote are not ours to show (as on SQLite). */
#define LOCK_PAGE_SQL(tenant)							\
	"SELECT kind, address, client_id, created_at, until, gen FROM locks"	\
	" WHERE until > $1 AND kind >= 0 AND kind < $2 AND address >= $3"	\
	" AND (address > $3 OR (address = $3 AND (client_id > $4"		\
	" OR (client_id = $4 AND kind > $5))))" tenant				\
	" ORDER BY address, client_id, kind LIMIT $6"

int
pg_lock_list(void *h, int64_t now, const char *tenant_id, const char *after_address,
    const char *after_client_id, int after_kind, int64_t limit, struct store_lock **out,
    size_t *n)
{
	struct pv v = { 0 };

	pv_i(&v, now);
	pv_i(&v, STORE_LOCK_KIND__MAX);
	pv_s(&v, after_address);
	pv_s(&v, after_client_id);
	pv_i(&v, after_kind);
	pv_i(&v, limit);
	if (tenant_id == NULL)
		return pgi_collect(h, LOCK_PAGE_SQL(""), &v, sizeof(**out), lock_row,
		    store_lock_clear_v, (void **)out, n, "locks list");
	pv_s(&v, tenant_id);
	return pgi_collect(h, LOCK_PAGE_SQL(" AND kind = 0 AND client_id IN (SELECT id FROM clients"
	    " WHERE tenant_id = $7)"), &v, sizeof(**out), lock_row, store_lock_clear_v,
	    (void **)out, n, "locks list");
}

int
pg_lock_clear(void *h, const char *address, const char *client_id, int64_t now, int *count)
{
	/* NULL binds NULL: "$1 IS NULL OR address = $1" is then true. */
#define FILTER " WHERE ($1::text IS NULL OR address = $1) AND ($2::text IS NULL OR" \
	" (kind = 0 AND client_id = $2))"
	struct pv v = { 0 };
	PGconn *c;
	PGresult *r;
	struct pv rec = { 0 };
	enum pq_kind kind;
	int64_t g = 0;
	int slot, rc, live = 0;

	pv_opt(&v, address);
	pv_opt(&v, client_id);
	pv_i(&v, now);
	if ((rc = pgi_acquire(h, &slot, &c, "locks clear")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) != STORE_OK)
		goto out;
	if ((rc = next_gen(c, &g)) == STORE_OK) {
		/* The count of live rows removed comes from the DELETE itself:
		 * no window between counting and deleting. */
		r = pgi_q(c, "WITH d AS (DELETE FROM locks" FILTER " RETURNING until)"
		    " SELECT count(*) FILTER (WHERE until > $3) FROM d", &v, &kind, &rc,
		    "locks clear");
		if (r == NULL && kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "locks clear: failed");
		if (r != NULL) {
			live = (int)pgi_col_i(r, 0, 0);
			PQclear(r);
		}
		/* The clear itself, recorded whatever it removed here, on the
		 * database's clock (sqlite_locks.c, store.h). */
		pv_i(&rec, g);
		pv_s(&rec, address != NULL ? address : "");
		pv_s(&rec, client_id != NULL ? client_id : "");
		pv_i(&rec, STORE_LOCK_CLEARED_KEEP);
		if (rc == STORE_OK)
			rc = pgi_run(c, "WITH p AS (DELETE FROM lock_clears WHERE cleared_at <= "
			    PG_NOW " - $4) INSERT INTO lock_clears (gen, address, client_id,"
			    " cleared_at) VALUES ($1, $2, $3, " PG_NOW ")", &rec, NULL,
			    "locks clear record", NULL, NULL);
	}
	rc = pgi_tx_end(h, c, rc, STORE_GEN_BIT(STORE_GEN_LOCKS));
out:
	pgi_release(h, slot);
	if (rc == STORE_OK)
		*count = live;
	return rc;
#undef FILTER
}

/* A failure costs one round trip: the upsert restarts an ended window
 * itself (CASE), so the prune of ended rows need not run every time. */
#define FAILURE_PRUNE_EVERY 64

int
pg_failure_add(void *h, const struct store_failure_key *k, size_t n, int64_t now,
    int64_t window, int64_t *counts)
{
	static _Atomic unsigned calls;
	char sql[1024];
	size_t used;
	struct pv v = { 0 };
	PGresult *r;
	enum pq_kind kind;
	int rc = STORE_OK;

	pv_i(&v, now);			/* $1 */
	pv_i(&v, now - window);		/* $2: a window starting at or before it has ended */
	used = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO lock_failures (kind, address,"
	    " client_id, window_start, failures) VALUES ");
	for (size_t i = 0; i < n; i++) {
		pv_i(&v, k[i].kind);
		pv_s(&v, k[i].address);
		pv_s(&v, k[i].client_id);
		used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s($%zu, $%zu, $%zu, $1, 1)",
		    i ? ", " : "", 3 + 3 * i, 4 + 3 * i, 5 + 3 * i);
	}
	snprintf(sql + used, sizeof(sql) - used, " ON CONFLICT (kind, address, client_id) DO UPDATE SET"
	    " failures = CASE WHEN lock_failures.window_start <= $2 THEN 1"
	    " ELSE lock_failures.failures + 1 END,"
	    " window_start = CASE WHEN lock_failures.window_start <= $2 THEN $1"
	    " ELSE lock_failures.window_start END"
	    " RETURNING kind, address, client_id, failures");
	{
		PGconn *c;
		int slot;
		if ((rc = pgi_acquire(h, &slot, &c, "failures add")) != STORE_OK)
			return rc;
		r = pgi_q(c, sql, &v, &kind, &rc, "failures add");
		if (r == NULL && kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "failures add: failed");
		if (r != NULL) {
			for (size_t i = 0; i < n; i++) {
				counts[i] = 0;
				for (int row = 0; row < PQntuples(r); row++)
					if (pgi_col_i(r, row, 0) == (int64_t)k[i].kind &&
					    strcmp(PQgetvalue(r, row, 1), k[i].address) == 0 &&
					    strcmp(PQgetvalue(r, row, 2), k[i].client_id) == 0)
						counts[i] = pgi_col_i(r, row, 3);
			}
			PQclear(r);
		}
		if (rc == STORE_OK && atomic_fetch_add(&calls, 1) % FAILURE_PRUNE_EVERY == 0) {
			struct pv p = { 0 };
			pv_i(&p, now - window);
			rc = pgi_run(c, "DELETE FROM lock_failures WHERE window_start <= $1", &p, NULL,
			    "failures prune", NULL, NULL);
		}
		pgi_release(h, slot);
	}
	return rc;
}

int
pg_failure_reset(void *h, const struct store_failure_key *k, size_t n)
{
	int rc = STORE_OK;

	for (size_t i = 0; i < n && rc == STORE_OK; i++) {
		struct pv v = { 0 };
		pv_i(&v, k[i].kind);
		pv_s(&v, k[i].address);
		pv_s(&v, k[i].client_id);
		rc = pgi_write1(h, "DELETE FROM lock_failures WHERE kind = $1 AND address = $2"
		    " AND client_id = $3", &v, 0, NULL, "failures reset", NULL, NULL);
	}
	return rc;
}

static int
failure_row(const PGresult *r, int i, void *dst)
{
	struct store_failure_row *x = dst;

	x->address = pgi_col_s(r, i, 0);
	x->client_id = pgi_col_s(r, i, 1);
	x->window_start = pgi_col_i(r, i, 2);
	x->failures = pgi_col_i(r, i, 3);
	return x->address && x->client_id ? 0 : -1;
}

int
pg_failure_pairs(void *h, int64_t since, size_t max, struct store_failure_row **out,
    size_t *n)
{
	struct pv v = { 0 };

	pv_i(&v, STORE_LOCK_PAIR);
	pv_i(&v, since);
	pv_i(&v, (int64_t)max);
	return pgi_collect(h, "SELECT address, client_id, window_start, failures FROM lock_failures"
	    " WHERE kind = $1 AND window_start > $2 AND failures > 0"
	    " ORDER BY window_start DESC LIMIT $3", &v, sizeof(**out), failure_row,
	    store_failure_clear_v, (void **)out, n, "failures list");
}

int
pg_rate_push(void *h, const char *node, const struct store_rate *rows, size_t n, int64_t now)
{
	struct pv prune = { 0 };
	PGconn *c;
	int slot, rc;

	pv_i(&prune, now - 300);
	if ((rc = pgi_acquire(h, &slot, &c, "rates push")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = pgi_run(c, "DELETE FROM rate_totals WHERE updated_at <= $1", &prune, NULL,
		    "rates prune", NULL, NULL);
		for (size_t i = 0; i < n && rc == STORE_OK; i++) {
			struct pv v = { 0 };
			pv_s(&v, rows[i].client_id);
			pv_s(&v, node);
			pv_i(&v, rows[i].taken);
			pv_i(&v, now);
			rc = pgi_run(c, "INSERT INTO rate_totals (client_id, node, taken, updated_at)"
			    " VALUES ($1, $2, $3, $4) ON CONFLICT (client_id, node) DO UPDATE SET"
			    " taken = rate_totals.taken + EXCLUDED.taken, updated_at = EXCLUDED.updated_at",
			    &v, NULL, "rates push", NULL, NULL);
		}
		rc = pgi_tx_end(h, c, rc, 0);
	}
	pgi_release(h, slot);
	return rc;
}

static int
rate_row(const PGresult *r, int i, void *dst)
{
	struct store_rate *x = dst;

	x->client_id = pgi_col_s(r, i, 0);
	x->node = pgi_col_s(r, i, 1);
	x->taken = pgi_col_i(r, i, 2);
	return x->client_id && x->node ? 0 : -1;
}

int
pg_rate_pull(void *h, const char *not_node, int64_t since, struct store_rate **out, size_t *n)
{
	struct pv v = { 0 };

	pv_s(&v, not_node);
	pv_i(&v, since);
	return pgi_collect(h, "SELECT client_id, node, taken FROM rate_totals"
	    " WHERE node <> $1 AND updated_at >= $2", &v, sizeof(**out), rate_row,
	    store_rate_clear_v, (void **)out, n, "rates pull");
}

/* The server's clock at the statement (clock_timestamp, not the
 * transaction's now()), in whole seconds. */
int
pg_clock(void *h, int64_t *now)
{
	enum pq_kind kind;
	PGresult *r;
	PGconn *c;
	int slot, rc;

	if ((rc = pgi_acquire(h, &slot, &c, "clock")) != STORE_OK)
		return rc;
	r = pgi_q(c, "SELECT " PG_NOW, NULL, &kind, &rc, "clock");
	if (r != NULL) {
		rc = PQntuples(r) == 1 && !PQgetisnull(r, 0, 0) ? STORE_OK :
		    store_set_error(STORE_ERROR, "clock: no row");
		if (rc == STORE_OK)
			*now = pgi_col_i(r, 0, 0);
		PQclear(r);
	} else if (kind != PQ_FAIL)
		rc = store_set_error(STORE_ERROR, "clock: failed");
	pgi_release(h, slot);
	return rc;
}
