/*
 * pgsql_approvals.c — the PostgreSQL side of store_approval_* (store.h; the
 * contract of each op is in store_backend.h), mirroring sqlite_approvals.c:
 * table approvals (migration "approvals"). Every write is one transaction
 * with the generation increment (and NOTIFY). State changes are guarded
 * UPDATEs: at READ COMMITTED the row lock makes a concurrent loser
 * re-evaluate the WHERE and change nothing, so of two nodes deciding or
 * using the same approval exactly one wins. Filing with a conflict key
 * takes a transaction-scoped advisory lock on the key first, in a
 * statement of its own, so two nodes cannot both see "no pending row" and
 * both insert.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgsql_internal.h"

#define COLUMNS "id, tenant_id, kind, maker, maker_tenant, payload, reason," \
	" conflict_key, state, checker, result, created_at, expires_at, decided_at, used_at"

static int
approval_row(const PGresult *r, int i, void *dst)
{
	struct store_approval *a = dst;
	char **strs[] = { &a->id, &a->tenant_id, &a->kind, &a->maker, &a->maker_tenant,
	    &a->payload, &a->reason, &a->conflict_key };
	int64_t state;

	for (int k = 0; k < 8; k++)
		*strs[k] = pgi_col_s(r, i, k);
	state = pgi_col_i(r, i, 8);
	a->checker = pgi_col_s(r, i, 9);
	a->result = pgi_col_s(r, i, 10);
	a->created_at = pgi_col_i(r, i, 11);
	a->expires_at = pgi_col_i(r, i, 12);
	a->decided_at = pgi_col_i(r, i, 13);
	a->used_at = pgi_col_i(r, i, 14);
	for (int k = 0; k < 8; k++)
		if (*strs[k] == NULL)
			return -1;
	if (a->checker == NULL || a->result == NULL)
		return -1;
	/* Out of range only if a newer binary wrote it: shown as failed
	 * rather than acted on. */
	a->state = state >= 0 && state < STORE_APPROVAL_STATE__MAX ?
	    (enum store_approval_state)state : STORE_APPROVAL_FAILED;
	return 0;
}

/* The row id on c (inside the caller's transaction). */
static int
load(PGconn *c, const char *id, struct store_approval *out)
{
	struct pv v = { 0 };
	enum pq_kind kind;
	int rc = STORE_ERROR;
	PGresult *r;

	pv_s(&v, id);
	if ((r = pgi_q(c, "SELECT " COLUMNS " FROM approvals WHERE id = $1", &v, &kind, &rc,
	    "approvals read")) == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "approvals read: failed");
	if (PQntuples(r) == 0)
		rc = store_set_error(STORE_NOTFOUND, "approval %.64s does not exist", id);
	else if (approval_row(r, 0, out) == -1) {
		store_approval_clear(out);
		rc = store_set_error(STORE_ERROR, "out of memory");
	} else
		rc = STORE_OK;
	PQclear(r);
	return rc;
}

int
pg_approval_create(void *h, const struct store_approval *a)
{
	struct pv ex = { 0 }, lock = { 0 }, key = { 0 }, ins = { 0 };
	char conflict[128];
	enum pq_kind kind;
	PGresult *r;
	PGconn *c;
	int slot, rc;

	snprintf(conflict, sizeof(conflict), "approval %.64s already exists", a->id);
	pv_i(&ex, STORE_APPROVAL_EXPIRED);
	pv_i(&ex, STORE_APPROVAL_PENDING);
	pv_i(&ex, a->created_at);
	pv_s(&lock, a->conflict_key);
	pv_i(&key, STORE_APPROVAL_PENDING);
	pv_s(&key, a->conflict_key);
	pv_s(&ins, a->id);
	pv_s(&ins, a->tenant_id);
	pv_s(&ins, a->kind);
	pv_s(&ins, a->maker);
	pv_s(&ins, a->maker_tenant);
	pv_s(&ins, a->payload);
	pv_s(&ins, a->reason);
	pv_s(&ins, a->conflict_key);
	pv_i(&ins, STORE_APPROVAL_PENDING);
	pv_i(&ins, a->created_at);
	pv_i(&ins, a->expires_at);
	if ((rc = pgi_acquire(h, &slot, &c, "approvals create")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) != STORE_OK)
		goto out;
	/* Pending rows past their time expire first: an expired request
	 * holds no conflict key. */
	rc = pgi_run(c, "UPDATE approvals SET state = $1 WHERE state = $2 AND expires_at <= $3",
	    &ex, NULL, "approvals expire", NULL, NULL);
	/* The lock, then the look, as two statements: at READ COMMITTED a
	 * statement reads the snapshot of its start, so a look in the
	 * statement that waited for the lock missed the row its holder
	 * committed meanwhile, and both filed. */
	if (rc == STORE_OK && a->conflict_key[0] != '\0')
		rc = pgi_run(c, "SELECT pg_advisory_xact_lock(hashtext($1))", &lock, NULL,
		    "approvals conflict lock", NULL, NULL);
	if (rc == STORE_OK && a->conflict_key[0] != '\0') {
		r = pgi_q(c, "SELECT id FROM approvals WHERE state = $1 AND conflict_key = $2"
		    " LIMIT 1", &key, &kind, &rc, "approvals conflict");
		if (r == NULL && kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "approvals conflict: failed");
		if (r != NULL) {
			if (PQntuples(r) > 0)
				rc = store_set_error(STORE_CONFLICT,
				    "a pending approval (%.64s) already has this conflict key",
				    PQgetvalue(r, 0, 0));
			PQclear(r);
		}
	}
	if (rc == STORE_OK)
		rc = pgi_run(c, "INSERT INTO approvals (" COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6,"
		    " $7, $8, $9, '', '', $10, $11, 0, 0)", &ins, NULL, "approvals insert", conflict,
		    NULL);
	rc = pgi_tx_end(h, c, rc, 1);
out:
	pgi_release(h, slot);
	return rc;
}

