/*
 * sqlite_audit.c — the SQLite side of the audit trail (store.h
 * store_audit_*; table audit, migration "audit"; the chain column and the
 * key record, table audit_key, migration "audit_keyed"). Appends run inside
 * the group-commit writer's transaction (BEGIN IMMEDIATE holds the
 * database's write lock, so the head read here cannot race another
 * process's append); list, scan, prune and the key record use the main
 * connection.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite_internal.h"

#define AUDIT_COLS "seq, at, request_id, actor, tenant, address, action, target, outcome," \
	" detail, prev_hash, hash, chain"
/* store_audit_prunable, as SQL. */
#define PRUNABLE "('token.issued', 'token.refused')"

static int
prep(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? STORE_OK : sq_error(db, rc, "audit: prepare");
}

static void
blob32(sqlite3_stmt *st, int i, uint8_t out[32])
{
	const void *b = sqlite3_column_blob(st, i);

	memset(out, 0, 32);
	/* A blob of another size (tampering) stays zero: it cannot verify. */
	if (b != NULL && sqlite3_column_bytes(st, i) == 32)
		memcpy(out, b, 32);
}

/* One row of AUDIT_COLS into *a: 0, or -1 out of memory (a cleared). */
static int
row_read(sqlite3_stmt *st, struct store_audit *a)
{
	char **f[8] = { &a->request_id, &a->actor, &a->tenant, &a->address, &a->action,
	    &a->target, &a->outcome, &a->detail };

	a->seq = sqlite3_column_int64(st, 0);
	a->at = sqlite3_column_int64(st, 1);
	for (int i = 0; i < 8; i++)
		if ((*f[i] = sq_text(st, 2 + i)) == NULL) {
			store_audit_clear(a);
			return -1;
		}
	blob32(st, 10, a->prev_hash);
	blob32(st, 11, a->hash);
	a->chain = sqlite3_column_int(st, 12);
	return 0;
}

#define SQL_HEAD "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1"
#define SQL_INSERT "INSERT INTO audit (" AUDIT_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"

/* Persistent: they live as long as the connection (measured: preparing both
 * in every group commit was a tenth of the writer thread's time). */
