/*
 * sqlite_locks.c — the SQLite side of store_lock_*, store_failure_* and
 * store_rate_* (store.h; the contract of each op is in store_backend.h):
 * tables locks, lock_failures and rate_totals.
 * Locks are made rarely (after several bad credentials) and listed on a
 * generation change, so statements are prepared per call rather than
 * cached with the core file's. Writes run in one IMMEDIATE transaction with
 * the generation increment, on the main connection under its mutex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* Commits, with the locks' generation incremented when bump (not the
 * data's: a lock empties no other cache), else rolls back. */
static int
finish(void *h, sqlite3 *db, int rc, int bump)
{
	return sq_tx_end(h, db, rc, bump ? STORE_GEN_BIT(STORE_GEN_LOCKS) : 0, "locks commit");
}

/* The locks' generation the open write transaction makes (finish with
 * bump increments it): BEGIN IMMEDIATE holds the write lock, so no other
 * writer takes the same number. */
static int
next_gen(sqlite3 *db, int64_t *gen)
{
	sqlite3_stmt *st;
	int rc, src;

	if ((rc = sq_prep(db, "locks", "SELECT value + 1 FROM meta WHERE key = 'lock_generation'",
	    &st, SQ_NO_ARGS)) != STORE_OK)
		return rc;
	if ((src = sqlite3_step(st)) == SQLITE_ROW)
		*gen = sqlite3_column_int64(st, 0);
	else
		rc = src == SQLITE_DONE ? store_set_error(STORE_ERROR, "locks: no lock_generation row") :
		    sq_error(db, src, "locks generation");
	sqlite3_finalize(st);
	return rc;
}

int
sq_lock_put(void *h, const struct store_lock *lk, size_t n, uint64_t *gen)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	int64_t newest = lk[0].created_at, g = 0;
	int rc, src = SQLITE_OK;

	for (size_t i = 1; i < n; i++)
		if (lk[i].created_at > newest)
			newest = lk[i].created_at;
	if ((rc = sq_begin_write(db, "locks begin")) != STORE_OK)
		goto out;
	rc = next_gen(db, &g);
	if (rc == STORE_OK && (rc = sq_prep(db, "locks",
	    "DELETE FROM locks WHERE until <= ?", &st,
	    SQ_ARGS(SQ_INT(newest - STORE_LOCK_PRUNE_AFTER)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "locks prune");
	if (rc == STORE_OK && (rc = sq_prep(db, "locks",
	    "INSERT INTO locks (kind, address, client_id,"
	    " created_at, until, gen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, address, client_id)"
	    " DO UPDATE SET created_at = excluded.created_at,"
	    " until = max(locks.until, excluded.until), gen = excluded.gen", &st,
	    SQ_NO_ARGS)) == STORE_OK) {
		/* One statement, re-bound for each lock of the batch. */
		for (size_t i = 0; i < n && src == SQLITE_OK; i++)
			if ((src = sq_rebind(st, SQ_ARGS(SQ_INT(lk[i].kind), SQ_TEXT(lk[i].address),
			    SQ_TEXT(lk[i].client_id), SQ_INT(lk[i].created_at),
			    SQ_INT(lk[i].until), SQ_INT(g)))) == SQLITE_OK &&
			    (src = sqlite3_step(st)) == SQLITE_DONE)
				src = SQLITE_OK;
		if (src != SQLITE_OK)
			rc = sq_error(db, src, "locks put");
		sqlite3_finalize(st);
	}
	if ((rc = finish(h, db, rc, 1)) == STORE_OK)
		*gen = (uint64_t)g;
out:
	sq_main_unlock(h);
	return rc;
}

/* A row of locks; 1 (skipped) for a kind a newer binary wrote: not ours
 * to show. */
static int
lock_row(sqlite3_stmt *st, void *dst)
{
	struct store_lock *l = dst;
	int kind = sqlite3_column_int(st, 0);

	if (kind < 0 || kind >= STORE_LOCK_KIND__MAX)
		return 1;
	l->kind = (enum store_lock_kind)kind;
	l->address = sq_text(st, 1);
	l->client_id = sq_text(st, 2);
	l->created_at = sqlite3_column_int64(st, 3);
	l->until = sqlite3_column_int64(st, 4);
	l->gen = (uint64_t)sqlite3_column_int64(st, 5);
	return l->address != NULL && l->client_id != NULL ? 0 : -1;
}

/* The page after (?2, ?3, ?4) through locks_page (migration 15), of
 * tenant ?5's clients' pair locks (kind 0, STORE_LOCK_PAIR) when given; kinds a newer binary wrote
 * are left out here, not skipped by lock_row: a page must hold limit rows
 * whenever more follow. "+kind": that range is no index's (the primary
 * key leads with kind, and SQLite would take it, then sort every lock). */
#define LOCK_PAGE_SQL(tenant)							\
	"SELECT kind, address, client_id, created_at, until, gen FROM locks"	\
	" WHERE until > ?1 AND +kind >= 0 AND +kind < ?6 AND address >= ?2"	\
	" AND (address > ?2 OR (address = ?2 AND (client_id > ?3"		\
	" OR (client_id = ?3 AND kind > ?4))))" tenant				\
	" ORDER BY address, client_id, kind LIMIT ?7"

int
sq_lock_list(void *h, int64_t now, const char *tenant_id, const char *after_address,
    const char *after_client_id, int after_kind, int64_t limit, struct store_lock **out,
    size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_prep(db, "locks", tenant_id == NULL ? LOCK_PAGE_SQL("") :
	    LOCK_PAGE_SQL(" AND kind = 0 AND client_id IN (SELECT id FROM clients"
	    " WHERE tenant_id = ?5)"), &st, SQ_ARGS(SQ_INT(now), SQ_TEXT(after_address),
	    SQ_TEXT(after_client_id), SQ_INT(after_kind), SQ_TEXT(tenant_id),
	    SQ_INT(STORE_LOCK_KIND__MAX), SQ_INT(limit)))) == STORE_OK) {
		rc = sq_collect(db, st, sizeof(**out), lock_row, store_lock_clear_v,
		    (void **)out, n, "locks list");
		sqlite3_finalize(st);
	}
	sq_main_unlock(h);
	return rc;
}

