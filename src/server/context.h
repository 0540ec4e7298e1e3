/*
 * context.h — what a running server shares between its threads: the
 * configuration, the store, keys derived from the master key, the keyring
 * and the client cache, and the logic that keeps the caches in step with the
 * store (the change generation; see store_generation()).
 */
#ifndef GH_CONTEXT_H
#define GH_CONTEXT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config/config.h"
#include "jose/keyring.h"
#include "net/cidr.h"
#include "oauth/client_cache.h"
#include "security/lockout.h"
#include "security/ratelimit.h"
#include "store/store.h"

struct gate;
struct lockwriter;
struct ratesync;

struct gh_ctx {
	const struct config	*cfg;
	struct store		*store;
	uint8_t			 secret_key[32];	/* HMAC key of client secrets */
	uint8_t			 seal_key[32];	/* seals signing keys */
	uint8_t			 opaque_key[32];	/* enciphers opaque tokens */
	char			 issuer[CONFIG_MAX_ISSUER + 1];
	int			 require_https;
	int			 tls;
	struct cidr_list	 trusted_proxies;
	char			*audiences;	/* allowed, space separated */

	pthread_mutex_t		 lock;		/* keyring swap, reloads */
	struct keyring		*keyring;
	/* Each keys load takes a ticket before it reads the store; a load
	 * installs its keyring only over one of an older ticket (under lock):
	 * loads run on several threads at once (SIGHUP, the admin API, a
	 * refresh), and the last to finish is not the last to have read. */
	_Atomic uint64_t	 keys_tickets;
	uint64_t		 keyring_ticket;	/* the installed keyring's */
	struct client_cache	*clients;
	/* Each kind of the store's generations (store.h store_gen_kind): */
	_Atomic uint64_t	 loaded[STORE_GEN__MAX];	/* whose reload finished */
	_Atomic uint64_t	 seen[STORE_GEN__MAX];	/* the last read from the store */
	_Atomic uint64_t	 failed[STORE_GEN__MAX];	/* the last whose reload failed */
	/* Moves (before the reload) on every change of the data, and again
	 * when a change's keys are in place: the gate empties its token cache
	 * on seeing it (gate_sync_generation). A revocation does not move it:
	 * the gate follows loaded[STORE_GEN_REVOKED] with its revoked set,
	 * which its cache checks entries against (gate/cache.h). */
	_Atomic uint64_t	 gate_epoch;
	_Atomic uint64_t	 reload_ns;	/* when the running reload began; 0: none */
	/* One reload at a time; others wait for it (context.c reload_lock): */
	pthread_mutex_t		 reload_mu;	/* guards reloading */
	pthread_cond_t		 reload_cv;	/* on the monotonic clock */
	int			 reloading;	/* the turn is taken */
	_Atomic uint64_t	 refreshed_ns;	/* ctx_refresh_every's last read */
	/* The group commit's last batch failed (a full disk): /readyz then
	 * says ready only once its own probe write commits. */
	_Atomic int		 writes_failing;
	/* A failed reload's retries, each kind apart (the reload turn's): */
	struct ctx_retry {
		uint64_t	 at_ns;		/* not again before; 0: none failed */
		uint64_t	 wait_ms;	/* after the next failure */
		uint64_t	 logged_ns;	/* the last failure logged */
		unsigned	 failures;	/* since the streak began */
	}			 retry[STORE_GEN__MAX];
	struct gate		*gate;		/* src/gate: policy and token cache */
	struct lockout		*lockout;	/* bad-credential counters and locks */
	int			 locks_incomplete;	/* the last reload read no more than
						   the table holds (the reload turn's) */
	uint64_t		 locks_cleared_gen;	/* the clears read up to this
						   generation (the reload turn's) */
	struct lockwriter	*lockwriter;	/* writes the locks made here to the store */
	struct ratelimit	*ratelimit;	/* issuance per client */
	struct ratesync		*ratesync;	/* shares its counts (shared stores only) */
	struct offload		*offload;	/* store reads off the loops (shared stores only) */
};

/* Derives the server keys from the master key (and sets the audit key on
 * the store: audit.h audit_key_use) and opens caches. The store and config
 * stay the caller's. 0, or -1 with a reason in err. */
int	ctx_init(struct gh_ctx *, const struct config *, struct store *,
	    const uint8_t master[32], const char *issuer, char *err, size_t errlen);
void	ctx_clear(struct gh_ctx *);

/* Brings caches in step with the store when a generation moved: the
 * client cache and the keys on the data's, the lockout locks on the locks',
 * the gate's token cache (through gate_epoch) on the data's, and its
 * revoked set (through loaded[]) on the revocations'. Called at the start of
 * each request that reads cached state; cheap when nothing changed. When
 * it returns, every change the store had when it was called is loaded (it
 * waits for a reload another thread is doing, up to CTX_RELOAD_WAIT_MS): a
 * request after the CLI's change sees it. 0, or -1 when the store cannot
 * be read (the caches stay). */
#define CTX_RELOAD_WAIT_MS	1000
/*
 * A reload that failed (the keys or locks could not be read, or a key does
 * not unseal) is tried again for the same generation no sooner than
 * CTX_RETRY_MIN_MS later, the wait doubling with each failure up to
 * CTX_RETRY_MAX_MS, and logged at its first failure and then once every
 * CTX_RETRY_LOG_MS (with the count): a store that keeps refusing is not
 * read, nor a line logged, once a millisecond. A new generation is tried
 * at once. Every failure counts in gatehouse_store_reload_failures_total;
 * the reload that ends a streak logs store.reload_recovered.
 */
