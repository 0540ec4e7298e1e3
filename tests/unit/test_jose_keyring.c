/* test_jose_keyring.c — which key signs and which are published, by date;
 * the JWKS; reference counting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>

#include "jose/keyring.h"

static const char *const envs[] = { "sandbox", "production" };

/* Ed25519 keys: generation is instant. */
static struct jose_key *
key(const char *kid)
{
	struct jose_key *k = NULL;

	assert_int_equal(jose_key_generate(JOSE_ALG_EDDSA, kid, &k, NULL), 0);
	return k;
}

static struct jose_key *
public_copy(const struct jose_key *k, const char *kid)
{
	json_t *j = jose_key_public_jwk(k);
	struct jose_key *p = NULL;

	json_object_set_new(j, "kid", json_string(kid));
	assert_int_equal(jose_key_from_jwk(j, &p, NULL), 0);
	json_decref(j);
	return p;
}

static void
add(struct keyring *kr, const char *kid, int env, int64_t pub, int64_t act,
    int64_t ret, int64_t rem)
{
	struct keyring_dates d = { pub, act, ret, rem };

	assert_int_equal(keyring_add(kr, key(kid), env, &d), 0);
}

static const char *
signer(const struct keyring *kr, int env, int64_t now)
{
	const struct jose_key *k = keyring_signing_key(kr, env, now, NULL);

	return k ? jose_key_kid(k) : NULL;
}

/*
 * A rotation: old signs from 100 and retires at 300; new is published at
 * 150, signs from 200; old is removed at 500.
 */
static void
test_signing_key_dates(void **state)
{
	struct keyring *kr = keyring_new();

	(void)state;
	add(kr, "old", 1, 0, 100, 300, 500);
	add(kr, "new", 1, 150, 200, 0, 0);
	add(kr, "sbx", 0, 0, 0, 0, 0);
	assert_null(signer(kr, 1, 99));
	assert_string_equal(signer(kr, 1, 100), "old");
	assert_string_equal(signer(kr, 1, 199), "old");
	assert_string_equal(signer(kr, 1, 200), "new");	/* newest active wins */
	assert_string_equal(signer(kr, 1, 299), "new");
	assert_string_equal(signer(kr, 1, 10000), "new");
	/* Environments never mix. */
	assert_string_equal(signer(kr, 0, 150), "sbx");
	assert_null(signer(kr, 2, 150));
	keyring_unref(kr);

	/* Retirement is exclusive of its instant; no successor means none. */
	kr = keyring_new();
	add(kr, "only", 1, 0, 100, 300, 0);
	assert_string_equal(signer(kr, 1, 299), "only");
	assert_null(signer(kr, 1, 300));
	keyring_unref(kr);
}

static void
test_signing_key_ties_and_order(void **state)
{
	struct keyring *kr = keyring_new();

	(void)state;
	/* Same activation: the one added last. */
	add(kr, "a", 1, 0, 100, 0, 0);
	add(kr, "b", 1, 0, 100, 0, 0);
	assert_string_equal(signer(kr, 1, 100), "b");
	/* Added later but activating earlier does not win. */
	add(kr, "c", 1, 0, 50, 0, 0);
	assert_string_equal(signer(kr, 1, 100), "b");
	assert_string_equal(signer(kr, 1, 60), "c");
	keyring_unref(kr);
}

/* A public-only key (e.g. from a remote JWKS) never signs. */
static void
test_public_key_never_signs(void **state)
{
	struct keyring *kr = keyring_new();
	struct jose_key *k = key("priv");
	struct keyring_dates d1 = { 0, 100, 0, 0 }, d2 = { 0, 200, 0, 0 };

	(void)state;
	assert_int_equal(keyring_add(kr, public_copy(k, "pub"), 1, &d2), 0);
	assert_null(signer(kr, 1, 300));
	assert_int_equal(keyring_add(kr, k, 1, &d1), 0);
	assert_string_equal(signer(kr, 1, 300), "priv");
	assert_non_null(keyring_find(kr, "pub", 300, NULL));
	keyring_unref(kr);
}

static void
test_find_dates(void **state)
{
	struct keyring *kr = keyring_new();
	int env = -1;
	const struct jose_key *k;

	(void)state;
	add(kr, "k1", 1, 100, 200, 300, 400);
	add(kr, "k2", 0, 0, 0, 0, 0);
	assert_null(keyring_find(kr, "k1", 99, &env));		/* not yet published */
	assert_int_equal(env, -1);
	k = keyring_find(kr, "k1", 100, &env);
	assert_non_null(k);
	assert_string_equal(jose_key_kid(k), "k1");
	assert_int_equal(env, 1);
	assert_non_null(keyring_find(kr, "k1", 350, NULL));	/* retired, still verifies */
	assert_non_null(keyring_find(kr, "k1", 399, NULL));
	assert_null(keyring_find(kr, "k1", 400, NULL));		/* removed */
	assert_non_null(keyring_find(kr, "k2", 1000000, &env));
	assert_int_equal(env, 0);
	assert_null(keyring_find(kr, "k3", 150, NULL));
	assert_null(keyring_find(kr, "K1", 150, NULL));
	assert_null(keyring_find(kr, "k", 150, NULL));
	assert_null(keyring_find(kr, "", 150, NULL));
	assert_null(keyring_find(kr, NULL, 150, NULL));
	assert_int_equal(keyring_size(kr), 2);
	keyring_unref(kr);
}

