/*
 * pgsql_open.c — opening and closing the PostgreSQL backend (the overview,
 * with the URL's parameters, is at the top of store_pgsql.c): the URL,
 * our parameters taken out before libpq checks the rest; the first
 * connection, which brings the schema to PGSQL_SCHEMA_LATEST
 * (schema_pgsql.h) under an advisory lock before anything starts; the
 * listener thread's start; and the teardown. Also store_schema_version and
 * store copy's plain connection. A file of its own because, apart from
 * store_schema_version, it runs once per process, reports its failures in
 * err rather than through store_set_error, and holds the only SQL run with
 * PQexec (the static migration DDL).
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "store/schema_pgsql.h"
#include "store/pgsql_internal.h"

#define POOL_SIZE_DEFAULT	4
#define POOL_SIZE_MAX		64
#define POOL_TIMEOUT_DEFAULT	2000	/* ms */
#define QUERY_TIMEOUT_DEFAULT	30000	/* ms */
#define RESYNC_DEFAULT		2000	/* ms */
#define CONNECT_TIMEOUT		"5"	/* seconds, unless the URL says otherwise */
#define MIGRATION_LOCK		"7452914630741"	/* pg_advisory_lock key: "gatehouse" */
#define MIGRATION_LOCK_TIMEOUT_S 2	/* a migration statement's wait for a lock */
#define MIGRATE_WAIT_DEFAULT	300	/* s: another node's migration (Liquibase's 5 min) */
#define MIGRATION_TRIES		3	/* of a migration whose lock was not granted */

/* -- open, migrate, close ------------------------------------------------------------ */

/* Our parameters out of the URL's query string into p; what is left goes to
 * libpq, which checks it. -1 with err on a bad value. */