int
pg_approval_get(void *h, const char *id, struct store_approval *out)
{
	struct pv v = { 0 };
	char nf[128];

	snprintf(nf, sizeof(nf), "approval %.64s does not exist", id);
	pv_s(&v, id);
	return pgi_fetch_one(h, "SELECT " COLUMNS " FROM approvals WHERE id = $1", &v, sizeof(*out),
	    approval_row, store_approval_clear_v, out, "approvals read", nf);
}

/* Appends fmt to sql[0..len) at *at; -1 when it does not fit. */
static int
sql_add(char *sql, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(sql + *at, len - *at, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= len - *at)
		return -1;
	*at += (size_t)w;
	return 0;
}

/* The state filter of a page (store.h store_approval_list_page), each
 * value bound as the next parameter of v. */
static int
state_sql(char *sql, size_t len, size_t *at, struct pv *v, enum store_approval_state state,
    int as_of_now, int64_t now)
{
	if (state == STORE_APPROVAL_STATE__MAX)
		return 0;
	pv_i(v, state);
	if (as_of_now && (state == STORE_APPROVAL_PENDING || state == STORE_APPROVAL_APPROVED)) {
		pv_i(v, now);
		return sql_add(sql, len, at, " AND state = $%d AND expires_at > $%d", v->n - 1, v->n);
	}
	if (as_of_now && state == STORE_APPROVAL_EXPIRED) {
		pv_i(v, now);
		pv_i(v, STORE_APPROVAL_PENDING);
		pv_i(v, STORE_APPROVAL_APPROVED);
		return sql_add(sql, len, at, " AND (state = $%d OR (state IN ($%d, $%d) AND"
		    " expires_at <= $%d))", v->n - 3, v->n - 1, v->n, v->n - 2);
	}
	return sql_add(sql, len, at, " AND state = $%d", v->n);
}

int
pg_approval_list(void *h, const char *tenant_id, enum store_approval_state state, int as_of_now,
    int64_t now, int64_t before_created, const char *before_id, int64_t limit,
    struct store_approval **out, size_t *n)
{
	struct pv v = { 0 };
	char sql[1024];
	size_t at = 0;
	int bad;

	/* Each filter is written only when it applies, its values bound (no
	 * value is ever written into the text), so that the indexes of
	 * migration 16 serve each shape as on SQLite (sqlite_approvals.c). */
	pv_i(&v, before_created);
	pv_s(&v, before_id);
	pv_i(&v, limit);
	bad = sql_add(sql, sizeof(sql), &at, "SELECT " COLUMNS " FROM approvals WHERE"
	    " created_at <= $1 AND (created_at < $1 OR (created_at = $1 AND id < $2))");
	if (!bad && tenant_id != NULL) {
		pv_s(&v, tenant_id);
		bad = sql_add(sql, sizeof(sql), &at, " AND tenant_id = $%d", v.n);
	}
	if (!bad)
		bad = state_sql(sql, sizeof(sql), &at, &v, state, as_of_now, now);
	if (!bad)
		bad = sql_add(sql, sizeof(sql), &at, " ORDER BY created_at DESC, id DESC LIMIT $3");
	if (bad)
		return store_set_error(STORE_ERROR, "approvals list: statement too long");
	return pgi_collect(h, sql, &v, sizeof(**out), approval_row, store_approval_clear_v,
	    (void **)out, n, "approvals list");
}

