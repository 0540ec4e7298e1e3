/*
 * presign.h — ES256 signatures whose costly half is computed ahead, on a
 * thread of its own.
 *
 * An ECDSA signature is two parts: k^-1 and r = (k·G).x for a fresh random
 * nonce k, which is ~96% of its time (18.0 of 18.8 µs on the 2-core
 * machine), and s = k^-1·(z + r·d), which needs the message and takes
 * ~0.4 µs. jose_presign_start runs one thread that keeps a pool of
 * (k^-1, r) pairs for every ES256 key made while it runs, once that key has
 * signed (a keyring holds keys that never sign). A signature takes one
 * pair, which no other signature can take, and clears it after use; when
 * the pool is empty, the signature is made whole, as without the thread.
 * Either way it is the same ECDSA signature (FIPS 186-5 §6.4.1), k drawn
 * from an OpenSSL DRBG; the pairs live in this process's memory only, as
 * the key does. The thread makes pairs 32 at a time (p256_nonces.h), which
 * shares their two modular inversions: ~11 µs a pair instead of ~17.
 *
 * Why: a token's own signing then costs ~1 µs instead of ~19, so its
 * answer waits less; and the thread makes nonces in bursts with the
 * curve's tables hot in its cache. ES256 issuance went from ~25,000 to
 * ~28,500 tokens/s, server CPU a token from ~57 to ~51 µs (BENCHMARKS.md,
 * sixteenth session); the batches took it to ~30,000-31,700 tokens/s and
 * ~45 µs (seventeenth session).
 */
#ifndef GH_JOSE_PRESIGN_H
#define GH_JOSE_PRESIGN_H

#include <stddef.h>

/* Starts the thread (once; later calls do nothing). Keys made before it
 * starts sign whole. 0, or -1 with a reason in err. */
int	jose_presign_start(char *err, size_t errlen);
/* Stops and joins the thread; the pools left are no longer filled. */
void	jose_presign_stop(void);

#endif
