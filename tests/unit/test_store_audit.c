/*
 * Unit tests for the audit trail in the store (store.h store_audit_*), on
 * SQLite and (tests/pgsql) on PostgreSQL: the chain stays one gapless chain when many threads append with
 * token records in the same batches; a row queued before a token record is
 * durable by the time that record is answered; the list filters; the
 * retention prune (a checkpoint that never reuses a seq, the kept digest,
 * keyed); argument checks, and no append or prune without the audit key;
 * and the canonical encoding of both chain versions (v2: HMAC-SHA-256 under
 * the key, checked against OpenSSL's one-shot HMAC).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "store_fixture.h"
#include "util/util.h"

static struct store_audit
row(int64_t at, const char *tenant, const char *actor, const char *action, const char *target)
{
	struct store_audit a;

	memset(&a, 0, sizeof(a));
	a.at = at;
	a.request_id = (char *)"req";
	a.actor = (char *)actor;
	a.tenant = (char *)tenant;
	a.address = (char *)"127.0.0.1";
	a.action = (char *)action;
	a.target = (char *)target;
	a.outcome = (char *)"ok";
	a.detail = (char *)"";
	return a;
}

/* -- one chain under concurrency ---------------------------------------------- */

struct worker {
	struct store	*s;
	int		 id;
};

static void *
appender(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < 250; i++) {
		struct store_audit a = row(1000 + i, "acme", "c1", "token.issued", "t");
		struct store_token t;
		char id[40];

		memset(&t, 0, sizeof(t));
		snprintf(id, sizeof(id), "tok-%d-%d", w->id, i);
		t.id = id;
		t.client_id = (char *)"c1";
		t.tenant_id = (char *)"acme";
		t.issued_at = 1;
		t.expires_at = 2;
		if (store_audit_append(w->s, &a, NULL, NULL) != STORE_OK ||
		    store_token_record(w->s, &t, NULL, NULL) != STORE_OK)
			return (void *)1;
	}
	return NULL;
}

