/*
 * manage_client_update's retries at their limit (manage/manage.c,
 * UPDATE_TRIES = 5), over a real store.
 *
 * Another writer's change is made to land between each of the update's
 * reads and its write: the program is linked with
 * -Wl,--wrap=store_client_update, and the wrapper, while `interfere` is
 * above zero, first makes a real competing change (the client's
 * rate_limit, bumped through the real store_client_update on a fresh
 * read) and then hands the update's own write to the real function. So
 * the conflict each try meets is the store's own guard refusing a write
 * made from a stale read, not a faked return code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "manage/manage.h"
#include "store_fixture.h"

#define TRIES	5	/* manage.c's UPDATE_TRIES, which this test pins */

static struct config cfg;
static const uint8_t secret_key[32] = { 9 };
static int interfere;	/* competing changes still to make */
static int writes;	/* the update's own writes that reached the store */

int	__real_store_client_update(struct store *, const struct store_client *,
	    const struct store_client *);
int	__wrap_store_client_update(struct store *, const struct store_client *,
	    const struct store_client *);

/* Another node's change of the client, landing now. */
static void
competing_change(struct store *s, const char *id)
{
	struct store_client cur, next;

	assert_int_equal(store_client_get(s, id, &cur), STORE_OK);
	assert_int_equal(store_client_get(s, id, &next), STORE_OK);
	next.rate_limit = cur.rate_limit + 1;
	assert_int_equal(__real_store_client_update(s, &next, &cur), STORE_OK);
	store_client_clear(&next);
	store_client_clear(&cur);
}

int
__wrap_store_client_update(struct store *s, const struct store_client *next,
    const struct store_client *read)
{
	if (interfere > 0) {
		interfere--;
		competing_change(s, read->id);
	}
	writes++;
	return __real_store_client_update(s, next, read);
}

static void
make_client(struct store *s)
{
	struct client_spec spec;
	struct store_client out;
	char secret[SECRET_TEXT_LEN + 1], err[256];

	memset(&spec, 0, sizeof(spec));
	spec.id = "c1";
	spec.tenant = "acme";
	spec.name = "before";
	spec.rate_limit = "10";
	if (manage_client_create(s, secret_key, &cfg, &spec, &out, secret, err, sizeof(err)) != 0)
		fail_msg("manage_client_create: %s", err);
	store_client_clear(&out);
}

/* Runs the rename to "after" with n competing changes in its way; returns
 * its result, with the message in err. */
static int
rename_against(struct store *s, int n, char *err, size_t errlen)
{
	struct client_spec patch;

	memset(&patch, 0, sizeof(patch));
	patch.name = "after";
	interfere = n;
	writes = 0;
	err[0] = '\0';
	return manage_client_update(s, &cfg, "c1", &patch, NULL, err, errlen);
}

/* Four changes in the way: the fifth try lands, on top of all four. */
static void
last_try_lands(void **state)
{
	struct store *s = open_store();
	struct store_client c;
	char err[256];

	(void)state;
	make_tenant(s, "acme");
	make_client(s);
	if (rename_against(s, TRIES - 1, err, sizeof(err)) != 0)
		fail_msg("update: %s", err);
	assert_int_equal(writes, TRIES);
	assert_int_equal(interfere, 0);
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	assert_string_equal(c.name, "after");
	assert_int_equal(c.rate_limit, 10 + TRIES - 1);
	store_client_clear(&c);
	store_close(s);
}

/* Five in the way: every try meets one, the update gives up after the
 * fifth with the message the admin API turns into a 503 ("store:"), and
 * the client keeps the others' changes without this one. */
static void
every_try_overtaken(void **state)
{
	struct store *s = open_store();
	struct store_client c;
	char err[256];

	(void)state;
	make_tenant(s, "acme");
	make_client(s);
	assert_int_equal(rename_against(s, TRIES, err, sizeof(err)), -1);
	assert_int_equal(writes, TRIES);
	assert_string_equal(err, "store: client c1 kept changing while this update was "
	    "applied; try again");
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	assert_string_equal(c.name, "before");
	assert_int_equal(c.rate_limit, 10 + TRIES);
	store_client_clear(&c);

	/* With the others done, the same update goes through at once. */
	if (rename_against(s, 0, err, sizeof(err)) != 0)
		fail_msg("update: %s", err);
	assert_int_equal(writes, 1);
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	assert_string_equal(c.name, "after");
	store_client_clear(&c);
	store_close(s);
}

static int
setup(void **state)
{
	if (fixture_setup_store(state) != 0)
		return -1;
	config_defaults(&cfg);
	return 0;
}

static int
teardown(void **state)
{
	config_clear(&cfg);
	return fixture_teardown(state);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(last_try_lands, setup, teardown),
		cmocka_unit_test_setup_teardown(every_try_overtaken, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
