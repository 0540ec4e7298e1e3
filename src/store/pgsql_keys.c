/*
 * pgsql_keys.c — signing keys for the PostgreSQL backend (store.h
 * store_key_*; the SQLite side is sqlite_keys.c), table signing_keys: the
 * sealed private key as bytea, and the dates that publish, activate,
 * retire and remove it. A rotation or a revocation is one transaction
 * under an advisory lock the two share. Each change moves the generation,
 * so that every node reloads its keys.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgsql_internal.h"
#include "store/schema_common.h"

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

#define KEY_INSERT_SQL	"INSERT INTO signing_keys (" KEY_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)"

static void
key_params(struct pv *v, const struct store_key *k)
{
	pv_s(v, k->kid);
	pv_s(v, k->alg);
	pv_i(v, k->env);
	pv_b(v, k->sealed, k->sealed_len);
	pv_i(v, k->created_at);
	pv_i(v, k->publish_at);
	pv_i(v, k->activate_at);
	pv_i(v, k->retire_at);
	pv_i(v, k->remove_at);
}

int
pg_key_add(void *h, const struct store_key *k)
{
	struct pv v = { 0 };
	char conflict[128];

	snprintf(conflict, sizeof(conflict), "key %.64s already exists", k->kid);
	key_params(&v, k);
	return pgi_write1(h, KEY_INSERT_SQL, &v, 1, NULL, "key add", conflict, NULL);
}

int
pg_key_list(void *h, struct store_key **out, size_t *n)
{
	return pgi_collect(h, "SELECT " KEY_COLS " FROM signing_keys ORDER BY created_at, kid", NULL,
	    sizeof(**out), key_row, store_key_clear_v, (void **)out, n, "key list");
}

/* Rotations and revocations wait for each other (pg_advisory_xact_lock):
 * one in progress elsewhere (another node's schedule, the CLI) has
 * committed, or rolled back, before this one looks at the env's keys. */
#define KEY_ROTATE_LOCK	"7452914630742"

/* The rotation's statements on c, inside the caller's transaction. */
static int
rotate_tx(PGconn *c, const struct store_key *add, int64_t now, int64_t old_remove_at,
    const char *replaces)
{
	struct pv v = { 0 }, ins = { 0 }, ret = { 0 };
	char conflict[128], *cur = NULL;
	enum pq_kind kind;
	int64_t pending = 0;
	int rc = STORE_ERROR;
	PGresult *r;

	if ((r = pgi_q(c, "SELECT pg_advisory_xact_lock(" KEY_ROTATE_LOCK ")", NULL, &kind, &rc,
	    "key rotate")) == NULL)
		return rc;
	PQclear(r);
	pv_i(&v, add->env);
	pv_i(&v, now);
	if ((r = pgi_q(c, "SELECT (SELECT count(*) FROM signing_keys WHERE env = $1"
	    " AND activate_at > $2 AND (remove_at = 0 OR remove_at > $2)"
	    " AND (retire_at = 0 OR retire_at > $2)), (SELECT kid FROM signing_keys WHERE env = $1"
	    " AND activate_at <= $2 AND (remove_at = 0 OR remove_at > $2)"
	    " AND (retire_at = 0 OR retire_at > $2) ORDER BY activate_at DESC, created_at DESC, kid DESC"
	    " LIMIT 1)", &v, &kind, &rc, "key rotate")) == NULL)
		return rc;
	if (PQntuples(r) == 1) {
		pending = pgi_col_i(r, 0, 0);
		if (!PQgetisnull(r, 0, 1) && (cur = strdup(PQgetvalue(r, 0, 1))) == NULL) {
			PQclear(r);
			return store_set_error(STORE_ERROR, "key rotate: out of memory");
		}
	}
	PQclear(r);
	if (pending > 0) {
		free(cur);
		return store_set_error(STORE_CONFLICT, "a %s key is already scheduled to take over",
		    store_env_names[add->env]);
	}
	if (!store_kid_same(cur, replaces)) {
		rc = store_set_error(STORE_CONFLICT, "another %s rotation came first: %.64s signs now",
		    store_env_names[add->env], cur != NULL ? cur : "no key");
		free(cur);
		return rc;
	}
	snprintf(conflict, sizeof(conflict), "key %.64s already exists", add->kid);
	key_params(&ins, add);
	rc = pgi_run(c, KEY_INSERT_SQL, &ins, NULL, "key rotate", conflict, NULL);
	if (rc == STORE_OK && cur != NULL) {
		pv_i(&ret, add->activate_at);
		pv_i(&ret, old_remove_at);
		pv_i(&ret, add->env);
		pv_s(&ret, add->kid);
		pv_i(&ret, now);
		rc = pgi_run(c, SCHEMA_SQL_RETIRE_ENV_KEYS, &ret, NULL, "key rotate",
		    "key rotate: constraint failed", NULL);
	}
	free(cur);
	return rc;
}