static void
chain_one_under_threads(void **state)
{
	struct store *s = open_store();
	pthread_t th[4];
	struct worker w[4];
	struct chain c;

	(void)state;
	assert_true(store_audit_supported(s));
	for (int i = 0; i < 4; i++) {
		w[i].s = s;
		w[i].id = i;
		assert_int_equal(pthread_create(&th[i], NULL, appender, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		void *rv;
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	memset(&c, 0, sizeof(c));
	c.next = 1;
	assert_int_equal(store_audit_scan(s, 1, chain_check, &c), STORE_OK);
	assert_int_equal(c.bad, 0);
	/* A batch's token events of one client share a row (audit_group.h):
	 * fewer rows than events, and the list gives every event back. */
	assert_true(c.next > 1 && c.next <= 1001);
	{
		struct store_audit_filter f = { .limit = 10000 };
		struct store_audit *rows = NULL;
		size_t n = 0;
		assert_int_equal(store_audit_list(s, &f, &rows, &n), STORE_OK);
		assert_int_equal(n, 1000);
		store_audit_free(rows, n);
	}
	store_close(s);
}

/* -- a row queued before a token record is durable when it is answered -------- */

struct seen {
	struct store	*s;
	int		 found;
};

static void
token_done(void *arg, int err)
{
	struct seen *v = arg;
	struct store_audit_filter f;
	struct store_audit *rows = NULL;
	size_t n = 0;

	assert_int_equal(err, STORE_OK);
	memset(&f, 0, sizeof(f));
	f.action = "client.create";
	f.limit = 10;
	/* From the writer thread, through the main connection: committed. */
	if (store_audit_list(v->s, &f, &rows, &n) == STORE_OK && n == 1 &&
	    strcmp(rows[0].target, "before") == 0)
		v->found = 1;
	store_audit_free(rows, n);
}

static void
row_before_token_is_durable_first(void **state)
{
	struct store *s = open_store();
	struct store_audit a = row(5, "acme", "cli:root", "client.create", "before");
	struct store_token t;
	struct seen v = { s, 0 };

	(void)state;
	memset(&t, 0, sizeof(t));
	t.id = (char *)"tok";
	t.client_id = (char *)"c1";
	t.tenant_id = (char *)"acme";
	assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_OK);
	assert_int_equal(store_token_record(s, &t, token_done, &v), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(v.found, 1);
	store_close(s);
}

/* -- list ------------------------------------------------------------------------- */

static size_t
count(struct store *s, const struct store_audit_filter *f, int64_t *first_seq)
{
	struct store_audit *rows = NULL;
	size_t n = 0;

	assert_int_equal(store_audit_list(s, f, &rows, &n), STORE_OK);
	for (size_t i = 1; i < n; i++)
		assert_true(rows[i].seq < rows[i - 1].seq);	/* newest first */
	if (first_seq != NULL)
		*first_seq = n > 0 ? rows[0].seq : 0;
	store_audit_free(rows, n);
	return n;
}

static void
list_filters(void **state)
{
	struct store *s = open_store();
	struct store_audit_filter f;
	int64_t first;

	(void)state;
	for (int i = 0; i < 10; i++) {
		struct store_audit a = row(1000 * (i + 1), i % 2 ? "acme" : "globex",
		    i < 5 ? "c1" : "cli:root", i < 5 ? "token.issued" : "client.disable",
		    i < 5 ? "name" : "c1");
		assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	memset(&f, 0, sizeof(f));
	f.limit = 100;
	assert_int_equal(count(s, &f, &first), 10);
	assert_int_equal(first, 10);
	f.tenant = "acme";
	assert_int_equal(count(s, &f, NULL), 5);
	f.tenant = NULL;
	f.client = "c1";		/* actor of 5, target of 5 */
	assert_int_equal(count(s, &f, NULL), 10);
	f.action = "client.disable";
	assert_int_equal(count(s, &f, NULL), 5);
	f.client = NULL;
	f.action = NULL;
	f.since = 3000;
	f.until = 6000;			/* 3000, 4000, 5000 */
	assert_int_equal(count(s, &f, &first), 3);
	assert_int_equal(first, 5);
	f.since = f.until = 0;
	f.limit = 2;
	f.before_seq = 5;
	assert_int_equal(count(s, &f, &first), 2);
	assert_int_equal(first, 4);
	f.limit = 0;
	assert_int_equal(store_audit_list(s, &f, &(struct store_audit *){ NULL }, &(size_t){ 0 }),
	    STORE_ERROR);
	store_close(s);
}

/* -- prune ------------------------------------------------------------------------ */

static int
collect(void *arg, const struct store_audit *r)
{
	json_t *arr = arg;
	char h[65];

	hex_encode(r->hash, 32, h);
	json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)r->seq,
	    "action", r->action, "detail", r->detail, "hash", h));
	return 0;
}

static void
prune_when_the_head_is_pruned(void **state)
{
	struct store *s = open_store();
	struct store_audit a1 = row(100, "acme", "cli:root", "client.create", "c1");
	struct store_audit a2 = row(200, "acme", "c1", "token.issued", "t1");
	struct store_audit a4 = row(300, "acme", "c1", "token.issued", "t2");
	struct store_audit_digest *d;
	json_t *rows = json_array(), *cp;
	char kd[65];
	uint8_t h1[32], dig[32], th[32];
	struct chain c;
	int64_t pruned = -1;

	(void)state;
	assert_int_equal(store_audit_append(s, &a1, NULL, NULL), STORE_OK);
	assert_int_equal(store_audit_append(s, &a2, NULL, NULL), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	/* Nothing older than 150 is a token event: no checkpoint. */
	assert_int_equal(store_audit_prune(s, 150, 1000, &pruned), STORE_OK);
	assert_int_equal(pruned, 0);
	assert_int_equal(store_audit_scan(s, 1, collect, rows), STORE_OK);
	assert_int_equal(json_array_size(rows), 2);
	hex_decode(json_string_value(json_object_get(json_array_get(rows, 0), "hash")), 64, h1, 32);
	json_array_clear(rows);
	/* Row 2, the head, is pruned: the checkpoint takes seq 3, not 2. */
	assert_int_equal(store_audit_prune(s, 250, 1000, &pruned), STORE_OK);
	assert_int_equal(pruned, 1);
	assert_int_equal(store_audit_append(s, &a4, NULL, NULL), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(store_audit_scan(s, 1, collect, rows), STORE_OK);
	assert_int_equal(json_array_size(rows), 3);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 0), "seq")), 1);
	cp = json_array_get(rows, 1);
	assert_int_equal(json_integer_value(json_object_get(cp, "seq")), 3);
	assert_string_equal(json_string_value(json_object_get(cp, "action")), STORE_AUDIT_CHECKPOINT);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(rows, 2), "seq")), 4);
	/* The checkpoint is a v2 row: its digest is keyed. */
	d = store_audit_digest_new(fixture_key());
	store_audit_digest_add(d, 1, h1);
	store_audit_digest_final(d, dig);
	hex_encode(dig, 32, kd);
	{
		json_t *det = json_loads(json_string_value(json_object_get(cp, "detail")), 0, NULL);
		assert_non_null(det);
		assert_int_equal(json_integer_value(json_object_get(det, "through")), 2);
		assert_int_equal(json_integer_value(json_object_get(det, "kept")), 1);
		assert_int_equal(json_integer_value(json_object_get(det, "pruned")), 1);
		assert_string_equal(json_string_value(json_object_get(det, "kept_digest")), kd);
		assert_int_equal(hex_decode(json_string_value(json_object_get(det, "through_hash")),
		    64, th, 32), 0);
		json_decref(det);
	}
	/* From the cut on, one chain: row 3 chains to the pruned row 2 (its
	 * hash is the checkpoint's through_hash), row 4 to row 3. */
	memset(&c, 0, sizeof(c));
	c.next = 3;
	memcpy(c.prev, th, 32);
	assert_int_equal(store_audit_scan(s, 3, chain_check, &c), STORE_OK);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.next, 5);
	json_decref(rows);
	store_close(s);
}

