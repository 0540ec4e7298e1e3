/*
 * schema_sqlite.h — the SQLite schema as versioned migrations (STYLE 15:
 * one schema per engine, beside its backend). Included by store_sqlite.c
 * only.
 *
 * Migration N (sqlite_migrations[N-1]) takes the database from version N-1
 * to N: a NULL-terminated array of statements run in one transaction
 * together with the row recording N in schema_version. Append only: never
 * edit a migration that has shipped; add the next one.
 */
#ifndef GH_SCHEMA_SQLITE_H
#define GH_SCHEMA_SQLITE_H

#include "store/schema_common.h"

/* 1: the core token service. */
static const char *const sqlite_migration_1[] = {
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
	"INSERT INTO meta VALUES ('generation', 0)",
	"CREATE TABLE tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at INTEGER NOT NULL)",
	"CREATE TABLE clients (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),"
	" name TEXT NOT NULL, env INTEGER NOT NULL, roles INTEGER NOT NULL, scopes TEXT NOT NULL,"
	" ttl INTEGER NOT NULL, max_ttl INTEGER NOT NULL, format INTEGER NOT NULL,"
	" allow_ips TEXT NOT NULL, claims TEXT NOT NULL, disabled INTEGER NOT NULL,"
	" rate_limit INTEGER NOT NULL, tokens_valid_after INTEGER NOT NULL,"
	" created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)",
	"CREATE INDEX clients_tenant ON clients(tenant_id)",
	"CREATE TABLE client_secrets (id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" client_id TEXT NOT NULL REFERENCES clients(id), hash BLOB NOT NULL,"
	" created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL)",
	"CREATE INDEX client_secrets_client ON client_secrets(client_id)",
	"CREATE TABLE signing_keys (kid TEXT PRIMARY KEY, alg TEXT NOT NULL, env INTEGER NOT NULL,"
	" sealed BLOB NOT NULL, created_at INTEGER NOT NULL, publish_at INTEGER NOT NULL,"
	" activate_at INTEGER NOT NULL, retire_at INTEGER NOT NULL, remove_at INTEGER NOT NULL)",
	"CREATE TABLE tokens (id TEXT PRIMARY KEY, client_id TEXT NOT NULL, tenant_id TEXT NOT NULL,"
	" name TEXT NOT NULL, format INTEGER NOT NULL, env INTEGER NOT NULL, scope TEXT NOT NULL,"
	" aud TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	" revoked_at INTEGER NOT NULL)",
	/* (client_id, issued_at) serves lookups by client and the list's order. */
	"CREATE INDEX tokens_client ON tokens(client_id, issued_at)",
	"CREATE INDEX tokens_name ON tokens(name)",
	NULL
};

/* The gate loads the revoked, unexpired token ids on every generation
 * change: a partial index keeps that independent of the table's size. */
static const char *const sqlite_migration_revoked_index[] = {
	"CREATE INDEX tokens_revoked ON tokens(expires_at) WHERE revoked_at != 0",
	NULL
};

/* Idempotency records (issue 6): one per (client, X-Request-ID); state 0
 * running, 1 done. expires_at indexed for pruning. */
static const char *const sqlite_migration_idempotency[] = {
	"CREATE TABLE idempotency (client_id TEXT NOT NULL, key TEXT NOT NULL,"
	" fingerprint TEXT NOT NULL, state INTEGER NOT NULL, status INTEGER NOT NULL,"
	" body TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	" PRIMARY KEY (client_id, key))",
	"CREATE INDEX idempotency_expires ON idempotency(expires_at)",
	NULL
};

/* Lockout locks (issue 5): one row per (kind, address, client_id); kind 0
 * pair, 1 address (client_id ''). until indexed: listing and pruning read
 * only the locks in force or expired. */
static const char *const sqlite_migration_locks[] = {
	"CREATE TABLE locks (kind INTEGER NOT NULL, address TEXT NOT NULL,"
	" client_id TEXT NOT NULL, created_at INTEGER NOT NULL, until INTEGER NOT NULL,"
	" PRIMARY KEY (kind, address, client_id))",
	"CREATE INDEX locks_until ON locks(until)",
	NULL
};

/* Maker-checker approvals (issue 6): state is enum store_approval_state.
 * The partial index finds a pending conflict key at filing; the other two
 * serve listing by tenant and expiring pending rows. */
