/*
 * Unit tests for src/security/ratelimit.c: the token bucket (a burst of
 * per_minute, then per_minute/60 a second, Retry-After from the deficit),
 * and the sharing hooks other nodes' counts go through: collect hands out
 * what was taken here exactly once, drain holds what others took against
 * the next take, bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* The .c itself, to reach the stripes (chosen_ids_spread). */
#include "security/ratelimit.c"

static void
bucket_refills(void **state)
{
	struct ratelimit *r = ratelimit_new();
	int64_t retry = 0;

	(void)state;
	for (int i = 0; i < 6; i++)
		assert_int_equal(ratelimit_take(r, "c", 6, 1000, &retry), 1);
	assert_int_equal(ratelimit_take(r, "c", 6, 1000, &retry), 0);
	assert_true(retry >= 10 && retry <= 11);	/* one token every 10 s */
	assert_int_equal(ratelimit_take(r, "c", 6, 11000, &retry), 1);
	assert_int_equal(ratelimit_take(r, "c", 6, 11000, &retry), 0);
	assert_int_equal(ratelimit_take(r, "other", 6, 11000, &retry), 1);
	assert_int_equal(ratelimit_take(r, "c", 0, 11000, &retry), 1);	/* 0: unlimited */
	ratelimit_free(r);
}

/* Regression: each take moved the bucket's clock to now and dropped the
 * fraction of a milli-token accrued since the last whole one; at 59 a
 * minute, a take every 2 ms (1.97 milli-tokens) kept one, so the refill
 * ran at half its rate and Retry-After undersold the wait. */
static void
frequent_takes_refill_at_the_full_rate(void **state)
{
	struct ratelimit *r = ratelimit_new();
	int64_t retry = 0, t;

	(void)state;
	for (int i = 0; i < 59; i++)
		assert_int_equal(ratelimit_take(r, "c", 59, 0, &retry), 1);
	/* The next token accrues in 60000 / 59 = 1017 ms. */
	for (t = 2; t < 1017; t += 2)
		assert_int_equal(ratelimit_take(r, "c", 59, t, &retry), 0);
	for (; t <= 1100 && !ratelimit_take(r, "c", 59, t, &retry); t += 2)
		;
	assert_true(t <= 1100);
	ratelimit_free(r);
}

struct seen {
	char	ids[8][16];
	int64_t	taken[8];
	int	n;
};

static void
note(void *arg, const char *client_id, int64_t taken)
{
	struct seen *s = arg;

	snprintf(s->ids[s->n], sizeof(s->ids[0]), "%.15s", client_id);
	s->taken[s->n++] = taken;
}

static void
collect_once(void **state)
{
	struct ratelimit *r = ratelimit_new();
	struct seen s = { .n = 0 };
	int64_t retry;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(r, "a", 100, 1000, &retry), 1);
	assert_int_equal(ratelimit_take(r, "b", 100, 1000, &retry), 1);
	assert_int_equal(ratelimit_take(r, "u", 0, 1000, &retry), 1);	/* unlimited: not counted */
	assert_int_equal(ratelimit_collect(r, note, &s), 2);
	assert_int_equal(s.n, 2);
	for (int i = 0; i < 2; i++)
		assert_int_equal(s.taken[i], strcmp(s.ids[i], "a") == 0 ? 3 : 1);
	s.n = 0;
	assert_int_equal(ratelimit_collect(r, note, &s), 0);	/* handed out once */
	assert_int_equal(ratelimit_take(r, "a", 100, 1000, &retry), 1);
	assert_int_equal(ratelimit_collect(r, note, &s), 1);
	assert_int_equal(s.taken[0], 1);
	ratelimit_free(r);
}

/* A push that failed gives its tokens back: the next collection hands
 * them out with what was taken since, so other nodes still count them. */
