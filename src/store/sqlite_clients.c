/*
 * sqlite_clients.c — client deletion for the SQLite backend (store.h
 * store_client_delete): the client row and its secrets go in one
 * transaction that also increments the generation, so every cache (and
 * every node) drops the client. Token records stay.
 */
#include "store/sqlite_internal.h"

int
sq_client_delete(void *h, const char *id)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc, changes = 0;

	if ((rc = sq_exec(db, "BEGIN IMMEDIATE", "client delete")) != STORE_OK)
		goto out;
	if ((rc = sq_prep(db, "client delete secrets", "DELETE FROM client_secrets"
	    " WHERE client_id = ?", &st, "s", id)) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "client delete secrets");
	if (rc == STORE_OK && (rc = sq_prep(db, "client delete",
	    "DELETE FROM clients WHERE id = ?", &st, "s", id)) == STORE_OK)
		rc = sq_step_done(db, st, &changes, "client delete");
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
	rc = sq_tx_end(h, db, rc, "generation", "client delete commit");
out:
	sq_main_unlock(h);
	return rc;
}
