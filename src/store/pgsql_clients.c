/*
 * pgsql_clients.c — clients and their secrets for the PostgreSQL backend
 * (store.h store_client_* and store_secret_*; the SQLite side is
 * sqlite_clients.c), tables clients and client_secrets. Every change
 * moves the generation: an insert always, an update or the delete only
 * when the row existed. A client goes in with its first secret in one
 * transaction; a secret's id is the database's (RETURNING id). One
 * statement deletes the client's secrets and the client (a data-modifying
 * WITH runs in the same snapshot and transaction).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/pgsql_internal.h"
#include "store/schema_common.h"

#define CLIENT_COLS "id, tenant_id, name, env, roles, scopes, ttl, max_ttl, format, allow_ips," \
	" claims, disabled, rate_limit, tokens_valid_after, created_at, updated_at"
#define SECRET_COLS "id, client_id, hash, created_at, expires_at, revoked_at, holder"

/* -- clients ----------------------------------------------------------------------- */

static int
client_row(const PGresult *r, int i, void *dst)
{
	struct store_client *c = dst;

	c->id = pgi_col_s(r, i, 0);
	c->tenant_id = pgi_col_s(r, i, 1);
	c->name = pgi_col_s(r, i, 2);
	c->env = (enum store_env)pgi_env_of(pgi_col_i(r, i, 3));
	c->roles = (unsigned)pgi_col_i(r, i, 4);
	c->scopes = pgi_col_s(r, i, 5);
	c->ttl = pgi_col_i(r, i, 6);
	c->max_ttl = pgi_col_i(r, i, 7);
	c->format = (enum store_format)pgi_format_of(pgi_col_i(r, i, 8));
	c->allow_ips = pgi_col_s(r, i, 9);
	c->claims = pgi_col_s(r, i, 10);
	c->disabled = (int)pgi_col_i(r, i, 11);
	c->rate_limit = pgi_col_i(r, i, 12);
	c->tokens_valid_after = pgi_col_i(r, i, 13);
	c->created_at = pgi_col_i(r, i, 14);
	c->updated_at = pgi_col_i(r, i, 15);
	return c->id && c->tenant_id && c->name && c->scopes && c->allow_ips && c->claims ? 0 : -1;
}

static int
secret_row(const PGresult *r, int i, void *dst)
{
	struct store_secret *x = dst;
	size_t n = 0;
	uint8_t *h = pgi_col_b(r, i, 2, &n);

	x->id = pgi_col_i(r, i, 0);
	x->client_id = pgi_col_s(r, i, 1);
	if (h != NULL && n == sizeof(x->hash))
		memcpy(x->hash, h, sizeof(x->hash));
	free(h);
	x->created_at = pgi_col_i(r, i, 3);
	x->expires_at = pgi_col_i(r, i, 4);
	x->revoked_at = pgi_col_i(r, i, 5);
	x->holder = pgi_col_s(r, i, 6);
	return x->client_id && x->holder && h != NULL ? 0 : -1;
}

static void
client_params(struct pv *v, const struct store_client *c)
{
	pv_s(v, c->name);
	pv_i(v, c->env);
	pv_i(v, c->roles);
	pv_s(v, c->scopes);
	pv_i(v, c->ttl);
	pv_i(v, c->max_ttl);
	pv_i(v, c->format);
	pv_s(v, c->allow_ips);
	pv_s(v, c->claims);
	pv_i(v, c->disabled);
	pv_i(v, c->rate_limit);
	pv_i(v, c->tokens_valid_after);
	pv_i(v, c->created_at);
	pv_i(v, c->updated_at);
}

/* Inserts sec on c (inside the caller's transaction) and sets its id. */
static int
insert_secret(PGconn *c, struct store_secret *sec)
{
	struct pv v = { 0 };
	char fk[128], conflict[128];
	enum pq_kind kind;
	int rc = STORE_ERROR;
	PGresult *r;

	snprintf(fk, sizeof(fk), "client %.64s does not exist", sec->client_id);
	snprintf(conflict, sizeof(conflict), "secret of client %.64s already exists", sec->client_id);
	pv_s(&v, sec->client_id);
	pv_b(&v, sec->hash, sizeof(sec->hash));
	pv_i(&v, sec->created_at);
	pv_i(&v, sec->expires_at);
	pv_i(&v, sec->revoked_at);
	pv_s(&v, sec->holder);
	r = pgi_q(c, "INSERT INTO client_secrets (client_id, hash, created_at, expires_at, revoked_at,"
	    " holder) VALUES ($1,$2,$3,$4,$5,$6) RETURNING id", &v, &kind, &rc, "secret add");
	if (r == NULL)
		return kind == PQ_UNIQUE ? store_set_error(STORE_CONFLICT, "%s", conflict) :
		    kind == PQ_FKEY ? store_set_error(STORE_NOTFOUND, "%s", fk) : rc;
	sec->id = PQntuples(r) == 1 ? pgi_col_i(r, 0, 0) : 0;
	PQclear(r);
	return STORE_OK;
}

