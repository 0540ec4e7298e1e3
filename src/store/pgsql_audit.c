/*
 * pgsql_audit.c — the PostgreSQL side of the audit trail (store.h
 * store_audit_*; table audit, migration 6; the chain column and the key
 * record, table audit_key, migration 10), mirroring sqlite_audit.c. Every
 * append (the writer's batch, a prune's checkpoint) and the key record's
 * first write take pg_advisory_xact_lock(STORE_AUDIT_LOCK), then read the
 * chain head: nodes
 * appending at once queue on the lock and never fork the chain; the lock is
 * released by the commit or rollback. A batch's rows go in with one
 * statement (unnest of arrays; hashes as hex text decoded in SQL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgsql_internal.h"

#define AUDIT_COLS "seq, at, request_id, actor, tenant, address, action, target, outcome," \
	" detail, prev_hash, hash, chain"
/* Every row appended is v2 (store_backend.h commit_batch). */
#define CHAIN_V2_SQL "2"
_Static_assert(STORE_AUDIT_CHAIN_V2 == 2, "CHAIN_V2_SQL is STORE_AUDIT_CHAIN_V2");
/* store_audit_prunable, as SQL. */
#define PRUNABLE "('token.issued', 'token.refused')"

const char pg_audit_lock_sql[] = "SELECT pg_advisory_xact_lock($1::bigint)";
const char pg_audit_head_sql[] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1";
const char pg_audit_insert_sql[] = "INSERT INTO audit (" AUDIT_COLS ") SELECT s, t, q, ac, te,"
    " ad, an, ta, o, d, decode(ph, 'hex'), decode(hh, 'hex'), " CHAIN_V2_SQL
    " FROM unnest($1::bigint[],"
    " $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],"
    " $9::text[], $10::text[], $11::text[], $12::text[]) AS u(s, t, q, ac, te, ad, an, ta, o,"
    " d, ph, hh)";

void
pg_audit_lock_param(struct pv *v)
{
	pv_i(v, STORE_AUDIT_LOCK);
}

/* The chain lock, transaction-scoped: the commit or rollback releases it. */
static int
chain_lock(PGconn *c)
{
	struct pv v = { 0 };

	pg_audit_lock_param(&v);
	return pgi_run(c, pg_audit_lock_sql, &v, NULL, "audit: chain lock", NULL, NULL);
}

/* A hash as one hex text element (decoded in SQL). */
static void
put_hex(struct pgi_arr *b, const uint8_t h[32], int first)
{
	static const char hx[] = "0123456789abcdef";
	char s[66];

	for (int i = 0; i < 32; i++) {
		s[2 * i] = hx[h[i] >> 4];
		s[2 * i + 1] = hx[h[i] & 15];
	}
	s[64] = '\0';
	pgi_arr_s(b, s, first);
}

static void
hash32(const PGresult *r, int row, int col, uint8_t out[32])
{
	size_t n = 0;
	uint8_t *b = pgi_col_b(r, row, col, &n);

	memset(out, 0, 32);
	/* A hash of another size (tampering) stays zero: it cannot verify. */
	if (b != NULL && n == 32)
		memcpy(out, b, 32);
	free(b);
}

void
pg_audit_head(const PGresult *r, int64_t *seq, uint8_t prev[32])
{
	*seq = 0;
	memset(prev, 0, 32);
	if (PQntuples(r) == 1) {
		*seq = pgi_col_i(r, 0, 0);
		hash32(r, 0, 1, prev);
	}
}

void
pg_audit_rows_free(struct pg_audit_rows *w)
{
	for (int k = 0; k < PG_AUDIT_NCOLS; k++)
		free(w->b[k].p);
	memset(w, 0, sizeof(*w));
}

/* A row's eight text fields *f[0..8) as they are to be stored: NULL as
 * "", invalid UTF-8 as a copy in fixed[k] (the caller frees them). -1 out
 * of memory, the copies made freed. */
static int
text_fields(char **f[8], char *fixed[8])
{
	/* PostgreSQL text takes only UTF-8: an invalid byte (from a
	 * request, say a client id tried) becomes '?' before the row is
	 * hashed, so the chain holds what is stored and one bad row
	 * cannot fail a batch. */
	for (int k = 0; k < 8; k++) {
		if (*f[k] == NULL)
			*f[k] = (char *)"";
		else if (!pgi_utf8_valid(*f[k])) {
			if ((fixed[k] = pgi_utf8_fixed(*f[k])) == NULL) {
				for (int j = 0; j < k; j++)
					free(fixed[j]);
				return -1;
			}
			*f[k] = fixed[k];
		}
	}
	return 0;
}

