/*
 * pgsql_tenants.c — tenants for the PostgreSQL backend (store.h
 * store_tenant_*; the SQLite side is sqlite_tenants.c), table tenants:
 * create, get and list, each one statement on a pooled connection.
 * Creating one moves the generation.
 */
#include <stdio.h>

#include "store/pgsql_internal.h"

static int
tenant_row(const PGresult *r, int i, void *dst)
{
	struct store_tenant *t = dst;

	t->id = pgi_col_s(r, i, 0);
	t->name = pgi_col_s(r, i, 1);
	t->created_at = pgi_col_i(r, i, 2);
	return t->id && t->name ? 0 : -1;
}

int
pg_tenant_create(void *h, const struct store_tenant *t)
{
	struct pv v = { 0 };
	char conflict[128];

	snprintf(conflict, sizeof(conflict), "tenant %.64s already exists", t->id);
	pv_s(&v, t->id);
	pv_s(&v, t->name);
	pv_i(&v, t->created_at);
	return pgi_write1(h, "INSERT INTO tenants (id, name, created_at) VALUES ($1,$2,$3)", &v, 1,
	    NULL, "tenant create", conflict, NULL);
}

int
pg_tenant_get(void *h, const char *id, struct store_tenant *out)
{
	struct pv v = { 0 };
	char nf[128];

	snprintf(nf, sizeof(nf), "tenant %.64s does not exist", id);
	pv_s(&v, id);
	return pgi_fetch_one(h, "SELECT id, name, created_at FROM tenants WHERE id = $1", &v,
	    sizeof(*out), tenant_row, store_tenant_clear_v, out, "tenant get", nf);
}

int
pg_tenant_list(void *h, const char *only, const char *after_id, int64_t limit,
    struct store_tenant **out, size_t *n)
{
	struct pv v = { 0 };

	pv_s(&v, after_id);
	pv_i(&v, limit);
	if (only == NULL)
		return pgi_collect(h, "SELECT id, name, created_at FROM tenants WHERE id > $1"
		    " ORDER BY id LIMIT $2", &v, sizeof(**out), tenant_row, store_tenant_clear_v,
		    (void **)out, n, "tenant list");
	pv_s(&v, only);
	return pgi_collect(h, "SELECT id, name, created_at FROM tenants WHERE id = $3 AND id > $1"
	    " LIMIT $2", &v, sizeof(**out), tenant_row, store_tenant_clear_v, (void **)out, n,
	    "tenant list");
}
