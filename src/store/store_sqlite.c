/*
 * store_sqlite.c — the SQLite backend (store_backend.h; the only user of
 * sqlite3.h). Two connections to one file in WAL mode:
 *   - the main connection, under a mutex, serves every read and the
 *     operator's writes, with its statements prepared once at open;
 *   - the writer connection belongs to the group-commit thread (writer.c),
 *     which calls commit_tokens only from that thread, so it needs no lock.
 * synchronous=FULL: a commit that returned is durable. busy_timeout covers
 * the other connection and other processes (the CLI) on the same file;
 * writes start with BEGIN IMMEDIATE so that they wait for the lock up front
 * instead of failing on an upgrade.
 *
 * Values only ever reach SQL through sqlite3_bind_* (STYLE 15).
 *
 * The backend's files, sharing sqlite_internal.h:
 *   - this one: the main connection's statements (their table, binding,
 *     running, transactions, rows), the generation, the engine line and
 *     the ops table;
 *   - sqlite_open.c: the file, each connection's settings, open (with the
 *     migrations) and close;
 *   - sqlite_tokens.c: tokens and the group commit;
 *   - sqlite_util.c: the statement helpers of the topic files;
 *   - sqlite_pcache.c, sqlite_walbuf.c, sqlite_ckpt.c: the layers under
 *     SQLite (the page cache, WAL writes, checkpoints);
 *   - sqlite_<topic>.c: one per feature (approvals, audit, clients with
 *     their secrets, idempotency, keys, locks, tenants), mirroring
 *     pgsql_<topic>.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/sqlite_internal.h"
#include "store/store_backend.h"

#define CLIENT_COLS "id, tenant_id, name, env, roles, scopes, ttl, max_ttl, format, allow_ips," \
	" claims, disabled, rate_limit, tokens_valid_after, created_at, updated_at"
#define SECRET_COLS "id, client_id, hash, created_at, expires_at, revoked_at, holder"
#define KEY_COLS "kid, alg, env, sealed, created_at, publish_at, activate_at, retire_at, remove_at"
/* The revocations' generation the current transaction makes. */
#define SQ_REVOKED_GEN_NEXT "(SELECT value + 1 FROM meta WHERE key = 'revocation_generation')"
#define TOKEN_COLS "id, client_id, tenant_id, name, format, env, scope, aud, issued_at," \
	" expires_at, revoked_at"

