/* context.c — see context.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "http/http.h"
#include "http/limits.h"
#include "keys/keys.h"
#include "net/forwarded.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "security/masterkey.h"
#include "server/context.h"
#include "server/lockwriter.h"
#include "server/offload.h"
#include "server/ratesync.h"
#include "util/util.h"

/* The keys derived from the master key into c, and the store's audit key
 * set. 0, or -1 with a reason in err. */
static int
init_secrets(struct gh_ctx *c, struct store *st, const uint8_t master[32], char *err,
    size_t errlen)
{
	if (masterkey_derive(master, "gatehouse client secrets v1", c->secret_key) == -1 ||
	    masterkey_derive(master, "gatehouse signing key seal v1", c->seal_key) == -1 ||
	    masterkey_derive(master, "gatehouse opaque tokens v1", c->opaque_key) == -1) {
		snprintf(err, errlen, "cannot derive keys from the master key");
		return -1;
	}
	/* The audit rows this process emits (audit_emit) are linked under the
	 * audit key: without it the store takes none. Setting it again is no
	 * change (serve sets it first thing); a master key that does not
	 * match the trail's is refused. */
	if (store_audit_supported(st) && audit_key_use(st, master, NULL, err, errlen) == -1)
		return -1;
	return 0;
}

/* The config's lists c keeps: trusted proxies parsed, audiences copied
 * (c->audiences, freed by ctx_clear). 0, or -1 with a reason in err. */
