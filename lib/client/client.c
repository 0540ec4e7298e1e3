/*
 * client.c — the client object and its token cache.
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

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

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

/* A value that goes into a header or a body: no controls, bounded. */
static int
field_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f || n >= max)
			return 0;
	return 1;
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

/* 0: dflt; above max: max (so that a conversion to ns cannot overflow). */
static enum gh_client_err
set_default(long v, long dflt, long max, long *out, const char *name, struct gh_client_error *e)
{
	if (v < 0)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "%s must not be negative", name);
	*out = v == 0 ? dflt : v > max ? max : v;
	return GH_CLIENT_OK;
}

/* The copies of the options, the secret wiped first, and c itself. */
static void
free_settings(struct gh_client *c)
{
	ghc_secret_forms_free(c);
	if (c->client_secret != NULL) {
		OPENSSL_cleanse(c->client_secret, strlen(c->client_secret));
		free(c->client_secret);
	}
	free(c->base_url);
	free(c->token_url);
	free(c->client_id);
	free(c->scope);
	free(c->tenant);
	free(c->token_name);
	free(c->ca_file);
	free(c->ca_path);
	free(c->user_agent);
	free(c);
}

/* The options that need no copy to check: the dialect, id, secret, fields and lifetime. */
static enum gh_client_err
options_check(const struct gh_client_options *o, struct gh_client_error *e)
{
	if ((int)o->dialect < 0 || o->dialect >= GH_CLIENT_DIALECT__MAX)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "unknown dialect %d",
		    (int)o->dialect);
	if (o->client_id == NULL || *o->client_id == '\0' || !field_ok(o->client_id, GHC_MAX_FIELD))
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "client_id is missing, too long or has control characters");
	if (o->client_secret == NULL || *o->client_secret == '\0' ||
	    !field_ok(o->client_secret, GHC_MAX_FIELD))
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "client_secret is missing, too long or has control characters");
	/* Seed 003: base64("ClientId:ApiKey") without encoding; a ':' in the id is ambiguous. */
	if (o->dialect == GH_CLIENT_DIALECT_MANGOPAY && strchr(o->client_id, ':') != NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "a mangopay ClientId cannot contain ':' (RFC 7617 §2)");
	if ((o->scope != NULL && !field_ok(o->scope, GHC_MAX_FIELD)) ||
	    (o->tenant != NULL && !field_ok(o->tenant, 256)) ||
	    (o->token_name != NULL && !field_ok(o->token_name, 256)) ||
	    (o->user_agent != NULL && !field_ok(o->user_agent, 256)))
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "scope, tenant, token_name or user_agent is too long or has control characters");
	if (o->token_expiration < 0 || o->token_expiration > GHC_MAX_LIFETIME_S)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "token_expiration must be 0..%ld", GHC_MAX_LIFETIME_S);
	return GH_CLIENT_OK;
}

/* The durations, retries and size limit, defaulted and bounded, into c. */
static enum gh_client_err
settings_durations(struct gh_client *c, const struct gh_client_options *o,
    struct gh_client_error *e)
{
	enum gh_client_err rc;
	long v = 0;

