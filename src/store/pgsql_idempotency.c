/*
 * pgsql_idempotency.c — the PostgreSQL side of store_idem_* (store.h),
 * mirroring sqlite_idempotency.c: one row per (client, key) in table
 * idempotency (migration "idempotency"). begin runs in one transaction whose
 * insert is the arbiter: of two nodes racing on the same key exactly one
 * inserts, the other sees a unique violation and reads the winner's row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgsql_internal.h"

/* Reads the row of (client, key) on c into *out: STORE_OK, STORE_NOTFOUND
 * (no message), or an error. */
static int
load(PGconn *c, const char *client_id, const char *key, struct store_idem *out)
{
	struct pv v = { 0 };
	enum pq_kind kind;
	int rc = STORE_ERROR;
	PGresult *r;

	pv_s(&v, client_id);
	pv_s(&v, key);
	r = pgi_q(c, "SELECT fingerprint, state, status, body, created_at, expires_at"
	    " FROM idempotency WHERE client_id = $1 AND key = $2", &v, &kind, &rc, "idempotency get");
	if (r == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "idempotency get: failed");
	if (PQntuples(r) == 0) {
		PQclear(r);
		return STORE_NOTFOUND;
	}
	snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", PQgetvalue(r, 0, 0));
	/* 0, 1, 2 as enum store_idem_state; an unknown one is ACTED, which
	 * is never taken over. */
	switch (pgi_col_i(r, 0, 1)) {
	case STORE_IDEM_RUNNING:
		out->state = STORE_IDEM_RUNNING;
		break;
	case STORE_IDEM_DONE:
		out->state = STORE_IDEM_DONE;
		break;
	default:
		out->state = STORE_IDEM_ACTED;
	}
	out->status = (int)pgi_col_i(r, 0, 2);
	out->body = pgi_col_s(r, 0, 3);
	out->created_at = pgi_col_i(r, 0, 4);
	out->expires_at = pgi_col_i(r, 0, 5);
	out->client_id = strdup(client_id);
	out->key = strdup(key);
	PQclear(r);
	if (out->body == NULL || out->client_id == NULL || out->key == NULL) {
		store_idem_clear(out);
		return store_set_error(STORE_ERROR, "idempotency get: out of memory");
	}
	return STORE_OK;
}

int
pg_idem_begin(void *h, const struct store_idem *rec, int64_t now, int64_t stale_before,
    struct store_idem *existing)
{
	struct pv prune = { 0 }, ins = { 0 };
	PGconn *c;
	int slot, rc, changes = 0;

	pv_i(&prune, now);
	pv_s(&prune, rec->client_id);
	pv_s(&prune, rec->key);
	pv_s(&prune, rec->fingerprint);
	pv_i(&prune, stale_before);
	pv_s(&ins, rec->client_id);
	pv_s(&ins, rec->key);
	pv_s(&ins, rec->fingerprint);
	pv_i(&ins, rec->created_at);
	pv_i(&ins, rec->expires_at);
	if ((rc = pgi_acquire(h, &slot, &c, "idempotency begin")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) != STORE_OK)
		goto out;
	/* Drop every expired record (indexed), and this key's if it is a
	 * stale RUNNING one of this request, which never acted (store.h).
	 * Two nodes taking it over at once: the second's DELETE waits on the
	 * first's row lock, then finds the row gone, and its INSERT meets the
	 * first's new record. */
	rc = pgi_run(c, "DELETE FROM idempotency WHERE expires_at <= $1 OR (client_id = $2"
	    " AND key = $3 AND fingerprint = $4 AND state = 0 AND created_at < $5)", &prune, NULL,
	    "idempotency prune", NULL, NULL);
	if (rc == STORE_OK)
		rc = pgi_run(c, "INSERT INTO idempotency (client_id, key, fingerprint, state, status,"
		    " body, created_at, expires_at) VALUES ($1, $2, $3, 0, 0, '', $4, $5)"
		    " ON CONFLICT (client_id, key) DO NOTHING", &ins, &changes, "idempotency insert",
		    NULL, NULL);
	if (rc == STORE_OK && changes == 0) {
		/* Held by a live record (committed, or another node's that
		 * committed while we waited on its row). */
		if ((rc = load(c, rec->client_id, rec->key, existing)) == STORE_OK)
			rc = store_set_error(STORE_CONFLICT, "idempotency key in use");
		else if (rc == STORE_NOTFOUND)	/* released meanwhile: retry */
			rc = store_set_error(STORE_UNAVAILABLE, "idempotency key busy; retry");
	}
	rc = pgi_tx_end(h, c, rc, 0);
out:
	pgi_release(h, slot);
	return rc;
}

int
pg_idem_finish(void *h, const char *client_id, const char *key, int64_t created_at, int status,
    const char *body)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, status);
	pv_s(&v, body);
	pv_s(&v, client_id);
	pv_s(&v, key);
	pv_i(&v, created_at);
	rc = pgi_write1(h, "UPDATE idempotency SET state = 1, status = $1, body = $2"
	    " WHERE client_id = $3 AND key = $4 AND created_at = $5 AND state <> 1", &v, 0, &changes,
	    "idempotency finish", NULL, NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "no unfinished idempotency record of this call");
	return rc;
}

int
pg_idem_release(void *h, const char *client_id, const char *key, int64_t created_at)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_s(&v, client_id);
	pv_s(&v, key);
	pv_i(&v, created_at);
	/* RUNNING only: an ACTED record's call changed the store (store.h). */
	rc = pgi_write1(h, "DELETE FROM idempotency WHERE client_id = $1 AND key = $2"
	    " AND created_at = $3 AND state = 0", &v, 0, &changes, "idempotency release", NULL, NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "no unfinished idempotency record of this call");
	return rc;
}
