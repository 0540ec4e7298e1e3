/*
 * sqlite_util.c — the statement helpers the SQLite topic files share
 * (sqlite_internal.h): their statements are rare (admin calls, locks,
 * approvals) and prepared per call, so each needs the same prepare-and-
 * bind, step-to-done, row-collecting and commit-or-rollback steps. The
 * core file's cached statements share the row collector.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

int
sq_exec(sqlite3 *db, const char *sql, const char *what)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? STORE_OK : sq_error(db, rc, what);
}

/*
 * 1 when the database file was renamed, moved or deleted since it was
 * opened (SQLITE_FCNTL_HAS_MOVED: a stat of its path against the open
 * descriptor's inode). The open descriptors still take every write, and
 * each commit succeeds, but into a file no later start opens.
 */
int
sq_file_moved(sqlite3 *db)
{
	int moved = 0;

	return sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK &&
	    moved;
}

int
sq_moved_error(void)
{
	return store_set_error(STORE_UNAVAILABLE, "the database file was moved or deleted "
	    "since it was opened: what is written now would be lost at the next start");
}

int
sq_begin_write(sqlite3 *db, const char *what)
{
	if (sq_file_moved(db))
		return sq_moved_error();
	return sq_exec(db, "BEGIN IMMEDIATE", what);
}

/* Whether n arguments give every parameter of st one, and no more. SQ_ARGS
 * counts the arguments, so none is ever read past the array; what this
 * catches is a call whose arguments do not match its SQL, which would bind
 * too few (the rest stay NULL) or fail on a parameter SQLite lacks. -1
 * with the store's error set. */
int
sq_args_fit(sqlite3_stmt *st, size_t n, const char *what)
{
	int want = sqlite3_bind_parameter_count(st);

	if (n == (size_t)want)
		return 0;
	store_set_error(STORE_ERROR, "%s: the statement has %d parameters, the call binds %zu (a bug)",
	    what, want, n);
	return -1;
}

int
sq_bind(sqlite3_stmt *st, const struct sq_arg *args, size_t n, int cached)
{
	sqlite3_destructor_type keep = cached ? SQLITE_STATIC : SQLITE_TRANSIENT;
	int rc = SQLITE_OK;

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		int col = (int)i + 1;
		const char *text = args[i].text;

		switch (args[i].kind) {
		case SQ_ARG_INT:
			rc = sqlite3_bind_int64(st, col, args[i].integer);
			break;
		case SQ_ARG_BLOB:
			rc = sqlite3_bind_blob64(st, col, args[i].blob, args[i].size, keep);
			break;
		default:
			if (text == NULL && cached)
				text = "";
			rc = text != NULL ? sqlite3_bind_text(st, col, text, -1, keep) :
			    sqlite3_bind_null(st, col);
		}
	}
	return rc;
}

int
sq_prep(sqlite3 *db, const char *what, const char *sql, sqlite3_stmt **st,
    const struct sq_arg *args, size_t n)
{
	int rc;

	*st = NULL;
	if ((rc = sqlite3_prepare_v2(db, sql, -1, st, NULL)) != SQLITE_OK)
		return sq_error(db, rc, what);
	/* No arguments (SQ_NO_ARGS) prepares only: sq_rebind binds each row,
	 * and checks the count then. */
	if (n != 0 && sq_args_fit(*st, n, what) == -1) {
		sqlite3_finalize(*st);
		*st = NULL;
		return STORE_ERROR;
	}
	if ((rc = sq_bind(*st, args, n, 0)) != SQLITE_OK) {
		sqlite3_finalize(*st);
		*st = NULL;
		return sq_error(db, rc, what);
	}
	return STORE_OK;
}

int
sq_rebind(sqlite3_stmt *st, const struct sq_arg *args, size_t n)
{
	sqlite3_reset(st);
	if (sq_args_fit(st, n, "rebind") == -1)
		return SQLITE_MISUSE;
	return sq_bind(st, args, n, 0);
}

int
sq_step_done(sqlite3 *db, sqlite3_stmt *st, int *changes, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_error(db, rc, what);
	if (changes != NULL)
		*changes = sqlite3_changes(db);
	return STORE_OK;
}

char *
sq_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return strdup(t != NULL ? (const char *)t : "");
}

void *
sq_grow(void *arr, size_t *cap, size_t used, size_t size)
{
	size_t ncap;
	void *na;

	if (used < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / size || (na = realloc(arr, ncap * size)) == NULL)
		return NULL;
	*cap = ncap;
	return na;
}

