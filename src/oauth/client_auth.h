/*
 * client_auth.h — client authentication (RFC 6749 §2.3.1) as every endpoint
 * that takes client credentials does it: the token routes, introspection
 * (RFC 7662 §2.1) and revocation (RFC 7009 §2.1). One place for the lockout
 * check, the constant-time secret comparison (an unknown id costs what a
 * known one does), failure counting and the success reset.
 */
#ifndef GH_CLIENT_AUTH_H
#define GH_CLIENT_AUTH_H

#include <stdint.h>

#include "oauth/client_cache.h"
#include "oauth/token_request.h"

struct gh_ctx;

/*
 * Authenticates client_id with secret from peer_ip at now. basic says the
 * credentials came in an Authorization: Basic header (a 401 then carries a
 * Basic challenge). Returns 0 with *out a new reference (release it) and
 * *secret_age the age in seconds of the secret that matched; or -1 with e filled:
 * 429 when the caller is locked out (seed 003's body), 401 invalid_client,
 * 503 when the store cannot be read. Failures are counted, and locks made,
 * per IPv4 address and per IPv6 /64 (net/cidr.h cidr_lock_key).
 *
 * With no_wait (an HTTP loop in front of a shared store, server/offload.h)
 * a login that must read the store (a client not in memory) or write to it
 * (a failure's count, or a success clearing a pair's failures) returns 1
 * having changed nothing, so that the caller can run it again where
 * waiting is allowed.
 */
int	oauth_client_login(struct gh_ctx *, const char *client_id,
	    const char *secret, int basic, int no_wait, const char *peer_ip, int64_t now,
	    struct client_entry **out, int64_t *secret_age,
	    struct oauth_error *e);

#endif
