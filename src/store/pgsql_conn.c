/*
 * pgsql_conn.c — the PostgreSQL backend's connections (the overview is at
 * the top of store_pgsql.c): the pool that serves reads and the operator's
 * writes, the fail-fast state after a failed connect, and the generation
 * cache with the listener thread that keeps it current (LISTEN on
 * PGI_CHANNEL, a re-read every resync_ms). A file of its own because the
 * rest of the backend only runs statements on a connection it is handed:
 * making, checking, reconnecting and dropping connections while the store
 * is open, and taking the locks mu and gmu, happen here alone.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-events.h>
#include <libpq-fe.h>

#include "store/pgsql_internal.h"

#define RETRY_MS		500	/* fail fast this long after a failed connect */
#define LISTEN_RETRY_MS		250
#define LISTEN_DEADLINE_MS	1000	/* an answer on the listener's connection */
#define PG_LOCK_TIMEOUT_MS	"5000"	/* as SQLite's SQI_BUSY_TIMEOUT_MS */

/* One row, a column per kind (store_gen_keys' order); NULL for a missing
 * meta row. */
#define SQL_GEN "SELECT (SELECT value FROM meta WHERE key = 'generation')," \
	" (SELECT value FROM meta WHERE key = 'lock_generation')," \
	" (SELECT value FROM meta WHERE key = 'revocation_generation')"

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
PGconn *
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
		pgi_oneline(PQerrorMessage(c), msg, sizeof(msg));
		snprintf(err, errlen, "cannot connect to PostgreSQL: %s", msg);
		PQfinish(c);
		return NULL;
	}
	PQsetNoticeProcessor(c, quiet, NULL);
	if (!PQregisterEventProc(c, pgi_conn_event, "gatehouse", NULL) ||
	    !PQsetInstanceData(c, pgi_conn_event, (void *)(intptr_t)p->query_timeout_ms)) {
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
	p->up_at = pgi_now_ms();
	p->down_until = 0;
	pthread_mutex_unlock(&p->mu);
}

static void
note_down(struct pg *p, int64_t started, const char *err)
{
	pthread_mutex_lock(&p->mu);
	if (started >= p->up_at) {
		p->down_until = pgi_now_ms() + RETRY_MS;
		snprintf(p->down_msg, sizeof(p->down_msg), "%s", err);
	}
	pthread_mutex_unlock(&p->mu);
}

/* A usable connection for c, reconnecting a broken one, or failing fast
 * while the database is known to be down. */
