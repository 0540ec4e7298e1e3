/*
 * Unit tests for held_by (approvals/held.h), over a real store (SQLite, and
 * PostgreSQL in tests/pgsql): who may act as a client through the secrets
 * the admin API showed to other principals — a client alone, a chain of
 * holders, a cycle followed once, a chain too deep refused, a deleted
 * holder that stays, and which ended secrets still count (a token of
 * theirs may still work) until the client's tokens are voided or the
 * longest token lifetime has passed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "approvals/held.h"
#include "store_fixture.h"

#define NOW	((int64_t)100000000)

/* Client id of tenant acme whose first secret was shown to holder ("" its
 * own), created at 2000 and live. */
static void
client(struct store *s, const char *id, const char *holder)
{
	struct store_client c = client_fixture(id, "acme");
	struct store_secret sec = secret_fixture(id, 1);

	sec.holder = (char *)holder;
	assert_int_equal(store_client_create(s, &c, &sec), STORE_OK);
}

/* A second secret of id, shown to holder. */
static void
rotated(struct store *s, const char *id, const char *holder)
{
	struct store_secret sec = secret_fixture(id, 2);
	int64_t prev;

	sec.holder = (char *)holder;
	assert_int_equal(store_secret_rotate(s, &sec, NOW + 86400, 2, &prev), STORE_OK);
}

/* held_by(id) must succeed and be exactly the n ids given. */
static void
held_is(struct store *s, const char *id, int64_t now, size_t n, ...)
{
	struct approvals_held h;
	char err[256] = "";
	va_list ap;

	assert_int_equal(approvals_held_by(s, id, now, &h, err, sizeof(err)), 0);
	assert_int_equal(h.n, n);
	va_start(ap, n);
	for (size_t i = 0; i < n; i++)
		assert_true(approvals_held_has(&h, va_arg(ap, const char *)));
	va_end(ap);
}

static void
alone_chain_and_cycle(void **state)
{
	struct store *s = open_store();
	struct approvals_held a, b;
	char err[256];

	(void)state;
	make_tenant(s, "acme");
	client(s, "cli-made", "");
	held_is(s, "cli-made", NOW, 1, "cli-made");
	/* b made a, c made b: whoever acts as c may act as a. */
	client(s, "c", "");
	client(s, "b", "c");
	client(s, "a", "b");
	held_is(s, "a", NOW, 3, "a", "b", "c");
	/* Its own rotation leaves the old holder while that secret lives. */
	rotated(s, "b", "");
	held_is(s, "b", NOW, 2, "b", "c");
	/* x and y made each other's secrets: followed once. */
	client(s, "x", "y");
	client(s, "y", "x");
	held_is(s, "x", NOW, 2, "x", "y");
	/* A client that is not (or no longer) there: its id alone. */
	held_is(s, "nobody", NOW, 1, "nobody");
	assert_int_equal(approvals_held_by(s, "a", NOW, &a, err, sizeof(err)), 0);
	assert_int_equal(approvals_held_by(s, "cli-made", NOW, &b, err, sizeof(err)), 0);
	assert_null(approvals_held_common(&a, &b));
	assert_int_equal(approvals_held_by(s, "b", NOW, &b, err, sizeof(err)), 0);
	assert_non_null(approvals_held_common(&a, &b));
	store_close(s);
}

/* A holder deleted since still stands for whoever held it: two clients
 * it made share it. */
static void
deleted_holder_stays(void **state)
{
	struct store *s = open_store();
	struct approvals_held a, b;
	char err[256];

	(void)state;
	make_tenant(s, "acme");
	client(s, "maker", "");
	client(s, "made-1", "maker");
	client(s, "made-2", "maker");
	assert_int_equal(store_client_delete(s, "maker"), STORE_OK);
	held_is(s, "made-1", NOW, 2, "made-1", "maker");
	assert_int_equal(approvals_held_by(s, "made-1", NOW, &a, err, sizeof(err)), 0);
	assert_int_equal(approvals_held_by(s, "made-2", NOW, &b, err, sizeof(err)), 0);
	assert_string_equal(approvals_held_common(&a, &b), "maker");
	store_close(s);
}

/* Deeper than APPROVALS_HELD_DEPTH: refused, not cut short. */
static void
too_deep_fails_closed(void **state)
{
	struct store *s = open_store();
	struct approvals_held h;
	char id[16], holder[16], err[256] = "";

	(void)state;
	make_tenant(s, "acme");
	client(s, "c0", "");
	for (int i = 1; i <= APPROVALS_HELD_DEPTH + 1; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		snprintf(holder, sizeof(holder), "c%d", i - 1);
		client(s, id, holder);
	}
	/* c<DEPTH> is DEPTH holders from c0: told. */
	snprintf(id, sizeof(id), "c%d", APPROVALS_HELD_DEPTH);
	assert_int_equal(approvals_held_by(s, id, NOW, &h, err, sizeof(err)), 0);
	assert_int_equal(h.n, APPROVALS_HELD_DEPTH + 1);
	snprintf(id, sizeof(id), "c%d", APPROVALS_HELD_DEPTH + 1);
	assert_int_equal(approvals_held_by(s, id, NOW, &h, err, sizeof(err)), 403);
	assert_non_null(strstr(err, "cannot be told"));
	store_close(s);
}