int
pg_key_rotate(void *h, const struct store_key_rotation *r, size_t n, int64_t now)
{
	struct pg *p = h;
	PGconn *c;
	int slot, rc;

	if ((rc = pgi_acquire(p, &slot, &c, "key rotate")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		/* Every env's, or none (store.h store_key_rotate_envs); the
		 * advisory lock each takes is held until the transaction ends. */
		for (size_t i = 0; i < n && rc == STORE_OK; i++)
			rc = rotate_tx(c, r[i].add, now, r[i].old_remove_at, r[i].replaces);
		rc = pgi_tx_end(p, c, rc, 1);
	}
	pgi_release(p, slot);
	return rc;
}

/* Revoking kid, the only key signing for env at now: the key scheduled to
 * take over next (a rotation's successor, published already) signs from
 * now instead, so that a leaked key ends in one step without leaving env
 * unable to sign (store_sqlite.c SQ_KEY_NEXT). STORE_CONFLICT when no key
 * is scheduled. In the caller's transaction, under the rotations' lock. */
static int
bring_forward(PGconn *c, int64_t env, const char *kid, int64_t now)
{
	struct pv v = { 0 };
	int rc, n = 0;

	pv_i(&v, env);
	pv_i(&v, now);
	if ((rc = pgi_run(c, "UPDATE signing_keys SET activate_at = $2, publish_at ="
	    " LEAST(publish_at, $2) WHERE kid = (SELECT kid FROM signing_keys WHERE env = $1"
	    " AND activate_at > $2 AND (remove_at = 0 OR remove_at > $2)"
	    " AND (retire_at = 0 OR retire_at > $2) ORDER BY activate_at, created_at DESC,"
	    " kid DESC LIMIT 1)", &v, &n, "key revoke", "key revoke: constraint failed",
	    NULL)) != STORE_OK)
		return rc;
	if (n == 0)
		return store_set_error(STORE_CONFLICT, "key %.64s is the only key signing for %s, "
		    "and none is scheduled to take over", kid, store_env_names[env ==
		    STORE_ENV_PRODUCTION ? STORE_ENV_PRODUCTION : STORE_ENV_SANDBOX]);
	return STORE_OK;
}

/* The revocation's statements on c, inside the caller's transaction,
 * after the rotations' lock: a rotation or revocation at once elsewhere has
 * committed before this one looks at which keys sign. */
static int
revoke_tx(PGconn *c, const char *kid, int64_t now)
{
	struct pv v = { 0 }, ret = { 0 }, un = { 0 };
	enum pq_kind kind;
	int64_t env, others;
	int rc = STORE_ERROR, only;
	PGresult *r;

	if ((r = pgi_q(c, "SELECT pg_advisory_xact_lock(" KEY_ROTATE_LOCK ")", NULL, &kind, &rc,
	    "key revoke")) == NULL)
		return rc;
	PQclear(r);
	pv_s(&v, kid);
	pv_i(&v, now);
	/* The key's env; whether it is the one signing for it at $2; how many
	 * others of the env sign at $2. */
	if ((r = pgi_q(c, "SELECT k.env, coalesce((SELECT kid FROM signing_keys WHERE env = k.env"
	    " AND activate_at <= $2 AND (remove_at = 0 OR remove_at > $2)"
	    " AND (retire_at = 0 OR retire_at > $2) ORDER BY activate_at DESC, created_at DESC, kid DESC"
	    " LIMIT 1) = k.kid, false), (SELECT count(*) FROM signing_keys WHERE env = k.env"
	    " AND kid <> k.kid AND activate_at <= $2 AND (retire_at = 0 OR retire_at > $2)"
	    " AND (remove_at = 0 OR remove_at > $2)) FROM signing_keys k WHERE k.kid = $1",
	    &v, &kind, &rc, "key revoke")) == NULL)
		return rc;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return store_set_error(STORE_NOTFOUND, "no key %.64s", kid);
	}
	env = pgi_col_i(r, 0, 0);
	only = PQgetvalue(r, 0, 1)[0] == 't';
	others = pgi_col_i(r, 0, 2);
	PQclear(r);
	if (only && others == 0 && (rc = bring_forward(c, env, kid, now)) != STORE_OK)
		return rc;
	/* Revoked before it signs, a successor cancels the rotation that
	 * scheduled it: the key it was to replace signs on (store_sqlite.c
	 * SQ_KEY_UNRETIRE). */
	pv_i(&un, env);
	pv_s(&un, kid);
	pv_i(&un, now);
	if ((rc = pgi_run(c, "UPDATE signing_keys SET retire_at = 0, remove_at = 0 WHERE env = $1"
	    " AND kid <> $2 AND activate_at <= $3 AND retire_at > $3"
	    " AND retire_at = (SELECT activate_at FROM signing_keys WHERE kid = $2)", &un,
	    NULL, "key revoke", "key revoke: constraint failed", NULL)) != STORE_OK)
		return rc;
	pv_i(&ret, now);
	pv_i(&ret, now);
	pv_s(&ret, kid);
	return pgi_run(c, "UPDATE signing_keys SET retire_at=$1, remove_at=$2 WHERE kid=$3", &ret,
	    NULL, "key revoke", "key revoke: constraint failed", NULL);
}

int
pg_key_revoke(void *h, const char *kid, int64_t now)
{
	struct pg *p = h;
	PGconn *c;
	int slot, rc;

	if ((rc = pgi_acquire(p, &slot, &c, "key revoke")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK)
		rc = pgi_tx_end(p, c, revoke_tx(c, kid, now), 1);
	pgi_release(p, slot);
	return rc;
}
