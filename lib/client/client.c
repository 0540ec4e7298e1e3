/*
 * client.c — the client's token cache and its background refresher;
 * options.c makes the client.
 *
 * Each (scope, tenant) has an entry holding a pointer to an immutable,
 * reference-counted token snapshot. The hot path (a cached token outside its
 * refresh window) takes the read lock, checks the deadlines, bumps the
 * reference count and leaves: readers never wait for each other, and a
 * refresh swaps the pointer under the write lock for a few instructions.
 *
 * Fetches are single-flight per entry: the mutex mu guards `inflight`; the
 * first caller that needs a fetch sets it and fetches without holding any
 * lock; callers that have no valid token wait on cv for that fetch and share
 * its outcome, success or error. While a token is valid but in its refresh
 * window, one caller (or the background thread) refreshes it and the others
 * keep getting the current token.
 *
 * Lock order: mu, then rw. A snapshot pointer is written only with both
 * held, so reading it under either is enough.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "extern.h"

void
ghc_token_ref(struct gh_client_token *t)
{
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

/* Never inlined: tests/client/helgrind.supp names this frame (Helgrind
 * does not model the atomic that orders the free), and a build without
 * debug information shows no inlined frames. */
__attribute__((noinline)) void
gh_client_token_release(struct gh_client_token *t)
{
	if (t == NULL)
		return;
	if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
		OPENSSL_cleanse(t->value, t->len);
		free(t);
	}
}

const char *
gh_client_token_value(const struct gh_client_token *t)
{
	return t != NULL ? t->value : NULL;
}

size_t
gh_client_token_length(const struct gh_client_token *t)
{
	return t != NULL ? t->len : 0;
}

int64_t
gh_client_token_expires_at(const struct gh_client_token *t)
{
	return t != NULL ? t->expires_wall : 0;
}

static int
str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static struct ghc_entry *
entry_new(const char *scope, const char *tenant)
{
	struct ghc_entry *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	atomic_init(&e->last_used_ns, ghc_now_ns());
	atomic_init(&e->bg_idle, 0);
	if ((scope != NULL && (e->scope = strdup(scope)) == NULL) ||
	    (tenant != NULL && (e->tenant = strdup(tenant)) == NULL)) {
		free(e->scope);
		free(e);
		return NULL;
	}
	return e;
}

static void *bg_main(void *);

/* The cache's part of gh_client_new (see extern.h). */
enum gh_client_err
ghc_cache_init(struct gh_client *c, struct gh_client_error *e)
{
	enum gh_client_err rc;
	pthread_condattr_t ca;
	int locks = 0;

	if ((c->entries = entry_new(c->scope, c->tenant)) == NULL)
		goto nomem;
	c->nentries = 1;
	if (pthread_rwlock_init(&c->rw, NULL) != 0)
		goto nomem;
	locks++;
	if (pthread_mutex_init(&c->mu, NULL) != 0)
		goto nomem;
	locks++;
	/* Both condition variables time out on CLOCK_MONOTONIC (see wait_ns). */
	if (pthread_condattr_init(&ca) != 0)
		goto nomem;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&c->cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto nomem;
	}
	locks++;
	if (pthread_cond_init(&c->bg_cv, &ca) != 0) {
		pthread_condattr_destroy(&ca);
		goto nomem;
	}
	pthread_condattr_destroy(&ca);
	locks++;
	if (c->background_refresh) {
		if (pthread_create(&c->bg_thread, NULL, bg_main, c) != 0) {
			rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0,
			    "cannot start the background refresh thread");
			goto fail;
		}
		c->bg_started = 1;
	}
	return GH_CLIENT_OK;
nomem:
	rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
fail:
	if (locks >= 4)
		pthread_cond_destroy(&c->bg_cv);
	if (locks >= 3)
		pthread_cond_destroy(&c->cv);
	if (locks >= 2)
		pthread_mutex_destroy(&c->mu);
	if (locks >= 1)
		pthread_rwlock_destroy(&c->rw);
	c->bg_started = 0;
	/* gh_client_free with the locks gone: the one entry holds no token. */
	if (c->entries != NULL) {
		free(c->entries->scope);
		free(c->entries->tenant);
		free(c->entries);
		c->entries = NULL;
		c->nentries = 0;
	}
	return rc;
}

