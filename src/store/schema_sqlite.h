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

static const char *const *const sqlite_migrations[] = {
	sqlite_migration_1,
	sqlite_migration_revoked_index,
};

#define SQLITE_SCHEMA_LATEST ((int)(sizeof(sqlite_migrations) / sizeof(sqlite_migrations[0])))

#endif
