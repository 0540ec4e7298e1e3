/*
 * keyring.h — the set of signing keys in force, immutable once built.
 *
 * A keyring is built from the store's keys (unsealed by the caller) and then
 * shared read-only by every thread; a reload builds a new one and swaps it
 * (keyring_ref/keyring_unref count its users). Which key signs and which are
 * published follows from each key's dates and the time asked about.
 */
#ifndef GH_KEYRING_H
#define GH_KEYRING_H

#include <stdint.h>

#include <jansson.h>

#include "jose/jose.h"

struct keyring;

struct keyring_dates {
	int64_t	publish_at;	/* in the JWKS and accepted from then on */
	int64_t	activate_at;	/* may sign from then on */
	int64_t	retire_at;	/* 0, or signs no more from then on */
	int64_t	remove_at;	/* 0, or unpublished and refused from then on */
};

struct keyring	*keyring_new(void);		/* refcount 1 */
struct keyring	*keyring_ref(struct keyring *);
void		 keyring_unref(struct keyring *);	/* NULL is a no-op */

/* Adds key (ownership passes to the keyring, also on failure) for env
 * (an enum store_env value; the keyring does not interpret it). */
int	keyring_add(struct keyring *, struct jose_key *key, int env,
	    const struct keyring_dates *dates);

/* The key that signs for env at now: the newest active, unretired key.
 * *remove_at (if given) is when it stops being published (0: not set). */
const struct jose_key *keyring_signing_key(const struct keyring *, int env,
	    int64_t now, int64_t *remove_at);
/* A published key by kid at now, and its env; NULL when unknown, not yet
 * published or removed. */
const struct jose_key *keyring_find(const struct keyring *, const char *kid,
	    int64_t now, int *env);
/* {"keys":[...]} of every key published at now; each JWK also carries
 * "env" naming its environment (env_names[env]). New reference. */
json_t	*keyring_jwks(const struct keyring *, int64_t now,
	    const char *const *env_names);
/* Number of keys. */
size_t	 keyring_size(const struct keyring *);

#endif
