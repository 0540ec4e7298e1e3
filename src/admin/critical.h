/*
 * critical.h — maker-checker for the admin API's critical changes (issue 6
 * part 2). A critical change (client create, disable, enable, delete; roles, scopes or
 * allowlist changes; secret and key rotation) is reduced to a kind and a
 * payload (a JSON object) and then either filed as an approval request
 * (202 Accepted {"approval_id"}) when cfg maker_checker says it needs one —
 * "always", or "production" (the default) when it concerns production —
 * or applied now, which needs the Admin role (an Operator gets 403).
 * An approval applies it later by the same function (approvals_register),
 * exactly once, validating it again. A change that makes a secret (client
 * create, secret rotation) makes it here, either way, shows it once to the
 * caller, and puts its keyed hash and the caller (its holder: store.h
 * struct store_secret) into the payload: whoever is shown a client's secret
 * may act as that client (approvals/held.h).
 */
#ifndef GH_ADMIN_CRITICAL_H
#define GH_ADMIN_CRITICAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

struct admin_call;
struct gh_ctx;

/* Applies payload of one kind: the HTTP status of success (200, 201) with
 * *result a new JSON object, or -1 with a sentence in err (as manage_*). */
typedef int (*admin_apply_fn)(struct gh_ctx *, const json_t *payload,
	    json_t **result, char *err, size_t errlen);

struct admin_kind {
	const char	*kind;
	admin_apply_fn	 apply;
};

extern const struct admin_kind admin_client_kinds[];
extern const size_t admin_nclient_kinds;
extern const struct admin_kind admin_misc_kinds[];
extern const size_t admin_nmisc_kinds;

/* 1 when the client a "client.update" payload names already has every
 * setting it sets (approval recovery: the change is in effect), else 0. */
int	admin_client_update_in_effect(struct gh_ctx *, const json_t *payload);

/* Decides and answers a critical change of tenant's target (a client id,
 * or "keys:<env>") in env. Steals payload. */
void	admin_critical(struct admin_call *, const char *kind, const char *tenant,
	    enum store_env env, const char *target, json_t *payload);
/* Applies a non-critical change of a kind now. Steals payload. */
void	admin_apply_now(struct admin_call *, const char *kind, json_t *payload);

/* A payload's "secret_hash" (64 hex: the HMAC of a secret the admin API
 * made and showed to the caller, or to the maker when filing): 1 with hash
 * filled, 0 when absent, -1 malformed. */
int	admin_preset_hash(const json_t *payload, uint8_t hash[32], char *err,
	    size_t errlen);
/* Its "holder": whom the secret was shown to (store.h struct store_secret
 * holder), into *holder (pointing into payload; NULL when absent): 0, or
 * -1 when it is not a client id or "". */
int	admin_preset_holder(const json_t *payload, const char **holder, char *err,
	    size_t errlen);

/* Registers every admin kind's applier with the approvals engine: the
 * server at start, and any process that decides approvals (the CLI's
 * `approvals approve`) before deciding. Idempotent. 0 or -1. */
int	admin_register_appliers(void);

#endif