/* The SQL of each enum sq_id (sqlite_internal.h), prepared once at open. */
const char *const sqi_sql[SQ__MAX] = {
	[SQ_BEGIN] = "BEGIN IMMEDIATE",
	[SQ_COMMIT] = "COMMIT",
	[SQ_ROLLBACK] = "ROLLBACK",
	[SQ_BUMP] = "UPDATE meta SET value = value + 1 WHERE key = ?",	/* store_gen_keys */
	[SQ_DATA_VERSION] = "PRAGMA data_version",
	/* meta holds the generations alone (store_gen_keys): one page read
	 * whole, where "key IN (...)" built a temporary index per call and a
	 * lookup per kind costs three descents. */
	[SQ_GEN] = "SELECT key, value FROM meta",
	[SQ_SCHEMA] = "SELECT coalesce(max(version), 0) FROM schema_version",

	[SQ_TENANT_INSERT] = "INSERT INTO tenants (id, name, created_at) VALUES (?,?,?)",
	[SQ_TENANT_GET] = "SELECT id, name, created_at FROM tenants WHERE id = ?",
	/* Pages (store.h): after a cursor, in the order of a unique key. */
	[SQ_TENANT_LIST] = "SELECT id, name, created_at FROM tenants WHERE id > ?"
	    " ORDER BY id LIMIT ?",
	[SQ_TENANT_LIST_ONE] = "SELECT id, name, created_at FROM tenants WHERE id = ? AND id > ?"
	    " LIMIT ?",

	[SQ_CLIENT_INSERT] = "INSERT INTO clients (" CLIENT_COLS ")"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
	[SQ_CLIENT_GET] = "SELECT " CLIENT_COLS " FROM clients WHERE id = ?",
	/* Through clients_page and clients_tenant_page (migration 15);
	 * created_at >= ?1 bounds the index range, as in SQ_TOKEN_LIST. */
	[SQ_CLIENT_LIST] = "SELECT " CLIENT_COLS " FROM clients WHERE created_at >= ?1"
	    " AND (created_at > ?1 OR (created_at = ?1 AND id > ?2))"
	    " ORDER BY created_at, id LIMIT ?3",
	[SQ_CLIENT_LIST_TENANT] = "SELECT " CLIENT_COLS " FROM clients WHERE tenant_id = ?4"
	    " AND created_at >= ?1 AND (created_at > ?1 OR (created_at = ?1 AND id > ?2))"
	    " ORDER BY created_at, id LIMIT ?3",
	/* An update applies only to the settings it was made from (store.h). */
	[SQ_CLIENT_UPDATE] = "UPDATE clients SET name=?, roles=?, scopes=?, ttl=?, max_ttl=?,"
	    " format=?, allow_ips=?, claims=?, rate_limit=?, updated_at=? WHERE id=? AND name=?"
	    " AND roles=? AND scopes=? AND ttl=? AND max_ttl=? AND format=? AND allow_ips=?"
	    " AND claims=? AND rate_limit=?",
	[SQ_CLIENT_DISABLE] = "UPDATE clients SET disabled=?, updated_at=? WHERE id=?",
	[SQ_CLIENT_VOID] = "UPDATE clients SET tokens_valid_after = max(tokens_valid_after, ?),"
	    " updated_at=? WHERE id=?",

	[SQ_SECRET_INSERT] = "INSERT INTO client_secrets (client_id, hash, created_at, expires_at,"
	    " revoked_at, holder) VALUES (?,?,?,?,?,?)",
	[SQ_SECRET_LIST] = "SELECT " SECRET_COLS " FROM client_secrets WHERE client_id = ? ORDER BY id",
	[SQ_SECRET_DUE] = "SELECT count(*) FROM client_secrets WHERE revoked_at = 0"
	    " AND (expires_at = 0 OR expires_at > ?2) AND created_at <= ?1",
	[SQ_SECRET_UPDATE] = "UPDATE client_secrets SET expires_at=?, revoked_at=? WHERE id=?",
	/* A rotation (sq_secret_rotate): the client's live secrets at ?3,
	 * and when the last of them ends once cut to ?2; then the cut. */
	[SQ_SECRET_LIVE] = "SELECT count(*), coalesce(max(CASE WHEN expires_at = 0 OR"
	    " expires_at > ?2 THEN ?2 ELSE expires_at END), 0) FROM client_secrets"
	    " WHERE client_id = ?1 AND revoked_at = 0 AND (expires_at = 0 OR expires_at > ?3)",
	[SQ_SECRET_END_BY] = "UPDATE client_secrets SET expires_at = ?2 WHERE client_id = ?1"
	    " AND revoked_at = 0 AND (expires_at = 0 OR expires_at > ?2)",

	[SQ_KEY_INSERT] = "INSERT INTO signing_keys (" KEY_COLS ") VALUES (?,?,?,?,?,?,?,?,?)",
	[SQ_KEY_LIST] = "SELECT " KEY_COLS " FROM signing_keys ORDER BY created_at, kid",
	/* A rotation (sq_key_rotate): the env's keys scheduled to take over
	 * at ?2, the one signing at ?2, and its retirement. */
	[SQ_KEY_PENDING] = "SELECT count(*) FROM signing_keys WHERE env = ?1 AND activate_at > ?2"
	    " AND (remove_at = 0 OR remove_at > ?2) AND (retire_at = 0 OR retire_at > ?2)",
	/* The key signing for ?1 at ?2: the newest active one, and on a tie
	 * the one made last, as keyring_signing_key chooses (it is filled in
	 * SQ_KEY_LIST's order and takes the last) and keys/rotate.c too. */
	[SQ_KEY_CURRENT] = "SELECT kid FROM signing_keys WHERE env = ?1 AND activate_at <= ?2"
	    " AND (remove_at = 0 OR remove_at > ?2) AND (retire_at = 0 OR retire_at > ?2)"
	    " ORDER BY activate_at DESC, created_at DESC, kid DESC LIMIT 1",
	[SQ_KEY_RETIRE] = "UPDATE signing_keys SET retire_at=?, remove_at=? WHERE kid=?",
	/* A revocation (sq_key_revoke): the key's env, and the keys of the
	 * env other than ?2 that sign at ?3. */
	[SQ_KEY_ENV] = "SELECT env FROM signing_keys WHERE kid = ?",
	[SQ_KEY_OTHERS] = "SELECT count(*) FROM signing_keys WHERE env = ?1 AND kid <> ?2"
	    " AND activate_at <= ?3 AND (retire_at = 0 OR retire_at > ?3)"
	    " AND (remove_at = 0 OR remove_at > ?3)",
	/* Revoking ?2 before it signs cancels the rotation that scheduled it:
	 * the key signing at ?3 that it was to replace (retiring at its
	 * activation) signs on, as before the rotation. */
	[SQ_KEY_UNRETIRE] = "UPDATE signing_keys SET retire_at = 0, remove_at = 0 WHERE env = ?1"
	    " AND kid <> ?2 AND activate_at <= ?3 AND retire_at > ?3"
	    " AND retire_at = (SELECT activate_at FROM signing_keys WHERE kid = ?2)",
	/* Revoking the only key signing for ?1 at ?2 brings forward the key
	 * scheduled to take over next (a rotation's successor, published
	 * already): it signs from ?2 on. */
	[SQ_KEY_NEXT] = "SELECT kid FROM signing_keys WHERE env = ?1 AND activate_at > ?2"
	    " AND (remove_at = 0 OR remove_at > ?2) AND (retire_at = 0 OR retire_at > ?2)"
	    " ORDER BY activate_at, created_at DESC, kid DESC LIMIT 1",
	[SQ_KEY_FORWARD] = "UPDATE signing_keys SET activate_at = ?2, publish_at = min(publish_at, ?2)"
	    " WHERE kid = ?1",

	[SQ_TOKEN_GET] = "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?",
	/* One page after the cursor (?2, ?3), through tokens_client. The
	 * issued_at >= ?2 says nothing the OR does not; it is there to start
	 * the index range at the cursor (PostgreSQL needs it, pgsql_tokens.c;
	 * the same text keeps the two engines alike). */
	[SQ_TOKEN_LIST] = "SELECT " TOKEN_COLS " FROM tokens WHERE client_id = ?1"
	    " AND issued_at >= ?2 AND (issued_at > ?2 OR (issued_at = ?2 AND id > ?3))"
	    " ORDER BY issued_at, id LIMIT ?4",
	/* Served by the partial index tokens_revoked (migration revoked_index). */
	[SQ_TOKEN_LIST_REVOKED] = "SELECT " TOKEN_COLS " FROM tokens"
	    " WHERE revoked_at != 0 AND expires_at > ?1 LIMIT ?2",
	/* What changed since a node's generation N, through tokens_revoked_gen
	 * (migration revoked_gen). The unary + keeps SQLite off tokens_revoked
	 * and tokens_expiry (expires_at), through which it would read every
	 * unexpired revoked row again (pgsql_tokens.c does the same). */
	[SQ_TOKEN_LIST_REVOKED_SINCE] = "SELECT " TOKEN_COLS " FROM tokens"
	    " WHERE revoked_at != 0 AND revoked_gen > ?1 AND +expires_at > ?2 LIMIT ?3",
	/* A revocation records the generation its transaction makes
	 * (sqi_tx_end adds 1 to the row read here; BEGIN IMMEDIATE holds the
	 * write lock, so no other revocation comes in between). */
	[SQ_TOKEN_REVOKE] = "UPDATE tokens SET revoked_at = ?, revoked_gen = " SQ_REVOKED_GEN_NEXT
	    " WHERE id = ? AND revoked_at = 0",
	[SQ_TOKEN_EXISTS] = "SELECT 1 FROM tokens WHERE id = ?",
	[SQ_TOKEN_REVOKE_NAME] = "UPDATE tokens SET revoked_at = ?, revoked_gen = " SQ_REVOKED_GEN_NEXT
	    " WHERE name = ? AND revoked_at = 0",
	[SQ_TOKEN_REVOKE_NAME_CLIENT] = "UPDATE tokens SET revoked_at = ?, revoked_gen = "
	    SQ_REVOKED_GEN_NEXT " WHERE name = ? AND client_id = ? AND revoked_at = 0",
	/* Served by tokens_expiry (migration token_expiry). */
	[SQ_TOKEN_PRUNE] = "DELETE FROM tokens WHERE rowid IN"
	    " (SELECT rowid FROM tokens WHERE expires_at < ? LIMIT ?)",
	/* tokens_expiry from its end down to ?1: the live records only. */
	[SQ_TOKEN_LATEST_EXPIRY] = "SELECT expires_at FROM tokens WHERE expires_at > ?1"
	    " AND env = ?2 AND format = ?3 ORDER BY expires_at DESC LIMIT 1",
};

