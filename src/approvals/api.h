/*
 * api.h — the approvals HTTP API (issue 6 part 3): POST/GET /approvals,
 * GET /approvals/{id}, POST /approvals/{id}/approve|reject. See api.c and
 * docs/policy.md ("Critical routes and approvals").
 */
#ifndef GH_APPROVALS_API_H
#define GH_APPROVALS_API_H

struct gh_ctx;
struct route_table;

/* Adds the routes. 0, or -1 when the table is full. */
int	approvals_routes_add(struct route_table *, struct gh_ctx *);

#endif
