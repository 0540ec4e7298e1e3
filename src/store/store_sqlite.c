/*
 * store_sqlite.c — the SQLite backend of store.h (the only user of
 * sqlite3.h). One connection, under a mutex, serves the operator's reads and
 * writes; a second belongs to the group-commit writer, which records issued
 * tokens in batches: one transaction and one sync for everything queued.
 * WAL with synchronous=FULL: a commit that returned is durable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/schema_sqlite.h"
#include "store/store.h"
#include "util/util.h"

#define QUEUE_MAX 65536
#define BATCH_MAX 1024

const char *const store_env_names[STORE_ENV__MAX] = { "sandbox", "production" };
const char *const store_format_names[STORE_FORMAT__MAX] = { "jwt", "opaque" };

struct queued {
	struct store_token	 t;
	store_done_fn		 done;
	void			*arg;
};

struct store {
	sqlite3			*db;		/* under mu */
	pthread_mutex_t		 mu;
	sqlite3_stmt		*st_version;	/* PRAGMA data_version */
	sqlite3_stmt		*st_gen;
	int64_t			 seen_version;
	uint64_t		 gen;

	sqlite3			*wdb;		/* the writer's */
	sqlite3_stmt		*st_insert;
	pthread_t		 writer;
	pthread_mutex_t		 qmu;
	pthread_cond_t		 qcond;		/* work queued, or stop */
	pthread_cond_t		 qidle;		/* queue drained */
	struct queued		*q;
	size_t			 qhead, qlen;
	int			 busy, stop;
};

static _Thread_local char last_error[256] = "no error";

static int
fail(int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return rc;
}

const char *
store_last_error(void)
{
	return last_error;
}

static int
map_err(sqlite3 *db, int rc)
{
	int ext = sqlite3_extended_errcode(db);

	if ((ext & 0xff) == SQLITE_CONSTRAINT)
		return fail(ext == SQLITE_CONSTRAINT_FOREIGNKEY ? STORE_NOTFOUND : STORE_CONFLICT,
		    "%s", sqlite3_errmsg(db));
	if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_IOERR || rc == SQLITE_FULL)
		return fail(STORE_UNAVAILABLE, "database unavailable: %s", sqlite3_errmsg(db));
	return fail(STORE_ERROR, "%s", sqlite3_errmsg(db));
}

int
store_env_from_name(const char *s, enum store_env *out)
{
	for (int i = 0; i < STORE_ENV__MAX; i++)
		if (strcmp(s, store_env_names[i]) == 0) {
			*out = (enum store_env)i;
			return 0;
		}
	return -1;
}

int
store_format_from_name(const char *s, enum store_format *out)
{
	for (int i = 0; i < STORE_FORMAT__MAX; i++)
		if (strcmp(s, store_format_names[i]) == 0) {
			*out = (enum store_format)i;
			return 0;
		}
	return -1;
}

const char *
store_backend(const struct store *s)
{
	(void)s;
	return "sqlite";
}

/* -- statements ------------------------------------------------------------ */

/* Binds args by a type string: s text, i int64, b blob (ptr, len). */
static int
bindv(sqlite3_stmt *st, const char *types, va_list ap)
{
	for (int i = 0; types[i] != '\0'; i++) {
		int rc = SQLITE_OK;
		switch (types[i]) {
		case 's': {
			const char *v = va_arg(ap, const char *);
			rc = v ? sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
			break;
		}
		case 'i':
			rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
			break;
		case 'b': {
			const void *p = va_arg(ap, const void *);
			int n = (int)va_arg(ap, size_t);
			rc = sqlite3_bind_blob(st, i + 1, p, n, SQLITE_TRANSIENT);
			break;
		}
		}
		if (rc != SQLITE_OK)
			return rc;
	}
	return SQLITE_OK;
}

/* Runs one statement that returns no rows; *changes gets sqlite3_changes. */
static int
exec(sqlite3 *db, int *changes, const char *sql, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL)) != SQLITE_OK)
		return map_err(db, rc);
	va_start(ap, types);
	rc = bindv(st, types, ap);
	va_end(ap);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return map_err(db, rc);
	if (changes != NULL)
		*changes = sqlite3_changes(db);
	return STORE_OK;
}

static int
bump(sqlite3 *db)
{
	return exec(db, NULL, "UPDATE meta SET value = value + 1 WHERE key = 'generation'", "");
}

