/*
 * public.h — routes anyone may call: the JWKS, RFC 8414 metadata, health and
 * readiness; and /metrics for the operator (loopback or trusted proxies).
 */
#ifndef GH_PUBLIC_H
#define GH_PUBLIC_H

struct route_table;
struct gh_ctx;

int	public_routes_add(struct route_table *, struct gh_ctx *);

#endif
