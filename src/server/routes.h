/*
 * routes.h — the server's route table (STYLE 4): the dialect routes as the
 * configuration places them, and the fixed routes (JWKS, metadata, health,
 * metrics). Built once at start; startup fails on a bad or doubled path.
 */
#ifndef GH_ROUTES_H
#define GH_ROUTES_H

#include <stddef.h>

#include "http/http.h"
#include "oauth/token_route.h"

#define ROUTES_MAX 64

struct offload;

/* A route whose every request reads the store, as routes_add_offloaded
 * registers it on a shared store. */
struct offloaded_route {
	http_handler_fn	 handler;
	void		*ctx;		/* the route's own */
	struct offload	*pool;
};

struct route_table {
	struct http_route	routes[ROUTES_MAX];
	size_t			n;
	struct token_route	token_routes[DIALECT__MAX];
	const char		*token_paths[DIALECT__MAX];	/* NULL: off */
	struct offloaded_route	offloaded[ROUTES_MAX];
	size_t			noffloaded;
};

struct gh_ctx;

/* Fills t for ctx. 0, or -1 with a reason in err. */
int	routes_build(struct route_table *t, struct gh_ctx *ctx, char *err,
	    size_t errlen);
/* Adds one route (for modules that bring their own). 0 or -1 when full. */
int	routes_add(struct route_table *t, const struct http_route *r);
/* The same for a route whose every request reads the store (the admin and
 * approvals APIs, introspection, revocation, /readyz): on a shared store, where
 * ctx has an offload pool, its handler runs on the pool rather than the
 * HTTP loop (server/offload.h), and a full pool is a 503 with Retry-After.
 * Elsewhere it is routes_add. */
int	routes_add_offloaded(struct route_table *t, const struct http_route *r,
	    const struct gh_ctx *ctx);

#endif