static const char *const sqlite_migration_approvals[] = {
	"CREATE TABLE approvals (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL,"
	" kind TEXT NOT NULL, maker TEXT NOT NULL, maker_tenant TEXT NOT NULL,"
	" payload TEXT NOT NULL, reason TEXT NOT NULL, conflict_key TEXT NOT NULL,"
	" state INTEGER NOT NULL, checker TEXT NOT NULL, result TEXT NOT NULL,"
	" created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"
	" decided_at INTEGER NOT NULL, used_at INTEGER NOT NULL)",
	"CREATE INDEX approvals_pending_key ON approvals(conflict_key) WHERE state = 0",
	"CREATE INDEX approvals_pending_expiry ON approvals(expires_at) WHERE state = 0",
	"CREATE INDEX approvals_tenant ON approvals(tenant_id, created_at)",
	NULL
};

/* The audit trail (issue 6, store.h store_audit_*): seq is the rowid,
 * assigned by the writer without gaps; hashes are 32-byte blobs. Every
 * index is paid for by the token endpoint (its rows are written in the
 * group commit): tenant serves a tenant's own trail, action the prune and
 * the checkpoint lookup; the client filter reads through the tenant's rows
 * or the table, newest first. The trigger keeps rows from being
 * changed by mistake (prunes delete; nothing updates); it is no defence
 * against someone with the file: the hash chain is. */
static const char *const sqlite_migration_audit[] = {
	"CREATE TABLE audit (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
	" request_id TEXT NOT NULL, actor TEXT NOT NULL, tenant TEXT NOT NULL,"
	" address TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL,"
	" outcome TEXT NOT NULL, detail TEXT NOT NULL, prev_hash BLOB NOT NULL,"
	" hash BLOB NOT NULL)",
	"CREATE INDEX audit_tenant ON audit(tenant, seq)",
	"CREATE INDEX audit_action ON audit(action, seq)",
	"CREATE TRIGGER audit_append_only BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END",
	NULL
};

/* Failure counters shared by nodes (issue 8, store.h store_failure_*): one
 * row per (kind, address, client_id) as in locks; window_start indexed so
 * that ended windows are pruned without a scan. */
static const char *const sqlite_migration_failures[] = {
	"CREATE TABLE lock_failures (kind INTEGER NOT NULL, address TEXT NOT NULL,"
	" client_id TEXT NOT NULL, window_start INTEGER NOT NULL, failures INTEGER NOT NULL,"
	" PRIMARY KEY (kind, address, client_id))",
	"CREATE INDEX lock_failures_window ON lock_failures(window_start)",
	NULL
};

/* Tokens issued per client by each node, summed by the database (issue 8,
 * store.h store_rate_*): the nodes' rate limiters read each other's. */
static const char *const sqlite_migration_rate_totals[] = {
	"CREATE TABLE rate_totals (client_id TEXT NOT NULL, node TEXT NOT NULL,"
	" taken INTEGER NOT NULL, updated_at INTEGER NOT NULL, PRIMARY KEY (client_id, node))",
	"CREATE INDEX rate_totals_updated ON rate_totals(updated_at)",
	NULL
};

/* Token records are pruned once expired for token_retention (store.h
 * store_token_prune): the index finds them without a scan. */
static const char *const sqlite_migration_token_expiry[] = {
	"CREATE INDEX tokens_expiry ON tokens(expires_at)",
	NULL
};

/* The keyed audit chain (store.h): every row written so far is v1 (its
 * SHA-256 link stays valid); the store writes v2 rows from now on. The key
 * record is written once by the first process that sets the key; its
 * triggers, like audit's, only stop mistakes. */
static const char *const sqlite_migration_audit_keyed[] = {
	"ALTER TABLE audit ADD COLUMN chain INTEGER NOT NULL DEFAULT 1",
	"CREATE TABLE audit_key (chain INTEGER PRIMARY KEY, key_check BLOB NOT NULL,"
	" v1_through INTEGER NOT NULL, v1_hash BLOB NOT NULL, mac BLOB NOT NULL)",
	"CREATE TRIGGER audit_key_no_update BEFORE UPDATE ON audit_key"
	" BEGIN SELECT RAISE(ABORT, 'the audit key record is written once'); END",
	"CREATE TRIGGER audit_key_no_delete BEFORE DELETE ON audit_key"
	" BEGIN SELECT RAISE(ABORT, 'the audit key record is written once'); END",
	NULL
};

/* 11: the lockout locks' own change generation (store.h STORE_GEN_LOCKS):
 * a lock written moves it, not 'generation'. */
static const char *const sqlite_migration_lock_generation[] = {
	"INSERT INTO meta VALUES ('lock_generation', 0)",
	NULL
};

/* 12: token revocations' own change generation (STORE_GEN_REVOKED). */
static const char *const sqlite_migration_revocation_generation[] = {
	"INSERT INTO meta VALUES ('revocation_generation', 0)",
	NULL
};

/* 13: admin changes' conflict keys name their tenant (schema_common.h). */
static const char *const sqlite_migration_conflict_tenant[] = {
	SCHEMA_SQL_CONFLICT_KEYS_TENANT,
	NULL
};