/* The cache's part of gh_client_free (see extern.h). */
void
ghc_cache_free(struct gh_client *c)
{
	struct ghc_entry *e, *next;

	if (c->bg_started) {
		/* A refresh under way ends within about a second (http.c). */
		atomic_store(&c->closing, 1);
		pthread_mutex_lock(&c->mu);
		c->bg_stop = 1;
		pthread_cond_signal(&c->bg_cv);
		pthread_mutex_unlock(&c->mu);
		pthread_join(c->bg_thread, NULL);
	}
	for (e = c->entries; e != NULL; e = next) {
		next = e->next;
		gh_client_token_release(e->tok);
		free(e->scope);
		free(e->tenant);
		free(e);
	}
	pthread_cond_destroy(&c->bg_cv);
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	pthread_rwlock_destroy(&c->rw);
}

/* The entry for (scope, tenant), created on first use. */
static enum gh_client_err
entry_get(struct gh_client *c, const char *scope, const char *tenant, struct ghc_entry **out,
    struct gh_client_error *err)
{
	struct ghc_entry *e;
	int full;

	if (scope == NULL)
		scope = c->scope;
	if (tenant == NULL)
		tenant = c->tenant;
	if (scope != NULL && *scope == '\0')
		scope = NULL;
	if (tenant != NULL && *tenant == '\0')
		tenant = NULL;
	/* The default entry is first for good and never changes: no lock. */
	if (str_eq(scope, c->scope) && str_eq(tenant, c->tenant)) {
		*out = c->entries;
		return GH_CLIENT_OK;
	}
	pthread_rwlock_rdlock(&c->rw);
	for (e = c->entries; e != NULL; e = e->next)
		if (str_eq(e->scope, scope) && str_eq(e->tenant, tenant))
			break;
	pthread_rwlock_unlock(&c->rw);
	if (e != NULL) {
		*out = e;
		return GH_CLIENT_OK;
	}
	if ((scope != NULL && !ghc_field_ok(scope, GHC_MAX_FIELD)) ||
	    (tenant != NULL && !ghc_field_ok(tenant, 256)))
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "scope or tenant is too long or has control characters");
	if (scope != NULL && c->dialect == GH_CLIENT_DIALECT_PAPAYA)
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "the papaya dialect has no scope parameter");
	/* Under mu too, so that the background thread may walk the list under mu. */
	pthread_mutex_lock(&c->mu);
	pthread_rwlock_wrlock(&c->rw);
	for (e = c->entries; e != NULL; e = e->next)
		if (str_eq(e->scope, scope) && str_eq(e->tenant, tenant))
			break;
	full = e == NULL && c->nentries >= GHC_MAX_ENTRIES;	/* read under the locks */
	if (e == NULL && !full && (e = entry_new(scope, tenant)) != NULL) {
		/* Insert after the default entry, which stays first. */
		e->next = c->entries->next;
		c->entries->next = e;
		c->nentries++;
	}
	pthread_rwlock_unlock(&c->rw);
	pthread_mutex_unlock(&c->mu);
	if (e == NULL)
		return ghc_fail(err, full ? GH_CLIENT_ERR_INVALID_ARGUMENT : GH_CLIENT_ERR_NO_MEMORY,
		    0, "cannot cache another (scope, tenant): %s", full ? "too many" : "out of memory");
	*out = e;
	return GH_CLIENT_OK;
}

/*
 * Wait on cv (a CLOCK_MONOTONIC condition variable) with mu held for at
 * most ns (at least 1 ms, so that a deadline just passed still yields).
 * Durations, not ghc_now_ns() instants, cross between the clocks: suspend
 * time that CLOCK_BOOTTIME counts and CLOCK_MONOTONIC does not only makes
 * a wait end early, and the caller then looks at the clock again.
 */
