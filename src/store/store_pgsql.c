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
 * 30000; see exec_bounded).
 *
 * Values only ever reach SQL as bound parameters of PQexecParams (STYLE 15);
 * the static migration DDL is the only SQL run with PQexec.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libpq-events.h>
#include <libpq-fe.h>

#include "store/schema_pgsql.h"
#include "store/pgsql_internal.h"

#define POOL_SIZE_DEFAULT	4
#define POOL_SIZE_MAX		64
#define POOL_TIMEOUT_DEFAULT	2000	/* ms */
#define QUERY_TIMEOUT_DEFAULT	30000	/* ms */
#define RESYNC_DEFAULT		2000	/* ms */
#define RETRY_MS		500	/* fail fast this long after a failed connect */
#define LISTEN_RETRY_MS		250
#define CONNECT_TIMEOUT		"5"	/* seconds, unless the URL says otherwise */
#define PG_LOCK_TIMEOUT_MS	"5000"	/* as SQLite's BUSY_TIMEOUT_MS */
#define MIGRATION_LOCK		"7452914630741"	/* pg_advisory_lock key: "gatehouse" */
#define MIGRATION_LOCK_TIMEOUT_S 2	/* a migration statement's wait for a lock */
#define MIGRATION_TRIES		3	/* of a migration whose lock was not granted */
#define CHANNEL			"gatehouse_generation"

#define CLIENT_COLS "id, tenant_id, name, env, roles, scopes, ttl, max_ttl, format, allow_ips," \
	" claims, disabled, rate_limit, tokens_valid_after, created_at, updated_at"
#define SECRET_COLS "id, client_id, hash, created_at, expires_at, revoked_at"
#define KEY_COLS "kid, alg, env, sealed, created_at, publish_at, activate_at, retire_at, remove_at"
#define TOKEN_COLS "id, client_id, tenant_id, name, format, env, scope, aud, issued_at," \
	" expires_at, revoked_at"

/* Increments the generation and tells every listening node, in the
 * caller's transaction: the notification goes out only if it commits. */
#define SQL_BUMP "UPDATE meta SET value = value + 1 WHERE key = 'generation'" \
	" RETURNING value, pg_notify('" CHANNEL "', value::text)"
#define SQL_GEN "SELECT value FROM meta WHERE key = 'generation'"

struct pg {
	char		*url;		/* the URL without our parameters */
	char		 connect_timeout[16];
	int		 pool_size;
	int		 pool_timeout_ms;
	int		 resync_ms;
	int		 query_timeout_ms;

	pthread_mutex_t	 mu;		/* guards the pool and the failure state */
	pthread_cond_t	 freed;
	PGconn		**pool;
	unsigned char	*busy;
	int64_t		 down_until;	/* monotonic ms: fail fast until then */
	int64_t		 up_at;		/* monotonic ms: the last connect that worked */
	char		 down_msg[200];

	pthread_mutex_t	 gmu;		/* guards the generation cache */
	uint64_t	 gen;
	int		 listening;	/* the listener is connected and has read gen */

	pthread_t	 listener;
	int		 listener_started;
	int		 stop_pipe[2];

	PGconn		*w;		/* the writer thread's alone */
	char		 server_version[32];	/* as the server said at open */
};

/* -- small helpers -------------------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message on one line: its continuation lines ("\tIs the server
 * running...") joined with "; ", the trailing newline dropped. */
static void
oneline(const char *msg, char *out, size_t outlen)
{
	size_t j = 0;

	for (size_t i = 0; msg != NULL && msg[i] != '\0' && j + 3 < outlen; i++) {
		char ch = msg[i];
		if (ch == '\n') {
			while (msg[i + 1] == '\t' || msg[i + 1] == ' ')
				i++;
			if (msg[i + 1] != '\0' && j + 4 < outlen) {
				out[j++] = ';';
				out[j++] = ' ';
			}
			continue;
		}
		out[j++] = ch == '\t' || ch == '\r' ? ' ' : ch;
	}
	out[j] = '\0';
}

