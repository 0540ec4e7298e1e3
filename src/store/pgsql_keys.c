/*
 * pgsql_keys.c — signing keys for the PostgreSQL backend (store.h
 * store_key_*; the SQLite side is sqlite_keys.c), table signing_keys: the
 * sealed private key as bytea, and the dates that publish, activate,
 * retire and remove it. Adding a key moves the generation, and so does an
 * update that finds it, so that every node reloads its keys.
 */
#include <stdio.h>

#include "store/pgsql_internal.h"

#define KEY_COLS "kid, alg, env, sealed, created_at, publish_at, activate_at, retire_at, remove_at"

static int
key_row(const PGresult *r, int i, void *dst)
{
	struct store_key *k = dst;

	k->kid = pgi_col_s(r, i, 0);
	k->alg = pgi_col_s(r, i, 1);
	k->env = (enum store_env)pgi_env_of(pgi_col_i(r, i, 2));
	k->sealed = pgi_col_b(r, i, 3, &k->sealed_len);
	k->created_at = pgi_col_i(r, i, 4);
	k->publish_at = pgi_col_i(r, i, 5);
	k->activate_at = pgi_col_i(r, i, 6);
	k->retire_at = pgi_col_i(r, i, 7);
	k->remove_at = pgi_col_i(r, i, 8);
	return k->kid && k->alg && k->sealed ? 0 : -1;
}

int
pg_key_add(void *h, const struct store_key *k)
{
	struct pv v = { 0 };
	char conflict[128];

	snprintf(conflict, sizeof(conflict), "key %.64s already exists", k->kid);
	pv_s(&v, k->kid);
	pv_s(&v, k->alg);
	pv_i(&v, k->env);
	pv_b(&v, k->sealed, k->sealed_len);
	pv_i(&v, k->created_at);
	pv_i(&v, k->publish_at);
	pv_i(&v, k->activate_at);
	pv_i(&v, k->retire_at);
	pv_i(&v, k->remove_at);
	return pgi_write1(h, "INSERT INTO signing_keys (" KEY_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
	    &v, 1, NULL, "key add", conflict, NULL);
}

int
pg_key_list(void *h, struct store_key **out, size_t *n)
{
	return pgi_collect(h, "SELECT " KEY_COLS " FROM signing_keys ORDER BY created_at, kid", NULL,
	    sizeof(**out), key_row, store_key_clear_v, (void **)out, n, "key list");
}

int
pg_key_update(void *h, const struct store_key *k)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, k->publish_at);
	pv_i(&v, k->activate_at);
	pv_i(&v, k->retire_at);
	pv_i(&v, k->remove_at);
	pv_s(&v, k->kid);
	rc = pgi_write1(h, "UPDATE signing_keys SET publish_at=$1, activate_at=$2, retire_at=$3,"
	    " remove_at=$4 WHERE kid=$5", &v, 2, &changes, "key update",
	    "key update: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "key %.64s does not exist", k->kid);
	return rc;
}
