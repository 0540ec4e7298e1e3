/*
 * sqlite_locks.c — the SQLite side of store_lock_*, store_failure_* and
 * store_rate_* (store.h; the contract of each op is in store_backend.h):
 * tables locks, lock_failures and rate_totals.
 * Locks are made rarely (after several bad credentials) and listed on a
 * generation change, so statements are prepared per call rather than
 * cached with the core file's. Writes run in one IMMEDIATE transaction with
 * the generation increment, on the main connection under its mutex.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

#define BUMP_SQL "UPDATE meta SET value = value + 1 WHERE key = 'generation'"

static int
exec(sqlite3 *db, const char *sql, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? STORE_OK : sq_error(db, rc, what);
}

/* Prepares sql and binds arguments by a type string: s text (NULL binds
 * NULL: "any" in the filters below), i int64. */
static int
prep(sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *types, ...)
{
	va_list ap;
	int rc;

	*st = NULL;
	if ((rc = sqlite3_prepare_v2(db, sql, -1, st, NULL)) != SQLITE_OK)
		return sq_error(db, rc, "locks prepare");
	va_start(ap, types);
	for (int i = 0; types[i] != '\0' && rc == SQLITE_OK; i++) {
		if (types[i] == 's') {
			const char *v = va_arg(ap, const char *);
			rc = v != NULL ? sqlite3_bind_text(*st, i + 1, v, -1, SQLITE_TRANSIENT) :
			    sqlite3_bind_null(*st, i + 1);
		} else
			rc = sqlite3_bind_int64(*st, i + 1, va_arg(ap, int64_t));
	}
	va_end(ap);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(*st);
		*st = NULL;
		return sq_error(db, rc, "locks bind");
	}
	return STORE_OK;
}

/* Steps a statement that returns no rows, then finalizes it. */
static int
step_done(sqlite3 *db, sqlite3_stmt *st, int *changes, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_error(db, rc, what);
	if (changes != NULL)
		*changes = sqlite3_changes(db);
	return STORE_OK;
}

/* Commits with the generation incremented when bump, else rolls back. */
static int
finish(void *h, sqlite3 *db, int rc, int bump)
{
	if (rc == STORE_OK && bump)
		rc = exec(db, BUMP_SQL, "locks generation");
	if (rc == STORE_OK && (rc = exec(db, "COMMIT", "locks commit")) == STORE_OK) {
		if (bump)
			sq_generation_stale(h);
		return STORE_OK;
	}
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
sq_lock_put(void *h, const struct store_lock *lk, size_t n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	int64_t newest = lk[0].created_at;
	int rc, src = SQLITE_OK;

	for (size_t i = 1; i < n; i++)
		if (lk[i].created_at > newest)
			newest = lk[i].created_at;
	if ((rc = exec(db, "BEGIN IMMEDIATE", "locks begin")) != STORE_OK)
		goto out;
	if ((rc = prep(db, "DELETE FROM locks WHERE until <= ?", &st, "i", newest)) == STORE_OK)
		rc = step_done(db, st, NULL, "locks prune");
	if (rc == STORE_OK && (rc = prep(db, "INSERT INTO locks (kind, address, client_id,"
	    " created_at, until) VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, address, client_id)"
	    " DO UPDATE SET created_at = excluded.created_at,"
	    " until = max(locks.until, excluded.until)", &st, "")) == STORE_OK) {
		/* One statement, re-bound for each lock of the batch. */
		for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
			sqlite3_reset(st);
			if ((src = sqlite3_bind_int64(st, 1, (int64_t)lk[i].kind)) == SQLITE_OK &&
			    (src = sqlite3_bind_text(st, 2, lk[i].address, -1, SQLITE_STATIC)) == SQLITE_OK &&
			    (src = sqlite3_bind_text(st, 3, lk[i].client_id, -1, SQLITE_STATIC)) == SQLITE_OK &&
			    (src = sqlite3_bind_int64(st, 4, lk[i].created_at)) == SQLITE_OK &&
			    (src = sqlite3_bind_int64(st, 5, lk[i].until)) == SQLITE_OK &&
			    (src = sqlite3_step(st)) == SQLITE_DONE)
				src = SQLITE_OK;
		}
		if (src != SQLITE_OK)
			rc = sq_error(db, src, "locks put");
		sqlite3_finalize(st);
	}
	rc = finish(h, db, rc, 1);
out:
	sq_main_unlock(h);
	return rc;
}