/*
 * The marks this thread staged on h (store_backend.h store_mark_staged),
 * in the open transaction of a change: each guarded update must change
 * its row, else the change is refused (STORE_SUPERSEDED; the caller rolls
 * it back). STORE_OK when none is staged.
 */
int
sq_marks_tx(const void *h, sqlite3 *db)
{
	const struct store_mark *m;
	sqlite3_stmt *st;
	int rc, changes = 0;

	if ((m = store_mark_staged(h, STORE_MARK_APPROVAL_APPLIED)) != NULL) {
		if ((rc = sq_prep(db, "approval mark", "UPDATE approvals SET used_at = ?"
		    " WHERE id = ? AND state = 1 AND used_at = 0", &st,
		    SQ_ARGS(SQ_INT(m->v), SQ_TEXT(m->a)))) != STORE_OK ||
		    (rc = sq_step_done(db, st, &changes, "approval mark")) != STORE_OK)
			return rc;
		if (changes == 0)
			return store_mark_refused(STORE_MARK_APPROVAL_APPLIED, m);
	}
	if ((m = store_mark_staged(h, STORE_MARK_IDEM_ACTED)) != NULL) {
		if ((rc = sq_prep(db, "idempotency mark", "UPDATE idempotency SET state = 2"
		    " WHERE client_id = ? AND key = ? AND created_at = ? AND state = 0", &st,
		    SQ_ARGS(SQ_TEXT(m->a), SQ_TEXT(m->b), SQ_INT(m->v)))) != STORE_OK ||
		    (rc = sq_step_done(db, st, &changes, "idempotency mark")) != STORE_OK)
			return rc;
		if (changes == 0)
			return store_mark_refused(STORE_MARK_IDEM_ACTED, m);
	}
	return STORE_OK;
}

int
sq_tx_end(void *h, sqlite3 *db, int rc, unsigned bump, const char *commit)
{
	const struct store_audit_key *ak;
	const struct store_audit *row;
	sqlite3_stmt *st;
	int staged = 0;

	/* The change's audit row, as sqi_tx_end appends it. */
	if (rc == STORE_OK && (staged = store_audit_staged(h, &ak, &row)))
		rc = sq_audit_append_tx(db, ak, row, 1);
	if (rc == STORE_OK)
		rc = sq_marks_tx(h, db);
	for (int k = 0; rc == STORE_OK && k < STORE_GEN__MAX; k++)
		if ((bump & STORE_GEN_BIT(k)) && (rc = sq_prep(db, "generation",
		    "UPDATE meta SET value = value + 1 WHERE key = ?", &st,
		    SQ_ARGS(SQ_TEXT(store_gen_keys[k])))) == STORE_OK)
			rc = sq_step_done(db, st, NULL, "generation");
	if (rc == STORE_OK)
		store_fault_before_commit();
	if (rc == STORE_OK && (rc = sq_exec(db, "COMMIT", commit)) == STORE_OK) {
		if (bump != 0)
			sq_generation_stale(h);
		if (staged)
			store_audit_staged_committed(h);
		store_marks_committed(h);
		return STORE_OK;
	}
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int
sq_collect(sqlite3 *db, sqlite3_stmt *st, size_t size, sq_row_fn row, store_clear_fn clear,
    void **out, size_t *n, const char *what)
{
	char *arr = NULL, *na;
	size_t cap = 0, used = 0;
	int rc, src;

	*out = NULL;
	*n = 0;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if ((na = sq_grow(arr, &cap, used, size)) == NULL) {
			src = SQLITE_NOMEM;
			break;
		}
		arr = na;
		memset(arr + used * size, 0, size);
		if ((rc = row(st, arr + used * size)) == -1) {
			clear(arr + used * size);
			src = SQLITE_NOMEM;
			break;
		}
		if (rc == 0)
			used++;
	}
	if (src == SQLITE_DONE) {
		if (used == 0) {	/* only skipped rows: nothing to hand over */
			free(arr);
			arr = NULL;
		}
		*out = arr;
		*n = used;
		return STORE_OK;
	}
	rc = src == SQLITE_NOMEM ? store_set_error(STORE_ERROR, "%s: out of memory", what) :
	    sq_error(db, src, what);
	for (size_t i = 0; i < used; i++)
		clear(arr + i * size);
	free(arr);
	return rc;
}
