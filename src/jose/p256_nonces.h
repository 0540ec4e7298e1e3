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
 * on OpenSSL's own Montgomery arithmetic (BN_mod_mul_montgomery, and
 * BN_mod_exp_mont_consttime for the one inversion), as OpenSSL's own
 * ECDSA_sign_setup up to 3.0.15 was: its public BIGNUM calls trim a value
 * whose top word is zero (probability 2^-64 for P-256) and then take a
 * slower path, which OpenSSL 3.0.16 closed (CVE-2024-13176) with internal
 * fixed-length helpers that no public API offers.
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
 * each, big-endian. Returns how many, 0 on failure (out is then wiped).
 * Every k·k^-1 and Z·Z^-1 is checked to be 1, and the first nonce's r
 * against OpenSSL's own affine conversion; a batch that fails returns
 * nothing.
 */
size_t	p256_nonces_make(struct p256_nonces *, uint8_t out[][64]);

#endif