static int
wait_ns(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ns)
{
	struct timespec ts;

	if (ns < 1000000)
		ns = 1000000;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns += ts.tv_nsec;
	ts.tv_sec += (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	return pthread_cond_timedwait(cv, mu, &ts);
}

/* A token fetch that failed for a reason that may pass by itself. */
static int
passing_failure(enum gh_client_err rc)
{
	return rc == GH_CLIENT_ERR_NETWORK || rc == GH_CLIENT_ERR_TIMEOUT ||
	    rc == GH_CLIENT_ERR_SERVER;
}

/*
 * A token fetch the endpoint refused in a way the next request would meet
 * again: the credentials, the request, a rate limit, an answer without a
 * usable token. Held off (refusal_holdoff_ms) rather than sent again.
 */
static int
repeating_refusal(enum gh_client_err rc)
{
	return rc == GH_CLIENT_ERR_UNAUTHORIZED || rc == GH_CLIENT_ERR_REJECTED ||
	    rc == GH_CLIENT_ERR_RATE_LIMITED || rc == GH_CLIENT_ERR_BAD_RESPONSE ||
	    rc == GH_CLIENT_ERR_BAD_LIFETIME;
}

/*
 * Fetch for e, whose inflight the caller has set, then install the token,
 * clear inflight and wake the waiters. On success *out (if not NULL) gets a
 * reference to the new token.
 */
static enum gh_client_err
flight(struct gh_client *c, struct ghc_entry *e, struct gh_client_token **out,
    struct gh_client_error *err, int64_t deadline_ns)
{
	struct gh_client_token *nt = NULL, *old = NULL;
	struct gh_client_error local;
	enum gh_client_err rc;
	long retry_after_ms;
	int64_t now;

	memset(&local, 0, sizeof(local));
	rc = ghc_token_fetch(c, e->scope, e->tenant, &nt, &local, deadline_ns, &retry_after_ms);
	pthread_mutex_lock(&c->mu);
	now = ghc_now_ns();
	if (rc == GH_CLIENT_OK) {
		nt->forced = e->forcing;	/* not yet published: no reader */
		if (out != NULL) {
			ghc_token_ref(nt);
			*out = nt;
		}
		pthread_rwlock_wrlock(&c->rw);
		old = e->tok;
		e->tok = nt;
		pthread_rwlock_unlock(&c->rw);
		e->next_ahead_ns = 0;
		e->refused_until_ns = 0;
	} else {
		/* Do not hammer a failing endpoint from the refresh window. */
		e->next_ahead_ns = now + (int64_t)c->backoff_max_ms * 1000000;
		/* Nor send what it refused again soon (a 429 says when). */
		if (repeating_refusal(rc)) {
			e->refused_until_ns = now + (rc == GH_CLIENT_ERR_RATE_LIMITED &&
			    retry_after_ms >= 0 ? (int64_t)retry_after_ms * 1000000 :
			    c->refusal_holdoff_ns);
			if (e->next_ahead_ns < e->refused_until_ns)
				e->next_ahead_ns = e->refused_until_ns;
		}
		/* Nor after a 401: the refused token stays, and its 401s reach
		 * the callers until the hold-off ends - the whole one when the
		 * endpoint refused us (more tries would spend the rate limit or
		 * earn a lockout), only the backoff when it could not answer
		 * (a 5xx, the network): the next 401 may well be cured then. */
		if (e->forcing) {
			c->hold401_until_ns = now + (passing_failure(rc) ?
			    (int64_t)c->backoff_max_ms * 1000000 : c->holdoff_401_ns);
			c->hold401_cause = rc;
		}
	}
	e->forcing = 0;
	e->inflight = 0;
	e->gen++;
	e->last_rc = rc;
	e->last_err = local;
	e->last_err.code = rc;
	pthread_cond_broadcast(&c->cv);
	if (c->bg_started)
		pthread_cond_signal(&c->bg_cv);	/* a new deadline to sleep until */
	pthread_mutex_unlock(&c->mu);
	gh_client_token_release(old);
	if (err != NULL)
		*err = local;
	return rc;
}

/*
 * With c->mu held, waits (until deadline_ns) for the fetch running for e
 * to end. GH_CLIENT_OK with c->mu still held when the caller should look
 * at e again; otherwise the fetch's failure or the deadline's, with c->mu
 * released.
 */
static enum gh_client_err
join_flight(struct gh_client *c, struct ghc_entry *e, struct gh_client_error *err,
    int64_t deadline_ns)
{
	uint64_t gen = e->gen;
	int64_t left;
	enum gh_client_err rc;

	while (e->inflight && e->gen == gen) {
		if ((left = deadline_ns - ghc_now_ns()) <= 0) {
			pthread_mutex_unlock(&c->mu);
			return ghc_fail(err, GH_CLIENT_ERR_TIMEOUT, 0, "the call's deadline of "
			    "%lld ms passed while waiting for the token request another caller "
			    "made", (long long)(c->deadline_ns / 1000000));
		}
		wait_ns(&c->cv, &c->mu, left);
	}
	if (e->gen != gen && e->last_rc != GH_CLIENT_OK) {
		rc = e->last_rc;
		if (err != NULL)
			*err = e->last_err;
		pthread_mutex_unlock(&c->mu);
		return rc;
	}
	return GH_CLIENT_OK;
}

/*
 * With c->mu held (released here): the refusal e's last fetch met, handed
 * back during its hold-off without a request.
 */
static enum gh_client_err
held_refusal(struct gh_client *c, struct ghc_entry *e, struct gh_client_error *err)
{
	enum gh_client_err rc = e->last_rc;
	long long left_ms = (e->refused_until_ns - ghc_now_ns()) / 1000000 + 1;
	struct gh_client_error last = e->last_err;

	pthread_mutex_unlock(&c->mu);
	return ghc_fail(err, rc, last.http_status, "not asked again for %lld ms after "
	    "the token endpoint's refusal: %s", left_ms, last.message);
}

/* No valid token: fetch one, or wait (until deadline_ns) for the fetch already running. */
static enum gh_client_err
slow_get(struct gh_client *c, struct ghc_entry *e, struct gh_client_token **out,
    struct gh_client_error *err, int64_t deadline_ns)
{
	struct gh_client_token *t;
	enum gh_client_err rc;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		t = e->tok;
		if (t != NULL && ghc_now_ns() < t->usable_ns) {
			ghc_token_ref(t);
			pthread_mutex_unlock(&c->mu);
			*out = t;
			return GH_CLIENT_OK;
		}
		if (!e->inflight) {
			if (e->refused_until_ns > ghc_now_ns())
				return held_refusal(c, e, err);
			e->inflight = 1;
			e->forcing = e->force_next;
			e->force_next = 0;
			pthread_mutex_unlock(&c->mu);
			if ((rc = flight(c, e, &t, err, deadline_ns)) != GH_CLIENT_OK)
				return rc;
			if (ghc_now_ns() >= t->usable_ns) {
				gh_client_token_release(t);
				return ghc_fail(err, GH_CLIENT_ERR_BAD_LIFETIME, 0,
				    "the token expired (less its clock-skew margin) before it could "
				    "be used: its lifetime is too short for the time the request took");
			}
			*out = t;
			return GH_CLIENT_OK;
		}
		/* Single flight: share the running fetch's outcome. */
		if ((rc = join_flight(c, e, err, deadline_ns)) != GH_CLIENT_OK)
			return rc;
	}
}

