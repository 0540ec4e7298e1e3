/*
 * store_pgsql.c — the PostgreSQL backend (store_backend.h; the only user of
 * libpq-fe.h). Several gatehouse nodes share one database:
 *   - a small pool of connections serves reads and the operator's writes;
 *     a request waits at most pool_timeout_ms for a free one, and a
 *     connection found broken is reconnected on its next use;
 *   - the group-commit writer thread owns one connection of its own and
 *     inserts a whole batch with one statement (unnest of arrays, ON
 *     CONFLICT (id) DO NOTHING RETURNING id): one round trip, one commit;
 *     with the batch's audit rows, two round trips of libpq's pipeline
 *     mode and one commit (commit_with_audit());
 *   - the change generation is cached: a listener thread holds a dedicated
 *     connection that LISTENs on gatehouse_generation (every change NOTIFYs
 *     in its own transaction) and re-reads the row every resync_ms as a
 *     safety net; while it is disconnected, generation() reads the row
 *     through the pool, so /readyz and the caches see an outage.
 * After a failed connect every caller fails at once with STORE_UNAVAILABLE
 * for RETRY_MS instead of each waiting for its own connect (a database that
 * is down turns into fast 503s, not into piled-up requests).
 *
 * URL: postgresql://user:password@host:port/db?params — libpq's own
 * parameters (connect_timeout, sslmode, ...) plus ours, removed before the
 * URL reaches libpq: pool_size (1..64, default 4), pool_timeout_ms (wait for
 * a free connection, default 2000), resync_ms (default 2000) and
 * query_timeout_ms (how long a statement's answer is waited for, default
 * 30000; see pgi_exec_bounded).
 *
 * Values only ever reach SQL as bound parameters of PQexecParams (STYLE 15);
 * the static migration DDL is the only SQL run with PQexec.
 *
 * The backend's files, sharing pgsql_internal.h:
 *   - this one: transactions, rows, tenants, clients, secrets and keys,
 *     and the ops table;
 *   - pgsql_values.c: bound parameters, array literals and UTF-8;
 *   - pgsql_exec.c: statements under the query deadline (one at a time,
 *     or pipelined) and their error mapping;
 *   - pgsql_conn.c: the connection pool, the fail-fast state and the
 *     generation cache with its listener thread;
 *   - pgsql_open.c: the URL, open (with the migrations) and close;
 *   - pgsql_tokens.c: tokens and the group commit;
 *   - pgsql_<topic>.c: one per feature (approvals, audit, clients,
 *     idempotency, locks), mirroring sqlite_<topic>.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/pgsql_internal.h"

#define CLIENT_COLS "id, tenant_id, name, env, roles, scopes, ttl, max_ttl, format, allow_ips," \
	" claims, disabled, rate_limit, tokens_valid_after, created_at, updated_at"
#define SECRET_COLS "id, client_id, hash, created_at, expires_at, revoked_at"
#define KEY_COLS "kid, alg, env, sealed, created_at, publish_at, activate_at, retire_at, remove_at"

/* Increments the generation and tells every listening node, in the
 * caller's transaction: the notification goes out only if it commits. */
#define SQL_BUMP "UPDATE meta SET value = value + 1 WHERE key = 'generation'" \
	" RETURNING value, pg_notify('" PGI_CHANNEL "', value::text)"

/* -- transactions -------------------------------------------------------------------- */

int
pgi_tx_begin(PGconn *c)
{
	return pgi_run(c, "BEGIN", NULL, NULL, "begin", NULL, NULL);
}

/* Commits when rc is STORE_OK (after incrementing the generation when
 * bump), else rolls back keeping rc and its message. */
int
pgi_tx_end(struct pg *p, PGconn *c, int rc, int bump)
{
	uint64_t v = 0;

	if (rc == STORE_OK && bump) {
		enum pq_kind kind;
		PGresult *r = pgi_q(c, SQL_BUMP, NULL, &kind, &rc, "generation");
		if (r == NULL && kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "generation: cannot update");
		if (r != NULL) {
			if (PQntuples(r) == 1)
				v = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
			else
				rc = store_set_error(STORE_ERROR, "generation: the row is missing");
			PQclear(r);
		}
	}
	if (rc == STORE_OK) {
		if ((rc = pgi_run(c, "COMMIT", NULL, NULL, "commit", NULL, NULL)) == STORE_OK) {
			if (bump)
				pgi_gen_note(p, v);	/* ours, before its notification */
			return STORE_OK;
		}
		return rc;
	}
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		pgi_rollback(c);
	return rc;
}

