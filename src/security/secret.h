/*
 * secret.h — client secrets and token hashes.
 *
 * Secrets are generated here (256 random bits, base64url, 43 characters),
 * shown once, and stored only as HMAC-SHA-256 under a server key derived from
 * the master key. A keyed fast hash is right for server-generated 256-bit
 * secrets: no dictionary to slow down, and bcrypt or argon2 here would cap
 * issuance at a few hundred tokens a second. Comparison is constant-time
 * (STYLE 13).
 */
#ifndef GH_SECRET_H
#define GH_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_BYTES		32
#define SECRET_TEXT_LEN		43	/* base64url of 32 bytes */
#define SECRET_HASH_LEN		32
#define SECRET_MAX_INPUT	512	/* longest secret a request may present */

/* A new secret, NUL-terminated. Returns 0 or -1. */
int	secret_generate(char out[SECRET_TEXT_LEN + 1]);
/* HMAC-SHA-256(key, secret). 0, or -1 when OpenSSL failed (out of memory):
 * then out is random, matching no stored hash, and the caller must not
 * take it for a wrong secret nor store it as a right one. */
int	secret_hash(const uint8_t key[32], const char *secret, size_t len,
	    uint8_t out[SECRET_HASH_LEN]);
/* 1 when equal; constant time in the contents. */
int	secret_equal(const uint8_t a[SECRET_HASH_LEN],
	    const uint8_t b[SECRET_HASH_LEN]);
/* SHA-256 of a token, for opaque tokens and revocation by value. 0, or -1
 * (out random) as secret_hash. */
int	token_hash(const char *token, size_t len, uint8_t out[32]);

#endif