int
pg_audit_rows(struct pg_audit_rows *w, const struct store_audit_key *key,
    const struct store_audit *a, size_t na, int64_t seq, const uint8_t head[32])
{
	enum { F_SEQ, F_AT, F_REQ, F_ACTOR, F_TENANT, F_ADDR, F_ACTION, F_TARGET, F_OUTCOME,
	    F_DETAIL, F_PREV, F_HASH, F__MAX };
	uint8_t prev[32];

	_Static_assert(F__MAX == PG_AUDIT_NCOLS, "one array per column");
	memset(w, 0, sizeof(*w));
	memcpy(prev, head, 32);
	for (int k = 0; k < F__MAX; k++)
		pgi_arr_put(&w->b[k], "{", 1);
	for (size_t i = 0; i < na; i++) {
		struct store_audit x = a[i];
		char **f[8] = { &x.request_id, &x.actor, &x.tenant, &x.address, &x.action,
		    &x.target, &x.outcome, &x.detail };
		char *fixed[8] = { NULL };
		int first = i == 0;

		if (text_fields(f, fixed) == -1) {
			pg_audit_rows_free(w);
			return store_set_error(STORE_ERROR, "audit: append: out of memory");
		}
		x.seq = ++seq;
		x.chain = STORE_AUDIT_CHAIN_V2;
		memcpy(x.prev_hash, prev, 32);
		if (store_audit_link(key, &x, x.hash) == -1) {
			for (int j = 0; j < 8; j++)
				free(fixed[j]);
			pg_audit_rows_free(w);
			return store_set_error(STORE_ERROR, "audit: append: cannot link the row "
			    "(no audit key, or out of memory)");
		}
		pgi_arr_i(&w->b[F_SEQ], x.seq, first);
		pgi_arr_i(&w->b[F_AT], x.at, first);
		for (int k = 0; k < 8; k++)
			pgi_arr_s(&w->b[F_REQ + k], *f[k], first);
		put_hex(&w->b[F_PREV], x.prev_hash, first);
		put_hex(&w->b[F_HASH], x.hash, first);
		memcpy(prev, x.hash, 32);
		for (int k = 0; k < 8; k++)
			free(fixed[k]);
	}
	if (pgi_arr_bind(w->b, F__MAX, &w->v) == -1) {
		pg_audit_rows_free(w);
		return store_set_error(STORE_ERROR, "audit: append: out of memory");
	}
	return STORE_OK;
}

/*
 * Appends a[0..na) to the chain on c, inside a transaction the caller owns:
 * the chain lock, the head, then every row chained to the one before.
 */
int
pg_audit_append_tx(PGconn *c, const struct store_audit_key *k, const struct store_audit *a,
    size_t na)
{
	struct pg_audit_rows w;
	enum pq_kind kind;
	uint8_t prev[32];
	int64_t seq;
	PGresult *r;
	int rc = STORE_ERROR;

	if (na == 0)
		return STORE_OK;
	if ((rc = chain_lock(c)) != STORE_OK)
		return rc;
	if ((r = pgi_q(c, pg_audit_head_sql, NULL, &kind, &rc, "audit: chain head")) == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "audit: chain head");
	pg_audit_head(r, &seq, prev);
	PQclear(r);
	if ((rc = pg_audit_rows(&w, k, a, na, seq, prev)) != STORE_OK)
		return rc;
	rc = pgi_run(c, pg_audit_insert_sql, &w.v, NULL, "audit: append",
	    PG_AUDIT_SEQ_TAKEN, NULL);
	pg_audit_rows_free(&w);
	return rc;
}

static int
audit_row(const PGresult *r, int i, void *dst)
{
	struct store_audit *a = dst;
	char **f[8] = { &a->request_id, &a->actor, &a->tenant, &a->address, &a->action,
	    &a->target, &a->outcome, &a->detail };

	a->seq = pgi_col_i(r, i, 0);
	a->at = pgi_col_i(r, i, 1);
	for (int k = 0; k < 8; k++)
		if ((*f[k] = pgi_col_s(r, i, 2 + k)) == NULL)
			return -1;
	hash32(r, i, 10, a->prev_hash);
	hash32(r, i, 11, a->hash);
	a->chain = (int)pgi_col_i(r, i, 12);
	return 0;
}

