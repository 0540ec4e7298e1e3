/*
 * schema_common.h — the statements that both engines' migrations run word
 * for word (schema_sqlite.h, schema_pgsql.h): data rewrites in SQL that
 * SQLite and PostgreSQL read alike. Named here so that the conformance
 * suite (tests/store/store_conformance.c) can run each again over rows it
 * wrote, on both engines. Each is idempotent.
 */
#ifndef GH_SCHEMA_COMMON_H
#define GH_SCHEMA_COMMON_H

/*
 * Migration 13: the conflict key of an admin change names its tenant
 * ("client:<tenant>/<id>", "key:<tenant>/<env>"; src/admin/critical.c).
 * Keys filed before ("client:<id>", "key:<env>") get the approval's
 * tenant, so that a change pending at the upgrade still meets a new one
 * of the same client. Neither an id nor an env has a '/': a key that has
 * one is new already. Call approvals' keys ("call:<hex>") name their
 * tenant in the digest and stay.
 */
#define SCHEMA_SQL_CONFLICT_KEYS_TENANT						\
	"UPDATE approvals SET conflict_key = CASE"					\
	" WHEN conflict_key LIKE 'client:%'"						\
	" THEN 'client:' || tenant_id || '/' || substr(conflict_key, 8)"		\
	" ELSE 'key:' || tenant_id || '/' || substr(conflict_key, 5) END"		\
	" WHERE kind <> 'call' AND (conflict_key LIKE 'client:%' OR conflict_key LIKE 'key:%')" \
	" AND conflict_key NOT LIKE '%/%'"

/*
 * At a client's creation, inside its transaction ($1: its id): tokens
 * issued before are void for it (tokens_valid_after), when token records
 * with its id are there already. A client delete keeps its token records,
 * for the record; a client made again with that id would otherwise take
 * the deleted one's unexpired tokens for its own (the gate finds a token's
 * client by the record's client_id). Issue times are whole seconds, so the
 * bound is one past the last: a token of the deleted client from the
 * creation's own second is void too, and the new client's first token
 * waits out that second (issue.c answers 503 with Retry-After). One index
 * probe (tokens_client), however many records there are.
 */
#define SCHEMA_SQL_VOID_EARLIER_TOKENS							\
	"UPDATE clients SET tokens_valid_after ="					\
	" (SELECT MAX(issued_at) + 1 FROM tokens WHERE client_id = $1)"			\
	" WHERE id = $1 AND tokens_valid_after <="					\
	" (SELECT MAX(issued_at) FROM tokens WHERE client_id = $1)"

/*
 * A rotation's retirement, inside its transaction: every key of the env
 * ($3) signing at now ($5), other than the new one ($4), stops signing when
 * the new one starts ($1) and is unpublished at $2. Every one, not only
 * the key chosen to sign: two nodes making an env's first keys at once
 * leave two active from the same second, and the one not chosen would
 * otherwise stay published, and trusted, for good.
 */
#define SCHEMA_SQL_RETIRE_ENV_KEYS							\
	"UPDATE signing_keys SET retire_at = $1, remove_at = $2 WHERE env = $3"		\
	" AND kid <> $4 AND activate_at <= $5 AND (retire_at = 0 OR retire_at > $1)"	\
	" AND (remove_at = 0 OR remove_at > $5)"

/*
 * store_write_probe ($1: now): one row of meta written, none read by
 * anything else. Not a generation's row: no cache reloads for a probe.
 */
#define STORE_SQL_WRITE_PROBE								\
	"INSERT INTO meta (key, value) VALUES ('write_probe', $1)"			\
	" ON CONFLICT (key) DO UPDATE SET value = excluded.value"

#endif
