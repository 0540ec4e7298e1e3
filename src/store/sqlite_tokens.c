/*
 * sqlite_tokens.c — the SQLite side of store_token_* and of the group
 * commit (store_backend.h commit_tokens and commit_batch, which writer.c
 * calls from its thread only, on the writer connection of its own), table
 * tokens; mirroring pgsql_tokens.c. A batch goes in one transaction: each
 * record with the one prepared insert (ON CONFLICT (id) DO NOTHING: a
 * duplicate skips that record alone), then the batch's audit rows
 * (sqlite_audit.c), one commit. The other operations run the main
 * connection's cached statements under its mutex. Revocations move the
 * generation, and record the value they moved it to (every node reads the
 * tokens revoked since its set's generation on it); recording and pruning
 * tokens do not.
 */
#include <pthread.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"

/* -- tokens ---------------------------------------------------------------------- */

static int
token_row(sqlite3_stmt *st, void *dst)
{
	struct store_token *t = dst;

	t->id = sq_text(st, 0);
	t->client_id = sq_text(st, 1);
	t->tenant_id = sq_text(st, 2);
	t->name = sq_text(st, 3);
	t->format = (enum store_format)sqi_format_of(sqlite3_column_int(st, 4));
	t->env = (enum store_env)sqi_env_of(sqlite3_column_int(st, 5));
	t->scope = sq_text(st, 6);
	t->aud = sq_text(st, 7);
	t->issued_at = sqlite3_column_int64(st, 8);
	t->expires_at = sqlite3_column_int64(st, 9);
	t->revoked_at = sqlite3_column_int64(st, 10);
	return t->id && t->client_id && t->tenant_id && t->name && t->scope && t->aud ? 0 : -1;
}

int
sq_token_get(void *h, const char *id, struct store_token *out)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_TOKEN_GET, SQ_ARGS(SQ_TEXT(id))), sizeof(*out),
	    token_row, store_token_clear_v, out, "token get", "no such token");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_token_list(void *h, const char *client_id, int64_t after_issued, const char *after_id,
    size_t limit, struct store_token **out, size_t *n)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_collect(q, sqi_stmt(q, SQ_TOKEN_LIST, SQ_ARGS(SQ_TEXT(client_id),
	    SQ_INT(after_issued), SQ_TEXT(after_id), SQ_INT((int64_t)limit))),
	    sizeof(**out), token_row, store_token_clear_v, (void **)out, n, "token list");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_token_list_revoked(void *h, int64_t now, size_t limit, struct store_token **out, size_t *n)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_collect(q, sqi_stmt(q, SQ_TOKEN_LIST_REVOKED, SQ_ARGS(SQ_INT(now),
	    SQ_INT((int64_t)limit))),
	    sizeof(**out), token_row, store_token_clear_v, (void **)out, n,
	    "token list revoked");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_token_list_revoked_since(void *h, uint64_t since, int64_t now, size_t limit,
    struct store_token **out, size_t *n)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_collect(q, sqi_stmt(q, SQ_TOKEN_LIST_REVOKED_SINCE, SQ_ARGS(SQ_INT((int64_t)since),
	    SQ_INT(now), SQ_INT((int64_t)limit))),
	    sizeof(**out), token_row, store_token_clear_v, (void **)out, n,
	    "token list revoked since");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_token_revoke(void *h, const char *id, int64_t at)
{
	struct sq *q = h;
	sqlite3_stmt *st;
	int rc, src, changes = 0;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		src = sqi_run(q, sqi_stmt(q, SQ_TOKEN_REVOKE, SQ_ARGS(SQ_INT(at), SQ_TEXT(id))),
		    &changes);
		if (src != SQLITE_OK)
			rc = sqi_run_err(q, src, "token revoke", "token revoke: constraint failed", NULL);
		else if (changes == 0) {
			/* Already revoked is success; absent is not. */
			if ((st = sqi_stmt(q, SQ_TOKEN_EXISTS, SQ_ARGS(SQ_TEXT(id)))) == NULL)
				rc = STORE_ERROR;
			else if ((src = sqlite3_step(st)) == SQLITE_DONE)
				rc = store_set_error(STORE_NOTFOUND, "no such token");
			else if (src != SQLITE_ROW)
				rc = sq_error(q->db, src, "token revoke");
			sqi_done(st);
		}
		/* Revocations move their own generation: the gate's caches
		 * reload on it, and nothing else. */
		rc = sqi_tx_end(q, rc, changes > 0 ? STORE_GEN_BIT(STORE_GEN_REVOKED) : 0);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_token_revoke_by_name(void *h, const char *client_id, const char *name, int64_t at, int *count)
{
	struct sq *q = h;
	sqlite3_stmt *st;
	int rc, src, changes = 0;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		st = client_id != NULL ?
		    sqi_stmt(q, SQ_TOKEN_REVOKE_NAME_CLIENT, SQ_ARGS(SQ_INT(at), SQ_TEXT(name),
		    SQ_TEXT(client_id))) :
		    sqi_stmt(q, SQ_TOKEN_REVOKE_NAME, SQ_ARGS(SQ_INT(at), SQ_TEXT(name)));
		src = sqi_run(q, st, &changes);
		if (src != SQLITE_OK)
			rc = sqi_run_err(q, src, "token revoke", "token revoke: constraint failed", NULL);
		else if (changes == 0)
			rc = store_set_error(STORE_NOTFOUND, "no live token named %.64s", name);
		rc = sqi_tx_end(q, rc, STORE_GEN_BIT(STORE_GEN_REVOKED));
	}
	pthread_mutex_unlock(&q->mu);
	if (rc == STORE_OK)
		*count = changes;
	return rc;
}