static int
begin(struct store *s)
{
	return exec(s->db, NULL, "BEGIN IMMEDIATE", "");
}

static int
finish(struct store *s, int rc)
{
	if (rc == STORE_OK && (rc = bump(s->db)) == STORE_OK &&
	    (rc = exec(s->db, NULL, "COMMIT", "")) == STORE_OK)
		return STORE_OK;
	{
		char keep[256];
		snprintf(keep, sizeof(keep), "%s", last_error);
		exec(s->db, NULL, "ROLLBACK", "");
		snprintf(last_error, sizeof(last_error), "%s", keep);
	}
	return rc;
}

static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return strdup(t ? (const char *)t : "");
}

/* Runs a query; for each row calls row(st, dst + k*size). Grows *out. */
typedef int (*row_fn)(sqlite3_stmt *, void *);

static int
query(struct store *s, const char *sql, size_t size, row_fn row, void **out,
    size_t *n, const char *types, ...)
{
	sqlite3_stmt *st = NULL;
	va_list ap;
	size_t cap = 0, used = 0;
	char *arr = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&s->mu);
	if ((rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) != SQLITE_OK) {
		rc = map_err(s->db, rc);
		goto out;
	}
	va_start(ap, types);
	rc = bindv(st, types, ap);
	va_end(ap);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 8;
			char *na = realloc(arr, ncap * size);
			if (na == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			arr = na;
			cap = ncap;
		}
		memset(arr + used * size, 0, size);
		row(st, arr + used * size);
		used++;
		rc = SQLITE_OK;
	}
	if (rc != SQLITE_DONE) {
		rc = map_err(s->db, rc);
		for (size_t i = 0; i < used; i++)
			;	/* rows hold strdup'd strings; callers' free does it */
		*out = arr;
		*n = used;
		goto out;
	}
	rc = STORE_OK;
	*out = arr;
	*n = used;
out:
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* -- open, migrate, close -------------------------------------------------- */

static int
pragmas(sqlite3 *db)
{
	return sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;", NULL, NULL, NULL);
}

