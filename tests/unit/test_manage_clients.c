/*
 * Unit tests for the operator's client changes (manage/manage.h) over a
 * real store (SQLite here, PostgreSQL again in tests/pgsql).
 *
 * manage_client_update reads the client, merges the patch and writes only
 * while the settings are still what it read (store_client_update); when
 * another change came in between, it reads again and re-applies the patch.
 * Several updates of different settings at once must therefore all land:
 * none is lost, none is refused.
 *
 * It gives up after UPDATE_TRIES (5) conflicts. To reach that limit, another
 * writer's change is made to land between each of the update's reads and
 * its write: the program is linked with -Wl,--wrap=store_client_update, and
 * the wrapper, while `interfere` is above zero, first makes a real
 * competing change (the client's rate_limit, bumped through the real
 * store_client_update on a fresh read) and then hands the update's own
 * write to the real function. So the conflict each try meets is the
 * store's own guard refusing a write made from a stale read. With
 * `interfere` at zero the wrapper only counts and passes the call on.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
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

static struct config cfg;
static const uint8_t secret_key[32] = { 7 };

#define TRIES	5		/* manage.c's UPDATE_TRIES, which this test pins */
static atomic_int interfere;	/* competing changes still to make */
static atomic_int writes;	/* updates' own writes that reached the store */

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
	if (atomic_load(&interfere) > 0) {
		atomic_fetch_sub(&interfere, 1);
		competing_change(s, read->id);
	}
	atomic_fetch_add(&writes, 1);
	return __real_store_client_update(s, next, read);
}

/*
 * One updater per setting. A try fails only when another updater's write
 * landed between its read and its write, and each updater writes once, so
 * none needs more tries than there are updaters: with at most as many
 * updaters as manage's tries (5), every one must succeed.
 */
#define UPDATERS	5

struct updater {
	pthread_barrier_t	*go;
	struct client_spec	 patch;
	int			 rc;
	char			 err[256];
};

static void *
updater_main(void *arg)
{
	struct updater *u = arg;
	struct store *s = open_store();	/* a handle of its own, as a node has */

	pthread_barrier_wait(u->go);
	u->rc = manage_client_update(s, &cfg, "c1", &u->patch, NULL, u->err, sizeof(u->err));
	store_close(s);
	return NULL;
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
	spec.env = "production";
	spec.roles = "viewer";
	spec.scopes = "a";
	spec.ttl = "600";
	spec.max_ttl = "1200";
	spec.allow_ips[0] = "10.0.0.0/8";	/* production needs an allowlist */
	spec.nallow = 1;
	if (manage_client_create(s, secret_key, &cfg, &spec, &out, secret, err, sizeof(err)) != 0)
		fail_msg("manage_client_create: %s", err);
	store_client_clear(&out);
}

/* Five updates of five settings at once: all succeed, and the client ends
 * with every one of them (a lost update would leave its old value). */
static void
updates_at_once_all_land(void **state)
{
	struct store *s = open_store();
	struct updater u[UPDATERS];
	pthread_t th[UPDATERS];
	pthread_barrier_t go;
	struct store_client c;

	(void)state;
	make_tenant(s, "acme");
	make_client(s);
	memset(u, 0, sizeof(u));
	u[0].patch.name = "after";
	u[1].patch.scopes = "a b";
	u[2].patch.ttl = "900";
	u[3].patch.claims = "{\"partner_id\":\"p-9\"}";
	u[4].patch.rate_limit = "77";
	pthread_barrier_init(&go, NULL, UPDATERS);
	for (int i = 0; i < UPDATERS; i++) {
		u[i].go = &go;
		u[i].rc = -2;
		assert_int_equal(pthread_create(&th[i], NULL, updater_main, &u[i]), 0);
	}
	for (int i = 0; i < UPDATERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < UPDATERS; i++)
		if (u[i].rc != 0)
			fail_msg("updater %d: rc %d: %s", i, u[i].rc, u[i].err);
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	assert_string_equal(c.name, "after");
	assert_string_equal(c.scopes, "a b");
	assert_int_equal(c.ttl, 900);
	assert_int_equal(c.max_ttl, 1200);
	assert_string_equal(c.claims, "{\"partner_id\":\"p-9\"}");
	assert_int_equal(c.rate_limit, 77);
	assert_int_equal(c.roles, STORE_ROLE_VIEWER);
	assert_string_equal(c.allow_ips, "10.0.0.0/8");
	store_client_clear(&c);
	store_close(s);
}

/* An update never touches what it was not asked to change, even where the
 * stored value changed after the client was made: a disable made through
 * its own call stays. */
static void
update_keeps_a_disable(void **state)
{
	struct store *s = open_store();
	struct client_spec patch;
	struct store_client c;
	char err[256];

	(void)state;
	make_tenant(s, "acme");
	make_client(s);
	if (manage_client_set_disabled(s, "c1", 1, NULL, err, sizeof(err)) != 0)
		fail_msg("disable: %s", err);
	memset(&patch, 0, sizeof(patch));
	patch.name = "renamed";
	if (manage_client_update(s, &cfg, "c1", &patch, &c, err, sizeof(err)) != 0)
		fail_msg("update: %s", err);
	assert_string_equal(c.name, "renamed");
	assert_int_equal(c.disabled, 1);
	store_client_clear(&c);
	store_close(s);
}

/* Renames c1 to "after" with n competing changes in its way; returns the
 * update's result, with its message in err. */