/* t is valid but in its refresh window: refresh once, everyone else keeps t. */
static struct gh_client_token *
refresh_ahead(struct gh_client *c, struct ghc_entry *e, struct gh_client_token *t,
    int64_t deadline_ns)
{
	struct gh_client_token *nt = NULL;
	struct gh_client_error local;
	int mine = 0;

	pthread_mutex_lock(&c->mu);
	if (!e->inflight && e->tok == t && ghc_now_ns() >= e->next_ahead_ns) {
		e->inflight = 1;
		mine = 1;
	}
	pthread_mutex_unlock(&c->mu);
	if (!mine)
		return t;
	if (flight(c, e, &nt, &local, deadline_ns) != GH_CLIENT_OK)
		return t;	/* still valid; the next caller after the backoff retries */
	gh_client_token_release(t);
	return nt;
}

/*
 * The idle limit's shared state, touched only through these functions.
 * Never inlined: tests/client/helgrind.supp names their frames, since
 * Helgrind does not model C11 atomics (ThreadSanitizer, which does, checks
 * them without a suppression). Relaxed order is enough: each is one
 * independent value, and a stale one only delays a decision by one round.
 */
__attribute__((noinline)) static void
entry_touch_at(struct ghc_entry *e, int64_t now, int64_t every)
{
	/* A load, and a store at most every `every` ns: the hot path's cache
	 * line stays shared between the callers. */
	if (now - atomic_load_explicit(&e->last_used_ns, memory_order_relaxed) >= every)
		atomic_store_explicit(&e->last_used_ns, now, memory_order_relaxed);
}