static void
test_jwks(void **state)
{
	struct keyring *kr = keyring_new();
	json_t *set, *arr, *k;

	(void)state;
	add(kr, "early", 1, 0, 0, 0, 50);
	add(kr, "now", 1, 0, 0, 0, 0);
	add(kr, "future", 0, 100, 200, 0, 0);

	set = keyring_jwks(kr, 60, envs);
	arr = json_object_get(set, "keys");
	assert_int_equal(json_object_size(set), 1);
	assert_int_equal(json_array_size(arr), 1);
	k = json_array_get(arr, 0);
	assert_string_equal(json_string_value(json_object_get(k, "kid")), "now");
	assert_string_equal(json_string_value(json_object_get(k, "env")), "production");
	assert_string_equal(json_string_value(json_object_get(k, "use")), "sig");
	assert_null(json_object_get(k, "d"));
	json_decref(set);

	/* Published ahead of activation (RFC 7517 rotation practice). */
	set = keyring_jwks(kr, 100, envs);
	arr = json_object_get(set, "keys");
	assert_int_equal(json_array_size(arr), 2);
	k = json_array_get(arr, 1);
	assert_string_equal(json_string_value(json_object_get(k, "kid")), "future");
	assert_string_equal(json_string_value(json_object_get(k, "env")), "sandbox");
	assert_null(signer(kr, 0, 100));
	json_decref(set);

	/* Empty ring: an empty set, not null. */
	keyring_unref(kr);
	kr = keyring_new();
	set = keyring_jwks(kr, 0, envs);
	assert_int_equal(json_array_size(json_object_get(set, "keys")), 0);
	json_decref(set);
	keyring_unref(kr);
}

/* A kid names one key; the second is refused and freed (ASan checks). */
static void
test_duplicate_kid(void **state)
{
	struct keyring *kr = keyring_new();
	struct keyring_dates d = { 0, 0, 0, 0 };

	(void)state;
	add(kr, "dup", 1, 0, 0, 0, 0);
	assert_int_equal(keyring_add(kr, key("dup"), 0, &d), -1);
	assert_int_equal(keyring_size(kr), 1);
	assert_int_equal(keyring_add(kr, key("x"), 0, NULL), -1);
	assert_int_equal(keyring_add(NULL, key("y"), 0, &d), -1);
	keyring_unref(kr);
	keyring_unref(NULL);
}

static void
test_many_keys(void **state)
{
	struct keyring *kr = keyring_new();
	char kid[16];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(kid, sizeof(kid), "k%02d", i);
		add(kr, kid, i % 2, 0, i, 0, 0);
	}
	assert_int_equal(keyring_size(kr), 40);
	assert_string_equal(signer(kr, 0, 1000), "k38");
	assert_string_equal(signer(kr, 1, 1000), "k39");
	assert_string_equal(signer(kr, 1, 20), "k19");
	assert_non_null(keyring_find(kr, "k00", 0, NULL));
	assert_non_null(keyring_find(kr, "k39", 0, NULL));
	keyring_unref(kr);
}

static void *
ref_loop(void *arg)
{
	struct keyring *kr = arg;

	for (int i = 0; i < 10000; i++) {
		struct keyring *r = keyring_ref(kr);
		if (keyring_find(r, "a", 0, NULL) == NULL)
			return arg;
		keyring_unref(r);
	}
	return NULL;
}

/* Readers take and drop references concurrently; the last unref frees. */
static void
test_refcount_threads(void **state)
{
	struct keyring *kr = keyring_new();
	pthread_t t[4];
	void *rv;

	(void)state;
	add(kr, "a", 0, 0, 0, 0, 0);
	assert_ptr_equal(keyring_ref(kr), kr);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, ref_loop, kr), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &rv);
		assert_null(rv);
	}
	keyring_unref(kr);
	assert_int_equal(keyring_size(kr), 1);	/* one reference left */
	keyring_unref(kr);
	assert_null(keyring_ref(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_key_dates),
		cmocka_unit_test(test_signing_key_ties_and_order),
		cmocka_unit_test(test_public_key_never_signs),
		cmocka_unit_test(test_find_dates),
		cmocka_unit_test(test_jwks),
		cmocka_unit_test(test_duplicate_kid),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_refcount_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
