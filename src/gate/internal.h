/*
 * internal.h — what the gate's files share: struct gate. Not for use
 * outside src/gate/ (gate.h is the interface).
 */
#ifndef GH_GATE_INTERNAL_H
#define GH_GATE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "approvals/approvals.h"
#include "gate/bearer.h"
#include "gate/cache.h"
#include "gate/policy.h"
#include "gate/revoked.h"
#include "http/http.h"

struct gh_ctx;

struct gate {
	struct gh_ctx		*ctx;
	pthread_mutex_t		 lock;		/* guards policy (the swap) */
	struct policy		*policy;	/* NULL: none configured */
	struct gate_cache	*cache;		/* NULL: gate_cache off */
	_Atomic uint64_t	 cache_gen;	/* store generation the cache is of */
	/* Checks answered from the cache and not, for /metrics (counted here,
	 * not with metrics_add: its one lock on every check would cost every
	 * loop more than the lookup). */
	_Atomic uint64_t	 cache_hits, cache_misses;
	pthread_mutex_t		 revoked_mu;	/* guards the two below, and refreshes */
	struct revoked_set	*revoked;	/* NULL until first needed */
	int			 revoked_failed; /* the last refresh failed: load in full */
	/* The context's loaded revocation generation (ctx->loaded[
	 * STORE_GEN_REVOKED], read before the refresh) the set, and the
	 * cache's copy of it, are up to date with. */
	_Atomic uint64_t	 revoked_tag;
	/* The set's revoked_set_floor, for checks that do not take
	 * revoked_mu: a check whose time less leeway is behind it (the wall
	 * clock went back) refreshes the set before it trusts the cache. */
	_Atomic int64_t		 revoked_floor;
};

/* The set is read with a time this much earlier than the refresher's
 * (less leeway): it keeps a revoked token that long past its expiry and
 * leeway, so that a check whose time was taken just before a refresh on
 * another thread is not taken for a clock stepped back. */
#define GATE_REVOKED_SLACK_S	5

/* Brings the context in step with the store (ctx_refresh_every, reading
 * the generation at most once per gate_refresh_ms across all threads), then
 * empties the token cache if the data generation moved since it was filled,
 * and brings the revoked set (which the cache checks its entries against)
 * up to date if a revocation was loaded since or the wall clock (now) went
 * back behind its last read. 0; or 1 when may_wait is 0
 * (ctx_may_wait) and a change must first be loaded from the store: the
 * caller hands its request to the offload pool. */
int	gate_refresh(struct gh_ctx *, int may_wait, int64_t now);
/* Empties the cache when the context has seen a newer store generation
 * than the cache was filled at. Call after ctx_refresh(). */
void	gate_sync_generation(struct gate *);

/* The revoked-token set of the context's loaded revocation generation,
 * with a reference for the caller; brought up to date from the store when
 * that moved (revoked_set_refresh: the rows revoked since, in full only
 * now and then). Returns a store_err; on failure *out is NULL. */
int	gate_revoked_get(struct gate *, struct revoked_set **out);

/* approval.c: a critical route's X-Approval-ID, consumed on success. 0, or
 * -1 with r filled. Never cached. method: the original call's, path: its
 * normalized path. On success bound gets the body digest the approval
 * binds ("" none), which the answer passes on for the upstream to check
 * the body it receives against (the gate never sees it behind nginx). */
int	gate_approval_check(struct gh_ctx *, const struct http_request *,
	    const struct gate_principal *, const char *method, const char *path,
	    char bound[APPROVALS_DIGEST_MAX], struct gate_refusal *r);

/* The handlers of introspect.c. */
enum http_result gate_introspect_handle(struct http_exchange *);
enum http_result gate_revoke_handle(struct http_exchange *);

#endif
