/*
 * sqlite_keys.c — signing keys for the SQLite backend (store.h
 * store_key_*; the PostgreSQL side is pgsql_keys.c), table signing_keys:
 * the sealed private key as a blob, and the dates that publish, activate,
 * retire and remove it; each operation a cached statement of the main
 * connection (sqi_sql) run under its mutex; a rotation or a revocation in
 * one transaction with its checks. Each change moves the generation, so
 * that every node reloads its keys.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/schema_common.h"
#include "store/sqlite_internal.h"

static int
key_row(sqlite3_stmt *st, void *dst)
{
	struct store_key *k = dst;
	const void *b;
	int n;

	k->kid = sq_text(st, 0);
	k->alg = sq_text(st, 1);
	k->env = (enum store_env)sqi_env_of(sqlite3_column_int(st, 2));
	b = sqlite3_column_blob(st, 3);
	n = sqlite3_column_bytes(st, 3);
	if ((k->sealed = malloc(n > 0 ? (size_t)n : 1)) != NULL && n > 0 && b != NULL) {
		memcpy(k->sealed, b, (size_t)n);
		k->sealed_len = (size_t)n;
	}
	k->created_at = sqlite3_column_int64(st, 4);
	k->publish_at = sqlite3_column_int64(st, 5);
	k->activate_at = sqlite3_column_int64(st, 6);
	k->retire_at = sqlite3_column_int64(st, 7);
	k->remove_at = sqlite3_column_int64(st, 8);
	return k->kid && k->alg && k->sealed ? 0 : -1;
}

/* Inserts k in the caller's transaction. */
static int
insert_key(struct sq *q, const struct store_key *k)
{
	char conflict[128];
	int src;

	snprintf(conflict, sizeof(conflict), "key %.64s already exists", k->kid);
	src = sqi_run(q, sqi_stmt(q, SQ_KEY_INSERT, SQ_ARGS(SQ_TEXT(k->kid), SQ_TEXT(k->alg),
	    SQ_INT(k->env), SQ_BLOB(k->sealed, k->sealed_len), SQ_INT(k->created_at),
	    SQ_INT(k->publish_at), SQ_INT(k->activate_at), SQ_INT(k->retire_at),
	    SQ_INT(k->remove_at))), NULL);
	return src != SQLITE_OK ? sqi_run_err(q, src, "key add", conflict, NULL) : STORE_OK;
}

int
sq_key_add(void *h, const struct store_key *k)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK)
		rc = sqi_tx_end(q, insert_key(q, k), 1);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_key_list(void *h, struct store_key **out, size_t *n)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	rc = sqi_collect(q, sqi_stmt(q, SQ_KEY_LIST, SQ_NO_ARGS), sizeof(**out), key_row,
	    store_key_clear_v, (void **)out, n, "key list");
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* One row's first column, as an integer or a copied text (key rotation). */
struct first_col {
	int64_t	 i;
	char	*s;
};

static int
count_row(sqlite3_stmt *st, void *dst)
{
	((struct first_col *)dst)->i = sqlite3_column_int64(st, 0);
	return 0;
}

static int
kid_row(sqlite3_stmt *st, void *dst)
{
	return (((struct first_col *)dst)->s = sq_text(st, 0)) != NULL ? 0 : -1;
}

static void
first_col_clear(void *p)
{
	free(((struct first_col *)p)->s);
}

/* The rotation's statements, inside the caller's transaction: the check
 * for a scheduled key, then the current key read, the insert and the
 * retirement of the keys it takes over from (SCHEMA_SQL_RETIRE_ENV_KEYS). */
static int
rotate_tx(struct sq *q, const struct store_key *add, int64_t now, int64_t old_remove_at,
    const char *replaces)
{
	struct first_col pending = { 0, NULL }, cur = { 0, NULL };
	int rc;

	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_KEY_PENDING, SQ_ARGS(SQ_INT(add->env),
	    SQ_INT(now))), sizeof(pending), count_row, first_col_clear, &pending, "key rotate",
	    "key rotate: no count");
	if (rc != STORE_OK)
		return rc;
	if (pending.i > 0)
		return store_set_error(STORE_CONFLICT, "a %s key is already scheduled to take over",
		    store_env_names[add->env]);
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_KEY_CURRENT, SQ_ARGS(SQ_INT(add->env), SQ_INT(now))),
	    sizeof(cur), kid_row, first_col_clear, &cur, "key rotate", "no current key");
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	if (!store_kid_same(cur.s, replaces)) {
		rc = store_set_error(STORE_CONFLICT, "another %s rotation came first: %.64s signs now",
		    store_env_names[add->env], cur.s != NULL ? cur.s : "no key");
		free(cur.s);
		return rc;
	}
	if ((rc = insert_key(q, add)) == STORE_OK && cur.s != NULL) {
		sqlite3_stmt *st;
		if ((rc = sq_prep(q->db, "key rotate", SCHEMA_SQL_RETIRE_ENV_KEYS, &st,
		    SQ_ARGS(SQ_INT(add->activate_at), SQ_INT(old_remove_at), SQ_INT(add->env),
		    SQ_TEXT(add->kid), SQ_INT(now)))) == STORE_OK)
			rc = sq_step_done(q->db, st, NULL, "key rotate: retire");
	}
	free(cur.s);
	return rc;
}

