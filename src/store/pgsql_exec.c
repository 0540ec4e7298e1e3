/*
 * pgsql_exec.c — how the PostgreSQL backend runs a statement (the overview
 * is at the top of store_pgsql.c): PQexecParams, and libpq's pipeline mode
 * for the writer's batches, under each connection's query deadline
 * (query_timeout_ms; the reason is above pgi_exec_bounded), and the mapping
 * of a failed statement to enum store_err with its one-line message
 * (pgi_q, pgi_run). A file of its own because this is the only code that
 * waits on a connection's socket: every statement the open store runs goes
 * through pgi_exec_bounded or pgi_exec_pipeline (only open's migrations
 * and store copy call libpq directly).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libpq-events.h>
#include <libpq-fe.h>

#include "store/pgsql_internal.h"

/* -- small helpers -------------------------------------------------------------- */

int64_t
pgi_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message on one line: its continuation lines ("\tIs the server
 * running...") joined with "; ", the trailing newline dropped. */
void
pgi_oneline(const char *msg, char *out, size_t outlen)
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

	pgi_oneline(r != NULL && PQresultErrorMessage(r)[0] != '\0' ? PQresultErrorMessage(r) :
	    PQerrorMessage(c), msg, sizeof(msg));
	if (PQstatus(c) == CONNECTION_BAD || unavailable_state(st) || r == NULL)
		return store_set_error(STORE_UNAVAILABLE, "%s: the database is unavailable: %s",
		    what, msg);
	return store_set_error(STORE_ERROR, "%s: %s", what, msg);
}

/* libpq keeps data per connection for an event procedure (libpq-events):
 * here the connection's query deadline, which pgi_q() reads back from a
 * bare PGconn. There are no events to handle. */
int
pgi_conn_event(PGEventId id, void *info, void *arg)
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
		int64_t left = until - pgi_now_ms();
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
	if (pgi_now_ms() < until || PQstatus(c) != CONNECTION_OK)
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
PGresult *
pgi_exec_bounded(PGconn *c, const char *sql, const struct pv *p, int *timed_out)
{
	int ms = (int)(intptr_t)PQinstanceData(c, pgi_conn_event);
	int64_t until = pgi_now_ms() + ms;
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
 * query deadline as pgi_exec_bounded(). res[i] gets statement i's result
 * (PGRES_PIPELINE_ABORTED when an earlier one failed), or stays NULL when
 * the connection failed or the deadline passed (then *timed_out is set,
 * and the connection is shut down as pgi_exec_bounded() does).
 */
void
pgi_exec_pipeline(PGconn *c, const struct pipe_stmt *s, size_t n, PGresult **res, int *timed_out)
{
	int ms = (int)(intptr_t)PQinstanceData(c, pgi_conn_event);
	int64_t until = pgi_now_ms() + (ms > 0 ? ms : INT_MAX);
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
int
pgi_pipe_outcome(PGconn *c, PGresult *r, ExecStatusType want, int timed_out, const char *what,
    const char *conflict)
{
	const char *st;

	if (timed_out)
		return store_set_error(STORE_UNAVAILABLE, "%s: the database did not answer within"
		    " %d ms", what, (int)(intptr_t)PQinstanceData(c, pgi_conn_event));
	if (r != NULL && PQresultStatus(r) == want)
		return STORE_OK;
	st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	if (conflict != NULL && st != NULL && strcmp(st, "23505") == 0)
		return store_set_error(STORE_CONFLICT, "%s", conflict);
	return pg_fail(c, r, what);
}

/* ROLLBACK under the query deadline. Its own failure is not reported: the
 * caller's error stands, and a connection still in a transaction is
 * dropped by its owner. */
void
pgi_rollback(PGconn *c)
{
	int timed_out;

	PQclear(pgi_exec_bounded(c, "ROLLBACK", NULL, &timed_out));
}

/*
 * Runs sql with p bound (text results). On success returns the result (the
 * caller PQclear()s it) with *kind PQ_OK. Unique and foreign-key violations
 * return NULL with *kind PQ_UNIQUE / PQ_FKEY and no message (the caller
 * names the row); anything else NULL, PQ_FAIL, and *rc set with the error.
 */
PGresult *
pgi_q(PGconn *c, const char *sql, const struct pv *p, enum pq_kind *kind, int *rc, const char *what)
{
	int timed_out;
	PGresult *r = pgi_exec_bounded(c, sql, p, &timed_out);
	ExecStatusType s = r != NULL ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	const char *st;

	*kind = PQ_OK;
	if (timed_out) {
		*kind = PQ_FAIL;
		*rc = store_set_error(STORE_UNAVAILABLE, "%s: the database did not answer within"
		    " %d ms", what, (int)(intptr_t)PQinstanceData(c, pgi_conn_event));
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
