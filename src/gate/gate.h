/*
 * gate.h — the gate: nginx auth_request checks (/gate), token introspection
 * (RFC 7662, /oauth/introspect) and revocation (RFC 7009, /oauth/revoke).
 *
 * A gate check flows one way: the original call's headers → the token cache
 * or the verifier (bearer.h) → the route policy (policy.h) → an answer: 200
 * with the caller's identity in X-Gatehouse-* headers, 401 with an RFC 6750
 * §3 challenge, 403 with the reason, 400 for a call that cannot be judged.
 *
 * The gate hangs off struct gh_ctx (ctx->gate) and lives as long as it.
 */
#ifndef GH_GATE_H
#define GH_GATE_H

#include <stddef.h>

struct gh_ctx;
struct gate;
struct route_table;

/* Builds ctx->gate and loads the policy file cfg->policy. With none
 * configured the gate starts and refuses every call, saying so. 0, or -1
 * with every bad policy line ("FILE:LINE: reason") in err. */
int	gate_init(struct gh_ctx *, char *err, size_t errlen);
/* Reloads the policy file (SIGHUP). Calls in flight finish under the old
 * policy; on a parse error the old policy stays and err says why. 0 or -1. */
int	gate_reload(struct gh_ctx *, char *err, size_t errlen);
/* Frees ctx->gate after the server stopped; NULL is a no-op. */
void	gate_free(struct gate *);
/* A token was revoked through this process (where it may wait on the
 * store): the revoked set is brought up to date now, so that the next
 * call, on any thread, refuses it; the other cached tokens stay. (Another
 * process's revocation is seen at the gate's next refresh turn.) NULL
 * ctx->gate: no-op. */
void	gate_token_revoked(struct gh_ctx *);
/* Sets gatehouse_gate_cache_lookups_total{result="hit"|"miss"} to the
 * counts so far (before /metrics is rendered). NULL ctx->gate: no-op. */
void	gate_metrics_publish(struct gh_ctx *);
/* Adds GET, HEAD and POST /gate, POST /oauth/introspect, POST /oauth/revoke. */
int	gate_routes_add(struct route_table *, struct gh_ctx *);

#endif
