/*
 * pgsql_clients.c — client deletion for the PostgreSQL backend (store.h
 * store_client_delete; the SQLite side is sqlite_clients.c). One statement
 * deletes the client's secrets and the client (a data-modifying WITH runs
 * in the same snapshot and transaction), and the generation moves only
 * when the client existed.
 */
#include <stdio.h>

#include "store/pgsql_internal.h"

int
pg_client_delete(void *h, const char *id)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_s(&v, id);
	rc = pgi_write1(h, "WITH s AS (DELETE FROM client_secrets WHERE client_id = $1)"
	    " DELETE FROM clients WHERE id = $1", &v, 2, &changes, "client delete",
	    "client delete: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
	return rc;
}