int
sq_audit_prepare(sqlite3 *db, struct sq_audit_stmts *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (sqlite3_prepare_v3(db, SQL_HEAD, -1, SQLITE_PREPARE_PERSISTENT, &s->head,
	    NULL) != SQLITE_OK || sqlite3_prepare_v3(db, SQL_INSERT, -1,
	    SQLITE_PREPARE_PERSISTENT, &s->ins, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot prepare the audit statements: %s", sqlite3_errmsg(db));
		sq_audit_finalize(s);
		return -1;
	}
	return 0;
}

void
sq_audit_finalize(struct sq_audit_stmts *s)
{
	sqlite3_finalize(s->head);
	sqlite3_finalize(s->ins);
	s->head = s->ins = NULL;
}

/*
 * Appends a[0..na) to the chain on db, which is inside a write transaction
 * the caller owns, with s's statements (left reset). Reads the head, then
 * chains each row to the one before, linked under key (v2).
 */
int
sq_audit_append(sqlite3 *db, struct sq_audit_stmts *s, const struct store_audit_key *key,
    const struct store_audit *a, size_t na)
{
	uint8_t prev[32];
	int64_t seq = 0;
	int src;

	memset(prev, 0, sizeof(prev));
	if ((src = sqlite3_step(s->head)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(s->head, 0);
		blob32(s->head, 1, prev);
	}
	sqlite3_reset(s->head);
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		return sq_error(db, src, "audit: chain head");
	for (size_t i = 0; i < na; i++) {
		struct store_audit r = a[i];
		const char *f[8] = { r.request_id, r.actor, r.tenant, r.address, r.action,
		    r.target, r.outcome, r.detail };

		for (int k = 0; k < 8; k++)
			if (f[k] == NULL)
				f[k] = "";
		r.request_id = (char *)f[0];
		r.actor = (char *)f[1];
		r.tenant = (char *)f[2];
		r.address = (char *)f[3];
		r.action = (char *)f[4];
		r.target = (char *)f[5];
		r.outcome = (char *)f[6];
		r.detail = (char *)f[7];
		r.seq = ++seq;
		r.chain = STORE_AUDIT_CHAIN_V2;
		memcpy(r.prev_hash, prev, 32);
		if (store_audit_link(key, &r, r.hash) == -1) {
			sqlite3_clear_bindings(s->ins);
			return store_set_error(STORE_ERROR, "audit: append: cannot link the row "
			    "(no audit key, or out of memory)");
		}
		sqlite3_bind_int64(s->ins, 1, r.seq);
		sqlite3_bind_int64(s->ins, 2, r.at);
		for (int k = 0; k < 8; k++)
			sqlite3_bind_text(s->ins, 3 + k, f[k], -1, SQLITE_STATIC);
		sqlite3_bind_blob(s->ins, 11, r.prev_hash, 32, SQLITE_STATIC);
		sqlite3_bind_blob(s->ins, 12, r.hash, 32, SQLITE_STATIC);
		sqlite3_bind_int(s->ins, 13, r.chain);
		src = sqlite3_step(s->ins);
		sqlite3_reset(s->ins);
		if (src != SQLITE_DONE) {
			sqlite3_clear_bindings(s->ins);
			return sq_error(db, src, "audit: append");
		}
		memcpy(prev, r.hash, 32);
	}
	/* The bound strings belong to the caller's records. */
	sqlite3_clear_bindings(s->ins);
	return STORE_OK;
}

/* sq_audit_append with statements prepared for this call alone. */
int
sq_audit_append_tx(sqlite3 *db, const struct store_audit_key *k, const struct store_audit *a,
    size_t na)
{
	struct sq_audit_stmts s = { NULL, NULL };
	int rc;

	if ((rc = prep(db, SQL_HEAD, &s.head)) == STORE_OK &&
	    (rc = prep(db, SQL_INSERT, &s.ins)) == STORE_OK)
		rc = sq_audit_append(db, &s, k, a, na);
	sq_audit_finalize(&s);
	return rc;
}

int
sq_audit_list(void *h, const struct store_audit_filter *f, struct store_audit **out, size_t *n)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	struct store_audit *v = NULL;
	size_t len = 0;
	int rc, src;

	/* Each filter is "? = ''" or a match, so one statement serves all;
	 * the planner picks the index of the filter given. */
	rc = prep(db, "SELECT " AUDIT_COLS " FROM audit"
	    " WHERE (?1 = '' OR tenant = ?1)"
	    " AND (?2 = '' OR actor = ?2 OR target = ?2)"
	    " AND (?3 = '' OR action = ?3)"
	    " AND (?4 = 0 OR at >= ?4) AND (?5 = 0 OR at < ?5)"
	    " AND (?6 = 0 OR seq < ?6)"
	    " ORDER BY seq DESC LIMIT ?7", &st);
	if (rc != STORE_OK)
		goto out;
	sqlite3_bind_text(st, 1, f->tenant, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, f->client, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, f->action, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, f->since);
	sqlite3_bind_int64(st, 5, f->until);
	sqlite3_bind_int64(st, 6, f->before_seq);
	sqlite3_bind_int64(st, 7, (int64_t)f->limit);
	if ((v = calloc(f->limit, sizeof(*v))) == NULL) {
		rc = store_set_error(STORE_ERROR, "out of memory");
		goto out;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW && len < f->limit) {
		if (row_read(st, &v[len]) == -1) {
			rc = store_set_error(STORE_ERROR, "out of memory");
			goto out;
		}
		len++;
	}
	if (src != SQLITE_DONE && src != SQLITE_ROW) {
		rc = sq_error(db, src, "audit: list");
		goto out;
	}
	*out = v;
	*n = len;
	v = NULL;
	rc = STORE_OK;
out:
	sqlite3_finalize(st);
	sq_main_unlock(h);
	store_audit_free(v, len);
	return rc;
}

int
sq_audit_scan(void *h, int64_t from_seq, store_audit_fn fn, void *arg)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	int rc, src;

	/* One statement is one snapshot (WAL): a concurrent append or prune
	 * is either wholly seen or not at all. */
	if ((rc = prep(db, "SELECT " AUDIT_COLS " FROM audit WHERE seq >= ? ORDER BY seq",
	    &st)) != STORE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, from_seq);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_audit a;

		memset(&a, 0, sizeof(a));
		if (row_read(st, &a) == -1) {
			rc = store_set_error(STORE_ERROR, "out of memory");
			goto out;
		}
		rc = fn(arg, &a);
		store_audit_clear(&a);
		if (rc != 0)
			goto out;
	}
	rc = src == SQLITE_DONE ? STORE_OK : sq_error(db, src, "audit: scan");
