/*
 * views.h — the JSON views of store rows an operator sees, kept in one place
 * so that every way in shows the same shape: the CLI (src/cli/) prints them
 * and the admin API (src/admin/) answers with them; docs/openapi.yaml and
 * tests/integration/ hold both to it. A view never holds a secret or a hash.
 * Where the two have always differed (a tenant's "id" or "tenant_id", a
 * secret's "id"/"status" or "secret_id"/"state"), each keeps its own
 * object and takes only the shared parts (views_time, views_secret_state)
 * from here: their output is documented and must not change.
 *
 * Each json_t * returned is a new reference the caller owns (NULL when out
 * of memory); the rows passed in are only read.
 */
#ifndef GH_MANAGE_VIEWS_H
#define GH_MANAGE_VIEWS_H

#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* A time as ISO 8601 UTC ("2026-11-23T09:00:00Z"), or null for 0 (never). */
json_t	*views_time(int64_t t);

/* A client: ids, settings, roles, scopes and allowlist as arrays, status. */
json_t	*views_client(const struct store_client *);
/*
 * A client as a list shows it: views_client, then "secret_age_days" (the
 * whole days since its oldest live secret was made, read from st; null when
 * it has none or the store fails) and "secret_rotation_due" (that age has
 * reached rotation_age seconds, the config's secret_rotation_age).
 */
json_t	*views_client_listed(struct store *st, const struct store_client *,
	    int64_t now, int64_t rotation_age);

/* A secret's state at now: "revoked", "expired" or "live". Static text. */
const char *views_secret_state(const struct store_secret *, int64_t now);

/* Whom the admin API showed a secret to when it made it for another client
 * (store.h struct store_secret holder): that client's id, or null when it
 * was shown only to whoever acts as the client itself. The maker-checker
 * rule reads it; an operator reads it to find which secret makes two
 * clients one person (approvals/held.h). */
json_t	*views_secret_holder(const struct store_secret *);

/* A signing key's dates and its state at now (scheduled, published,
 * active, retired, removed). */
json_t	*views_key(const struct store_key *, int64_t now);

/* A key just made by keys_rotate: its kid, env and first dates. */
json_t	*views_key_rotated(const char *kid, enum store_env, int64_t publish_at,
	    int64_t activate_at);

/* A token record and its status at now (live, expired, revoked). with_aud:
 * include "aud" (the admin API does; the CLI's token list never has). */
json_t	*views_token(const struct store_token *, int64_t now, int with_aud);

/* A lockout lock: null client_id for an address lock; retry_after is the
 * seconds left at now. */
json_t	*views_lock(const struct store_lock *, int64_t now);

#endif
