/*
 * sqlite_clients.c — clients and their secrets for the SQLite backend
 * (store.h store_client_* and store_secret_*; the PostgreSQL side is
 * pgsql_clients.c), tables clients and client_secrets. Create, get, list
 * and update run the main connection's cached statements (sqi_sql) under
 * its mutex; a client goes in with its first secret in one transaction,
 * and a secret's id is its rowid. Each change moves the generation.
 * Deletion, rarer, prepares its statements per call (sqlite_util.c): the
 * client row and its secrets go in one transaction that also increments
 * the generation, so every cache (and every node) drops the client.
 * Token records stay.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "store/schema_common.h"
#include "store/sqlite_internal.h"

/* -- clients --------------------------------------------------------------------- */

static int
client_row(sqlite3_stmt *st, void *dst)
{
	struct store_client *c = dst;

	c->id = sq_text(st, 0);
	c->tenant_id = sq_text(st, 1);
	c->name = sq_text(st, 2);
	c->env = (enum store_env)sqi_env_of(sqlite3_column_int(st, 3));
	c->roles = (unsigned)sqlite3_column_int64(st, 4);
	c->scopes = sq_text(st, 5);
	c->ttl = sqlite3_column_int64(st, 6);
	c->max_ttl = sqlite3_column_int64(st, 7);
	c->format = (enum store_format)sqi_format_of(sqlite3_column_int(st, 8));
	c->allow_ips = sq_text(st, 9);
	c->claims = sq_text(st, 10);
	c->disabled = sqlite3_column_int(st, 11);
	c->rate_limit = sqlite3_column_int64(st, 12);
	c->tokens_valid_after = sqlite3_column_int64(st, 13);
	c->created_at = sqlite3_column_int64(st, 14);
	c->updated_at = sqlite3_column_int64(st, 15);
	return c->id && c->tenant_id && c->name && c->scopes && c->allow_ips && c->claims ? 0 : -1;
}

static int
secret_row(sqlite3_stmt *st, void *dst)
{
	struct store_secret *x = dst;
	const void *h = sqlite3_column_blob(st, 2);

	x->id = sqlite3_column_int64(st, 0);
	x->client_id = sq_text(st, 1);
	if (h != NULL && sqlite3_column_bytes(st, 2) == (int)sizeof(x->hash))
		memcpy(x->hash, h, sizeof(x->hash));
	x->created_at = sqlite3_column_int64(st, 3);
	x->expires_at = sqlite3_column_int64(st, 4);
	x->revoked_at = sqlite3_column_int64(st, 5);
	x->holder = sq_text(st, 6);
	return x->client_id && x->holder ? 0 : -1;
}

static int
insert_secret(struct sq *q, struct store_secret *sec)
{
	char fk[128], conflict[128];
	int src;

	snprintf(fk, sizeof(fk), "client %.64s does not exist", sec->client_id);
	snprintf(conflict, sizeof(conflict), "secret of client %.64s already exists", sec->client_id);
	src = sqi_run(q, sqi_stmt(q, SQ_SECRET_INSERT, SQ_ARGS(SQ_TEXT(sec->client_id),
	    SQ_BLOB(sec->hash, sizeof(sec->hash)), SQ_INT(sec->created_at),
	    SQ_INT(sec->expires_at), SQ_INT(sec->revoked_at), SQ_TEXT(sec->holder))), NULL);
	if (src != SQLITE_OK)
		return sqi_run_err(q, src, "secret add", conflict, fk);
	sec->id = sqlite3_last_insert_rowid(q->db);
	return STORE_OK;
}

/* SCHEMA_SQL_VOID_EARLIER_TOKENS for id, in the caller's transaction. */
static int
void_earlier_tokens(struct sq *q, const char *id)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = sq_prep(q->db, "client create", SCHEMA_SQL_VOID_EARLIER_TOKENS, &st,
	    SQ_ARGS(SQ_TEXT(id)))) == STORE_OK)
		rc = sq_step_done(q->db, st, NULL, "client create: earlier tokens");
	return rc;
}