int
sq_lock_list(void *h, int64_t now, struct store_lock **out, size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	struct store_lock *arr = NULL;
	size_t cap = 0, used = 0;
	sqlite3_stmt *st;
	int rc, src = SQLITE_DONE;

	if ((rc = prep(db, "SELECT kind, address, client_id, created_at, until FROM locks"
	    " WHERE until > ? ORDER BY address, client_id, kind", &st, "i", now)) != STORE_OK)
		goto out;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_lock *l;
		const unsigned char *a = sqlite3_column_text(st, 1);
		const unsigned char *c = sqlite3_column_text(st, 2);
		int kind = sqlite3_column_int(st, 0);

		if (kind < 0 || kind >= STORE_LOCK_KIND__MAX)
			continue;	/* written by a newer binary: not ours to show */
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_lock *na = realloc(arr, ncap * sizeof(*na));
			if (na == NULL) {
				src = SQLITE_NOMEM;
				break;
			}
			arr = na;
			cap = ncap;
		}
		l = &arr[used];
		l->kind = (enum store_lock_kind)kind;
		l->address = strdup(a != NULL ? (const char *)a : "");
		l->client_id = strdup(c != NULL ? (const char *)c : "");
		l->created_at = sqlite3_column_int64(st, 3);
		l->until = sqlite3_column_int64(st, 4);
		used++;
		if (l->address == NULL || l->client_id == NULL) {
			src = SQLITE_NOMEM;
			break;
		}
	}
	if (src == SQLITE_DONE) {
		*out = arr;
		*n = used;
		arr = NULL;
	} else if (src == SQLITE_NOMEM)
		rc = store_set_error(STORE_ERROR, "locks list: out of memory");
	else
		rc = sq_error(db, src, "locks list");
	sqlite3_finalize(st);
	store_lock_free(arr, used);
out:
	sq_main_unlock(h);
	return rc;
}

int
sq_lock_clear(void *h, const char *address, const char *client_id, int64_t now, int *count)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc, live = 0;
	/* NULL binds NULL: "?1 IS NULL OR address = ?1" is then true. */
	static const char *const filter = " WHERE (?1 IS NULL OR address = ?1)"
	    " AND (?2 IS NULL OR (kind = 0 AND client_id = ?2))";
	char sql[256];

	if ((rc = exec(db, "BEGIN IMMEDIATE", "locks begin")) != STORE_OK)
		goto out;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM locks%s AND until > ?3", filter);
	if ((rc = prep(db, sql, &st, "ssi", address, client_id, now)) == STORE_OK) {
		int src = sqlite3_step(st);
		if (src == SQLITE_ROW)
			live = sqlite3_column_int(st, 0);
		else
			rc = sq_error(db, src, "locks count");
		sqlite3_finalize(st);
	}
	snprintf(sql, sizeof(sql), "DELETE FROM locks%s", filter);
	if (rc == STORE_OK && (rc = prep(db, sql, &st, "ss", address, client_id)) == STORE_OK)
		rc = step_done(db, st, NULL, "locks clear");
	rc = finish(h, db, rc, live > 0);
	if (rc == STORE_OK)
		*count = live;
