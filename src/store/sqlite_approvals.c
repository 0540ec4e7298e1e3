/*
 * sqlite_approvals.c — the SQLite side of store_approval_* (store.h; the
 * contract of each op is in store_backend.h): table approvals (migration
 * "approvals"). Approvals are filed and decided by people, so statements
 * are prepared per call. Every write runs in one IMMEDIATE transaction on
 * the main connection under its mutex, with the generation increment; the
 * state changes are guarded UPDATEs, so of two racing decisions or uses
 * (threads, or processes sharing the file) exactly one changes the row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

#define COLUMNS "id, tenant_id, kind, maker, maker_tenant, payload, reason," \
	" conflict_key, state, checker, result, created_at, expires_at, decided_at, used_at"

/* Commits with the generation incremented, or rolls back on an error. */
static int
finish(void *h, sqlite3 *db, int rc)
{
	return sq_tx_end(h, db, rc, STORE_GEN_BIT(STORE_GEN_DATA), "approvals commit");
}

/* One row of COLUMNS into *a; STORE_ERROR (nothing left allocated) when
 * memory runs out or the stored state is out of range. */
static int
row(sqlite3_stmt *st, struct store_approval *a)
{
	char **strs[] = { &a->id, &a->tenant_id, &a->kind, &a->maker, &a->maker_tenant,
	    &a->payload, &a->reason, &a->conflict_key };
	int64_t state;

	memset(a, 0, sizeof(*a));
	for (int i = 0; i < 8; i++)
		*strs[i] = sq_text(st, i);
	state = sqlite3_column_int64(st, 8);
	a->checker = sq_text(st, 9);
	a->result = sq_text(st, 10);
	a->created_at = sqlite3_column_int64(st, 11);
	a->expires_at = sqlite3_column_int64(st, 12);
	a->decided_at = sqlite3_column_int64(st, 13);
	a->used_at = sqlite3_column_int64(st, 14);
	for (int i = 0; i < 8; i++)
		if (*strs[i] == NULL)
			goto nomem;
	if (a->checker == NULL || a->result == NULL)
		goto nomem;
	if (state < 0 || state >= STORE_APPROVAL_STATE__MAX) {
		store_approval_clear(a);
		return store_set_error(STORE_ERROR, "approval has an unknown state %lld",
		    (long long)state);
	}
	a->state = (enum store_approval_state)state;
	return STORE_OK;
nomem:
	store_approval_clear(a);
	return store_set_error(STORE_ERROR, "out of memory");
}

/* Reads the row id (main connection locked). */
static int
load(sqlite3 *db, const char *id, struct store_approval *out)
{
	sqlite3_stmt *st;
	int rc, src;

	if ((rc = sq_prep(db, "approvals",
	    "SELECT " COLUMNS " FROM approvals WHERE id = ?", &st,
	    SQ_ARGS(SQ_TEXT(id)))) != STORE_OK)
		return rc;
	src = sqlite3_step(st);
	if (src == SQLITE_ROW)
		rc = row(st, out);
	else if (src == SQLITE_DONE)
		rc = store_set_error(STORE_NOTFOUND, "approval %.64s does not exist", id);
	else
		rc = sq_error(db, src, "approvals read");
	sqlite3_finalize(st);
	return rc;
}