int
pg_audit_list(void *h, const struct store_audit_filter *f, struct store_audit **out, size_t *n)
{
	struct pv v = { 0 };

	pv_s(&v, f->tenant);
	pv_s(&v, f->client);
	pv_s(&v, f->action);
	pv_i(&v, f->since);
	pv_i(&v, f->until);
	pv_i(&v, f->before_seq);
	pv_i(&v, (int64_t)f->limit);
	/* Each filter is "$n = ''" (or 0) or a match, so one statement serves
	 * all; the planner picks the index of the filter given. */
	return pgi_collect(h, "SELECT " AUDIT_COLS " FROM audit"
	    " WHERE ($1 = '' OR tenant = $1)"
	    " AND ($2 = '' OR actor = $2 OR target = $2)"
	    " AND ($3 = '' OR action = $3)"
	    " AND ($4::bigint = 0 OR at >= $4::bigint) AND ($5::bigint = 0 OR at < $5::bigint)"
	    " AND ($6::bigint = 0 OR seq < $6::bigint)"
	    " ORDER BY seq DESC LIMIT $7", &v, sizeof(**out), audit_row, store_audit_clear_v,
	    (void **)out, n, "audit: list");
}

/* Rows a page at a time (seq > last): memory stays bounded however long
 * the chain is. */
#define SCAN_PAGE 1000

/* Calls fn on each row of r in order, next set past the last one seen.
 * 0, fn's non-zero answer, or an error. */
static int
scan_page(const PGresult *r, store_audit_fn fn, void *arg, int64_t *next)
{
	for (int i = 0; i < PQntuples(r); i++) {
		struct store_audit a;
		int rc;

		memset(&a, 0, sizeof(a));
		if (audit_row(r, i, &a) == -1) {
			store_audit_clear(&a);
			return store_set_error(STORE_ERROR, "audit: scan: out of memory");
		}
		*next = a.seq + 1;
		rc = fn(arg, &a);
		store_audit_clear(&a);
		if (rc != 0)
			return rc;
	}
	return STORE_OK;
}

int
pg_audit_scan(void *h, int64_t from_seq, store_audit_fn fn, void *arg)
{
	int64_t next = from_seq;
	PGconn *c;
	int slot, rc;

	if ((rc = pgi_acquire(h, &slot, &c, "audit: scan")) != STORE_OK)
		return rc;
	/* Every page in one snapshot, as SQLite's one statement: a prune
	 * committed between two pages took rows out of the later ones, which
	 * the verifier then named as deleted by tampering. */
	if ((rc = pgi_run(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL, NULL,
	    "audit: scan: begin", NULL, NULL)) != STORE_OK)
		goto out;
	for (;;) {
		struct pv v = { 0 };
		enum pq_kind kind;
		PGresult *r;
		int n;

		pv_i(&v, next);
		pv_i(&v, SCAN_PAGE);
		if ((r = pgi_q(c, "SELECT " AUDIT_COLS " FROM audit WHERE seq >= $1 ORDER BY seq"
		    " LIMIT $2", &v, &kind, &rc, "audit: scan")) == NULL) {
			if (kind != PQ_FAIL)
				rc = store_set_error(STORE_ERROR, "audit: scan: failed");
			goto out;
		}
		n = PQntuples(r);
		rc = scan_page(r, fn, arg, &next);
		PQclear(r);
		if (rc != STORE_OK || n < SCAN_PAGE)
			goto out;
	}
out:
	pgi_release(h, slot);	/* rolls back the read-only transaction */
	return rc;
}

/* The cut (store.h, retention): the greatest seq of a prunable row older
 * than before, into *through, and its hash; *found is 0 when there is
 * none (then there is no checkpoint either). */
