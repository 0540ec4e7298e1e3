/*
 * admin.h — the admin API under /admin/v1 (issue 6): tenants, clients,
 * secrets, keys, tokens, locks, policy and audit over JSON, authenticated
 * with gatehouse's own bearer tokens. Viewer reads; Operator makes
 * non-critical changes; Admin makes critical ones. Critical changes in a
 * maker-checker context become approval requests (202). A tenant's
 * principals see only their tenant (another tenant's rows answer 404);
 * principals of cfg->platform_tenant act across tenants. Every write goes
 * through src/manage (the CLI's validation) and honours X-Request-ID as an
 * idempotency key (idempotency.h). docs/openapi.yaml documents each route.
 */
#ifndef GH_ADMIN_H
#define GH_ADMIN_H

struct gh_ctx;
struct route_table;

/* Adds the /admin/v1/ routes. 0, or -1 when the table is full. */
int	admin_routes_add(struct route_table *, struct gh_ctx *);

#endif
