/* ratesync.c — see ratesync.h. The totals seen are kept in a small open
 * hash table keyed by (client, node), so that each read drains only what
 * grew since the last one. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/log.h"
#include "obs/metrics.h"
#include "server/ratesync.h"
#include "util/util.h"

struct seen {
	char	 key[STORE_LOCK_CLIENT_MAX + STORE_RATE_NODE_MAX + 2];	/* "client\x1fnode" */
	int64_t	 taken;
	int64_t	 at;		/* the last read that saw it (0: empty slot) */
};

struct ratesync {
	struct store		*store;
	struct ratelimit	*rl;
	char			 node[STORE_RATE_NODE_MAX + 1];
	int64_t			 interval_ms;
	int64_t			 leeway;	/* seconds of skew before clock.skew */
	int			 skewed;	/* clock.skew logged, not yet _ok */
	struct seen		*seen;	/* RATESYNC_MAX_SEEN slots */
	size_t			 nseen;
	int			 first_read_done, failing;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	int			 stop;
	pthread_t		 thread;
	/* the push being built */
	struct store_rate	*rows;
	size_t			 n, cap;
};

static void
add_row(void *arg, const char *client_id, int64_t taken)
{
	struct ratesync *r = arg;

	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 64;
		struct store_rate *t = ncap <= 10000 ? realloc(r->rows, ncap * sizeof(*t)) : NULL;
		if (t == NULL)
			return;		/* dropped: shared counts lag, never block */
		r->rows = t;
		r->cap = ncap;
	}
	if ((r->rows[r->n].client_id = strdup(client_id)) == NULL)
		return;
	r->rows[r->n].node = r->node;
	r->rows[r->n].taken = taken;
	r->n++;
}

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;
	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The slot for key (found, or empty and claimed); NULL when full. */
static struct seen *
slot(struct ratesync *r, const char *key, int *found)
{
	size_t i = hash(key) % RATESYNC_MAX_SEEN;

	for (size_t probe = 0; probe < RATESYNC_MAX_SEEN; probe++, i = (i + 1) % RATESYNC_MAX_SEEN) {
		if (r->seen[i].at == 0) {
			if (r->nseen >= RATESYNC_MAX_SEEN * 3 / 4)
				return NULL;
			*found = 0;
			snprintf(r->seen[i].key, sizeof(r->seen[i].key), "%s", key);
			r->nseen++;
			return &r->seen[i];
		}
		if (strcmp(r->seen[i].key, key) == 0) {
			*found = 1;
			return &r->seen[i];
		}
	}
	return NULL;
}

/* Empties the table of totals no read has seen for five minutes (their
 * rows are gone from the store): rebuilt by reinsertion, as open
 * addressing cannot simply clear a slot. */
static void
forget_old(struct ratesync *r, int64_t now)
{
	struct seen *old = r->seen;
	struct seen *fresh = calloc(RATESYNC_MAX_SEEN, sizeof(*fresh));
	int found;

	if (fresh == NULL)
		return;
	r->seen = fresh;
	r->nseen = 0;
	for (size_t i = 0; i < RATESYNC_MAX_SEEN; i++)
		if (old[i].at != 0 && old[i].at > now - 300) {
			struct seen *s = slot(r, old[i].key, &found);
			if (s != NULL)
				*s = old[i];
		}
	free(old);
}

static void
report(struct ratesync *r, int rc, const char *what)
{
	if (rc == STORE_OK) {
		if (r->failing)
			log_event(LOG_INFO, "ratelimit.shared_again", json_object());
		r->failing = 0;
	} else if (!r->failing) {
		r->failing = 1;
		log_event(LOG_WARN, "ratelimit.shared_failed", json_pack("{s:s, s:s}",
		    "step", what, "reason", store_last_error()));
	}
}

/* This node's clock against the store's (skew: this one's minus the
 * store's, seconds): always the gauge, and the log once each time it
 * passes leeway and comes back. Nodes trust each other's clocks within
 * leeway only (lockout locks, token times); operators are told to run NTP,
 * and this tells them when a node does not. */
