/*
 * masterkey.h — the master key and what is sealed under it.
 *
 * The master key is 32 random bytes in a file (hex) of mode 0600. Loading
 * refuses a file readable or writable by group or others (STYLE 5). Every
 * other server key is derived from it with HKDF-SHA-256 and a label, so one
 * file is all an operator keeps. Sealing is AES-256-GCM with a random 96-bit
 * nonce and the caller's associated data (e.g. the kid), so a sealed blob
 * cannot be moved to another row.
 */
#ifndef GH_MASTERKEY_H
#define GH_MASTERKEY_H

#include <stddef.h>
#include <stdint.h>

#define MASTERKEY_LEN 32

/*
 * Loads the master key from path. When the file does not exist and create
 * is set, makes it (O_EXCL, mode 0600) with fresh random bytes and sets
 * *created. Returns 0, or -1 with a one-line reason in err.
 */
int	masterkey_load(const char *path, int create, uint8_t out[MASTERKEY_LEN],
	    int *created, char *err, size_t errlen);
/* out = HKDF-SHA-256(master, info = label), 32 bytes. */
int	masterkey_derive(const uint8_t master[MASTERKEY_LEN], const char *label,
	    uint8_t out[32]);
/* Seals pt: *out (malloc'd) = nonce || ciphertext || tag. 0 or -1. */
int	seal(const uint8_t key[32], const uint8_t *pt, size_t n,
	    const char *aad, uint8_t **out, size_t *outlen);
/* Opens what seal made with the same key and aad; -1 when it was altered.
 * *out is malloc'd; the caller cleanses and frees it. */
int	unseal(const uint8_t key[32], const uint8_t *in, size_t n,
	    const char *aad, uint8_t **out, size_t *outlen);

#endif