/* -- arguments and encoding -------------------------------------------------------- */

static void
append_needs_action_and_outcome(void **state)
{
	struct store *s = open_store();
	struct store_audit a = row(1, "acme", "c1", NULL, "t");

	(void)state;
	assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_ERROR);
	a.action = (char *)"x";
	a.outcome = (char *)"";
	assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_ERROR);
	store_close(s);
}

/* Without the audit key the trail takes no row: a row linked without it
 * would be one anybody could forge. */
static void
append_and_prune_need_the_key(void **state)
{
	struct store *s = open_store_unkeyed();
	struct store_audit a = row(1, "acme", "c1", "client.create", "t");
	uint8_t other[32];
	int64_t pruned = -1, after = 0;

	(void)state;
	assert_null(store_audit_get_key(s));
	assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_ERROR);
	assert_non_null(strstr(store_last_error(), "key is not set"));
	assert_int_equal(store_audit_prune(s, 100, 1000, &pruned), STORE_ERROR);
	assert_int_equal(pruned, 0);
	/* Keying the empty trail writes its record, binding no row. */
	assert_int_equal(store_audit_set_key(s, fixture_audit_key, &after), STORE_OK);
	assert_int_equal(after, 0);
	assert_non_null(store_audit_get_key(s));
	/* The same key again is no change; another is refused. */
	assert_int_equal(store_audit_set_key(s, fixture_audit_key, &after), STORE_OK);
	assert_int_equal(after, -1);
	memset(other, 7, sizeof(other));
	assert_int_equal(store_audit_set_key(s, other, NULL), STORE_CONFLICT);
	assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	store_close(s);
}

/* The documented v2 link, made independently: HMAC-SHA-256 (OpenSSL's
 * one-shot EVP_Q_mac) over the domain and the encoding of store.h. */
static void
documented_v2_link(const uint8_t key[32], const struct store_audit *a, uint8_t out[32])
{
	const char *f[8] = { a->request_id, a->actor, a->tenant, a->address, a->action,
	    a->target, a->outcome, a->detail };
	uint8_t buf[1024];
	size_t n = 0, outlen = 0;

	memcpy(buf, "gatehouse-audit-v2", 19);	/* with its NUL */
	n = 19;
	memcpy(buf + n, a->prev_hash, 32);
	n += 32;
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)((uint64_t)a->seq >> (8 * i));
	for (int i = 7; i >= 0; i--)
		buf[n++] = (uint8_t)((uint64_t)a->at >> (8 * i));
	for (int i = 0; i < 8; i++) {
		size_t len = strlen(f[i]);
		buf[n++] = 0;
		buf[n++] = 0;
		buf[n++] = (uint8_t)(len >> 8);
		buf[n++] = (uint8_t)len;
		memcpy(buf + n, f[i], len);
		n += len;
	}
	assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, buf, n, out, 32,
	    &outlen));
	assert_int_equal(outlen, 32);
}