__attribute__((noinline)) static int64_t
entry_last_used(struct ghc_entry *e)
{
	return atomic_load_explicit(&e->last_used_ns, memory_order_relaxed);
}

__attribute__((noinline)) static int
entry_idle(struct ghc_entry *e)
{
	return atomic_load_explicit(&e->bg_idle, memory_order_relaxed);
}

__attribute__((noinline)) static void
entry_set_idle(struct ghc_entry *e, int idle)
{
	atomic_store_explicit(&e->bg_idle, idle, memory_order_relaxed);
}

/* Record that a caller asked for e's token (only a background thread cares). */
static inline void
entry_touch(const struct gh_client *c, struct ghc_entry *e, int64_t now)
{
	if (c->bg_started)
		entry_touch_at(e, now, c->touch_ns);
}

/* deadline_ns 0: the client's deadline from now. */
enum gh_client_err
ghc_token_get(struct gh_client *c, const char *scope, const char *tenant,
    struct gh_client_token **out, struct gh_client_error *err, int64_t deadline_ns)
{
	struct gh_client_token *t;
	struct ghc_entry *e;
	enum gh_client_err rc;
	int64_t now;

	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL)
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no client or no out pointer");
	if ((rc = entry_get(c, scope, tenant, &e, err)) != GH_CLIENT_OK)
		return rc;
	now = ghc_now_ns();
	entry_touch(c, e, now);
	if (deadline_ns == 0)
		deadline_ns = now + c->deadline_ns;
	pthread_rwlock_rdlock(&c->rw);
	t = e->tok;
	if (t != NULL && now < t->usable_ns)
		ghc_token_ref(t);
	else
		t = NULL;
	pthread_rwlock_unlock(&c->rw);
	if (t != NULL && now < t->refresh_ns) {
		*out = t;
		return GH_CLIENT_OK;
	}
	if (t != NULL) {
		/* A background thread wakes at refresh_ns by itself, unless it
		 * left this entry to its callers as unused. */
		if (!c->bg_started || entry_idle(e))
			t = refresh_ahead(c, e, t, deadline_ns);
		if (ghc_now_ns() < t->usable_ns) {
			*out = t;
			return GH_CLIENT_OK;
		}
		gh_client_token_release(t);
	}
	return slow_get(c, e, out, err, deadline_ns);
}

enum gh_client_err
gh_client_token_get(struct gh_client *c, const char *scope, const char *tenant,
    struct gh_client_token **out, struct gh_client_error *err)
{
	return ghc_token_get(c, scope, tenant, out, err, 0);
}

/*
 * Under mu: the API refused t, e's token (or e's token before another
 * caller replaced it). A token fetched because of a 401 refused again
 * means a new one will not help (the API or the credentials are at fault):
 * that starts the hold-off, during which no 401 forces a fetch, so that a
 * misbehaving API cannot make us spend the client's issuance rate limit.
 * Returns 1 if a fetch may be forced now.
 */
static int
refused_locked(struct gh_client *c, struct ghc_entry *e, struct gh_client_token *t, int64_t now)
{
	if (t != NULL && e->tok == t && t->forced && !t->refused) {
		t->refused = 1;
		c->hold401_until_ns = now + c->holdoff_401_ns;
		c->hold401_cause = GH_CLIENT_OK;
	}
	return now >= c->hold401_until_ns;
}

static enum gh_client_err
held_off(struct gh_client *c, int64_t now, struct gh_client_error *err)
{
	long long wait_ms = (c->hold401_until_ns - now + 999999) / 1000000;

	if (c->hold401_cause != GH_CLIENT_OK)
		return ghc_fail(err, GH_CLIENT_ERR_UNAUTHORIZED, 401, "token not refreshed: the "
		    "token request after a 401 failed (%s); the next may come in %lld ms",
		    gh_client_err_name(c->hold401_cause), wait_ms);
	return ghc_fail(err, GH_CLIENT_ERR_UNAUTHORIZED, 401, "token not refreshed: the API also "
	    "refused a token fetched after a 401, so a new one would not help; the next refresh "
	    "for a 401 may come in %lld s (one per %lld s at most)", (wait_ms + 999) / 1000,
	    (long long)(c->holdoff_401_ns / 1000000000));
}