/* -- rows ------------------------------------------------------------------------ */

char *
pgi_col_s(const PGresult *r, int row, int col)
{
	return strdup(PQgetvalue(r, row, col));
}

int64_t
pgi_col_i(const PGresult *r, int row, int col)
{
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int
pgi_env_of(int64_t v)
{
	return v >= 0 && v < STORE_ENV__MAX ? (int)v : STORE_ENV_SANDBOX;
}

int
pgi_format_of(int64_t v)
{
	return v >= 0 && v < STORE_FORMAT__MAX ? (int)v : STORE_FORMAT_JWT;
}

/* A bytea column (text result, hex form) as a heap copy; NULL for no memory. */
uint8_t *
pgi_col_b(const PGresult *r, int row, int col, size_t *len)
{
	size_t n = 0;
	unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
	uint8_t *b;

	*len = 0;
	if (raw == NULL)
		return NULL;
	if ((b = malloc(n > 0 ? n : 1)) != NULL) {
		memcpy(b, raw, n);
		*len = n;
	}
	PQfreemem(raw);
	return b;
}


static int
tenant_row(const PGresult *r, int i, void *dst)
{
	struct store_tenant *t = dst;

	t->id = pgi_col_s(r, i, 0);
	t->name = pgi_col_s(r, i, 1);
	t->created_at = pgi_col_i(r, i, 2);
	return t->id && t->name ? 0 : -1;
}

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
	return x->client_id && h != NULL ? 0 : -1;
}

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

/* Runs a query on a pooled connection and collects every row into a fresh
 * array of elements of size; on error leaves *out NULL. */
int
pgi_collect(struct pg *p, const char *sql, const struct pv *params, size_t size, row_fn row,
    store_clear_fn clear, void **out, size_t *n, const char *what)
{
	PGconn *c;
	PGresult *r;
	enum pq_kind kind;
	char *arr = NULL;
	int slot, rc, rows;

	*out = NULL;
	*n = 0;
	if ((rc = pgi_acquire(p, &slot, &c, what)) != STORE_OK)
		return rc;
	r = pgi_q(c, sql, params, &kind, &rc, what);
	pgi_release(p, slot);
	if (r == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "%s: failed", what);
	rows = PQntuples(r);
	if (rows > 0 && (arr = calloc((size_t)rows, size)) == NULL) {
		PQclear(r);
		return store_set_error(STORE_ERROR, "%s: out of memory", what);
	}
	for (int i = 0; i < rows; i++)
		if (row(r, i, arr + (size_t)i * size) == -1) {
			for (int k = 0; k <= i; k++)
				clear(arr + (size_t)k * size);
			free(arr);
			PQclear(r);
			return store_set_error(STORE_ERROR, "%s: out of memory", what);
		}
	PQclear(r);
	*out = arr;
	*n = (size_t)rows;
	return STORE_OK;
}

int
pgi_fetch_one(struct pg *p, const char *sql, const struct pv *params, size_t size, row_fn row,
    store_clear_fn clear, void *out, const char *what, const char *notfound)
{
	void *arr = NULL;
	size_t n = 0;
	int rc = pgi_collect(p, sql, params, size, row, clear, &arr, &n, what);

	if (rc != STORE_OK)
		return rc;
	if (n == 0)
		rc = store_set_error(STORE_NOTFOUND, "%s", notfound);
	else
		memcpy(out, arr, size);
	for (size_t i = 1; i < n; i++)
		clear((char *)arr + i * size);
	free(arr);
	return rc;
}

/*
 * One write transaction on a pooled connection: BEGIN, the statement, the
 * generation bump when bump (always, or only when rows changed: bump == 2),
 * COMMIT. *changes gets the statement's row count.
 */
int
pgi_write1(struct pg *p, const char *sql, const struct pv *params, int bump, int *changes,
    const char *what, const char *conflict, const char *fkey)
{
	PGconn *c;
	int slot, rc, ch = 0;

	if ((rc = pgi_acquire(p, &slot, &c, what)) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = pgi_run(c, sql, params, &ch, what, conflict, fkey);
		rc = pgi_tx_end(p, c, rc, bump == 2 ? ch > 0 : bump);
	}
	pgi_release(p, slot);
	if (changes != NULL)
		*changes = ch;
	return rc;
}

