/* client_auth.c — see client_auth.h. Moved here from issue.c so that
 * introspection and revocation authenticate exactly as the token routes. */
#include <string.h>

#include <openssl/crypto.h>

#include "obs/log.h"
#include "obs/metrics.h"
#include "oauth/client_auth.h"
#include "security/lockout.h"
#include "security/secret.h"
#include "server/context.h"

static int
authenticate(struct gh_ctx *ctx, const char *client_id, const char *secret,
    int basic, struct client_entry **out, int64_t now, int64_t *age_days,
    struct oauth_error *e)
{
	uint8_t h[SECRET_HASH_LEN];
	struct client_entry *ce = NULL;
	int rc, ok = 0;

	/* Hash first, whatever happens next, so an unknown id costs the same. */
	secret_hash(ctx->secret_key, secret, strlen(secret), h);
	rc = client_cache_get(ctx->clients, client_id, &ce);
	if (rc == STORE_UNAVAILABLE || (rc != STORE_OK && rc != STORE_NOTFOUND))
		return oauth_fail(e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "the store is unavailable; try again");
	if (rc == STORE_OK) {
		for (size_t i = 0; i < ce->nsecrets; i++) {
			int live = ce->secrets[i].expires_at == 0 || ce->secrets[i].expires_at > now;
			if (secret_equal(h, ce->secrets[i].hash) && live) {
				ok = 1;
				*age_days = (now - ce->secrets[i].created_at) / 86400;
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

	if (!ctx->cfg->lockout || !lockout_check(ctx->lockout, client_id, peer_ip, now, &retry))
		return 0;
	oauth_fail(e, 429, OAUTH_UNAUTHORIZED_CLIENT, "This account has been temporarily "
	    "locked for security reasons. Please try again later.");
	e->retry_after = retry;
	return -1;
}

static void
count_failure(struct gh_ctx *ctx, const char *client_id, const char *peer_ip,
    int64_t now)
{
	struct lockout_lock lk;
	const char *labels[1];

	if (!ctx->cfg->lockout || !lockout_failure(ctx->lockout, client_id, peer_ip, now, &lk))
		return;
	labels[0] = lockout_kind_names[lk.kind];
	metrics_add("gatehouse_lockouts_total", 1, labels);
	log_event(LOG_WARN, "auth.locked", json_pack("{s:s, s:s, s:s, s:I}",
	    "kind", lockout_kind_names[lk.kind], "peer", lk.address,
	    "client", lk.client_id, "until", (json_int_t)lk.until));
	ctx_lock_made(ctx, &lk);
}

int
oauth_client_login(struct gh_ctx *ctx, const char *client_id, const char *secret,
    int basic, const char *peer_ip, int64_t now, struct client_entry **out,
    int64_t *secret_age_days, struct oauth_error *e)
{
	*out = NULL;
	if (check_lockout(ctx, client_id, peer_ip, now, e) == -1)
		return -1;
	if (authenticate(ctx, client_id, secret, basic, out, now, secret_age_days, e) == -1) {
		if (e->code == OAUTH_INVALID_CLIENT)
			count_failure(ctx, client_id, peer_ip, now);
		return -1;
	}
	if (ctx->cfg->lockout)
		lockout_success(ctx->lockout, client_id, peer_ip);
	return 0;
}