enum gh_client_err
ghc_token_refused(struct gh_client *c, const char *scope, const char *tenant,
    struct gh_client_token *t, struct gh_client_token **out, struct gh_client_error *err,
    int64_t deadline_ns)
{
	struct gh_client_token *cur;
	struct ghc_entry *e;
	enum gh_client_err rc;
	int64_t now;

	*out = NULL;
	if ((rc = entry_get(c, scope, tenant, &e, err)) != GH_CLIENT_OK)
		return rc;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		now = ghc_now_ns();
		cur = e->tok;
		/* Another caller's fetch already replaced t: retry with its token
		 * (unless the API refused that one too: the hold-off decides). */
		if (cur != NULL && cur != t && now < cur->usable_ns && !cur->refused) {
			ghc_token_ref(cur);
			pthread_mutex_unlock(&c->mu);
			*out = cur;
			return GH_CLIENT_OK;
		}
		if (!refused_locked(c, e, t, now)) {
			rc = held_off(c, now, err);
			pthread_mutex_unlock(&c->mu);
			return rc;
		}
		/*
		 * Fetch, then swap: t stays cached until a new token is in, so
		 * a failed fetch leaves the callers t's 401 rather than sending
		 * each of them to the token endpoint.
		 */
		if (!e->inflight) {
			e->inflight = 1;
			e->forcing = 1;
			pthread_mutex_unlock(&c->mu);
			return flight(c, e, out, err, deadline_ns);
		}
		/* Single flight: share the fetch already running, then look again. */
		if ((rc = join_flight(c, e, err, deadline_ns)) != GH_CLIENT_OK)
			return rc;
	}
}

void
ghc_token_refused_again(struct gh_client *c, const char *scope, const char *tenant,
    struct gh_client_token *t)
{
	struct ghc_entry *e;

	if (entry_get(c, scope, tenant, &e, NULL) != GH_CLIENT_OK)
		return;
	pthread_mutex_lock(&c->mu);
	(void)refused_locked(c, e, t, ghc_now_ns());
	pthread_mutex_unlock(&c->mu);
}