#define CTX_RETRY_MIN_MS	100
#define CTX_RETRY_MAX_MS	5000
#define CTX_RETRY_LOG_MS	60000
int	ctx_refresh(struct gh_ctx *);
/*
 * ctx_refresh for a request handler: the generation is read by one thread
 * at most once per interval_ms (0: every call), and the others go on with
 * what it saw (the read takes the store's lock, with SQLite a file lock
 * too: not something to do per request); but while a change already seen
 * is not yet loaded, every call reloads or waits for the reload.
 *
 * With may_wait 0 (ctx_may_wait: an HTTP loop in front of a shared store)
 * nothing waits on the store: the generations are the cached ones
 * (store_generation_cached), and when a change the caller needs is due
 * (the data's, and each kind of needs) the call returns 1
 * without loading it, for the caller to hand its request to the offload
 * pool, where this runs again and reloads (the keys and locks are store
 * reads). A change whose reload failed (each kind apart), or whose reload has run for
 * CTX_RELOAD_WAIT_MS, is not due (there or on the pool): requests go on
 * with the caches they have, as ctx_refresh's waiters do, while later
 * turns and the server's once-a-second refresh retry it (paced: see
 * CTX_RETRY_MIN_MS). Otherwise 0.
 */
/* needs: a set of STORE_GEN_BIT (store.h) beyond the data's. */
#define CTX_NEEDS_LOCKS		STORE_GEN_BIT(STORE_GEN_LOCKS)		/* token requests */
#define CTX_NEEDS_REVOKED	STORE_GEN_BIT(STORE_GEN_REVOKED)	/* the gate */
int	ctx_refresh_every(struct gh_ctx *, int64_t interval_ms, int may_wait,
	    unsigned needs);
/* A change was made through this process (the admin API; where it may
 * wait): loads it now, and gives the next ctx_refresh_every its turn to
 * read the generation whatever the interval, so that the next request, on
 * any thread, sees it. No-op when nothing changed. */
void	ctx_changed_here(struct gh_ctx *);
/* 1 when the handler of x may wait on the store: the store's reads are
 * local (SQLite), or x runs on the offload pool. 0 on an HTTP loop in front
 * of a shared store (server/offload.h). */
struct http_exchange;
int	ctx_may_wait(const struct gh_ctx *, const struct http_exchange *x);
/* Reloads the keyring now (after key changes, and on a schedule). */
int	ctx_reload_keys(struct gh_ctx *, char *err, size_t errlen);
/* The current keyring, a new reference (keyring_unref when done). */
struct keyring *ctx_keyring(struct gh_ctx *);

/* A lock was made here: persist it so the operator and other nodes see it. */
void	ctx_lock_made(struct gh_ctx *, const struct lockout_lock *);
/* Brings the in-memory locks in step with the store's (ctx_refresh does on
 * every change of the locks' generation; gen: that generation, read before
 * the reload);
 * logs and counts the locks cleared elsewhere. 0, or -1 when the store
 * cannot be read (store_last_error says why). */
int	ctx_reload_locks(struct gh_ctx *, int64_t now, uint64_t gen);
/* The server, once it serves: nodes sharing a store share their issuance
 * counts (ratesync.h); nothing to do on a store of one node. 0 or -1. */
int	ctx_share_rate_limits(struct gh_ctx *, char *err, size_t errlen);
/* The server, once it serves, on a shared store: starts the threads that
 * run the requests which must first read the database (offload.h), one per
 * pooled connection (store_connections), so that none waits for it on an
 * HTTP loop. Nothing to do on a store of one node,
 * whose reads are local. 0, or -1 with a reason in err. */
int	ctx_start_offload(struct gh_ctx *, char *err, size_t errlen);
/* Logs and counts the locks that ran out (the server's housekeeping). */
void	ctx_lock_housekeeping(struct gh_ctx *, int64_t now);
/* On a shared store, learns the pairs other nodes counted failures for
 * (at most CTX_FAILURE_PAIRS_MAX, the newest), so that a success here
 * clears their count in the store as it would on the node that saw them;
 * no-op otherwise. Called once a second. */
#define CTX_FAILURE_PAIRS_MAX	1000
void	ctx_learn_failures(struct gh_ctx *, int64_t now);

/* The caller's address: the TCP peer, or, when the peer is a trusted proxy,
 * the nearest untrusted address of its X-Forwarded-For (net/forwarded.h),
 * written canonically into out (46 bytes). *https gets whether the
 * original call used HTTPS. 0; or -1 when a trusted proxy's
 * X-Forwarded-For names the caller with something that is not an address:
 * the caller is unknown, out holds the proxy's address for the log only,
 * and a check by address (allowlists, lockouts) must refuse the request
 * (CTX_UNKNOWN_CALLER). X-Real-IP is not read: a proxy that sets it may
 * pass its client's own X-Forwarded-For through. */
#define CTX_UNKNOWN_CALLER	"X-Forwarded-For from a trusted proxy does not name the " \
	"caller's address (an IP address, IPv4 with a port or [IPv6] with one)"
struct http_request;
int	ctx_client_address(const struct gh_ctx *, const struct http_request *,
	    char out[46], int *https);

#endif