static int
prune_cut(PGconn *c, int64_t before, int64_t *through, uint8_t through_hash[32], int *found)
{
	struct pv v = { 0 }, t = { 0 };
	enum pq_kind kind;
	PGresult *r = NULL;
	int rc = STORE_OK;

	*found = 0;
	pv_i(&v, before);
	if ((r = pgi_q(c, "SELECT max(seq) FROM audit WHERE action IN " PRUNABLE " AND at < $1",
	    &v, &kind, &rc, "audit: prune")) == NULL) {
		if (kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "audit: prune: failed");
		goto out;
	}
	if (PQgetisnull(r, 0, 0))	/* nothing old enough: no checkpoint */
		goto out;
	*through = pgi_col_i(r, 0, 0);
	PQclear(r);
	pv_i(&t, *through);
	if ((r = pgi_q(c, "SELECT hash FROM audit WHERE seq = $1", &t, &kind, &rc,
	    "audit: prune: the row to cut at")) == NULL || PQntuples(r) != 1) {
		if (r != NULL || kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "audit: prune: the row to cut at is missing");
		goto out;
	}
	hash32(r, 0, 0, through_hash);
	*found = 1;
out:
	PQclear(r);
	return rc;
}

/* The kept rows' count and digest: the checkpoint's "kept" and
 * "kept_digest" (store.h). */
static int
prune_kept(PGconn *c, const struct store_audit_key *k, int64_t through, int64_t *kept,
    uint8_t kept_digest[32])
{
	struct store_audit_digest *dg = NULL;
	struct pv t = { 0 };
	enum pq_kind kind;
	PGresult *r = NULL;
	int rc = STORE_OK;

	pv_i(&t, through);
	/* The rows that stay at or before the cut, bound by one digest. */
	if ((r = pgi_q(c, "SELECT seq, hash FROM audit WHERE seq <= $1 AND action NOT IN "
	    PRUNABLE " ORDER BY seq", &t, &kind, &rc, "audit: prune: kept rows")) == NULL) {
		if (kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "audit: prune: kept rows");
		goto out;
	}
	/* Keyed as the checkpoint row that carries it. */
	if ((dg = store_audit_digest_new(k)) == NULL) {
		rc = store_set_error(STORE_ERROR, "out of memory");
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		uint8_t hh[32];
		hash32(r, i, 1, hh);
		store_audit_digest_add(dg, pgi_col_i(r, i, 0), hh);
		(*kept)++;
	}
	PQclear(r);
	r = NULL;
	store_audit_digest_final(dg, kept_digest);
	dg = NULL;
out:
	PQclear(r);
	if (dg != NULL) {
		uint8_t junk[32];
		store_audit_digest_final(dg, junk);
	}
	return rc;
}

/* How many rows the delete is to take: the prunable ones at or before
 * the cut. */
static int
prune_count(PGconn *c, int64_t through, int64_t *counted)
{
	struct pv t = { 0 };
	enum pq_kind kind;
	PGresult *r;
	int rc = STORE_OK;

	pv_i(&t, through);
	if ((r = pgi_q(c, "SELECT count(*) FROM audit WHERE seq <= $1 AND action IN " PRUNABLE,
	    &t, &kind, &rc, "audit: prune: count")) == NULL) {
		if (kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "audit: prune: count");
		return rc;
	}
	*counted = pgi_col_i(r, 0, 0);
	PQclear(r);
	return STORE_OK;
}

int
pg_audit_prune(void *h, const struct store_audit_key *k, int64_t before, int64_t now,
    int64_t *pruned)
{
	struct store_audit cp;
	struct pv t = { 0 };
	uint8_t through_hash[32], kept_digest[32];
	char detail[256];
	int64_t through = 0, kept = 0, counted = 0;
	PGconn *c;
	int slot, rc, found, deleted = 0;

	if ((rc = pgi_acquire(h, &slot, &c, "audit: prune")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) != STORE_OK)
		goto out;
	/* The chain lock first: no append moves the head while we cut. */
	if ((rc = chain_lock(c)) != STORE_OK)
		goto out;
	if ((rc = prune_cut(c, before, &through, through_hash, &found)) != STORE_OK)
		goto out;
	if (!found) {
		*pruned = 0;
		goto out;
	}
	if ((rc = prune_kept(c, k, through, &kept, kept_digest)) != STORE_OK)
		goto out;
	/* Count, append the checkpoint, then delete (the contract in
	 * store_backend.h): appending after the delete would reuse the seq of
	 * a pruned head. */
	if ((rc = prune_count(c, through, &counted)) != STORE_OK)
		goto out;
	store_audit_checkpoint_detail(through, through_hash, kept, kept_digest, counted,
	    detail, sizeof(detail));
	store_audit_checkpoint(&cp, now, detail);
	if ((rc = pg_audit_append_tx(c, k, &cp, 1)) != STORE_OK)
		goto out;
	pv_i(&t, through);
	if ((rc = pgi_run(c, "DELETE FROM audit WHERE seq <= $1 AND action IN " PRUNABLE, &t,
	    &deleted, "audit: prune: delete", NULL, NULL)) != STORE_OK)
		goto out;
	if (deleted != counted) {
		rc = store_set_error(STORE_ERROR, "audit: prune: deleted %d rows, counted %lld",
		    deleted, (long long)counted);
		goto out;
	}
	if ((rc = pgi_tx_end(h, c, STORE_OK, 0)) == STORE_OK)
		*pruned = deleted;
out:
	pgi_release(h, slot);	/* rolls back what did not commit */
	return rc;
}