enum gh_client_err
gh_client_token_copy(struct gh_client *c, const char *scope, const char *tenant, char *buf,
    size_t len, size_t *needed, struct gh_client_error *err)
{
	struct gh_client_token *t;
	struct ghc_entry *e;
	enum gh_client_err rc;
	int64_t now;
	size_t n;

	/* Whatever happens next, buf holds a string, and never part of a token. */
	if (buf != NULL && len > 0)
		buf[0] = '\0';
	if (needed != NULL)
		*needed = 0;
	if (c == NULL || (buf == NULL && len != 0))
		return ghc_fail(err, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no client or no buffer");
	if ((rc = entry_get(c, scope, tenant, &e, err)) != GH_CLIENT_OK)
		return rc;
	/* The hot path copies under the read lock: no reference count traffic. */
	now = ghc_now_ns();
	entry_touch(c, e, now);
	pthread_rwlock_rdlock(&c->rw);
	t = e->tok;
	if (t != NULL && now < t->refresh_ns) {
		n = t->len;
		if (n < len)
			memcpy(buf, t->value, n + 1);
		pthread_rwlock_unlock(&c->rw);
		goto done;
	}
	pthread_rwlock_unlock(&c->rw);
	if ((rc = ghc_token_get(c, scope, tenant, &t, err, now + c->deadline_ns)) != GH_CLIENT_OK)
		return rc;
	n = t->len;
	if (n < len)
		memcpy(buf, t->value, n + 1);	/* n + 1 <= len */
	gh_client_token_release(t);
done:
	if (needed != NULL)
		*needed = n;
	if (n >= len)
		return ghc_fail(err, GH_CLIENT_ERR_BUFFER_TOO_SMALL, 0,
		    "the token needs %zu bytes (%zu and a NUL); the buffer has %zu", n + 1, n, len);
	return GH_CLIENT_OK;
}

void
gh_client_token_invalidate(struct gh_client *c, const char *scope, const char *tenant,
    const struct gh_client_token *token)
{
	struct gh_client_token *old = NULL;
	struct ghc_entry *e;

	if (c == NULL || entry_get(c, scope, tenant, &e, NULL) != GH_CLIENT_OK)
		return;
	pthread_mutex_lock(&c->mu);
	pthread_rwlock_wrlock(&c->rw);
	if (e->tok != NULL && token == NULL) {
		old = e->tok;
		e->tok = NULL;
		e->force_next = 0;
	} else if (e->tok != NULL && e->tok == token) {
		/* A caller's 401: the same hold-off as gh_client_call's. */
		if (refused_locked(c, e, e->tok, ghc_now_ns())) {
			old = e->tok;
			e->tok = NULL;
			e->force_next = 1;
		}
	}
	pthread_rwlock_unlock(&c->rw);
	pthread_mutex_unlock(&c->mu);
	gh_client_token_release(old);
}

/* Fills a whole struct here, then copies out only the bytes the caller's
 * struct has (see gh_client_stats_get_sized in client.h). */
void
gh_client_stats_get_sized(struct gh_client *c, struct gh_client_stats *out, size_t size)
{
	struct gh_client_stats s;

	if (c == NULL || out == NULL)
		return;
	s.token_requests = atomic_load(&c->st_token_requests);
	s.token_fetches = atomic_load(&c->st_token_fetches);
	s.token_failures = atomic_load(&c->st_token_failures);
	s.api_calls = atomic_load(&c->st_api_calls);
	if (size > sizeof(s)) {
		memset((unsigned char *)out + sizeof(s), 0, size - sizeof(s));
		size = sizeof(s);
	}
	memcpy(out, &s, size);
}

/* The 0.1.0 entry point, for binaries built before the stats were sized. */
void
(gh_client_stats_get)(struct gh_client *c, struct gh_client_stats *out)
{
	gh_client_stats_get_sized(c, out, GHC_STATS_V0_SIZE);
}


/*
 * The background refresher: sleeps until the earliest refresh deadline of
 * any cached token and refreshes it, so that callers never see the window.
 * A (scope, tenant) no caller asked for within idle_ns is not refreshed
 * (credentials nobody uses would otherwise be refreshed forever): its token
 * is dropped once it may no longer be handed out, and until then a caller
 * in its refresh window refreshes it (bg_idle).
 */
static void *
bg_main(void *arg)
{
	struct gh_client *c = arg;
	struct gh_client_token *drop;
	struct ghc_entry *e, *due;
	int64_t now, next, at;
	int idle;

	pthread_mutex_lock(&c->mu);
	while (!c->bg_stop) {
		now = ghc_now_ns();
		next = now + 60LL * 1000000000;
		due = NULL;
		drop = NULL;
		for (e = c->entries; e != NULL; e = e->next) {
			if (e->tok == NULL || e->inflight)
				continue;
			idle = now - entry_last_used(e) > c->idle_ns;
			entry_set_idle(e, idle);
			if (idle) {
				if (now >= e->tok->usable_ns) {
					pthread_rwlock_wrlock(&c->rw);
					drop = e->tok;
					e->tok = NULL;
					pthread_rwlock_unlock(&c->rw);
					break;
				}
				at = e->tok->usable_ns;	/* to drop it, unless used by then */
			} else {
				at = e->tok->refresh_ns > e->next_ahead_ns ? e->tok->refresh_ns :
				    e->next_ahead_ns;
				if (at <= now) {
					due = e;
					break;
				}
			}
			if (at < next)
				next = at;
		}
		if (drop != NULL) {
			pthread_mutex_unlock(&c->mu);
			gh_client_token_release(drop);	/* wiped when the last holder lets go */
			pthread_mutex_lock(&c->mu);
			continue;
		}
		if (due != NULL) {
			due->inflight = 1;
			pthread_mutex_unlock(&c->mu);
			flight(c, due, NULL, NULL, ghc_now_ns() + c->deadline_ns);
			pthread_mutex_lock(&c->mu);
			continue;
		}
		/* At most 60 s, so that a clock oddity never stalls refreshes for long. */
		wait_ns(&c->bg_cv, &c->mu, next - now);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}