static void
note_skew(struct ratesync *r, int64_t skew)
{
	int off = skew > r->leeway || skew < -r->leeway;

	metrics_set("gatehouse_clock_skew_seconds", (double)skew, NULL);
	if (off && !r->skewed)
		log_event(LOG_WARN, "clock.skew", json_pack("{s:I, s:I, s:s}",
		    "skew_seconds", (json_int_t)skew, "leeway", (json_int_t)r->leeway, "note",
		    "this node's wall clock differs from the database server's by more than"
		    " leeway: keep the nodes' clocks in step (NTP)"));
	else if (!off && r->skewed)
		log_event(LOG_INFO, "clock.skew_ok", json_pack("{s:I}", "skew_seconds",
		    (json_int_t)skew));
	r->skewed = off;
}

static void
sync_once(struct ratesync *r)
{
	int64_t now, now_ms = (int64_t)(clock_mono_ns() / 1000000);
	struct store_rate *got = NULL;
	size_t n = 0;
	int rc;

	/* Rows are stamped, pruned and read by age on the store's clock, the
	 * same for every node: on each node's own, a node more than 300 s
	 * behind had its rows taken for old (never read, and deleted at
	 * each other node's push), and one ahead read none of the others'. */
	if ((rc = store_clock(r->store, &now)) != STORE_OK) {
		report(r, rc, "clock");
		return;		/* nothing collected: pushed at the next sync */
	}
	note_skew(r, clock_now() - now);
	r->n = 0;
	ratelimit_collect(r->rl, add_row, r);
	rc = r->n > 0 ? store_rate_push(r->store, r->node, r->rows, r->n, now) : STORE_OK;
	if (r->n > 0)
		report(r, rc, "push");
	for (size_t i = 0; i < r->n; i++) {
		/* Not pushed: handed out again at the next sync, or the other
		 * nodes would never count them (a push whose commit was only
		 * unconfirmed may so count twice: stricter, never looser). */
		if (rc != STORE_OK)
			ratelimit_unpushed(r->rl, r->rows[i].client_id, r->rows[i].taken, now_ms);
		free(r->rows[i].client_id);
	}
	rc = store_rate_pull(r->store, r->node, now - 300, &got, &n);
	report(r, rc, "pull");
	if (rc != STORE_OK)
		return;
	for (size_t i = 0; i < n; i++) {
		char key[sizeof(((struct seen *)0)->key)];
		struct seen *s;
		int found = 0;
		int64_t grew;

		snprintf(key, sizeof(key), "%s\x1f%s", got[i].client_id, got[i].node);
		if ((s = slot(r, key, &found)) == NULL)
			continue;
		/* A total that shrank is a row that went and came back. */
		grew = !found ? got[i].taken : got[i].taken >= s->taken ? got[i].taken - s->taken :
		    got[i].taken;
		s->taken = got[i].taken;
		s->at = now;
		if (r->first_read_done && grew > 0)
			ratelimit_drain(r->rl, got[i].client_id, grew, now_ms);
	}
	r->first_read_done = 1;
	store_rate_free(got, n);
	if (r->nseen > RATESYNC_MAX_SEEN / 2)
		forget_old(r, now);
}

static void *
run(void *arg)
{
	struct ratesync *r = arg;

	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		struct timespec until;
		pthread_mutex_unlock(&r->mu);
		sync_once(r);
		pthread_mutex_lock(&r->mu);
		clock_gettime(CLOCK_MONOTONIC, &until);	/* cv's clock */
		until.tv_nsec += (long)(r->interval_ms % 1000) * 1000000L;
		until.tv_sec += (time_t)(r->interval_ms / 1000) + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&r->mu);
	sync_once(r);	/* what this node issued last still counts elsewhere */
	return NULL;
}

struct ratesync *
ratesync_start(struct store *st, struct ratelimit *rl, const char *node, int64_t interval_ms,
    int64_t leeway)
{
	struct ratesync *r = calloc(1, sizeof(*r));

	if (r == NULL || (r->seen = calloc(RATESYNC_MAX_SEEN, sizeof(*r->seen))) == NULL) {
		free(r);
		return NULL;
	}
	r->store = st;
	r->rl = rl;
	snprintf(r->node, sizeof(r->node), "%s", node);
	r->interval_ms = interval_ms;
	r->leeway = leeway;
	pthread_mutex_init(&r->mu, NULL);
	{
		/* The pause between syncs is timed on the monotonic clock: on
		 * the wall clock, a step back stopped the sharing for as long
		 * as the step. */
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&r->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (pthread_create(&r->thread, NULL, run, r) != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		free(r->seen);
		free(r);
		return NULL;
	}
	return r;
}

void
ratesync_stop(struct ratesync *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r->rows);
	free(r->seen);
	free(r);
}
