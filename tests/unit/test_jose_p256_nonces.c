/*
 * test_jose_p256_nonces.c — P-256 nonces made in batches
 * (src/jose/p256_nonces.c): the batch inversion agrees with BN_mod_inverse,
 * every nonce signs a verifiable ECDSA signature of its own, a wrong
 * inverse or a wrong r is caught, and a batch that fails returns nothing
 * and wipes what it wrote.
 *
 * The file is included (STYLE.md 18) to reach its statics; it must come
 * first, as it sets which OpenSSL functions are visible.
 */
#include "jose/p256_nonces.c"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/ecdsa.h>
#include <openssl/evp.h>

static struct p256_nonces *
maker(void)
{
	struct p256_nonces *s = p256_nonces_new(NULL);

	assert_non_null(s);
	return s;
}

/* a[0..m) random in [1, mod), their inverses by BN_mod_inverse in want. */
static void
random_units(BIGNUM **a, BIGNUM **want, int m, const BIGNUM *mod, BN_CTX *bn)
{
	for (int i = 0; i < m; i++) {
		do
			assert_int_equal(BN_rand_range(a[i], mod), 1);
		while (BN_is_zero(a[i]));
		assert_non_null(BN_mod_inverse(want[i], a[i], mod, bn));
	}
}

static void
test_batch_invert_agrees(void **state)
{
	struct p256_nonces *s = maker();
	const int sizes[] = { 1, 2, 7, B };
	BIGNUM *a[B], *want[B];

	(void)state;
	for (int i = 0; i < B; i++) {
		a[i] = secret_bn();
		want[i] = BN_new();
	}
	for (size_t z = 0; z < sizeof(sizes) / sizeof(sizes[0]); z++) {
		int m = sizes[z];

		random_units(a, want, m, EC_GROUP_get0_order(s->g), s->bn);
		assert_int_equal(batch_invert(s, a, m, s->mont_n,
		    EC_GROUP_get0_order(s->g), s->n_2), 1);
		for (int i = 0; i < m; i++)
			assert_int_equal(BN_cmp(a[i], want[i]), 0);
		random_units(a, want, m, s->p, s->bn);
		assert_int_equal(batch_invert(s, a, m, s->mont_p, s->p, s->p_2), 1);
		for (int i = 0; i < m; i++)
			assert_int_equal(BN_cmp(a[i], want[i]), 0);
	}
	for (int i = 0; i < B; i++) {
		BN_free(a[i]);
		BN_free(want[i]);
	}
	p256_nonces_free(s);
}

/* digest signed with a nonce pair from a batch. */
static ECDSA_SIG *
sign_with(const uint8_t pair[64], const uint8_t digest[32], EC_KEY *key)
{
	BIGNUM *kinv = BN_bin2bn(pair, 32, NULL), *r = BN_bin2bn(pair + 32, 32, NULL);
	ECDSA_SIG *sig;

	assert_non_null(kinv);
	assert_non_null(r);
	sig = ECDSA_do_sign_ex(digest, 32, kinv, r, key);
	BN_free(kinv);
	BN_free(r);
	assert_non_null(sig);
	return sig;
}