int
sq_approval_create(void *h, const struct store_approval *a)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc, src;

	if ((rc = sq_begin_write(db, "approvals begin")) != STORE_OK)
		goto out;
	/* Pending rows past their time expire first: an expired request
	 * holds no conflict key. */
	if ((rc = sq_prep(db, "approvals",
	    "UPDATE approvals SET state = ? WHERE state = ? AND expires_at <= ?",
	    &st, SQ_ARGS(SQ_INT(STORE_APPROVAL_EXPIRED), SQ_INT(STORE_APPROVAL_PENDING),
	    SQ_INT(a->created_at)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "approvals expire");
	if (rc == STORE_OK && a->conflict_key[0] != '\0' &&
	    (rc = sq_prep(db, "approvals",
	    "SELECT id FROM approvals WHERE state = ? AND conflict_key = ? LIMIT 1",
	    &st, SQ_ARGS(SQ_INT(STORE_APPROVAL_PENDING), SQ_TEXT(a->conflict_key)))) == STORE_OK) {
		src = sqlite3_step(st);
		if (src == SQLITE_ROW)
			rc = store_set_error(STORE_CONFLICT,
			    "a pending approval (%.64s) already has this conflict key",
			    (const char *)sqlite3_column_text(st, 0));
		else if (src != SQLITE_DONE)
			rc = sq_error(db, src, "approvals conflict");
		sqlite3_finalize(st);
	}
	if (rc == STORE_OK && (rc = sq_prep(db, "approvals",
	    "INSERT INTO approvals (" COLUMNS ") VALUES"
	    " (?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', ?, ?, 0, 0)", &st, SQ_ARGS(SQ_TEXT(a->id),
	    SQ_TEXT(a->tenant_id), SQ_TEXT(a->kind), SQ_TEXT(a->maker), SQ_TEXT(a->maker_tenant),
	    SQ_TEXT(a->payload), SQ_TEXT(a->reason), SQ_TEXT(a->conflict_key),
	    SQ_INT(STORE_APPROVAL_PENDING), SQ_INT(a->created_at),
	    SQ_INT(a->expires_at)))) == STORE_OK) {
		rc = sq_step_done(db, st, NULL, "approvals insert");
		if (rc != STORE_OK && sqlite3_extended_errcode(db) == SQLITE_CONSTRAINT_PRIMARYKEY)
			rc = store_set_error(STORE_CONFLICT, "approval %.64s already exists", a->id);
	}
	rc = finish(h, db, rc);
out:
	sq_main_unlock(h);
	return rc;
}

int
sq_approval_get(void *h, const char *id, struct store_approval *out)
{
	sqlite3 *db = sq_main_lock(h);
	int rc = load(db, id, out);

	sq_main_unlock(h);
	return rc;
}

/*
 * The WHERE of a page of approvals, from fixed parts (no value is written
 * into it: ?1 tenant, ?2 state, ?3 now, ?4 PENDING, ?5 APPROVED, ?6 and
 * ?7 the cursor, ?8 the limit are bound). SQLite plans a statement before
 * it sees the values, so "?1 IS NULL OR tenant_id = ?1" would read every
 * row: each filter is written only when it applies, and the indexes of
 * migration 16 serve each shape. Into buf; -1 when it does not fit.
 */
static int
list_sql(char *buf, size_t len, int tenant, enum store_approval_state state, int as_of_now)
{
	const char *sf = "";
	int w;

	if (state != STORE_APPROVAL_STATE__MAX) {
		sf = " AND state = ?2";
		if (as_of_now && (state == STORE_APPROVAL_PENDING || state == STORE_APPROVAL_APPROVED))
			sf = " AND state = ?2 AND expires_at > ?3";
		else if (as_of_now && state == STORE_APPROVAL_EXPIRED)
			sf = " AND (state = ?2 OR (state IN (?4, ?5) AND expires_at <= ?3))";
	}
	w = snprintf(buf, len, "SELECT " COLUMNS " FROM approvals WHERE created_at <= ?6"
	    " AND (created_at < ?6 OR (created_at = ?6 AND id < ?7))%s%s"
	    " ORDER BY created_at DESC, id DESC LIMIT ?8", tenant ? " AND tenant_id = ?1" : "", sf);
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

int
sq_approval_list(void *h, const char *tenant_id, enum store_approval_state state, int as_of_now,
    int64_t now, int64_t before_created, const char *before_id, int64_t limit,
    struct store_approval **out, size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	struct store_approval *v = NULL;
	sqlite3_stmt *st;
	size_t cap = 0;
	char sql[1024];
	int rc, src;

	if (list_sql(sql, sizeof(sql), tenant_id != NULL, state, as_of_now) == -1) {
		rc = store_set_error(STORE_ERROR, "approvals list: statement too long");
		goto out;
	}
	if ((rc = sq_prep(db, "approvals", sql, &st, SQ_ARGS(SQ_TEXT(tenant_id), SQ_INT(state),
	    SQ_INT(now), SQ_INT(STORE_APPROVAL_PENDING), SQ_INT(STORE_APPROVAL_APPROVED),
	    SQ_INT(before_created), SQ_TEXT(before_id), SQ_INT(limit)))) != STORE_OK)
		goto out;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_approval *nv = sq_grow(v, &cap, *n, sizeof(*v));
		if (nv == NULL) {
			rc = store_set_error(STORE_ERROR, "out of memory");
			break;
		}
		v = nv;
		if ((rc = row(st, &v[*n])) != STORE_OK)
			break;
		(*n)++;
	}
	if (rc == STORE_OK && src != SQLITE_DONE)
		rc = sq_error(db, src, "approvals list");
	sqlite3_finalize(st);
	if (rc != STORE_OK) {
		store_approval_free(v, *n);
		v = NULL;
		*n = 0;
	}
	*out = v;
out:
	sq_main_unlock(h);
	return rc;
}

int
sq_approval_transition(void *h, const char *id, enum store_approval_state from,
    enum store_approval_state to, int check_expiry, int64_t now, const char *checker,
    int64_t used_at, const char *result)
{
	sqlite3 *db = sq_main_lock(h);
	struct store_approval cur;
	sqlite3_stmt *st;
	int rc, changes = 0;

	/* The optional columns are set to themselves when not given, so one
	 * statement serves every transition. */
	if ((rc = sq_begin_write(db, "approvals begin")) != STORE_OK)
		goto out;
	if ((rc = sq_prep(db, "approvals", "UPDATE approvals SET state = ?1,"
	    " checker = coalesce(?2, checker),"
	    " decided_at = CASE WHEN ?2 IS NULL THEN decided_at ELSE ?3 END,"
	    " used_at = CASE WHEN ?4 = 0 THEN used_at ELSE ?4 END,"
	    " result = coalesce(?5, result)"
	    " WHERE id = ?6 AND state = ?7 AND (?8 = 0 OR expires_at > ?3)", &st,
	    SQ_ARGS(SQ_INT(to), SQ_TEXT(checker), SQ_INT(now), SQ_INT(used_at), SQ_TEXT(result),
	    SQ_TEXT(id), SQ_INT(from), SQ_INT(check_expiry != 0)))) == STORE_OK)
		rc = sq_step_done(db, st, &changes, "approvals update");
	if (rc == STORE_OK && changes == 0) {
		/* Lost, or never could: say why, change nothing. */
		if ((rc = load(db, id, &cur)) == STORE_OK) {
			rc = store_approval_conflict(id, from, cur.state);
			store_approval_clear(&cur);
		}
	}
	rc = finish(h, db, rc);
out:
	sq_main_unlock(h);
	return rc;
}

/* The rows of the apply claim (store.h store_approval_claim), written as
 * the partial index of migration 17 is, so that SQLite takes that index:
 * it matches a partial index's WHERE by its terms, not by bound values. */
_Static_assert(STORE_APPROVAL_APPROVED == 1, "migration 17 indexes state = 1");
#define UNAPPLIED	"state = 1 AND kind <> 'call'"

int
sq_approval_claim(void *h, const char *id, int64_t now, int64_t until)
{
	sqlite3 *db = sq_main_lock(h);
	struct store_approval cur;
	sqlite3_stmt *st;
	int rc, changes = 0;

	if ((rc = sq_begin_write(db, "approvals begin")) != STORE_OK)
		goto out;
	if ((rc = sq_prep(db, "approvals", "UPDATE approvals SET claim_until = ?1"
	    " WHERE id = ?2 AND " UNAPPLIED " AND claim_until <= ?3", &st,
	    SQ_ARGS(SQ_INT(until), SQ_TEXT(id), SQ_INT(now)))) == STORE_OK)
		rc = sq_step_done(db, st, &changes, "approvals claim");
	if (rc == STORE_OK && changes == 0 && (rc = load(db, id, &cur)) == STORE_OK) {
		rc = store_set_error(STORE_CONFLICT, cur.state == STORE_APPROVAL_APPROVED ?
		    "approval %.64s is being applied by another process" : "approval %.64s is %s",
		    id, store_approval_state_names[cur.state]);
		store_approval_clear(&cur);
	}
	/* A claim is nobody's cached data: no generation moves. */
	rc = sq_tx_end(h, db, rc, 0, "approvals commit");
out:
	sq_main_unlock(h);
	return rc;
}

/* row() for sq_collect: -1 when it failed (it has cleared *dst). */
static int
collect_row(sqlite3_stmt *st, void *dst)
{
	return row(st, dst) == STORE_OK ? 0 : -1;
}

int
sq_approval_unclaimed(void *h, int64_t now, const char *after_id, int64_t limit,
    struct store_approval **out, size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc;

	/* INDEXED BY: without statistics SQLite reads every approved row
	 * through approvals_state_page (state, created_at, id), the approved
	 * calls too, and sorts them. */
	if ((rc = sq_prep(db, "approvals", "SELECT " COLUMNS " FROM approvals"
	    " INDEXED BY approvals_unapplied WHERE " UNAPPLIED
	    " AND claim_until <= ?1 AND id > ?2 ORDER BY id LIMIT ?3", &st,
	    SQ_ARGS(SQ_INT(now), SQ_TEXT(after_id), SQ_INT(limit)))) == STORE_OK) {
		rc = sq_collect(db, st, sizeof(**out), collect_row, store_approval_clear_v,
		    (void **)out, n, "approvals unclaimed");
		sqlite3_finalize(st);
	}
	sq_main_unlock(h);
	return rc;
}