static int
rename_against(struct store *s, int n, char *err, size_t errlen)
{
	struct client_spec patch;

	memset(&patch, 0, sizeof(patch));
	patch.name = "after";
	atomic_store(&interfere, n);
	atomic_store(&writes, 0);
	err[0] = '\0';
	return manage_client_update(s, &cfg, "c1", &patch, NULL, err, errlen);
}

/* A store holding tenant acme and client c1; *rate_limit is c1's. */
static struct store *
store_with_c1(int64_t *rate_limit)
{
	struct store *s = open_store();
	struct store_client c;

	make_tenant(s, "acme");
	make_client(s);
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	*rate_limit = c.rate_limit;
	store_client_clear(&c);
	return s;
}

/* Four changes in the way: the fifth try lands, on top of all four. */
static void
last_try_lands(void **state)
{
	struct store_client c;
	int64_t before;
	struct store *s = store_with_c1(&before);
	char err[256];

	(void)state;
	if (rename_against(s, TRIES - 1, err, sizeof(err)) != 0)
		fail_msg("update: %s", err);
	assert_int_equal(atomic_load(&writes), TRIES);
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	assert_string_equal(c.name, "after");
	assert_int_equal(c.rate_limit, before + TRIES - 1);
	store_client_clear(&c);
	store_close(s);
}

/* Five in the way: every try meets one, the update gives up after the
 * fifth with the message the admin API turns into a 503 ("store:"), and
 * the client keeps the others' changes without this one. */
static void
every_try_overtaken(void **state)
{
	struct store_client c;
	int64_t before;
	struct store *s = store_with_c1(&before);
	char err[256];

	(void)state;
	assert_int_equal(rename_against(s, TRIES, err, sizeof(err)), -1);
	assert_int_equal(atomic_load(&writes), TRIES);
	assert_string_equal(err, "store: client c1 kept changing while this update was "
	    "applied; try again");
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	assert_string_equal(c.name, "before");
	assert_int_equal(c.rate_limit, before + TRIES);
	store_client_clear(&c);

	/* With the others done, the same update goes through at once. */
	if (rename_against(s, 0, err, sizeof(err)) != 0)
		fail_msg("update: %s", err);
	assert_int_equal(atomic_load(&writes), 1);
	assert_int_equal(store_client_get(s, "c1", &c), STORE_OK);
	assert_string_equal(c.name, "after");
	store_client_clear(&c);
	store_close(s);
}

/*
 * A call whose X-Request-ID a retry took over (store.h store_idem_mark_acted)
 * cannot act: its write is refused by the record's guard. That refusal was
 * the store's STORE_CONFLICT, which each operation read as its own: a
 * tenant or client "already exists", an update "kept changing" (after
 * four more tries, each refused alike). Each now says the call was taken
 * over, at its first write.
 */
static void
a_call_taken_over_says_so(void **state)
{
	int64_t before;
	struct store *s = store_with_c1(&before), *s2 = open_store();
	struct store_idem r, old;
	struct client_spec spec;
	struct store_tenant t;
	struct store_client out;
	char secret[SECRET_TEXT_LEN + 1], err[256];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.client_id = "admin";
	r.key = "k1";
	memset(r.fingerprint, 'a', sizeof(r.fingerprint) - 1);
	r.created_at = 1000;
	r.expires_at = 1000 + 86400;
	assert_int_equal(store_idem_begin(s, &r, 1000, 700, &old), STORE_OK);
	/* Its retry, 300 s on, on another node: the key is the retry's. */
	r.created_at = 1301;
	assert_int_equal(store_idem_begin(s2, &r, 1301, 1001, &old), STORE_OK);

	assert_int_equal(store_idem_mark_acted(s, "admin", "k1", 1000), STORE_OK);
	assert_int_equal(manage_tenant_create(s, "t-late", NULL, &t, err, sizeof(err)), -1);
	assert_int_equal(store_idem_unmark(s), 0);
	assert_null(strstr(err, "already exists"));
	assert_non_null(strstr(err, STORE_SUPERSEDED_WORDS "a retry of this call"));

	memset(&spec, 0, sizeof(spec));
	spec.id = "c2";
	spec.tenant = "acme";
	spec.name = "late";
	spec.env = "sandbox";
	spec.roles = "viewer";
	assert_int_equal(store_idem_mark_acted(s, "admin", "k1", 1000), STORE_OK);
	assert_int_equal(manage_client_create(s, secret_key, &cfg, &spec, &out, secret, err,
	    sizeof(err)), -1);
	assert_int_equal(store_idem_unmark(s), 0);
	assert_null(strstr(err, "already exists"));
	assert_non_null(strstr(err, STORE_SUPERSEDED_WORDS));

	assert_int_equal(store_idem_mark_acted(s, "admin", "k1", 1000), STORE_OK);
	assert_int_equal(rename_against(s, 0, err, sizeof(err)), -1);
	assert_int_equal(store_idem_unmark(s), 0);
	assert_int_equal(atomic_load(&writes), 1);
	assert_null(strstr(err, "kept changing"));
	assert_non_null(strstr(err, STORE_SUPERSEDED_WORDS));
	store_close(s2);
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
		cmocka_unit_test_setup_teardown(updates_at_once_all_land, setup, teardown),
		cmocka_unit_test_setup_teardown(update_keeps_a_disable, setup, teardown),
		cmocka_unit_test_setup_teardown(last_try_lands, setup, teardown),
		cmocka_unit_test_setup_teardown(every_try_overtaken, setup, teardown),
		cmocka_unit_test_setup_teardown(a_call_taken_over_says_so, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
