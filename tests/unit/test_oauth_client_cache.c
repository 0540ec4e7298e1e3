/*
 * Unit tests for the client cache (oauth/client_cache.h) over a real store.
 *
 * client_cache_peek is what an HTTP loop in front of a shared store asks
 * (server/offload.h): it must answer from memory or say it cannot, and never
 * read the store. To see every read, the program is linked with
 * -Wl,--wrap=store_client_get: the wrapper counts the cache's loads and
 * passes them on to the real function.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "config/config.h"
#include "manage/manage.h"
#include "oauth/client_cache.h"
#include "store_fixture.h"

static atomic_int reads;	/* store_client_get calls */

int	__real_store_client_get(struct store *, const char *, struct store_client *);
int	__wrap_store_client_get(struct store *, const char *, struct store_client *);

int
__wrap_store_client_get(struct store *s, const char *id, struct store_client *out)
{
	atomic_fetch_add(&reads, 1);
	return __real_store_client_get(s, id, out);
}

/* A store with client "c-1" of tenant "acme" and one secret. */
static struct store *
store_with_client(void)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c-1", "acme");
	struct store_secret sec = secret_fixture("c-1", 0x11);

	make_tenant(s, "acme");
	assert_int_equal(store_client_create(s, &c, &sec), STORE_OK);
	return s;
}

static void
peek_reads_nothing_and_misses_until_loaded(void **state)
{
	struct store *s = store_with_client();
	struct client_cache *cc = client_cache_new(s, "http://issuer");
	struct client_entry *e = (struct client_entry *)1;
	int rc = -1;

	(void)state;
	assert_non_null(cc);
	atomic_store(&reads, 0);
	assert_int_equal(client_cache_peek(cc, "c-1", &e, &rc), 0);
	assert_null(e);
	assert_int_equal(atomic_load(&reads), 0);

	assert_int_equal(client_cache_get(cc, "c-1", &e), STORE_OK);
	assert_int_equal(atomic_load(&reads), 1);
	client_entry_release(e);

	e = NULL;
	assert_int_equal(client_cache_peek(cc, "c-1", &e, &rc), 1);
	assert_int_equal(rc, STORE_OK);
	assert_non_null(e);
	assert_string_equal(e->c.tenant_id, "acme");
	assert_int_equal(e->nsecrets, 1);
	client_entry_release(e);
	assert_int_equal(atomic_load(&reads), 1);
	client_cache_free(cc);
	store_close(s);
}

/* An id the store does not know is remembered, and peek says so. */
static void
peek_answers_a_remembered_unknown(void **state)
{
	struct store *s = store_with_client();
	struct client_cache *cc = client_cache_new(s, "http://issuer");
	struct client_entry *e = NULL;
	int rc = -1;

	(void)state;
	atomic_store(&reads, 0);
	assert_int_equal(client_cache_peek(cc, "nobody", &e, &rc), 0);
	assert_int_equal(client_cache_get(cc, "nobody", &e), STORE_NOTFOUND);
	assert_int_equal(atomic_load(&reads), 1);
	e = (struct client_entry *)1;
	assert_int_equal(client_cache_peek(cc, "nobody", &e, &rc), 1);
	assert_int_equal(rc, STORE_NOTFOUND);
	assert_null(e);
	assert_int_equal(atomic_load(&reads), 1);
	client_cache_free(cc);
	store_close(s);
}

/* Emptied (a change was loaded), the cache misses again without a read:
 * the login on a loop then hands its request over rather than read. An
 * entry held from before stays valid. */
static void
peek_misses_after_a_clear(void **state)
{
	struct store *s = store_with_client();
	struct client_cache *cc = client_cache_new(s, "http://issuer");
	struct client_entry *held = NULL, *e = NULL;
	int rc = -1;

	(void)state;
	assert_int_equal(client_cache_get(cc, "c-1", &held), STORE_OK);
	client_cache_clear(cc);
	atomic_store(&reads, 0);
	assert_int_equal(client_cache_peek(cc, "c-1", &e, &rc), 0);
	assert_null(e);
	assert_int_equal(atomic_load(&reads), 0);
	assert_string_equal(held->c.id, "c-1");
	client_entry_release(held);
	client_cache_free(cc);
	store_close(s);
}