int
pg_approval_transition(void *h, const char *id, enum store_approval_state from,
    enum store_approval_state to, int check_expiry, int64_t now, const char *checker,
    int64_t used_at, const char *result)
{
	struct store_approval cur;
	struct pv v = { 0 };
	PGconn *c;
	int slot, rc, changes = 0;

	pv_i(&v, to);
	pv_opt(&v, checker);
	pv_i(&v, now);
	pv_i(&v, used_at);
	pv_opt(&v, result);
	pv_s(&v, id);
	pv_i(&v, from);
	pv_i(&v, check_expiry != 0);
	if ((rc = pgi_acquire(h, &slot, &c, "approvals update")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) != STORE_OK)
		goto out;
	/* The optional columns are set to themselves when not given, so one
	 * statement serves every transition. */
	rc = pgi_run(c, "UPDATE approvals SET state = $1,"
	    " checker = coalesce($2::text, checker),"
	    " decided_at = CASE WHEN $2::text IS NULL THEN decided_at ELSE $3::bigint END,"
	    " used_at = CASE WHEN $4::bigint = 0 THEN used_at ELSE $4::bigint END,"
	    " result = coalesce($5::text, result)"
	    " WHERE id = $6 AND state = $7 AND ($8::bigint = 0 OR expires_at > $3::bigint)", &v,
	    &changes, "approvals update", NULL, NULL);
	if (rc == STORE_OK && changes == 0) {
		/* Lost, or never could: say why, change nothing. */
		memset(&cur, 0, sizeof(cur));
		if ((rc = load(c, id, &cur)) == STORE_OK) {
			rc = store_approval_conflict(id, from, cur.state);
			store_approval_clear(&cur);
		}
	}
	rc = pgi_tx_end(h, c, rc, 1);
out:
	pgi_release(h, slot);
	return rc;
}

/* The rows of the apply claim (store.h store_approval_claim), written as
 * the partial index of migration 17 is, so that the planner can prove the
 * index covers them whatever the bound values. */
_Static_assert(STORE_APPROVAL_APPROVED == 1, "migration 17 indexes state = 1");
#define UNAPPLIED	"state = 1 AND kind <> 'call'"

int
pg_approval_claim(void *h, const char *id, int64_t now, int64_t until)
{
	struct store_approval cur;
	struct pv v = { 0 };
	PGconn *c;
	int slot, rc, changes = 0;

	pv_i(&v, until);
	pv_s(&v, id);
	pv_i(&v, now);
	if ((rc = pgi_acquire(h, &slot, &c, "approvals claim")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) != STORE_OK)
		goto out;
	/* At READ COMMITTED a concurrent claimer waits on the row lock, then
	 * sees claim_until moved and changes nothing. */
	rc = pgi_run(c, "UPDATE approvals SET claim_until = $1 WHERE id = $2 AND " UNAPPLIED
	    " AND claim_until <= $3", &v, &changes, "approvals claim", NULL, NULL);
	if (rc == STORE_OK && changes == 0) {
		memset(&cur, 0, sizeof(cur));
		if ((rc = load(c, id, &cur)) == STORE_OK) {
			rc = store_set_error(STORE_CONFLICT, cur.state == STORE_APPROVAL_APPROVED ?
			    "approval %.64s is being applied by another process" :
			    "approval %.64s is %s", id, store_approval_state_names[cur.state]);
			store_approval_clear(&cur);
		}
	}
	/* A claim is nobody's cached data: no generation moves. */
	rc = pgi_tx_end(h, c, rc, 0);
out:
	pgi_release(h, slot);
	return rc;
}

int
pg_approval_unclaimed(void *h, int64_t now, const char *after_id, int64_t limit,
    struct store_approval **out, size_t *n)
{
	struct pv v = { 0 };

	pv_i(&v, now);
	pv_s(&v, after_id);
	pv_i(&v, limit);
	return pgi_collect(h, "SELECT " COLUMNS " FROM approvals WHERE " UNAPPLIED
	    " AND claim_until <= $1 AND id > $2 ORDER BY id LIMIT $3", &v, sizeof(**out),
	    approval_row, store_approval_clear_v, (void **)out, n, "approvals unclaimed");
}
