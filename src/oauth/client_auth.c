/* client_auth.c — see client_auth.h. Moved here from issue.c so that
 * introspection and revocation authenticate exactly as the token routes. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "net/cidr.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "oauth/client_auth.h"
#include "security/lockout.h"
#include "security/secret.h"
#include "server/context.h"

/* 0 with *out, -1 with e filled, or 1 when no_wait and only the store
 * knows the client (nothing read). */
static int
authenticate(struct gh_ctx *ctx, const char *client_id, const char *secret,
    int basic, int no_wait, struct client_entry **out, int64_t now, int64_t *age,
    struct oauth_error *e)
{
	uint8_t h[SECRET_HASH_LEN];
	struct client_entry *ce = NULL;
	int rc, ok = 0, hashed;

	if (no_wait && !client_cache_peek(ctx->clients, client_id, &ce, &rc))
		return 1;
	/* Hash first, whatever happens next, so an unknown id costs the same. */
	hashed = secret_hash(ctx->secret_key, secret, strlen(secret), h) == 0;
	if (!no_wait)
		rc = client_cache_get(ctx->clients, client_id, &ce);
	/* A hash not made (out of memory) says nothing of the secret: not a
	 * failure to count against the caller, who may hold the right one. */
	if (!hashed) {
		client_entry_release(ce);
		return oauth_fail(e, 503, OAUTH_TEMPORARILY_UNAVAILABLE,
		    "the secret cannot be checked now; try again");
	}
	if (rc == STORE_UNAVAILABLE || (rc != STORE_OK && rc != STORE_NOTFOUND))
		return oauth_fail(e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "the store is unavailable; try again");
	if (rc == STORE_OK) {
		for (size_t i = 0; i < ce->nsecrets; i++) {
			int live = ce->secrets[i].expires_at == 0 || ce->secrets[i].expires_at > now;
			if (secret_equal(h, ce->secrets[i].hash) && live) {
				ok = 1;
				*age = now - ce->secrets[i].created_at;
			}
		}
	}
	OPENSSL_cleanse(h, sizeof(h));
	if (!ok) {
		client_entry_release(ce);
		oauth_fail(e, 401, OAUTH_INVALID_CLIENT, "client authentication failed");
		e->basic_challenge = basic;
		return -1;
	}
	*out = ce;
	return 0;
}

/* Seed 003's answer to a locked caller, even with the right secret. */
static int
check_lockout(struct gh_ctx *ctx, const char *client_id, const char *peer_ip,
    int64_t now, struct oauth_error *e)
{
	int64_t retry = 0;

	if (!ctx->cfg->lockout ||
	    !lockout_check(ctx->lockout, client_id, peer_ip, lockout_now_at(now), &retry))
		return 0;
	oauth_fail(e, 429, OAUTH_UNAUTHORIZED_CLIENT, "This account has been temporarily "
	    "locked for security reasons. Please try again later.");
	e->retry_after = retry;
	return -1;
}

/*
 * Counts a failure: in the store when several nodes share it, so that a
 * caller spreading guesses over nodes is counted once (a round trip on
 * the failure path only); in this process's memory otherwise, or when the
 * store cannot count (an unreachable database must not stop the lockout).
 */
static int
failure(struct gh_ctx *ctx, const char *client_id, const char *peer_ip, int64_t now,
    struct lockout_lock made[LOCKOUT_KIND__MAX])
{
	struct store_failure_key k[2] = {
		{ STORE_LOCK_PAIR, peer_ip, client_id },
		{ STORE_LOCK_ADDRESS, peer_ip, "" },
	};
	int64_t counts[2];

	if (store_is_shared(ctx->store) &&
	    store_failure_add(ctx->store, k, 2, now, ctx->cfg->lockout_window, counts) == STORE_OK)
		return lockout_failure_counted(ctx->lockout, client_id, peer_ip,
		    lockout_now_at(now), counts[0], counts[1], made);
	return lockout_failure(ctx->lockout, client_id, peer_ip, lockout_now_at(now), made);
}

/* One lock just made: counted, logged, stored and audited (ctx_lock_made). */
static void
lock_made(struct gh_ctx *ctx, const struct lockout_lock *lk)
{
	const char *labels[1];

	labels[0] = lockout_kind_names[lk->kind];
	metrics_add("gatehouse_lockouts_total", 1, labels);
	log_event(LOG_WARN, "auth.locked", json_pack("{s:s, s:s, s:s, s:I}",
	    "kind", lockout_kind_names[lk->kind], "peer", lk->address,
	    "client", lk->client_id, "until", (json_int_t)lk->until));
	ctx_lock_made(ctx, lk);
	if (store_is_shared(ctx->store)) {
		/* A lock made starts a fresh count, as in memory. Best effort:
		 * a failed reset only leaves an old count to age out. */
		struct store_failure_key k = { lk->kind == LOCKOUT_ADDRESS ? STORE_LOCK_ADDRESS :
		    STORE_LOCK_PAIR, lk->address, lk->client_id };
		(void)store_failure_reset(ctx->store, &k, 1);
	}
}

/* Counts a failure; each lock it makes (the pair's and the address's may
 * come with the same failure) is reported, or it would be in force here
 * alone, out of `lock list` and beyond `lock clear`. */
static void
count_failure(struct gh_ctx *ctx, const char *client_id, const char *peer_ip,
    int64_t now)
{
	struct lockout_lock made[LOCKOUT_KIND__MAX];
	int n;

	if (!ctx->cfg->lockout)
		return;
	n = failure(ctx, client_id, peer_ip, now, made);
	for (int i = 0; i < n; i++)
		lock_made(ctx, &made[i]);
}

int
oauth_client_login(struct gh_ctx *ctx, const char *client_id, const char *secret,
    int basic, int no_wait, const char *peer, int64_t now, struct client_entry **out,
    int64_t *secret_age, struct oauth_error *e)
{
	char peer_ip[CIDR_LOCK_KEY_LEN];
	/* What this login would write to a shared store: see the header. */
	int writes = no_wait && ctx->cfg->lockout && store_is_shared(ctx->store), rc;

	*out = NULL;
	/* Counted and locked per IPv6 /64 (net/cidr.h cidr_lock_key). */
	if (cidr_lock_key(peer, peer_ip, sizeof(peer_ip)) == -1)
		snprintf(peer_ip, sizeof(peer_ip), "%s", peer);
	if (check_lockout(ctx, client_id, peer_ip, now, e) == -1)
		return -1;
	if ((rc = authenticate(ctx, client_id, secret, basic, no_wait, out, now,
	    secret_age, e)) != 0) {
		if (rc == 1 || e->code != OAUTH_INVALID_CLIENT)
			return rc;
		if (writes)
			return 1;
		count_failure(ctx, client_id, peer_ip, now);
		return -1;
	}
	if (writes && lockout_has_failures(ctx->lockout, client_id, peer_ip)) {
		client_entry_release(*out);
		*out = NULL;
		return 1;
	}
	/* A success clears the pair's count; in the shared store only when
	 * this node saw failures for it, so that a success costs no round
	 * trip in the common case (a count left by another node ages out). */
	if (ctx->cfg->lockout && lockout_success(ctx->lockout, client_id, peer_ip) &&
	    store_is_shared(ctx->store)) {
		struct store_failure_key k = { STORE_LOCK_PAIR, peer_ip, client_id };
		(void)store_failure_reset(ctx->store, &k, 1);
	}
	return 0;
}
