/* ratelimit.c — see ratelimit.h. Buckets keep milli-tokens as integers so
 * the refill is exact; striped locks keep two threads off each other. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "security/ratelimit.h"

#define STRIPES 16
#define BUCKETS_PER_STRIPE 1024

struct bucket {
	char		 client_id[129];
	int64_t		 milli;		/* milli-tokens available */
	int64_t		 last_ms;
	struct bucket	*next;
};

struct stripe {
	pthread_mutex_t	 mu;
	struct bucket	*heads[BUCKETS_PER_STRIPE];
	size_t		 n;
};

struct ratelimit {
	struct stripe	stripes[STRIPES];
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;
	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

struct ratelimit *
ratelimit_new(void)
{
	struct ratelimit *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
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
	free(r);
}

/* Drops the buckets that have refilled completely: they carry no state. */
static void
sweep(struct stripe *s, int64_t now_ms)
{
	for (size_t k = 0; k < BUCKETS_PER_STRIPE; k++) {
		struct bucket **pp = &s->heads[k];
		while (*pp != NULL) {
			if (now_ms - (*pp)->last_ms > 60000) {
				struct bucket *b = *pp;
				*pp = b->next;
				free(b);
				s->n--;
			} else
				pp = &(*pp)->next;
		}
	}
}

int
ratelimit_take(struct ratelimit *r, const char *client_id, int64_t per_minute,
    int64_t now_ms, int64_t *retry_after)
{
	unsigned h = hash(client_id);
	struct stripe *s = &r->stripes[h % STRIPES];
	struct bucket *b;
	int64_t cap = per_minute * 1000;
	int ok;

	if (per_minute <= 0)
		return 1;
	pthread_mutex_lock(&s->mu);
	for (b = s->heads[(h / STRIPES) % BUCKETS_PER_STRIPE]; b != NULL; b = b->next)
		if (strcmp(b->client_id, client_id) == 0)
			break;
	if (b == NULL) {
		if (s->n >= RATELIMIT_MAX_CLIENTS / STRIPES)
			sweep(s, now_ms);
		if (s->n >= RATELIMIT_MAX_CLIENTS / STRIPES || (b = calloc(1, sizeof(*b))) == NULL) {
			pthread_mutex_unlock(&s->mu);
			return 1;	/* cannot track: fail open, the lockout still guards */
		}
		snprintf(b->client_id, sizeof(b->client_id), "%s", client_id);
		b->milli = cap;
		b->last_ms = now_ms;
		b->next = s->heads[(h / STRIPES) % BUCKETS_PER_STRIPE];
		s->heads[(h / STRIPES) % BUCKETS_PER_STRIPE] = b;
		s->n++;
	}
	/* Refill: per_minute tokens a minute = per_minute milli-tokens a ms / 60. */
	if (now_ms > b->last_ms) {
		int64_t add = (now_ms - b->last_ms) * per_minute / 60;
		/* Keep the clock where it was until a whole milli-token accrues,
		 * so slow rates are not rounded away. */
		if (add > 0) {
			b->milli = b->milli + add > cap ? cap : b->milli + add;
			b->last_ms = now_ms;
		}
	}
	ok = b->milli >= 1000;
	if (ok)
		b->milli -= 1000;
	else {
		int64_t need = 1000 - b->milli;
		*retry_after = (need * 60 + per_minute - 1) / per_minute / 1000 + 1;
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}
