/* routes.c — see routes.h. */
#include <stdio.h>
#include <string.h>

#include "admin/admin.h"
#include "approvals/api.h"
#include "gate/gate.h"
#include "server/context.h"
#include "server/offload.h"
#include "server/public.h"
#include "server/routes.h"

int
routes_add(struct route_table *t, const struct http_route *r)
{
	if (t->n == ROUTES_MAX)
		return -1;
	t->routes[t->n++] = *r;
	return 0;
}

/* The answer to a request the pool cannot take, or took too late. */
static enum http_result
store_busy(struct http_exchange *x)
{
	http_response_json(&x->resp, 503, json_pack("{s:s, s:s}", "error",
	    "temporarily_unavailable", "error_description", "the store is busy; try again"));
	http_response_header(&x->resp, "Retry-After", "1");
	return HTTP_DONE;
}

/* On the pool: the route's handler, unless x waited too long for it. */
static enum http_result
offloaded_run(struct http_exchange *x)
{
	const struct offloaded_route *o = x->route_ctx;

	x->route_ctx = o->ctx;	/* the handler's own, from here on */
	if (offload_is_late(x))
		return store_busy(x);
	return o->handler(x);
}

static enum http_result
offloaded_route(struct http_exchange *x)
{
	const struct offloaded_route *o = x->route_ctx;

	if (offload_exchange(o->pool, x, offloaded_run) == 0)
		return HTTP_DEFERRED;
	x->route_ctx = o->ctx;
	return store_busy(x);
}

int
routes_add_offloaded(struct route_table *t, const struct http_route *r,
    const struct gh_ctx *ctx)
{
	struct http_route w = *r;
	struct offloaded_route *o;

	if (ctx->offload == NULL)
		return routes_add(t, r);
	if (t->noffloaded == ROUTES_MAX)
		return -1;
	o = &t->offloaded[t->noffloaded++];
	o->handler = r->handler;
	o->ctx = r->ctx;
	o->pool = ctx->offload;
	w.handler = offloaded_route;
	w.ctx = o;
	return routes_add(t, &w);
}

int
routes_build(struct route_table *t, struct gh_ctx *ctx, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < DIALECT__MAX; i++) {
		const struct dialect *d = &dialect_table[i];
		const char *path = ctx->cfg->route[i];
		struct http_route r;

		if (path == NULL || path[0] == '\0')
			path = d->default_path;
		if (strcmp(path, "off") == 0)
			continue;
		t->token_routes[i].dialect = d;
		t->token_routes[i].ctx = ctx;
		t->token_paths[i] = path;
		memset(&r, 0, sizeof(r));
		r.method = HTTP_POST;
		r.path = path;
		r.handler = token_route_handle;
		r.ctx = &t->token_routes[i];
		r.auth = HTTP_AUTH_CLIENT;
		r.max_body = 8192;
		r.name = d->name;
		if (routes_add(t, &r) == -1)
			goto full;
	}
	if (public_routes_add(t, ctx) == -1)
		goto full;
	if (gate_routes_add(t, ctx) == -1)
		goto full;
	if (admin_routes_add(t, ctx) == -1)
		goto full;
	if (approvals_routes_add(t, ctx) == -1)
		goto full;
	return 0;
full:
	snprintf(err, errlen, "too many routes");
	return -1;
}