static void
test_nonces_sign(void **state)
{
	struct p256_nonces *s = maker();
	EC_KEY *key = EC_KEY_new_by_curve_name(NID_X9_62_prime256v1);
	uint8_t pairs[2][B][64], digest[32] = { 1, 2, 3 }, other[32] = { 3, 2, 1 };
	const BIGNUM *n = EC_GROUP_get0_order(s->g);
	size_t made[2];

	(void)state;
	assert_non_null(key);
	assert_int_equal(EC_KEY_generate_key(key), 1);
	for (int b = 0; b < 2; b++) {
		made[b] = p256_nonces_make(s, pairs[b]);
		assert_int_equal(made[b], B);	/* r = 0 has probability 2^-256 */
	}
	for (int b = 0; b < 2; b++)
		for (size_t i = 0; i < made[b]; i++) {
			ECDSA_SIG *sig = sign_with(pairs[b][i], digest, key);
			const BIGNUM *r, *ss;
			BIGNUM *kinv = BN_bin2bn(pairs[b][i], 32, NULL);

			ECDSA_SIG_get0(sig, &r, &ss);
			assert_int_equal(ECDSA_do_verify(digest, 32, sig, key), 1);
			assert_int_equal(ECDSA_do_verify(other, 32, sig, key), 0);
			/* k^-1 and r are in [1, n-1]. */
			assert_false(BN_is_zero(kinv));
			assert_true(BN_cmp(kinv, n) < 0);
			assert_false(BN_is_zero(r));
			assert_true(BN_cmp(r, n) < 0);
			BN_free(kinv);
			ECDSA_SIG_free(sig);
		}
	/* Every nonce its own, within a batch and across two. */
	for (size_t x = 0; x < 2 * B; x++)
		for (size_t y = x + 1; y < 2 * B; y++)
			assert_memory_not_equal(pairs[x / B][x % B] + 32,
			    pairs[y / B][y % B] + 32, 32);
	EC_KEY_free(key);
	p256_nonces_free(s);
}

/* A batch made by hand up to its check (p256_nonces_make's steps). */
static void
batch_up_to_check(struct p256_nonces *s)
{
	for (int i = 0; i < B; i++)
		assert_int_equal(draw(s, i), 1);
	assert_int_equal(batch_invert(s, s->kinv, B, s->mont_n,
	    EC_GROUP_get0_order(s->g), s->n_2), 1);
	assert_int_equal(batch_invert(s, s->z, B, s->mont_p, s->p, s->p_2), 1);
	for (int i = 0; i < B; i++)
		assert_int_equal(affine_r(s, i), 1);
}

static void
test_check_first_refuses(void **state)
{
	struct p256_nonces *s = maker();

	(void)state;
	batch_up_to_check(s);
	assert_int_equal(check_first(s), 1);
	/* A wrong r (as from points that were not Jacobian). */
	assert_int_equal(BN_add_word(s->x[0], 1), 1);
	assert_int_equal(check_first(s), 0);
	assert_int_equal(BN_sub_word(s->x[0], 1), 1);
	assert_int_equal(check_first(s), 1);
	p256_nonces_free(s);
}

/* With a wrong Fermat exponent every inverse is wrong: batch_invert says
 * so, and a batch returns nothing and wipes its output. */
static void
test_wrong_inverse_refused(void **state)
{
	struct p256_nonces *s = maker();
	uint8_t pairs[B][64], zero[B][64];
	BIGNUM *a[B], *want[B];

	(void)state;
	for (int i = 0; i < B; i++) {
		a[i] = secret_bn();
		want[i] = BN_new();
	}
	assert_int_equal(BN_sub_word(s->n_2, 1), 1);	/* n-3 */
	random_units(a, want, B, EC_GROUP_get0_order(s->g), s->bn);
	assert_int_equal(batch_invert(s, a, B, s->mont_n,
	    EC_GROUP_get0_order(s->g), s->n_2), 0);
	memset(pairs, 0xa5, sizeof(pairs));
	memset(zero, 0, sizeof(zero));
	assert_int_equal(p256_nonces_make(s, pairs), 0);
	assert_memory_equal(pairs, zero, sizeof(pairs));
	/* The right exponent again: batches come back. */
	assert_int_equal(BN_add_word(s->n_2, 1), 1);
	assert_int_equal(p256_nonces_make(s, pairs), B);
	for (int i = 0; i < B; i++) {
		BN_free(a[i]);
		BN_free(want[i]);
	}
	p256_nonces_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_invert_agrees),
		cmocka_unit_test(test_nonces_sign),
		cmocka_unit_test(test_check_first_refuses),
		cmocka_unit_test(test_wrong_inverse_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
