/*
 * presign.h — ES256 signatures whose costly half is computed ahead, in time
 * the CPU would otherwise stand idle.
 *
 * An ECDSA signature is two parts: k^-1 and r = (k·G).x for a fresh random
 * nonce k, which is ~96% of its time (18.0 of 18.8 µs on the 2-core
 * machine), and s = k^-1·(z + r·d), which needs the message and takes
 * ~0.4 µs. jose_presign_start runs one thread in the idle scheduling class
 * (SCHED_IDLE: it runs only on a CPU that has nothing else to run), which
 * keeps a pool of (k^-1, r) pairs for every ES256 signing key made while it
 * runs. A signature takes one pair, which no other signature can take, and
 * clears it after use; when the pool is empty (a CPU that is never idle),
 * the signature is made whole, as without the thread. Either way it is the
 * same ECDSA signature (FIPS 186-5 §6.4.1), k drawn from OpenSSL's private
 * DRBG; the pairs live in this process's memory only, as the key does.
 *
 * Why: issuance waits on its group commit's sync, and ES256 issuance left
 * the CPU 12-15% idle meanwhile (BENCHMARKS.md, sixteenth session); the
 * thread turns that idle time into nonces, so a token's own signing costs
 * ~1 µs instead of ~19.
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
