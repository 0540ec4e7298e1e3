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
 * pair goes to exactly one signature.
 *
 * The thread runs at the ordinary scheduling class. At the idle class
 * (SCHED_IDLE, or nice 19) it held ES256 answers 0.1-0.9 s at the 99th
 * percentile in one run of two, even with every lock below kept apart:
 * taken off the CPU whenever another thread wanted it, it still held
 * something the requests needed, which is what a thread of its own class,
 * preempted for a few milliseconds at most, cannot do for long. It keeps
 * apart from the requests anyway:
 * - it draws its nonces from a library context of its own, whose random
 *   generators are its alone (OpenSSL 3.0 locks the shared primary
 *   generator on every draw of another);
 * - a signer wakes it through an eventfd, not a condition variable;
 * - a pair travels as 64 bytes in the ring, and the thread frees only what
 *   it allocated: the pools of keys that are gone go to a graveyard,
 *   emptied by key making and stop;
 * - the registry of pools is an array it reads without a lock; a new pool
 *   goes in under a lock that only key making, start and stop take, and
 *   only the thread takes pools out until it has stopped.
 */
/* The build hides OpenSSL's deprecated functions (CMakeLists.txt); this
 * file alone needs three of them (see above). */
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT		10101
#define OPENSSL_SUPPRESS_DEPRECATED
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "jose/jose_int.h"
#include "jose/p256_nonces.h"
#include "jose/presign.h"

#define POOL_PAIRS	1024	/* per key; a power of two (the ring) */
#define POOL_REFILL	960	/* a taker leaving fewer wakes the thread */
#define POOL_BURST	16	/* pairs made before the thread looks again */
#define MAX_POOLS	16	/* keys presigned at once; others sign whole */
#define SLEEP_MAX_MS	1000	/* the longest sleep with every pool full */

/* k^-1 and r, 32 bytes each, big-endian, as eight words (a taker may read
 * a slot while it is rewritten; it then loses its compare-and-swap). */
struct pair {
	_Atomic uint64_t w[8];
};