int
sq_client_create(void *h, const struct store_client *c, struct store_secret *first)
{
	struct sq *q = h;
	char conflict[128], fk[128];
	int rc, src;

	snprintf(conflict, sizeof(conflict), "client %.64s already exists", c->id);
	snprintf(fk, sizeof(fk), "tenant %.64s does not exist", c->tenant_id);
	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		src = sqi_run(q, sqi_stmt(q, SQ_CLIENT_INSERT, SQ_ARGS(SQ_TEXT(c->id),
		    SQ_TEXT(c->tenant_id), SQ_TEXT(c->name), SQ_INT(c->env), SQ_INT(c->roles),
		    SQ_TEXT(c->scopes), SQ_INT(c->ttl), SQ_INT(c->max_ttl), SQ_INT(c->format),
		    SQ_TEXT(c->allow_ips), SQ_TEXT(c->claims), SQ_INT(c->disabled),
		    SQ_INT(c->rate_limit), SQ_INT(c->tokens_valid_after), SQ_INT(c->created_at),
		    SQ_INT(c->updated_at))), NULL);
		if (src != SQLITE_OK)
			rc = sqi_run_err(q, src, "client create", conflict, fk);
		if (rc == STORE_OK && first != NULL)
			rc = insert_secret(q, first);
		if (rc == STORE_OK)
			rc = void_earlier_tokens(q, c->id);
		rc = sqi_tx_end(q, rc, 1);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_client_get(void *h, const char *id, struct store_client *out)
{
	struct sq *q = h;
	char nf[128];
	int rc;

	snprintf(nf, sizeof(nf), "client %.64s does not exist", id);
	pthread_mutex_lock(&q->mu);
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_CLIENT_GET, SQ_ARGS(SQ_TEXT(id))), sizeof(*out),
	    client_row, store_client_clear_v, out, "client get", nf);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_client_list(void *h, const char *tenant_id, int64_t after_created, const char *after_id,
    int64_t limit, struct store_client **out, size_t *n)
{
	struct sq *q = h;
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&q->mu);
	st = tenant_id != NULL ? sqi_stmt(q, SQ_CLIENT_LIST_TENANT, SQ_ARGS(SQ_INT(after_created),
	    SQ_TEXT(after_id), SQ_INT(limit), SQ_TEXT(tenant_id))) :
	    sqi_stmt(q, SQ_CLIENT_LIST, SQ_ARGS(SQ_INT(after_created), SQ_TEXT(after_id),
	    SQ_INT(limit)));
	rc = sqi_collect(q, st, sizeof(**out), client_row, store_client_clear_v, (void **)out, n,
	    "client list");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Whether client id exists, in the caller's transaction: the answer to an
 * update that changed no row (STORE_CONFLICT if it does). */
static int
no_row(struct sq *q, const char *id, const char *what)
{
	sqlite3_stmt *st = sqi_stmt(q, SQ_CLIENT_GET, SQ_ARGS(SQ_TEXT(id)));
	int src;

	if (st == NULL)
		return STORE_ERROR;
	src = sqlite3_step(st);
	sqi_done(st);
	if (src == SQLITE_ROW)
		return store_set_error(STORE_CONFLICT, "client %.64s changed since it was read;"
		    " read it again", id);
	if (src != SQLITE_DONE)
		return store_set_error(STORE_ERROR, "%s: %s", what, sqlite3_errmsg(q->db));
	return store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
}