out:
	sqlite3_finalize(st);
	sq_main_unlock(h);
	return rc;
}

/* Steps st to its single row's int64 column 0; *isnull when NULL/no row. */
static int
one_int(sqlite3 *db, sqlite3_stmt *st, int64_t *v, int *isnull)
{
	int src = sqlite3_step(st);

	*isnull = 1;
	if (src == SQLITE_ROW) {
		*isnull = sqlite3_column_type(st, 0) == SQLITE_NULL;
		*v = sqlite3_column_int64(st, 0);
		return STORE_OK;
	}
	return src == SQLITE_DONE ? STORE_OK : sq_error(db, src, "audit: prune");
}

/* The cut (store.h, retention): the greatest seq of a prunable row older
 * than before, into *through, and its hash; *found is 0 when there is
 * none (then there is no checkpoint either). */
static int
prune_cut(sqlite3 *db, int64_t before, int64_t *through, uint8_t through_hash[32], int *found)
{
	sqlite3_stmt *st = NULL;
	int rc, src, isnull;

	*found = 0;
	if ((rc = prep(db, "SELECT max(seq) FROM audit WHERE action IN " PRUNABLE " AND at < ?",
	    &st)) != STORE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, before);
	if ((rc = one_int(db, st, through, &isnull)) != STORE_OK || isnull)
		goto out;	/* nothing old enough: no checkpoint */
	sqlite3_finalize(st);
	st = NULL;
	if ((rc = prep(db, "SELECT hash FROM audit WHERE seq = ?", &st)) != STORE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, *through);
	if ((src = sqlite3_step(st)) != SQLITE_ROW) {
		rc = sq_error(db, src, "audit: prune: the row to cut at");
		goto out;
	}
	blob32(st, 0, through_hash);
	*found = 1;
out:
	sqlite3_finalize(st);
	return rc;
}

/* The kept rows' count and digest: the checkpoint's "kept" and
 * "kept_digest" (store.h). */
static int
prune_kept(sqlite3 *db, const struct store_audit_key *k, int64_t through, int64_t *kept,
    uint8_t kept_digest[32])
{
	sqlite3_stmt *st = NULL;
	struct store_audit_digest *dg = NULL;
	int rc, src;

	/* The rows that stay at or before the cut, bound by one digest,
	 * keyed as the checkpoint row that carries it. */
	if ((dg = store_audit_digest_new(k)) == NULL) {
		rc = store_set_error(STORE_ERROR, "out of memory");
		goto out;
	}
	if ((rc = prep(db, "SELECT seq, hash FROM audit WHERE seq <= ? AND action NOT IN " PRUNABLE
	    " ORDER BY seq", &st)) != STORE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, through);
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		uint8_t hh[32];

		blob32(st, 1, hh);
		store_audit_digest_add(dg, sqlite3_column_int64(st, 0), hh);
		(*kept)++;
	}
	if (src != SQLITE_DONE) {
		rc = sq_error(db, src, "audit: prune: kept rows");
		goto out;
	}
	sqlite3_finalize(st);
	st = NULL;
	store_audit_digest_final(dg, kept_digest);
	dg = NULL;