out:
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

	if ((rc = exec(db, "BEGIN IMMEDIATE", "failures begin")) != STORE_OK)
		goto out;
	if ((rc = prep(db, "DELETE FROM lock_failures WHERE window_start <= ?", &st, "i",
	    now - window)) == STORE_OK)
		rc = step_done(db, st, NULL, "failures prune");
	if (rc == STORE_OK && (rc = prep(db, "INSERT INTO lock_failures (kind, address,"
	    " client_id, window_start, failures) VALUES (?, ?, ?, ?, 1)"
	    " ON CONFLICT (kind, address, client_id) DO UPDATE SET failures = failures + 1"
	    " RETURNING failures", &st, "")) == STORE_OK) {
		for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
			sqlite3_reset(st);
			if ((src = sqlite3_bind_int64(st, 1, (int64_t)k[i].kind)) == SQLITE_OK &&
			    (src = sqlite3_bind_text(st, 2, k[i].address, -1, SQLITE_STATIC)) == SQLITE_OK &&
			    (src = sqlite3_bind_text(st, 3, k[i].client_id, -1, SQLITE_STATIC)) == SQLITE_OK &&
			    (src = sqlite3_bind_int64(st, 4, now)) == SQLITE_OK &&
			    (src = sqlite3_step(st)) == SQLITE_ROW) {
				counts[i] = sqlite3_column_int64(st, 0);
				src = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
			}
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

	if ((rc = exec(db, "BEGIN IMMEDIATE", "failures begin")) != STORE_OK)
		goto out;
	for (size_t i = 0; i < n && rc == STORE_OK; i++)
		if ((rc = prep(db, "DELETE FROM lock_failures WHERE kind = ? AND address = ?"
		    " AND client_id = ?", &st, "iss", (int64_t)k[i].kind, k[i].address,
		    k[i].client_id)) == STORE_OK)
			rc = step_done(db, st, NULL, "failures reset");
	rc = finish(h, db, rc, 0);
out:
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

	if ((rc = exec(db, "BEGIN IMMEDIATE", "rates begin")) != STORE_OK)
		goto out;
	if ((rc = prep(db, "DELETE FROM rate_totals WHERE updated_at <= ?", &st, "i",
	    now - 300)) == STORE_OK)
		rc = step_done(db, st, NULL, "rates prune");
	if (rc == STORE_OK && (rc = prep(db, "INSERT INTO rate_totals (client_id, node, taken,"
	    " updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (client_id, node) DO UPDATE SET"
	    " taken = taken + excluded.taken, updated_at = excluded.updated_at", &st, "")) == STORE_OK) {
		for (size_t i = 0; i < n && src == SQLITE_OK; i++) {
			sqlite3_reset(st);
			if ((src = sqlite3_bind_text(st, 1, rows[i].client_id, -1, SQLITE_STATIC)) == SQLITE_OK &&
			    (src = sqlite3_bind_text(st, 2, node, -1, SQLITE_STATIC)) == SQLITE_OK &&
			    (src = sqlite3_bind_int64(st, 3, rows[i].taken)) == SQLITE_OK &&
			    (src = sqlite3_bind_int64(st, 4, now)) == SQLITE_OK &&
			    (src = sqlite3_step(st)) == SQLITE_DONE)
				src = SQLITE_OK;
		}
		if (src != SQLITE_OK)
			rc = sq_error(db, src, "rates push");
		sqlite3_finalize(st);
	}
	rc = finish(h, db, rc, 0);
out:
	sq_main_unlock(h);
	return rc;
}

int
sq_rate_pull(void *h, const char *not_node, int64_t since, struct store_rate **out, size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	struct store_rate *arr = NULL;
	size_t cap = 0, used = 0;
	sqlite3_stmt *st;
	int rc, src = SQLITE_DONE;

	if ((rc = prep(db, "SELECT client_id, node, taken FROM rate_totals"
	    " WHERE node <> ? AND updated_at >= ?", &st, "si", not_node, since)) != STORE_OK)
		goto out;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *c = sqlite3_column_text(st, 0), *nd = sqlite3_column_text(st, 1);
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct store_rate *na = realloc(arr, ncap * sizeof(*na));
			if (na == NULL) {
				src = SQLITE_NOMEM;
				break;
			}
			arr = na;
			cap = ncap;
		}
		arr[used].client_id = strdup(c != NULL ? (const char *)c : "");
		arr[used].node = strdup(nd != NULL ? (const char *)nd : "");
		arr[used].taken = sqlite3_column_int64(st, 2);
		if (arr[used++].client_id == NULL || arr[used - 1].node == NULL) {
			src = SQLITE_NOMEM;
			break;
		}
	}
	if (src == SQLITE_DONE) {
		*out = arr;
		*n = used;
		arr = NULL;
	} else if (src == SQLITE_NOMEM)
		rc = store_set_error(STORE_ERROR, "rates pull: out of memory");
	else
		rc = sq_error(db, src, "rates pull");
	sqlite3_finalize(st);
	store_rate_free(arr, used);
out:
	sq_main_unlock(h);
	return rc;
}
