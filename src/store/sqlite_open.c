/*
 * sqlite_open.c — opening and closing the SQLite backend (the overview is
 * at the top of store_sqlite.c): the database file, made owner-only; each
 * connection's settings (WAL, synchronous=FULL, the busy timeout); the
 * schema brought to SQLITE_SCHEMA_LATEST (schema_sqlite.h), one
 * transaction per migration; both connections' statements, prepared once;
 * the checkpointer's start; and the teardown. Also store_schema_version.
 * A file of its own because, apart from store_schema_version, it runs once
 * per process, reports its failures in err rather than through
 * store_set_error, and holds the migrations' static DDL (the only
 * includer of schema_sqlite.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/schema_sqlite.h"
#include "store/sqlite_internal.h"

/* A whole-statement helper for open time (no values: static SQL only). */
static int
exec_static(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* Per-connection settings. journal_mode is checked: WAL is what makes
 * readers and the group commit not block each other. */
static int
configure(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int ok = 0;

	sqlite3_extended_result_codes(db, 1);
	if (sqlite3_busy_timeout(db, SQI_BUSY_TIMEOUT_MS) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW)
		goto out;
	if (sqlite3_column_text(st, 0) == NULL ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		snprintf(err, errlen, "cannot use WAL journal mode (got %s)",
		    sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "nothing");
		sqlite3_finalize(st);
		return -1;
	}
	/* 32 MB of page cache a connection (the default is 2 MB): the token
	 * table's index pages stay in memory instead of being read back
	 * before each batch's insert. */
	if (exec_static(db, "PRAGMA synchronous=FULL") != SQLITE_OK ||
	    exec_static(db, "PRAGMA cache_size=-32768") != SQLITE_OK ||
	    exec_static(db, "PRAGMA foreign_keys=ON") != SQLITE_OK)
		goto out;
	ok = 1;
out:
	sqlite3_finalize(st);
	if (!ok) {
		snprintf(err, errlen, "cannot configure the database: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* The version recorded in schema_version (0 when the table is missing). */
static int
read_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *st = NULL;
	int rc, exists = 0;

	*version = 0;
	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table'"
	    " AND name = 'schema_version'", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW)
		exists = 1;
	sqlite3_finalize(st);
	st = NULL;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	if (!exists)
		return SQLITE_OK;
	rc = sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*version = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Brings the schema to SQLITE_SCHEMA_LATEST, one transaction per migration.
 * The version is re-read inside each transaction: another process (a CLI
 * and a server starting together) may have migrated in between.
 */
static int
migrate(sqlite3 *db, char *err, size_t errlen)
{
	for (;;) {
		sqlite3_stmt *st = NULL;
		int version, rc;

		if ((rc = read_version(db, &version)) != SQLITE_OK) {
			snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
			return -1;
		}
		if (version > SQLITE_SCHEMA_LATEST) {
			snprintf(err, errlen, "the database is at schema version %d, newer than this "
			    "binary knows (%d); upgrade gatehouse", version, SQLITE_SCHEMA_LATEST);
			return -1;
		}
		if (version == SQLITE_SCHEMA_LATEST)
			return 0;
		if (exec_static(db, "BEGIN IMMEDIATE") != SQLITE_OK) {
			snprintf(err, errlen, "cannot start migration %d: %s", version + 1, sqlite3_errmsg(db));
			return -1;
		}
		if (exec_static(db, "CREATE TABLE IF NOT EXISTS schema_version"
		    " (version INTEGER NOT NULL)") != SQLITE_OK ||
		    read_version(db, &version) != SQLITE_OK) {
			snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
			goto fail;
		}
		if (version >= SQLITE_SCHEMA_LATEST) {	/* someone else got there */
			exec_static(db, "ROLLBACK");
			continue;
		}
		for (const char *const *sql = sqlite_migrations[version]; *sql != NULL; sql++)
			if (exec_static(db, *sql) != SQLITE_OK) {
				snprintf(err, errlen, "migration %d failed: %s", version + 1,
				    sqlite3_errmsg(db));
				goto fail;
			}
		if (sqlite3_prepare_v2(db, "INSERT INTO schema_version (version) VALUES (?)", -1,
		    &st, NULL) != SQLITE_OK || sqlite3_bind_int(st, 1, version + 1) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE) {
			snprintf(err, errlen, "migration %d: cannot record it: %s", version + 1,
			    sqlite3_errmsg(db));
			sqlite3_finalize(st);
			goto fail;
		}
		sqlite3_finalize(st);
		if (exec_static(db, "COMMIT") != SQLITE_OK) {
			snprintf(err, errlen, "migration %d: commit failed: %s", version + 1,
			    sqlite3_errmsg(db));
			goto fail;
		}
		continue;
fail:
		if (!sqlite3_get_autocommit(db))
			exec_static(db, "ROLLBACK");
		return -1;
	}
}

void
sq_close(void *h)
{
	struct sq *q = h;

	if (q == NULL)
		return;
	sq_ckpt_stop(q->ckpt);
	for (int i = 0; i < SQ__MAX; i++)
		sqlite3_finalize(q->st[i]);
	for (int i = 0; i < SW__MAX; i++)
		sqlite3_finalize(q->sw[i]);
	sq_audit_finalize(&q->sa);
	sqlite3_close(q->wdb);
	sqlite3_close(q->db);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

int
sq_connect(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	/* NOMUTEX: each connection is serialized by us (mu, or the one
	 * writer thread). */
	sq_pcache_install();
	if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
	    sq_walbuf_vfs()) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "cannot open");
		return -1;
	}
	return configure(*db, err, errlen);
}

int
sq_open(const char *path, void **h, char *err, size_t errlen)
{
	struct sq *q = NULL;
	struct stat sb;
	int fd;

	if (path[0] == '\0' || path[0] == ':' || strlen(path) > 4000) {
		snprintf(err, errlen, "\"%.60s\" is not a database file path", path);
		return STORE_ERROR;
	}
	/* The file holds secret hashes and sealed keys: only its owner may
	 * read it. Its directory must exist already (we do not make one).
	 * SQLite gives the -wal and -shm files the same mode. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return STORE_ERROR;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return STORE_ERROR;
	}
	close(fd);
	if ((q = calloc(1, sizeof(*q))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERROR;
	}
	pthread_mutex_init(&q->mu, NULL);
	if (sq_connect(path, &q->db, err, errlen) == -1 || migrate(q->db, err, errlen) == -1 ||
	    sq_connect(path, &q->wdb, err, errlen) == -1)
		goto fail;
	for (int i = 0; i < SQ__MAX; i++)
		if (sqlite3_prepare_v3(q->db, sqi_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i],
		    NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare statement %d: %s", i, sqlite3_errmsg(q->db));
			goto fail;
		}
	for (int i = 0; i < SW__MAX; i++)
		if (sqlite3_prepare_v3(q->wdb, sqi_sw_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &q->sw[i],
		    NULL) != SQLITE_OK) {
			snprintf(err, errlen, "cannot prepare writer statement %d: %s", i,
			    sqlite3_errmsg(q->wdb));
			goto fail;
		}
	if (sq_audit_prepare(q->wdb, &q->sa, err, errlen) == -1)
		goto fail;
	if (sq_ckpt_start(&q->ckpt, path, err, errlen) == -1)
		goto fail;
	sq_ckpt_attach(q->ckpt, q->db);
	sq_ckpt_attach(q->ckpt, q->wdb);
	*h = q;
	return STORE_OK;
fail:
	sq_close(q);
	return STORE_ERROR;
}

int
sq_schema_version(void *h, int *current, int *latest)
{
	struct sq *q = h;
	int rc = STORE_OK, src;
	sqlite3_stmt *st;

	*latest = SQLITE_SCHEMA_LATEST;
	pthread_mutex_lock(&q->mu);
	if (sq_file_moved(q->db)) {
		pthread_mutex_unlock(&q->mu);
		return sq_moved_error();
	}
	st = sqi_stmt(q, SQ_SCHEMA, SQ_NO_ARGS);
	if (st != NULL && (src = sqlite3_step(st)) == SQLITE_ROW)
		*current = sqlite3_column_int(st, 0);
	else
		rc = st == NULL ? STORE_ERROR : sq_error(q->db, src, "schema version");
	sqi_done(st);
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int
sq_write_probe(void *h, int64_t now)
{
	struct sq *q = h;
	sqlite3_stmt *st;
	int rc;

	pthread_mutex_lock(&q->mu);
	if ((rc = sqi_tx_begin(q)) == STORE_OK) {
		if ((rc = sq_prep(q->db, "write probe", STORE_SQL_WRITE_PROBE, &st,
		    SQ_ARGS(SQ_INT(now)))) == STORE_OK)
			rc = sq_step_done(q->db, st, NULL, "write probe");
		rc = sqi_tx_end(q, rc, 0);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}
