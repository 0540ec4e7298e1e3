/*
 * sqlite_clients.c — client deletion for the SQLite backend (store.h
 * store_client_delete): the client row and its secrets go in one
 * transaction that also increments the generation, so every cache (and
 * every node) drops the client. Token records stay.
 */
#include "store/sqlite_internal.h"

static int
step(sqlite3 *db, const char *sql, const char *id, int *changes, const char *what)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return sq_error(db, rc, what);
	if (id != NULL && (rc = sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT)) != SQLITE_OK) {
		sqlite3_finalize(st);
		return sq_error(db, rc, what);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sq_error(db, rc, what);
	if (changes != NULL)
		*changes = sqlite3_changes(db);
	return STORE_OK;
}

int
sq_client_delete(void *h, const char *id)
{
	sqlite3 *db = sq_main_lock(h);
	int rc, changes = 0;

	if ((rc = step(db, "BEGIN IMMEDIATE", NULL, NULL, "client delete")) != STORE_OK)
		goto out;
	if ((rc = step(db, "DELETE FROM client_secrets WHERE client_id = ?", id, NULL,
	    "client delete secrets")) != STORE_OK ||
	    (rc = step(db, "DELETE FROM clients WHERE id = ?", id, &changes, "client delete")) != STORE_OK)
		goto rollback;
	if (changes == 0) {
		rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
		goto rollback;
	}
	if ((rc = step(db, "UPDATE meta SET value = value + 1 WHERE key = 'generation'", NULL, NULL,
	    "generation")) != STORE_OK ||
	    (rc = step(db, "COMMIT", NULL, NULL, "client delete commit")) != STORE_OK)
		goto rollback;
	sq_generation_stale(h);
	goto out;
rollback:
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	sq_main_unlock(h);
	return rc;
}