static void
link_is_length_prefixed_and_keyed(void **state)
{
	struct store_audit a = row(1, "ab", "c", "x", "t"), b = row(1, "a", "bc", "x", "t");
	struct store_audit_key *other;
	uint8_t ha[32], hb[32], zero[32], k2[32];

	(void)state;
	memset(zero, 0, sizeof(zero));
	for (int chain = STORE_AUDIT_CHAIN_V1; chain <= STORE_AUDIT_CHAIN_V2; chain++) {
		a = row(1, "ab", "c", "x", "t");
		b = row(1, "a", "bc", "x", "t");
		a.chain = b.chain = chain;
		assert_int_equal(store_audit_link(fixture_key(), &a, ha), 0);
		assert_int_equal(store_audit_link(fixture_key(), &b, hb), 0);
		assert_memory_not_equal(ha, hb, 32);
		b = row(1, "ab", "c", "x", "t");
		b.chain = chain;
		assert_int_equal(store_audit_link(fixture_key(), &b, hb), 0);
		assert_memory_equal(ha, hb, 32);
		b.seq = 1;			/* the seq is linked */
		assert_int_equal(store_audit_link(fixture_key(), &b, hb), 0);
		assert_memory_not_equal(ha, hb, 32);
	}
	/* v2 is the documented HMAC under the key; v1 is not keyed and
	 * differs from it; another key links otherwise. */
	a = row(5, "acme", "c1", "client.create", "c2");
	a.seq = 42;
	memset(a.prev_hash, 0xab, 32);
	a.chain = STORE_AUDIT_CHAIN_V2;
	assert_int_equal(store_audit_link(fixture_key(), &a, ha), 0);
	documented_v2_link(fixture_audit_key, &a, hb);
	assert_memory_equal(ha, hb, 32);
	a.chain = STORE_AUDIT_CHAIN_V1;
	assert_int_equal(store_audit_link(NULL, &a, hb), 0);
	assert_memory_not_equal(ha, hb, 32);
	memset(k2, 0x55, sizeof(k2));
	assert_non_null(other = store_audit_key_new(k2));
	a.chain = STORE_AUDIT_CHAIN_V2;
	assert_int_equal(store_audit_link(other, &a, hb), 0);
	assert_memory_not_equal(ha, hb, 32);
	assert_memory_not_equal(store_audit_key_check(other), store_audit_key_check(fixture_key()),
	    32);
	store_audit_key_free(other);
	/* v2 without a key, or an unknown version: no link (zeros). */
	memset(hb, 1, sizeof(hb));
	assert_int_equal(store_audit_link(NULL, &a, hb), -1);
	assert_memory_equal(hb, zero, 32);
	a.chain = 3;
	assert_int_equal(store_audit_link(fixture_key(), &a, hb), -1);
	assert_memory_equal(hb, zero, 32);
}

/* The key record's MAC binds its bound row, and only under its key. */
static void
key_record_binds_under_the_key(void **state)
{
	struct store_audit_seal seal;
	struct store_audit_key *other;
	uint8_t h[32], k2[32];

	(void)state;
	memset(h, 0x11, sizeof(h));
	memset(k2, 0x55, sizeof(k2));
	assert_non_null(other = store_audit_key_new(k2));
	assert_int_equal(store_audit_seal_make(fixture_key(), 9, h, &seal), 0);
	assert_true(store_audit_key_matches(fixture_key(), seal.check));
	assert_false(store_audit_key_matches(other, seal.check));
	assert_true(store_audit_seal_valid(fixture_key(), &seal));
	assert_false(store_audit_seal_valid(other, &seal));
	seal.through = 10;
	assert_false(store_audit_seal_valid(fixture_key(), &seal));
	seal.through = 9;
	seal.through_hash[0] ^= 1;
	assert_false(store_audit_seal_valid(fixture_key(), &seal));
	store_audit_key_free(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		STORE_TEST(chain_one_under_threads),
		STORE_TEST(row_before_token_is_durable_first),
		STORE_TEST(list_filters),
		STORE_TEST(prune_when_the_head_is_pruned),
		STORE_TEST(append_needs_action_and_outcome),
		STORE_TEST(append_and_prune_need_the_key),
		cmocka_unit_test(link_is_length_prefixed_and_keyed),
		cmocka_unit_test(key_record_binds_under_the_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