/* The writer connection's, by enum sw_id. */
const char *const sqi_sw_sql[SW__MAX] = {
	[SW_BEGIN] = "BEGIN IMMEDIATE",
	[SW_COMMIT] = "COMMIT",
	[SW_ROLLBACK] = "ROLLBACK",
	/* ON CONFLICT DO NOTHING: a duplicate id skips that record only, the
	 * same way the PostgreSQL backend can (store_backend.h). */
	[SW_INSERT] = "INSERT INTO tokens (" TOKEN_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?)"
	    " ON CONFLICT (id) DO NOTHING",
};

/* -- errors ------------------------------------------------------------------ */

/* Maps a failed step/prepare to enum store_err with what failed. Constraint
 * violations get their specific messages from the callers. */
static int
sq_fail(sqlite3 *db, int rc, const char *what)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return store_set_error(STORE_UNAVAILABLE, "%s: the database is locked (busy for %d ms): %s",
		    what, SQI_BUSY_TIMEOUT_MS, sqlite3_errmsg(db));
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PROTOCOL:
		return store_set_error(STORE_UNAVAILABLE, "%s: the database is unavailable: %s",
		    what, sqlite3_errmsg(db));
	case SQLITE_CONSTRAINT:
		return store_set_error(STORE_CONFLICT, "%s: %s", what, sqlite3_errmsg(db));
	default:
		return store_set_error(STORE_ERROR, "%s: %s", what, sqlite3_errmsg(db));
	}
}

