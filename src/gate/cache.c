/* cache.c — see cache.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gate/cache.h"

#define SHARDS 64

struct node {
	uint8_t			 key[32];
	struct gate_principal	*p;
	uint64_t		 epoch;		/* the cache's when put */
	struct node		*next;
};

struct shard {
	pthread_mutex_t	 lock;
	struct node	**buckets;
	size_t		 nbuckets;	/* a power of two */
	size_t		 n, max;
	size_t		 hand;		/* the next bucket to evict from */
	/* The revoked tokens (gate_cache_set_revoked), under lock: each shard
	 * its own reference, so that a lookup asks it under the lock it
	 * already holds, and no other lock is taken on a hit. */
	struct revoked_set *revoked;
};

struct gate_cache {
	_Atomic uint64_t epoch;
	struct shard	 shards[SHARDS];
};

/* The key is a SHA-256 digest: its bytes are already uniform. */
static uint64_t
key_hash(const uint8_t key[32])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));
	return h;
}

struct gate_cache *
gate_cache_new(size_t max)
{
	struct gate_cache *c = calloc(1, sizeof(*c));
	size_t per = (max < 64 ? 64 : max) / SHARDS, nb = 1;

	if (c == NULL)
		return NULL;
	if (per == 0)
		per = 1;
	while (nb < per)
		nb <<= 1;
	atomic_init(&c->epoch, 1);
	for (size_t i = 0; i < SHARDS; i++) {
		struct shard *s = &c->shards[i];
		pthread_mutex_init(&s->lock, NULL);
		s->nbuckets = nb;
		s->max = per;
		if ((s->buckets = calloc(nb, sizeof(*s->buckets))) == NULL) {
			gate_cache_free(c);
			return NULL;
		}
	}
	return c;
}

static void
shard_clear(struct shard *s)
{
	for (size_t b = 0; b < s->nbuckets && s->buckets != NULL; b++) {
		struct node *n = s->buckets[b], *next;
		for (; n != NULL; n = next) {
			next = n->next;
			gate_principal_release(n->p);
			free(n);
		}
		s->buckets[b] = NULL;
	}
	s->n = 0;
}

void
gate_cache_free(struct gate_cache *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < SHARDS; i++) {
		shard_clear(&c->shards[i]);
		free(c->shards[i].buckets);
		revoked_set_unref(c->shards[i].revoked);
		pthread_mutex_destroy(&c->shards[i].lock);
	}
	free(c);
}

uint64_t
gate_cache_epoch(struct gate_cache *c)
{
	return atomic_load(&c->epoch);
}

struct gate_principal *
gate_cache_get(struct gate_cache *c, const uint8_t key[32])
{
	uint64_t h = key_hash(key);
	struct shard *s = &c->shards[(h >> 58) % SHARDS];
	struct gate_principal *p = NULL;
	struct node *n, **link;

	pthread_mutex_lock(&s->lock);
	for (link = &s->buckets[h & (s->nbuckets - 1)]; (n = *link) != NULL; link = &n->next)
		if (memcmp(n->key, key, 32) == 0) {
			/* An entry from before the last gate_cache_invalidate
			 * is dead, swept or not yet. */
			if (n->epoch != atomic_load(&c->epoch))
				break;
			/* Revoked since it was cached: gone for good. */
			if (revoked_set_has(s->revoked, n->p->token_id)) {
				*link = n->next;
				gate_principal_release(n->p);
				free(n);
				s->n--;
				break;
			}
			p = n->p;
			atomic_fetch_add(&p->refs, 1);
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return p;
}

void
gate_cache_set_revoked(struct gate_cache *c, struct revoked_set *r)
{
	for (size_t i = 0; i < SHARDS; i++) {
		struct shard *s = &c->shards[i];
		struct revoked_set *old;

		pthread_mutex_lock(&s->lock);
		old = s->revoked;
		s->revoked = revoked_set_ref(r);
		pthread_mutex_unlock(&s->lock);
		revoked_set_unref(old);
	}
}

/* Makes room: drops the chain of the next non-empty bucket (clock order). */
static void
evict_one(struct shard *s)
{
	for (size_t i = 0; i < s->nbuckets; i++) {
		size_t b = (s->hand + i) & (s->nbuckets - 1);
		struct node *n = s->buckets[b], *next;
		if (n == NULL)
			continue;
		for (; n != NULL; n = next) {
			next = n->next;
			gate_principal_release(n->p);
			free(n);
			s->n--;
		}
		s->buckets[b] = NULL;
		s->hand = b + 1;
		return;
	}
}

void
gate_cache_put(struct gate_cache *c, const uint8_t key[32],
    struct gate_principal *p, uint64_t epoch)
{
	uint64_t h = key_hash(key);
	struct shard *s = &c->shards[(h >> 58) % SHARDS];
	size_t b = h & (s->nbuckets - 1);
	struct node *n;

	pthread_mutex_lock(&s->lock);
	/* Checked under the shard lock: a clear bumps the epoch before it
	 * empties the shards, so either this sees the new epoch or the clear
	 * removes what this inserts. */
	if (atomic_load(&c->epoch) != epoch)
		goto out;
	for (n = s->buckets[b]; n != NULL; n = n->next)
		if (memcmp(n->key, key, 32) == 0) {
			if (n->epoch != epoch) {	/* dead, not yet swept: taken over */
				atomic_fetch_add(&p->refs, 1);
				gate_principal_release(n->p);
				n->p = p;
				n->epoch = epoch;
			}
			goto out;
		}
	if (s->n >= s->max)
		evict_one(s);
	if ((n = malloc(sizeof(*n))) == NULL)
		goto out;
	memcpy(n->key, key, 32);
	atomic_fetch_add(&p->refs, 1);
	n->p = p;
	n->epoch = epoch;
	n->next = s->buckets[b];
	s->buckets[b] = n;
	s->n++;
out:
	pthread_mutex_unlock(&s->lock);
}

void
gate_cache_invalidate(struct gate_cache *c)
{
	atomic_fetch_add(&c->epoch, 1);
}

void
gate_cache_clear(struct gate_cache *c)
{
	gate_cache_invalidate(c);
	for (size_t i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		shard_clear(&c->shards[i]);
		pthread_mutex_unlock(&c->shards[i].lock);
	}
}

size_t
gate_cache_count(struct gate_cache *c)
{
	size_t n = 0;

	for (size_t i = 0; i < SHARDS; i++) {
		pthread_mutex_lock(&c->shards[i].lock);
		n += c->shards[i].n;
		pthread_mutex_unlock(&c->shards[i].lock);
	}
	return n;
}