/* -- tenants ----------------------------------------------------------------------- */

static int
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

static int
pg_tenant_get(void *h, const char *id, struct store_tenant *out)
{
	struct pv v = { 0 };
	char nf[128];

	snprintf(nf, sizeof(nf), "tenant %.64s does not exist", id);
	pv_s(&v, id);
	return pgi_fetch_one(h, "SELECT id, name, created_at FROM tenants WHERE id = $1", &v,
	    sizeof(*out), tenant_row, store_tenant_clear_v, out, "tenant get", nf);
}

static int
pg_tenant_list(void *h, struct store_tenant **out, size_t *n)
{
	return pgi_collect(h, "SELECT id, name, created_at FROM tenants ORDER BY id", NULL,
	    sizeof(**out), tenant_row, store_tenant_clear_v, (void **)out, n, "tenant list");
}

/* -- clients ----------------------------------------------------------------------- */

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
	r = pgi_q(c, "INSERT INTO client_secrets (client_id, hash, created_at, expires_at, revoked_at)"
	    " VALUES ($1,$2,$3,$4,$5) RETURNING id", &v, &kind, &rc, "secret add");
	if (r == NULL)
		return kind == PQ_UNIQUE ? store_set_error(STORE_CONFLICT, "%s", conflict) :
		    kind == PQ_FKEY ? store_set_error(STORE_NOTFOUND, "%s", fk) : rc;
	sec->id = PQntuples(r) == 1 ? pgi_col_i(r, 0, 0) : 0;
	PQclear(r);
	return STORE_OK;
}

static int
pg_client_create(void *h, const struct store_client *cl, struct store_secret *first)
{
	struct pg *p = h;
	struct pv v = { 0 };
	char conflict[128], fk[128];
	PGconn *c;
	int slot, rc;

	snprintf(conflict, sizeof(conflict), "client %.64s already exists", cl->id);
	snprintf(fk, sizeof(fk), "tenant %.64s does not exist", cl->tenant_id);
	pv_s(&v, cl->id);
	pv_s(&v, cl->tenant_id);
	client_params(&v, cl);
	if ((rc = pgi_acquire(p, &slot, &c, "client create")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = pgi_run(c, "INSERT INTO clients (" CLIENT_COLS ") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,"
		    "$9,$10,$11,$12,$13,$14,$15,$16)", &v, NULL, "client create", conflict, fk);
		if (rc == STORE_OK && first != NULL)
			rc = insert_secret(c, first);
		rc = pgi_tx_end(p, c, rc, 1);
	}
	pgi_release(p, slot);
	return rc;
}

static int
pg_client_get(void *h, const char *id, struct store_client *out)
{
	struct pv v = { 0 };
	char nf[128];

	snprintf(nf, sizeof(nf), "client %.64s does not exist", id);
	pv_s(&v, id);
	return pgi_fetch_one(h, "SELECT " CLIENT_COLS " FROM clients WHERE id = $1", &v, sizeof(*out),
	    client_row, store_client_clear_v, out, "client get", nf);
}

static int
pg_client_list(void *h, const char *tenant_id, struct store_client **out, size_t *n)
{
	struct pv v = { 0 };

	if (tenant_id == NULL)
		return pgi_collect(h, "SELECT " CLIENT_COLS " FROM clients ORDER BY created_at, id", NULL,
		    sizeof(**out), client_row, store_client_clear_v, (void **)out, n,
		    "client list");
	pv_s(&v, tenant_id);
	return pgi_collect(h, "SELECT " CLIENT_COLS " FROM clients WHERE tenant_id = $1"
	    " ORDER BY created_at, id", &v, sizeof(**out), client_row, store_client_clear_v,
	    (void **)out, n, "client list");
}

static int
pg_client_update(void *h, const struct store_client *c)
{
	struct pv v = { 0 };
	char fk[128];
	int rc, changes = 0;

	snprintf(fk, sizeof(fk), "tenant %.64s does not exist", c->tenant_id);
	pv_s(&v, c->id);
	pv_s(&v, c->tenant_id);
	client_params(&v, c);
	rc = pgi_write1(h, "UPDATE clients SET tenant_id=$2, name=$3, env=$4, roles=$5, scopes=$6,"
	    " ttl=$7, max_ttl=$8, format=$9, allow_ips=$10, claims=$11, disabled=$12,"
	    " rate_limit=$13, tokens_valid_after=$14, created_at=$15, updated_at=$16 WHERE id=$1",
	    &v, 2, &changes, "client update", "client update: constraint failed", fk);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "client %.64s does not exist", c->id);
	return rc;
}

