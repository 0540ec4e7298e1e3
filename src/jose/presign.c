/*
 * presign.c — see presign.h.
 *
 * OpenSSL 3.0's EVP interface cannot sign with a nonce computed ahead; the
 * EC_KEY functions that can (ECDSA_sign_setup, ECDSA_do_sign_ex) are
 * deprecated but kept throughout 3.x, so this file alone asks for them.
 * Verification and every other signature stay on EVP (jws.c).
 *
 * A pool is a ring with one producer (the thread) and many takers (the
 * signing threads), lock-free on both sides: a taker that loses the race
 * for a slot (its compare-and-swap on head fails) tries the next, so each
 * pair goes to exactly one signature. No lock is shared between the idle
 * thread and a signer: a thread of the idle class can stay off the CPU for
 * long while the machine is busy, and a lock it held would stall requests.
 */
#define _GNU_SOURCE			/* SCHED_IDLE, gettid */
/* The build hides OpenSSL's deprecated functions (CMakeLists.txt); this
 * file alone needs three of them (see above). */
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT		10101
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "jose/jose_int.h"
#include "jose/presign.h"

#define POOL_PAIRS	1024	/* per key; a power of two (the ring) */
#define POOL_REFILL	960	/* a taker leaving fewer wakes the thread */
#define POOL_BURST	16	/* pairs made before the thread looks again */
#define MAX_POOLS	16	/* keys presigned at once; others sign whole */
#define IDLE_WAIT_MS	100	/* a missed wake-up costs at most this */

struct pair {
	_Atomic(BIGNUM *) kinv, r;
};

