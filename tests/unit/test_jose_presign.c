/*
 * test_jose_presign.c — ES256 signatures with nonces made ahead
 * (src/jose/presign.c): they verify, every one has its own nonce, keys made
 * before the thread or after it stops sign whole, a key is presigned for
 * only once it has signed, and keys may come and go while the thread fills
 * their pools.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jose/jose.h"
#include "jose/jose_int.h"
#include "jose/presign.h"

static struct jose_key *
es256(const char *kid)
{
	struct jose_key *k = NULL;
	const char *err = NULL;

	assert_int_equal(jose_key_generate(JOSE_ALG_ES256, kid, &k, &err), 0);
	return k;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Waits (up to 10 s) for n pairs in k's pool. */
static void
wait_for_pairs(const struct jose_key *k, size_t n)
{
	for (int i = 0; i < 1000 && presign_available(k->presign) < n; i++)
		sleep_ms(10);
	assert_true(presign_available(k->presign) >= n);
}

static void
sign_once(const struct jose_key *k)
{
	uint8_t sig[64];
	size_t len = 0;

	assert_int_equal(jose_sign_raw(k, (const uint8_t *)"first", 5, sig, &len), 0);
	assert_int_equal(jose_verify_raw(k, (const uint8_t *)"first", 5, sig, len), 0);
}

static void
test_whole_without_the_thread(void **state)
{
	struct jose_key *k = es256("before");
	uint8_t sig[64];
	size_t len = 0;
	uint64_t used = presign_used();
	(void)state;

	assert_null(k->presign);
	assert_int_equal(jose_sign_raw(k, (const uint8_t *)"m", 1, sig, &len), 0);
	assert_int_equal(len, 64);
	assert_int_equal(jose_verify_raw(k, (const uint8_t *)"m", 1, sig, len), 0);
	assert_true(presign_used() == used);
	jose_key_free(k);
}

/* Made ahead, they verify, and no two signatures share a nonce (R): 300
 * signatures, a third of them of one message. */
static void
test_made_ahead_verify_and_never_repeat(void **state)
{
	static uint8_t r[300][32];
	char err[128];
	struct jose_key *k;
	uint64_t used;
	(void)state;

	assert_int_equal(jose_presign_start(err, sizeof(err)), 0);
	k = es256("ahead");
	assert_non_null(k->presign);
	/* Not before the key signs: a keyring holds keys that never do. */
	sleep_ms(50);
	assert_int_equal(presign_available(k->presign), 0);
	sign_once(k);
	wait_for_pairs(k, 300);
	used = presign_used();
	for (int i = 0; i < 300; i++) {
		char msg[32];
		uint8_t sig[64];
		size_t len = 0, n = (size_t)snprintf(msg, sizeof(msg), "message %d", i < 100 ? 0 : i);

		assert_int_equal(jose_sign_raw(k, (const uint8_t *)msg, n, sig, &len), 0);
		assert_int_equal(len, 64);
		assert_int_equal(jose_verify_raw(k, (const uint8_t *)msg, n, sig, len), 0);
		/* And not for another message. */
		assert_int_equal(jose_verify_raw(k, (const uint8_t *)"other", 5, sig, len), -1);
		memcpy(r[i], sig, 32);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(r[i], r[j], 32);
	}
	/* They came from the pool, made in batches. */
	assert_true(presign_used() - used == 300);
	assert_true(presign_batched() >= 300);
	jose_key_free(k);
	jose_presign_stop();
}

/* Regression: a pair taken for a signature stayed in its ring slot (k^-1
 * with r: with one signature made with it, the private key follows) until
 * the ring wrapped round to it, 1024 pairs later, or the pool was freed;
 * a core dump or a read of freed-then-reused memory in between held it.
 * Taking a pair now wipes its slot. */
static void
test_a_taken_pair_is_wiped(void **state)
{
	char err[128];
	struct jose_key *k;
	uint64_t used;
	(void)state;

	assert_int_equal(jose_presign_start(err, sizeof(err)), 0);
	k = es256("wiped");
	sign_once(k);
	wait_for_pairs(k, 200);
	/* Stopped, the thread rewrites no slot: what the signatures below
	 * leave in the ring stays for the check. */
	jose_presign_stop();
	used = presign_used();
	for (int i = 0; i < 100; i++)
		sign_once(k);
	assert_true(presign_used() - used == 100);
	assert_int_equal(presign_spent(k->presign), 0);
	jose_key_free(k);
}

/* When batches cannot be made, the thread makes its pairs one at a time
 * (ECDSA_sign_setup), and they sign as well. */
static void
test_one_at_a_time(void **state)
{
	char err[128];
	struct jose_key *k;
	uint64_t used, batched;
	(void)state;

	presign_batches(0);
	assert_int_equal(jose_presign_start(err, sizeof(err)), 0);
	k = es256("single");
	sign_once(k);
	batched = presign_batched();
	wait_for_pairs(k, 50);
	used = presign_used();
	for (int i = 0; i < 50; i++) {
		uint8_t sig[64];
		size_t len = 0;

		assert_int_equal(jose_sign_raw(k, (const uint8_t *)"one", 3, sig, &len), 0);
		assert_int_equal(jose_verify_raw(k, (const uint8_t *)"one", 3, sig, len), 0);
	}
	assert_true(presign_used() - used == 50);
	assert_true(presign_batched() == batched);
	jose_key_free(k);
	jose_presign_stop();
	presign_batches(1);
}

/* Keys made and freed while the thread fills their pools (ASan watches). */
static void
test_keys_come_and_go(void **state)
{
	char err[128];
	(void)state;

	assert_int_equal(jose_presign_start(err, sizeof(err)), 0);
	for (int i = 0; i < 40; i++) {
		struct jose_key *k = es256("churn");
		uint8_t sig[64];
		size_t len = 0;

		if (i % 4 == 0)
			sleep_ms(2);
		assert_int_equal(jose_sign_raw(k, (const uint8_t *)"m", 1, sig, &len), 0);
		assert_int_equal(jose_verify_raw(k, (const uint8_t *)"m", 1, sig, len), 0);
		jose_key_free(k);
	}
	jose_presign_stop();
}

/* After the thread stops, a key signs from what is left, then whole. */
static void
test_after_stop(void **state)
{
	char err[128];
	struct jose_key *k;
	(void)state;

	assert_int_equal(jose_presign_start(err, sizeof(err)), 0);
	k = es256("left");
	sign_once(k);
	wait_for_pairs(k, 10);
	jose_presign_stop();
	for (int i = 0; i < 1100; i++) {
		uint8_t sig[64];
		size_t len = 0;

		assert_int_equal(jose_sign_raw(k, (const uint8_t *)"m", 1, sig, &len), 0);
		if (i % 100 == 0)
			assert_int_equal(jose_verify_raw(k, (const uint8_t *)"m", 1, sig, len), 0);
	}
	assert_int_equal(presign_available(k->presign), 0);
	jose_key_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_without_the_thread),
		cmocka_unit_test(test_made_ahead_verify_and_never_repeat),
		cmocka_unit_test(test_a_taken_pair_is_wiped),
		cmocka_unit_test(test_one_at_a_time),
		cmocka_unit_test(test_keys_come_and_go),
		cmocka_unit_test(test_after_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