int
sq_token_prune(void *h, int64_t expired_before, int64_t limit, int64_t *pruned)
{
	struct sq *q = h;
	int rc, src, changes = 0;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		src = sqi_run(q, sqi_stmt(q, SQ_TOKEN_PRUNE, SQ_ARGS(SQ_INT(expired_before),
		    SQ_INT(limit))), &changes);
		if (src != SQLITE_OK)
			rc = sq_error(q->db, src, "token prune");
		rc = sqi_tx_end(q, rc, 0);
	}
	pthread_mutex_unlock(&q->mu);
	*pruned = rc == STORE_OK ? changes : 0;
	return rc;
}

int
sq_token_latest_expiry(void *h, int env, int64_t now, int64_t *latest)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_TOKEN_LATEST_EXPIRY, SQ_ARGS(SQ_INT(now), SQ_INT(env),
	    SQ_INT(STORE_FORMAT_JWT))), sizeof(*latest), sqi_int64_row, sqi_int64_clear, latest,
	    "token latest expiry", "no live token");
	pthread_mutex_unlock(&q->mu);
	if (rc == STORE_NOTFOUND) {
		*latest = 0;
		rc = STORE_OK;
	}
	return rc;
}

/* -- the group commit (writer thread only) ---------------------------------------- */

/* Tokens, then the audit rows of the batch (sqlite_audit.c), one commit. */
int
sq_commit_batch(void *h, const struct store_token *t, size_t n, int *errs,
    const struct store_audit_key *key, const struct store_audit *a, size_t na)
{
	struct sq *q = h;
	sqlite3_stmt *ins = q->sw[SW_INSERT];
	int rc, src;

	/* A stat a batch: into a file moved or deleted under the server, the
	 * batch would be answered as durable and lost at the next start. */
	if (sq_file_moved(q->wdb))
		return sq_moved_error();
	src = sqlite3_step(q->sw[SW_BEGIN]);
	sqlite3_reset(q->sw[SW_BEGIN]);
	if (src != SQLITE_DONE)
		return sq_error(q->wdb, sqlite3_extended_errcode(q->wdb), "token record: begin");
	for (size_t i = 0; i < n; i++) {
		const struct store_token *k = &t[i];

		/* SQLITE_STATIC: the records outlive this call. */
		sqlite3_bind_text(ins, 1, k->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, k->client_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 3, k->tenant_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 4, k->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 5, (int)k->format);
		sqlite3_bind_int(ins, 6, (int)k->env);
		sqlite3_bind_text(ins, 7, k->scope, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 8, k->aud, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 9, k->issued_at);
		sqlite3_bind_int64(ins, 10, k->expires_at);
		sqlite3_bind_int64(ins, 11, k->revoked_at);
		src = sqlite3_step(ins);
		if (src == SQLITE_DONE)
			errs[i] = sqlite3_changes(q->wdb) == 1 ? STORE_OK :
			    store_set_error(STORE_CONFLICT, "token %.64s is already recorded", k->id);
		else if ((src & 0xff) == SQLITE_CONSTRAINT)
			/* The statement alone is undone; the batch goes on. */
			errs[i] = sq_error(q->wdb, sqlite3_extended_errcode(q->wdb), "token record");
		else {
			rc = sq_error(q->wdb, sqlite3_extended_errcode(q->wdb), "token record");
			sqlite3_reset(ins);
			goto rollback;
		}
		sqlite3_reset(ins);
	}
	sqlite3_clear_bindings(ins);
	if (na > 0 && (rc = sq_audit_append(q->wdb, &q->sa, key, a, na)) != STORE_OK)
		goto rollback;
	src = sqlite3_step(q->sw[SW_COMMIT]);
	if (src != SQLITE_DONE) {
		rc = sq_error(q->wdb, sqlite3_extended_errcode(q->wdb), "token record: commit");
		sqlite3_reset(q->sw[SW_COMMIT]);
		goto rollback;
	}
	sqlite3_reset(q->sw[SW_COMMIT]);
	return STORE_OK;
rollback:
	sqlite3_clear_bindings(ins);
	if (!sqlite3_get_autocommit(q->wdb)) {
		sqlite3_step(q->sw[SW_ROLLBACK]);
		sqlite3_reset(q->sw[SW_ROLLBACK]);
	}
	return rc;
}

int
sq_commit_tokens(void *h, const struct store_token *t, size_t n, int *errs)
{
	return sq_commit_batch(h, t, n, errs, NULL, NULL, 0);
}
