/*
 * store_copy.c — gatehouse store copy (copy.h): SQLite -> PostgreSQL. The
 * one file that speaks to both engines, because it copies rows as they are
 * rather than through store.h (which would give secrets new ids and append
 * audit rows anew): each table of the SQLite file, in creation order (so
 * that referenced rows go first), column by column by name into the same
 * table of the PostgreSQL schema (schema_pgsql.h mirrors schema_sqlite.h),
 * inside one PostgreSQL transaction and one SQLite read snapshot. Values go
 * as bound parameters: integers and text as text, blobs as binary.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/copy.h"
#include "store/pgsql_internal.h"
#include "store/sqlite_internal.h"
#include "store/store.h"

#define COLS_MAX 32

/* Table and column names come from our own schema; still, only plain
 * identifiers are ever put into SQL text. */
static int
ident(const char *s)
{
	if (s == NULL || s[0] == '\0' || strlen(s) >= 64)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int
pg_ok(PGconn *c, PGresult *r, char *err, size_t errlen, const char *what)
{
	ExecStatusType s = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;

	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return 1;
	snprintf(err, errlen, "%s: %.200s", what, r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(c));
	err[strcspn(err, "\n")] = '\0';
	return 0;
}

/* A statement without values or rows we read (static SQL); -1 with err. */
static int
pg_exec(PGconn *c, const char *sql, char *err, size_t errlen, const char *what)
{
	PGresult *r = PQexec(c, sql);
	int ok = pg_ok(c, r, err, errlen, what);

	PQclear(r);
	return ok ? 0 : -1;
}

/* count(*) of table on c; -1 with err. */
static int64_t
pg_count(PGconn *c, const char *table, char *err, size_t errlen)
{
	char sql[128];
	PGresult *r;
	int64_t n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", table);
	r = PQexec(c, sql);
	if (pg_ok(c, r, err, errlen, table) && PQntuples(r) == 1)
		n = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

/* The column names of table, in order. */
static int
columns(sqlite3 *db, const char *table, char cols[COLS_MAX][64], int *ncols, char *err,
    size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*ncols = 0;
	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?) ORDER BY cid", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", table, sqlite3_errmsg(db));
		sqlite3_finalize(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (*ncols == COLS_MAX || !ident(name)) {
			snprintf(err, errlen, "%s: unexpected column %.64s", table, name ? name : "");
			sqlite3_finalize(st);
			return -1;
		}
		snprintf(cols[(*ncols)++], 64, "%s", name);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || *ncols == 0) {
		snprintf(err, errlen, "%s: cannot read its columns: %s", table, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* The columns of st's row as the insert's parameters: NULL as NULL,
 * integers and floats as text (in num), blobs as binary, text as it is.
 * vals point into st and num: they hold until st steps again. */
static void
row_params(sqlite3_stmt *st, int ncols, const char *vals[COLS_MAX], int lens[COLS_MAX],
    int fmts[COLS_MAX], char num[COLS_MAX][32])
{
	for (int i = 0; i < ncols; i++) {
		lens[i] = 0;
		fmts[i] = 0;
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_NULL:
			vals[i] = NULL;
			break;
		case SQLITE_INTEGER:
			snprintf(num[i], sizeof(num[i]), "%lld",
			    (long long)sqlite3_column_int64(st, i));
			vals[i] = num[i];
			break;
		case SQLITE_FLOAT:
			snprintf(num[i], sizeof(num[i]), "%.17g", sqlite3_column_double(st, i));
			vals[i] = num[i];
			break;
		case SQLITE_BLOB:
			vals[i] = sqlite3_column_blob(st, i);
			lens[i] = sqlite3_column_bytes(st, i);
			fmts[i] = 1;
			if (vals[i] == NULL)
				vals[i] = "";
			break;
		default:
			vals[i] = (const char *)sqlite3_column_text(st, i);
			if (vals[i] == NULL)
				vals[i] = "";
		}
	}
}

/* Copies every row of table; *copied gets how many. */
static int
copy_table(sqlite3 *db, PGconn *c, const char *table, int64_t *copied, char *err, size_t errlen)
{
	char cols[COLS_MAX][64], sel[2048], ins[2048], num[COLS_MAX][32];
	const char *vals[COLS_MAX];
	int lens[COLS_MAX], fmts[COLS_MAX];
	sqlite3_stmt *st = NULL;
	size_t sl, il;
	int ncols, rc;
	PGresult *r;

	*copied = 0;
	if (columns(db, table, cols, &ncols, err, errlen) == -1)
		return -1;
	sl = (size_t)snprintf(sel, sizeof(sel), "SELECT ");
	il = (size_t)snprintf(ins, sizeof(ins), "INSERT INTO %s (", table);
	for (int i = 0; i < ncols; i++) {
		sl += (size_t)snprintf(sel + sl, sizeof(sel) - sl, "%s%s", i ? ", " : "", cols[i]);
		il += (size_t)snprintf(ins + il, sizeof(ins) - il, "%s%s", i ? ", " : "", cols[i]);
	}
	sl += (size_t)snprintf(sel + sl, sizeof(sel) - sl, " FROM %s ORDER BY rowid", table);
	il += (size_t)snprintf(ins + il, sizeof(ins) - il, ") VALUES (");
	for (int i = 0; i < ncols; i++)
		il += (size_t)snprintf(ins + il, sizeof(ins) - il, "%s$%d", i ? ", " : "", i + 1);
	snprintf(ins + il, sizeof(ins) - il, ")");
	if (sl >= sizeof(sel) || il >= sizeof(ins)) {
		snprintf(err, errlen, "%s: too many columns", table);
		return -1;
	}
	r = PQprepare(c, "", ins, ncols, NULL);
	if (!pg_ok(c, r, err, errlen, table)) {
		PQclear(r);
		return -1;
	}
	PQclear(r);
	if (sqlite3_prepare_v2(db, sel, -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", table, sqlite3_errmsg(db));
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		row_params(st, ncols, vals, lens, fmts, num);
		r = PQexecPrepared(c, "", ncols, vals, lens, fmts, 0);
		if (!pg_ok(c, r, err, errlen, table)) {
			PQclear(r);
			sqlite3_finalize(st);
			return -1;
		}
		PQclear(r);
		(*copied)++;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: %s", table, sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Opens url with store_open (migrating it) and returns its schema version. */
static int
migrated(const char *url, int *version, char *err, size_t errlen)
{
	struct store *s = NULL;
	int latest = 0;

	if (store_open(url, &s, err, errlen) != STORE_OK)
		return -1;
	if (store_schema_version(s, version, &latest) != STORE_OK) {
		snprintf(err, errlen, "%s", store_last_error());
		store_close(s);
		return -1;
	}
	store_close(s);
	return 0;
}

/* The source must be SQLite (path: its file) and the target PostgreSQL,
 * both brought to the same schema version by store_open; -1 with err. */
static int
check_stores(const char *from, const char *path, const char *to, char *err, size_t errlen)
{
	int vfrom = 0, vto = 0;
	char e2[256];

	if (path == from && strstr(from, "://") != NULL) {
		snprintf(err, errlen, "store copy: --from must be sqlite:PATH");
		return -1;
	}
	if (strncmp(to, "postgresql://", 13) != 0 && strncmp(to, "postgres://", 11) != 0) {
		snprintf(err, errlen, "store copy: --to must be a postgresql:// URL");
		return -1;
	}
	if (migrated(from, &vfrom, e2, sizeof(e2)) == -1) {
		snprintf(err, errlen, "store copy: the source: %s", e2);
		return -1;
	}
	if (migrated(to, &vto, e2, sizeof(e2)) == -1) {
		snprintf(err, errlen, "store copy: the target: %s", e2);
		return -1;
	}
	if (vfrom != vto) {
		snprintf(err, errlen, "store copy: schema versions differ (source %d, target %d)",
		    vfrom, vto);
		return -1;
	}
	return 0;
}

/*
 * New secrets on the target continue after every id the source ever gave
 * out, not only after the ids still stored: AUTOINCREMENT keeps the highest
 * given in sqlite_sequence, past the newest secrets when they were deleted
 * (a client delete takes its secrets), and neither engine ever gives an id
 * out again. A deleted secret's id, which the audit trail and approvals
 * name, must not come to name another. -1 with err.
 */
static int
secret_ids(sqlite3 *db, PGconn *c, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char given[32] = "0";
	const char *v[1] = { given };
	PGresult *r;
	int ok, rc;

	/* No sqlite_sequence row (no secret ever made): none given. */
	if (sqlite3_prepare_v2(db, "SELECT seq FROM sqlite_sequence WHERE name = 'client_secrets'",
	    -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store copy: secret ids: %s", sqlite3_errmsg(db));
		return -1;
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		snprintf(given, sizeof(given), "%lld", (long long)sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "store copy: secret ids: %s", sqlite3_errmsg(db));
		return -1;
	}
	r = PQexecParams(c, "SELECT setval(pg_get_serial_sequence('client_secrets', 'id'),"
	    " greatest(coalesce(max(id), 0), $1::bigint) + 1, false) FROM client_secrets", 1, NULL,
	    v, NULL, NULL, 0);
	ok = pg_ok(c, r, err, errlen, "store copy: secret ids");
	PQclear(r);
	return ok ? 0 : -1;
}

/* Copies table, the source's next, into the target's, which must be
 * empty (but for meta), and counts its rows again there; counts[*n] gets
 * the table and its rows. -1 with err. */
static int
copy_one(sqlite3 *db, PGconn *c, const char *table, struct store_copy_count *counts, size_t max,
    size_t *n, char *err, size_t errlen)
{
	int64_t copied = 0, there;
	char e2[256];

	if (!ident(table) || *n == max) {
		snprintf(err, errlen, "store copy: unexpected table %.64s", table ? table : "");
		return -1;
	}
	if (strcmp(table, "meta") == 0) {
		/* The target's own generation row gives way to the source's. */
		if (pg_exec(c, "DELETE FROM meta", err, errlen, "store copy: meta") == -1)
			return -1;
	} else if ((there = pg_count(c, table, e2, sizeof(e2))) != 0) {
		if (there < 0)
			snprintf(err, errlen, "store copy: %s", e2);
		else
			snprintf(err, errlen, "store copy: the target is not empty (%s has %lld "
			    "rows); copy into a fresh database", table, (long long)there);
		return -1;
	}
	if (copy_table(db, c, table, &copied, e2, sizeof(e2)) == -1) {
		snprintf(err, errlen, "store copy: %s", e2);
		return -1;
	}
	/* Counted again on the target, inside the transaction. */
	if ((there = pg_count(c, table, e2, sizeof(e2))) != copied) {
		snprintf(err, errlen, "store copy: %s: %lld rows read, %lld in the target",
		    table, (long long)copied, (long long)there);
		return -1;
	}
	snprintf(counts[*n].table, sizeof(counts[*n].table), "%s", table);
	counts[(*n)++].rows = copied;
	if (strcmp(table, "client_secrets") == 0 && secret_ids(db, c, err, errlen) == -1)
		return -1;
	return 0;
}

/* The audit head of the snapshot being copied. 0, or -1 with err. */
static int
audit_head(sqlite3 *db, struct store_copy_head *head, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	head->seq = 0;
	head->hash[0] = '\0';
	if (sqlite3_prepare_v2(db, "SELECT seq, lower(hex(hash)) FROM audit ORDER BY seq DESC LIMIT 1",
	    -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store copy: audit head: %s", sqlite3_errmsg(db));
		return -1;
	}
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 1);
		head->seq = sqlite3_column_int64(st, 0);
		snprintf(head->hash, sizeof(head->hash), "%s", h != NULL ? h : "");
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		snprintf(err, errlen, "store copy: audit head: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

int
store_copy(const char *from, const char *to, struct store_copy_count *counts, size_t max,
    size_t *n, struct store_copy_head *head, char *err, size_t errlen)
{
	const char *path = strncmp(from, "sqlite:", 7) == 0 ? from + 7 : from;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	PGconn *c = NULL;
	int rc = -1, src;
	char e2[256];

	*n = 0;
	if (check_stores(from, path, to, err, errlen) == -1)
		return -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store copy: %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(db, SQI_BUSY_TIMEOUT_MS);
	if ((c = pgi_connect_url(to, e2, sizeof(e2))) == NULL) {
		snprintf(err, errlen, "store copy: %s", e2);
		goto out;
	}
	/* One snapshot of the source, one transaction on the target. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store copy: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (pg_exec(c, "BEGIN", err, errlen, "store copy: begin") == -1)
		goto out;
	if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name"
	    " NOT IN ('schema_version', 'sqlite_sequence') ORDER BY rowid", -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "store copy: %s", sqlite3_errmsg(db));
		goto out;
	}
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		if (copy_one(db, c, (const char *)sqlite3_column_text(st, 0), counts, max, n, err,
		    errlen) == -1)
			goto out;
	if (src != SQLITE_DONE) {
		snprintf(err, errlen, "store copy: %s", sqlite3_errmsg(db));
		goto out;
	}
	if (audit_head(db, head, err, errlen) == -1)
		goto out;
	if (pg_exec(c, "COMMIT", err, errlen, "store copy: commit") == -1)
		goto out;
	rc = 0;
out:
	sqlite3_finalize(st);
	if (db != NULL) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	if (c != NULL)
		PQfinish(c);	/* an open transaction is rolled back */
	if (rc != 0)
		*n = 0;
	return rc;
}