static int
parse_url(struct pg *p, const char *url, char *err, size_t errlen)
{
	const char *qm = strchr(url, '?');
	size_t base = qm != NULL ? (size_t)(qm - url) : strlen(url);
	char *out, *rest, *save = NULL;
	static const struct { const char *name; int min, max; size_t off; } ours[] = {
		{ "pool_size", 1, POOL_SIZE_MAX, offsetof(struct pg, pool_size) },
		{ "pool_timeout_ms", 1, 600000, offsetof(struct pg, pool_timeout_ms) },
		{ "resync_ms", 50, 3600000, offsetof(struct pg, resync_ms) },
		{ "query_timeout_ms", 100, 3600000, offsetof(struct pg, query_timeout_ms) },
		{ "migrate_wait_s", 1, 86400, offsetof(struct pg, migrate_wait_s) },
	};

	if ((out = malloc(strlen(url) + 1)) == NULL || (rest = strdup(qm ? qm + 1 : "")) == NULL) {
		free(out);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memcpy(out, url, base);
	out[base] = '\0';
	for (char *kv = strtok_r(rest, "&", &save); kv != NULL; kv = strtok_r(NULL, "&", &save)) {
		size_t i, klen = strcspn(kv, "=");
		for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
			if (strlen(ours[i].name) == klen && strncmp(kv, ours[i].name, klen) == 0)
				break;
		if (i == sizeof(ours) / sizeof(ours[0])) {
			strcat(out, strchr(out, '?') ? "&" : "?");
			strcat(out, kv);
			continue;
		}
		{
			const char *v = kv[klen] == '=' ? kv + klen + 1 : "";
			char *end = NULL;
			long n;
			errno = 0;
			n = strtol(v, &end, 10);
			if (v[0] == '\0' || *end != '\0' || errno != 0 || n < ours[i].min ||
			    n > ours[i].max) {
				snprintf(err, errlen, "database URL: %s must be an integer from %d to %d",
				    ours[i].name, ours[i].min, ours[i].max);
				free(rest);
				free(out);
				return -1;
			}
			*(int *)(void *)((char *)p + ours[i].off) = (int)n;
		}
	}
	free(rest);
	p->url = out;
	return 0;
}

int
pg_url_has_password(const char *url)
{
	PQconninfoOption *o = PQconninfoParse(url, NULL);
	int has = 0;

	/* libpq's own reading: user:password@ and ?password= alike. */
	for (PQconninfoOption *p = o; p != NULL && p->keyword != NULL; p++)
		if (strcmp(p->keyword, "password") == 0 && p->val != NULL && p->val[0] != '\0')
			has = 1;
	PQconninfoFree(o);
	return has;
}

/* The URL checked by libpq before any connection; libpq's complaint may
 * quote a piece of the URL, so the password (if any) is masked out of it. */
static int
check_url(const char *url, char *err, size_t errlen)
{
	char *msg = NULL, line[200], pw[128] = "";
	const char *at = strchr(url, '@'), *s = strstr(url, "://");
	PQconninfoOption *o = PQconninfoParse(url, &msg);

	if (o != NULL) {
		PQconninfoFree(o);
		return 0;
	}
	pgi_oneline(msg != NULL ? msg : "out of memory", line, sizeof(line));
	PQfreemem(msg);
	if (s != NULL && at != NULL && at > s) {
		const char *colon = memchr(s + 3, ':', (size_t)(at - s - 3));
		if (colon != NULL && (size_t)(at - colon - 1) < sizeof(pw)) {
			memcpy(pw, colon + 1, (size_t)(at - colon - 1));
			pw[at - colon - 1] = '\0';
		}
	}
	if (pw[0] != '\0')
		for (char *hit; (hit = strstr(line, pw)) != NULL;) {
			memset(hit, '*', strlen(pw));
		}
	snprintf(err, errlen, "malformed database URL: %s", line);
	return -1;
}

/* Runs sql: 0, or -1 with err set to "what: PostgreSQL's message"; -2
 * (err set too) when a lock was not granted within lock_timeout (SQLSTATE
 * 55P03), which a caller may try again. */
static int
exec_locking(PGconn *c, const char *sql, char *err, size_t errlen, const char *what)
{
	PGresult *r = PQexec(c, sql);
	const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[200];
	int rc = 0;

	if (r == NULL || (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)) {
		rc = state != NULL && strcmp(state, "55P03") == 0 ? -2 : -1;
		pgi_oneline(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
		snprintf(err, errlen, "%s: %s", what, msg);
	}
	PQclear(r);
	return rc;
}

static int
exec_static(PGconn *c, const char *sql, char *err, size_t errlen, const char *what)
{
	return exec_locking(c, sql, err, errlen, what) == 0 ? 0 : -1;
}

static int
read_version(PGconn *c, int *version, char *err, size_t errlen)
{
	PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM schema_version");
	char msg[200];

	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		pgi_oneline(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
		snprintf(err, errlen, "cannot read the schema version: %s", msg);
		PQclear(r);
		return -1;
	}
	*version = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

/* The table that records the migrations applied: 0, -1 or -2 (a lock). */
static int
version_table(PGconn *c, int unused, char *err, size_t errlen)
{
	(void)unused;
	return exec_locking(c, "CREATE TABLE IF NOT EXISTS schema_version"
	    " (version INTEGER NOT NULL)", err, errlen, "cannot create schema_version");
}

/* Migration number to, in one transaction: 0, -1, or -2 when a lock was
 * not granted in time. On failure it is rolled back: nothing of it stays. */
static int
migrate_one(PGconn *c, int to, char *err, size_t errlen)
{
	char what[64], num[16];
	const char *v[1] = { num };
	PGresult *r;
	int rc;

	snprintf(what, sizeof(what), "migration %d", to);
	if ((rc = exec_locking(c, "BEGIN", err, errlen, what)) != 0)
		return rc;
	for (const char *const *sql = pgsql_migrations[to - 1]; *sql != NULL; sql++)
		if ((rc = exec_locking(c, *sql, err, errlen, what)) != 0)
			goto rollback;
	snprintf(num, sizeof(num), "%d", to);
	r = PQexecParams(c, "INSERT INTO schema_version (version) VALUES ($1::integer)", 1,
	    NULL, v, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		char msg[200];
		pgi_oneline(r ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
		snprintf(err, errlen, "%s: cannot record it: %s", what, msg);
		PQclear(r);
		rc = -1;
		goto rollback;
	}
	PQclear(r);
	if ((rc = exec_locking(c, "COMMIT", err, errlen, what)) == 0)
		return 0;
rollback:
	PQclear(PQexec(c, "ROLLBACK"));
	return rc;
}

/*
 * step, tried again while a lock it needs is not granted, at most
 * MIGRATION_TRIES times. Each statement waits MIGRATION_LOCK_TIMEOUT_S for a
 * lock: a DDL statement queued behind a long transaction would otherwise
 * queue every other node's queries on that table behind itself, and the
 * whole platform would wait with it. Gives up with a clear error instead:
 * the node does not start, the others go on serving.
 */
static int
with_lock_tries(int (*step)(PGconn *, int, char *, size_t), PGconn *c, int arg,
    char *err, size_t errlen)
{
	const struct timespec pause = { 1, 0 };

	for (int i = 1;; i++) {
		int rc = step(c, arg, err, errlen);
		size_t len;

		if (rc != -2)
			return rc;
		if (i == MIGRATION_TRIES) {
			len = strlen(err);
			snprintf(err + len, errlen - len, " (%d tries, %d s each: another session"
			    " holds a lock the migration needs; end that session's transaction"
			    " and start again)", MIGRATION_TRIES, MIGRATION_LOCK_TIMEOUT_S);
			return -1;
		}
		nanosleep(&pause, NULL);
	}
}

/* Who holds the migration lock, for the error: " (PostgreSQL backend pid
 * N, application 'A', from ADDR)", or "" when that cannot be read. The
 * address is left out when PostgreSQL hides it (another role's session, to
 * a role without pg_read_all_stats) or there is none (a Unix socket). */
static void
lock_holder(PGconn *c, char *out, size_t outlen)
{
	PGresult *r = PQexec(c, "SELECT a.pid, coalesce(a.application_name, ''),"
	    " coalesce(host(a.client_addr), '') FROM pg_locks l"
	    " JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
	    " AND l.granted AND l.objsubid = 1"
	    " AND l.classid = (" MIGRATION_LOCK "::bigint >> 32)::oid"
	    " AND l.objid = (" MIGRATION_LOCK "::bigint & 4294967295)::oid LIMIT 1");
	char app[64];
	const char *from;

	out[0] = '\0';
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
		/* The application name is the holder's to choose: one line. */
		pgi_oneline(PQgetvalue(r, 0, 1), app, sizeof(app));
		from = PQgetvalue(r, 0, 2);
		snprintf(out, outlen, " (PostgreSQL backend pid %.12s, application '%s'%s%.64s)",
		    PQgetvalue(r, 0, 0), app, from[0] != '\0' ? ", from " : "", from);
	}
	PQclear(r);
}

/*
 * Takes the session advisory lock that migrations run under. A node
 * starting while another migrates waits for it, up to wait_s (the URL's
 * migrate_wait_s): a migration may take minutes on a big table, but a lock
 * left by a stuck session must not hold every later start without a word,
 * so past that the node refuses to start and names the holder. 0 or -1.
 */
static int
migration_lock(PGconn *c, int wait_s, char *err, size_t errlen)
{
	char set[48], holder[256];
	int rc;

	snprintf(set, sizeof(set), "SET lock_timeout = '%ds'", wait_s);
	if (exec_static(c, set, err, errlen, "cannot set lock_timeout") == -1)
		return -1;
	rc = exec_locking(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", err, errlen,
	    "cannot take the migration lock");
	if (rc != -2)
		return rc;
	lock_holder(c, holder, sizeof(holder));
	snprintf(err, errlen, "cannot take the migration lock: another session%s held it"
	    " for all of migrate_wait_s (%d s). Another node may be migrating a large table:"
	    " wait for it, or raise migrate_wait_s; if that session is stuck, end it and"
	    " start again", holder, wait_s);
	return -1;
}

/*
 * Brings the schema to PGSQL_SCHEMA_LATEST, one transaction a migration,
 * under a session advisory lock (migration_lock): a second node starting
 * at the same time waits there, then finds nothing left to do. A newer
 * schema is refused.
 */
static int
migrate(PGconn *c, int wait_s, char *err, size_t errlen)
{
	int version, rc = -1;
	char set[48];

	if (migration_lock(c, wait_s, err, errlen) == -1)
		return -1;
	snprintf(set, sizeof(set), "SET lock_timeout = '%ds'", MIGRATION_LOCK_TIMEOUT_S);
	if (exec_static(c, set, err, errlen, "cannot set lock_timeout") == -1 ||
	    with_lock_tries(version_table, c, 0, err, errlen) == -1 ||
	    read_version(c, &version, err, errlen) == -1)
		goto out;
	if (version > PGSQL_SCHEMA_LATEST) {
		snprintf(err, errlen, "the database is at schema version %d, newer than this binary "
		    "knows (%d); upgrade gatehouse", version, PGSQL_SCHEMA_LATEST);
		goto out;
	}
	for (; version < PGSQL_SCHEMA_LATEST; version++)
		if (with_lock_tries(migrate_one, c, version + 1, err, errlen) == -1)
			goto out;
	rc = 0;
out:
	PQclear(PQexec(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")"));
	PQclear(PQexec(c, "RESET lock_timeout"));
	return rc;
}

void
pg_close(void *h)
{
	struct pg *p = h;

	if (p == NULL)
		return;
	if (p->listener_started) {
		ssize_t w = write(p->stop_pipe[1], "x", 1);
		(void)w;
		pthread_join(p->listener, NULL);
	}
	if (p->stop_pipe[0] >= 0)
		close(p->stop_pipe[0]);
	if (p->stop_pipe[1] >= 0)
		close(p->stop_pipe[1]);
	for (int i = 0; p->pool != NULL && i < p->pool_size; i++)
		if (p->pool[i] != NULL)
			PQfinish(p->pool[i]);
	if (p->w != NULL)
		PQfinish(p->w);
	free(p->pool);
	free(p->busy);
	free(p->url);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->freed);
	pthread_mutex_destroy(&p->gmu);
	free(p);
}

int
pg_open(const char *target, void **h, char *err, size_t errlen)
{
	struct pg *p;
	const char *sv;

	if (strlen(target) > 4000) {
		snprintf(err, errlen, "the database URL is too long");
		return STORE_ERROR;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return STORE_ERROR;
	}
	p->stop_pipe[0] = p->stop_pipe[1] = -1;
	p->pool_size = POOL_SIZE_DEFAULT;
	p->pool_timeout_ms = POOL_TIMEOUT_DEFAULT;
	p->resync_ms = RESYNC_DEFAULT;
	p->query_timeout_ms = QUERY_TIMEOUT_DEFAULT;
	p->migrate_wait_s = MIGRATE_WAIT_DEFAULT;
	snprintf(p->connect_timeout, sizeof(p->connect_timeout), "%s", CONNECT_TIMEOUT);
	pthread_mutex_init(&p->mu, NULL);
	{
		/* pgi_acquire's wait is timed on the monotonic clock: on the
		 * wall clock, a step back kept a waiter (and the request it
		 * serves) waiting as long as the step, a step forward failed
		 * it at once. */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&p->freed, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_mutex_init(&p->gmu, NULL);
	if (parse_url(p, target, err, errlen) == -1 || check_url(p->url, err, errlen) == -1)
		goto fail;
	if ((p->pool = calloc((size_t)p->pool_size, sizeof(*p->pool))) == NULL ||
	    (p->busy = calloc((size_t)p->pool_size, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* The first connection migrates, then joins the pool: a wrong host,
	 * password or database fails here, before anything starts. */
	if ((p->pool[0] = pg_connect(p, err, errlen)) == NULL ||
	    migrate(p->pool[0], p->migrate_wait_s, err, errlen) == -1)
		goto fail;
	if (pgi_read_gen(p->pool[0], &p->gen, "generation") != STORE_OK) {
		snprintf(err, errlen, "%s", store_last_error());
		goto fail;
	}
	sv = PQparameterStatus(p->pool[0], "server_version");
	snprintf(p->server_version, sizeof(p->server_version), "%s", sv ? sv : "(version unknown)");
	if (pipe(p->stop_pipe) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&p->listener, NULL, pgi_listener_main, p) != 0) {
		snprintf(err, errlen, "cannot start the listener thread");
		goto fail;
	}
	p->listener_started = 1;
	*h = p;
	return STORE_OK;
fail:
	pg_close(p);
	return STORE_ERROR;
}

/* One plain connection for a URL in our form (store copy): our parameters
 * taken out, the URL checked, connected with our defaults. */
PGconn *
pgi_connect_url(const char *url, char *err, size_t errlen)
{
	struct pg p;
	PGconn *c = NULL;

	memset(&p, 0, sizeof(p));
	snprintf(p.connect_timeout, sizeof(p.connect_timeout), "%s", CONNECT_TIMEOUT);
	if (parse_url(&p, url, err, errlen) == 0 && check_url(p.url, err, errlen) == 0)
		c = pg_connect(&p, err, errlen);
	free(p.url);
	return c;
}

int
pg_schema_version(void *h, int *current, int *latest)
{
	struct pg *p = h;
	PGconn *c;
	PGresult *r;
	enum pq_kind kind;
	int slot, rc;

	*latest = PGSQL_SCHEMA_LATEST;
	if ((rc = pgi_acquire(p, &slot, &c, "schema version")) != STORE_OK)
		return rc;
	r = pgi_q(c, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, &kind, &rc,
	    "schema version");
	pgi_release(p, slot);
	if (r == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "schema version: failed");
	*current = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return STORE_OK;
}

int
pg_write_probe(void *h, int64_t now)
{
	struct pv p = { 0 };

	pv_i(&p, now);
	return pgi_write1(h, STORE_SQL_WRITE_PROBE, &p, 0, NULL, "write probe", NULL, NULL);
}