static int
migrate(sqlite3 *db, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int version = 0, latest = (int)GH_ARRAY_LEN(sqlite_migrations);

	if (sqlite3_exec(db, "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);",
	    NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > latest) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		snprintf(err, errlen, "the database is at schema version %d, newer than this binary knows (%d); "
		    "upgrade gatehouse", version, latest);
		return -1;
	}
	for (int v = version; v < latest; v++) {
		char sql[64];
		if (sqlite3_exec(db, sqlite_migrations[v], NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(err, errlen, "migration %d failed: %s", v + 1, sqlite3_errmsg(db));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return -1;
		}
		snprintf(sql, sizeof(sql), "INSERT INTO schema_version VALUES (%d)", v + 1);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "migration commit failed: %s", sqlite3_errmsg(db));
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

static void *writer_main(void *);

int
store_open(const char *url, struct store **out, char *err, size_t errlen)
{
	const char *path = url;
	struct store *s;
	int fd;

	err[0] = '\0';
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		snprintf(err, errlen, "the PostgreSQL backend is not built yet; use sqlite:PATH");
		return STORE_ERROR;
	}
	if (strncmp(url, "sqlite:", 7) == 0)
		path = url + 7;
	if (path[0] == '\0' || strlen(path) > 4000) {
		snprintf(err, errlen, "\"%.60s\" is not a store URL (sqlite:PATH or postgresql://...)", url);
		return STORE_ERROR;
	}
	/* The file holds hashes and sealed keys: only its owner reads it. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return STORE_ERROR;
	}
	close(fd);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERROR;
	}
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_cond_init(&s->qcond, NULL);
	pthread_cond_init(&s->qidle, NULL);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
	    pragmas(s->db) != SQLITE_OK || migrate(s->db, err, errlen) == -1 ||
	    sqlite3_open_v2(path, &s->wdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
	    pragmas(s->wdb) != SQLITE_OK) {
		if (err[0] == '\0')
			snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		sqlite3_close(s->db);
		sqlite3_close(s->wdb);
		free(s);
		return STORE_ERROR;
	}
	if (sqlite3_prepare_v2(s->db, "PRAGMA data_version", -1, &s->st_version, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'generation'", -1, &s->st_gen, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->wdb, "INSERT INTO tokens (id, client_id, tenant_id, name, format, env, scope, aud,"
	    " issued_at, expires_at, revoked_at) VALUES (?,?,?,?,?,?,?,?,?,?,0)", -1, &s->st_insert, NULL) != SQLITE_OK ||
	    (s->q = calloc(QUEUE_MAX, sizeof(*s->q))) == NULL) {
		snprintf(err, errlen, "cannot prepare statements: %s", sqlite3_errmsg(s->db));
		store_close(s);
		return STORE_ERROR;
	}
	s->seen_version = -1;
	if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		sqlite3_close(s->db);
		free(s);
		return STORE_ERROR;
	}
	*out = s;
	return STORE_OK;
}

int
store_schema_version(struct store *s, int *current, int *latest)
{
	sqlite3_stmt *st = NULL;

	*latest = (int)GH_ARRAY_LEN(sqlite_migrations);
	*current = 0;
	pthread_mutex_lock(&s->mu);
	if (sqlite3_prepare_v2(s->db, "SELECT max(version) FROM schema_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		*current = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	pthread_mutex_unlock(&s->mu);
	return STORE_OK;
}

/* -- the group-commit writer ------------------------------------------------- */

static void
queued_free(struct queued *q)
{
	store_token_clear(&q->t);
}

static int
commit_batch(struct store *s, struct queued *batch, size_t n)
{
	int rc = sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		struct store_token *t = &batch[i].t;
		sqlite3_reset(s->st_insert);
		sqlite3_bind_text(s->st_insert, 1, t->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->st_insert, 2, t->client_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->st_insert, 3, t->tenant_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->st_insert, 4, t->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(s->st_insert, 5, (int)t->format);
		sqlite3_bind_int(s->st_insert, 6, (int)t->env);
		sqlite3_bind_text(s->st_insert, 7, t->scope, -1, SQLITE_STATIC);
		sqlite3_bind_text(s->st_insert, 8, t->aud, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s->st_insert, 9, t->issued_at);
		sqlite3_bind_int64(s->st_insert, 10, t->expires_at);
		rc = sqlite3_step(s->st_insert);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_reset(s->st_insert);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
	return rc == SQLITE_OK ? STORE_OK : STORE_UNAVAILABLE;
}

static void *
writer_main(void *arg)
{
	struct store *s = arg;
	struct queued *batch = calloc(BATCH_MAX, sizeof(*batch));

	if (batch == NULL)
		return NULL;
	pthread_mutex_lock(&s->qmu);
	for (;;) {
		size_t n;
		int rc;
		while (s->qlen == 0 && !s->stop)
			pthread_cond_wait(&s->qcond, &s->qmu);
		if (s->qlen == 0 && s->stop)
			break;
		n = s->qlen < BATCH_MAX ? s->qlen : BATCH_MAX;
		for (size_t i = 0; i < n; i++)
			batch[i] = s->q[(s->qhead + i) % QUEUE_MAX];
		s->qhead = (s->qhead + n) % QUEUE_MAX;
		s->qlen -= n;
		s->busy = 1;
		pthread_mutex_unlock(&s->qmu);
		rc = commit_batch(s, batch, n);
		/* Answers go out only now that the batch is durable. */
		for (size_t i = 0; i < n; i++) {
			if (batch[i].done != NULL)
				batch[i].done(batch[i].arg, rc);
			queued_free(&batch[i]);
		}
		pthread_mutex_lock(&s->qmu);
		s->busy = 0;
		if (s->qlen == 0)
			pthread_cond_broadcast(&s->qidle);
	}
	s->busy = 0;
	pthread_cond_broadcast(&s->qidle);
	pthread_mutex_unlock(&s->qmu);
	free(batch);
	return NULL;
}

static char *
dup0(const char *v)
{
	return strdup(v ? v : "");
}

int
store_token_record(struct store *s, const struct store_token *t,
    store_done_fn done, void *arg)
{
	struct queued q;

	memset(&q, 0, sizeof(q));
	q.t = *t;
	q.t.id = dup0(t->id);
	q.t.client_id = dup0(t->client_id);
	q.t.tenant_id = dup0(t->tenant_id);
	q.t.name = dup0(t->name);
	q.t.scope = dup0(t->scope);
	q.t.aud = dup0(t->aud);
	q.done = done;
	q.arg = arg;
	if (!q.t.id || !q.t.client_id || !q.t.tenant_id || !q.t.name || !q.t.scope || !q.t.aud) {
		queued_free(&q);
		return fail(STORE_ERROR, "out of memory");
	}
	pthread_mutex_lock(&s->qmu);
	if (s->qlen == QUEUE_MAX || s->stop) {
		pthread_mutex_unlock(&s->qmu);
		queued_free(&q);
		return fail(STORE_UNAVAILABLE, "the write queue is full");
	}
	s->q[(s->qhead + s->qlen) % QUEUE_MAX] = q;
	s->qlen++;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qmu);
	return STORE_OK;
}

int
store_flush(struct store *s)
{
	pthread_mutex_lock(&s->qmu);
	while (s->qlen > 0 || s->busy)
		pthread_cond_wait(&s->qidle, &s->qmu);
	pthread_mutex_unlock(&s->qmu);
	return STORE_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->q != NULL) {
		pthread_mutex_lock(&s->qmu);
		s->stop = 1;
		pthread_cond_signal(&s->qcond);
		pthread_mutex_unlock(&s->qmu);
		pthread_join(s->writer, NULL);
	}
	sqlite3_finalize(s->st_version);
	sqlite3_finalize(s->st_gen);
	sqlite3_finalize(s->st_insert);
	sqlite3_close(s->db);
	sqlite3_close(s->wdb);
	free(s->q);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->qmu);
	pthread_cond_destroy(&s->qcond);
	pthread_cond_destroy(&s->qidle);
	free(s);
}

