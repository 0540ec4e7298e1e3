/* ratelimit.c — see ratelimit.h. Buckets keep milli-tokens as integers so
 * the refill is exact; striped locks keep two threads off each other. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "security/ratelimit.h"
#include "util/util.h"

#define STRIPES 16
#define BUCKETS_PER_STRIPE 1024

struct bucket {
	char		 client_id[129];
	int64_t		 milli;		/* milli-tokens available */
	int64_t		 last_ms;
	int64_t		 frac;		/* sixtieths of a milli-token accrued */
	int64_t		 unpushed;	/* tokens taken here, not yet collected */
	int64_t		 debt;		/* tokens other nodes took, not yet drained */
	int		 fresh;		/* made by a drain: full at the first take */
	struct bucket	*next;
};

struct stripe {
	pthread_mutex_t	 mu;
	struct bucket	*heads[BUCKETS_PER_STRIPE];
	size_t		 n;
};

struct ratelimit {
	struct stripe	stripes[STRIPES];
	uint8_t		hash_key[16];	/* drawn for this table (hash) */
};

/*
 * A client id's stripe and chain: SipHash-2-4 under a key drawn for this
 * table, as in lockout.c. With a public hash (FNV, before) ids made to
 * collide piled into one stripe and one chain, which every take of that
 * stripe walks under its mutex; the key keeps the slots unpredictable.
 */
static uint64_t
hash(const struct ratelimit *r, const char *s)
{
	return siphash24(r->hash_key, s, strlen(s));
}

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	if (rand_bytes(r->hash_key, sizeof(r->hash_key)) == -1) {
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < STRIPES; i++)
		pthread_mutex_init(&r->stripes[i].mu, NULL);
	return r;
}

void
ratelimit_free(struct ratelimit *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < STRIPES; i++) {
		for (size_t k = 0; k < BUCKETS_PER_STRIPE; k++) {
			struct bucket *b = r->stripes[i].heads[k], *next;
			for (; b != NULL; b = next) {
				next = b->next;
				free(b);
			}
		}
		pthread_mutex_destroy(&r->stripes[i].mu);
	}
	OPENSSL_cleanse(r->hash_key, sizeof(r->hash_key));
	free(r);
}

/* Drops the buckets that have refilled completely: they carry no state. */
static void
sweep(struct stripe *s, int64_t now_ms)
{
	for (size_t k = 0; k < BUCKETS_PER_STRIPE; k++) {
		struct bucket **pp = &s->heads[k];
		while (*pp != NULL) {
			if (now_ms - (*pp)->last_ms > 60000 && (*pp)->unpushed == 0 &&
			    (*pp)->debt == 0) {
				struct bucket *b = *pp;
				*pp = b->next;
				free(b);
				s->n--;
			} else
				pp = &(*pp)->next;
		}
	}
}

/* The bucket of client_id in s (mu held), made when missing; NULL when
 * the stripe is full of live buckets or memory ran out. */
static struct bucket *
bucket_of(struct stripe *s, uint64_t h, const char *client_id, int64_t now_ms)
{
	struct bucket **head = &s->heads[(h / STRIPES) % BUCKETS_PER_STRIPE], *b;

	for (b = *head; b != NULL; b = b->next)
		if (strcmp(b->client_id, client_id) == 0)
			return b;
	if (s->n >= RATELIMIT_MAX_CLIENTS / STRIPES)
		sweep(s, now_ms);
	if (s->n >= RATELIMIT_MAX_CLIENTS / STRIPES || (b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	snprintf(b->client_id, sizeof(b->client_id), "%s", client_id);
	b->fresh = 1;
	b->last_ms = now_ms;
	b->next = *head;
	*head = b;
	s->n++;
	return b;
}

int
ratelimit_take(struct ratelimit *r, const char *client_id, int64_t per_minute,
    int64_t now_ms, int64_t *retry_after)
{
	uint64_t h = hash(r, client_id);
	struct stripe *s = &r->stripes[h % STRIPES];
	struct bucket *b;
	int64_t cap = per_minute * 1000;
	int ok;

	if (per_minute <= 0)
		return 1;
	pthread_mutex_lock(&s->mu);
	if ((b = bucket_of(s, h, client_id, now_ms)) == NULL) {
		pthread_mutex_unlock(&s->mu);
		return 1;	/* cannot track: fail open, the lockout still guards */
	}
	if (b->fresh) {
		b->milli = cap;
		b->last_ms = now_ms;
		b->fresh = 0;
	}
	/* Refill: per_minute tokens a minute = per_minute milli-tokens a ms / 60. */
	if (now_ms > b->last_ms) {
		/* Sixtieths of a milli-token: per_minute a ms. The fraction of
		 * a milli-token is kept for the next take: rounded away, as
		 * before, a caller asking every few milliseconds lost up to
		 * half its refill at rates that are not a multiple of 60. */
		int64_t acc = b->frac + (now_ms - b->last_ms) * per_minute;
		b->last_ms = now_ms;
		if (b->milli + acc / 60 >= cap) {
			b->milli = cap;
			b->frac = 0;
		} else {
			b->milli += acc / 60;
			b->frac = acc % 60;
		}
	}
	/* What other nodes took comes off here; at most a minute's worth of
	 * debt, so that a wait never exceeds two minutes. */
	if (b->debt > 0) {
		b->milli -= b->debt * 1000 < 2 * cap ? b->debt * 1000 : 2 * cap;
		if (b->milli < -cap)
			b->milli = -cap;
		b->debt = 0;
	}
	ok = b->milli >= 1000;
	if (ok) {
		b->milli -= 1000;
		b->unpushed++;
	} else {
		int64_t need = 1000 - b->milli;
		*retry_after = (need * 60 + per_minute - 1) / per_minute / 1000 + 1;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

/* Adds tokens to client_id's debt (others took them) or, not debt, to
 * what it has to hand out (taken here, a push failed). */
static void
bucket_add(struct ratelimit *r, const char *client_id, int64_t tokens, int64_t now_ms, int debt)
{
	uint64_t h = hash(r, client_id);
	struct stripe *s = &r->stripes[h % STRIPES];
	struct bucket *b;
	int64_t *to;

	if (tokens <= 0)
		return;
	pthread_mutex_lock(&s->mu);
	if ((b = bucket_of(s, h, client_id, now_ms)) != NULL) {
		to = debt ? &b->debt : &b->unpushed;
		if (*to < INT64_MAX / 2000 - tokens)
			*to += tokens;
	}
	pthread_mutex_unlock(&s->mu);
}

void
ratelimit_drain(struct ratelimit *r, const char *client_id, int64_t tokens, int64_t now_ms)
{
	bucket_add(r, client_id, tokens, now_ms, 1);
}

void
ratelimit_unpushed(struct ratelimit *r, const char *client_id, int64_t tokens, int64_t now_ms)
{
	bucket_add(r, client_id, tokens, now_ms, 0);
}

size_t
ratelimit_collect(struct ratelimit *r, void (*fn)(void *arg, const char *client_id,
    int64_t taken), void *arg)
{
	size_t n = 0;

	for (size_t i = 0; i < STRIPES; i++) {
		struct stripe *s = &r->stripes[i];
		pthread_mutex_lock(&s->mu);
		for (size_t k = 0; k < BUCKETS_PER_STRIPE; k++)
			for (struct bucket *b = s->heads[k]; b != NULL; b = b->next)
				if (b->unpushed > 0) {
					fn(arg, b->client_id, b->unpushed);
					b->unpushed = 0;
					n++;
				}
		pthread_mutex_unlock(&s->mu);
	}
	return n;
}