/* -- statements ---------------------------------------------------------------- */

/* The cached statement id with its arguments bound; NULL on a bind failure
 * (error set). Call with q->mu held; reset with sqi_done() after stepping. */
sqlite3_stmt *
sqi_stmt(struct sq *q, enum sq_id id, const struct sq_arg *args, size_t n)
{
	sqlite3_stmt *st = q->st[id];
	int rc;

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (sq_args_fit(st, n, "bind") == -1)
		return NULL;
	if ((rc = sq_bind(st, args, n, 1)) != SQLITE_OK) {
		sq_fail(q->db, rc, "bind");
		sqlite3_reset(st);
		return NULL;
	}
	return st;
}

/* Resets st so that it holds no read snapshot (which would pin the WAL). */
void
sqi_done(sqlite3_stmt *st)
{
	if (st != NULL) {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

#define RUN_BIND_FAILED	(-1)	/* not an SQLite code */

/* Runs a statement returning no rows. Returns the raw SQLite code (DONE
 * becomes OK) so that callers can tell constraint kinds apart; *changes
 * gets the rows changed. */
int
sqi_run(struct sq *q, sqlite3_stmt *st, int *changes)
{
	int rc;

	if (st == NULL)
		return RUN_BIND_FAILED;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		rc = SQLITE_OK;
		if (changes != NULL)
			*changes = sqlite3_changes(q->db);
	} else
		rc = sqlite3_extended_errcode(q->db);
	sqi_done(st);
	return rc;
}

/* A failed sqi_run() as enum store_err; the constraint messages name the row. */
int
sqi_run_err(struct sq *q, int rc, const char *what, const char *conflict, const char *fkey)
{
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
		return store_set_error(STORE_CONFLICT, "%s", conflict);
	if (rc == SQLITE_CONSTRAINT_FOREIGNKEY && fkey != NULL)
		return store_set_error(STORE_NOTFOUND, "%s", fkey);
	if (rc == RUN_BIND_FAILED)
		return STORE_ERROR;	/* sqi_stmt() already said why */
	return sq_fail(q->db, rc, what);
}

/* Transactions on the main connection; q->mu held. */
int
sqi_tx_begin(struct sq *q)
{
	int rc;

	if (sq_file_moved(q->db))
		return sq_moved_error();
	rc = sqi_run(q, q->st[SQ_BEGIN], NULL);
	return rc == SQLITE_OK ? STORE_OK : sq_fail(q->db, rc, "begin");
}

/* Commits when rc is STORE_OK (after incrementing the generations of bump,
 * a set of STORE_GEN_BIT), else rolls back keeping rc and its message. */
int
sqi_tx_end(struct sq *q, int rc, unsigned bump)
{
	const struct store_audit_key *ak;
	const struct store_audit *row;
	int src, staged = 0;

	/* The audit row of this change (store.h store_audit_stage), in its
	 * transaction: BEGIN IMMEDIATE holds the write lock, so the chain
	 * head read there is the writer connection's too. */
	if (rc == STORE_OK && (staged = store_audit_staged(q, &ak, &row)))
		rc = sq_audit_append_tx(q->db, ak, row, 1);
	if (rc == STORE_OK)
		rc = sq_marks_tx(q, q->db);
	for (int k = 0; rc == STORE_OK && k < STORE_GEN__MAX; k++)
		if ((bump & STORE_GEN_BIT(k)) && (src = sqi_run(q, sqi_stmt(q, SQ_BUMP,
		    SQ_ARGS(SQ_TEXT(store_gen_keys[k]))), NULL)) != SQLITE_OK)
			rc = sq_fail(q->db, src, "generation");
	if (rc == STORE_OK) {
		store_fault_before_commit();
		if ((src = sqi_run(q, q->st[SQ_COMMIT], NULL)) == SQLITE_OK) {
			if (bump)
				q->gen_valid = 0;	/* data_version ignores our own commits */
			if (staged)
				store_audit_staged_committed(q);
			store_marks_committed(q);
			return STORE_OK;
		}
		rc = sq_fail(q->db, src, "commit");
	}
	if (!sqlite3_get_autocommit(q->db))
		(void)sqi_run(q, q->st[SQ_ROLLBACK], NULL);
	return rc;
}

/* -- rows ---------------------------------------------------------------------- */

int
sqi_env_of(int v)
{
	return v >= 0 && v < STORE_ENV__MAX ? v : STORE_ENV_SANDBOX;
}

int
sqi_format_of(int v)
{
	return v >= 0 && v < STORE_FORMAT__MAX ? v : STORE_FORMAT_JWT;
}

/* sq_collect on a cached statement (NULL: its bind failed, error set),
 * which is reset after (under q->mu). */
int
sqi_collect(struct sq *q, sqlite3_stmt *st, size_t size, sq_row_fn row, store_clear_fn clear,
    void **out, size_t *n, const char *what)
{
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return STORE_ERROR;
	rc = sq_collect(q->db, st, size, row, clear, out, n, what);
	sqi_done(st);
	return rc;
}

int
sqi_int64_row(sqlite3_stmt *st, void *dst)
{
	*(int64_t *)dst = sqlite3_column_int64(st, 0);
	return 0;
}

/* Nothing to free: an integer. */
void
sqi_int64_clear(void *dst)
{
	(void)dst;
}

/* One row into out: STORE_NOTFOUND (with notfound as the message) when none. */
int
sqi_fetch_one(struct sq *q, sqlite3_stmt *st, size_t size, sq_row_fn row, store_clear_fn clear,
    void *out, const char *what, const char *notfound)
{
	void *arr = NULL;
	size_t n = 0;
	int rc = sqi_collect(q, st, size, row, clear, &arr, &n, what);

	if (rc != STORE_OK)
		return rc;
	if (n == 0)
		rc = store_set_error(STORE_NOTFOUND, "%s", notfound);
	else
		memcpy(out, arr, size);
	for (size_t i = 1; i < n; i++)		/* a primary key: never more than one */
		clear((char *)arr + i * size);
	free(arr);
	return rc;
}

/*
 * The generation, on every request: PRAGMA data_version changes only when
 * another connection (our writer, or another process) has committed, so the
 * meta row is read only then, or after our own change. data_version is read
 * first: a commit landing between the two reads is caught next time.
 */
/* SQ_GEN's rows into *out: SQLITE_DONE, an SQLite code, or
 * GEN_ROWS_MISSING (a kind's meta row is not there). */
#define GEN_ROWS_MISSING	(-1)	/* not an SQLite code */
static int
read_gens(sqlite3_stmt *st, struct store_gen *out)
{
	unsigned found = 0;
	int src;

	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(st, 0);
		for (int k = 0; key != NULL && k < STORE_GEN__MAX; k++)
			if (strcmp(key, store_gen_keys[k]) == 0) {
				out->v[k] = (uint64_t)sqlite3_column_int64(st, 1);
				found |= STORE_GEN_BIT(k);
			}
	}
	if (src == SQLITE_DONE && found != STORE_GEN_BIT(STORE_GEN__MAX) - 1)
		return GEN_ROWS_MISSING;
	return src;
}

