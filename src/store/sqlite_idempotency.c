/*
 * sqlite_idempotency.c — the SQLite side of store_idem_* (store.h): one row
 * per (client, key) in table idempotency (migration "idempotency").
 * Admin calls are rare, so statements are prepared per call rather than
 * cached. begin runs in one IMMEDIATE transaction: two racing callers with
 * the same key see exactly one insert win.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

/* A stored state (0, 1, 2: enum store_idem_state); an unknown one is
 * ACTED, which is never taken over. */
static enum store_idem_state
sq_idem_state(int v)
{
	return v == STORE_IDEM_RUNNING ? STORE_IDEM_RUNNING :
	    v == STORE_IDEM_DONE ? STORE_IDEM_DONE : STORE_IDEM_ACTED;
}

/* Reads the row of (client, key) into *out: STORE_OK, STORE_NOTFOUND. */
static int
load(sqlite3 *db, const char *client_id, const char *key, struct store_idem *out)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_prep(db, "idempotency",
	    "SELECT fingerprint, state, status, body, created_at, expires_at"
	    " FROM idempotency WHERE client_id = ? AND key = ?", &st,
	    SQ_ARGS(SQ_TEXT(client_id), SQ_TEXT(key)))) != STORE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_finalize(st);
		return STORE_NOTFOUND;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(st);
		return sq_error(db, rc, "idempotency get");
	}
	{
		const unsigned char *fp = sqlite3_column_text(st, 0);
		snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", fp ? (const char *)fp : "");
	}
	out->state = sq_idem_state(sqlite3_column_int(st, 1));
	out->status = sqlite3_column_int(st, 2);
	out->body = sq_text(st, 3);
	out->created_at = sqlite3_column_int64(st, 4);
	out->expires_at = sqlite3_column_int64(st, 5);
	out->client_id = strdup(client_id);
	out->key = strdup(key);
	sqlite3_finalize(st);
	if (out->body == NULL || out->client_id == NULL || out->key == NULL) {
		store_idem_clear(out);
		return store_set_error(STORE_ERROR, "idempotency get: out of memory");
	}
	return STORE_OK;
}

int
sq_idem_begin(void *h, const struct store_idem *rec, int64_t now, int64_t stale_before,
    struct store_idem *existing)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_begin_write(db, "idempotency begin")) != STORE_OK)
		goto out;
	/* Drop every expired record (indexed), and this key's if it is a
	 * stale RUNNING one of this request, which never acted (store.h). */
	if ((rc = sq_prep(db, "idempotency", "DELETE FROM idempotency WHERE expires_at <= ?"
	    " OR (client_id = ? AND key = ? AND fingerprint = ? AND state = 0 AND created_at < ?)",
	    &st, SQ_ARGS(SQ_INT(now), SQ_TEXT(rec->client_id), SQ_TEXT(rec->key),
	    SQ_TEXT(rec->fingerprint), SQ_INT(stale_before)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "idempotency prune");
	if (rc == STORE_OK) {
		/* A live record is a conflict; none lets the insert go on. */
		if ((rc = load(db, rec->client_id, rec->key, existing)) == STORE_OK)
			rc = store_set_error(STORE_CONFLICT, "idempotency key in use");
		else if (rc == STORE_NOTFOUND && (rc = sq_prep(db, "idempotency",
		    "INSERT INTO idempotency (client_id, key, fingerprint, state, status,"
		    " body, created_at, expires_at) VALUES (?, ?, ?, 0, 0, '', ?, ?)", &st,
		    SQ_ARGS(SQ_TEXT(rec->client_id), SQ_TEXT(rec->key), SQ_TEXT(rec->fingerprint),
		    SQ_INT(rec->created_at), SQ_INT(rec->expires_at)))) == STORE_OK)
			rc = sq_step_done(db, st, NULL, "idempotency insert");
	}
	rc = sq_tx_end(h, db, rc, 0, "idempotency commit");
out:
	sq_main_unlock(h);
	return rc;
}

int
sq_idem_finish(void *h, const char *client_id, const char *key, int64_t created_at, int status,
    const char *body)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc, changes = 0;

	if ((rc = sq_prep(db, "idempotency",
	    "UPDATE idempotency SET state = 1, status = ?, body = ?"
	    " WHERE client_id = ? AND key = ? AND created_at = ? AND state <> 1", &st,
	    SQ_ARGS(SQ_INT(status), SQ_TEXT(body != NULL ? body : ""), SQ_TEXT(client_id),
	    SQ_TEXT(key), SQ_INT(created_at)))) == STORE_OK &&
	    (rc = sq_step_done(db, st, &changes, "idempotency finish")) == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "no unfinished idempotency record of this call");
	sq_main_unlock(h);
	return rc;
}

int
sq_idem_release(void *h, const char *client_id, const char *key, int64_t created_at)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc, changes = 0;

	/* RUNNING only: an ACTED record's call changed the store, and a
	 * retry must not run it again (store.h). */
	if ((rc = sq_prep(db, "idempotency", "DELETE FROM idempotency"
	    " WHERE client_id = ? AND key = ? AND created_at = ? AND state = 0",
	    &st, SQ_ARGS(SQ_TEXT(client_id), SQ_TEXT(key), SQ_INT(created_at)))) == STORE_OK &&
	    (rc = sq_step_done(db, st, &changes, "idempotency release")) == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "no unfinished idempotency record of this call");
	sq_main_unlock(h);
	return rc;
}