/* The key record into *out: STORE_OK, STORE_NOTFOUND, or an error. */
static int
seal_read(PGconn *c, struct store_audit_seal *out)
{
	struct pv v = { 0 };
	enum pq_kind kind;
	PGresult *r;
	int rc = STORE_ERROR;

	memset(out, 0, sizeof(*out));
	pv_i(&v, STORE_AUDIT_CHAIN_V2);
	if ((r = pgi_q(c, "SELECT key_check, v1_through, v1_hash, mac FROM audit_key"
	    " WHERE chain = $1", &v, &kind, &rc, "audit: key record")) == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "audit: key record");
	if (PQntuples(r) == 1) {
		hash32(r, 0, 0, out->check);
		out->through = pgi_col_i(r, 0, 1);
		hash32(r, 0, 2, out->through_hash);
		hash32(r, 0, 3, out->mac);
		rc = STORE_OK;
	} else
		rc = store_set_error(STORE_NOTFOUND, "the audit trail has no key record");
	PQclear(r);
	return rc;
}

/* Writes the record for k binding the head as it is (store_backend.h
 * audit_seal), inside the caller's transaction, which holds the chain
 * lock. */
static int
seal_write(PGconn *c, const struct store_audit_key *k, struct store_audit_seal *out)
{
	struct pv v = { 0 };
	enum pq_kind kind;
	uint8_t head[32];
	int64_t seq = 0;
	PGresult *r;
	int rc = STORE_ERROR, chain = 0;

	if ((r = pgi_q(c, "SELECT seq, hash, chain FROM audit ORDER BY seq DESC LIMIT 1", NULL,
	    &kind, &rc, "audit: chain head")) == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "audit: chain head");
	pg_audit_head(r, &seq, head);
	if (PQntuples(r) == 1)
		chain = (int)pgi_col_i(r, 0, 2);
	PQclear(r);
	/* Keyed rows but no record: it was deleted. A new one would bless
	 * whatever was done to the trail; verification reports the loss. */
	if (chain == STORE_AUDIT_CHAIN_V2)
		return store_set_error(STORE_NOTFOUND, "the audit trail has keyed rows but no key "
		    "record");
	if (store_audit_seal_make(k, seq, head, out) == -1)
		return store_set_error(STORE_ERROR, "audit: cannot make the key record");
	pv_i(&v, STORE_AUDIT_CHAIN_V2);
	pv_b(&v, out->check, 32);
	pv_i(&v, out->through);
	pv_b(&v, out->through_hash, 32);
	pv_b(&v, out->mac, 32);
	return pgi_run(c, "INSERT INTO audit_key (chain, key_check, v1_through, v1_hash, mac)"
	    " VALUES ($1, $2, $3, $4, $5)", &v, NULL, "audit: key record: insert", NULL, NULL);
}

int
pg_audit_seal(void *h, const struct store_audit_key *k, struct store_audit_seal *out,
    int *wrote)
{
	PGconn *c;
	int slot, rc;

	*wrote = 0;
	if ((rc = pgi_acquire(h, &slot, &c, "audit: key record")) != STORE_OK)
		return rc;
	if (k == NULL) {
		rc = seal_read(c, out);
		goto out;
	}
	/* The chain lock first: no append moves the head while we bind it,
	 * and of two nodes keying at once the second reads the first's. */
	if ((rc = pgi_tx_begin(c)) != STORE_OK || (rc = chain_lock(c)) != STORE_OK)
		goto out;
	if ((rc = seal_read(c, out)) == STORE_NOTFOUND &&
	    (rc = seal_write(c, k, out)) == STORE_OK &&
	    (rc = pgi_tx_end(h, c, STORE_OK, 0)) == STORE_OK)
		*wrote = 1;
out:
	pgi_release(h, slot);	/* rolls back what did not commit */
	return rc;
}