int
sq_lock_clear(void *h, const char *address, const char *client_id, int64_t now, int *count)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int64_t g = 0;
	int rc, live = 0;
	/* NULL binds NULL: "?1 IS NULL OR address = ?1" is then true. */
	static const char *const filter = " WHERE (?1 IS NULL OR address = ?1)"
	    " AND (?2 IS NULL OR (kind = 0 AND client_id = ?2))";
	char sql[256];

	if ((rc = sq_begin_write(db, "locks begin")) != STORE_OK)
		goto out;
	if ((rc = next_gen(db, &g)) != STORE_OK)
		goto end;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM locks%s AND until > ?3", filter);
	if ((rc = sq_prep(db, "locks", sql, &st, SQ_ARGS(SQ_TEXT(address), SQ_TEXT(client_id),
	    SQ_INT(now)))) == STORE_OK) {
		int src = sqlite3_step(st);
		if (src == SQLITE_ROW)
			live = sqlite3_column_int(st, 0);
		else
			rc = sq_error(db, src, "locks count");
		sqlite3_finalize(st);
	}
	snprintf(sql, sizeof(sql), "DELETE FROM locks%s", filter);
	if (rc == STORE_OK && (rc = sq_prep(db, "locks",
	    sql, &st, SQ_ARGS(SQ_TEXT(address), SQ_TEXT(client_id)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "locks clear");
	/* The clear itself, recorded whatever it removed here: a server may
	 * hold a lock this store no longer lists (store.h). */
	if (rc == STORE_OK && (rc = sq_prep(db, "locks", "INSERT INTO lock_clears (gen, address,"
	    " client_id, cleared_at) VALUES (?, ?, ?, ?)", &st, SQ_ARGS(SQ_INT(g),
	    SQ_TEXT(address != NULL ? address : ""),
	    SQ_TEXT(client_id != NULL ? client_id : ""), SQ_INT(now)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "locks clear record");
	if (rc == STORE_OK && (rc = sq_prep(db, "locks", "DELETE FROM lock_clears WHERE"
	    " cleared_at <= ?", &st, SQ_ARGS(SQ_INT(now - STORE_LOCK_CLEARED_KEEP)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "locks clear prune");
end:
	rc = finish(h, db, rc, 1);
	if (rc == STORE_OK)
		*count = live;
out:
	sq_main_unlock(h);
	return rc;
}

/* A row of lock_clears: '' is "any" (NULL). */
static int
cleared_row(sqlite3_stmt *st, void *dst)
{
	struct store_lock_cleared *c = dst;

	c->gen = (uint64_t)sqlite3_column_int64(st, 0);
	c->cleared_at = sqlite3_column_int64(st, 3);
	if (sqlite3_column_bytes(st, 1) > 0 && (c->address = sq_text(st, 1)) == NULL)
		return -1;
	if (sqlite3_column_bytes(st, 2) > 0 && (c->client_id = sq_text(st, 2)) == NULL)
		return -1;
	return 0;
}

int
sq_lock_cleared(void *h, uint64_t since, int64_t limit, struct store_lock_cleared **out,
    size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_prep(db, "locks", "SELECT gen, address, client_id, cleared_at FROM lock_clears"
	    " WHERE gen > ? ORDER BY gen LIMIT ?", &st, SQ_ARGS(SQ_INT((int64_t)since),
	    SQ_INT(limit)))) == STORE_OK) {
		rc = sq_collect(db, st, sizeof(**out), cleared_row, store_lock_cleared_clear_v,
		    (void **)out, n, "locks cleared");
		sqlite3_finalize(st);
	}
	sq_main_unlock(h);
	return rc;
}

/* Shared failure counters: one node uses a SQLite store, so the server
 * counts in memory (store_is_shared is 0); these exist for the one
 * interface and its tests. */
int
sq_failure_add(void *h, const struct store_failure_key *k, size_t n, int64_t now,
    int64_t window, int64_t *counts)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	int rc, src = SQLITE_OK;

	if ((rc = sq_begin_write(db, "failures begin")) != STORE_OK)
		goto out;
	if ((rc = sq_prep(db, "locks",
	    "DELETE FROM lock_failures WHERE window_start <= ?", &st,
	    SQ_ARGS(SQ_INT(now - window)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "failures prune");
	if (rc == STORE_OK && (rc = sq_prep(db, "failures", "INSERT INTO lock_failures (kind, address,"
	    " client_id, window_start, failures) VALUES (?, ?, ?, ?, 1)"
	    " ON CONFLICT (kind, address, client_id) DO UPDATE SET failures = failures + 1"
	    " RETURNING failures", &st, SQ_NO_ARGS)) == STORE_OK) {
		for (size_t i = 0; i < n && src == SQLITE_OK; i++)
			if ((src = sq_rebind(st, SQ_ARGS(SQ_INT(k[i].kind), SQ_TEXT(k[i].address),
			    SQ_TEXT(k[i].client_id), SQ_INT(now)))) == SQLITE_OK &&
			    (src = sqlite3_step(st)) == SQLITE_ROW) {
				counts[i] = sqlite3_column_int64(st, 0);
				src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
			}
		if (src != SQLITE_OK)
			rc = sq_error(db, src, "failures add");
		sqlite3_finalize(st);
	}
	rc = finish(h, db, rc, 0);
out:
	sq_main_unlock(h);
	return rc;
}

int
sq_failure_reset(void *h, const struct store_failure_key *k, size_t n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = sq_begin_write(db, "failures begin")) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n && rc == STORE_OK; i++)
		if ((rc = sq_prep(db, "locks",
		    "DELETE FROM lock_failures WHERE kind = ? AND address = ?"
		    " AND client_id = ?", &st, SQ_ARGS(SQ_INT(k[i].kind), SQ_TEXT(k[i].address),
		    SQ_TEXT(k[i].client_id)))) == STORE_OK)
			rc = sq_step_done(db, st, NULL, "failures reset");
	rc = finish(h, db, rc, 0);
out:
	sq_main_unlock(h);
	return rc;
}

/* A pair row of lock_failures: address, client id, window, count. */
static int
failure_row(sqlite3_stmt *st, void *dst)
{
	struct store_failure_row *r = dst;

	if ((r->address = sq_text(st, 0)) == NULL || (r->client_id = sq_text(st, 1)) == NULL)
		return -1;
	r->window_start = sqlite3_column_int64(st, 2);
	r->failures = sqlite3_column_int64(st, 3);
	return 0;
}

int
sq_failure_pairs(void *h, int64_t since, size_t max, struct store_failure_row **out,
    size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_prep(db, "failures", "SELECT address, client_id, window_start, failures"
	    " FROM lock_failures WHERE kind = ? AND window_start > ? AND failures > 0"
	    " ORDER BY window_start DESC LIMIT ?", &st, SQ_ARGS(SQ_INT(STORE_LOCK_PAIR),
	    SQ_INT(since), SQ_INT(max)))) == STORE_OK) {
		rc = sq_collect(db, st, sizeof(**out), failure_row, store_failure_clear_v,
		    (void **)out, n, "failures list");
		sqlite3_finalize(st);
	}
	sq_main_unlock(h);
	return rc;
}

/* Shared issuance counts: as the failure counters, for the one interface
 * and its tests (a SQLite store has one node). */
int
sq_rate_push(void *h, const char *node, const struct store_rate *rows, size_t n, int64_t now)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	int rc, src = SQLITE_OK;

	if ((rc = sq_begin_write(db, "rates begin")) != STORE_OK)
		goto out;
	if ((rc = sq_prep(db, "rates", "DELETE FROM rate_totals WHERE updated_at <= ?", &st,
	    SQ_ARGS(SQ_INT(now - 300)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "rates prune");
	if (rc == STORE_OK && (rc = sq_prep(db, "locks",
	    "INSERT INTO rate_totals (client_id, node, taken,"
	    " updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (client_id, node) DO UPDATE SET"
	    " taken = taken + excluded.taken, updated_at = excluded.updated_at", &st,
	    SQ_NO_ARGS)) == STORE_OK) {
		for (size_t i = 0; i < n && src == SQLITE_OK; i++)
			if ((src = sq_rebind(st, SQ_ARGS(SQ_TEXT(rows[i].client_id), SQ_TEXT(node),
			    SQ_INT(rows[i].taken), SQ_INT(now)))) == SQLITE_OK &&
			    (src = sqlite3_step(st)) == SQLITE_DONE)
				src = SQLITE_OK;
		if (src != SQLITE_OK)
			rc = sq_error(db, src, "rates push");
		sqlite3_finalize(st);
	}
	rc = finish(h, db, rc, 0);
out:
	sq_main_unlock(h);
	return rc;
}

/* A row of rate_totals: its two strings, then the count. */
static int
rate_row(sqlite3_stmt *st, void *dst)
{
	struct store_rate *r = dst;
	char **f[2] = { &r->client_id, &r->node };

	for (int k = 0; k < 2; k++)
		if ((*f[k] = sq_text(st, k)) == NULL)
			return -1;
	r->taken = sqlite3_column_int64(st, 2);
	return 0;
}

int
sq_rate_pull(void *h, const char *not_node, int64_t since, struct store_rate **out, size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_prep(db, "rates", "SELECT client_id, node, taken FROM rate_totals"
	    " WHERE node <> ? AND updated_at >= ?", &st,
	    SQ_ARGS(SQ_TEXT(not_node), SQ_INT(since)))) == STORE_OK) {
		rc = sq_collect(db, st, sizeof(**out), rate_row, store_rate_clear_v,
		    (void **)out, n, "rates pull");
		sqlite3_finalize(st);
	}
	sq_main_unlock(h);
	return rc;
}
