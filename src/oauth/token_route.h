/*
 * token_route.h — the HTTP handler every token route shares: the route's
 * dialect row parses, the core issues, the row renders, and the answer goes
 * out once the token's record is durable.
 */
#ifndef GH_TOKEN_ROUTE_H
#define GH_TOKEN_ROUTE_H

#include "http/http.h"
#include "oauth/dialect.h"

struct gh_ctx;

/* What a token route's ctx points at. */
struct token_route {
	const struct dialect	*dialect;
	struct gh_ctx		*ctx;
};

enum http_result token_route_handle(struct http_exchange *x);

#endif