struct presign_pool {
	EC_KEY		*ec;		/* a reference of the key's own: signs */
	EC_KEY		*ahead;		/* the thread's copy, in its context, made
					 * only if batches fail (p256_nonces.h) */
	atomic_int	 refs;		/* the key's, the registry's, a fill's */
	atomic_bool	 dead;		/* the key is gone: unregister */
	atomic_bool	 wanted;	/* the key has signed: fill it */
	_Atomic uint64_t head, tail;	/* pairs taken, pairs made */
	struct presign_pool *next_dead;	/* in the graveyard */
	struct pair	 ring[POOL_PAIRS];
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;	/* not the thread's */
static _Atomic(struct presign_pool *) reg[MAX_POOLS];	/* added under reg_mu */
static int running;				/* under reg_mu */
static atomic_bool stopping;
static pthread_t thread;
static int wake_fd = -1;			/* eventfd: the thread's alarm */
static atomic_bool sleeping;			/* the thread waits on wake_fd */
static _Atomic uint64_t used;
static _Atomic uint64_t batched;			/* pairs that came from a batch */
static atomic_bool batches_off;			/* tests: one at a time only */
static _Atomic(struct presign_pool *) graveyard;	/* pushed by the thread */
static OSSL_LIB_CTX *lc;			/* the thread's; kept across stops */

/* Wakes the thread if it sleeps; one waker writes (the exchange). */
static void
wake(void)
{
	uint64_t one = 1;

	if (atomic_load(&sleeping) && atomic_exchange(&sleeping, 0))
		(void)!write(wake_fd, &one, sizeof(one));
}

/* The last reference frees: never the thread's (see the top). */
static void
pool_unref(struct presign_pool *p)
{
	if (atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	EC_KEY_free(p->ec);
	OPENSSL_cleanse(p->ring, sizeof(p->ring));
	free(p);
}

/* The pools the thread took out: their registry references, dropped here
 * by a thread of the ordinary class. */
static void
empty_graveyard(void)
{
	struct presign_pool *p = atomic_exchange(&graveyard, NULL), *next;

	for (; p != NULL; p = next) {
		next = p->next_dead;
		pool_unref(p);
	}
}

/* The thread's: a pool out of the registry, into the graveyard. */
static void
bury(struct presign_pool *p)
{
	EC_KEY_free(p->ahead);		/* its own allocation */
	p->ahead = NULL;
	p->next_dead = atomic_load(&graveyard);
	while (!atomic_compare_exchange_weak(&graveyard, &p->next_dead, p))
		;
}

struct presign_pool *
presign_pool_new(EVP_PKEY *pkey)
{
	struct presign_pool *p = NULL;
	int added = 0;

	empty_graveyard();
	pthread_mutex_lock(&reg_mu);
	if (!running || (p = calloc(1, sizeof(*p))) == NULL)
		goto out;
	if ((p->ec = EVP_PKEY_get1_EC_KEY(pkey)) == NULL)
		goto out;
	atomic_init(&p->refs, 2);	/* the key's and the registry's */
	for (int i = 0; i < MAX_POOLS && !added; i++) {
		struct presign_pool *none = NULL;
		added = atomic_compare_exchange_strong(&reg[i], &none, p);
	}
out:
	pthread_mutex_unlock(&reg_mu);
	if (p != NULL && !added) {	/* no room: this key signs whole */
		EC_KEY_free(p->ec);
		free(p);
		return NULL;
	}
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

uint64_t
presign_batched(void)
{
	return atomic_load(&batched);
}

void
presign_batches(int on)
{
	atomic_store(&batches_off, !on);
}

size_t
presign_spent(const struct presign_pool *p)
{
	uint64_t head = atomic_load(&p->head), tail = atomic_load(&p->tail);
	uint64_t from = tail > POOL_PAIRS ? tail - POOL_PAIRS : 0;
	size_t n = 0;

	/* The slots of pairs taken and not yet rewritten: [tail - ring, head). */
	for (uint64_t i = from; i < head; i++)
		for (int j = 0; j < 8; j++)
			if (atomic_load(&p->ring[i % POOL_PAIRS].w[j]) != 0) {
				n++;
				break;
			}
	return n;
}

/*
 * Wipes a taken pair w from its slot, which must not keep k^-1 (with r and
 * one signature made with it, the private key follows). Word by word, and
 * only a word that still holds what was taken: head has passed the slot,
 * so the thread may be writing a new pair there already, and zeroing its
 * words would sign with a k^-1 of known zero bits, a biased nonce, which
 * a few signatures turn into the key. A new word equal to the old one is
 * a 2^-64 chance.
 */
static void
wipe_slot(struct pair *slot, const uint64_t w[8])
{
	for (int i = 0; i < 8; i++) {
		uint64_t was = w[i];
		(void)atomic_compare_exchange_strong_explicit(&slot->w[i], &was, 0,
		    memory_order_relaxed, memory_order_relaxed);
	}
}

/* One pair for one signature: the slot at head, if this taker moves head
 * past it. A slot is written only after head has passed it, so a taker
 * whose move succeeds read the pair the producer published before it. */
static int
take(struct presign_pool *p, uint8_t pair[64])
{
	uint64_t h = atomic_load(&p->head), w[8];

	for (;;) {
		if (h == atomic_load(&p->tail)) {
			/* w may hold a pair another taker won. */
			OPENSSL_cleanse(w, sizeof(w));
			return -1;
		}
		for (int i = 0; i < 8; i++)
			w[i] = atomic_load_explicit(&p->ring[h % POOL_PAIRS].w[i],
			    memory_order_relaxed);
		if (atomic_compare_exchange_weak(&p->head, &h, h + 1)) {
			memcpy(pair, w, 64);
			wipe_slot(&p->ring[h % POOL_PAIRS], w);
			OPENSSL_cleanse(w, sizeof(w));
			return 0;
		}
	}
}

int
presign_sign(struct presign_pool *p, const uint8_t digest[32], uint8_t sig[64])
{
	uint8_t pair[64];
	BIGNUM *kinv = NULL, *r = NULL;
	ECDSA_SIG *s = NULL;
	const BIGNUM *sr, *ss;
	int rc = -1;

	if (p == NULL)
		return -1;
	if (!atomic_load_explicit(&p->wanted, memory_order_relaxed)) {
		atomic_store(&p->wanted, 1);	/* a key that signs; not every key loaded */
		wake();
	}
	if (take(p, pair) == -1)
		return -1;
	if (presign_available(p) < POOL_REFILL)
		wake();
	if ((kinv = BN_bin2bn(pair, 32, NULL)) == NULL || (r = BN_bin2bn(pair + 32, 32, NULL)) == NULL)
		goto out;
	BN_set_flags(kinv, BN_FLG_CONSTTIME);
	/* s = 0 (probability 2^-256) fails here; the caller signs whole. */
	if ((s = ECDSA_do_sign_ex(digest, 32, kinv, r, p->ec)) == NULL) {
		ERR_clear_error();
		goto out;
	}
	ECDSA_SIG_get0(s, &sr, &ss);
	if (BN_bn2binpad(sr, sig, 32) == 32 && BN_bn2binpad(ss, sig + 32, 32) == 32) {
		atomic_fetch_add(&used, 1);
		rc = 0;
	}
out:
	OPENSSL_cleanse(pair, sizeof(pair));
	BN_clear_free(kinv);
	BN_clear_free(r);
	ECDSA_SIG_free(s);
	return rc;
}

/*
 * The thread's pairs made ahead of any pool: a batch (p256_nonces.h) that
 * fill() hands out until it is spent. A nonce needs no key, so one batch
 * serves every pool. When a batch cannot be made, the thread makes its
 * pairs one at a time with ECDSA_sign_setup from then on.
 */
struct stock {
	struct p256_nonces *maker;	/* NULL: one at a time */
	uint8_t		 pair[P256_NONCES_BATCH][64];
	size_t		 next, have;
};

/* One pair into w: from the stock, else ECDSA_sign_setup with the thread's
 * copy of p's key (made then: a batch needs no key). 0, or -1. */
static int
make_pair(struct stock *st, struct presign_pool *p, OSSL_LIB_CTX *lc, BN_CTX *bn,
    uint64_t w[8])
{
	BIGNUM *kinv = NULL, *r = NULL;
	int ok;

	if (st->next == st->have && st->maker != NULL) {
		st->next = 0;
		if ((st->have = p256_nonces_make(st->maker, st->pair)) == 0) {
			p256_nonces_free(st->maker);
			st->maker = NULL;
		}
	}
	if (st->next < st->have) {
		memcpy(w, st->pair[st->next], 64);
		OPENSSL_cleanse(st->pair[st->next++], 64);
		atomic_fetch_add_explicit(&batched, 1, memory_order_relaxed);
		return 0;
	}
	if (p->ahead == NULL &&
	    ((p->ahead = EC_KEY_new_by_curve_name_ex(lc, NULL, NID_X9_62_prime256v1)) == NULL ||
	    EC_KEY_set_private_key(p->ahead, EC_KEY_get0_private_key(p->ec)) != 1)) {
		EC_KEY_free(p->ahead);
		p->ahead = NULL;
		ERR_clear_error();
		return -1;
	}
	ok = ECDSA_sign_setup(p->ahead, bn, &kinv, &r) == 1 &&
	    BN_bn2binpad(kinv, (uint8_t *)w, 32) == 32 &&
	    BN_bn2binpad(r, (uint8_t *)w + 32, 32) == 32;
	BN_clear_free(kinv);
	BN_clear_free(r);
	if (!ok)
		ERR_clear_error();
	return ok ? 0 : -1;
}

/* Up to POOL_BURST pairs into p (the thread is its only producer). */
static void
fill(struct presign_pool *p, struct stock *st, OSSL_LIB_CTX *lc, BN_CTX *bn)
{
	for (int i = 0; i < POOL_BURST && !atomic_load(&p->dead); i++) {
		uint64_t t = atomic_load(&p->tail), w[8];

		if (t - atomic_load(&p->head) >= POOL_PAIRS || make_pair(st, p, lc, bn, w) == -1)
			return;
		for (int j = 0; j < 8; j++)
			atomic_store_explicit(&p->ring[t % POOL_PAIRS].w[j], w[j],
			    memory_order_relaxed);
		OPENSSL_cleanse(w, sizeof(w));
		atomic_store(&p->tail, t + 1);	/* publishes the slot */
	}
}

/* The registered pool with the fewest pairs, unless all are full; drops
 * the pools of keys that are gone. The thread's alone (no lock): while it
 * runs, nothing else takes a pool out, so one it finds stays alive. */
static struct presign_pool *
emptiest(void)
{
	struct presign_pool *best = NULL;
	size_t least = POOL_PAIRS;

	for (int i = 0; i < MAX_POOLS; i++) {
		struct presign_pool *p = atomic_load(&reg[i]);

		if (p != NULL && atomic_load(&p->dead)) {
			atomic_store(&reg[i], NULL);
			bury(p);
			continue;
		}
		if (p != NULL && atomic_load(&p->wanted) && presign_available(p) < least) {
			least = presign_available(p);
			best = p;
		}
	}
	return best;
}

/* Sleeps until a pool runs low, a key is made, or stop. The flag goes up
 * before the last look at the pools: a taker that empties one after that
 * look sees it up and writes. */
static void
sleep_until_woken(void)
{
	struct pollfd pfd = { .fd = wake_fd, .events = POLLIN };
	uint64_t n;

	atomic_store(&sleeping, 1);
	if (emptiest() != NULL || atomic_load(&stopping)) {
		atomic_store(&sleeping, 0);
		return;
	}
	if (poll(&pfd, 1, SLEEP_MAX_MS) == 1)
		(void)!read(wake_fd, &n, sizeof(n));
	atomic_store(&sleeping, 0);
}

/* One pair made and dropped while the thread is still of the ordinary
 * class: loading its context's provider, seeding its generators and
 * registering the thread with OpenSSL take process-wide locks, once. */
static void
warm_up(OSSL_LIB_CTX *lc, BN_CTX *bn)
{
	EC_KEY *k = EC_KEY_new_by_curve_name_ex(lc, NULL, NID_X9_62_prime256v1);
	BIGNUM *kinv = NULL, *r = NULL;

	if (k != NULL && EC_KEY_generate_key(k) == 1)
		(void)ECDSA_sign_setup(k, bn, &kinv, &r);
	BN_clear_free(kinv);
	BN_clear_free(r);
	EC_KEY_free(k);
	ERR_clear_error();
}

static void *
presigner_main(void *arg)
{
	OSSL_LIB_CTX *lc = arg;
	BN_CTX *bn = BN_CTX_new_ex(lc);
	struct stock *st = calloc(1, sizeof(*st));

	if (st == NULL) {
		BN_CTX_free(bn);
		bn = NULL;
	}
	if (bn != NULL) {
		warm_up(lc, bn);
		st->maker = atomic_load(&batches_off) ? NULL : p256_nonces_new(lc);
	}
	while (!atomic_load(&stopping)) {
		struct presign_pool *p;

		if ((p = bn != NULL ? emptiest() : NULL) != NULL)
			atomic_fetch_add(&p->refs, 1);
		if (p == NULL) {
			sleep_until_woken();
			continue;
		}
		fill(p, st, lc, bn);
		pool_unref(p);		/* the registry's is still held */
	}
	/* What it allocated, it frees. */
	for (int i = 0; i < MAX_POOLS; i++) {
		struct presign_pool *p = atomic_load(&reg[i]);
		if (p != NULL) {
			EC_KEY_free(p->ahead);
			p->ahead = NULL;
		}
	}
	if (st != NULL) {
		p256_nonces_free(st->maker);
		OPENSSL_cleanse(st, sizeof(*st));
		free(st);
	}
	BN_CTX_free(bn);
	OPENSSL_thread_stop_ex(lc);	/* its generators in lc */
	return NULL;
}

int
jose_presign_start(char *err, size_t errlen)
{
	int rc = 0, e;

	pthread_mutex_lock(&reg_mu);
	if (!running) {
		atomic_store(&stopping, 0);
		if (wake_fd == -1 && (wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
			snprintf(err, errlen, "presigning thread: eventfd: %s", strerror(errno));
			rc = -1;
		} else if (lc == NULL && (lc = OSSL_LIB_CTX_new()) == NULL) {
			snprintf(err, errlen, "presigning thread: no library context");
			rc = -1;
		} else if ((e = pthread_create(&thread, NULL, presigner_main, lc)) != 0) {
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
	atomic_store(&stopping, 1);
	pthread_mutex_unlock(&reg_mu);
	atomic_store(&sleeping, 1);	/* so that wake() writes */
	wake();
	pthread_join(thread, NULL);
	pthread_mutex_lock(&reg_mu);
	running = 0;
	for (int i = 0; i < MAX_POOLS; i++) {
		struct presign_pool *p = atomic_exchange(&reg[i], NULL);
		if (p != NULL)
			pool_unref(p);
	}
	pthread_mutex_unlock(&reg_mu);
	empty_graveyard();
}
