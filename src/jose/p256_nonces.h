/*
 * p256_nonces.h — private to src/jose: ECDSA P-256 nonces made in batches,
 * for the presigning thread (presign.c).
 *
 * A nonce is the pair (k^-1 mod n, r = x(k·G) mod n) for a fresh random k
 * in [1, n-1] (FIPS 186-5 §6.4.1 steps 3-6); it needs no key and no
 * message. Made one at a time (ECDSA_sign_setup), each costs two modular
 * inversions: of k modulo the order n, and of the point's Z modulo the
 * field prime p (to make k·G affine), ~9 of its ~17 µs on the 2-core
 * machine. Made P256_NONCES_BATCH at a time, both inversions are shared by
 * the batch (Montgomery's trick: one inversion and three multiplications
 * each), and a nonce costs ~11 µs (BENCHMARKS.md, seventeenth session).
 * OpenSSL has no batch form of either, which is why this is written here,
 * on OpenSSL's own constant-time arithmetic (BN_mod_mul_montgomery,
 * BN_mod_exp_mont_consttime); k, its products and the points' Z never go
 * through a variable-time operation.
 */
#ifndef GH_JOSE_P256_NONCES_H
#define GH_JOSE_P256_NONCES_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#define P256_NONCES_BATCH	32

struct p256_nonces;

/* The batch maker, its BIGNUMs and points allocated once, drawing from the
 * random generators of lc (NULL: the default context). NULL on failure. */
struct p256_nonces *p256_nonces_new(OSSL_LIB_CTX *lc);
void	p256_nonces_free(struct p256_nonces *);

/*
 * Makes up to P256_NONCES_BATCH nonces into out[i]: k^-1 then r, 32 bytes
 * each, big-endian. Returns how many, 0 on failure. Every batch checks its
 * first nonce against OpenSSL's own affine conversion and inverse, and
 * returns nothing if they differ.
 */
size_t	p256_nonces_make(struct p256_nonces *, uint8_t out[][64]);

#endif
