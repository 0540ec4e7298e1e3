/*
 * sqlite_tenants.c — tenants for the SQLite backend (store.h
 * store_tenant_*; the PostgreSQL side is pgsql_tenants.c), table tenants:
 * create, get and list, each a cached statement of the main connection
 * (sqi_sql) run under its mutex. Creating one moves the generation.
 */
#include <pthread.h>
#include <stdio.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"

static int
tenant_row(sqlite3_stmt *st, void *dst)
{
	struct store_tenant *t = dst;

	t->id = sq_text(st, 0);
	t->name = sq_text(st, 1);
	t->created_at = sqlite3_column_int64(st, 2);
	return t->id && t->name ? 0 : -1;
}

int
sq_tenant_create(void *h, const struct store_tenant *t)
{
	struct sq *q = h;
	char conflict[128];
	int rc, src;

	snprintf(conflict, sizeof(conflict), "tenant %.64s already exists", t->id);
	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		src = sqi_run(q, sqi_stmt(q, SQ_TENANT_INSERT, SQ_ARGS(SQ_TEXT(t->id),
		    SQ_TEXT(t->name), SQ_INT(t->created_at))), NULL);
		if (src != SQLITE_OK)
			rc = sqi_run_err(q, src, "tenant create", conflict, NULL);
		rc = sqi_tx_end(q, rc, 1);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_tenant_get(void *h, const char *id, struct store_tenant *out)
{
	struct sq *q = h;
	char nf[128];
	int rc;

	snprintf(nf, sizeof(nf), "tenant %.64s does not exist", id);
	pthread_mutex_lock(&q->mu);
	rc = sqi_fetch_one(q, sqi_stmt(q, SQ_TENANT_GET, SQ_ARGS(SQ_TEXT(id))), sizeof(*out),
	    tenant_row, store_tenant_clear_v, out, "tenant get", nf);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_tenant_list(void *h, const char *only, const char *after_id, int64_t limit,
    struct store_tenant **out, size_t *n)
{
	struct sq *q = h;
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&q->mu);
	st = only != NULL ? sqi_stmt(q, SQ_TENANT_LIST_ONE, SQ_ARGS(SQ_TEXT(only), SQ_TEXT(after_id),
	    SQ_INT(limit))) : sqi_stmt(q, SQ_TENANT_LIST, SQ_ARGS(SQ_TEXT(after_id), SQ_INT(limit)));
	rc = sqi_collect(q, st, sizeof(**out), tenant_row, store_tenant_clear_v, (void **)out, n,
	    "tenant list");
	pthread_mutex_unlock(&q->mu);
	return rc;
}