	if ((rc = set_default(o->connect_timeout_ms, 5000, GHC_MAX_MS, &c->connect_timeout_ms,
	    "connect_timeout_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->timeout_ms, 20000, GHC_MAX_MS, &c->timeout_ms, "timeout_ms", e)) !=
	    GH_CLIENT_OK ||
	    (rc = set_default(o->backoff_base_ms, 200, GHC_MAX_MS, &c->backoff_base_ms,
	    "backoff_base_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->backoff_max_ms, 5000, GHC_MAX_MS, &c->backoff_max_ms,
	    "backoff_max_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->retry_after_max_ms, 30000, GHC_MAX_MS, &c->retry_after_max_ms,
	    "retry_after_max_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->refresh_before_s, 300, GHC_MAX_LIFETIME_S, &v, "refresh_before_s",
	    e)) != GH_CLIENT_OK)
		return rc;
	if (o->refresh_before_ms < 0)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "refresh_before_ms is negative");
	/* Both bounded by the longest lifetime accepted: at most ~3.2e16 ns. */
	if (o->refresh_before_ms > 0)
		c->refresh_before_ns = (int64_t)o->refresh_before_ms >
		    (int64_t)GHC_MAX_LIFETIME_S * 1000 ? (int64_t)GHC_MAX_LIFETIME_S * 1000000000 :
		    (int64_t)o->refresh_before_ms * 1000000;
	else
		c->refresh_before_ns = (int64_t)v * 1000000000;
	if (c->backoff_max_ms < c->backoff_base_ms)
		c->backoff_max_ms = c->backoff_base_ms;
	c->max_retries = o->max_retries == 0 ? 3 : o->max_retries < 0 ? 0 : o->max_retries;
	/* Default: every attempt may use its whole timeout; waits come out of it. */
	v = c->timeout_ms * (1 + (c->max_retries < GHC_MAX_RETRIES_CAP ? c->max_retries :
	    GHC_MAX_RETRIES_CAP));
	if ((rc = set_default(o->deadline_ms, v < GHC_MAX_MS ? v : GHC_MAX_MS, GHC_MAX_MS, &v,
	    "deadline_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->deadline_ns = (int64_t)v * 1000000;
	if ((rc = set_default(o->refresh_401_holdoff_ms, 60000, GHC_MAX_MS, &v,
	    "refresh_401_holdoff_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->holdoff_401_ns = (int64_t)v * 1000000;
	if ((rc = set_default(o->background_idle_ms, 3600000, GHC_MAX_MS, &v,
	    "background_idle_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->idle_ns = (int64_t)v * 1000000;
	if ((rc = set_default(o->refusal_holdoff_ms, 10000, GHC_MAX_MS, &v,
	    "refusal_holdoff_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->refusal_holdoff_ns = (int64_t)v * 1000000;
	/* Precise enough for the idle limit; rare enough to keep the hot path's
	 * cache line shared. */
	c->touch_ns = c->idle_ns / 16 < 1000000000 ? c->idle_ns / 16 : 1000000000;
	c->max_response_bytes = o->max_response_bytes ? o->max_response_bytes :
	    GHC_DEFAULT_RESPONSE_MAX;
	return GH_CLIENT_OK;
}

/* base_url (checked, without trailing '/') and token_url, its path's or the dialect's. */
static enum gh_client_err
settings_urls(struct gh_client *c, const struct gh_client_options *o, struct gh_client_error *e)
{
	enum gh_client_err rc;
	const char *path;
	size_t n;

	if ((rc = ghc_check_url(c, o->base_url, e)) != GH_CLIENT_OK)
		return rc;
	if ((c->base_url = strdup(o->base_url)) == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	path = o->token_path != NULL ? o->token_path : gh_client_dialect_path(o->dialect);
	if (strstr(path, "://") != NULL) {
		if ((c->token_url = strdup(path)) == NULL)
			return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	} else {
		if (*path != '/')
			return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "token_path must start with '/' or be a full URL");
		if ((c->token_url = malloc(n + strlen(path) + 1)) == NULL)
			return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
		memcpy(c->token_url, c->base_url, n);
		memcpy(c->token_url + n, path, strlen(path) + 1);
	}
	return ghc_check_url(c, c->token_url, e);
}

/* The credentials (and the secret's other forms) and the other strings, copied into c. */
static enum gh_client_err
settings_strings(struct gh_client *c, const struct gh_client_options *o,
    struct gh_client_error *e)
{
	if ((c->client_id = strdup(o->client_id)) == NULL ||
	    (c->client_secret = strdup(o->client_secret)) == NULL)
		goto nomem;
	c->secret_len = strlen(c->client_secret);
	if (ghc_secret_forms(c) != 0)
		goto nomem;
	if ((o->scope && *o->scope && (c->scope = strdup(o->scope)) == NULL) ||
	    (o->tenant && *o->tenant && (c->tenant = strdup(o->tenant)) == NULL) ||
	    (o->token_name && (c->token_name = strdup(o->token_name)) == NULL) ||
	    (o->ca_file && (c->ca_file = strdup(o->ca_file)) == NULL) ||
	    (o->ca_path && (c->ca_path = strdup(o->ca_path)) == NULL) ||
	    (c->user_agent = strdup(o->user_agent ? o->user_agent :
	    "gatehouse-client/" GH_CLIENT_VERSION)) == NULL)
		goto nomem;
	if (c->dialect == GH_CLIENT_DIALECT_PAPAYA && c->scope != NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "the papaya dialect has no scope parameter");
	return GH_CLIENT_OK;
nomem:
	return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
}

/*
 * c's cache: the default entry, the locks and, if asked for, the
 * background refresher. On failure what was made here is undone; the
 * settings are the caller's to free.
 */
static enum gh_client_err
cache_init(struct gh_client *c, struct gh_client_error *e)
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
	locks = 0;
	c->bg_started = 0;
	/* gh_client_free with the locks gone: the one entry holds no token. */
	if (c->entries != NULL) {
		free(c->entries->scope);
		free(c->entries->tenant);
		free(c->entries);
	}
	return rc;
}

static enum gh_client_err
client_new(const struct gh_client_options *o, struct gh_client **out,
    struct gh_client_error *e)
{
	struct gh_client *c = NULL;
	enum gh_client_err rc;

	if (out != NULL)
		*out = NULL;
	if (o == NULL || out == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no options or no out pointer");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "curl_global_init failed: %s",
		    curl_easy_strerror(curl_init_rc));
	if ((rc = options_check(o, e)) != GH_CLIENT_OK)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	c->dialect = o->dialect;
	c->allow_http = o->allow_http != 0;
	c->background_refresh = o->background_refresh != 0;
	c->token_expiration = o->token_expiration;

	if ((rc = settings_durations(c, o, e)) != GH_CLIENT_OK ||
	    (rc = settings_urls(c, o, e)) != GH_CLIENT_OK ||
	    (rc = settings_strings(c, o, e)) != GH_CLIENT_OK ||
	    (rc = cache_init(c, e)) != GH_CLIENT_OK)
		goto fail;
	*out = c;
	return GH_CLIENT_OK;
fail:
	free_settings(c);
	return rc;
}

/*
 * Extensible options (as openat2(2) and clone3(2) take theirs): read what
 * the caller's struct holds, default the rest, and refuse what a newer
 * header set that this library would silently ignore.
 */
enum gh_client_err
gh_client_new_sized(const struct gh_client_options *user, size_t size, struct gh_client **out,
    struct gh_client_error *e)
{
	struct gh_client_options o;
	const unsigned char *extra;
	size_t i;

	if (out != NULL)
		*out = NULL;
	if (user == NULL || out == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no options or no out pointer");
	if (size < GHC_OPTIONS_V0_SIZE)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "options_size %zu is smaller than any struct gh_client_options (%zu)", size,
		    (size_t)GHC_OPTIONS_V0_SIZE);
	extra = (const unsigned char *)user;
	for (i = sizeof(o); i < size; i++)
		if (extra[i] != 0)
			return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "the options set a field (byte %zu) that this library (%s) does not know; "
			    "link a newer libgatehouse-client", i, GH_CLIENT_VERSION);
	memset(&o, 0, sizeof(o));
	memcpy(&o, user, size < sizeof(o) ? size : sizeof(o));
	return client_new(&o, out, e);
}

/* The 0.1.0 entry point, for binaries built before options were sized. */
enum gh_client_err
(gh_client_new)(const struct gh_client_options *o, struct gh_client **out,
    struct gh_client_error *e)
{
	return gh_client_new_sized(o, GHC_OPTIONS_V0_SIZE, out, e);
}

void
gh_client_free(struct gh_client *c)
{
	struct ghc_entry *e, *next;

	if (c == NULL)
		return;
	if (c->bg_started) {
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
	free_settings(c);
}

/* The entry for (scope, tenant), created on first use. */
static enum gh_client_err
entry_get(struct gh_client *c, const char *scope, const char *tenant, struct ghc_entry **out,
    struct gh_client_error *err)
{
	struct ghc_entry *e;

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
	if ((scope != NULL && !field_ok(scope, GHC_MAX_FIELD)) ||
	    (tenant != NULL && !field_ok(tenant, 256)))
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
	if (e == NULL && c->nentries < GHC_MAX_ENTRIES &&
	    (e = entry_new(scope, tenant)) != NULL) {
		/* Insert after the default entry, which stays first. */
		e->next = c->entries->next;
		c->entries->next = e;
		c->nentries++;
	}
	pthread_rwlock_unlock(&c->rw);
	pthread_mutex_unlock(&c->mu);
	if (e == NULL)
		return ghc_fail(err, c->nentries >= GHC_MAX_ENTRIES ? GH_CLIENT_ERR_INVALID_ARGUMENT :
		    GH_CLIENT_ERR_NO_MEMORY, 0, "cannot cache another (scope, tenant): %s",
		    c->nentries >= GHC_MAX_ENTRIES ? "too many" : "out of memory");
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