int
pgi_ensure(struct pg *p, PGconn **c, const char *what)
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
	if ((started = pgi_now_ms()) < t)
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
	clock_gettime(CLOCK_MONOTONIC, &until);	/* freed's clock (pgsql_open.c) */
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
	if ((rc = pgi_ensure(p, &p->pool[i], what)) != STORE_OK) {
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
		pgi_rollback(c);
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
void
pgi_gen_note(struct pg *p, enum store_gen_kind kind, uint64_t v)
{
	pthread_mutex_lock(&p->gmu);
	if (v > p->gen.v[kind])
		p->gen.v[kind] = v;
	pthread_mutex_unlock(&p->gmu);
}

/* Both kinds of *v, each moved forward only. */
static void
gen_note_all(struct pg *p, const struct store_gen *v)
{
	for (int k = 0; k < STORE_GEN__MAX; k++)
		pgi_gen_note(p, (enum store_gen_kind)k, v->v[k]);
}

/* The cache set to *v as read, lower or not: the listener's first read on
 * a new connection. The database behind it may not be the one the cache
 * came from: restored from a backup, or a replica promoted before it had
 * the last commits, it counts its changes from below what this node saw,
 * and kept as a floor that count would hide every change until it passed
 * it (a client disabled there would keep working here). On the same
 * database the read is at least what the cache holds. A commit of ours
 * that lands after the read and is undone here is noted again when its
 * notification comes (LISTEN precedes the read). */
static void
gen_set_all(struct pg *p, const struct store_gen *v)
{
	pthread_mutex_lock(&p->gmu);
	p->gen = *v;
	pthread_mutex_unlock(&p->gmu);
}

const char *const pgi_gen_prefixes[STORE_GEN__MAX] = {
	[STORE_GEN_DATA] = "",
	[STORE_GEN_LOCKS] = "locks:",
	[STORE_GEN_REVOKED] = "revoked:",
};

/* A notification's payload: a kind's prefix (pgi_gen_prefixes; none for
 * the data's), then its value. Anything else (not ours) is ignored; the
 * periodic re-read covers what it hid. */
static void
gen_note_payload(struct pg *p, const char *payload)
{
	enum store_gen_kind kind = STORE_GEN_DATA;
	char *end;
	unsigned long long v;

	for (int k = 0; k < STORE_GEN__MAX; k++) {
		size_t n = strlen(pgi_gen_prefixes[k]);
		if (n > 0 && strncmp(payload, pgi_gen_prefixes[k], n) == 0) {
			kind = (enum store_gen_kind)k;
			payload += n;
			break;
		}
	}
	if (*payload < '0' || *payload > '9')
		return;
	errno = 0;
	v = strtoull(payload, &end, 10);
	if (errno == 0 && *end == '\0')
		pgi_gen_note(p, kind, v);
}

int
pgi_read_gen(PGconn *c, struct store_gen *v, const char *what)
{
	enum pq_kind kind;
	int rc = STORE_ERROR;
	PGresult *r = pgi_q(c, SQL_GEN, NULL, &kind, &rc, what);

	if (r == NULL)
		return kind == PQ_FAIL ? rc : store_set_error(STORE_ERROR, "%s: failed", what);
	for (int k = 0; k < STORE_GEN__MAX; k++)
		if (PQntuples(r) != 1 || PQnfields(r) != STORE_GEN__MAX || PQgetisnull(r, 0, k)) {
			PQclear(r);
			return store_set_error(STORE_ERROR, "%s: the %s row is missing", what,
			    store_gen_keys[k]);
		}
	for (int k = 0; k < STORE_GEN__MAX; k++)
		v->v[k] = strtoull(PQgetvalue(r, 0, k), NULL, 10);
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

/* Notes the notifications libpq holds. Called after every read on the
 * listener's connection too: one that arrived during the read's answer is
 * queued in libpq, and the socket has nothing more to wake the poll for
 * it (it would wait for the next resync_ms). */
static void
drain_notifies(struct pg *p, PGconn *c)
{
	for (PGnotify *n; (n = PQnotifies(c)) != NULL; PQfreemem(n))
		gen_note_payload(p, n->extra);
}

/* How long the listener waits for an answer (see listener_connect). */
static int
listen_deadline_ms(const struct pg *p)
{
	int ms = p->resync_ms > LISTEN_DEADLINE_MS ? p->resync_ms : LISTEN_DEADLINE_MS;

	return ms < p->query_timeout_ms ? ms : p->query_timeout_ms;
}

/* The listener's own connection, LISTENing, with the generation read and
 * noted (*next: when to read it again), or NULL. */
static PGconn *
listener_connect(struct pg *p, int64_t *next)
{
	PGconn *c;
	PGresult *r;
	char err[200];
	struct store_gen v;
	int timed_out, ok;

	if ((c = pg_connect(p, err, sizeof(err))) == NULL)
		return NULL;
	note_up(p);
	/* Its statements are tiny, and while it holds the connection the
	 * node takes its counters as current: a backend that stops answering
	 * them (stalled, its host still acknowledging TCP) is given up after
	 * LISTEN_DEADLINE_MS, or resync_ms if longer, not the pool's
	 * query_timeout_ms (30 s of changes unseen). Then pg_generation reads
	 * through the pool until a new connection listens. */
	if (!PQsetInstanceData(c, pgi_conn_event, (void *)(intptr_t)listen_deadline_ms(p))) {
		PQfinish(c);
		return NULL;
	}
	r = pgi_exec_bounded(c, "LISTEN " PGI_CHANNEL, NULL, &timed_out);
	ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	/* LISTEN before the read: nothing committed in between is missed. */
	if (!ok || pgi_read_gen(c, &v, "generation") != STORE_OK) {
		PQfinish(c);
		return NULL;
	}
	gen_set_all(p, &v);
	drain_notifies(p, c);
	pthread_mutex_lock(&p->gmu);
	p->listening = 1;
	pthread_mutex_unlock(&p->gmu);
	*next = pgi_now_ms() + p->resync_ms;
	return c;
}

void *
pgi_listener_main(void *arg)
{
	struct pg *p = arg;
	PGconn *c = NULL;
	struct store_gen v;
	int64_t next = 0;

	for (;;) {
		if (c == NULL && (c = listener_connect(p, &next)) == NULL) {
			if (listener_wait(p, NULL, LISTEN_RETRY_MS))
				break;
			continue;
		}
		{
			int64_t left = next - pgi_now_ms();
			if (listener_wait(p, c, left > 0 ? (int)left : 0))
				break;
		}
		if (PQconsumeInput(c) == 0)
			goto lost;
		drain_notifies(p, c);
		if (pgi_now_ms() >= next) {
			/* The safety net: whatever a lost notification hid. */
			if (pgi_read_gen(c, &v, "generation") != STORE_OK)
				goto lost;
			gen_note_all(p, &v);
			drain_notifies(p, c);
			next = pgi_now_ms() + p->resync_ms;
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
int
pg_generation(void *h, struct store_gen *out)
{
	struct pg *p = h;
	PGconn *c;
	struct store_gen v;
	int slot, rc, listening;

	pthread_mutex_lock(&p->gmu);
	listening = p->listening;
	*out = p->gen;
	pthread_mutex_unlock(&p->gmu);
	if (listening)
		return STORE_OK;
	if ((rc = pgi_acquire(p, &slot, &c, "generation")) != STORE_OK)
		return rc;
	rc = pgi_read_gen(c, &v, "generation");
	pgi_release(p, slot);
	if (rc != STORE_OK)
		return rc;
	gen_note_all(p, &v);
	pthread_mutex_lock(&p->gmu);
	*out = p->gen;
	pthread_mutex_unlock(&p->gmu);
	return STORE_OK;
}

/* The cache whether or not the listener holds its connection: while it
 * does not, pg_generation's reads elsewhere move it (pgi_gen_note). */
int
pg_generation_cached(void *h, struct store_gen *out)
{
	struct pg *p = h;

	pthread_mutex_lock(&p->gmu);
	*out = p->gen;
	pthread_mutex_unlock(&p->gmu);
	return STORE_OK;
}

int
pg_connections(void *h)
{
	return ((struct pg *)h)->pool_size;
}