int
store_generation(struct store *s, uint64_t *out)
{
	int64_t v;
	int rc = STORE_OK;

	pthread_mutex_lock(&s->mu);
	/* data_version moves when another connection commits: only then is
	 * the generation row worth reading. */
	if (sqlite3_step(s->st_version) != SQLITE_ROW) {
		rc = map_err(s->db, SQLITE_ERROR);
	} else {
		v = sqlite3_column_int64(s->st_version, 0);
		if (v != s->seen_version) {
			if (sqlite3_step(s->st_gen) == SQLITE_ROW) {
				s->gen = (uint64_t)sqlite3_column_int64(s->st_gen, 0);
				s->seen_version = v;
			} else
				rc = map_err(s->db, SQLITE_ERROR);
			sqlite3_reset(s->st_gen);
		}
	}
	sqlite3_reset(s->st_version);
	*out = s->gen;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Writes on the main connection change the generation too; the cached
 * value must not hide them (data_version ignores our own commits). */
static int
mutate(struct store *s, int rc)
{
	if (rc == STORE_OK)
		s->seen_version = -1;
	return rc;
}

/* -- tenants --------------------------------------------------------------- */

static int
tenant_row(sqlite3_stmt *st, void *dst)
{
	struct store_tenant *t = dst;
	t->id = col_text(st, 0);
	t->name = col_text(st, 1);
	t->created_at = sqlite3_column_int64(st, 2);
	return 0;
}

int
store_tenant_create(struct store *s, const struct store_tenant *t)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		rc = exec(s->db, NULL, "INSERT INTO tenants (id, name, created_at) VALUES (?,?,?)",
		    "ssi", t->id, t->name, t->created_at);
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_tenant_get(struct store *s, const char *id, struct store_tenant *out)
{
	void *arr;
	size_t n;
	int rc = query(s, "SELECT id, name, created_at FROM tenants WHERE id = ?", sizeof(*out),
	    tenant_row, &arr, &n, "s", id);

	if (rc == STORE_OK && n == 0)
		rc = fail(STORE_NOTFOUND, "tenant %s does not exist", id);
	if (rc == STORE_OK)
		*out = *(struct store_tenant *)arr;
	else
		store_tenant_free(arr, n);
	if (rc == STORE_OK)
		free(arr);
	return rc;
}

int
store_tenant_list(struct store *s, struct store_tenant **out, size_t *n)
{
	return query(s, "SELECT id, name, created_at FROM tenants ORDER BY id", sizeof(**out),
	    tenant_row, (void **)out, n, "");
}

void
store_tenant_clear(struct store_tenant *t)
{
	free(t->id);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

void
store_tenant_free(struct store_tenant *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_tenant_clear(&t[i]);
	free(t);
}

/* -- clients ------------------------------------------------------------------ */

#define CLIENT_COLS "id, tenant_id, name, env, roles, scopes, ttl, max_ttl, format, allow_ips," \
	" claims, disabled, rate_limit, tokens_valid_after, created_at, updated_at"

static int
client_row(sqlite3_stmt *st, void *dst)
{
	struct store_client *c = dst;
	c->id = col_text(st, 0);
	c->tenant_id = col_text(st, 1);
	c->name = col_text(st, 2);
	c->env = (enum store_env)sqlite3_column_int(st, 3);
	c->roles = (unsigned)sqlite3_column_int(st, 4);
	c->scopes = col_text(st, 5);
	c->ttl = sqlite3_column_int64(st, 6);
	c->max_ttl = sqlite3_column_int64(st, 7);
	c->format = (enum store_format)sqlite3_column_int(st, 8);
	c->allow_ips = col_text(st, 9);
	c->claims = col_text(st, 10);
	c->disabled = sqlite3_column_int(st, 11);
	c->rate_limit = sqlite3_column_int64(st, 12);
	c->tokens_valid_after = sqlite3_column_int64(st, 13);
	c->created_at = sqlite3_column_int64(st, 14);
	c->updated_at = sqlite3_column_int64(st, 15);
	if (c->env >= STORE_ENV__MAX)
		c->env = STORE_ENV_SANDBOX;
	if (c->format >= STORE_FORMAT__MAX)
		c->format = STORE_FORMAT_JWT;
	return 0;
}

static int
insert_secret(struct store *s, struct store_secret *sec)
{
	int rc = exec(s->db, NULL, "INSERT INTO client_secrets (client_id, hash, created_at, expires_at,"
	    " revoked_at) VALUES (?,?,?,?,?)", "sbiii", sec->client_id, sec->hash, (size_t)32,
	    sec->created_at, sec->expires_at, sec->revoked_at);
	if (rc == STORE_OK)
		sec->id = sqlite3_last_insert_rowid(s->db);
	return rc;
}

int
store_client_create(struct store *s, const struct store_client *c,
    struct store_secret *first)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		rc = exec(s->db, NULL, "INSERT INTO clients (" CLIENT_COLS ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		    "sssiisiiissiiiii", c->id, c->tenant_id, c->name, (int64_t)c->env, (int64_t)c->roles,
		    c->scopes, c->ttl, c->max_ttl, (int64_t)c->format, c->allow_ips, c->claims,
		    (int64_t)c->disabled, c->rate_limit, c->tokens_valid_after, c->created_at, c->updated_at);
		if (rc == STORE_OK && first != NULL)
			rc = insert_secret(s, first);
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_client_get(struct store *s, const char *id, struct store_client *out)
{
	struct store_client *arr;
	size_t n;
	int rc = query(s, "SELECT " CLIENT_COLS " FROM clients WHERE id = ?", sizeof(*out),
	    client_row, (void **)&arr, &n, "s", id);

	if (rc == STORE_OK && n == 0)
		rc = fail(STORE_NOTFOUND, "client does not exist");
	if (rc != STORE_OK) {
		store_client_free(arr, n);
		return rc;
	}
	*out = arr[0];
	free(arr);
	return STORE_OK;
}

int
store_client_list(struct store *s, const char *tenant_id, struct store_client **out, size_t *n)
{
	if (tenant_id != NULL)
		return query(s, "SELECT " CLIENT_COLS " FROM clients WHERE tenant_id = ? ORDER BY created_at, id",
		    sizeof(**out), client_row, (void **)out, n, "s", tenant_id);
	return query(s, "SELECT " CLIENT_COLS " FROM clients ORDER BY created_at, id",
	    sizeof(**out), client_row, (void **)out, n, "");
}

int
store_client_update(struct store *s, const struct store_client *c)
{
	int rc, changes = 0;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		rc = exec(s->db, &changes, "UPDATE clients SET tenant_id=?, name=?, env=?, roles=?, scopes=?,"
		    " ttl=?, max_ttl=?, format=?, allow_ips=?, claims=?, disabled=?, rate_limit=?,"
		    " tokens_valid_after=?, updated_at=? WHERE id=?",
		    "ssiisiiissiiiis", c->tenant_id, c->name, (int64_t)c->env, (int64_t)c->roles, c->scopes,
		    c->ttl, c->max_ttl, (int64_t)c->format, c->allow_ips, c->claims, (int64_t)c->disabled,
		    c->rate_limit, c->tokens_valid_after, c->updated_at, c->id);
		if (rc == STORE_OK && changes == 0)
			rc = fail(STORE_NOTFOUND, "client does not exist");
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void
store_client_clear(struct store_client *c)
{
	free(c->id);
	free(c->tenant_id);
	free(c->name);
	free(c->scopes);
	free(c->allow_ips);
	free(c->claims);
	memset(c, 0, sizeof(*c));
}

void
store_client_free(struct store_client *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_client_clear(&c[i]);
	free(c);
}

/* -- secrets ----------------------------------------------------------------- */

static int
secret_row(sqlite3_stmt *st, void *dst)
{
	struct store_secret *x = dst;
	const void *h = sqlite3_column_blob(st, 2);
	x->id = sqlite3_column_int64(st, 0);
	x->client_id = col_text(st, 1);
	if (h != NULL && sqlite3_column_bytes(st, 2) == 32)
		memcpy(x->hash, h, 32);
	x->created_at = sqlite3_column_int64(st, 3);
	x->expires_at = sqlite3_column_int64(st, 4);
	x->revoked_at = sqlite3_column_int64(st, 5);
	return 0;
}

int
store_secret_add(struct store *s, struct store_secret *sec)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK)
		rc = finish(s, insert_secret(s, sec));
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_secret_list(struct store *s, const char *client_id, struct store_secret **out, size_t *n)
{
	return query(s, "SELECT id, client_id, hash, created_at, expires_at, revoked_at FROM client_secrets"
	    " WHERE client_id = ? ORDER BY id", sizeof(**out), secret_row, (void **)out, n, "s", client_id);
}

int
store_secret_update(struct store *s, const struct store_secret *sec)
{
	int rc, changes = 0;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		rc = exec(s->db, &changes, "UPDATE client_secrets SET expires_at=?, revoked_at=? WHERE id=?",
		    "iii", sec->expires_at, sec->revoked_at, sec->id);
		if (rc == STORE_OK && changes == 0)
			rc = fail(STORE_NOTFOUND, "secret does not exist");
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void
store_secret_clear(struct store_secret *x)
{
	free(x->client_id);
	memset(x, 0, sizeof(*x));
}

void
store_secret_free(struct store_secret *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_secret_clear(&x[i]);
	free(x);
}

/* -- keys ----------------------------------------------------------------------- */

static int
key_row(sqlite3_stmt *st, void *dst)
{
	struct store_key *k = dst;
	int n = sqlite3_column_bytes(st, 3);
	k->kid = col_text(st, 0);
	k->alg = col_text(st, 1);
	k->env = (enum store_env)sqlite3_column_int(st, 2);
	if (k->env >= STORE_ENV__MAX)
		k->env = STORE_ENV_SANDBOX;
	if ((k->sealed = malloc(n > 0 ? (size_t)n : 1)) != NULL && n > 0)
		memcpy(k->sealed, sqlite3_column_blob(st, 3), (size_t)n);
	k->sealed_len = k->sealed ? (size_t)n : 0;
	k->created_at = sqlite3_column_int64(st, 4);
	k->publish_at = sqlite3_column_int64(st, 5);
	k->activate_at = sqlite3_column_int64(st, 6);
	k->retire_at = sqlite3_column_int64(st, 7);
	k->remove_at = sqlite3_column_int64(st, 8);
	return 0;
}

int
store_key_add(struct store *s, const struct store_key *k)
{
	int rc;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		rc = exec(s->db, NULL, "INSERT INTO signing_keys (kid, alg, env, sealed, created_at, publish_at,"
		    " activate_at, retire_at, remove_at) VALUES (?,?,?,?,?,?,?,?,?)", "ssibiiiii",
		    k->kid, k->alg, (int64_t)k->env, k->sealed, k->sealed_len, k->created_at,
		    k->publish_at, k->activate_at, k->retire_at, k->remove_at);
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_key_list(struct store *s, struct store_key **out, size_t *n)
{
	return query(s, "SELECT kid, alg, env, sealed, created_at, publish_at, activate_at, retire_at,"
	    " remove_at FROM signing_keys ORDER BY created_at, kid", sizeof(**out), key_row, (void **)out, n, "");
}

int
store_key_update(struct store *s, const struct store_key *k)
{
	int rc, changes = 0;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		rc = exec(s->db, &changes, "UPDATE signing_keys SET publish_at=?, activate_at=?, retire_at=?,"
		    " remove_at=? WHERE kid=?", "iiiis", k->publish_at, k->activate_at, k->retire_at,
		    k->remove_at, k->kid);
		if (rc == STORE_OK && changes == 0)
			rc = fail(STORE_NOTFOUND, "key does not exist");
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

void
store_key_clear(struct store_key *k)
{
	free(k->kid);
	free(k->alg);
	free(k->sealed);
	memset(k, 0, sizeof(*k));
}

void
store_key_free(struct store_key *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_key_clear(&k[i]);
	free(k);
}

/* -- tokens ------------------------------------------------------------------------ */

#define TOKEN_COLS "id, client_id, tenant_id, name, format, env, scope, aud, issued_at, expires_at, revoked_at"

static int
token_row(sqlite3_stmt *st, void *dst)
{
	struct store_token *t = dst;
	t->id = col_text(st, 0);
	t->client_id = col_text(st, 1);
	t->tenant_id = col_text(st, 2);
	t->name = col_text(st, 3);
	t->format = (enum store_format)sqlite3_column_int(st, 4);
	t->env = (enum store_env)sqlite3_column_int(st, 5);
	if (t->format >= STORE_FORMAT__MAX)
		t->format = STORE_FORMAT_JWT;
	if (t->env >= STORE_ENV__MAX)
		t->env = STORE_ENV_SANDBOX;
	t->scope = col_text(st, 6);
	t->aud = col_text(st, 7);
	t->issued_at = sqlite3_column_int64(st, 8);
	t->expires_at = sqlite3_column_int64(st, 9);
	t->revoked_at = sqlite3_column_int64(st, 10);
	return 0;
}

int
store_token_get(struct store *s, const char *id, struct store_token *out)
{
	struct store_token *arr;
	size_t n;
	int rc = query(s, "SELECT " TOKEN_COLS " FROM tokens WHERE id = ?", sizeof(*out), token_row,
	    (void **)&arr, &n, "s", id);

	if (rc == STORE_OK && n == 0)
		rc = fail(STORE_NOTFOUND, "no such token");
	if (rc != STORE_OK) {
		store_token_free(arr, n);
		return rc;
	}
	*out = arr[0];
	free(arr);
	return STORE_OK;
}

int
store_token_list(struct store *s, const char *client_id, struct store_token **out, size_t *n)
{
	return query(s, "SELECT " TOKEN_COLS " FROM tokens WHERE client_id = ? ORDER BY issued_at, id",
	    sizeof(**out), token_row, (void **)out, n, "s", client_id);
}

int
store_token_revoke(struct store *s, const char *id, int64_t at)
{
	int rc, changes = 0;

	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		rc = exec(s->db, &changes, "UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0",
		    "is", at, id);
		if (rc == STORE_OK && changes == 0) {
			sqlite3_stmt *st = NULL;
			int exists = 0;
			if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM tokens WHERE id = ?", -1, &st, NULL) == SQLITE_OK) {
				sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
				exists = sqlite3_step(st) == SQLITE_ROW;
			}
			sqlite3_finalize(st);
			if (!exists)
				rc = fail(STORE_NOTFOUND, "no such token");
		}
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int
store_token_revoke_by_name(struct store *s, const char *client_id, const char *name,
    int64_t at, int *count)
{
	int rc, changes = 0;

	*count = 0;
	pthread_mutex_lock(&s->mu);
	if ((rc = begin(s)) == STORE_OK) {
		if (client_id != NULL)
			rc = exec(s->db, &changes, "UPDATE tokens SET revoked_at = ? WHERE name = ? AND"
			    " client_id = ? AND revoked_at = 0", "iss", at, name, client_id);
		else
			rc = exec(s->db, &changes, "UPDATE tokens SET revoked_at = ? WHERE name = ? AND"
			    " revoked_at = 0", "is", at, name);
		if (rc == STORE_OK && changes == 0)
			rc = fail(STORE_NOTFOUND, "no live token of that name");
		rc = finish(s, rc);
	}
	rc = mutate(s, rc);
	pthread_mutex_unlock(&s->mu);
	if (rc == STORE_OK)
		*count = changes;
	return rc;
}

void
store_token_clear(struct store_token *t)
{
	free(t->id);
	free(t->client_id);
	free(t->tenant_id);
	free(t->name);
	free(t->scope);
	free(t->aud);
	memset(t, 0, sizeof(*t));
}

void
store_token_free(struct store_token *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_token_clear(&t[i]);
	free(t);
}