int
pg_client_create(void *h, const struct store_client *cl, struct store_secret *first)
{
	struct pg *p = h;
	struct pv v = { 0 }, id = { 0 };
	char conflict[128], fk[128];
	PGconn *c;
	int slot, rc;

	snprintf(conflict, sizeof(conflict), "client %.64s already exists", cl->id);
	snprintf(fk, sizeof(fk), "tenant %.64s does not exist", cl->tenant_id);
	pv_s(&v, cl->id);
	pv_s(&v, cl->tenant_id);
	client_params(&v, cl);
	pv_s(&id, cl->id);
	if ((rc = pgi_acquire(p, &slot, &c, "client create")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = pgi_run(c, "INSERT INTO clients (" CLIENT_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,"
		    "$9,$10,$11,$12,$13,$14,$15,$16)", &v, NULL, "client create", conflict, fk);
		if (rc == STORE_OK && first != NULL)
			rc = insert_secret(c, first);
		if (rc == STORE_OK)
			rc = pgi_run(c, SCHEMA_SQL_VOID_EARLIER_TOKENS, &id, NULL,
			    "client create: earlier tokens", NULL, NULL);
		rc = pgi_tx_end(p, c, rc, 1);
	}
	pgi_release(p, slot);
	return rc;
}

int
pg_client_get(void *h, const char *id, struct store_client *out)
{
	struct pv v = { 0 };
	char nf[128];

	snprintf(nf, sizeof(nf), "client %.64s does not exist", id);
	pv_s(&v, id);
	return pgi_fetch_one(h, "SELECT " CLIENT_COLS " FROM clients WHERE id = $1", &v, sizeof(*out),
	    client_row, store_client_clear_v, out, "client get", nf);
}

/* The page after ($1, $2), through clients_page or clients_tenant_page
 * (migration 15); created_at >= $1 bounds the index range (as in
 * pg_token_list: the planner draws no bound from the OR). */
#define CLIENT_PAGE_SQL(tenant)							\
	"SELECT " CLIENT_COLS " FROM clients WHERE" tenant " created_at >= $1"	\
	" AND (created_at > $1 OR (created_at = $1 AND id > $2))"		\
	" ORDER BY created_at, id LIMIT $3"

int
pg_client_list(void *h, const char *tenant_id, int64_t after_created, const char *after_id,
    int64_t limit, struct store_client **out, size_t *n)
{
	struct pv v = { 0 };

	pv_i(&v, after_created);
	pv_s(&v, after_id);
	pv_i(&v, limit);
	if (tenant_id == NULL)
		return pgi_collect(h, CLIENT_PAGE_SQL(""), &v, sizeof(**out), client_row,
		    store_client_clear_v, (void **)out, n, "client list");
	pv_s(&v, tenant_id);
	return pgi_collect(h, CLIENT_PAGE_SQL(" tenant_id = $4 AND"), &v, sizeof(**out), client_row,
	    store_client_clear_v, (void **)out, n, "client list");
}

/* The update on c in the caller's transaction (pg_client_update). */
static int
update_tx(PGconn *c, const struct pv *v, const char *id)
{
	enum pq_kind kind;
	int64_t updated = 0, exists = 0;
	int rc = STORE_ERROR;
	PGresult *r;

	/* One statement: the update applies only to the settings it was made
	 * from (store.h), and says whether the client was there at all. */
	r = pgi_q(c, "WITH u AS (UPDATE clients SET name=$2, roles=$3, scopes=$4, ttl=$5,"
	    " max_ttl=$6, format=$7, allow_ips=$8, claims=$9, rate_limit=$10, updated_at=$11"
	    " WHERE id=$1 AND name=$12 AND roles=$13 AND scopes=$14 AND ttl=$15 AND max_ttl=$16"
	    " AND format=$17 AND allow_ips=$18 AND claims=$19 AND rate_limit=$20 RETURNING 1)"
	    " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM clients WHERE id=$1)",
	    v, &kind, &rc, "client update");
	if (r == NULL)
		return rc;
	if (PQntuples(r) == 1) {
		updated = pgi_col_i(r, 0, 0);
		exists = pgi_col_i(r, 0, 1);
	}
	PQclear(r);
	if (updated == 1)
		return STORE_OK;
	if (exists)
		return store_set_error(STORE_CONFLICT, "client %.64s changed since it was read;"
		    " read it again", id);
	return store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
}

int
pg_client_update(void *h, const struct store_client *cl, const struct store_client *rd)
{
	struct pg *p = h;
	struct pv v = { 0 };
	PGconn *c;
	int slot, rc;

	pv_s(&v, cl->id);
	pv_s(&v, cl->name);
	pv_i(&v, cl->roles);
	pv_s(&v, cl->scopes);
	pv_i(&v, cl->ttl);
	pv_i(&v, cl->max_ttl);
	pv_i(&v, cl->format);
	pv_s(&v, cl->allow_ips);
	pv_s(&v, cl->claims);
	pv_i(&v, cl->rate_limit);
	pv_i(&v, cl->updated_at);
	pv_s(&v, rd->name);
	pv_i(&v, rd->roles);
	pv_s(&v, rd->scopes);
	pv_i(&v, rd->ttl);
	pv_i(&v, rd->max_ttl);
	pv_i(&v, rd->format);
	pv_s(&v, rd->allow_ips);
	pv_s(&v, rd->claims);
	pv_i(&v, rd->rate_limit);
	if ((rc = pgi_acquire(p, &slot, &c, "client update")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK)
		rc = pgi_tx_end(p, c, update_tx(c, &v, cl->id), 1);
	pgi_release(p, slot);
	return rc;
}

/* One of the single-column changes: $1 value, $2 updated_at, $3 id. */
static int
client_set(void *h, const char *sql, const char *id, int64_t value, int64_t at,
    const char *what)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, value);
	pv_i(&v, at);
	pv_s(&v, id);
	rc = pgi_write1(h, sql, &v, PGI_DATA_IF_CHANGED, &changes, what, "client: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
	return rc;
}

int
pg_client_set_disabled(void *h, const char *id, int disabled, int64_t at)
{
	return client_set(h, "UPDATE clients SET disabled=$1, updated_at=$2 WHERE id=$3", id,
	    disabled, at, "client disable");
}

/* Never moves tokens_valid_after back: a later void stands. */
#define CLIENT_VOID_SQL "UPDATE clients SET tokens_valid_after = GREATEST(tokens_valid_after," \
	" $1), updated_at=$2 WHERE id=$3"

int
pg_client_void_tokens(void *h, const char *id, int64_t after, int64_t at)
{
	return client_set(h, CLIENT_VOID_SQL, id, after, at, "client void tokens");
}

int
pg_client_delete(void *h, const char *id)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_s(&v, id);
	rc = pgi_write1(h, "WITH s AS (DELETE FROM client_secrets WHERE client_id = $1)"
	    " DELETE FROM clients WHERE id = $1", &v, PGI_DATA_IF_CHANGED, &changes, "client delete",
	    "client delete: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", id);
	return rc;
}