static void
unpushed_tokens_are_collected_again(void **state)
{
	struct ratelimit *r = ratelimit_new();
	struct seen s = { .n = 0 };
	int64_t retry;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(r, "a", 100, 1000, &retry), 1);
	assert_int_equal(ratelimit_collect(r, note, &s), 1);
	ratelimit_unpushed(r, "a", s.taken[0], 1000);	/* the push failed */
	assert_int_equal(ratelimit_take(r, "a", 100, 1000, &retry), 1);
	s.n = 0;
	assert_int_equal(ratelimit_collect(r, note, &s), 1);
	assert_string_equal(s.ids[0], "a");
	assert_int_equal(s.taken[0], 4);
	ratelimit_unpushed(r, "b", 0, 1000);		/* nothing: no bucket made */
	s.n = 0;
	assert_int_equal(ratelimit_collect(r, note, &s), 0);
	ratelimit_free(r);
}

static void
drain_holds_others_tokens(void **state)
{
	struct ratelimit *r = ratelimit_new();
	int64_t retry = 0;
	struct seen s = { .n = 0 };

	(void)state;
	/* Others took 4 of a limit of 6: two are left here. */
	assert_int_equal(ratelimit_take(r, "c", 6, 1000, &retry), 1);
	ratelimit_drain(r, "c", 4, 1000);
	assert_int_equal(ratelimit_take(r, "c", 6, 1000, &retry), 1);
	assert_int_equal(ratelimit_take(r, "c", 6, 1000, &retry), 0);
	/* A client this node never saw: the drain makes its bucket. */
	ratelimit_drain(r, "new", 6, 1000);
	assert_int_equal(ratelimit_take(r, "new", 6, 1000, &retry), 0);
	assert_true(retry >= 10);
	/* A huge drain is bounded: the wait never passes two minutes. */
	ratelimit_drain(r, "big", 1000000, 1000);
	assert_int_equal(ratelimit_take(r, "big", 6, 1000, &retry), 0);
	assert_true(retry <= 121);
	assert_int_equal(ratelimit_take(r, "big", 6, 1000 + 121000, &retry), 1);
	/* Drained tokens are not this node's: collect does not hand them out. */
	assert_int_equal(ratelimit_collect(r, note, &s), 2);	/* c: 2, big: 1 */
	for (int i = 0; i < s.n; i++)
		assert_int_equal(s.taken[i], strcmp(s.ids[i], "c") == 0 ? 2 : 1);
	ratelimit_drain(r, "c", 0, 1000);	/* nothing: a no-op */
	ratelimit_free(r);
}

/* FNV-1a: the table's hash before it was keyed. */
static unsigned
public_hash(const char *s)
{
	unsigned h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* Regression: a client id's stripe and chain were chosen by a public hash,
 * so ids made to collide (2,000 here, all in one stripe's one chain under
 * FNV) made a chain that every take of that stripe walked under its mutex.
 * Keyed, the same ids spread over the table. */
static void
chosen_ids_spread(void **state)
{
	struct ratelimit *r = ratelimit_new();
	unsigned target = public_hash("x0") % (STRIPES * BUCKETS_PER_STRIPE);
	size_t made = 0, longest = 0;
	int64_t retry = 0;
	char id[32];

	(void)state;
	for (unsigned j = 0; made < 2000; j++) {
		snprintf(id, sizeof(id), "x%u", j);
		if (public_hash(id) % (STRIPES * BUCKETS_PER_STRIPE) != target)
			continue;
		assert_int_equal(ratelimit_take(r, id, 60, 1000, &retry), 1);
		made++;
	}
	for (size_t i = 0; i < STRIPES; i++)
		for (size_t k = 0; k < BUCKETS_PER_STRIPE; k++) {
			size_t n = 0;

			for (struct bucket *b = r->stripes[i].heads[k]; b != NULL; b = b->next)
				n++;
			if (n > longest)
				longest = n;
		}
	assert_true(longest < 32);
	ratelimit_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bucket_refills),
		cmocka_unit_test(frequent_takes_refill_at_the_full_rate),
		cmocka_unit_test(collect_once),
		cmocka_unit_test(unpushed_tokens_are_collected_again),
		cmocka_unit_test(drain_holds_others_tokens),
		cmocka_unit_test(chosen_ids_spread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