/* Sets secret number i (in id order) of id to end at revoked or expires. */
static void
ended(struct store *s, const char *id, size_t i, int64_t revoked, int64_t expires)
{
	struct store_secret *ss = NULL;
	size_t n = 0;

	assert_int_equal(store_secret_list(s, id, &ss, &n), STORE_OK);
	assert_true(i < n);
	ss[i].revoked_at = revoked;
	ss[i].expires_at = expires;
	assert_int_equal(store_secret_update(s, &ss[i]), STORE_OK);
	store_secret_free(ss, n);
}

/*
 * A secret ended (revoked, or expired after its grace) still counts while
 * a token it issued may work: revoking the secret alone does not free the
 * client from its holder; voiding the tokens issued before the end does,
 * and so does the longest token lifetime passing.
 */
static void
ended_secrets_count_while_their_tokens_may(void **state)
{
	struct store *s = open_store();
	int64_t end = NOW - 3600;

	(void)state;
	make_tenant(s, "acme");
	client(s, "maker", "");
	client(s, "revoked", "maker");
	ended(s, "revoked", 0, end, 0);
	held_is(s, "revoked", NOW, 2, "revoked", "maker");
	assert_int_equal(store_client_void_tokens(s, "revoked", end + 1, end + 1), STORE_OK);
	held_is(s, "revoked", NOW, 1, "revoked");
	/* Expired after its grace, tokens voided before it ended: still. */
	client(s, "expired", "maker");
	assert_int_equal(store_client_void_tokens(s, "expired", end - 10, end - 10), STORE_OK);
	ended(s, "expired", 0, 0, end);
	held_is(s, "expired", NOW, 2, "expired", "maker");
	held_is(s, "expired", end + APPROVALS_TOKEN_LIFE_MAX - 1, 2, "expired", "maker");
	held_is(s, "expired", end + APPROVALS_TOKEN_LIFE_MAX, 1, "expired");
	/* Revoked later than it was to expire: the revocation is its end. */
	client(s, "both", "maker");
	ended(s, "both", 0, end, NOW + 86400);
	held_is(s, "both", NOW, 2, "both", "maker");
	store_close(s);
}

/* A secret of id made at t and shown to holder (the others keep their
 * ends). */
static void
rotated_at(struct store *s, const char *id, const char *holder, int64_t t)
{
	struct store_secret sec = secret_fixture(id, 3);
	int64_t prev;

	sec.holder = (char *)holder;
	sec.created_at = t;
	assert_int_equal(store_secret_rotate(s, &sec, NOW + 86400, 2, &prev), STORE_OK);
}

/*
 * A client's rotation of its own secret through the admin API records the
 * client itself as the holder: the new secret was shown to whoever acted
 * as the client then, through any secret that could act at that time. It
 * was recorded as the client's own (""), so a maker holding a client's
 * secret could rotate it as the client, void the tokens of the secret it
 * was shown, and be no holder of the client any more: then decide its own
 * requests through it.
 */
static void
self_made_secret_keeps_earlier_holders(void **state)
{
	struct store *s = open_store();
	int64_t end = NOW - 3600;

	(void)state;
	make_tenant(s, "acme");
	client(s, "maker", "");
	/* Rotated by itself while the maker's secret lived; then the maker's
	 * secret ended and its tokens were voided: the maker still holds it. */
	client(s, "puppet", "maker");
	rotated_at(s, "puppet", "puppet", end - 60);
	ended(s, "puppet", 0, end, 0);
	assert_int_equal(store_client_void_tokens(s, "puppet", end + 1, end + 1), STORE_OK);
	held_is(s, "puppet", NOW, 2, "puppet", "maker");
	/* In turn: a second own rotation, made while only the first lived. */
	ended(s, "puppet", 1, 0, end + 30);
	rotated_at(s, "puppet", "puppet", end + 20);
	assert_int_equal(store_client_void_tokens(s, "puppet", end + 31, end + 31), STORE_OK);
	held_is(s, "puppet", NOW, 2, "puppet", "maker");
	/* Freed first (the maker's secret revoked with its tokens), rotated
	 * by itself after: nobody else could act as it then. */
	client(s, "freed", "maker");
	ended(s, "freed", 0, end, 0);
	assert_int_equal(store_client_void_tokens(s, "freed", end + 1, end + 1), STORE_OK);
	rotated_at(s, "freed", "freed", end + 10);
	held_is(s, "freed", NOW, 1, "freed");
	/* A client made by the CLI and rotated by itself: its own. */
	client(s, "own", "");
	rotated_at(s, "own", "own", end);
	held_is(s, "own", NOW, 1, "own");
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(alone_chain_and_cycle),
		STORE_TEST(deleted_holder_stays),
		STORE_TEST(too_deep_fails_closed),
		STORE_TEST(ended_secrets_count_while_their_tokens_may),
		STORE_TEST(self_made_secret_keeps_earlier_holders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