/* -- secrets ----------------------------------------------------------------------- */

int
pg_secret_list(void *h, const char *client_id, struct store_secret **out, size_t *n)
{
	struct pv v = { 0 };

	pv_s(&v, client_id);
	return pgi_collect(h, "SELECT " SECRET_COLS " FROM client_secrets WHERE client_id = $1"
	    " ORDER BY id", &v, sizeof(**out), secret_row, store_secret_clear_v, (void **)out, n,
	    "secret list");
}

int
pg_secret_count_due(void *h, int64_t made_by, int64_t now, int64_t *count)
{
	struct pv v = { 0 };

	pv_i(&v, made_by);
	pv_i(&v, now);
	return pgi_fetch_one(h, "SELECT count(*) FROM client_secrets WHERE revoked_at = 0"
	    " AND (expires_at = 0 OR expires_at > $2) AND created_at <= $1", &v, sizeof(*count),
	    pgi_int64_row, pgi_int64_clear, count, "secret count", "no count");
}

#define SECRET_UPDATE_SQL "UPDATE client_secrets SET expires_at=$1, revoked_at=$2 WHERE id=$3"

/* The secret's update, then the client's tokens voided, on c inside the
 * caller's transaction (store.h store_secret_update_void_tokens). */
static int
secret_update_void_tx(PGconn *c, const struct store_secret *sec, int64_t void_after, int64_t at)
{
	struct pv v = { 0 }, w = { 0 };
	int rc, changes = 0;

	pv_i(&v, sec->expires_at);
	pv_i(&v, sec->revoked_at);
	pv_i(&v, sec->id);
	if ((rc = pgi_run(c, SECRET_UPDATE_SQL, &v, &changes, "secret update",
	    "secret update: constraint failed", NULL)) != STORE_OK)
		return rc;
	if (changes == 0)
		return store_set_error(STORE_NOTFOUND, "secret %lld does not exist", (long long)sec->id);
	pv_i(&w, void_after);
	pv_i(&w, at);
	pv_s(&w, sec->client_id);
	if ((rc = pgi_run(c, CLIENT_VOID_SQL, &w, &changes, "client void tokens",
	    "client: constraint failed", NULL)) != STORE_OK)
		return rc;
	return changes == 0 ? store_set_error(STORE_NOTFOUND, "client %.64s does not exist",
	    sec->client_id) : STORE_OK;
}