int
sq_key_rotate(void *h, const struct store_key_rotation *r, size_t n, int64_t now)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		/* Every env's, or none (store.h store_key_rotate_envs). */
		for (size_t i = 0; i < n && rc == STORE_OK; i++)
			rc = rotate_tx(q, r[i].add, now, r[i].old_remove_at, r[i].replaces);
		rc = sqi_tx_end(q, rc, 1);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Revoking kid, the only key signing for env at now: the key scheduled to
 * take over next signs from now instead (SQ_KEY_NEXT), so that a leaked key
 * ends in one step without leaving env unable to sign. STORE_CONFLICT when
 * no key is scheduled. In the caller's transaction. */
static int
bring_forward(struct sq *q, int env, const char *kid, int64_t now)
{
	struct first_col next = { 0, NULL };
	int rc, src;

	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_KEY_NEXT, SQ_ARGS(SQ_INT(env), SQ_INT(now))),
	    sizeof(next), kid_row, first_col_clear, &next, "key revoke", "no successor");
	if (rc == STORE_NOTFOUND)
		return store_set_error(STORE_CONFLICT, "key %.64s is the only key signing for %s, "
		    "and none is scheduled to take over", kid, store_env_names[sqi_env_of(env)]);
	if (rc != STORE_OK)
		return rc;
	src = sqi_run(q, sqi_stmt(q, SQ_KEY_FORWARD, SQ_ARGS(SQ_TEXT(next.s), SQ_INT(now))), NULL);
	free(next.s);
	return src != SQLITE_OK ? sqi_run_err(q, src, "key revoke", "key revoke: constraint failed",
	    NULL) : STORE_OK;
}

/* The revocation's statements, inside the caller's transaction. */
static int
revoke_tx(struct sq *q, const char *kid, int64_t now)
{
	struct first_col env = { 0, NULL }, cur = { 0, NULL }, others = { 0, NULL };
	char nf[128];
	int rc, src;

	snprintf(nf, sizeof(nf), "no key %.64s", kid);
	if ((rc = sqi_fetch_one(q, sqi_stmt(q, SQ_KEY_ENV, SQ_ARGS(SQ_TEXT(kid))), sizeof(env),
	    count_row, first_col_clear, &env, "key revoke", nf)) != STORE_OK)
		return rc;
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_KEY_CURRENT, SQ_ARGS(SQ_INT(env.i), SQ_INT(now))),
	    sizeof(cur), kid_row, first_col_clear, &cur, "key revoke", "no current key");
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_KEY_OTHERS, SQ_ARGS(SQ_INT(env.i), SQ_TEXT(kid),
	    SQ_INT(now))), sizeof(others), count_row, first_col_clear, &others, "key revoke",
	    "key revoke: no count");
	if (rc == STORE_OK && cur.s != NULL && strcmp(cur.s, kid) == 0 && others.i == 0)
		rc = bring_forward(q, (int)env.i, kid, now);
	free(cur.s);
	if (rc != STORE_OK)
		return rc;
	src = sqi_run(q, sqi_stmt(q, SQ_KEY_UNRETIRE, SQ_ARGS(SQ_INT(env.i), SQ_TEXT(kid),
	    SQ_INT(now))), NULL);
	if (src == SQLITE_OK)
		src = sqi_run(q, sqi_stmt(q, SQ_KEY_RETIRE, SQ_ARGS(SQ_INT(now), SQ_INT(now),
		    SQ_TEXT(kid))), NULL);
	return src != SQLITE_OK ? sqi_run_err(q, src, "key revoke", "key revoke: constraint failed",
	    NULL) : STORE_OK;
}

int
sq_key_revoke(void *h, const char *kid, int64_t now)
{
	struct sq *q = h;
	int rc;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK)
		rc = sqi_tx_end(q, revoke_tx(q, kid, now), 1);
	pthread_mutex_unlock(&q->mu);
	return rc;
}