out:
	sqlite3_finalize(st);
	if (dg != NULL) {
		uint8_t junk[32];
		store_audit_digest_final(dg, junk);
	}
	return rc;
}

/* How many rows the delete is to take: the prunable ones at or before
 * the cut. */
static int
prune_count(sqlite3 *db, int64_t through, int64_t *deleted)
{
	sqlite3_stmt *st = NULL;
	int rc, isnull;

	if ((rc = prep(db, "SELECT count(*) FROM audit WHERE seq <= ? AND action IN " PRUNABLE,
	    &st)) != STORE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, through);
	rc = one_int(db, st, deleted, &isnull);
out:
	sqlite3_finalize(st);
	return rc;
}

int
sq_audit_prune(void *h, const struct store_audit_key *k, int64_t before, int64_t now,
    int64_t *pruned)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st = NULL;
	struct store_audit cp;
	const struct store_audit_key *ak;
	const struct store_audit *row;
	uint8_t through_hash[32], kept_digest[32];
	char detail[256];
	int64_t through = 0, kept = 0, deleted = 0;
	int rc, src, found, intx = 0, staged;

	if ((rc = sq_begin_write(db, "audit: prune: begin")) != STORE_OK)
		goto out;
	intx = 1;
	if ((rc = prune_cut(db, before, &through, through_hash, &found)) != STORE_OK || !found)
		goto out;
	if ((rc = prune_kept(db, k, through, &kept, kept_digest)) != STORE_OK)
		goto out;
	if ((rc = prune_count(db, through, &deleted)) != STORE_OK)
		goto out;
	/* The checkpoint goes on before the delete: it takes the seq after
	 * the head, which may be the row C itself; seqs are never reused. */
	store_audit_checkpoint_detail(through, through_hash, kept, kept_digest, deleted,
	    detail, sizeof(detail));
	store_audit_checkpoint(&cp, now, detail);
	if ((rc = sq_audit_append_tx(db, k, &cp, 1)) != STORE_OK)
		goto out;
	if ((rc = prep(db, "DELETE FROM audit WHERE seq <= ? AND action IN " PRUNABLE, &st)) != STORE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, through);
	if ((src = sqlite3_step(st)) != SQLITE_DONE) {
		rc = sq_error(db, src, "audit: prune: delete");
		goto out;
	}
	if (sqlite3_changes(db) != deleted) {
		rc = store_set_error(STORE_ERROR, "audit: prune: deleted %d rows, counted %lld",
		    sqlite3_changes(db), (long long)deleted);
		goto out;
	}
	/* The row of who pruned (store.h store_audit_stage), after the
	 * checkpoint and in its transaction, as every change's row is
	 * (PostgreSQL's prune commits through pgi_tx_end, which appends it). */
	if ((staged = store_audit_staged(h, &ak, &row)) &&
	    (rc = sq_audit_append_tx(db, ak, row, 1)) != STORE_OK)
		goto out;
	store_fault_before_commit();
	if ((src = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		rc = sq_error(db, src, "audit: prune: commit");
		goto out;
	}
	intx = 0;
	if (staged)
		store_audit_staged_committed(h);
	*pruned = deleted;
out:
	sqlite3_finalize(st);
	if (intx) {
		/* Nothing to prune commits nothing either. */
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	sq_main_unlock(h);
	return rc;
}

/* The key record into *out: STORE_OK, STORE_NOTFOUND, or an error. */
static int
seal_read(sqlite3 *db, struct store_audit_seal *out)
{
	sqlite3_stmt *st = NULL;
	int rc, src;

	memset(out, 0, sizeof(*out));
	if ((rc = prep(db, "SELECT key_check, v1_through, v1_hash, mac FROM audit_key"
	    " WHERE chain = ?", &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int(st, 1, STORE_AUDIT_CHAIN_V2);
	if ((src = sqlite3_step(st)) == SQLITE_ROW) {
		blob32(st, 0, out->check);
		out->through = sqlite3_column_int64(st, 1);
		blob32(st, 2, out->through_hash);
		blob32(st, 3, out->mac);
		rc = STORE_OK;
	} else if (src == SQLITE_DONE)
		rc = store_set_error(STORE_NOTFOUND, "the audit trail has no key record");
	else
		rc = sq_error(db, src, "audit: key record");
	sqlite3_finalize(st);
	return rc;
}

/* Writes the record for k binding the head as it is (store_backend.h
 * audit_seal), inside the caller's write transaction. */
static int
seal_write(sqlite3 *db, const struct store_audit_key *k, struct store_audit_seal *out)
{
	sqlite3_stmt *st = NULL;
	uint8_t head[32];
	int64_t seq = 0;
	int rc, src, chain = 0;

	memset(head, 0, sizeof(head));
	if ((rc = prep(db, "SELECT seq, hash, chain FROM audit ORDER BY seq DESC LIMIT 1",
	    &st)) != STORE_OK)
		return rc;
	if ((src = sqlite3_step(st)) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0);
		blob32(st, 1, head);
		chain = sqlite3_column_int(st, 2);
	}
	sqlite3_finalize(st);
	st = NULL;
	if (src != SQLITE_ROW && src != SQLITE_DONE)
		return sq_error(db, src, "audit: chain head");
	/* Keyed rows but no record: it was deleted. A new one would bless
	 * whatever was done to the trail; verification reports the loss. */
	if (chain == STORE_AUDIT_CHAIN_V2)
		return store_set_error(STORE_NOTFOUND, "the audit trail has keyed rows but no key "
		    "record");
	if (store_audit_seal_make(k, seq, head, out) == -1)
		return store_set_error(STORE_ERROR, "audit: cannot make the key record");
	if ((rc = prep(db, "INSERT INTO audit_key (chain, key_check, v1_through, v1_hash, mac)"
	    " VALUES (?, ?, ?, ?, ?)", &st)) != STORE_OK)
		return rc;
	sqlite3_bind_int(st, 1, STORE_AUDIT_CHAIN_V2);
	sqlite3_bind_blob(st, 2, out->check, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, out->through);
	sqlite3_bind_blob(st, 4, out->through_hash, 32, SQLITE_STATIC);
	sqlite3_bind_blob(st, 5, out->mac, 32, SQLITE_STATIC);
	src = sqlite3_step(st);
	sqlite3_finalize(st);
	return src == SQLITE_DONE ? STORE_OK : sq_error(db, src, "audit: key record: insert");
}

int
sq_audit_seal(void *h, const struct store_audit_key *k, struct store_audit_seal *out,
    int *wrote)
{
	sqlite3 *db = sq_main_lock(h);
	int rc, src, intx = 0;

	*wrote = 0;
	if (k == NULL) {
		rc = seal_read(db, out);
		goto out;
	}
	/* The write lock first: no append moves the head while we bind it,
	 * and of two processes keying at once the second reads the first's. */
	if ((rc = sq_begin_write(db, "audit: key record: begin")) != STORE_OK)
		goto out;
	intx = 1;
	if ((rc = seal_read(db, out)) != STORE_NOTFOUND)
		goto out;
	if ((rc = seal_write(db, k, out)) != STORE_OK)
		goto out;
	if ((src = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
		rc = sq_error(db, src, "audit: key record: commit");
		goto out;
	}
	intx = 0;
	*wrote = 1;
out:
	if (intx)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sq_main_unlock(h);
	return rc;
}
