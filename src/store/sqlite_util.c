/*
 * sqlite_util.c — the statement helpers the SQLite topic files share
 * (sqlite_internal.h): their statements are rare (admin calls, locks,
 * approvals) and prepared per call, so each needs the same prepare-and-
 * bind, step-to-done and column-copy steps.
 */
#include <stdarg.h>
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

int
sq_prep(sqlite3 *db, const char *what, const char *sql, sqlite3_stmt **st,
    const char *types, ...)
{
	va_list ap;
	int rc;

	*st = NULL;
	if ((rc = sqlite3_prepare_v2(db, sql, -1, st, NULL)) != SQLITE_OK)
		return sq_error(db, rc, what);
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
		return sq_error(db, rc, what);
	}
	return STORE_OK;
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