static int
sq_generation(void *h, struct store_gen *out)
{
	struct sq *q = h;
	sqlite3_stmt *st = q->st[SQ_DATA_VERSION];
	int rc = STORE_OK, src;
	int64_t v;

	pthread_mutex_lock(&q->mu);
	if ((src = sqlite3_step(st)) != SQLITE_ROW) {
		rc = sq_fail(q->db, src, "data_version");
		sqi_done(st);
		goto out;
	}
	v = sqlite3_column_int64(st, 0);
	sqi_done(st);
	if (!q->gen_valid || v != q->seen) {
		struct store_gen g;
		st = q->st[SQ_GEN];
		if ((src = read_gens(st, &g)) == SQLITE_DONE) {
			q->gen = g;
			q->seen = v;
			q->gen_valid = 1;
		} else if (src == GEN_ROWS_MISSING)
			rc = store_set_error(STORE_ERROR, "generation: a meta row is missing");
		else
			rc = sq_fail(q->db, src, "generation");
		sqi_done(st);
	}
out:
	*out = q->gen;
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* store.h store_engine. The layers are the process's (installed once, and
 * every connection opens through sq_connect): what they report is what
 * these connections run with. */
static void
sq_engine(void *h, char *buf, size_t len)
{
	struct sq *q = h;
	char why[256], ckpt[320];

	/* A checkpointer that failed leaves the copying to the commits, which
	 * do it only at the WAL's bound: slower, not wrong, and otherwise
	 * unseen (the store never logs). */
	if (q->ckpt != NULL && sq_ckpt_failed(q->ckpt, why, sizeof(why)))
		snprintf(ckpt, sizeof(ckpt), "checkpoints inline (the checkpointer failed: %s)", why);
	else
		snprintf(ckpt, sizeof(ckpt), "checkpoints on a thread of their own");
	snprintf(buf, len, "SQLite %s, WAL, synchronous=FULL, group commit; page cache layer %s; "
	    "WAL writes %s; %s", sqlite3_libversion(), sq_pcache_install() ? "on" : "off",
	    sq_walbuf_vfs() != NULL ? "gathered" : "not gathered (SQLite's own VFS)", ckpt);
}