/* -- secrets ----------------------------------------------------------------------- */

static int
pg_secret_add(void *h, struct store_secret *sec)
{
	struct pg *p = h;
	PGconn *c;
	int slot, rc;

	if ((rc = pgi_acquire(p, &slot, &c, "secret add")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK)
		rc = pgi_tx_end(p, c, insert_secret(c, sec), 1);
	pgi_release(p, slot);
	return rc;
}

static int
pg_secret_list(void *h, const char *client_id, struct store_secret **out, size_t *n)
{
	struct pv v = { 0 };

	pv_s(&v, client_id);
	return pgi_collect(h, "SELECT " SECRET_COLS " FROM client_secrets WHERE client_id = $1"
	    " ORDER BY id", &v, sizeof(**out), secret_row, store_secret_clear_v, (void **)out, n,
	    "secret list");
}

static int
pg_secret_update(void *h, const struct store_secret *sec)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, sec->expires_at);
	pv_i(&v, sec->revoked_at);
	pv_i(&v, sec->id);
	rc = pgi_write1(h, "UPDATE client_secrets SET expires_at=$1, revoked_at=$2 WHERE id=$3", &v, 2,
	    &changes, "secret update", "secret update: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "secret %lld does not exist", (long long)sec->id);
	return rc;
}

/* -- keys ------------------------------------------------------------------------ */

static int
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

static int
pg_key_list(void *h, struct store_key **out, size_t *n)
{
	return pgi_collect(h, "SELECT " KEY_COLS " FROM signing_keys ORDER BY created_at, kid", NULL,
	    sizeof(**out), key_row, store_key_clear_v, (void **)out, n, "key list");
}

static int
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

/* store.h store_engine. */
static void
pg_engine(void *h, char *buf, size_t len)
{
	struct pg *p = h;

	snprintf(buf, len, "PostgreSQL %s, group commit; pool of %d connections",
	    p->server_version, p->pool_size);
}

const struct store_ops store_pgsql_ops = {
	.name = "postgresql",
	.engine = pg_engine,
	.open = pg_open,
	.close = pg_close,
	.schema_version = pg_schema_version,
	.generation = pg_generation,
	.tenant_create = pg_tenant_create,
	.tenant_get = pg_tenant_get,
	.tenant_list = pg_tenant_list,
	.client_create = pg_client_create,
	.client_get = pg_client_get,
	.client_list = pg_client_list,
	.client_update = pg_client_update,
	.client_delete = pg_client_delete,
	.secret_add = pg_secret_add,
	.secret_list = pg_secret_list,
	.secret_update = pg_secret_update,
	.key_add = pg_key_add,
	.key_list = pg_key_list,
	.key_update = pg_key_update,
	.token_get = pg_token_get,
	.token_list = pg_token_list,
	.token_list_revoked = pg_token_list_revoked,
	.token_prune = pg_token_prune,
	.token_revoke = pg_token_revoke,
	.token_revoke_by_name = pg_token_revoke_by_name,
	.commit_tokens = pg_commit_tokens,
	.commit_batch = pg_commit_batch,
	.audit_list = pg_audit_list,
	.audit_scan = pg_audit_scan,
	.audit_prune = pg_audit_prune,
	.audit_seal = pg_audit_seal,
	.idem_begin = pg_idem_begin,
	.idem_finish = pg_idem_finish,
	.idem_release = pg_idem_release,
	.lock_put = pg_lock_put,
	.lock_list = pg_lock_list,
	.lock_clear = pg_lock_clear,
	.failure_add = pg_failure_add,
	.failure_reset = pg_failure_reset,
	.failure_pairs = pg_failure_pairs,
	.rate_push = pg_rate_push,
	.rate_pull = pg_rate_pull,
	.shared = 1,
	.approval_create = pg_approval_create,
	.approval_get = pg_approval_get,
	.approval_list = pg_approval_list,
	.approval_transition = pg_approval_transition,
};