static int
init_lists(struct gh_ctx *c, const struct config *cfg, char *err, size_t errlen)
{
	const char *why, *bad;

	if (cidr_parse_list(cfg->trusted_proxies, &c->trusted_proxies, &why, &bad) == -1) {
		snprintf(err, errlen, "trusted_proxies: \"%.40s\" %s", bad, why);
		return -1;
	}
	if ((c->audiences = strdup(cfg->audiences)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The lockout and rate-limit tables, the client cache, the store's locks
 * as of generation gen, and the thread that writes new ones; all freed by
 * ctx_clear. 0, or -1 with a reason in err. */
static int
init_limits(struct gh_ctx *c, const struct config *cfg, struct store *st, uint64_t gen,
    char *err, size_t errlen)
{
	struct lockout_config lc = { cfg->lockout_pair_threshold,
	    cfg->lockout_address_threshold, cfg->lockout_window, cfg->lockout_duration,
	    cfg->leeway };

	c->lockout = lockout_new(&lc);
	c->ratelimit = ratelimit_new();
	if (c->lockout == NULL || c->ratelimit == NULL ||
	    (c->clients = client_cache_new(st, c->issuer)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* No clear made by generation gen (read before the locks are) can
	 * lift a lock the first read returns: it removed that lock's row
	 * first. Started empty, this server reads only those made since. */
	c->locks_cleared_gen = gen;
	if (ctx_reload_locks(c, clock_now(), gen) == -1) {
		snprintf(err, errlen, "cannot load the lockout locks: %s", store_last_error());
		return -1;
	}
	/* Writes at least 50 ms apart: at most 20 generation moves a second
	 * from locks, however fast a brute force makes them. */
	if ((c->lockwriter = lockwriter_start(st, c->lockout, cfg->lockout_duration, 50)) == NULL) {
		snprintf(err, errlen, "cannot start the lock writer thread");
		return -1;
	}
	return 0;
}

static int	reload_turn_init(struct gh_ctx *);

int
ctx_init(struct gh_ctx *c, const struct config *cfg, struct store *st,
    const uint8_t master[32], const char *issuer, char *err, size_t errlen)
{
	struct store_gen gen;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->store = st;
	snprintf(c->issuer, sizeof(c->issuer), "%s", issuer);
	pthread_mutex_init(&c->lock, NULL);
	if (reload_turn_init(c) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (init_secrets(c, st, master, err, errlen) == -1 ||
	    init_lists(c, cfg, err, errlen) == -1)
		return -1;
	if (store_generation(st, &gen) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	for (int k = 0; k < STORE_GEN__MAX; k++) {
		atomic_store(&c->loaded[k], gen.v[k]);
		atomic_store(&c->seen[k], gen.v[k]);
		atomic_store(&c->failed[k], UINT64_MAX);	/* none */
	}
	if (ctx_reload_keys(c, err, errlen) == -1 ||
	    init_limits(c, cfg, st, gen.v[STORE_GEN_LOCKS], err, errlen) == -1)
		return -1;
	return 0;
}

int
ctx_share_rate_limits(struct gh_ctx *c, char *err, size_t errlen)
{
	char node[37];

	if (!store_is_shared(c->store))
		return 0;
	if (uuid_v4(node) == -1 ||
	    (c->ratesync = ratesync_start(c->store, c->ratelimit, node, RATESYNC_INTERVAL_MS,
	    c->cfg->leeway)) == NULL) {
		snprintf(err, errlen, "cannot start the rate-limit sharing thread");
		return -1;
	}
	return 0;
}

int
ctx_start_offload(struct gh_ctx *c, char *err, size_t errlen)
{
	if (!store_is_shared(c->store))
		return 0;
	if ((c->offload = offload_start((size_t)store_connections(c->store),
	    (size_t)c->cfg->offload_queue)) == NULL) {
		snprintf(err, errlen, "cannot start the threads for store reads");
		return -1;
	}
	return 0;
}

void
ctx_clear(struct gh_ctx *c)
{
	offload_stop(c->offload);	/* first: its jobs make locks, use caches */
	lockwriter_stop(c->lockwriter);	/* then: it writes what is queued */
	ratesync_stop(c->ratesync);	/* before the limiter it reads */
	client_cache_free(c->clients);
	lockout_free(c->lockout);
	ratelimit_free(c->ratelimit);
	keyring_unref(c->keyring);
	free(c->audiences);
	OPENSSL_cleanse(c->secret_key, sizeof(c->secret_key));
	OPENSSL_cleanse(c->opaque_key, sizeof(c->opaque_key));
	OPENSSL_cleanse(c->seal_key, sizeof(c->seal_key));
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->reload_cv);
	pthread_mutex_destroy(&c->reload_mu);
}

/*
 * Loads the keys and installs them, unless a load that read the store
 * later has installed its keys already: a SIGHUP's load that read the
 * keys before a `keys revoke` and finished after a refresh had loaded the
 * revocation put the revoked key back, in the JWKS and at the gate, with
 * the change counted as loaded (nothing loaded it again).
 */
int
ctx_reload_keys(struct gh_ctx *c, char *err, size_t errlen)
{
	struct keyring *kr = NULL, *old;
	uint64_t ticket = atomic_fetch_add(&c->keys_tickets, 1) + 1;

	if (keys_load(c->store, c->seal_key, clock_now(), &kr, err, errlen) == -1)
		return -1;
	pthread_mutex_lock(&c->lock);
	if (ticket > c->keyring_ticket) {
		old = c->keyring;
		c->keyring = kr;
		c->keyring_ticket = ticket;
	} else
		old = kr;	/* what a later read found is in place */
	pthread_mutex_unlock(&c->lock);
	keyring_unref(old);
	return 0;
}

struct keyring *
ctx_keyring(struct gh_ctx *c)
{
	struct keyring *kr;

	pthread_mutex_lock(&c->lock);
	kr = keyring_ref(c->keyring);
	pthread_mutex_unlock(&c->lock);
	return kr;
}

int
ctx_may_wait(const struct gh_ctx *c, const struct http_exchange *x)
{
	return c->offload == NULL || offload_is_running(x);
}

/* 1 when kind's generation read from the store is not loaded yet, and
 * its reload has not failed. */
static int
kind_due(struct gh_ctx *c, int kind)
{
	uint64_t seen = atomic_load(&c->seen[kind]);

	return seen != atomic_load(&c->loaded[kind]) && seen != atomic_load(&c->failed[kind]);
}

/* 1 when the data's generation or one of needs is due (kind_due), unless
 * a reload has been stuck for CTX_RELOAD_WAIT_MS. */
static int
reload_due(struct gh_ctx *c, unsigned needs)
{
	uint64_t since;
	int due = 0;

	needs |= STORE_GEN_BIT(STORE_GEN_DATA);
	for (int k = 0; k < STORE_GEN__MAX && !due; k++)
		due = (needs & STORE_GEN_BIT(k)) && kind_due(c, k);
	if (!due)
		return 0;
	since = atomic_load(&c->reload_ns);
	return since == 0 || clock_mono_ns() - since < CTX_RELOAD_WAIT_MS * 1000000ull;
}

/* 1 for the one thread whose turn it is to read the generation: none
 * has in the last interval_ms (0: every call is a turn). */
static int
refresh_turn(struct gh_ctx *c, int64_t interval_ms)
{
	uint64_t now = clock_mono_ns(), last = atomic_load(&c->refreshed_ns);

	if (interval_ms <= 0)
		return 1;
	return now - last >= (uint64_t)interval_ms * 1000000u &&
	    atomic_compare_exchange_strong(&c->refreshed_ns, &last, now);
}

/* What a read of the store's generations saw. */
static void
note_seen(struct gh_ctx *c, const struct store_gen *g)
{
	for (int k = 0; k < STORE_GEN__MAX; k++)
		atomic_store(&c->seen[k], g->v[k]);
}

int
ctx_refresh_every(struct gh_ctx *c, int64_t interval_ms, int may_wait, unsigned needs)
{
	struct store_gen g;

	if (!may_wait) {
		if (refresh_turn(c, interval_ms) &&
		    store_generation_cached(c->store, &g) == STORE_OK)
			note_seen(c, &g);
		return reload_due(c, needs);
	}
	/* A change seen (here or by a loop that handed its request over) is
	 * loaded before the request goes on, whoever's turn it is. */
	if (reload_due(c, needs) || refresh_turn(c, interval_ms))
		(void)ctx_refresh(c);
	return 0;
}

void
ctx_changed_here(struct gh_ctx *c)
{
	(void)ctx_refresh(c);
	atomic_store(&c->refreshed_ns, 0);
}

/* The reload turn (context.h reloading): taken by reload_lock, waited for
 * CTX_RELOAD_WAIT_MS at most (0 when taken, ETIMEDOUT), given back by
 * reload_unlock. A flag under a mutex and a condition variable on the
 * monotonic clock, not a mutex taken with a timeout: pthread_mutex_
 * timedlock's clock is the wall clock, which a step back made wait for
 * the whole reload and a step forward not at all; pthread_mutex_clocklock
 * is glibc's alone (POSIX.1-2024), and ThreadSanitizer does not see it
 * taken, so it reported every unlock and lost the ordering it gives. */
static int
reload_turn_init(struct gh_ctx *c)
{
	pthread_condattr_t a;
	int rc;

	if (pthread_condattr_init(&a) != 0)
		return -1;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&c->reload_cv, &a) == 0 ? 0 : -1;
	pthread_condattr_destroy(&a);
	if (rc == 0 && pthread_mutex_init(&c->reload_mu, NULL) != 0) {
		pthread_cond_destroy(&c->reload_cv);
		rc = -1;
	}
	return rc;
}

static int
reload_lock(struct gh_ctx *c)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += CTX_RELOAD_WAIT_MS / 1000;
	until.tv_nsec += (long)(CTX_RELOAD_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->reload_mu);
	while (c->reloading && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&c->reload_cv, &c->reload_mu, &until);
	if (c->reloading)
		rc = ETIMEDOUT;
	else {
		c->reloading = 1;
		rc = 0;
	}
	pthread_mutex_unlock(&c->reload_mu);
	return rc;
}

static void
reload_unlock(struct gh_ctx *c)
{
	pthread_mutex_lock(&c->reload_mu);
	c->reloading = 0;
	pthread_cond_signal(&c->reload_cv);
	pthread_mutex_unlock(&c->reload_mu);
}

/* 1 when what g says is all loaded. */
static int
all_loaded(struct gh_ctx *c, const struct store_gen *g)
{
	for (int k = 0; k < STORE_GEN__MAX; k++)
		if (g->v[k] != atomic_load(&c->loaded[k]))
			return 0;
	return 1;
}

/* What a failed reload of each kind logs (its failures are ERROR lines;
 * the names predate the throttling). */
static const char *const reload_failed_events[STORE_GEN__MAX] = {
	[STORE_GEN_DATA] = "keys.reload_failed",
	[STORE_GEN_LOCKS] = "auth.locks_reload_failed",
	[STORE_GEN_REVOKED] = "gate.revoked_reload_failed",
};

/* 1 while kind's reload of gen failed and its retry is not yet due. */
static int
retry_waits(struct gh_ctx *c, int kind, uint64_t gen, uint64_t now)
{
	return gen == atomic_load(&c->failed[kind]) && now < c->retry[kind].at_ns;
}

/* A reload of kind failed for reason: the next try waits longer, and the
 * log hears of it at the streak's start and then every CTX_RETRY_LOG_MS. */
static void
note_failure(struct gh_ctx *c, int kind, const char *reason)
{
	struct ctx_retry *r = &c->retry[kind];
	const char *labels[] = { store_gen_keys[kind] };
	uint64_t now = clock_mono_ns();

	r->wait_ms = r->wait_ms == 0 ? CTX_RETRY_MIN_MS :
	    r->wait_ms * 2 > CTX_RETRY_MAX_MS ? CTX_RETRY_MAX_MS : r->wait_ms * 2;
	r->at_ns = now + r->wait_ms * 1000000u;
	r->failures++;
	metrics_add("gatehouse_store_reload_failures_total", 1, labels);
	if (r->logged_ns != 0 && now - r->logged_ns < CTX_RETRY_LOG_MS * 1000000ull)
		return;
	r->logged_ns = now;
	log_event(LOG_ERROR, reload_failed_events[kind], json_pack("{s:s, s:I, s:I}",
	    "reason", reason, "failures", (json_int_t)r->failures,
	    "retry_in_ms", (json_int_t)r->wait_ms));
}

/* A reload of kind succeeded: a streak of failures ends, and says so. */
static void
note_success(struct gh_ctx *c, int kind)
{
	struct ctx_retry *r = &c->retry[kind];

	if (r->failures == 0)
		return;
	log_event(LOG_INFO, "store.reload_recovered", json_pack("{s:s, s:I}",
	    "generation", store_gen_keys[kind], "failures", (json_int_t)r->failures));
	memset(r, 0, sizeof(*r));
}

/* Kind's caches as of its generation gen: the lockout locks; for the
 * data, gate_epoch, moved first (the gate empties its token cache on seeing
 * it; once per generation, not again for each retry of a failed reload,
 * so that a gate whose database is away goes on answering from its
 * cache), the client cache, and the keys read again (and gate_epoch moved
 * once more when they are in place); for the revocations nothing here:
 * the gate sees loaded[STORE_GEN_REVOKED] move and brings its revoked set
 * up to date before it answers from its cache again, reading the tokens
 * revoked since (gate/revoked.h), and its cache drops only the entries of
 * those (gate/cache.h). 0, or -1 when the locks or the keys could not be
 * read (note_failure: the ones in memory stay in force, and a later
 * refresh tries again). In the reload turn (reload_lock). */
static int
reload_kind(struct gh_ctx *c, int kind, uint64_t gen)
{
	char err[256] = "";
	int rc = 0;

	if (kind == STORE_GEN_LOCKS) {
		if ((rc = ctx_reload_locks(c, clock_now(), gen)) == -1)
			snprintf(err, sizeof(err), "%s", store_last_error());
	} else if (kind == STORE_GEN_DATA) {
		if (gen != atomic_load(&c->failed[kind]))
			atomic_fetch_add(&c->gate_epoch, 1);
		client_cache_clear(c->clients);
		/* Moved again once the keys are swapped: a token checked
		 * meanwhile against the keys being replaced (a revoked one
		 * among them), while this reload ran or between a failed try
		 * and the one that succeeds, leaves the gate's cache with
		 * them. */
		if ((rc = ctx_reload_keys(c, err, sizeof(err))) == 0)
			atomic_fetch_add(&c->gate_epoch, 1);
	}
	if (rc == 0)
		note_success(c, kind);
	else
		note_failure(c, kind, err);
	atomic_store(rc == 0 ? &c->loaded[kind] : &c->failed[kind], gen);
	return rc;
}

int
ctx_refresh(struct gh_ctx *c)
{
	struct store_gen g;
	int rc = 0;

	if (store_generation(c->store, &g) != STORE_OK)
		return -1;
	note_seen(c, &g);
	if (all_loaded(c, &g))
		return 0;
	/* One thread reloads; the others that saw the change wait for it
	 * rather than answer from the caches it is replacing (a JWKS fetched
	 * right after a key rotation must list the new key). Changes are
	 * rare and reloads take milliseconds; a reload stuck on a store that
	 * stopped answering must not stop them all, so after a second they
	 * go on with what they have. */
	if (reload_lock(c) != 0)
		return 0;
	if (all_loaded(c, &g))
		goto out;	/* reloaded while we waited */
	atomic_store(&c->reload_ns, clock_mono_ns());
	/* Each kind reloads only what it covers: a lock made elsewhere (a
	 * brute force makes them many times a second) empties no cache, a
	 * revocation only the gate's. */
	for (int k = 0; k < STORE_GEN__MAX; k++) {
		if (g.v[k] == atomic_load(&c->loaded[k]))
			continue;
		if (retry_waits(c, k, g.v[k], clock_mono_ns()) || reload_kind(c, k, g.v[k]) == -1)
			rc = -1;
	}
out:
	atomic_store(&c->reload_ns, 0);
	reload_unlock(c);
	return rc;
}

int
ctx_client_address(const struct gh_ctx *c, const struct http_request *r,
    char out[46], int *https)
{
	const char *lines[HTTP_MAX_HEADERS], *proto;
	char who[FORWARDED_ADDR_MAX];
	size_t n;
	int rc = 0;

	str_copy(out, 46, r->peer_ip);
	*https = r->tls;
	if (c->trusted_proxies.n == 0 || !cidr_match(&c->trusted_proxies, r->peer_ip))
		return 0;
	if ((n = http_request_headers(r, "X-Forwarded-For", lines, HTTP_MAX_HEADERS)) > 0) {
		if (forwarded_client(&c->trusted_proxies, lines, n, who) == -1)
			rc = -1;
		else
			str_copy(out, 46, who);
	}
	if ((proto = http_request_header(r, "X-Forwarded-Proto", &n)) != NULL && n == 1)
		*https = strcmp(proto, "https") == 0;
	return rc;
}

/* -- lockout locks in the store (issue 5) ----------------------------------- */

void
ctx_lock_made(struct gh_ctx *c, const struct lockout_lock *lk)
{
	/* The lock is already in force here; the store makes it visible to
	 * the operator and other nodes, batched (lockwriter.h). A failed write
	 * is logged there and tried again; the lock stays in force here all
	 * the while (only a clear after its write lifts it: lockout.h). */
	lockwriter_add(c->lockwriter, lk);
	{
		/* The audit trail (issue 6): locks are made by the server. */
		struct audit_event ev;
		char detail[96];
		snprintf(detail, sizeof(detail), "{\"kind\":\"%s\",\"until\":%lld}",
		    lockout_kind_names[lk->kind], (long long)lk->until);
		memset(&ev, 0, sizeof(ev));
		ev.actor = "gatehouse";
		ev.address = lk->address;
		ev.action = "lock.made";
		ev.target = lk->client_id[0] != '\0' ? lk->client_id : lk->address;
		ev.outcome = "ok";
		ev.detail = detail;
		audit_emit(c, &ev);
	}
}

/* Appends a page's locks to *ll, at most max in all; *more set when the
 * page holds one past max. -1 out of memory. */
static int
append_locks(const struct store_lock *sl, size_t n, struct lockout_lock **ll, size_t *have,
    size_t *cap, size_t max, int *more)
{
	for (size_t i = 0; i < n; i++) {
		struct lockout_lock *l;
		if (*have == max) {
			*more = 1;
			return 0;
		}
		if (*have == *cap) {
			size_t ncap = *cap == 0 ? 64 : 2 * *cap < max ? 2 * *cap : max;
			struct lockout_lock *tmp = realloc(*ll, ncap * sizeof(**ll));
			if (tmp == NULL)
				return -1;
			*ll = tmp;
			*cap = ncap;
		}
		l = &(*ll)[(*have)++];
		memset(l, 0, sizeof(*l));
		l->kind = sl[i].kind == STORE_LOCK_ADDRESS ? LOCKOUT_ADDRESS : LOCKOUT_PAIR;
		snprintf(l->client_id, sizeof(l->client_id), "%s", sl[i].client_id);
		snprintf(l->address, sizeof(l->address), "%s", sl[i].address);
		l->until = sl[i].until;
		l->gen = sl[i].gen;
	}
	return 0;
}

/*
 * The locks in force at now, at most max (what the lockout table holds: a
 * flood can put far more in the store, and every node reloads on every
 * lock), a page at a time so that no read holds more than a page of rows.
 * *more set when the store has more. 0, or -1 (store_last_error).
 */
static int
read_locks(struct gh_ctx *c, int64_t now, size_t max, struct lockout_lock **ll, size_t *n,
    int *more)
{
	struct store_lock_page page = { 0 };
	struct store_lock *sl = NULL;
	size_t cap = 0, got = 0;
	int rc = 0;

	*ll = NULL;
	*n = 0;
	*more = 0;
	do {
		page.limit = max - *n + 1 < STORE_LIST_PAGE_MAX ? max - *n + 1 : STORE_LIST_PAGE_MAX;
		if (store_lock_list_page(c->store, now, &page, &sl, &got) != STORE_OK)
			rc = -1;
		else if (append_locks(sl, got, ll, n, &cap, max, more) == -1)
			rc = -1;
		store_lock_free(sl, got);
		sl = NULL;
		if (rc == 0 && *n > 0) {	/* the next page starts after the last lock */
			const struct lockout_lock *last = &(*ll)[*n - 1];
			page.after_address = last->address;
			page.after_client_id = last->client_id;
			page.after_kind = last->kind == LOCKOUT_ADDRESS ? STORE_LOCK_ADDRESS :
			    STORE_LOCK_PAIR;
		}
	} while (rc == 0 && !*more && got == page.limit);
	if (rc == -1) {
		free(*ll);
		*ll = NULL;
		*n = 0;
	}
	return rc;
}

/* The clears recorded since the last read (store_lock_cleared_since),
 * a page at a time, each page applied with locks[0..n) (the first) as
 * lockout_sync takes them; the cursor moves past each page applied. 0, or
 * -1 when the store could not be read (the next reload reads on from the
 * last page applied) or memory ran out. */
#define CLEARED_PAGE 256
static int
sync_clears(struct gh_ctx *c, const struct lockout_lock *ll, size_t n, struct lockout_now ln)
{
	struct lockout_cleared lc[CLEARED_PAGE];
	struct store_lock_cleared *sc = NULL;
	struct lockout_lock *removed = NULL;
	size_t got = 0, nremoved = 0;
	int rc = 0, first = 1;

	do {
		if (store_lock_cleared_since(c->store, c->locks_cleared_gen, CLEARED_PAGE, &sc,
		    &got) != STORE_OK) {
			got = 0;
			rc = -1;
		}
		for (size_t i = 0; i < got; i++) {
			lc[i].address = sc[i].address;
			lc[i].client_id = sc[i].client_id;
			lc[i].gen = sc[i].gen;
		}
		/* The locks are placed even when the clears could not be read. */
		if ((rc == 0 || first) && lockout_sync(c->lockout, first ? ll : NULL, first ? n : 0,
		    lc, got, ln, &removed, &nremoved) == -1)
			rc = -1;
		lockwriter_log_unlocks(removed, nremoved, "cleared");
		free(removed);
		removed = NULL;
		if (got > 0)
			c->locks_cleared_gen = sc[got - 1].gen;
		store_lock_cleared_free(sc, got);
		sc = NULL;
		first = 0;
	} while (rc == 0 && got == CLEARED_PAGE);
	return rc;
}

int
ctx_reload_locks(struct gh_ctx *c, int64_t now, uint64_t gen)
{
	struct lockout_lock *ll = NULL;
	size_t n = 0;
	int more = 0, rc;

	struct lockout_now ln = lockout_now_at(now);

	/* From leeway back: a lock that looks just ended may be another
	 * node's whose clock is behind this one's (lockout.h). */
	if (read_locks(c, lockout_read_after(c->lockout, ln), LOCKOUT_MAX_ENTRIES, &ll, &n,
	    &more) == -1)
		return -1;
	/* Past the bound, the locks not read are not placed here: said
	 * once, not at every reload. Clears are read whole all the same. */
	if (more && !c->locks_incomplete)
		log_event(LOG_WARN, "auth.locks_reload_incomplete", json_pack("{s:I, s:s}",
		    "read", (json_int_t)n, "note", "more locks in force than this server holds:"
		    " those read are placed, and the others only on the node that made them"));
	else if (!more && c->locks_incomplete)
		log_event(LOG_INFO, "auth.locks_reload_complete", json_pack("{s:I}",
		    "read", (json_int_t)n));
	c->locks_incomplete = more;
	/* A store whose generation went back (restored) numbers its clears
	 * anew: read them all again (harmless: a clear read twice lifts
	 * nothing more, only locks stored before it). */
	if (gen < c->locks_cleared_gen)
		c->locks_cleared_gen = 0;
	rc = sync_clears(c, ll, n, ln);
	free(ll);
	return rc;
}

void
ctx_lock_housekeeping(struct gh_ctx *c, int64_t now)
{
	struct lockout_lock *ls = NULL;
	size_t n = 0;

	if (lockout_expired(c->lockout, lockout_now_at(now), &ls, &n) == 0)
		lockwriter_log_unlocks(ls, n, "expired");
	free(ls);
}

void
ctx_learn_failures(struct gh_ctx *c, int64_t now)
{
	struct store_failure_row *rows = NULL;
	size_t n = 0;

	if (!c->cfg->lockout || !store_is_shared(c->store))
		return;
	/* Best effort: unread, a count left by another node only ages out. */
	if (store_failure_pairs(c->store, now, c->cfg->lockout_window, CTX_FAILURE_PAIRS_MAX,
	    &rows, &n) != STORE_OK)
		return;
	for (size_t i = 0; i < n; i++)
		lockout_note_failures(c->lockout, rows[i].client_id, rows[i].address,
		    rows[i].failures, rows[i].window_start, lockout_now_at(now));
	store_failure_free(rows, n);
}
