/*
 * keys.h — signing keys in the store: made here, sealed under the master
 * key, and unsealed into a keyring. The only code that sees private key
 * bytes outside src/jose/ (STYLE 3: the seam where signing could move into
 * its own process).
 */
#ifndef GH_KEYS_H
#define GH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "jose/jose.h"
#include "jose/keyring.h"
#include "store/store.h"

#define KEYS_KID_LEN 24

/* Builds a keyring of every key in the store that is not yet removed at now.
 * 0, or -1 with a reason in err (a key that does not unseal is an error:
 * a wrong master key must not start a server that cannot verify). */
int	keys_load(struct store *, const uint8_t seal_key[32], int64_t now,
	    struct keyring **out, char *err, size_t errlen);
/* Generates a key for env and alg, seals and stores it with the given
 * dates; kid gets its id. 0 or -1. */
int	keys_create(struct store *, const uint8_t seal_key[32],
	    enum store_env env, enum jose_alg alg,
	    const struct keyring_dates *dates, char kid[KEYS_KID_LEN + 1],
	    char *err, size_t errlen);
/* Makes sure each environment has a key that signs at now, creating one
 * with alg where none does; *created counts them. 0 or -1. */
int	keys_ensure(struct store *, const uint8_t seal_key[32],
	    enum jose_alg alg, int64_t now, int *created, char *err,
	    size_t errlen);

#endif