int
pg_secret_update(void *h, const struct store_secret *sec, int64_t void_after, int64_t at)
{
	struct pv v = { 0 };
	PGconn *c;
	int rc, slot, changes = 0;

	if (void_after > 0) {
		if ((rc = pgi_acquire(h, &slot, &c, "secret update")) != STORE_OK)
			return rc;
		if ((rc = pgi_tx_begin(c)) == STORE_OK)
			rc = pgi_tx_end(h, c, secret_update_void_tx(c, sec, void_after, at),
			    STORE_GEN_BIT(STORE_GEN_DATA));
		pgi_release(h, slot);
		return rc;
	}
	pv_i(&v, sec->expires_at);
	pv_i(&v, sec->revoked_at);
	pv_i(&v, sec->id);
	rc = pgi_write1(h, SECRET_UPDATE_SQL, &v, PGI_DATA_IF_CHANGED,
	    &changes, "secret update", "secret update: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "secret %lld does not exist", (long long)sec->id);
	return rc;
}

/* The rotation's statements on c, inside the caller's transaction. The
 * client's row is locked first: a rotation on another connection (or
 * node) waits for this one, and then counts the secret it added. */
static int
rotate_tx(PGconn *c, struct store_secret *sec, int64_t end_by, size_t max_live,
    int64_t *prev_end)
{
	struct pv v = { 0 }, cut = { 0 };
	char nf[128];
	enum pq_kind kind;
	int64_t n, last_end;
	int rc = STORE_ERROR;
	PGresult *r;

	pv_s(&v, sec->client_id);
	if ((r = pgi_q(c, "SELECT 1 FROM clients WHERE id = $1 FOR UPDATE", &v, &kind, &rc,
	    "secret rotate")) == NULL)
		return rc;
	n = PQntuples(r);
	PQclear(r);
	if (n == 0) {
		snprintf(nf, sizeof(nf), "client %.64s does not exist", sec->client_id);
		return store_set_error(STORE_NOTFOUND, "%s", nf);
	}
	pv_i(&v, end_by);
	pv_i(&v, sec->created_at);
	if ((r = pgi_q(c, "SELECT count(*), coalesce(max(CASE WHEN expires_at = 0 OR expires_at > $2"
	    " THEN $2 ELSE expires_at END), 0) FROM client_secrets WHERE client_id = $1"
	    " AND revoked_at = 0 AND (expires_at = 0 OR expires_at > $3)", &v, &kind, &rc,
	    "secret rotate")) == NULL)
		return rc;
	n = PQntuples(r) == 1 ? pgi_col_i(r, 0, 0) : 0;
	last_end = PQntuples(r) == 1 ? pgi_col_i(r, 0, 1) : 0;
	PQclear(r);
	if (n >= (int64_t)max_live)
		return store_set_error(STORE_CONFLICT, "client %.64s already has %lld live secrets",
		    sec->client_id, (long long)n);
	pv_s(&cut, sec->client_id);
	pv_i(&cut, end_by);
	if ((rc = pgi_run(c, "UPDATE client_secrets SET expires_at = $2 WHERE client_id = $1"
	    " AND revoked_at = 0 AND (expires_at = 0 OR expires_at > $2)", &cut, NULL,
	    "secret rotate", "secret rotate: constraint failed", NULL)) != STORE_OK)
		return rc;
	if ((rc = insert_secret(c, sec)) != STORE_OK)
		return rc;
	*prev_end = last_end;
	return STORE_OK;
}

int
pg_secret_rotate(void *h, struct store_secret *sec, int64_t end_by, size_t max_live,
    int64_t *prev_end)
{
	struct pg *p = h;
	PGconn *c;
	int slot, rc;

	if ((rc = pgi_acquire(p, &slot, &c, "secret rotate")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK)
		rc = pgi_tx_end(p, c, rotate_tx(c, sec, end_by, max_live, prev_end), 1);
	pgi_release(p, slot);
	return rc;
}