/*
 * Regression: extra claims whose names hold control characters. manage
 * bounds a client's claims by jansson's compact text, which writes a
 * newline in a name as a backslash and 'n'; the token's claims wrote it
 * as a six-byte \u escape, three times as long, and a client that manage
 * had accepted could not be loaded: every token request for it failed
 * (found by scripts/fuzz.sh, target client_spec).
 */
static void
claims_names_with_newlines_load_as_accepted(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c-nl", "acme");
	struct store_secret sec = secret_fixture("c-nl", 0x22);
	struct client_entry *e = NULL;
	struct client_spec spec;
	struct config cfg;
	char name[601], *claims, err[256];
	json_t *o;

	(void)state;
	memset(name, '\n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	o = json_pack("{s:i}", name, 1);
	assert_non_null(claims = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS));
	json_decref(o);
	config_defaults(&cfg);
	memset(&spec, 0, sizeof(spec));
	spec.tenant = "acme";
	spec.name = "nl";
	spec.claims = claims;
	assert_int_equal(manage_client_check(&cfg, &spec, err, sizeof(err)), 0);
	config_clear(&cfg);

	make_tenant(s, "acme");
	c.claims = claims;
	assert_int_equal(store_client_create(s, &c, &sec), STORE_OK);
	{
		struct client_cache *cc = client_cache_new(s, "http://issuer");
		assert_int_equal(client_cache_get(cc, "c-nl", &e), STORE_OK);
		/* The name as jansson writes it, within the bound manage set. */
		assert_non_null(strstr(e->claims_fragment, "\\n\\n\\n"));
		client_entry_release(e);
		client_cache_free(cc);
	}
	free(claims);
	store_close(s);
}

/* FNV-1a modulo the negative slots: the cache's hash before it was keyed. */
static unsigned
public_slot(const char *s)
{
	unsigned h = 2166136261u;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % 8192;	/* NEGATIVE_SLOTS */
}

/*
 * Regression: an unknown id's negative slot was chosen by a public hash,
 * so a caller could make ids that share one slot and evict another
 * unknown id from it at will, its next lookup then reading the store.
 * Keyed, 64 ids that shared a slot under FNV are nearly all remembered.
 */
static void
chosen_unknown_ids_do_not_evict_each_other(void **state)
{
	struct store *s = store_with_client();
	struct client_cache *cc = client_cache_new(s, "http://issuer");
	struct client_entry *e = NULL;
	unsigned target = public_slot("u0");
	char ids[64][16];
	int made = 0, kept = 0, rc;

	(void)state;
	for (unsigned j = 0; made < 64; j++) {
		snprintf(ids[made], sizeof(ids[0]), "u%u", j);
		if (public_slot(ids[made]) != target)
			continue;
		assert_int_equal(client_cache_get(cc, ids[made], &e), STORE_NOTFOUND);
		made++;
	}
	atomic_store(&reads, 0);
	for (int i = 0; i < made; i++)
		if (client_cache_peek(cc, ids[i], &e, &rc) == 1 && rc == STORE_NOTFOUND)
			kept++;
	assert_int_equal(atomic_load(&reads), 0);
	assert_true(kept >= 32);
	client_cache_free(cc);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		SQLITE_TEST(peek_reads_nothing_and_misses_until_loaded),
		SQLITE_TEST(peek_answers_a_remembered_unknown),
		SQLITE_TEST(peek_misses_after_a_clear),
		SQLITE_TEST(claims_names_with_newlines_load_as_accepted),
		SQLITE_TEST(chosen_unknown_ids_do_not_evict_each_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