/* -- for the topic files (sqlite_internal.h) ------------------------------------ */

sqlite3 *
sq_main_lock(void *h)
{
	struct sq *q = h;

	pthread_mutex_lock(&q->mu);
	return q->db;
}

void
sq_main_unlock(void *h)
{
	pthread_mutex_unlock(&((struct sq *)h)->mu);
}

int
sq_error(sqlite3 *db, int rc, const char *what)
{
	return sq_fail(db, rc, what);
}

void
sq_generation_stale(void *h)
{
	((struct sq *)h)->gen_valid = 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.engine = sq_engine,
	.open = sq_open,
	.close = sq_close,
	.schema_version = sq_schema_version,
	.write_probe = sq_write_probe,
	.generation = sq_generation,
	.tenant_create = sq_tenant_create,
	.tenant_get = sq_tenant_get,
	.tenant_list = sq_tenant_list,
	.client_create = sq_client_create,
	.client_get = sq_client_get,
	.client_list = sq_client_list,
	.client_update = sq_client_update,
	.client_set_disabled = sq_client_set_disabled,
	.client_void_tokens = sq_client_void_tokens,
	.client_delete = sq_client_delete,
	.secret_rotate = sq_secret_rotate,
	.secret_list = sq_secret_list,
	.secret_count_due = sq_secret_count_due,
	.secret_update = sq_secret_update,
	.key_add = sq_key_add,
	.key_list = sq_key_list,
	.key_rotate = sq_key_rotate,
	.key_revoke = sq_key_revoke,
	.token_get = sq_token_get,
	.token_list = sq_token_list,
	.token_list_revoked = sq_token_list_revoked,
	.token_list_revoked_since = sq_token_list_revoked_since,
	.token_prune = sq_token_prune,
	.token_latest_expiry = sq_token_latest_expiry,
	.token_revoke = sq_token_revoke,
	.token_revoke_by_name = sq_token_revoke_by_name,
	.commit_tokens = sq_commit_tokens,
	.commit_batch = sq_commit_batch,
	/* Half the default: commits with their WAL writes gathered are cheap
	 * enough (writer.c, on pacing). */
	.commit_interval_ns = 500000,
	.audit_list = sq_audit_list,
	.audit_scan = sq_audit_scan,
	.audit_prune = sq_audit_prune,
	.audit_seal = sq_audit_seal,
	.idem_begin = sq_idem_begin,
	.idem_finish = sq_idem_finish,
	.idem_release = sq_idem_release,
	.lock_put = sq_lock_put,
	.lock_list = sq_lock_list,
	.lock_clear = sq_lock_clear,
	.lock_cleared = sq_lock_cleared,
	.failure_add = sq_failure_add,
	.failure_reset = sq_failure_reset,
	.failure_pairs = sq_failure_pairs,
	.rate_push = sq_rate_push,
	.rate_pull = sq_rate_pull,
	.approval_create = sq_approval_create,
	.approval_get = sq_approval_get,
	.approval_list = sq_approval_list,
	.approval_transition = sq_approval_transition,
	.approval_claim = sq_approval_claim,
	.approval_unclaimed = sq_approval_unclaimed,
};