struct presign_pool {
	EC_KEY		*ec;		/* a reference of the key's own */
	atomic_int	 refs;		/* the key's, the registry's, a fill's */
	atomic_bool	 dead;		/* the key is gone: unregister */
	_Atomic uint64_t head, tail;	/* pairs taken, pairs made */
	struct pair	 ring[POOL_PAIRS];
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t reg_cv = PTHREAD_COND_INITIALIZER;
static struct presign_pool *reg[MAX_POOLS];	/* under reg_mu */
static int running, stopping;			/* under reg_mu */
static pthread_t thread;
static _Atomic uint64_t used;

static void
pool_unref(struct presign_pool *p)
{
	uint64_t h, t;

	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	t = atomic_load(&p->tail);
	for (h = atomic_load(&p->head); h != t; h++) {
		BN_clear_free(atomic_load(&p->ring[h % POOL_PAIRS].kinv));
		BN_clear_free(atomic_load(&p->ring[h % POOL_PAIRS].r));
	}
	EC_KEY_free(p->ec);
	free(p);
}

struct presign_pool *
presign_pool_new(EVP_PKEY *pkey)
{
	struct presign_pool *p = NULL;
	int slot = -1;

	pthread_mutex_lock(&reg_mu);
	for (int i = 0; running && !stopping && i < MAX_POOLS && slot == -1; i++)
		if (reg[i] == NULL)
			slot = i;
	if (slot == -1 || (p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	if ((p->ec = EVP_PKEY_get1_EC_KEY(pkey)) == NULL) {
		free(p);
		p = NULL;
		goto out;
	}
	atomic_init(&p->refs, 2);	/* the key's and the registry's */
	reg[slot] = p;
	pthread_cond_signal(&reg_cv);
out:
	pthread_mutex_unlock(&reg_mu);
	return p;
}

void
presign_pool_release(struct presign_pool *p)
{
	if (p == NULL)
		return;
	/* The thread unregisters it; no lock here (see the top of the file). */
	atomic_store(&p->dead, 1);
	pool_unref(p);
}

size_t
presign_available(const struct presign_pool *p)
{
	return p == NULL ? 0 : (size_t)(atomic_load(&p->tail) - atomic_load(&p->head));
}

uint64_t
presign_used(void)
{
	return atomic_load(&used);
}

/* One pair for one signature: the slot at head, if this taker moves head
 * past it. A slot is written only after head has passed it, so a taker
 * whose move succeeds read the pair the producer published before it. */
static int
take(struct presign_pool *p, BIGNUM **kinv, BIGNUM **r)
{
	uint64_t h = atomic_load(&p->head);

	for (;;) {
		if (h == atomic_load(&p->tail))
			return -1;
		*kinv = atomic_load(&p->ring[h % POOL_PAIRS].kinv);
		*r = atomic_load(&p->ring[h % POOL_PAIRS].r);
		if (atomic_compare_exchange_weak(&p->head, &h, h + 1))
			return 0;
	}
}

int
presign_sign(struct presign_pool *p, const uint8_t digest[32], uint8_t sig[64])
{
	BIGNUM *kinv, *r;
	ECDSA_SIG *s;
	const BIGNUM *sr, *ss;
	int rc = -1;

	if (p == NULL || take(p, &kinv, &r) == -1)
		return -1;
	if (presign_available(p) < POOL_REFILL)
		pthread_cond_signal(&reg_cv);	/* without the lock: see IDLE_WAIT_MS */
	/* s = 0 (probability 2^-256) fails here; the caller signs whole. */
	s = ECDSA_do_sign_ex(digest, 32, kinv, r, p->ec);
	BN_clear_free(kinv);
	BN_clear_free(r);
	if (s == NULL) {
		ERR_clear_error();
		return -1;
	}
	ECDSA_SIG_get0(s, &sr, &ss);
	if (BN_bn2binpad(sr, sig, 32) == 32 && BN_bn2binpad(ss, sig + 32, 32) == 32) {
		atomic_fetch_add(&used, 1);
		rc = 0;
	}
	ECDSA_SIG_free(s);
	return rc;
}

/* Up to POOL_BURST pairs into p (the thread is its only producer). */
static void
fill(struct presign_pool *p, BN_CTX *bn)
{
	for (int i = 0; i < POOL_BURST && !atomic_load(&p->dead); i++) {
		uint64_t t = atomic_load(&p->tail);
		BIGNUM *kinv = NULL, *r = NULL;

		if (t - atomic_load(&p->head) >= POOL_PAIRS)
			return;
		if (ECDSA_sign_setup(p->ec, bn, &kinv, &r) != 1)
			return;
		atomic_store(&p->ring[t % POOL_PAIRS].kinv, kinv);
		atomic_store(&p->ring[t % POOL_PAIRS].r, r);
		atomic_store(&p->tail, t + 1);
	}
}

/* The registered pool with the fewest pairs, unless all are full; drops
 * the pools of keys that are gone. reg_mu held. */
static struct presign_pool *
emptiest(void)
{
	struct presign_pool *best = NULL;
	size_t least = POOL_PAIRS;

	for (int i = 0; i < MAX_POOLS; i++) {
		if (reg[i] != NULL && atomic_load(&reg[i]->dead)) {
			pool_unref(reg[i]);
			reg[i] = NULL;
		}
		if (reg[i] != NULL && presign_available(reg[i]) < least) {
			least = presign_available(reg[i]);
			best = reg[i];
		}
	}
	return best;
}

static void
idle_class(void)
{
	struct sched_param sp = { 0 };

	/* Not allowed (a sandbox may refuse it): the lowest nice value. */
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0)
		(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
}

static void *
presigner_main(void *arg)
{
	BN_CTX *bn = BN_CTX_secure_new();

	(void)arg;
	idle_class();
	pthread_mutex_lock(&reg_mu);
	while (!stopping) {
		struct presign_pool *p = bn != NULL ? emptiest() : NULL;
		struct timespec ts;

		if (p == NULL) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += IDLE_WAIT_MS * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&reg_cv, &reg_mu, &ts);
			continue;
		}
		atomic_fetch_add(&p->refs, 1);
		pthread_mutex_unlock(&reg_mu);
		fill(p, bn);
		pool_unref(p);
		pthread_mutex_lock(&reg_mu);
	}
	pthread_mutex_unlock(&reg_mu);
	BN_CTX_free(bn);
	return NULL;
}

int
jose_presign_start(char *err, size_t errlen)
{
	int rc = 0, e;

	pthread_mutex_lock(&reg_mu);
	if (!running) {
		stopping = 0;
		if ((e = pthread_create(&thread, NULL, presigner_main, NULL)) != 0) {
			snprintf(err, errlen, "presigning thread: %s", strerror(e));
			rc = -1;
		} else
			running = 1;
	}
	pthread_mutex_unlock(&reg_mu);
	return rc;
}

void
jose_presign_stop(void)
{
	pthread_mutex_lock(&reg_mu);
	if (!running) {
		pthread_mutex_unlock(&reg_mu);
		return;
	}
	stopping = 1;
	pthread_cond_broadcast(&reg_cv);
	pthread_mutex_unlock(&reg_mu);
	pthread_join(thread, NULL);
	pthread_mutex_lock(&reg_mu);
	running = 0;
	for (int i = 0; i < MAX_POOLS; i++)
		if (reg[i] != NULL) {
			pool_unref(reg[i]);
			reg[i] = NULL;
		}
	pthread_mutex_unlock(&reg_mu);
}