int
sq_client_update(void *h, const struct store_client *c, const struct store_client *r)
{
	struct sq *q = h;
	int rc, src, changes = 0;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		src = sqi_run(q, sqi_stmt(q, SQ_CLIENT_UPDATE, SQ_ARGS(SQ_TEXT(c->name),
		    SQ_INT(c->roles), SQ_TEXT(c->scopes), SQ_INT(c->ttl), SQ_INT(c->max_ttl),
		    SQ_INT(c->format), SQ_TEXT(c->allow_ips), SQ_TEXT(c->claims),
		    SQ_INT(c->rate_limit), SQ_INT(c->updated_at), SQ_TEXT(c->id),
		    SQ_TEXT(r->name), SQ_INT(r->roles), SQ_TEXT(r->scopes), SQ_INT(r->ttl),
		    SQ_INT(r->max_ttl), SQ_INT(r->format), SQ_TEXT(r->allow_ips),
		    SQ_TEXT(r->claims), SQ_INT(r->rate_limit))), &changes);
		if (src != SQLITE_OK)
			rc = sqi_run_err(q, src, "client update", "client update: constraint failed", NULL);
		else if (changes == 0)
			rc = no_row(q, c->id, "client update");
		rc = sqi_tx_end(q, rc, 1);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* One of the single-column changes (SQ_CLIENT_DISABLE, SQ_CLIENT_VOID):
 * value, updated_at, id. */
static int
client_set(struct sq *q, enum sq_id sid, const char *id, int64_t value, int64_t at,
    const char *what)
{
	int rc, src, changes = 0;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		src = sqi_run(q, sqi_stmt(q, sid, SQ_ARGS(SQ_INT(value), SQ_INT(at),
		    SQ_TEXT(id))), &changes);
		if (src != SQLITE_OK)
			rc = sqi_run_err(q, src, what, "client: constraint failed", NULL);
		else if (changes == 0)
			rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
		rc = sqi_tx_end(q, rc, 1);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_client_set_disabled(void *h, const char *id, int disabled, int64_t at)
{
	return client_set(h, SQ_CLIENT_DISABLE, id, disabled, at, "client disable");
}

int
sq_client_void_tokens(void *h, const char *id, int64_t after, int64_t at)
{
	return client_set(h, SQ_CLIENT_VOID, id, after, at, "client void tokens");
}

int
sq_client_delete(void *h, const char *id)
{
	sqlite3 *db = sq_main_lock(h);
	sqlite3_stmt *st;
	int rc, changes = 0;

	if ((rc = sq_begin_write(db, "client delete")) != STORE_OK)
		goto out;
	if ((rc = sq_prep(db, "client delete secrets", "DELETE FROM client_secrets"
	    " WHERE client_id = ?", &st, SQ_ARGS(SQ_TEXT(id)))) == STORE_OK)
		rc = sq_step_done(db, st, NULL, "client delete secrets");
	if (rc == STORE_OK && (rc = sq_prep(db, "client delete",
	    "DELETE FROM clients WHERE id = ?", &st, SQ_ARGS(SQ_TEXT(id)))) == STORE_OK)
		rc = sq_step_done(db, st, &changes, "client delete");
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
	rc = sq_tx_end(h, db, rc, STORE_GEN_BIT(STORE_GEN_DATA), "client delete commit");
out:
	sq_main_unlock(h);
	return rc;
}

/* -- secrets --------------------------------------------------------------------- */

int
sq_secret_list(void *h, const char *client_id, struct store_secret **out, size_t *n)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_collect(q, sqi_stmt(q, SQ_SECRET_LIST, SQ_ARGS(SQ_TEXT(client_id))),
	    sizeof(**out), secret_row, store_secret_clear_v, (void **)out, n, "secret list");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_secret_count_due(void *h, int64_t made_by, int64_t now, int64_t *count)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_SECRET_DUE, SQ_ARGS(SQ_INT(made_by), SQ_INT(now))),
	    sizeof(*count), sqi_int64_row, sqi_int64_clear, count, "secret count", "no count");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_secret_update(void *h, const struct store_secret *sec, int64_t void_after, int64_t at)
{
	struct sq *q = h;
	int rc, src, changes = 0;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		src = sqi_run(q, sqi_stmt(q, SQ_SECRET_UPDATE, SQ_ARGS(SQ_INT(sec->expires_at),
		    SQ_INT(sec->revoked_at), SQ_INT(sec->id))), &changes);
		if (src != SQLITE_OK)
			rc = sqi_run_err(q, src, "secret update", "secret update: constraint failed", NULL);
		else if (changes == 0)
			rc = store_set_error(STORE_NOTFOUND, "secret %lld does not exist",
			    (long long)sec->id);
		/* The client's tokens, in the same transaction (store.h
		 * store_secret_update_void_tokens). */
		if (rc == STORE_OK && void_after > 0) {
			src = sqi_run(q, sqi_stmt(q, SQ_CLIENT_VOID, SQ_ARGS(SQ_INT(void_after),
			    SQ_INT(at), SQ_TEXT(sec->client_id))), &changes);
			if (src != SQLITE_OK)
				rc = sqi_run_err(q, src, "client void tokens", "client: constraint failed",
				    NULL);
			else if (changes == 0)
				rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist",
				    sec->client_id);
		}
		rc = sqi_tx_end(q, rc, 1);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* The live secrets' count and when the last ends once cut (SQ_SECRET_LIVE). */
struct live {
	int64_t	n, last_end;
};

static int
live_row(sqlite3_stmt *st, void *dst)
{
	struct live *l = dst;

	l->n = sqlite3_column_int64(st, 0);
	l->last_end = sqlite3_column_int64(st, 1);
	return 0;
}

static void
live_clear(void *p)
{
	(void)p;
}

/* The rotation's three statements, inside the caller's transaction. */
static int
rotate_tx(struct sq *q, struct store_secret *sec, int64_t end_by, size_t max_live,
    int64_t *prev_end)
{
	struct live l = { 0, 0 };
	int rc, src;

	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_SECRET_LIVE, SQ_ARGS(SQ_TEXT(sec->client_id),
	    SQ_INT(end_by), SQ_INT(sec->created_at))), sizeof(l), live_row, live_clear, &l,
	    "secret rotate", "secret rotate: no count");
	if (rc != STORE_OK)
		return rc;
	if (l.n >= (int64_t)max_live)
		return store_set_error(STORE_CONFLICT, "client %.64s already has %lld live secrets",
		    sec->client_id, (long long)l.n);
	src = sqi_run(q, sqi_stmt(q, SQ_SECRET_END_BY, SQ_ARGS(SQ_TEXT(sec->client_id),
	    SQ_INT(end_by))), NULL);
	if (src != SQLITE_OK)
		return sqi_run_err(q, src, "secret rotate", "secret rotate: constraint failed", NULL);
	if ((rc = insert_secret(q, sec)) != STORE_OK)
		return rc;
	*prev_end = l.last_end;
	return STORE_OK;
}

int
sq_secret_rotate(void *h, struct store_secret *sec, int64_t end_by, size_t max_live,
    int64_t *prev_end)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK)
		rc = sqi_tx_end(q, rotate_tx(q, sec, end_by, max_live, prev_end), 1);
	pthread_mutex_unlock(&q->mu);
	return rc;
}