void
pv_s(struct pv *p, const char *s)
{
	p->v[p->n] = s != NULL ? s : "";
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pv_i(struct pv *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	p->v[p->n] = p->num[p->n];
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pv_null(struct pv *p)
{
	p->v[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pv_b(struct pv *p, const void *b, size_t n)
{
	p->v[p->n] = n > 0 ? b : "";
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

void
pv_opt(struct pv *p, const char *s)
{
	if (s != NULL)
		pv_s(p, s);
	else
		pv_null(p);
}

void
pgi_arr_put(struct pgi_arr *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		char *np;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* One element of a text[] literal: quoted, \ and " escaped. */
void
pgi_arr_s(struct pgi_arr *b, const char *s, int first)
{
	if (!first)
		pgi_arr_put(b, ",", 1);
	pgi_arr_put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		size_t run = strcspn(s, "\\\"");
		pgi_arr_put(b, s, run);
		s += run;
		if (*s == '\0')
			break;
		pgi_arr_put(b, "\\", 1);
		pgi_arr_put(b, s, 1);
	}
	pgi_arr_put(b, "\"", 1);
}

void
pgi_arr_i(struct pgi_arr *b, int64_t v, int first)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%s%lld", first ? "" : ",", (long long)v);

	pgi_arr_put(b, num, (size_t)n);
}

int
pgi_arr_bind(struct pgi_arr *a, int n, struct pv *p)
{
	for (int k = 0; k < n; k++) {
		pgi_arr_put(&a[k], "}", 1);
		if (a[k].oom)
			return -1;
		pv_s(p, a[k].p);
	}
	return 0;
}

/* Whether s is valid UTF-8 (what a PostgreSQL text column accepts; SQLite
 * takes any bytes). Overlong forms, surrogates and values past U+10FFFF
 * are invalid. */
int
pgi_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned c = *p, n, cp;
		if (c < 0x80) {
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* A copy of s with every byte outside valid UTF-8 sequences as '?'. */
char *
pgi_utf8_fixed(const char *s)
{
	char *out = strdup(s);
	char one[5];

	for (size_t i = 0; out != NULL && out[i] != '\0';) {
		unsigned char c = (unsigned char)out[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
		    (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t k;
		for (k = 0; k < n && out[i + k] != '\0'; k++)
			one[k] = out[i + k];
		one[k] = '\0';
		if (n == 0 || k < n || !pgi_utf8_valid(one)) {
			out[i++] = '?';
			continue;
		}
		i += n;
	}
	return out;
}

/* -- errors ------------------------------------------------------------------ */

/* SQLSTATEs that mean "the database cannot serve now" rather than "this
 * request is wrong": connection exceptions (08), operator intervention
 * (57P: shutdown, crash recovery), insufficient resources (53). */
static int
unavailable_state(const char *st)
{
	return st != NULL && (strncmp(st, "08", 2) == 0 || strncmp(st, "57P", 3) == 0 ||
	    strncmp(st, "53", 2) == 0);
}

/* Sets the error for a failed statement and returns its enum store_err. */
static int
pg_fail(PGconn *c, const PGresult *r, const char *what)
{
	const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	char msg[200];

	oneline(r != NULL && PQresultErrorMessage(r)[0] != '\0' ? PQresultErrorMessage(r) :
	    PQerrorMessage(c), msg, sizeof(msg));
	if (PQstatus(c) == CONNECTION_BAD || unavailable_state(st) || r == NULL)
		return store_set_error(STORE_UNAVAILABLE, "%s: the database is unavailable: %s",
		    what, msg);
	return store_set_error(STORE_ERROR, "%s: %s", what, msg);
}

/* libpq keeps data per connection for an event procedure (libpq-events):
 * here the connection's query deadline, which pgi_q() reads back from a
 * bare PGconn. There are no events to handle. */
static int
conn_event(PGEventId id, void *info, void *arg)
{
	(void)id;
	(void)info;
	(void)arg;
	return 1;
}

/* Waits until c's socket can be read (or, with out, written) or the
 * deadline passes: 1, or 0 at the deadline. */
static int
wait_socket(PGconn *c, int out, int64_t until)
{
	struct pollfd fd = { .fd = PQsocket(c), .events = POLLIN | (out ? POLLOUT : 0) };

	for (;;) {
		int64_t left = until - now_ms();
		int n;
		if (left <= 0)
			return 0;
		if ((n = poll(&fd, 1, left > INT_MAX ? INT_MAX : (int)left)) > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return 1;	/* libpq's next read reports it */
	}
}

/* Sends what libpq holds for c (non-blocking), reading meanwhile so that
 * the server never waits on us: PQflush's last answer (0 all sent, 1 the
 * deadline came first, -1 failed). */
static int
flush_until(PGconn *c, int64_t until)
{
	int f;

	while ((f = PQflush(c)) == 1)
		if (!wait_socket(c, 1, until) || !PQconsumeInput(c))
			break;
	return f;
}

/* An unfinished exchange past its deadline: shuts the socket down, so that
 * the connection is bad (the pool replaces it) and nothing waits on it
 * again. 1 when it did so. */
static int
give_up_if_late(PGconn *c, int64_t until)
{
	if (now_ms() < until || PQstatus(c) != CONNECTION_OK)
		return 0;
	(void)shutdown(PQsocket(c), SHUT_RDWR);
	(void)PQconsumeInput(c);	/* reads the end: the connection is bad */
	return 1;
}

/*
 * PQexecParams with a deadline. libpq waits for an answer for ever, and a
 * backend that hangs while its host still acknowledges TCP (stopped, or
 * stuck on a stalled disk) is noticed by neither keepalives nor
 * tcp_user_timeout: every request needing it would wait with it. Past the
 * connection's query_timeout_ms the socket is shut down, so the
 * connection is broken: this statement fails as unavailable, the pool
 * reconnects on the next use, and the server rolls back whatever it had
 * not committed. The result as PQexecParams gives it, or NULL with
 * *timed_out set.
 */
static PGresult *
exec_bounded(PGconn *c, const char *sql, const struct pv *p, int *timed_out)
{
	int ms = (int)(intptr_t)PQinstanceData(c, conn_event);
	int64_t until = now_ms() + ms;
	PGresult *r, *last = NULL;
	int f = -1;	/* PQflush: 0 sent, 1 pending, -1 failed */

	*timed_out = 0;
	if (ms <= 0)	/* a connection of ours without a deadline */
		return PQexecParams(c, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->v : NULL,
		    p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0);
	/* Non-blocking while sending too: a batch's parameters can exceed the
	 * socket buffer, and a hung backend never reads them. */
	if (PQsetnonblocking(c, 1) != 0 ||
	    !PQsendQueryParams(c, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->v : NULL,
	    p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0))
		goto drain;
	f = flush_until(c, until);
	while (f == 0 && PQisBusy(c))
		if (!wait_socket(c, 0, until) || !PQconsumeInput(c))
			break;
	if (f != 0 || PQisBusy(c))
		*timed_out = give_up_if_late(c, until);
drain:
	/* Never blocks: the answer is complete, or the connection is bad. */
	while ((r = PQgetResult(c)) != NULL) {
		PQclear(last);
		last = r;
	}
	if (PQstatus(c) == CONNECTION_OK)
		(void)PQsetnonblocking(c, 0);
	if (*timed_out) {
		PQclear(last);
		return NULL;
	}
	return last;
}

/*
 * The statements s[0..n) as one pipeline (libpq's pipeline mode: sent
 * together, answered together, one round trip), under the connection's
 * query deadline as exec_bounded(). res[i] gets statement i's result
 * (PGRES_PIPELINE_ABORTED when an earlier one failed), or stays NULL when
 * the connection failed or the deadline passed (then *timed_out is set,
 * and the connection is shut down as exec_bounded() does).
 */
struct pipe_stmt {
	const char	*sql;
	const struct pv	*p;
};

static void
exec_pipeline(PGconn *c, const struct pipe_stmt *s, size_t n, PGresult **res, int *timed_out)
{
	int ms = (int)(intptr_t)PQinstanceData(c, conn_event);
	int64_t until = now_ms() + (ms > 0 ? ms : INT_MAX);
	size_t i = 0;
	int f = -1, synced = 0;
	PGresult *r;

	*timed_out = 0;
	for (size_t k = 0; k < n; k++)
		res[k] = NULL;
	if (PQsetnonblocking(c, 1) != 0 || !PQenterPipelineMode(c))
		goto out;
	for (size_t k = 0; k < n; k++)
		if (!PQsendQueryParams(c, s[k].sql, s[k].p != NULL ? s[k].p->n : 0, NULL,
		    s[k].p != NULL ? s[k].p->v : NULL, s[k].p != NULL ? s[k].p->len : NULL,
		    s[k].p != NULL ? s[k].p->fmt : NULL, 0))
			goto out;
	if (!PQpipelineSync(c))
		goto out;
	f = flush_until(c, until);
	/* Each statement's results end with a NULL; the sync's result last. */
	while (f == 0 && !synced) {
		while (PQisBusy(c))
			if (!wait_socket(c, 0, until) || !PQconsumeInput(c))
				goto late;
		if ((r = PQgetResult(c)) == NULL)
			i++;
		else if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			synced = 1;
		} else if (i < n && res[i] == NULL)
			res[i] = r;
		else
			PQclear(r);
	}
late:
	if (!synced)
		*timed_out = give_up_if_late(c, until);
out:
	if (!synced)	/* a broken pipeline: its results mean nothing */
		for (size_t k = 0; k < n; k++) {
			PQclear(res[k]);
			res[k] = NULL;
		}
	if (PQpipelineStatus(c) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c))
		(void)shutdown(PQsocket(c), SHUT_RDWR);	/* cannot leave it: unusable */
	if (PQstatus(c) == CONNECTION_OK)
		(void)PQsetnonblocking(c, 0);
}

/* The outcome of statement what in a pipeline: STORE_OK when it reached
 * want, else its error (with the store's message set). Callers stop at the
 * first failure: the statements after it only say they were not run. */
static int
pipe_outcome(PGconn *c, PGresult *r, ExecStatusType want, int timed_out, const char *what,
    const char *conflict)
{
	const char *st;

	if (timed_out)
		return store_set_error(STORE_UNAVAILABLE, "%s: the database did not answer within"
		    " %d ms", what, (int)(intptr_t)PQinstanceData(c, conn_event));
	if (r != NULL && PQresultStatus(r) == want)
		return STORE_OK;
	st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (conflict != NULL && st != NULL && strcmp(st, "23505") == 0)
		return store_set_error(STORE_CONFLICT, "%s", conflict);
	return pg_fail(c, r, what);
}

/*
 * Runs sql with p bound (text results). On success returns the result (the
 * caller PQclear()s it) with *kind PQ_OK. Unique and foreign-key violations
 * return NULL with *kind PQ_UNIQUE / PQ_FKEY and no message (the caller
 * names the row); anything else NULL, PQ_FAIL, and *rc set with the error.
 */
/* ROLLBACK under the query deadline. Its own failure is not reported: the
 * caller's error stands, and a connection still in a transaction is
 * dropped by its owner. */
static void
rollback(PGconn *c)
{
	int timed_out;

	PQclear(exec_bounded(c, "ROLLBACK", NULL, &timed_out));
}

PGresult *
pgi_q(PGconn *c, const char *sql, const struct pv *p, enum pq_kind *kind, int *rc, const char *what)
{
	int timed_out;
	PGresult *r = exec_bounded(c, sql, p, &timed_out);
	ExecStatusType s = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	const char *st;

	*kind = PQ_OK;
	if (timed_out) {
		*kind = PQ_FAIL;
		*rc = store_set_error(STORE_UNAVAILABLE, "%s: the database did not answer within"
		    " %d ms", what, (int)(intptr_t)PQinstanceData(c, conn_event));
		return NULL;
	}
	if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK)
		return r;
	st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (st != NULL && strcmp(st, "23505") == 0)
		*kind = PQ_UNIQUE;
	else if (st != NULL && strcmp(st, "23503") == 0)
		*kind = PQ_FKEY;
	else {
		*kind = PQ_FAIL;
		*rc = pg_fail(c, r, what);
	}
	PQclear(r);
	return NULL;
}

/* pgi_q() for statements whose rows do not matter; *changes gets the count. */
int
pgi_run(PGconn *c, const char *sql, const struct pv *p, int *changes, const char *what,
    const char *conflict, const char *fkey)
{
	enum pq_kind kind;
	int rc = STORE_ERROR;
	PGresult *r = pgi_q(c, sql, p, &kind, &rc, what);

	if (r != NULL) {
		if (changes != NULL)
			*changes = atoi(PQcmdTuples(r));
		PQclear(r);
		return STORE_OK;
	}
	if (kind == PQ_UNIQUE)
		return store_set_error(STORE_CONFLICT, "%s", conflict != NULL ? conflict :
		    "a unique key already exists");
	if (kind == PQ_FKEY)
		return store_set_error(STORE_NOTFOUND, "%s", fkey != NULL ? fkey :
		    "a referenced row does not exist");
	return rc;
}

/* -- connections ---------------------------------------------------------------- */

/* Server notices (e.g. "relation already exists, skipping") are not ours to
 * print: a library never writes to stderr. */
static void
quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* A new connection; NULL with a one-line reason in err. */
static PGconn *
pg_connect(struct pg *p, char *err, size_t errlen)
{
	/* Ours first: a later keyword (the URL's own, expanded from dbname)
	 * overrides. keepalives notice an idle peer that vanished without a
	 * RST; tcp_user_timeout (ms) one that stops acknowledging what we
	 * sent, so that a query to a partitioned server fails in seconds
	 * rather than after the kernel's retransmissions (minutes).
	 * lock_timeout is SQLite's busy_timeout here: a statement that waits
	 * 5 s for a lock (a session holding the tokens table, say) fails,
	 * and its requests are answered 503, instead of waiting for ever. */
	const char *const kw[] = { "connect_timeout", "application_name", "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout", "options",
	    "dbname", NULL };
	const char *const val[] = { p->connect_timeout, "gatehouse", "10", "5", "2", "10000",
	    "-c lock_timeout=" PG_LOCK_TIMEOUT_MS, p->url, NULL };
	PGconn *c = PQconnectdbParams(kw, val, 1);
	char msg[200];

	if (c == NULL) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		oneline(PQerrorMessage(c), msg, sizeof(msg));
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s", msg);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	if (!PQregisterEventProc(c, conn_event, "gatehouse", NULL) ||
	    !PQsetInstanceData(c, conn_event, (void *)(intptr_t)p->query_timeout_ms)) {
		snprintf(err, errlen, "cannot connect to PostgreSQL: out of memory");
		PQfinish(c);
		return NULL;
	}
	return c;
}

/*
 * The fail-fast state. A failed connect makes every caller fail at once for
 * RETRY_MS, unless a connect that worked ended after it began: a database
 * that has just come back must not be reported down by an attempt made
 * while it was still starting. A connect that works ends the spell at once.
 */
static void
note_up(struct pg *p)
{
	pthread_mutex_lock(&p->mu);
	p->up_at = now_ms();
	p->down_until = 0;
	pthread_mutex_unlock(&p->mu);
}

static void
note_down(struct pg *p, int64_t started, const char *err)
{
	pthread_mutex_lock(&p->mu);
	if (started >= p->up_at) {
		p->down_until = now_ms() + RETRY_MS;
		snprintf(p->down_msg, sizeof(p->down_msg), "%s", err);
	}
	pthread_mutex_unlock(&p->mu);
}

/* A usable connection for c, reconnecting a broken one, or failing fast
 * while the database is known to be down. */
static int
ensure(struct pg *p, PGconn **c, const char *what)
{
	char err[200];
	int64_t t, started;

	/* An idle connection has nothing to read unless the server spoke: a
	 * restart, idle_session_timeout or pg_terminate_backend sends FATAL
	 * and closes. Anything readable (poll with no wait, no round trip)
	 * therefore drops the connection for a fresh one, turning what would be
	 * a failed request into a reconnect. Reading it instead does not do:
	 * PQconsumeInput takes the FATAL message and leaves the status OK until
	 * a second read sees the close. */
	if (*c != NULL && PQstatus(*c) == CONNECTION_OK) {
		struct pollfd fd = { .fd = PQsocket(*c), .events = POLLIN };
		if (poll(&fd, 1, 0) <= 0)	/* nothing, or EINTR: keep it */
			return STORE_OK;
	}
	if (*c != NULL) {
		PQfinish(*c);
		*c = NULL;
	}
	pthread_mutex_lock(&p->mu);
	t = p->down_until;
	snprintf(err, sizeof(err), "%s", p->down_msg);
	pthread_mutex_unlock(&p->mu);
	if ((started = now_ms()) < t)
		return store_set_error(STORE_UNAVAILABLE, "%s: the database is unavailable: %s",
		    what, err);
	if ((*c = pg_connect(p, err, sizeof(err))) == NULL) {
		note_down(p, started, err);
		return store_set_error(STORE_UNAVAILABLE, "%s: the database is unavailable: %s",
		    what, err);
	}
	note_up(p);
	return STORE_OK;
}

/* Takes a free pool slot and makes its connection usable; *slot is -1 on
 * failure (error set). */
int
pgi_acquire(struct pg *p, int *slot, PGconn **out, const char *what)
{
	struct timespec until;
	int64_t ms;
	int rc, i = -1;

	*slot = -1;
	clock_gettime(CLOCK_REALTIME, &until);
	ms = (int64_t)until.tv_nsec / 1000000 + p->pool_timeout_ms;
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec = (long)(ms % 1000) * 1000000;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		for (int k = 0; k < p->pool_size && i == -1; k++)
			if (!p->busy[k])
				i = k;
		if (i != -1)
			break;
		if (pthread_cond_timedwait(&p->freed, &p->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&p->mu);
			return store_set_error(STORE_UNAVAILABLE, "%s: all %d database connections "
			    "are busy (waited %d ms)", what, p->pool_size, p->pool_timeout_ms);
		}
	}
	p->busy[i] = 1;
	pthread_mutex_unlock(&p->mu);
	if ((rc = ensure(p, &p->pool[i], what)) != STORE_OK) {
		pthread_mutex_lock(&p->mu);
		p->busy[i] = 0;
		pthread_cond_signal(&p->freed);
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
	*slot = i;
	*out = p->pool[i];
	return STORE_OK;
}

/* Returns a slot; a connection left inside a transaction (a failure between
 * BEGIN and COMMIT) is rolled back, a broken one dropped. */
void
pgi_release(struct pg *p, int slot)
{
	PGconn *c;

	if (slot < 0)
		return;
	c = p->pool[slot];
	if (c != NULL && PQtransactionStatus(c) != PQTRANS_IDLE) {
		rollback(c);
		if (PQtransactionStatus(c) != PQTRANS_IDLE) {
			PQfinish(c);
			p->pool[slot] = NULL;
		}
	}
	pthread_mutex_lock(&p->mu);
	p->busy[slot] = 0;
	pthread_cond_signal(&p->freed);
	pthread_mutex_unlock(&p->mu);
}

/* -- the generation cache ---------------------------------------------------------- */

/* Moves the cache forward only: notifications, our own commits and the
 * periodic re-read may arrive in any order. */
static void
gen_note(struct pg *p, uint64_t v)
{
	pthread_mutex_lock(&p->gmu);
	if (v > p->gen)
		p->gen = v;
	pthread_mutex_unlock(&p->gmu);
}

static int
read_gen(PGconn *c, uint64_t *v, const char *what)
{
	enum pq_kind kind;
	int rc = STORE_ERROR;
	PGresult *r = pgi_q(c, SQL_GEN, NULL, &kind, &rc, what);

	if (r == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "%s: failed", what);
	if (PQntuples(r) != 1) {
		PQclear(r);
		return store_set_error(STORE_ERROR, "%s: the generation row is missing", what);
	}
	*v = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return STORE_OK;
}

/* Sleeps ms, or less when close() wakes the listener; 1 when stopping. */
static int
listener_wait(struct pg *p, PGconn *c, int ms)
{
	struct pollfd fds[2] = { { .fd = p->stop_pipe[0], .events = POLLIN },
	    { .fd = c != NULL ? PQsocket(c) : -1, .events = POLLIN } };
	int n = poll(fds, c != NULL ? 2 : 1, ms);

	if (n > 0 && (fds[0].revents & POLLIN))
		return 1;
	return 0;
}

static void *
listener_main(void *arg)
{
	struct pg *p = arg;
	PGconn *c = NULL;
	char err[200];
	uint64_t v;
	int64_t next = 0;

	for (;;) {
		if (c == NULL) {
			if ((c = pg_connect(p, err, sizeof(err))) != NULL) {
				int timed_out, ok;
				PGresult *r;

				note_up(p);
				r = exec_bounded(c, "LISTEN " CHANNEL, NULL, &timed_out);
				ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
				PQclear(r);
				/* LISTEN before the read: nothing committed in
				 * between is missed. */
				if (!ok || read_gen(c, &v, "generation") != STORE_OK) {
					PQfinish(c);
					c = NULL;
				} else {
					gen_note(p, v);
					pthread_mutex_lock(&p->gmu);
					p->listening = 1;
					pthread_mutex_unlock(&p->gmu);
					next = now_ms() + p->resync_ms;
				}
			}
			if (c == NULL) {
				if (listener_wait(p, NULL, LISTEN_RETRY_MS))
					break;
				continue;
			}
		}
		{
			int64_t left = next - now_ms();
			if (listener_wait(p, c, left > 0 ? (int)left : 0))
				break;
		}
		if (PQconsumeInput(c) == 0)
			goto lost;
		for (PGnotify *n; (n = PQnotifies(c)) != NULL; PQfreemem(n))
			gen_note(p, strtoull(n->extra, NULL, 10));
		if (now_ms() >= next) {
			/* The safety net: whatever a lost notification hid. */
			if (read_gen(c, &v, "generation") != STORE_OK)
				goto lost;
			gen_note(p, v);
			next = now_ms() + p->resync_ms;
		}
		if (PQstatus(c) != CONNECTION_OK)
			goto lost;
		continue;
lost:
		pthread_mutex_lock(&p->gmu);
		p->listening = 0;
		pthread_mutex_unlock(&p->gmu);
		PQfinish(c);
		c = NULL;
	}
	if (c != NULL)
		PQfinish(c);
	return NULL;
}

/*
 * The generation on every request: the cache while the listener holds its
 * connection (notifications keep it current), else one read through the
 * pool, which fails fast while the database is down: the caller keeps its
 * caches, /readyz reports the outage.
 */
static int
pg_generation(void *h, uint64_t *out)
{
	struct pg *p = h;
	PGconn *c;
	uint64_t v = 0;
	int slot, rc, listening;

	pthread_mutex_lock(&p->gmu);
	listening = p->listening;
	*out = p->gen;
	pthread_mutex_unlock(&p->gmu);
	if (listening)
		return STORE_OK;
	if ((rc = pgi_acquire(p, &slot, &c, "generation")) != STORE_OK)
		return rc;
	rc = read_gen(c, &v, "generation");
	pgi_release(p, slot);
	if (rc != STORE_OK)
		return rc;
	gen_note(p, v);
	pthread_mutex_lock(&p->gmu);
	*out = p->gen;
	pthread_mutex_unlock(&p->gmu);
	return STORE_OK;
}

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
				gen_note(p, v);	/* ours, before its notification */
			return STORE_OK;
		}
		return rc;
	}
	if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
		rollback(c);
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

static int
env_of(int64_t v)
{
	return v >= 0 && v < STORE_ENV__MAX ? (int)v : STORE_ENV_SANDBOX;
}

static int
format_of(int64_t v)
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
	c->env = (enum store_env)env_of(pgi_col_i(r, i, 3));
	c->roles = (unsigned)pgi_col_i(r, i, 4);
	c->scopes = pgi_col_s(r, i, 5);
	c->ttl = pgi_col_i(r, i, 6);
	c->max_ttl = pgi_col_i(r, i, 7);
	c->format = (enum store_format)format_of(pgi_col_i(r, i, 8));
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
	k->env = (enum store_env)env_of(pgi_col_i(r, i, 2));
	k->sealed = pgi_col_b(r, i, 3, &k->sealed_len);
	k->created_at = pgi_col_i(r, i, 4);
	k->publish_at = pgi_col_i(r, i, 5);
	k->activate_at = pgi_col_i(r, i, 6);
	k->retire_at = pgi_col_i(r, i, 7);
	k->remove_at = pgi_col_i(r, i, 8);
	return k->kid && k->alg && k->sealed ? 0 : -1;
}

static int
token_row(const PGresult *r, int i, void *dst)
{
	struct store_token *t = dst;

	t->id = pgi_col_s(r, i, 0);
	t->client_id = pgi_col_s(r, i, 1);
	t->tenant_id = pgi_col_s(r, i, 2);
	t->name = pgi_col_s(r, i, 3);
	t->format = (enum store_format)format_of(pgi_col_i(r, i, 4));
	t->env = (enum store_env)env_of(pgi_col_i(r, i, 5));
	t->scope = pgi_col_s(r, i, 6);
	t->aud = pgi_col_s(r, i, 7);
	t->issued_at = pgi_col_i(r, i, 8);
	t->expires_at = pgi_col_i(r, i, 9);
	t->revoked_at = pgi_col_i(r, i, 10);
	return t->id && t->client_id && t->tenant_id && t->name && t->scope && t->aud ? 0 : -1;
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
	oneline(msg != NULL ? msg : "out of memory", line, sizeof(line));
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
		oneline(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
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
		oneline(r != NULL ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
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
		oneline(r ? PQresultErrorMessage(r) : PQerrorMessage(c), msg, sizeof(msg));
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

/*
 * Brings the schema to PGSQL_SCHEMA_LATEST, one transaction a migration,
 * under a session advisory lock: a second node starting at the same time
 * waits here, then finds nothing left to do. A newer schema is refused.
 */
static int
migrate(PGconn *c, char *err, size_t errlen)
{
	int version, rc = -1;
	char set[48];

	/* A migration may take long on a big table: the node starting beside
	 * it waits for it (an advisory lock blocks nobody else). */
	if (exec_static(c, "SET lock_timeout = 0", err, errlen, "cannot set lock_timeout") == -1 ||
	    exec_static(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", err, errlen,
	    "cannot take the migration lock") == -1)
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

static void
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

static int
pg_open(const char *target, void **h, char *err, size_t errlen)
{
	struct pg *p;
	uint64_t v = 0;
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
	snprintf(p->connect_timeout, sizeof(p->connect_timeout), "%s", CONNECT_TIMEOUT);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->freed, NULL);
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
	    migrate(p->pool[0], err, errlen) == -1)
		goto fail;
	if (read_gen(p->pool[0], &v, "generation") != STORE_OK) {
		snprintf(err, errlen, "%s", store_last_error());
		goto fail;
	}
	p->gen = v;
	sv = PQparameterStatus(p->pool[0], "server_version");
	snprintf(p->server_version, sizeof(p->server_version), "%s", sv ? sv : "(version unknown)");
	if (pipe(p->stop_pipe) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if (pthread_create(&p->listener, NULL, listener_main, p) != 0) {
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

static int
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

/* -- tokens ---------------------------------------------------------------------- */

static int
pg_token_get(void *h, const char *id, struct store_token *out)
{
	struct pv v = { 0 };

	pv_s(&v, id);
	return pgi_fetch_one(h, "SELECT " TOKEN_COLS " FROM tokens WHERE id = $1", &v, sizeof(*out),
	    token_row, store_token_clear_v, out, "token get", "no such token");
}

static int
pg_token_list(void *h, const char *client_id, struct store_token **out, size_t *n)
{
	struct pv v = { 0 };

	pv_s(&v, client_id);
	return pgi_collect(h, "SELECT " TOKEN_COLS " FROM tokens WHERE client_id = $1"
	    " ORDER BY issued_at, id", &v, sizeof(**out), token_row, store_token_clear_v,
	    (void **)out, n, "token list");
}

static int
pg_token_list_revoked(void *h, int64_t now, struct store_token **out, size_t *n)
{
	struct pv v = { 0 };

	/* Served by the partial index tokens_revoked (migration 2). */
	pv_i(&v, now);
	return pgi_collect(h, "SELECT " TOKEN_COLS " FROM tokens WHERE revoked_at <> 0"
	    " AND expires_at > $1", &v, sizeof(**out), token_row, store_token_clear_v,
	    (void **)out, n, "token list revoked");
}

static int
pg_token_revoke(void *h, const char *id, int64_t at)
{
	struct pg *p = h;
	struct pv v = { 0 };
	PGconn *c;
	PGresult *r;
	enum pq_kind kind;
	int slot, rc, changes = 0;

	pv_i(&v, at);
	pv_s(&v, id);
	if ((rc = pgi_acquire(p, &slot, &c, "token revoke")) != STORE_OK)
		return rc;
	if ((rc = pgi_tx_begin(c)) == STORE_OK) {
		rc = pgi_run(c, "UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at = 0", &v,
		    &changes, "token revoke", "token revoke: constraint failed", NULL);
		if (rc == STORE_OK && changes == 0) {
			/* Already revoked is success; absent is not. */
			struct pv e = { 0 };
			pv_s(&e, id);
			if ((r = pgi_q(c, "SELECT 1 FROM tokens WHERE id = $1", &e, &kind, &rc,
			    "token revoke")) == NULL)
				rc = kind == PQ_FAIL ? rc : STORE_ERROR;
			else {
				if (PQntuples(r) == 0)
					rc = store_set_error(STORE_NOTFOUND, "no such token");
				PQclear(r);
			}
		}
		rc = pgi_tx_end(p, c, rc, changes > 0);
	}
	pgi_release(p, slot);
	return rc;
}

static int
pg_token_revoke_by_name(void *h, const char *client_id, const char *name, int64_t at, int *count)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, at);
	pv_s(&v, name);
	if (client_id != NULL)
		pv_s(&v, client_id);
	rc = pgi_write1(h, client_id != NULL ?
	    "UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND client_id = $3 AND revoked_at = 0" :
	    "UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at = 0", &v, 2, &changes,
	    "token revoke", "token revoke: constraint failed", NULL);
	if (rc == STORE_OK && changes == 0)
		rc = store_set_error(STORE_NOTFOUND, "no live token named %.64s", name);
	if (rc == STORE_OK)
		*count = changes;
	return rc;
}

static int
pg_token_prune(void *h, int64_t expired_before, int64_t limit, int64_t *pruned)
{
	struct pv v = { 0 };
	int rc, changes = 0;

	pv_i(&v, expired_before);
	pv_i(&v, limit);
	/* Served by tokens_expiry (migration 9). */
	rc = pgi_write1(h, "DELETE FROM tokens WHERE id IN"
	    " (SELECT id FROM tokens WHERE expires_at < $1 LIMIT $2)", &v, 0, &changes,
	    "token prune", "token prune: constraint failed", NULL);
	*pruned = rc == STORE_OK ? changes : 0;
	return rc;
}

/* -- the group commit (writer thread only) ---------------------------------------- */

/* Record indexes sorted by id, to match the ids RETURNING gives back. Per
 * thread: each open store has its own writer thread (a process may hold
 * several, as the tests and store copy do). */
static _Thread_local const struct store_token *sort_base;

static int
by_id(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = strcmp(sort_base[x].id, sort_base[y].id);

	return c != 0 ? c : (x < y ? -1 : x > y);
}

#define TOKENS_INSERT_SQL "INSERT INTO tokens (" TOKEN_COLS ") SELECT * FROM unnest($1::text[]," \
	" $2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[], $7::text[]," \
	" $8::text[], $9::bigint[], $10::bigint[], $11::bigint[])" \
	" ON CONFLICT (id) DO NOTHING RETURNING id"

/* errs[i] of the records that went in (r: the insert's RETURNING id) set to
 * STORE_OK, of the others (still STORE_CONFLICT) to a duplicate's error. */
static int
mark_recorded(const struct store_token *t, size_t n, int *errs, size_t m, const PGresult *r)
{
	size_t *ix = malloc(m * sizeof(*ix));

	if (ix == NULL)
		return store_set_error(STORE_ERROR, "token record: out of memory");
	for (size_t i = 0, j = 0; i < n; i++)
		if (errs[i] == STORE_CONFLICT)
			ix[j++] = i;
	sort_base = t;
	qsort(ix, m, sizeof(*ix), by_id);
	for (int row = 0; row < PQntuples(r); row++) {
		const char *id = PQgetvalue(r, row, 0);
		size_t lo = 0, hi = m;
		while (lo < hi) {	/* the first record with this id */
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(t[ix[mid]].id, id) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < m && strcmp(t[ix[lo]].id, id) == 0)
			errs[ix[lo]] = STORE_OK;
	}
	for (size_t i = 0; i < m; i++)
		if (errs[ix[i]] == STORE_CONFLICT)
			errs[ix[i]] = store_set_error(STORE_CONFLICT, "token %.64s is already recorded",
			    t[ix[i]].id);
	free(ix);
	return STORE_OK;
}

/*
 * The batch with audit rows, in one transaction and two round trips (each
 * a pipeline): BEGIN, the tokens (tv, when m > 0), the chain lock and the
 * chain head; then, the rows chained after that head, their insert and
 * COMMIT. The head is read by a statement of its own after the lock's, so
 * at READ COMMITTED it sees every append committed before the lock was
 * granted: nodes never fork the chain.
 */
static int
commit_with_audit(struct pg *p, const struct store_token *t, size_t n, int *errs, size_t m,
    const struct pv *tv, const struct store_audit_key *key, const struct store_audit *au,
    size_t na)
{
	struct pipe_stmt st[4];
	struct pg_audit_rows w;
	struct pv lock = { 0 };
	PGresult *res[4];
	uint8_t head[32];
	int64_t seq = 0;
	size_t ns = 0, ti = 0;
	int rc, timed_out;

	pg_audit_lock_param(&lock);
	st[ns++] = (struct pipe_stmt){ "BEGIN", NULL };
	if (m > 0) {
		ti = ns;
		st[ns++] = (struct pipe_stmt){ TOKENS_INSERT_SQL, tv };
	}
	st[ns++] = (struct pipe_stmt){ pg_audit_lock_sql, &lock };
	st[ns++] = (struct pipe_stmt){ pg_audit_head_sql, NULL };
	exec_pipeline(p->w, st, ns, res, &timed_out);
	rc = pipe_outcome(p->w, res[0], PGRES_COMMAND_OK, timed_out, "begin", NULL);
	if (rc == STORE_OK && m > 0)
		rc = pipe_outcome(p->w, res[ti], PGRES_TUPLES_OK, timed_out, "token record", NULL);
	if (rc == STORE_OK)
		rc = pipe_outcome(p->w, res[ns - 2], PGRES_TUPLES_OK, timed_out, "audit: chain lock",
		    NULL);
	if (rc == STORE_OK)
		rc = pipe_outcome(p->w, res[ns - 1], PGRES_TUPLES_OK, timed_out, "audit: chain head",
		    NULL);
	if (rc == STORE_OK && m > 0)
		rc = mark_recorded(t, n, errs, m, res[ti]);
	if (rc == STORE_OK)
		pg_audit_head(res[ns - 1], &seq, head);
	for (size_t k = 0; k < ns; k++)
		PQclear(res[k]);
	if (rc != STORE_OK || (rc = pg_audit_rows(&w, key, au, na, seq, head)) != STORE_OK)
		return rc;
	st[0] = (struct pipe_stmt){ pg_audit_insert_sql, &w.v };
	st[1] = (struct pipe_stmt){ "COMMIT", NULL };
	exec_pipeline(p->w, st, 2, res, &timed_out);
	rc = pipe_outcome(p->w, res[0], PGRES_COMMAND_OK, timed_out, "audit: append",
	    PG_AUDIT_SEQ_TAKEN);
	if (rc == STORE_OK)
		rc = pipe_outcome(p->w, res[1], PGRES_COMMAND_OK, timed_out, "commit", NULL);
	/* A COMMIT that answers anything but COMMIT (a failed transaction
	 * answers ROLLBACK) did not commit. */
	if (rc == STORE_OK && strcmp(PQcmdStatus(res[1]), "COMMIT") != 0)
		rc = store_set_error(STORE_ERROR, "commit: the transaction was rolled back");
	PQclear(res[0]);
	PQclear(res[1]);
	pg_audit_rows_free(&w);
	return rc;
}

/* Tokens, then the audit rows of the batch (pgsql_audit.c), one commit:
 * with no audit rows the insert is a transaction of its own. */
static int
pg_commit_batch(void *h, const struct store_token *t, size_t n, int *errs,
    const struct store_audit_key *key, const struct store_audit *au, size_t na)
{
	struct pg *p = h;
	enum { A_ID, A_CLIENT, A_TENANT, A_NAME, A_FORMAT, A_ENV, A_SCOPE, A_AUD, A_ISSUED,
	    A_EXPIRES, A_REVOKED, A__MAX };
	struct pgi_arr a[A__MAX];
	struct pv v = { 0 };
	size_t m;
	PGresult *r = NULL;
	enum pq_kind kind;
	int rc = STORE_ERROR;

	memset(a, 0, sizeof(a));
	if (n == 0 && na == 0)
		return STORE_OK;
	if ((rc = ensure(p, &p->w, "token record")) != STORE_OK)
		return rc;
	/* PostgreSQL refuses text that is not UTF-8, and would fail the whole
	 * batch: such a record (nothing validates every field upstream) fails
	 * alone, before the statement. */
	m = 0;
	for (size_t i = 0; i < n; i++) {
		const char *f[6] = { t[i].id, t[i].client_id, t[i].tenant_id, t[i].name,
		    t[i].scope, t[i].aud };
		int ok = 1;
		for (int k = 0; k < 6 && ok; k++)
			ok = pgi_utf8_valid(f[k] != NULL ? f[k] : "");
		errs[i] = ok ? STORE_CONFLICT : store_set_error(STORE_ERROR,
		    "token record: a field is not valid UTF-8");
		m += ok;
	}
	if (m > 0) {
		for (int k = 0; k < A__MAX; k++)
			pgi_arr_put(&a[k], "{", 1);
		for (size_t i = 0, j = 0; i < n; i++) {
			int first = j == 0;
			if (errs[i] != STORE_CONFLICT)
				continue;
			j++;
			pgi_arr_s(&a[A_ID], t[i].id, first);
			pgi_arr_s(&a[A_CLIENT], t[i].client_id, first);
			pgi_arr_s(&a[A_TENANT], t[i].tenant_id, first);
			pgi_arr_s(&a[A_NAME], t[i].name, first);
			pgi_arr_i(&a[A_FORMAT], t[i].format, first);
			pgi_arr_i(&a[A_ENV], t[i].env, first);
			pgi_arr_s(&a[A_SCOPE], t[i].scope, first);
			pgi_arr_s(&a[A_AUD], t[i].aud, first);
			pgi_arr_i(&a[A_ISSUED], t[i].issued_at, first);
			pgi_arr_i(&a[A_EXPIRES], t[i].expires_at, first);
			pgi_arr_i(&a[A_REVOKED], t[i].revoked_at, first);
		}
		if (pgi_arr_bind(a, A__MAX, &v) == -1) {
			rc = store_set_error(STORE_ERROR, "token record: out of memory");
			goto out;
		}
	}
	if (na > 0) {
		rc = commit_with_audit(p, t, n, errs, m, &v, key, au, na);
		goto out;
	}
	if (m == 0) {
		rc = STORE_OK;
		goto out;
	}
	/* One statement is one transaction and one commit (synchronous_commit
	 * as the server has it: on by default). A duplicate id skips that
	 * record only; RETURNING names the ones that went in. */
	if ((r = pgi_q(p->w, TOKENS_INSERT_SQL, &v, &kind, &rc, "token record")) == NULL) {
		if (kind != PQ_FAIL)
			rc = store_set_error(STORE_ERROR, "token record: constraint failed");
		goto out;
	}
	rc = mark_recorded(t, n, errs, m, r);
out:
	if (rc != STORE_OK && na > 0 && PQstatus(p->w) == CONNECTION_OK &&
	    PQtransactionStatus(p->w) != PQTRANS_IDLE)
		rollback(p->w);
	PQclear(r);
	for (int k = 0; k < A__MAX; k++)
		free(a[k].p);
	return rc;
}

static int
pg_commit_tokens(void *h, const struct store_token *t, size_t n, int *errs)
{
	return pg_commit_batch(h, t, n, errs, NULL, NULL, 0);
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