/* 14: the principal each secret was shown to by the admin API (store.h
 * struct store_secret holder); '' for the client itself, as every secret
 * made before was taken to be. */
static const char *const sqlite_migration_secret_holder[] = {
	"ALTER TABLE client_secrets ADD COLUMN holder TEXT NOT NULL DEFAULT ''",
	NULL
};

/* 15: the admin lists come a page at a time (store.h
 * STORE_LIST_PAGE_MAX): each list's order is an index, so that a page
 * reads its own rows and no others (tenants: their primary key). */
static const char *const sqlite_migration_list_pages[] = {
	"CREATE INDEX clients_page ON clients(created_at, id)",
	"CREATE INDEX clients_tenant_page ON clients(tenant_id, created_at, id)",
	"CREATE INDEX locks_page ON locks(address, client_id, kind)",
	NULL
};

/* 16: approvals a page at a time, newest first, filtered by state in the
 * query (store.h store_approval_list_page), so that the pending ones (the
 * checkers' list) are found however many newer rows of other states
 * there are: an index for each shape of the query. */
static const char *const sqlite_migration_approval_pages[] = {
	"CREATE INDEX approvals_page ON approvals(created_at, id)",
	"CREATE INDEX approvals_tenant_page ON approvals(tenant_id, created_at, id)",
	"CREATE INDEX approvals_state_page ON approvals(state, created_at, id)",
	"CREATE INDEX approvals_tenant_state_page ON approvals(tenant_id, state, created_at, id)",
	NULL
};

/* 17: the apply claim of an approved admin change (store.h
 * store_approval_claim): the time until which one process holds it (0:
 * none). Rows approved before hold none, as before, and are claimed by
 * the first recovery. Recovery walks the unclaimed approved changes by id
 * through a partial index of those rows alone: approved "call" approvals
 * stay stored approved after they expire, and are never read there. */
static const char *const sqlite_migration_approval_claim[] = {
	"ALTER TABLE approvals ADD COLUMN claim_until INTEGER NOT NULL DEFAULT 0",
	"CREATE INDEX approvals_unapplied ON approvals(id) WHERE state = 1 AND kind <> 'call'",
	NULL
};

/* 18: each revocation records the revocations' generation it made
 * (STORE_GEN_REVOKED, in the same transaction), so that a node holding the
 * revoked set of generation N reads only the rows revoked since
 * (store.h store_token_list_revoked_since) rather than all of them after
 * every revocation. Rows revoked before hold 0: a full load reads them. */
static const char *const sqlite_migration_revoked_gen[] = {
	"ALTER TABLE tokens ADD COLUMN revoked_gen INTEGER NOT NULL DEFAULT 0",
	"CREATE INDEX tokens_revoked_gen ON tokens(revoked_gen) WHERE revoked_at != 0",
	NULL
};

/* 19: a lock cleared is said, not inferred (store.h store_lock_cleared_since):
 * each clear records its filter and the locks' generation it made
 * (STORE_GEN_LOCKS, in the same transaction), and each lock row the
 * generation of the write that made it, so that a server lifts a lock it
 * holds only for a clear newer than that lock, never because the lock is
 * missing from a read (pruned by another node's clock, or passed over by
 * its own). Rows written before hold 0: older than every clear. address
 * and client_id are '' for "any" (client_id given: that client's pair
 * locks only). */
static const char *const sqlite_migration_lock_clears[] = {
	"ALTER TABLE locks ADD COLUMN gen INTEGER NOT NULL DEFAULT 0",
	"CREATE TABLE lock_clears (gen INTEGER PRIMARY KEY, address TEXT NOT NULL,"
	" client_id TEXT NOT NULL, cleared_at INTEGER NOT NULL)",
	"CREATE INDEX lock_clears_at ON lock_clears(cleared_at)",
	NULL
};

static const char *const *const sqlite_migrations[] = {
	sqlite_migration_1,
	sqlite_migration_revoked_index,
	sqlite_migration_idempotency,
	sqlite_migration_locks,
	sqlite_migration_approvals,
	sqlite_migration_audit,
	sqlite_migration_failures,
	sqlite_migration_rate_totals,
	sqlite_migration_token_expiry,
	sqlite_migration_audit_keyed,
	sqlite_migration_lock_generation,
	sqlite_migration_revocation_generation,
	sqlite_migration_conflict_tenant,
	sqlite_migration_secret_holder,
	sqlite_migration_list_pages,
	sqlite_migration_approval_pages,
	sqlite_migration_approval_claim,
	sqlite_migration_revoked_gen,
	sqlite_migration_lock_clears,
};

#define SQLITE_SCHEMA_LATEST ((int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0])))

#endif
