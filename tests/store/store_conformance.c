/*
 * store_conformance.c — the store behaviour every backend shows, written
 * once (see store_conformance.h): every entity's create/get/list/update
 * with its conflict and not-found answers, revocation by name and the
 * prune of expired records, the change generation (token records leave it
 * alone; another handle sees it, as the CLI and the server, or two nodes,
 * do), a database at a newer schema refused, the group commit under 64
 * threads, close committing what is queued, and the bounded queue; and the
 * keyed audit chain: rows linked under the audit key and verified with it
 * (audit/audit.h audit_verify), a wrong key named as such, a trail of
 * unkeyed (v1) rows carried on by keyed ones, and a rewrite by someone
 * without the key (rows relinked by the unkeyed scheme) found.
 * Each test starts from an empty store (the backend's setup).
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

#include "audit/audit.h"
#include "store/schema_common.h"
#include "store/store_internal.h"
#include "store_conformance.h"
#include "store_fixture.h"
#include "util/util.h"

/*
 * Queues records of client c1 named "n", id prefix<i> issued at i * step
 * for i from 0, answered into a, until n are queued or the store refuses
 * one. Returns how many were queued; *rc (when not NULL) gets the answer
 * to the last call: STORE_OK when all n were.
 */
static int
record_tokens(struct store *s, struct tally *a, const char *prefix, int n, int64_t step,
    int *rc)
{
	struct store_token t;
	char id[32];
	int i, err = STORE_OK;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "%s%d", prefix, i);
		t = token_fixture(id, "c1", "n", i * step);
		if ((err = store_token_record(s, &t, tally_done, a)) != STORE_OK)
			break;
	}
	if (rc != NULL)
		*rc = err;
	return i;
}

/* Closes s (which commits what it has queued) and returns how many token
 * records another connection then sees. */
static int64_t
tokens_after_close(const struct conformance_backend *b, struct store *s)
{
	store_close(s);
	return b->count("SELECT count(*) FROM tokens");
}

/* got reads back as want was recorded (optional strings given). */
static void
token_matches(const struct store_token *got, const struct store_token *want)
{
	assert_string_equal(got->id, want->id);
	assert_string_equal(got->client_id, want->client_id);
	assert_string_equal(got->tenant_id, want->tenant_id);
	assert_string_equal(got->name, want->name);
	assert_string_equal(got->scope, want->scope);
	assert_string_equal(got->aud, want->aud);
	assert_int_equal(got->format, want->format);
	assert_int_equal(got->env, want->env);
	assert_int_equal(got->issued_at, want->issued_at);
	assert_int_equal(got->expires_at, want->expires_at);
	assert_int_equal(got->revoked_at, want->revoked_at);
}

/* -- tenants --------------------------------------------------------------------- */

static void
tenants(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct store_tenant t = { (char *)"acme", (char *)"Acme", 7 }, got, *all = NULL;
	struct store_tenant noid = { NULL, (char *)"x", 0 };
	size_t n = 99;
	uint64_t g0;

	assert_string_equal(store_backend(s), b->name);	/* the store the runner meant */
	assert_int_equal(store_tenant_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_tenant_free(all, n);
	g0 = gen(s);
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_tenant_create(s, &t), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "tenant acme already exists"));
	assert_true(gen(s) == g0 + 1);	/* a failed change changes nothing */
	assert_int_equal(store_tenant_create(s, &noid), STORE_ERROR);
	t.id = (char *)"beta";
	t.name = (char *)"Beta";
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);

	assert_int_equal(store_tenant_get(s, "acme", &got), STORE_OK);
	assert_string_equal(got.id, "acme");
	assert_string_equal(got.name, "Acme");
	assert_int_equal(got.created_at, 7);
	store_tenant_clear(&got);
	assert_int_equal(store_tenant_get(s, "nope", &got), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "tenant nope does not exist"));
	assert_null(got.id);

	assert_int_equal(store_tenant_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].id, "acme");
	assert_string_equal(all[1].id, "beta");
	store_tenant_free(all, n);
	store_close(s);
}

/* store_write_probe (/readyz while writes fail): a durable write that
 * another connection sees, and that moves no generation (no reloads). */
static void
write_probe(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	uint64_t g[STORE_GEN__MAX];

	for (int k = 0; k < STORE_GEN__MAX; k++)
		g[k] = gen_of(s, (enum store_gen_kind)k);
	assert_int_equal(store_write_probe(s, 1700000000), STORE_OK);
	assert_int_equal(store_write_probe(s, 1700000007), STORE_OK);
	assert_int_equal(b->count("SELECT value FROM meta WHERE key = 'write_probe'"), 1700000007);
	for (int k = 0; k < STORE_GEN__MAX; k++)
		assert_true(gen_of(s, (enum store_gen_kind)k) == g[k]);
	store_close(s);
}

/* -- clients --------------------------------------------------------------------- */

static void
clients(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "acme"), back, read, *all = NULL;
	struct store_secret sec = secret_fixture("ignored", 7), *secs = NULL;
	size_t n = 0;
	uint64_t g0;

	(void)state;
	make_tenant(s, "acme");
	make_tenant(s, "beta");
	g0 = gen(s);
	sec.holder = "admin-7";
	assert_int_equal(store_client_create(s, &c, &sec), STORE_OK);
	assert_true(sec.id > 0);
	assert_true(gen(s) == g0 + 1);
	/* The first secret is the client's, whatever its client_id said,
	 * shown to its holder. */
	assert_int_equal(store_secret_list(s, "c1", &secs, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(secs[0].id, sec.id);
	assert_string_equal(secs[0].client_id, "c1");
	assert_string_equal(secs[0].holder, "admin-7");
	store_secret_free(secs, n);

	assert_int_equal(store_client_create(s, &c, NULL), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "client c1 already exists"));

	/* Every field comes back as written. */
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_string_equal(back.id, "c1");
	assert_string_equal(back.tenant_id, "acme");
	assert_string_equal(back.name, "a client");
	assert_int_equal(back.env, STORE_ENV_PRODUCTION);
	assert_int_equal(back.roles, STORE_ROLE_OPERATOR | STORE_ROLE_VIEWER);
	assert_string_equal(back.scopes, "payments:read payments:write");
	assert_int_equal(back.ttl, 3600);
	assert_int_equal(back.max_ttl, 7200);
	assert_int_equal(back.format, STORE_FORMAT_OPAQUE);
	assert_string_equal(back.allow_ips, "10.0.0.0/8 192.168.1.1/32");
	assert_string_equal(back.claims, "{\"partner_id\":\"p-1\"}");
	assert_int_equal(back.disabled, 0);
	assert_int_equal(back.rate_limit, 60);
	assert_int_equal(back.tokens_valid_after, 5);
	assert_int_equal(back.created_at, 1000);
	assert_int_equal(back.updated_at, 1001);

	/* Update writes the settings, and only those, when they are still
	 * as read: never the tenant, env, creation time, disabled or
	 * tokens_valid_after. */
	g0 = gen(s);
	assert_int_equal(store_client_get(s, "c1", &read), STORE_OK);
	back.disabled = 1;
	back.tokens_valid_after = 99;
	back.created_at = 7;
	free(back.tenant_id);
	back.tenant_id = strdup("beta");
	free(back.scopes);
	back.scopes = strdup("payments:read");
	back.rate_limit = 30;
	back.updated_at = 1500;
	assert_int_equal(store_client_update(s, &back, &read), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	store_client_clear(&back);
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_string_equal(back.scopes, "payments:read");
	assert_int_equal(back.rate_limit, 30);
	assert_int_equal(back.updated_at, 1500);
	assert_string_equal(back.tenant_id, "acme");
	assert_int_equal(back.disabled, 0);
	assert_int_equal(back.tokens_valid_after, 5);
	assert_int_equal(back.created_at, 1000);

	/* Made from a read the first update overtook: refused, unchanged. */
	g0 = gen(s);
	free(back.name);
	back.name = strdup("stale");
	assert_int_equal(store_client_update(s, &back, &read), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "client c1 changed since it was read"));
	assert_true(gen(s) == g0);
	store_client_clear(&read);
	assert_int_equal(store_client_get(s, "c1", &read), STORE_OK);
	assert_string_equal(read.name, "a client");

	/* Disabling and voiding tokens are changes of their own, which an
	 * update made from a read before them leaves alone. */
	g0 = gen(s);
	assert_int_equal(store_client_set_disabled(s, "c1", 1, 1600), STORE_OK);
	assert_int_equal(store_client_void_tokens(s, "c1", 50, 1601), STORE_OK);
	assert_true(gen(s) == g0 + 2);
	assert_int_equal(store_client_void_tokens(s, "c1", 20, 1602), STORE_OK);
	assert_int_equal(store_client_update(s, &back, &read), STORE_OK);
	store_client_clear(&back);
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_string_equal(back.name, "stale");
	assert_int_equal(back.disabled, 1);
	assert_int_equal(back.tokens_valid_after, 50);	/* never moved back */
	assert_int_equal(store_client_set_disabled(s, "c1", 0, 1700), STORE_OK);
	store_client_clear(&back);
	assert_int_equal(store_client_get(s, "c1", &back), STORE_OK);
	assert_int_equal(back.disabled, 0);
	assert_int_equal(back.updated_at, 1700);

	/* Any of them on a missing client. */
	store_client_clear(&read);
	assert_int_equal(store_client_get(s, "c1", &read), STORE_OK);
	back.id[0] = 'x';
	read.id[0] = 'x';
	assert_int_equal(store_client_update(s, &back, &read), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "client x1 does not exist"));
	assert_int_equal(store_client_set_disabled(s, "x1", 1, 1), STORE_NOTFOUND);
	assert_int_equal(store_client_void_tokens(s, "x1", 1, 1), STORE_NOTFOUND);
	store_client_clear(&back);
	store_client_clear(&read);
	assert_int_equal(store_client_get(s, "nope", &back), STORE_NOTFOUND);

	/* Optional strings may be NULL: they read back as "" and "{}". */
	c = client_fixture("c2", "beta");
	c.scopes = NULL;
	c.allow_ips = NULL;
	c.claims = NULL;
	c.created_at = 1100;
	assert_int_equal(store_client_create(s, &c, NULL), STORE_OK);
	assert_int_equal(store_client_get(s, "c2", &back), STORE_OK);
	assert_string_equal(back.scopes, "");
	assert_string_equal(back.allow_ips, "");
	assert_string_equal(back.claims, "{}");
	store_client_clear(&back);

	/* Out-of-range enums are refused before SQL. */
	c = client_fixture("c3", "acme");
	c.env = (enum store_env)7;
	assert_int_equal(store_client_create(s, &c, NULL), STORE_ERROR);

	assert_int_equal(store_client_list(s, NULL, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].id, "c1");
	assert_string_equal(all[1].id, "c2");
	store_client_free(all, n);
	assert_int_equal(store_client_list(s, "beta", &all, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(all[0].id, "c2");
	store_client_free(all, n);
	assert_int_equal(store_client_list(s, "ghost", &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_client_free(all, n);
	store_close(s);
}

static void
client_create_missing_tenant_is_atomic(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "ghost"), back;
	struct store_secret sec = secret_fixture("c1", 1);
	uint64_t g0 = gen(s);

	assert_int_equal(store_client_create(s, &c, &sec), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "tenant ghost does not exist"));
	assert_int_equal(store_client_get(s, "c1", &back), STORE_NOTFOUND);
	assert_true(gen(s) == g0);
	store_close(s);
	assert_int_equal(b->count("SELECT count(*) FROM client_secrets"), 0);
	assert_int_equal(b->count("SELECT count(*) FROM clients"), 0);
}

/* -- secrets --------------------------------------------------------------------- */

static void
secrets(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "acme");
	struct store_secret first = secret_fixture("c1", 1), second = secret_fixture("c1", 2);
	struct store_secret orphan = secret_fixture("ghost", 3), *all = NULL;
	size_t n = 0;
	int64_t prev;
	uint64_t g0;

	(void)state;
	make_tenant(s, "acme");
	assert_int_equal(store_client_create(s, &c, &first), STORE_OK);
	g0 = gen(s);
	second.expires_at = 9000;
	second.holder = "maker-9";
	assert_int_equal(store_secret_rotate(s, &second, 4000, 2, &prev), STORE_OK);
	assert_true(second.id > first.id);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_secret_rotate(s, &orphan, 4000, 2, &prev), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "client ghost does not exist"));

	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].id, first.id);
	assert_int_equal(all[0].hash[0], 1);
	assert_int_equal(all[0].hash[31], 1);
	assert_int_equal(all[1].id, second.id);
	assert_memory_equal(all[1].hash, second.hash, 32);
	assert_int_equal(all[1].created_at, 2000);
	assert_int_equal(all[1].expires_at, 9000);
	assert_int_equal(all[1].revoked_at, 0);
	/* The holder as written; none given is the client itself. */
	assert_string_equal(all[0].holder, "");
	assert_string_equal(all[1].holder, "maker-9");

	/* update writes the two dates only. */
	g0 = gen(s);
	all[0].revoked_at = 3000;
	all[0].expires_at = 3500;
	all[0].created_at = 1;
	assert_int_equal(store_secret_update(s, &all[0]), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	store_secret_free(all, n);
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(all[0].revoked_at, 3000);
	assert_int_equal(all[0].expires_at, 3500);
	assert_int_equal(all[0].created_at, 2000);
	assert_string_equal(all[1].holder, "maker-9");
	all[0].id = 424242;
	assert_int_equal(store_secret_update(s, &all[0]), STORE_NOTFOUND);
	store_secret_free(all, n);
	assert_int_equal(store_secret_list(s, "ghost", &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_secret_free(all, n);
	store_close(s);
}

/* The secrets due for rotation: live at now and made at or before
 * made_by, across clients; revoked and ended ones are not counted. */
static void
secrets_due(void **state)
{
	struct store *s = open_store();
	struct store_client c1 = client_fixture("c1", "acme"), c2 = client_fixture("c2", "acme");
	struct store_secret a = secret_fixture("c1", 1), b = secret_fixture("c2", 2);
	struct store_secret fresh = secret_fixture("c1", 3), *all = NULL;
	size_t n = 0;
	int64_t count = -1, prev;

	(void)state;
	make_tenant(s, "acme");
	assert_int_equal(store_secret_count_due(s, 5000, 6000, &count), STORE_OK);
	assert_int_equal(count, 0);				/* none at all */
	assert_int_equal(store_client_create(s, &c1, &a), STORE_OK);	/* made at 2000 */
	assert_int_equal(store_client_create(s, &c2, &b), STORE_OK);
	fresh.created_at = 5500;
	assert_int_equal(store_secret_rotate(s, &fresh, 7000, 2, &prev), STORE_OK);
	assert_int_equal(store_secret_count_due(s, 5000, 6000, &count), STORE_OK);
	assert_int_equal(count, 2);				/* a (ends 7000) and b */
	assert_int_equal(store_secret_count_due(s, 1999, 6000, &count), STORE_OK);
	assert_int_equal(count, 0);				/* none made that early */
	assert_int_equal(store_secret_count_due(s, 6000, 7000, &count), STORE_OK);
	assert_int_equal(count, 2);				/* a has ended: b, fresh */
	assert_int_equal(store_secret_list(s, "c2", &all, &n), STORE_OK);
	all[0].revoked_at = 3000;
	assert_int_equal(store_secret_update(s, &all[0]), STORE_OK);
	store_secret_free(all, n);
	assert_int_equal(store_secret_count_due(s, 6000, 6500, &count), STORE_OK);
	assert_int_equal(count, 2);				/* a and fresh */
	store_close(s);
}

/* A rotation cuts the live secrets to end_by (one ending sooner keeps its
 * end), adds the new one, says when the last old one ends, and refuses a
 * rotation past max_live without changing anything. */
static void
secret_rotation(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "acme");
	struct store_secret first = secret_fixture("c1", 1), x, *all = NULL;
	size_t n = 0;
	int64_t prev = -1;
	uint64_t g0;

	(void)state;
	make_tenant(s, "acme");
	assert_int_equal(store_client_create(s, &c, &first), STORE_OK);
	g0 = gen(s);
	x = secret_fixture("c1", 2);
	x.created_at = 3000;
	assert_int_equal(store_secret_rotate(s, &x, 5000, 2, &prev), STORE_OK);
	assert_true(x.id > first.id);
	assert_int_equal(prev, 5000);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].expires_at, 5000);
	assert_int_equal(all[1].id, x.id);
	assert_int_equal(all[1].expires_at, 0);
	assert_int_equal(all[1].created_at, 3000);
	store_secret_free(all, n);

	/* Two live: a third is refused, and nothing changes. */
	x = secret_fixture("c1", 3);
	x.created_at = 3100;
	assert_int_equal(store_secret_rotate(s, &x, 9000, 2, &prev), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "already has 2 live secrets"));
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].expires_at, 5000);
	assert_int_equal(all[1].expires_at, 0);
	store_secret_free(all, n);

	/* Once the first has ended, one is live: the rotation goes through,
	 * and the ended one keeps its end. */
	x = secret_fixture("c1", 4);
	x.created_at = 6000;
	assert_int_equal(store_secret_rotate(s, &x, 6100, 2, &prev), STORE_OK);
	assert_int_equal(prev, 6100);
	/* A secret ending before end_by keeps its end; prev is the latest. */
	x = secret_fixture("c1", 5);
	x.created_at = 6050;
	assert_int_equal(store_secret_rotate(s, &x, 9000, 3, &prev), STORE_OK);
	assert_int_equal(prev, 9000);
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 4);
	assert_int_equal(all[0].expires_at, 5000);
	assert_int_equal(all[1].expires_at, 6100);
	assert_int_equal(all[2].expires_at, 9000);
	assert_int_equal(all[3].expires_at, 0);
	store_secret_free(all, n);

	/* A revoked secret is not live: with the last one revoked, one is
	 * live at 7000, and a rotation with max_live 2 goes through. */
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	all[3].revoked_at = 6900;
	assert_int_equal(store_secret_update(s, &all[3]), STORE_OK);
	store_secret_free(all, n);
	x = secret_fixture("c1", 6);
	x.created_at = 7000;
	assert_int_equal(store_secret_rotate(s, &x, 8000, 2, &prev), STORE_OK);
	assert_int_equal(prev, 8000);

	/* No client, no rotation. */
	x = secret_fixture("ghost", 7);
	assert_int_equal(store_secret_rotate(s, &x, 9000, 2, &prev), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "client ghost does not exist"));
	store_close(s);
}

#define AT_ONCE 6

/* One call made at once with the others: its handle, its number. */
typedef int (*at_once_fn)(struct store *s, int i);

struct at_once {
	pthread_barrier_t	*go;
	at_once_fn		 fn;
	int			 i, rc;
};

static void *
at_once_main(void *arg)
{
	struct at_once *a = arg;
	struct store *s = open_store();

	pthread_barrier_wait(a->go);
	a->rc = a->fn(s, a->i);
	store_close(s);
	return NULL;
}

/* Calls fn on AT_ONCE threads, each with a handle of its own (the CLI
 * beside the server, or nodes), let go together; how many answered
 * STORE_OK and how many STORE_CONFLICT. */
static void
run_at_once(at_once_fn fn, int *ok, int *conflict)
{
	struct at_once a[AT_ONCE];
	pthread_t th[AT_ONCE];
	pthread_barrier_t go;

	*ok = *conflict = 0;
	pthread_barrier_init(&go, NULL, AT_ONCE);
	for (int i = 0; i < AT_ONCE; i++) {
		a[i].go = &go;
		a[i].fn = fn;
		a[i].i = i;
		a[i].rc = -1;
		assert_int_equal(pthread_create(&th[i], NULL, at_once_main, &a[i]), 0);
	}
	for (int i = 0; i < AT_ONCE; i++) {
		pthread_join(th[i], NULL);
		*ok += a[i].rc == STORE_OK;
		*conflict += a[i].rc == STORE_CONFLICT;
	}
	pthread_barrier_destroy(&go);
}

static int
rotate_secret(struct store *s, int i)
{
	struct store_secret x = secret_fixture("c1", (uint8_t)(10 + i));
	int64_t prev;

	x.created_at = 3000;
	return store_secret_rotate(s, &x, 4000, 2, &prev);
}

/* Rotations at once: the client has one live secret, so exactly one goes
 * through and it ends with two live, never three. */
static void
secret_rotations_at_once(void **state)
{
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "acme");
	struct store_secret first = secret_fixture("c1", 1), *all = NULL;
	size_t n = 0;
	int ok, conflict;

	(void)state;
	make_tenant(s, "acme");
	assert_int_equal(store_client_create(s, &c, &first), STORE_OK);
	run_at_once(rotate_secret, &ok, &conflict);
	assert_int_equal(ok, 1);
	assert_int_equal(conflict, AT_ONCE - 1);
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(all[0].expires_at, 4000);
	assert_int_equal(all[1].expires_at, 0);
	store_secret_free(all, n);
	store_close(s);
}

/* -- keys ------------------------------------------------------------------------ */

static void
keys(void **state)
{
	struct store *s = open_store();
	uint8_t sealed[300];
	struct store_key k, *all = NULL;
	size_t n = 0;
	uint64_t g0;

	(void)state;
	for (size_t i = 0; i < sizeof(sealed); i++)
		sealed[i] = (uint8_t)i;	/* includes NUL bytes */
	memset(&k, 0, sizeof(k));
	k.kid = (char *)"k2";
	k.alg = (char *)"ES256";
	k.env = STORE_ENV_PRODUCTION;
	k.sealed = sealed;
	k.sealed_len = sizeof(sealed);
	k.created_at = 20;
	k.publish_at = 21;
	k.activate_at = 22;
	g0 = gen(s);
	assert_int_equal(store_key_add(s, &k), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_key_add(s, &k), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "key k2 already exists"));
	k.kid = (char *)"k1";
	k.alg = (char *)"RS256";
	k.created_at = 10;
	k.sealed_len = 5;
	assert_int_equal(store_key_add(s, &k), STORE_OK);
	k.sealed_len = 0;
	k.kid = (char *)"k0";
	assert_int_equal(store_key_add(s, &k), STORE_ERROR);

	assert_int_equal(store_key_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_string_equal(all[0].kid, "k1");	/* by created_at */
	assert_int_equal(all[0].sealed_len, 5);
	assert_string_equal(all[1].kid, "k2");
	assert_string_equal(all[1].alg, "ES256");
	assert_int_equal(all[1].env, STORE_ENV_PRODUCTION);
	assert_int_equal(all[1].sealed_len, sizeof(sealed));
	assert_memory_equal(all[1].sealed, sealed, sizeof(sealed));
	assert_int_equal(all[1].publish_at, 21);
	assert_int_equal(all[1].activate_at, 22);
	assert_int_equal(all[1].retire_at, 0);

	/* Keys change only by rotation (key_rotation) and revocation: k1,
	 * the older of the two signing, is the current one; k2 may go. */
	g0 = gen(s);
	assert_int_equal(store_key_revoke(s, "k2", 50), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(store_key_revoke(s, "nope", 50), STORE_NOTFOUND);
	store_key_free(all, n);
	assert_int_equal(store_key_list(s, &all, &n), STORE_OK);
	assert_int_equal(all[1].retire_at, 50);
	assert_int_equal(all[1].remove_at, 50);
	store_key_free(all, n);
	store_close(s);
}

/* A key of env with kid, taking over at activate (its sealed bytes are
 * a constant: the store does not look inside). */
static struct store_key
key_fixture(const char *kid, enum store_env env, int64_t activate)
{
	static uint8_t sealed[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct store_key k;

	memset(&k, 0, sizeof(k));
	k.kid = (char *)kid;
	k.alg = (char *)"RS256";
	k.env = env;
	k.sealed = sealed;
	k.sealed_len = sizeof(sealed);
	k.created_at = activate;
	k.publish_at = activate;
	k.activate_at = activate;
	return k;
}

/* The key named kid, as the store has it, into *out (the caller clears). */
static void
key_get(struct store *s, const char *kid, struct store_key *out)
{
	struct store_key *all = NULL;
	size_t n = 0, i;

	assert_int_equal(store_key_list(s, &all, &n), STORE_OK);
	for (i = 0; i < n && strcmp(all[i].kid, kid) != 0; i++)
		;
	assert_true(i < n);
	*out = all[i];
	memset(&all[i], 0, sizeof(all[i]));
	store_key_free(all, n);
}

/* A rotation adds the successor and retires the key signing now, unless
 * a successor is already scheduled; each environment on its own. */
static void
key_rotation(void **state)
{
	struct store *s = open_store();
	struct store_key a = key_fixture("a", STORE_ENV_SANDBOX, 100), k, got;
	uint64_t g0;

	(void)state;
	assert_int_equal(store_key_add(s, &a), STORE_OK);
	g0 = gen(s);
	k = key_fixture("b", STORE_ENV_SANDBOX, 300);
	assert_int_equal(store_key_rotate(s, &k, 200, 900, "a"), STORE_OK);
	assert_true(gen(s) == g0 + 1);
	key_get(s, "a", &got);
	assert_int_equal(got.retire_at, 300);
	assert_int_equal(got.remove_at, 900);
	store_key_clear(&got);

	/* b is scheduled: another sandbox rotation is refused, unchanged. */
	k = key_fixture("c", STORE_ENV_SANDBOX, 350);
	assert_int_equal(store_key_rotate(s, &k, 250, 1000, "a"), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "a sandbox key is already scheduled"));
	assert_true(gen(s) == g0 + 1);
	key_get(s, "a", &got);
	assert_int_equal(got.remove_at, 900);
	store_key_clear(&got);

	/* Production has no key: its first rotation only adds. */
	k = key_fixture("p", STORE_ENV_PRODUCTION, 260);
	assert_int_equal(store_key_rotate(s, &k, 250, 1000, NULL), STORE_OK);

	/* Once b signs, it is the one retired; a keeps its dates. */
	k = key_fixture("d", STORE_ENV_SANDBOX, 500);
	assert_int_equal(store_key_rotate(s, &k, 400, 1200, "b"), STORE_OK);
	key_get(s, "b", &got);
	assert_int_equal(got.retire_at, 500);
	assert_int_equal(got.remove_at, 1200);
	store_key_clear(&got);
	key_get(s, "a", &got);
	assert_int_equal(got.retire_at, 300);
	assert_int_equal(got.remove_at, 900);
	store_key_clear(&got);
	key_get(s, "p", &got);
	assert_int_equal(got.retire_at, 0);
	store_key_clear(&got);
	store_close(s);
}

static int
rotate_key(struct store *s, int i)
{
	char kid[8];
	struct store_key k;

	snprintf(kid, sizeof(kid), "n%d", i);
	k = key_fixture(kid, STORE_ENV_SANDBOX, 300);
	return store_key_rotate(s, &k, 200, 900, "a");
}

/* rotate_key with no publish lead: the successor signs from now on. */
static int
rotate_key_now(struct store *s, int i)
{
	char kid[8];
	struct store_key k;

	snprintf(kid, sizeof(kid), "m%d", i);
	k = key_fixture(kid, STORE_ENV_SANDBOX, 200);
	return store_key_rotate(s, &k, 200, 900, "a");
}

/* Rotations at once (each node's schedule): one new key, never two. */
static void
key_rotations_at_once(void **state)
{
	struct store *s = open_store();
	struct store_key a = key_fixture("a", STORE_ENV_SANDBOX, 100), *all = NULL;
	size_t n = 0;
	int ok, conflict;

	(void)state;
	assert_int_equal(store_key_add(s, &a), STORE_OK);
	run_at_once(rotate_key, &ok, &conflict);
	assert_int_equal(ok, 1);
	assert_int_equal(conflict, AT_ONCE - 1);
	assert_int_equal(store_key_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	store_key_free(all, n);
	store_close(s);
}

/* Regression: rotations at once with no publish lead (key_publish_lead =
 * 0: each successor signs from now on, so none was "scheduled") all went
 * in, each retiring the one before at once: three nodes' schedules made
 * three keys per env. Each names the key it replaces; only the first
 * finds it still signing. */
static void
key_rotations_at_once_without_lead(void **state)
{
	struct store *s = open_store();
	struct store_key a = key_fixture("a", STORE_ENV_SANDBOX, 100), k, *all = NULL;
	size_t n = 0;
	int ok, conflict;

	(void)state;
	assert_int_equal(store_key_add(s, &a), STORE_OK);
	run_at_once(rotate_key_now, &ok, &conflict);
	assert_int_equal(ok, 1);
	assert_int_equal(conflict, AT_ONCE - 1);
	assert_int_equal(store_key_list(s, &all, &n), STORE_OK);
	assert_int_equal(n, 2);
	store_key_free(all, n);
	/* One after the other, the second still naming a: refused, saying why. */
	k = key_fixture("late", STORE_ENV_SANDBOX, 200);
	assert_int_equal(store_key_rotate(s, &k, 200, 900, "a"), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "another sandbox rotation came first"));
	store_close(s);
}

/* A revocation ends a key at once, unless it is the one signing for its
 * env and no other does. */
static void
key_revocation(void **state)
{
	struct store *s = open_store();
	struct store_key a = key_fixture("a", STORE_ENV_SANDBOX, 100);
	struct store_key b = key_fixture("b", STORE_ENV_SANDBOX, 150), got;
	uint64_t g0;

	(void)state;
	assert_int_equal(store_key_add(s, &a), STORE_OK);
	g0 = gen(s);
	assert_int_equal(store_key_revoke(s, "a", 200), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "key a is the only key signing for sandbox"));
	assert_true(gen(s) == g0);
	assert_int_equal(store_key_add(s, &b), STORE_OK);
	/* Both sign at 200, b the newer: a may go. */
	assert_int_equal(store_key_revoke(s, "a", 200), STORE_OK);
	key_get(s, "a", &got);
	assert_int_equal(got.retire_at, 200);
	assert_int_equal(got.remove_at, 200);
	store_key_clear(&got);
	assert_int_equal(store_key_revoke(s, "b", 200), STORE_CONFLICT);
	assert_int_equal(store_key_revoke(s, "zz", 200), STORE_NOTFOUND);
	assert_non_null(strstr(store_last_error(), "no key zz"));
	store_close(s);
}

/* Regression: revoking the successor a rotation scheduled left the key it
 * was to replace retiring all the same, at the successor's activation, so
 * the env then had no key that signs (503 for every token) until a
 * restart made one. Revoking it now cancels the rotation; a successor
 * that already signs leaves its predecessor retired. */
static void
key_revocation_of_a_scheduled_successor(void **state)
{
	struct store *s = open_store();
	struct store_key a = key_fixture("a", STORE_ENV_SANDBOX, 100), k, got;

	(void)state;
	assert_int_equal(store_key_add(s, &a), STORE_OK);
	k = key_fixture("b", STORE_ENV_SANDBOX, 300);
	assert_int_equal(store_key_rotate(s, &k, 200, 900, "a"), STORE_OK);
	assert_int_equal(store_key_revoke(s, "b", 250), STORE_OK);
	key_get(s, "a", &got);
	assert_int_equal(got.retire_at, 0);
	assert_int_equal(got.remove_at, 0);
	store_key_clear(&got);
	key_get(s, "b", &got);
	assert_int_equal(got.remove_at, 250);
	store_key_clear(&got);

	/* Once the successor signs, revoking it leaves its predecessor retired. */
	k = key_fixture("c", STORE_ENV_SANDBOX, 400);
	assert_int_equal(store_key_rotate(s, &k, 350, 1000, "a"), STORE_OK);
	k = key_fixture("x", STORE_ENV_SANDBOX, 410);
	assert_int_equal(store_key_add(s, &k), STORE_OK);
	assert_int_equal(store_key_revoke(s, "c", 450), STORE_OK);
	key_get(s, "a", &got);
	assert_int_equal(got.retire_at, 400);
	assert_int_equal(got.remove_at, 1000);
	store_key_clear(&got);
	store_close(s);
}

/* Regression: revoking the only key signing for an env while a rotation's
 * successor waited was refused, and the way out took three commands
 * (revoke the successor, rotate with no lead, revoke again), a leaked key
 * signing on meanwhile. Now the waiting successor signs from the
 * revocation on, in the same transaction as the revoked key goes; with no
 * successor it is still refused. */
static void
key_revocation_brings_the_successor_forward(void **state)
{
	struct store *s = open_store();
	struct store_key a = key_fixture("a", STORE_ENV_SANDBOX, 100), k, got;
	struct store_key p = key_fixture("p", STORE_ENV_PRODUCTION, 100);
	uint64_t g0;

	(void)state;
	assert_int_equal(store_key_add(s, &a), STORE_OK);
	assert_int_equal(store_key_add(s, &p), STORE_OK);
	k = key_fixture("b", STORE_ENV_SANDBOX, 800);
	k.publish_at = 200;
	assert_int_equal(store_key_rotate(s, &k, 200, 1500, "a"), STORE_OK);
	g0 = gen(s);
	assert_int_equal(store_key_revoke(s, "a", 250), STORE_OK);
	assert_true(gen(s) > g0);
	key_get(s, "a", &got);
	assert_int_equal(got.retire_at, 250);
	assert_int_equal(got.remove_at, 250);
	store_key_clear(&got);
	key_get(s, "b", &got);
	assert_int_equal(got.publish_at, 200);
	assert_int_equal(got.activate_at, 250);
	assert_int_equal(got.retire_at, 0);
	assert_int_equal(got.remove_at, 0);
	store_key_clear(&got);
	/* b signs now, as the store's own choice for a rotation has it. */
	k = key_fixture("c", STORE_ENV_SANDBOX, 300);
	assert_int_equal(store_key_rotate(s, &k, 260, 1600, "b"), STORE_OK);
	/* The other env is untouched, and its only key, with no successor,
	 * is still refused. */
	key_get(s, "p", &got);
	assert_int_equal(got.activate_at, 100);
	assert_int_equal(got.remove_at, 0);
	store_key_clear(&got);
	assert_int_equal(store_key_revoke(s, "p", 250), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "key p is the only key signing for production"));
	store_close(s);
}

/* Two keys of one env active from the same second (two nodes making the
 * first keys at once): a rotation retires both, not only the one chosen to
 * sign, which left the other published for good; and the store's choice of
 * signer is the keyring's, the one made last. */
static void
key_tie_rotation_retires_both(void **state)
{
	struct store *s = open_store();
	struct store_key a = key_fixture("a", STORE_ENV_SANDBOX, 100);
	struct store_key b = key_fixture("b", STORE_ENV_SANDBOX, 100), k, got;

	(void)state;
	b.created_at = 101;
	assert_int_equal(store_key_add(s, &a), STORE_OK);
	assert_int_equal(store_key_add(s, &b), STORE_OK);
	/* b signs (made last): revoking it now is refused only were it alone. */
	assert_int_equal(store_key_revoke(s, "b", 150), STORE_OK);
	assert_int_equal(store_key_revoke(s, "a", 150), STORE_CONFLICT);
	b = key_fixture("b2", STORE_ENV_SANDBOX, 100);
	b.created_at = 102;
	assert_int_equal(store_key_add(s, &b), STORE_OK);
	k = key_fixture("c", STORE_ENV_SANDBOX, 300);
	assert_int_equal(store_key_rotate(s, &k, 200, 900, "b2"), STORE_OK);
	for (int i = 0; i < 2; i++) {
		key_get(s, i ? "b2" : "a", &got);
		assert_int_equal(got.retire_at, 300);
		assert_int_equal(got.remove_at, 900);
		store_key_clear(&got);
	}
	store_close(s);
}

static int
revoke_key(struct store *s, int i)
{
	return store_key_revoke(s, i % 2 ? "x" : "y", 200);
}

/* Revocations at once of both keys signing for one env: one of the two
 * goes, the other keeps signing. */
static void
key_revocations_at_once(void **state)
{
	struct store *s = open_store();
	struct store_key x = key_fixture("x", STORE_ENV_SANDBOX, 100);
	struct store_key y = key_fixture("y", STORE_ENV_SANDBOX, 150), gx, gy;
	int ok, conflict;

	(void)state;
	assert_int_equal(store_key_add(s, &x), STORE_OK);
	assert_int_equal(store_key_add(s, &y), STORE_OK);
	run_at_once(revoke_key, &ok, &conflict);
	assert_int_equal(ok + conflict, AT_ONCE);
	key_get(s, "x", &gx);
	key_get(s, "y", &gy);
	assert_int_equal((gx.remove_at == 0) + (gy.remove_at == 0), 1);
	store_key_clear(&gx);
	store_key_clear(&gy);
	store_close(s);
}

/* -- tokens ---------------------------------------------------------------------- */

/* A client's first page, large enough for every test's records but one. */
static const struct store_token_page first_page = { 0, NULL, 1000 };

static void
tokens(void **state)
{
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct store_token t, got, *all = NULL;
	size_t n = 0;
	uint64_t g0, g1, r0, r1;
	int count = -1;

	(void)state;
	g0 = gen(s);
	/* Recorded out of issue order; listed in it. */
	t = token_fixture("j3", "c1", "nightly", 300);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("j1", "c1", "nightly", 100);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("j2", "c1", "adhoc", 200);
	t.format = STORE_FORMAT_OPAQUE;
	t.aud = NULL;	/* optional: recorded as "" */
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("j4", "c2", "nightly", 50);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("", "c2", "nightly", 50);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_ERROR);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 4);
	g1 = gen(s);
	assert_true(g1 == g0);	/* token records are not changes caches see */

	assert_int_equal(store_token_list(s, "c1", &first_page, &all, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_string_equal(all[0].id, "j1");
	assert_string_equal(all[1].id, "j2");
	assert_string_equal(all[2].id, "j3");
	assert_int_equal(all[1].format, STORE_FORMAT_OPAQUE);
	assert_string_equal(all[1].aud, "");
	store_token_free(all, n);

	/* Every field comes back as recorded: client c1, tenant acme, name
	 * nightly, scope "a b", aud https://api, sandbox, issued at 300,
	 * expiring at 3900, live. */
	assert_int_equal(store_token_get(s, "j3", &got), STORE_OK);
	t = token_fixture("j3", "c1", "nightly", 300);
	token_matches(&got, &t);
	store_token_clear(&got);
	assert_int_equal(store_token_get(s, "nope", &got), STORE_NOTFOUND);

	/* Revoke one: the revocations' generation moves (not the data's);
	 * again: OK, no move; absent: NOTFOUND. */
	r0 = gen_of(s, STORE_GEN_REVOKED);
	assert_int_equal(store_token_revoke(s, "j2", 900), STORE_OK);
	assert_true(gen(s) == g0);
	r1 = gen_of(s, STORE_GEN_REVOKED);
	assert_true(r1 == r0 + 1);
	assert_int_equal(store_token_revoke(s, "j2", 950), STORE_OK);
	assert_true(gen_of(s, STORE_GEN_REVOKED) == r1);
	assert_int_equal(store_token_get(s, "j2", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 900);
	store_token_clear(&got);
	assert_int_equal(store_token_revoke(s, "nope", 900), STORE_NOTFOUND);

	/* By name, of one client: only its live ones. */
	assert_int_equal(store_token_revoke_by_name(s, "c1", "nightly", 1000, &count), STORE_OK);
	assert_int_equal(count, 2);
	assert_true(gen_of(s, STORE_GEN_REVOKED) == r1 + 1);
	assert_true(gen(s) == g0);
	assert_int_equal(store_token_get(s, "j4", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 0);
	store_token_clear(&got);
	assert_int_equal(store_token_revoke_by_name(s, "c1", "nightly", 1000, &count), STORE_NOTFOUND);
	assert_int_equal(count, 0);
	/* By name, any client. */
	assert_int_equal(store_token_revoke_by_name(s, NULL, "nightly", 1100, &count), STORE_OK);
	assert_int_equal(count, 1);
	assert_int_equal(store_token_revoke_by_name(s, NULL, "unknown", 1100, &count), STORE_NOTFOUND);
	assert_int_equal(store_token_get(s, "j1", &got), STORE_OK);
	assert_int_equal(got.revoked_at, 1000);	/* the first revocation stands */
	store_token_clear(&got);

	assert_int_equal(store_token_list(s, "nobody", &first_page, &all, &n), STORE_OK);
	assert_int_equal(n, 0);
	store_token_free(all, n);
	store_close(s);
}

/* The ids of store_token_list_revoked_since(since, now), sorted, in one
 * space-separated string. */
static void
revoked_since(struct store *s, uint64_t since, int64_t now, size_t limit, char *out, size_t len)
{
	struct store_token *all = NULL;
	size_t n = 0;
	char *ids[16];

	assert_int_equal(store_token_list_revoked_since(s, since, now, limit, &all, &n), STORE_OK);
	assert_true(n <= 16);
	for (size_t i = 0; i < n; i++)
		ids[i] = all[i].id;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
			char *x = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = x;
		}
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " " : "", ids[i]);
	store_token_free(all, n);
}

/*
 * The gate's incremental read (gate/revoked.c): the tokens revoked since
 * revocation generation N are those, and only those, whose revocation
 * moved it past N, whether by id or by name; expired ones are left out;
 * a revocation that changed nothing records nothing; the limit holds.
 */
static void
tokens_revoked_since(void **state)
{
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct store_token t;
	char got[256];
	uint64_t r0, r1, r2;
	int count;

	(void)state;
	t = token_fixture("a1", "c1", "one", 100);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("a2", "c1", "batch", 100);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("a3", "c1", "batch", 100);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("a4", "c1", "late", 5000);	/* expires at 8600 */
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	t = token_fixture("a5", "c1", "live", 100);
	assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 5);

	r0 = gen_of(s, STORE_GEN_REVOKED);
	revoked_since(s, r0, 0, 100, got, sizeof(got));
	assert_string_equal(got, "");
	assert_int_equal(store_token_revoke(s, "a1", 900), STORE_OK);
	r1 = gen_of(s, STORE_GEN_REVOKED);
	assert_true(r1 == r0 + 1);
	revoked_since(s, r0, 0, 100, got, sizeof(got));
	assert_string_equal(got, "a1");
	revoked_since(s, r1, 0, 100, got, sizeof(got));
	assert_string_equal(got, "");
	/* Already revoked: nothing moves, nothing new to read. */
	assert_int_equal(store_token_revoke(s, "a1", 950), STORE_OK);
	revoked_since(s, r1, 0, 100, got, sizeof(got));
	assert_string_equal(got, "");

	/* By name (seed 002's token_name): both of one revocation. */
	assert_int_equal(store_token_revoke_by_name(s, "c1", "batch", 1000, &count), STORE_OK);
	assert_int_equal(count, 2);
	r2 = gen_of(s, STORE_GEN_REVOKED);
	revoked_since(s, r1, 0, 100, got, sizeof(got));
	assert_string_equal(got, "a2 a3");
	revoked_since(s, r0, 0, 100, got, sizeof(got));
	assert_string_equal(got, "a1 a2 a3");
	assert_int_equal(store_token_revoke_by_name(s, NULL, "late", 1100, &count), STORE_OK);
	revoked_since(s, r2, 0, 100, got, sizeof(got));
	assert_string_equal(got, "a4");

	/* Expired at now: left out, as in the full list. */
	revoked_since(s, r0, 3700, 100, got, sizeof(got));
	assert_string_equal(got, "a4");
	/* The limit holds. */
	revoked_since(s, r0, 0, 2, got, sizeof(got));
	assert_int_equal(strlen(got), 5);	/* two ids */
	store_close(s);
}

static int
revoke_one(struct store *s, int i)
{
	char id[8];

	snprintf(id, sizeof(id), "r%d", i);
	return store_token_revoke(s, id, 500);
}

/*
 * Revocations at once, each on a handle of its own (nodes, the CLI): each
 * records a generation of its own, the one its commit made. Two that
 * recorded the same one (read before either moved it) would leave one of
 * them out of what a node that had read the other reads next.
 */
static void
token_revocations_at_once(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct store_token t, *all = NULL;
	char id[8];
	size_t n = 0;
	uint64_t r0;
	int ok, conflict;

	for (int i = 0; i < AT_ONCE; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		t = token_fixture(id, "c1", "n", 100);
		assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	r0 = gen_of(s, STORE_GEN_REVOKED);
	run_at_once(revoke_one, &ok, &conflict);
	assert_int_equal(ok, AT_ONCE);
	/* From the table: this handle may hear of the others' late. */
	assert_int_equal(b->count("SELECT value FROM meta WHERE key = 'revocation_generation'"),
	    (int64_t)r0 + AT_ONCE);
	for (int k = 0; k <= AT_ONCE; k++) {
		assert_int_equal(store_token_list_revoked_since(s, r0 + (uint64_t)k, 0, 100, &all, &n),
		    STORE_OK);
		assert_int_equal(n, AT_ONCE - k);
		store_token_free(all, n);
	}
	store_close(s);
}

#define PAGED_RECORDS	25
#define PAGE_LIMIT	10

struct paged_want {
	char	id[8];
	int64_t	iat;
};

static int
paged_cmp(const void *a, const void *b)
{
	const struct paged_want *x = a, *y = b;

	if (x->iat != y->iat)
		return x->iat < y->iat ? -1 : 1;
	return strcmp(x->id, y->id);
}

/*
 * Paging through a client's records: 25 records, four to a second (so
 * pages of 10 end inside a second, where only the id tells the records
 * apart), recorded out of order beside another client's, come back one
 * page after another each exactly once in (issued_at, id) order; the page
 * after the last is empty; a cursor whose record has gone (pruned between
 * pages) still leads on; a limit out of range is refused.
 */
static void
token_pages(void **state)
{
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct paged_want want[PAGED_RECORDS];
	struct store_token t, *got = NULL;
	struct store_token_page page = { 0, NULL, PAGE_LIMIT };
	char last_id[64] = "";
	size_t n = 0, seen = 0, pages = 0;

	(void)state;
	/* Ids fall as i rises: within a second, id order is not record order. */
	for (int i = 0; i < PAGED_RECORDS; i++) {
		snprintf(want[i].id, sizeof(want[i].id), "p%02d", PAGED_RECORDS - 1 - i);
		want[i].iat = 100 + i / 4;
		t = token_fixture(want[i].id, "paged", "n", want[i].iat);
		assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
		t = token_fixture(want[i].id + 1, "other", "n", want[i].iat);	/* "02".. */
		assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 2 * PAGED_RECORDS);
	qsort(want, PAGED_RECORDS, sizeof(want[0]), paged_cmp);

	for (;;) {
		assert_int_equal(store_token_list(s, "paged", &page, &got, &n), STORE_OK);
		assert_true(n <= PAGE_LIMIT);
		for (size_t i = 0; i < n; i++, seen++) {
			assert_true(seen < PAGED_RECORDS);
			assert_string_equal(got[i].id, want[seen].id);
			assert_int_equal(got[i].issued_at, want[seen].iat);
			assert_string_equal(got[i].client_id, "paged");
		}
		if (n == 0) {
			store_token_free(got, n);
			break;
		}
		pages++;
		page.after_issued = got[n - 1].issued_at;
		snprintf(last_id, sizeof(last_id), "%s", got[n - 1].id);
		page.after_id = last_id;
		store_token_free(got, n);
	}
	assert_int_equal(seen, PAGED_RECORDS);
	assert_int_equal(pages, 3);	/* 10, 10, 5; then the empty one */

	/* The cursor is a place in the order, not a record: "p14z" sorts
	 * just after want[9] ("p14" at 102), where a pruned record would be. */
	assert_string_equal(want[9].id, "p14");
	page.after_issued = want[9].iat;
	page.after_id = "p14z";
	assert_int_equal(store_token_list(s, "paged", &page, &got, &n), STORE_OK);
	assert_int_equal(n, PAGE_LIMIT);
	assert_string_equal(got[0].id, want[10].id);
	store_token_free(got, n);

	page.limit = 0;
	assert_int_equal(store_token_list(s, "paged", &page, &got, &n), STORE_ERROR);
	assert_null(got);
	page.limit = STORE_TOKEN_PAGE_MAX + 1;
	assert_int_equal(store_token_list(s, "paged", &page, &got, &n), STORE_ERROR);
	assert_null(got);
	store_close(s);
}

/* -- the operator's lists, a page at a time ---------------------------------------------- */

/*
 * Tenants by id, ten to a page: 23 made out of order come back each once
 * in id order; one made mid-walk before the cursor is not seen, one after
 * it is (the cursor is a place, not a row); "only" gives that tenant
 * alone; a limit out of range is refused.
 */
static void
tenant_pages(void **state)
{
	struct store *s = open_store();
	struct store_tenant t = { NULL, (char *)"T", 1 }, *got = NULL;
	struct store_tenant_page page = { NULL, NULL, PAGE_LIMIT };
	char id[16], last[16] = "", want[24][16];
	size_t n = 0, seen = 0, pages = 0;

	(void)state;
	for (int i = 0; i < 23; i++) {
		snprintf(id, sizeof(id), "t%02d", (i * 7) % 23);
		t.id = id;
		assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	}
	for (int i = 0, k = 0; i < 23; i++, k++) {
		snprintf(want[k], sizeof(want[k]), "t%02d", i);
		if (i == 9)
			snprintf(want[++k], sizeof(want[k]), "t09x");
	}
	for (;;) {
		assert_int_equal(store_tenant_list_page(s, &page, &got, &n), STORE_OK);
		assert_true(n <= PAGE_LIMIT);
		for (size_t i = 0; i < n; i++, seen++) {
			assert_true(seen < 24);
			assert_string_equal(got[i].id, want[seen]);
		}
		if (n == 0)
			break;
		if (pages++ == 0) {
			/* After "t09": "a-early" sorts before, "t09x" after. */
			t.id = (char *)"a-early";
			assert_int_equal(store_tenant_create(s, &t), STORE_OK);
			t.id = (char *)"t09x";
			assert_int_equal(store_tenant_create(s, &t), STORE_OK);
		}
		snprintf(last, sizeof(last), "%s", got[n - 1].id);
		page.after_id = last;
		store_tenant_free(got, n);
	}
	assert_int_equal(seen, 24);
	assert_int_equal(pages, 3);

	page.only = "t05";
	page.after_id = NULL;
	assert_int_equal(store_tenant_list_page(s, &page, &got, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].id, "t05");
	store_tenant_free(got, n);
	page.after_id = "t05";
	assert_int_equal(store_tenant_list_page(s, &page, &got, &n), STORE_OK);
	assert_int_equal(n, 0);
	page.only = "nope";
	page.after_id = NULL;
	assert_int_equal(store_tenant_list_page(s, &page, &got, &n), STORE_OK);
	assert_int_equal(n, 0);

	page.limit = 0;
	assert_int_equal(store_tenant_list_page(s, &page, &got, &n), STORE_ERROR);
	page.limit = STORE_LIST_PAGE_MAX + 1;
	assert_int_equal(store_tenant_list_page(s, &page, &got, &n), STORE_ERROR);
	store_close(s);
}

/*
 * Clients by (created_at, id), ten to a page: 25 made four to a second
 * with ids falling as time rises (so pages end inside a second, where
 * only the id orders them) come back each once in that order, all of them
 * or one tenant's; a client made mid-walk (the newest) is on the last
 * page; a cursor whose client is gone still leads on.
 */
static void
client_pages(void **state)
{
	struct store *s = open_store();
	struct store_tenant acme = { (char *)"acme", (char *)"Acme", 1 };
	struct store_tenant beta = { (char *)"beta", (char *)"Beta", 1 };
	struct store_client c = client_fixture("x", "acme"), *got = NULL;
	struct store_client_page page = { NULL, 0, NULL, PAGE_LIMIT };
	struct paged_want want[PAGED_RECORDS + 1];
	char last[64];
	size_t n = 0, seen = 0, pages = 0;

	(void)state;
	assert_int_equal(store_tenant_create(s, &acme), STORE_OK);
	assert_int_equal(store_tenant_create(s, &beta), STORE_OK);
	for (int i = 0; i < PAGED_RECORDS; i++) {
		snprintf(want[i].id, sizeof(want[i].id), "k%02d", PAGED_RECORDS - 1 - i);
		want[i].iat = 100 + i / 4;
		c.id = want[i].id;
		c.tenant_id = (char *)(i % 2 ? "beta" : "acme");
		c.created_at = want[i].iat;
		assert_int_equal(store_client_create(s, &c, NULL), STORE_OK);
	}
	qsort(want, PAGED_RECORDS, sizeof(want[0]), paged_cmp);
	snprintf(want[PAGED_RECORDS].id, sizeof(want[0].id), "new");
	want[PAGED_RECORDS].iat = 500;

	for (;;) {
		assert_int_equal(store_client_list_page(s, &page, &got, &n), STORE_OK);
		assert_true(n <= PAGE_LIMIT);
		for (size_t i = 0; i < n; i++, seen++) {
			assert_true(seen <= PAGED_RECORDS);
			assert_string_equal(got[i].id, want[seen].id);
			assert_int_equal(got[i].created_at, want[seen].iat);
		}
		if (n == 0)
			break;
		if (pages++ == 0) {
			c.id = (char *)"new";
			c.tenant_id = (char *)"beta";
			c.created_at = 500;
			assert_int_equal(store_client_create(s, &c, NULL), STORE_OK);
		}
		page.after_created = got[n - 1].created_at;
		snprintf(last, sizeof(last), "%s", got[n - 1].id);
		page.after_id = last;
		store_client_free(got, n);
	}
	assert_int_equal(seen, PAGED_RECORDS + 1);

	/* One tenant's: the same order, the others left out. */
	page.tenant_id = "beta";
	page.after_id = NULL;
	page.limit = 3;
	seen = 0;
	for (size_t k = 0;; ) {
		assert_int_equal(store_client_list_page(s, &page, &got, &n), STORE_OK);
		for (size_t i = 0; i < n; i++) {
			assert_string_equal(got[i].tenant_id, "beta");
			while (k <= PAGED_RECORDS && strcmp(want[k].id, got[i].id) != 0)
				k++;
			assert_true(k <= PAGED_RECORDS);	/* in order, each once */
			seen++;
		}
		if (n == 0)
			break;
		page.after_created = got[n - 1].created_at;
		snprintf(last, sizeof(last), "%s", got[n - 1].id);
		page.after_id = last;
		store_client_free(got, n);
	}
	assert_int_equal(seen, PAGED_RECORDS / 2 + 1);

	/* "k14z" sorts just after want[9] in its second, where a deleted
	 * client would be. */
	page.tenant_id = NULL;
	page.limit = PAGE_LIMIT;
	page.after_created = want[9].iat;
	snprintf(last, sizeof(last), "%sz", want[9].id);
	page.after_id = last;
	assert_int_equal(store_client_list_page(s, &page, &got, &n), STORE_OK);
	assert_int_equal(n, PAGE_LIMIT);
	assert_string_equal(got[0].id, want[10].id);
	store_client_free(got, n);

	page.limit = STORE_LIST_PAGE_MAX + 1;
	assert_int_equal(store_client_list_page(s, &page, &got, &n), STORE_ERROR);
	assert_null(got);
	store_close(s);
}

/*
 * Locks in force by (address, client id, kind), two to a page: the walk
 * gives store_lock_list's rows each once in its order; expired ones are
 * not on a page; a tenant's walk gives only its clients' pair locks.
 */
static void
lock_pages(void **state)
{
	struct store *s = open_store();
	struct store_tenant acme = { (char *)"acme", (char *)"Acme", 1 };
	struct store_client c = client_fixture("c1", "acme");
	struct store_lock old[2] = {
		{ STORE_LOCK_PAIR, (char *)"c1", (char *)"10.0.0.1", 100, 500, 0 },
		{ STORE_LOCK_ADDRESS, (char *)"", (char *)"10.0.0.9", 100, 500, 0 },
	};
	struct store_lock lk[7] = {
		{ STORE_LOCK_PAIR, (char *)"c2", (char *)"10.0.0.2", 400, 2000, 0 },
		{ STORE_LOCK_PAIR, (char *)"c1", (char *)"10.0.0.2", 400, 2000, 0 },
		{ STORE_LOCK_ADDRESS, (char *)"", (char *)"10.0.0.2", 400, 2000, 0 },
		{ STORE_LOCK_PAIR, (char *)"c1", (char *)"10.0.0.3", 400, 2000, 0 },
		{ STORE_LOCK_ADDRESS, (char *)"", (char *)"2001:db8:1:2::/64", 400, 2000, 0 },
		{ STORE_LOCK_PAIR, (char *)"c3", (char *)"10.0.0.1", 400, 2000, 0 },
		{ STORE_LOCK_PAIR, (char *)"c1", (char *)"2001:db8:1:2::/64", 400, 2000, 0 },
	};
	struct store_lock *all = NULL, *got = NULL;
	struct store_lock_page page = { NULL, NULL, NULL, STORE_LOCK_PAIR, 2 };
	char addr[64], client[64];
	size_t nall = 0, n = 0, seen = 0, mine = 0;

	(void)state;
	assert_int_equal(store_tenant_create(s, &acme), STORE_OK);
	assert_int_equal(store_client_create(s, &c, NULL), STORE_OK);
	assert_int_equal(store_lock_put(s, old, 2), STORE_OK);
	assert_int_equal(store_lock_put(s, lk, 7), STORE_OK);
	assert_int_equal(store_lock_list(s, 1000, &all, &nall), STORE_OK);
	assert_int_equal(nall, 7);
	for (;;) {
		assert_int_equal(store_lock_list_page(s, 1000, &page, &got, &n), STORE_OK);
		assert_true(n <= 2);
		for (size_t i = 0; i < n; i++, seen++) {
			assert_true(seen < nall);
			assert_int_equal(got[i].kind, all[seen].kind);
			assert_string_equal(got[i].address, all[seen].address);
			assert_string_equal(got[i].client_id, all[seen].client_id);
		}
		if (n == 0)
			break;
		snprintf(addr, sizeof(addr), "%s", got[n - 1].address);
		snprintf(client, sizeof(client), "%s", got[n - 1].client_id);
		page.after_address = addr;
		page.after_client_id = client;
		page.after_kind = got[n - 1].kind;
		store_lock_free(got, n);
	}
	assert_int_equal(seen, nall);

	page.tenant_id = "acme";
	page.after_address = NULL;
	for (;;) {
		assert_int_equal(store_lock_list_page(s, 1000, &page, &got, &n), STORE_OK);
		for (size_t i = 0; i < n; i++, mine++) {
			assert_int_equal(got[i].kind, STORE_LOCK_PAIR);
			assert_string_equal(got[i].client_id, "c1");
		}
		if (n == 0)
			break;
		snprintf(addr, sizeof(addr), "%s", got[n - 1].address);
		snprintf(client, sizeof(client), "%s", got[n - 1].client_id);
		page.after_address = addr;
		page.after_client_id = client;
		page.after_kind = got[n - 1].kind;
		store_lock_free(got, n);
	}
	assert_int_equal(mine, 3);	/* 10.0.0.2, 10.0.0.3, the /64; not the expired one */
	store_lock_free(all, nall);
	store_close(s);
}

/* An approval's state as of now, as approvals/approvals.c reads it. */
static enum store_approval_state
approval_state_now(const struct store_approval *a, int64_t now)
{
	if ((a->state == STORE_APPROVAL_PENDING || a->state == STORE_APPROVAL_APPROVED) &&
	    a->expires_at <= now)
		return STORE_APPROVAL_EXPIRED;
	return a->state;
}

static void
approval_file(struct store *s, const char *id, const char *tenant, int64_t at, int64_t expires)
{
	struct store_approval a = {
		.id = (char *)id, .tenant_id = (char *)tenant, .kind = (char *)"call",
		.maker = (char *)"maker-1", .maker_tenant = (char *)tenant,
		.payload = (char *)"{}", .state = STORE_APPROVAL_PENDING,
		.created_at = at, .expires_at = expires,
	};

	assert_int_equal(store_approval_create(s, &a), STORE_OK);
}

/*
 * Approvals newest first, three to a page, by state as of now: for every
 * state and any, every tenant or one, the walk gives exactly the rows of
 * that state in store_approval_list's order. The oldest row is the one
 * pending request, behind 40 newer ones of other states; a pending row
 * past its expiry (still stored pending) is expired, not pending.
 */
static void
approval_pages(void **state)
{
	struct store *s = open_store();
	struct store_approval *all = NULL, *got = NULL;
	struct store_approval_page page;
	const char *tenants[] = { NULL, "acme" };
	char id[16], last[16];
	size_t nall = 0, n = 0;
	const int64_t now = 5000;

	(void)state;
	approval_file(s, "p-old", "acme", 1000, 90000);
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "r%02d", i);
		/* Two to a second: only the id orders them there. */
		approval_file(s, id, i % 3 ? "acme" : "beta", 2000 + i / 2, 90000);
		if (i % 4 == 0)
			continue;	/* stays pending */
		assert_int_equal(store_approval_transition(s, id, STORE_APPROVAL_PENDING,
		    i % 4 == 1 ? STORE_APPROVAL_REJECTED : STORE_APPROVAL_APPROVED, 1, 3000, "chk", 0,
		    NULL), STORE_OK);
		if (i % 4 == 3)
			assert_int_equal(store_approval_transition(s, id, STORE_APPROVAL_APPROVED,
			    STORE_APPROVAL_USED, 1, 3000, NULL, 3000, NULL), STORE_OK);
	}
	/* Filed last, so no filing after its expiry marks it expired. */
	approval_file(s, "p-stale", "acme", 4000, 4100);
	assert_int_equal(store_approval_list(s, NULL, STORE_APPROVAL_STATE__MAX, 1000, &all, &nall),
	    STORE_OK);
	assert_int_equal(nall, 42);
	assert_int_equal(all[nall - 1].state, STORE_APPROVAL_PENDING);	/* p-old */

	for (int st = 0; st <= STORE_APPROVAL_STATE__MAX; st++) {
		for (size_t t = 0; t < 2; t++) {
			size_t k = 0, seen = 0, want = 0;

			for (size_t i = 0; i < nall; i++)
				if ((st == STORE_APPROVAL_STATE__MAX ||
				    approval_state_now(&all[i], now) == (enum store_approval_state)st) &&
				    (tenants[t] == NULL || strcmp(all[i].tenant_id, tenants[t]) == 0))
					want++;
			page = (struct store_approval_page){ 0, NULL, 3 };
			for (;;) {
				assert_int_equal(store_approval_list_page(s, tenants[t],
				    (enum store_approval_state)st, now, &page, &got, &n), STORE_OK);
				assert_true(n <= 3);
				for (size_t i = 0; i < n; i++, seen++) {
					/* The next row of the whole list that is wanted. */
					while (k < nall && (strcmp(all[k].id, got[i].id) != 0))
						k++;
					assert_true(k < nall);
					if (st != STORE_APPROVAL_STATE__MAX)
						assert_int_equal(approval_state_now(&all[k], now), st);
					if (tenants[t] != NULL)
						assert_string_equal(got[i].tenant_id, tenants[t]);
				}
				if (n == 0)
					break;
				page.before_created = got[n - 1].created_at;
				snprintf(last, sizeof(last), "%s", got[n - 1].id);
				page.before_id = last;
				store_approval_free(got, n);
			}
			assert_int_equal(seen, want);
		}
	}

	/* The pending ones: the stale row is not among them, the oldest is. */
	page = (struct store_approval_page){ 0, NULL, 100 };
	assert_int_equal(store_approval_list_page(s, "acme", STORE_APPROVAL_PENDING, now, &page,
	    &got, &n), STORE_OK);
	assert_true(n > 1);
	assert_string_equal(got[n - 1].id, "p-old");
	for (size_t i = 0; i < n; i++)
		assert_string_not_equal(got[i].id, "p-stale");
	store_approval_free(got, n);
	page.limit = STORE_LIST_PAGE_MAX + 1;
	assert_int_equal(store_approval_list_page(s, NULL, STORE_APPROVAL_PENDING, now, &page, &got,
	    &n), STORE_ERROR);
	store_approval_free(all, nall);
	store_close(s);
}

/* An approved approval of kind, filed at at, decided at 3000, expiring
 * at expires. */
static void
approval_approved_op(struct store *s, const char *id, const char *kind, int64_t at,
    int64_t expires)
{
	struct store_approval a = {
		.id = (char *)id, .tenant_id = (char *)"acme", .kind = (char *)kind,
		.maker = (char *)"maker-1", .maker_tenant = (char *)"acme",
		.payload = (char *)"{}", .state = STORE_APPROVAL_PENDING,
		.created_at = at, .expires_at = expires,
	};

	assert_int_equal(store_approval_create(s, &a), STORE_OK);
	assert_int_equal(store_approval_transition(s, id, STORE_APPROVAL_PENDING,
	    STORE_APPROVAL_APPROVED, 1, 3000, "chk", 0, NULL), STORE_OK);
}

static int
claim_op(struct store *s, int i)
{
	(void)i;
	return store_approval_claim(s, "op-race", 4000, 4030);
}

static int filing_round;

static int
file_same_key(struct store *s, int i)
{
	char id[32];
	struct store_approval a = {
		.id = id, .tenant_id = (char *)"acme", .kind = (char *)"call",
		.maker = (char *)"maker-1", .maker_tenant = (char *)"acme",
		.payload = (char *)"{}", .conflict_key = (char *)"call:same",
		.state = STORE_APPROVAL_PENDING, .created_at = 1000, .expires_at = 90000,
	};

	snprintf(id, sizeof(id), "same-%d-%d", filing_round, i);
	return store_approval_create(s, &a);
}

/*
 * Regression: handles filing requests with one conflict key at once (the
 * same call filed on two nodes, or twice by a retrying client) left
 * several pending on PostgreSQL: its check took the advisory lock in the
 * statement that also looked for a pending row, whose snapshot predates
 * the wait, so a filing that waited on the lock did not see the row the
 * holder had just committed. Exactly one is filed.
 */
static void
approval_filings_at_once(void **state)
{
	struct store *s = open_store();
	struct store_approval *all = NULL;
	size_t n = 0;
	int ok, conflict;

	(void)state;
	for (filing_round = 0; filing_round < 5; filing_round++) {
		run_at_once(file_same_key, &ok, &conflict);
		assert_int_equal(ok, 1);
		assert_int_equal(conflict, AT_ONCE - 1);
		assert_int_equal(store_approval_list(s, NULL, STORE_APPROVAL_PENDING, 1000, &all,
		    &n), STORE_OK);
		assert_int_equal(n, 1);
		/* Decided: the key is free for the next round. */
		assert_int_equal(store_approval_transition(s, all[0].id, STORE_APPROVAL_PENDING,
		    STORE_APPROVAL_REJECTED, 0, 2000, "chk", 0, NULL), STORE_OK);
		store_approval_free(all, n);
	}
	store_close(s);
}

/* The ids store_approval_unclaimed walks at now, three to a page, into
 * buf (", "-separated). */
static void
unclaimed_walk(struct store *s, int64_t now, char *buf, size_t len)
{
	struct store_approval *got = NULL;
	char after[16] = "";
	size_t n, used = 0;

	buf[0] = '\0';
	do {
		assert_int_equal(store_approval_unclaimed(s, now, after, 3, &got, &n), STORE_OK);
		assert_true(n <= 3);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(got[i].state, STORE_APPROVAL_APPROVED);
			used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			    got[i].id);
			assert_true(used < len);
		}
		if (n > 0)
			snprintf(after, sizeof(after), "%s", got[n - 1].id);
		store_approval_free(got, n);
	} while (n == 3);
}

/*
 * The apply claim of an approved admin change (store.h
 * store_approval_claim): of handles claiming one at once (nodes
 * recovering it), exactly one gets it; a claim in force is refused, a
 * lapsed one taken again; a "call" approval, or one not approved, has
 * none. The unclaimed walk gives every approved admin change no claim
 * holds, whatever its age and expiry, page after page, and no call,
 * pending or applied row: recovery once read only the newest 1000 approved
 * rows, and a stuck change behind 1000 newer approved calls was never
 * finished.
 */
static void
approval_claims(void **state)
{
	struct store *s = open_store();
	char ids[256], want[256] = "", id[16];
	int ok, conflict;

	(void)state;
	approval_approved_op(s, "op-race", "test.op", 1000, 90000);
	run_at_once(claim_op, &ok, &conflict);
	assert_int_equal(ok, 1);
	assert_int_equal(conflict, AT_ONCE - 1);
	/* In force until 4030; lapsed at 4030, and taken again. */
	assert_int_equal(store_approval_claim(s, "op-race", 4029, 4100), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "being applied by another process"));
	assert_int_equal(store_approval_claim(s, "op-race", 4030, 4100), STORE_OK);
	assert_int_equal(store_approval_claim(s, "no-such", 4030, 4100), STORE_NOTFOUND);
	/* Finished: nothing to claim. */
	assert_int_equal(store_approval_transition(s, "op-race", STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_APPLIED, 0, 4050, NULL, 4050, "{}"), STORE_OK);
	assert_int_equal(store_approval_claim(s, "op-race", 9000, 9100), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "applied"));

	/* Seven stuck changes, the oldest first, behind newer approved calls
	 * (which stay stored approved) and rows of other states. */
	for (int i = 0; i < 7; i++) {
		snprintf(id, sizeof(id), "op-%d", i);
		approval_approved_op(s, id, "test.op", 1000 + i, 90000);
		snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
		    i ? ", " : "", id);
	}
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "call-%d", i);
		approval_approved_op(s, id, "call", 2000 + i, 90000);
	}
	approval_file(s, "pending", "acme", 2500, 90000);
	/* An expired approved change is stuck all the same. */
	approval_approved_op(s, "op-x", "test.op", 1500, 3500);
	snprintf(want + strlen(want), sizeof(want) - strlen(want), ", op-x");
	unclaimed_walk(s, 5000, ids, sizeof(ids));
	assert_string_equal(ids, want);
	assert_int_equal(store_approval_claim(s, "call-0", 5000, 5030), STORE_CONFLICT);
	assert_int_equal(store_approval_claim(s, "pending", 5000, 5030), STORE_CONFLICT);
	/* A claimed one leaves the walk until its claim lapses. */
	assert_int_equal(store_approval_claim(s, "op-3", 5000, 5030), STORE_OK);
	unclaimed_walk(s, 5029, ids, sizeof(ids));
	assert_string_equal(ids, "op-0, op-1, op-2, op-4, op-5, op-6, op-x");
	unclaimed_walk(s, 5030, ids, sizeof(ids));
	assert_string_equal(ids, want);
	store_close(s);
}

static void
duplicate_token_fails_alone(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct store_token t;
	char id[32];

	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "j%d", i % 5 == 4 ? 0 : i);	/* j0 three times */
		t = token_fixture(id, "c1", "n", i);
		assert_int_equal(store_token_record(s, &t, tally_done, &a), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 8);
	assert_int_equal(a.conflict, 2);
	assert_int_equal(a.other, 0);
	assert_int_equal(tokens_after_close(b, s), 8);
	assert_int_equal(b->count("SELECT issued_at FROM tokens WHERE id = 'j0'"), 0);
}

/* Records of tokens expired before the cut go, a chunk at a time; the
 * others stay. */
static void
expired_token_records_pruned(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct store_token t;
	int64_t pruned = -1;

	/* p<i> expires at 3600 + 100 i. */
	assert_int_equal(record_tokens(s, &a, "p", 10, 100, NULL), 10);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, 10);
	assert_int_equal(store_token_prune(s, 4050, 3, &pruned), STORE_OK);
	assert_int_equal(pruned, 3);		/* the limit */
	assert_int_equal(store_token_prune(s, 4050, 100, &pruned), STORE_OK);
	assert_int_equal(pruned, 2);		/* p0..p4 in all */
	assert_int_equal(store_token_prune(s, 4050, 100, &pruned), STORE_OK);
	assert_int_equal(pruned, 0);
	assert_int_equal(store_token_get(s, "p4", &t), STORE_NOTFOUND);
	assert_int_equal(store_token_get(s, "p5", &t), STORE_OK);
	store_token_clear(&t);
	assert_int_equal(store_token_prune(s, 4050, 0, &pruned), STORE_ERROR);
	assert_int_equal(tokens_after_close(b, s), 5);
}

/* -- schema, generation across handles ---------------------------------------------- */

static void
newer_schema_refused(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	char err[256] = "";
	int cur, latest;

	assert_int_equal(store_schema_version(s, &cur, &latest), STORE_OK);
	store_close(s);
	s = NULL;
	b->exec("INSERT INTO schema_version VALUES (999)");
	assert_int_not_equal(store_open(fixture_url, &s, err, sizeof(err)), STORE_OK);
	assert_null(s);
	assert_non_null(strstr(err, "newer than this binary knows"));
	assert_non_null(strstr(err, "999"));
}

/* An admin change of kind with conflict key ckey, pending in tenant. */
static void
pending_change(struct store *s, const char *id, const char *tenant, const char *kind,
    const char *ckey)
{
	struct store_approval a = {
		.id = (char *)id, .tenant_id = (char *)tenant, .kind = (char *)kind,
		.maker = "m", .maker_tenant = (char *)tenant, .payload = "{}", .reason = "",
		.conflict_key = (char *)ckey, .state = STORE_APPROVAL_PENDING,
		.created_at = 1000, .expires_at = 4000000000,
	};

	assert_int_equal(store_approval_create(s, &a), STORE_OK);
}

static void
assert_conflict_key(struct store *s, const char *id, const char *want)
{
	struct store_approval a;

	assert_int_equal(store_approval_get(s, id, &a), STORE_OK);
	assert_string_equal(a.conflict_key, want);
	store_approval_clear(&a);
}

/*
 * Migration 13 (schema_common.h): admin changes filed before conflict keys
 * named their tenant get the approval's tenant, so that a change pending
 * at the upgrade still holds its client against one filed after; call
 * keys and keys already new stay as they are, and a second run changes
 * nothing.
 */
static void
conflict_keys_get_their_tenant(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();

	make_tenant(s, "acme");
	make_tenant(s, "platform");
	pending_change(s, "old-client", "acme", "client.disable", "client:c9");
	pending_change(s, "old-key", "platform", "key.rotate", "key:production");
	pending_change(s, "new-client", "acme", "client.update", "client:acme/c8");
	pending_change(s, "call", "acme", "call", "call:0123abcd");
	for (int i = 0; i < 2; i++) {
		b->exec(SCHEMA_SQL_CONFLICT_KEYS_TENANT);
		assert_conflict_key(s, "old-client", "client:acme/c9");
		assert_conflict_key(s, "old-key", "key:platform/production");
		assert_conflict_key(s, "new-client", "client:acme/c8");
		assert_conflict_key(s, "call", "call:0123abcd");
	}
	store_close(s);
}

/*
 * Two handles on one store: the "server" and the "CLI" (or two nodes). A
 * change through either reaches the other's generation, within
 * b->gen_wait_ms; token records move it for neither.
 */
static void
generation_seen_across_handles(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *server = open_store(), *cli = open_store();
	struct store_client c = client_fixture("c1", "acme");
	struct tally a = TALLY_INIT;
	struct store_token t = token_fixture("j1", "c1", "n", 1);
	uint64_t g0, g1, r0;
	int count;

	g0 = gen(server);
	assert_true(gen(cli) == g0);
	make_tenant(cli, "acme");
	assert_true(gen_wait(server, g0 + 1, b->gen_wait_ms) == g0 + 1);
	assert_int_equal(store_client_create(cli, &c, NULL), STORE_OK);
	assert_true(gen_wait(server, g0 + 2, b->gen_wait_ms) == g0 + 2);
	/* Many calls without changes answer the cached value. */
	for (int i = 0; i < 1000; i++)
		assert_true(gen(server) == g0 + 2);
	/* The server's own token records do not move it, for either (given
	 * the time a change would take to arrive). */
	assert_int_equal(store_token_record(server, &t, tally_done, &a), STORE_OK);
	assert_int_equal(store_flush(server), STORE_OK);
	usleep(100000);
	assert_true(gen(server) == g0 + 2);
	assert_true(gen(cli) == g0 + 2);
	/* A revocation in the "CLI" reaches the "server", as a revocation. */
	r0 = gen_of(server, STORE_GEN_REVOKED);
	assert_int_equal(store_token_revoke_by_name(cli, NULL, "n", 5, &count), STORE_OK);
	assert_true(gen_wait_of(server, STORE_GEN_REVOKED, r0 + 1, b->gen_wait_ms) == r0 + 1);
	g1 = gen(server);
	assert_true(g1 == g0 + 2);
	/* And the other way. */
	make_tenant(server, "beta");
	assert_true(gen_wait(cli, g1 + 1, b->gen_wait_ms) == g1 + 1);
	/* A change made outside gatehouse's own calls (an operator's SQL; for
	 * PostgreSQL the safety net, as it sends no NOTIFY) is seen too. */
	b->exec("UPDATE meta SET value = value + 10 WHERE key = 'generation'");
	assert_true(gen_wait(cli, g1 + 11, b->gen_wait_ms) == g1 + 11);
	store_close(cli);
	store_close(server);
}

/* -- group commit ---------------------------------------------------------------------- */

#define THREADS		64
#define PER_THREAD	1000

struct worker {
	struct store	*s;
	struct tally	*a;
	int		 no;
	int		 refused;
};

static void *
record_many(void *arg)
{
	struct worker *w = arg;
	char id[48], client[24];

	snprintf(client, sizeof(client), "c%d", w->no);
	for (int i = 0; i < PER_THREAD; i++) {
		struct store_token t;
		snprintf(id, sizeof(id), "t%d-%d", w->no, i);
		t = token_fixture(id, client, i % 2 ? "odd" : "even", i);
		if (store_token_record(w->s, &t, tally_done, w->a) != STORE_OK)
			w->refused++;
	}
	return NULL;
}

static void
group_commit_64_threads(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	struct worker w[THREADS];
	struct store_token *ts = NULL;
	size_t n = 0;
	int count = 0;

	for (int i = 0; i < THREADS; i++)
		w[i] = (struct worker){ s, &a, i, 0 };
	group_commit_run(s, record_many, w, sizeof(w[0]), THREADS, THREADS * PER_THREAD);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(w[i].refused, 0);
	assert_int_equal(a.ok, THREADS * PER_THREAD);
	assert_int_equal(a.conflict + a.other, 0);
	/* Visible to another connection right after flush. */
	assert_int_equal(b->count("SELECT count(*) FROM tokens"), THREADS * PER_THREAD);
	store_close(s);

	/* And after close/reopen. */
	s = open_store();
	assert_int_equal(store_token_list(s, "c17", &first_page, &ts, &n), STORE_OK);
	assert_int_equal(n, PER_THREAD);
	for (size_t i = 1; i < n; i++)
		assert_true(ts[i - 1].issued_at <= ts[i].issued_at);
	store_token_free(ts, n);
	assert_int_equal(store_token_revoke_by_name(s, "c17", "odd", 5, &count), STORE_OK);
	assert_int_equal(count, PER_THREAD / 2);
	store_close(s);
}

static void
close_commits_what_is_queued(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct tally a = TALLY_INIT;

	assert_int_equal(record_tokens(s, &a, "q", 3000, 1, NULL), 3000);
	/* No flush: close must not drop them. */
	assert_int_equal(tokens_after_close(b, s), 3000);
	assert_int_equal(a.ok, 3000);
}

/*
 * The queue is bounded. Another connection (as the CLI might) holds the
 * lock the writer needs (b->hold_writes), so the writer waits; records pile
 * up until the queue refuses them with STORE_UNAVAILABLE. Once the lock
 * goes, every accepted record commits.
 */
static void
queue_full_is_refused(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct tally a = TALLY_INIT;
	void *held;
	int accepted, rc = -1;

	held = b->hold_writes();
	accepted = record_tokens(s, &a, "f", 70000, 1, &rc);
	assert_int_equal(rc, STORE_UNAVAILABLE);
	assert_non_null(strstr(store_last_error(), "queue is full"));
	/* 65536 waiting, plus at most one batch taken by the blocked writer. */
	assert_in_range(accepted, 65536, 65536 + 1024);
	b->release_writes(held);
	assert_int_equal(store_flush(s), STORE_OK);
	assert_int_equal(a.ok, accepted);
	assert_int_equal(a.other, 0);
	assert_int_equal(tokens_after_close(b, s), accepted);
}

/* -- the keyed audit chain ------------------------------------------------------------------ */

#define AUDIT_ROWS_MAX	16

/* A copy of the trail's rows, ascending (store_audit_scan into it). */
struct trail {
	struct store_audit	row[AUDIT_ROWS_MAX];
	size_t			n;
};

static int
trail_add(void *arg, const struct store_audit *r)
{
	struct trail *t = arg;
	struct store_audit *c;

	assert_true(t->n < AUDIT_ROWS_MAX);
	c = &t->row[t->n++];
	*c = *r;
	c->request_id = strdup(r->request_id);
	c->actor = strdup(r->actor);
	c->tenant = strdup(r->tenant);
	c->address = strdup(r->address);
	c->action = strdup(r->action);
	c->target = strdup(r->target);
	c->outcome = strdup(r->outcome);
	c->detail = strdup(r->detail);
	return 0;
}

static void
trail_read(struct store *s, struct trail *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(store_audit_scan(s, 1, trail_add, t), STORE_OK);
}

static void
trail_clear(struct trail *t)
{
	for (size_t i = 0; i < t->n; i++)
		store_audit_clear(&t->row[i]);
	t->n = 0;
}

/* n rows of distinct actors (each keeps a row of its own), appended
 * through the store and flushed. */
static void
append_rows(struct store *s, int n, const char *action)
{
	for (int i = 0; i < n; i++) {
		struct store_audit a;
		char actor[24];

		snprintf(actor, sizeof(actor), "cli:op%d", i);
		memset(&a, 0, sizeof(a));
		a.at = 1000 + i;
		a.actor = actor;
		a.tenant = (char *)"acme";
		a.action = (char *)action;
		a.target = (char *)"c1";
		a.outcome = (char *)"ok";
		a.detail = (char *)"{\"n\":1}";
		assert_int_equal(store_audit_append(s, &a, NULL, NULL), STORE_OK);
	}
	assert_int_equal(store_flush(s), STORE_OK);
}

/* A hash as the engine's blob literal. */
static void
blob(const struct conformance_backend *b, const uint8_t h[32], char out[96])
{
	char hex[65];

	hex_encode(h, 32, hex);
	snprintf(out, 96, b->blob_sql, hex);
}

/* What anyone with write access to the database can do first. */
static void
unguard(const struct conformance_backend *b)
{
	for (size_t i = 0; b->unguard_audit[i] != NULL; i++)
		b->exec(b->unguard_audit[i]);
}

/* Writes r's detail, chain and hashes over row r->seq (triggers dropped). */
static void
overwrite(const struct conformance_backend *b, const struct store_audit *r)
{
	char sql[512], ph[96], hh[96];

	blob(b, r->prev_hash, ph);
	blob(b, r->hash, hh);
	snprintf(sql, sizeof(sql), "UPDATE audit SET detail = '%s', chain = %d, prev_hash = %s,"
	    " hash = %s WHERE seq = %lld", r->detail, r->chain, ph, hh, (long long)r->seq);
	b->exec(sql);
}

/* The verdict of audit_verify under k (it must run). */
static struct audit_verify_result
verify(struct store *s, const struct store_audit_key *k)
{
	struct audit_verify_result r;

	assert_int_equal(audit_verify(s, k, &r), 0);
	return r;
}

/* Rows are linked under the key: verified with it, refused with another,
 * and a store whose trail was keyed refuses another key outright. */
static void
audit_chain_keyed(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store(), *other_node;
	struct store_audit_seal seal;
	struct store_audit_key *wrong;
	struct audit_verify_result r;
	struct trail t;
	uint8_t k2[32], v1[32], zero[32];
	int64_t pruned = -1;

	memset(zero, 0, sizeof(zero));
	memset(k2, 0x42, sizeof(k2));
	assert_non_null(wrong = store_audit_key_new(k2));
	/* Keying an empty trail wrote its record: nothing unkeyed to bind. */
	assert_int_equal(store_audit_seal_get(s, &seal), STORE_OK);
	assert_int_equal(seal.through, 0);
	assert_memory_equal(seal.through_hash, zero, 32);
	assert_true(store_audit_key_matches(fixture_key(), seal.check));
	assert_true(store_audit_seal_valid(fixture_key(), &seal));
	assert_int_equal(b->count("SELECT count(*) FROM audit_key"), 1);

	append_rows(s, 4, "client.create");
	assert_int_equal(b->count("SELECT count(*) FROM audit WHERE chain = 2"), 4);
	trail_read(s, &t);
	assert_int_equal(t.n, 4);
	for (size_t i = 0; i < t.n; i++) {
		struct store_audit x = t.row[i];
		uint8_t h[32];
		assert_int_equal(x.chain, STORE_AUDIT_CHAIN_V2);
		assert_int_equal(store_audit_link(fixture_key(), &x, h), 0);
		assert_memory_equal(h, x.hash, 32);
		assert_int_equal(store_audit_link(wrong, &x, h), 0);	/* the key's own */
		assert_memory_not_equal(h, x.hash, 32);
		x.chain = STORE_AUDIT_CHAIN_V1;	/* not what the unkeyed scheme gives */
		assert_int_equal(store_audit_link(NULL, &x, v1), 0);
		assert_memory_not_equal(v1, t.row[i].hash, 32);
	}
	trail_clear(&t);
	r = verify(s, fixture_key());
	assert_true(r.ok);
	assert_int_equal(r.rows, 4);
	assert_int_equal(r.head_seq, 4);

	/* A wrong master key is named as such, not as a broken row. */
	r = verify(s, wrong);
	assert_false(r.ok);
	assert_true(r.key_mismatch);
	assert_int_equal(r.first_bad, 0);
	assert_non_null(strstr(r.why, "master key does not match"));

	/* A node with another master key may not write to this trail. */
	other_node = open_store_unkeyed();
	assert_int_equal(store_audit_set_key(other_node, k2, NULL), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "master key does not match"));
	assert_null(store_audit_get_key(other_node));
	store_close(other_node);
	assert_int_equal(b->count("SELECT count(*) FROM audit_key"), 1);

	/* A prune's checkpoint is keyed too (row and digest), and verifies. */
	append_rows(s, 3, "token.issued");
	assert_int_equal(store_audit_prune(s, 1100, 9000, &pruned), STORE_OK);
	assert_int_equal(pruned, 3);
	trail_read(s, &t);
	assert_int_equal(t.n, 5);
	assert_string_equal(t.row[t.n - 1].action, STORE_AUDIT_CHECKPOINT);
	assert_int_equal(t.row[t.n - 1].chain, STORE_AUDIT_CHAIN_V2);
	r = verify(s, fixture_key());
	assert_true(r.ok);
	assert_int_equal(r.checkpoint, 7);
	/* Its kept digest is the keyed one over rows 1..4, not the unkeyed. */
	{
		struct store_audit_digest *dk = store_audit_digest_new(fixture_key());
		struct store_audit_digest *du = store_audit_digest_new(NULL);
		uint8_t hk[32], hu[32];
		char kd[65];
		assert_non_null(dk);
		assert_non_null(du);
		for (size_t i = 0; i < 4; i++) {
			store_audit_digest_add(dk, t.row[i].seq, t.row[i].hash);
			store_audit_digest_add(du, t.row[i].seq, t.row[i].hash);
		}
		store_audit_digest_final(dk, hk);
		store_audit_digest_final(du, hu);
		assert_memory_not_equal(hk, hu, 32);
		hex_encode(hk, 32, kd);
		assert_non_null(strstr(t.row[t.n - 1].detail, kd));
	}
	trail_clear(&t);
	/* A kept row deleted: the keyed digest no longer matches. */
	unguard(b);
	b->exec("DELETE FROM audit WHERE seq = 2");
	r = verify(s, fixture_key());
	assert_false(r.ok);
	assert_int_equal(r.first_bad, 7);
	/* The key record's bound moved (to pass later unkeyed rows off as
	 * old): its MAC no longer holds. */
	b->exec("UPDATE audit_key SET v1_through = 99");
	r = verify(s, fixture_key());
	assert_false(r.ok);
	assert_false(r.key_mismatch);
	assert_int_equal(r.first_bad, 0);
	assert_non_null(strstr(r.why, "key record was altered"));
	store_audit_key_free(wrong);
	store_close(s);
}

/*
 * An unkeyed (v1) row as the code before the key wrote it: linked by
 * SHA-256 after prev, into out; inserted unless pruned, either as the old
 * code inserted it (no chain column: the migration's default marks it v1)
 * or, when marked, naming chain 1.
 */
static void
old_row(const struct conformance_backend *b, int64_t seq, const char *action,
    const char *detail, const uint8_t prev[32], int insert, int marked, uint8_t out[32])
{
	struct store_audit v;
	char sql[1024], ph[96], hh[96];

	memset(&v, 0, sizeof(v));
	v.seq = seq;
	v.at = 500 + seq;
	v.request_id = v.tenant = v.address = (char *)"";
	v.actor = (char *)"cli:old";
	v.action = (char *)action;
	v.target = (char *)"t";
	v.outcome = (char *)"ok";
	v.detail = (char *)detail;
	v.chain = STORE_AUDIT_CHAIN_V1;
	memcpy(v.prev_hash, prev, 32);
	assert_int_equal(store_audit_link(NULL, &v, out), 0);
	if (!insert)
		return;
	blob(b, prev, ph);
	blob(b, out, hh);
	snprintf(sql, sizeof(sql), "INSERT INTO audit (seq, at, request_id, actor, tenant, address,"
	    " action, target, outcome, detail, prev_hash, hash%s) VALUES (%lld, %lld, '', 'cli:old',"
	    " '', '', '%s', 't', 'ok', '%s', %s, %s%s)", marked ? ", chain" : "", (long long)seq,
	    (long long)v.at, action, detail, ph, hh, marked ? ", 1" : "");
	b->exec(sql);
}

/*
 * A trail written before the key, pruned once then too (its checkpoint
 * and kept digest unkeyed), is bound by the key record when a keyed
 * process first opens it, and goes on with keyed rows; it verifies. An
 * unkeyed row after the keyed ones is tampering.
 */
static void
audit_v1_trail_then_v2(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store_unkeyed();
	struct store_audit_seal seal;
	struct store_audit_digest *dg;
	struct audit_verify_result r;
	struct trail t;
	uint8_t zero[32], h1[32], h2[32], h3[32], h4[32], kd[32], h7[32];
	char detail[256], th[65], kh[65];
	int64_t after = 0;

	/* Opened (migrated), never keyed: no record; nothing may append. */
	assert_int_equal(store_audit_seal_get(s, &seal), STORE_NOTFOUND);
	store_close(s);
	/* 1 kept, 2 a token event pruned, 3 the old checkpoint, 4 after it. */
	memset(zero, 0, sizeof(zero));
	old_row(b, 1, "tenant.create", "", zero, 1, 0, h1);
	old_row(b, 2, "token.issued", "", h1, 0, 0, h2);
	assert_non_null(dg = store_audit_digest_new(NULL));
	store_audit_digest_add(dg, 1, h1);
	store_audit_digest_final(dg, kd);
	hex_encode(h2, 32, th);
	hex_encode(kd, 32, kh);
	snprintf(detail, sizeof(detail), "{\"through\":2,\"through_hash\":\"%s\",\"kept\":1,"
	    "\"kept_digest\":\"%s\",\"pruned\":1}", th, kh);
	old_row(b, 3, STORE_AUDIT_CHECKPOINT, detail, h2, 1, 0, h3);
	old_row(b, 4, "tenant.create", "", h3, 1, 0, h4);
	assert_int_equal(b->count("SELECT count(*) FROM audit WHERE chain = 1"), 3);
	/* A trail nobody keyed: its rows could be anyone's. */
	s = open_store_unkeyed();
	r = verify(s, fixture_key());
	assert_false(r.ok);
	assert_int_equal(r.first_bad, 0);
	assert_non_null(strstr(r.why, "not keyed"));
	store_close(s);

	/* The first keyed open binds rows up to 4 (and says so: once, at the
	 * upgrade) and appends keyed rows; another open binds nothing. */
	s = open_store_unkeyed();
	assert_int_equal(store_audit_set_key(s, fixture_audit_key, &after), STORE_OK);
	assert_int_equal(after, 4);
	store_close(s);
	s = open_store_unkeyed();
	assert_int_equal(store_audit_set_key(s, fixture_audit_key, &after), STORE_OK);
	assert_int_equal(after, -1);
	assert_int_equal(store_audit_seal_get(s, &seal), STORE_OK);
	assert_int_equal(seal.through, 4);
	assert_memory_equal(seal.through_hash, h4, 32);
	append_rows(s, 2, "client.create");
	trail_read(s, &t);
	assert_int_equal(t.n, 5);
	for (size_t i = 0; i < t.n; i++)
		assert_int_equal(t.row[i].chain, i < 3 ? STORE_AUDIT_CHAIN_V1 : STORE_AUDIT_CHAIN_V2);
	assert_int_equal(t.row[3].seq, 5);
	assert_memory_equal(t.row[3].prev_hash, h4, 32);	/* one chain across */
	r = verify(s, fixture_key());
	assert_true(r.ok);
	assert_int_equal(r.rows, 5);
	assert_int_equal(r.head_seq, 6);
	assert_int_equal(r.checkpoint, 2);

	/* An unkeyed row after the keyed ones, chained as the old scheme
	 * would: refused. */
	old_row(b, 7, "tenant.create", "", t.row[4].hash, 1, 1, h7);
	trail_clear(&t);
	r = verify(s, fixture_key());
	assert_false(r.ok);
	assert_int_equal(r.first_bad, 7);
	assert_non_null(strstr(r.why, "unkeyed (v1) after keyed row 5"));
	store_close(s);
}

/*
 * The attack the key stops: someone with the database but not the master
 * key edits a row and relinks it and every row after it with the unkeyed
 * scheme. Each way of doing so is found: keeping the rows marked keyed,
 * marking them unkeyed, rewriting the whole trail as unkeyed, and also
 * deleting the key record. (Each forgery is first shown to hold by the
 * unkeyed scheme's own rules: before the key, it verified.)
 */
static void
audit_rewrite_without_key_found(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct audit_verify_result r;
	struct trail t;
	int64_t after = 0;

	append_rows(s, 5, "client.create");
	assert_true(verify(s, fixture_key()).ok);
	trail_read(s, &t);
	unguard(b);
	for (int round = 0; round < 3; round++) {
		/* Round 0: rows 2.. relinked, still marked v2; round 1: marked v1
		 * too; round 2: the whole trail, from row 1, as v1. */
		size_t from = round < 2 ? 1 : 0;
		uint8_t prev[32];

		memcpy(prev, t.row[from].prev_hash, 32);
		free(t.row[1].detail);
		t.row[1].detail = strdup("{\"n\":2}");	/* the edit */
		for (size_t i = from; i < t.n; i++) {
			struct store_audit x = t.row[i];
			x.chain = STORE_AUDIT_CHAIN_V1;
			memcpy(x.prev_hash, prev, 32);
			assert_int_equal(store_audit_link(NULL, &x, x.hash), 0);
			if (round == 0)
				x.chain = STORE_AUDIT_CHAIN_V2;
			overwrite(b, &x);
			memcpy(prev, x.hash, 32);
		}
		/* The forgery holds by the unkeyed rules: every row of it links
		 * by SHA-256 and chains to the one before. */
		{
			struct trail f;
			trail_read(s, &f);
			for (size_t i = from; i < f.n; i++) {
				struct store_audit x = f.row[i];
				uint8_t h[32];
				x.chain = STORE_AUDIT_CHAIN_V1;
				assert_int_equal(store_audit_link(NULL, &x, h), 0);
				assert_memory_equal(h, f.row[i].hash, 32);
				if (i > 0)
					assert_memory_equal(f.row[i].prev_hash, f.row[i - 1].hash, 32);
			}
			trail_clear(&f);
		}
		r = verify(s, fixture_key());
		assert_false(r.ok);
		assert_false(r.key_mismatch);
		assert_int_equal(r.first_bad, round < 2 ? 2 : 1);
		assert_non_null(strstr(r.why, round == 0 ? "was edited" : "unkeyed (v1)"));
	}
	/* And with the key record deleted, the trail reads as never keyed:
	 * that fails too. */
	b->exec("DELETE FROM audit_key");
	r = verify(s, fixture_key());
	assert_false(r.ok);
	assert_int_equal(r.first_bad, 0);
	assert_non_null(strstr(r.why, "not keyed"));
	trail_clear(&t);
	store_close(s);
	/* What the database cannot show: the next keyed open binds the
	 * forgery as an upgrade's unkeyed rows would be. It says so (the
	 * caller reports it outside the database); with keyed rows at the
	 * head it would not have keyed the trail at all. */
	s = open_store_unkeyed();
	assert_int_equal(store_audit_set_key(s, fixture_audit_key, &after), STORE_OK);
	assert_int_equal(after, 5);
	store_close(s);
}

/*
 * Regression: a row whose action was made "audit.checkpoint" followed by a
 * NUL and more (SQLite keeps the bytes after a NUL in a text) was read as
 * a checkpoint by the walk but not found as one by the store's lookup, so
 * verify took it for a prune under way, looked again five times and said
 * "the trail kept changing under the check (prunes)", naming no row. It
 * names the edited row now. (PostgreSQL text holds no NUL.)
 */
static void
audit_row_made_a_checkpoint_is_named(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s;
	struct audit_verify_result r;

	if (strcmp(b->name, "sqlite") != 0)
		skip();
	s = open_store();
	append_rows(s, 4, "client.create");
	unguard(b);
	b->exec("UPDATE audit SET action = CAST('audit.checkpoint' || char(0) || 'x' AS TEXT)"
	    " WHERE seq = 2");
	r = verify(s, fixture_key());
	assert_false(r.ok);
	assert_int_equal(r.first_bad, 2);
	assert_non_null(strstr(r.why, "row 2 was edited"));
	store_close(s);
}

/* A scan's view: on its first row another handle prunes every token
 * event (the server's housekeeping while the CLI verifies). */
struct snapshot_scan {
	struct store	*other;
	int64_t		 seen, last, gaps;
};

static int
scan_prune_first(void *arg, const struct store_audit *r)
{
	struct snapshot_scan *x = arg;
	int64_t pruned = 0;

	if (x->seen++ == 0) {
		assert_int_equal(store_audit_prune(x->other, 1000000, 2000000, &pruned), STORE_OK);
		assert_int_equal(pruned, 1200);
	}
	if (x->last != 0 && r->seq != x->last + 1)
		x->gaps++;
	x->last = r->seq;
	return 0;
}

/*
 * A scan reads one snapshot of the trail however many rows it has: a
 * prune committed while it runs is seen wholly or not at all. Read page by
 * page, each page its own snapshot, the pages after the prune lacked the
 * rows it deleted, and audit verify named the first of them as deleted by
 * tampering.
 */
static void
audit_scan_is_one_snapshot(void **state)
{
	struct store *s = open_store(), *other = open_store();
	struct snapshot_scan x = { other, 0, 0, 0 };
	struct audit_verify_result r;

	(void)state;
	append_rows(s, 1200, "token.issued");
	append_rows(s, 1, "tenant.create");
	assert_int_equal(store_audit_scan(s, 1, scan_prune_first, &x), STORE_OK);
	assert_int_equal(x.gaps, 0);
	assert_int_equal(x.seen, 1201);
	assert_int_equal(x.last, 1201);
	r = verify(s, fixture_key());
	assert_true(r.ok);
	assert_int_equal(r.checkpoint, 1200);
	store_close(other);
	store_close(s);
}

/* The backend's scan, run after another handle prunes every token event:
 * a prune landing between audit_verify's reading of the newest checkpoint
 * and its scan. */
static int (*real_scan)(void *, int64_t, store_audit_fn, void *);
static struct store *pruner;

static int
scan_after_prune(void *h, int64_t from_seq, store_audit_fn fn, void *arg)
{
	int64_t pruned = 0;

	if (pruner != NULL) {
		assert_int_equal(store_audit_prune(pruner, 1000000, 2000000, &pruned), STORE_OK);
		assert_int_equal(pruned, 5);
		pruner = NULL;
	}
	return real_scan(h, from_seq, fn, arg);
}

/*
 * A prune between verify's finding the checkpoint and its scan: the scan
 * lacks the rows it cut, before it reaches the new checkpoint that would
 * have made verify look again. It is no tampering: verify must rescan,
 * not report row 1 deleted.
 */
static void
audit_verify_prune_before_scan(void **state)
{
	struct store *s = open_store();
	const struct store_ops *ops = s->ops;
	struct store_ops wrapped = *ops;
	struct audit_verify_result r;

	(void)state;
	append_rows(s, 5, "token.issued");
	append_rows(s, 1, "tenant.create");
	real_scan = ops->audit_scan;
	wrapped.audit_scan = scan_after_prune;
	pruner = open_store();
	{
		struct store *p = pruner;
		s->ops = &wrapped;
		r = verify(s, fixture_key());
		s->ops = ops;
		store_close(p);
	}
	assert_null(pruner);
	assert_true(r.ok);
	assert_int_equal(r.checkpoint, 5);
	store_close(s);
}

/* -- a change and its audit row in one transaction (store_audit_stage) -------------------- */

struct other_write {
	struct store	*s;
	int		 rc;
};

/* Another thread's change on the same handle, with nothing staged. */
static void *
other_write(void *arg)
{
	struct other_write *o = arg;
	struct store_tenant t = { (char *)"other", (char *)"Other", 7 };

	o->rc = store_tenant_create(o->s, &t);
	return NULL;
}

#define STAGED_ROWS(target) "SELECT count(*) FROM audit WHERE action = 'tenant.create'" \
	" AND target = '" target "'"

static void
audit_row_staged_commits_with_its_change(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct store_tenant t = { (char *)"acme", (char *)"Acme", 7 };
	struct other_write o = { s, -1 };
	struct audit_verify_result r;
	struct store_audit a;
	pthread_t th;

	memset(&a, 0, sizeof(a));
	a.at = 1000;
	a.actor = (char *)"cli:op";
	a.tenant = (char *)"acme";
	a.action = (char *)"tenant.create";
	a.target = (char *)"acme";
	a.outcome = (char *)"ok";
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_audit_stage(s, &a), STORE_CONFLICT);	/* one at a time */
	/* Not taken by another thread's change on the shared handle, nor by
	 * the group-commit writer's batch. */
	assert_int_equal(pthread_create(&th, NULL, other_write, &o), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(o.rc, STORE_OK);
	append_rows(s, 1, "token.issued");
	assert_int_equal(b->count("SELECT count(*) FROM audit"), 1);
	/* Taken by this thread's change, in its transaction. */
	assert_int_equal(store_tenant_create(s, &t), STORE_OK);
	assert_int_equal(store_audit_unstage(s), 1);
	assert_int_equal(b->count(STAGED_ROWS("acme")), 1);
	assert_int_equal(store_audit_unstage(s), 0);	/* nothing left */

	/* A change that fails (rolled back) commits no row; unstage drops it. */
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_tenant_create(s, &t), STORE_CONFLICT);
	assert_int_equal(store_audit_unstage(s), 0);
	assert_int_equal(b->count(STAGED_ROWS("acme")), 1);
	/* So does one that finds nothing to change (PostgreSQL commits that
	 * statement, then answers STORE_NOTFOUND): no row says it was done. */
	a.target = (char *)"nosuch";
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_client_set_disabled(s, "nosuch", 1, 7), STORE_NOTFOUND);
	assert_int_equal(store_token_revoke_by_name(s, NULL, "nosuch", 7, &(int){ 0 }),
	    STORE_NOTFOUND);
	assert_int_equal(store_audit_unstage(s), 0);
	assert_int_equal(b->count(STAGED_ROWS("nosuch")), 0);

	/* A row the trail refuses fails its change: neither commits. */
	if (strcmp(b->name, "sqlite") == 0)
		b->exec("CREATE TRIGGER audit_refuse_boom BEFORE INSERT ON audit"
		    " WHEN NEW.target = 'boom' BEGIN SELECT RAISE(ABORT, 'refused'); END");
	else {
		b->exec("CREATE FUNCTION audit_refuse_boom() RETURNS trigger LANGUAGE plpgsql AS"
		    " $$ BEGIN IF NEW.target = 'boom' THEN RAISE EXCEPTION 'refused'; END IF;"
		    " RETURN NEW; END $$");
		b->exec("CREATE TRIGGER audit_refuse_boom BEFORE INSERT ON audit FOR EACH ROW"
		    " EXECUTE FUNCTION audit_refuse_boom()");
	}
	a.target = (char *)"boom";
	t.id = (char *)"beta";
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_not_equal(store_tenant_create(s, &t), STORE_OK);
	assert_int_equal(store_audit_unstage(s), 0);
	assert_int_equal(b->count("SELECT count(*) FROM tenants WHERE id = 'beta'"), 0);
	assert_int_equal(b->count(STAGED_ROWS("boom")), 0);

	/* The chain, staged row included, verifies. */
	r = verify(s, fixture_key());
	assert_true(r.ok);
	assert_int_equal(r.rows, 2);
	store_close(s);
}

/*
 * A secret revoked with the client's tokens (store_secret_update_void_tokens)
 * in one transaction, with the audit row staged for it: both changes and
 * the row, or none. It used to be two: a crash between left a leaked
 * secret's tokens good.
 */
static void
secret_revoked_with_its_tokens(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct store_client c = client_fixture("c1", "acme"), got;
	struct store_secret first = secret_fixture("c1", 1), *all = NULL;
	struct store_audit a;
	size_t n = 0;
	uint64_t g0;

	(void)state;
	make_tenant(s, "acme");
	assert_int_equal(store_client_create(s, &c, &first), STORE_OK);
	memset(&a, 0, sizeof(a));
	a.at = 1000;
	a.action = (char *)"client.revoke_secret";
	a.target = (char *)"c1";
	a.outcome = (char *)"ok";
	assert_int_equal(store_secret_list(s, "c1", &all, &n), STORE_OK);
	assert_int_equal(n, 1);
	all[0].revoked_at = 4000;

	/* The client is missing: the secret's update is rolled back with the
	 * rest, and the row is not written. */
	free(all[0].client_id);
	all[0].client_id = strdup("ghost");
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_secret_update_void_tokens(s, &all[0], 4001, 4000), STORE_NOTFOUND);
	assert_int_equal(store_audit_unstage(s), 0);
	assert_int_equal(b->count("SELECT count(*) FROM client_secrets WHERE revoked_at <> 0"), 0);
	assert_int_equal(b->count("SELECT count(*) FROM audit"), 0);

	free(all[0].client_id);
	all[0].client_id = strdup("c1");
	g0 = gen(s);
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_secret_update_void_tokens(s, &all[0], 4001, 4000), STORE_OK);
	assert_int_equal(store_audit_unstage(s), 1);
	assert_true(gen(s) == g0 + 1);
	assert_int_equal(b->count("SELECT revoked_at FROM client_secrets"), 4000);
	assert_int_equal(store_client_get(s, "c1", &got), STORE_OK);
	assert_int_equal(got.tokens_valid_after, 4001);
	assert_int_equal(got.updated_at, 4000);
	store_client_clear(&got);
	assert_int_equal(b->count("SELECT count(*) FROM audit WHERE action = 'client.revoke_secret'"),
	    1);
	assert_true(verify(s, fixture_key()).ok);
	store_secret_free(all, n);
	store_close(s);
}

/*
 * The rotations of both environments in one transaction
 * (store_key_rotate_envs), with the audit row staged for them: keys rotate
 * with no --env made them in two, and a crash between left one env
 * rotated under a row that said both were. A refusal of either leaves
 * neither, and no row.
 */
static void
key_rotations_of_both_envs_at_once(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct store_key sa = key_fixture("sa", STORE_ENV_SANDBOX, 100);
	struct store_key pa = key_fixture("pa", STORE_ENV_PRODUCTION, 100);
	struct store_key sb = key_fixture("sb", STORE_ENV_SANDBOX, 300);
	struct store_key pb = key_fixture("pb", STORE_ENV_PRODUCTION, 300), got;
	struct store_key_rotation r[2] = { { &sb, 900, "sa" }, { &pb, 950, "pa" } };
	struct store_audit a;
	uint64_t g0;

	assert_int_equal(store_key_add(s, &sa), STORE_OK);
	assert_int_equal(store_key_add(s, &pa), STORE_OK);
	memset(&a, 0, sizeof(a));
	a.at = 1000;
	a.action = (char *)"keys.rotate";
	a.target = (char *)"all";
	a.outcome = (char *)"ok";

	/* Production's refused (another rotation came first): sandbox's,
	 * first in the same transaction, is rolled back with it. */
	r[1].replaces = "nosuch";
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_key_rotate_envs(s, r, 2, 200), STORE_CONFLICT);
	assert_non_null(strstr(store_last_error(), "production rotation came first"));
	assert_int_equal(store_audit_unstage(s), 0);
	assert_int_equal(b->count("SELECT count(*) FROM signing_keys"), 2);
	assert_int_equal(b->count("SELECT count(*) FROM audit"), 0);
	key_get(s, "sa", &got);
	assert_int_equal(got.retire_at, 0);
	store_key_clear(&got);

	/* Both, and the row, in one commit. */
	r[1].replaces = "pa";
	g0 = gen(s);
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_key_rotate_envs(s, r, 2, 200), STORE_OK);
	assert_int_equal(store_audit_unstage(s), 1);
	assert_true(gen(s) == g0 + 1);
	key_get(s, "sa", &got);
	assert_int_equal(got.retire_at, 300);
	assert_int_equal(got.remove_at, 900);
	store_key_clear(&got);
	key_get(s, "pa", &got);
	assert_int_equal(got.retire_at, 300);
	assert_int_equal(got.remove_at, 950);
	store_key_clear(&got);
	assert_int_equal(b->count("SELECT count(*) FROM signing_keys"), 4);
	assert_int_equal(b->count("SELECT count(*) FROM audit WHERE action = 'keys.rotate'"), 1);
	assert_true(verify(s, fixture_key()).ok);
	/* One env twice is no rotation of both. */
	r[1] = r[0];
	assert_int_equal(store_key_rotate_envs(s, r, 2, 400), STORE_ERROR);
	store_close(s);
}

/*
 * The row of who pruned, staged, goes in with the prune (after its
 * checkpoint, in its transaction); a prune with nothing old enough
 * commits nothing, and leaves it for the caller to write. It used to be
 * written after the prune had committed: a crash between left the trail
 * cut with no row saying who cut it.
 */
static void
audit_prune_takes_its_staged_row(void **state)
{
	const struct conformance_backend *b = *state;
	struct store *s = open_store();
	struct store_audit a;
	int64_t pruned = -1;

	append_rows(s, 5, "token.issued");
	append_rows(s, 1, "tenant.create");
	memset(&a, 0, sizeof(a));
	a.at = 3000;
	a.actor = (char *)"cli:op";
	a.action = (char *)"audit.prune";
	a.target = (char *)"older than 1h";
	a.outcome = (char *)"ok";
	/* Nothing before 500: no transaction commits, the row stays out. */
	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_audit_prune(s, 500, 2000, &pruned), STORE_OK);
	assert_int_equal(pruned, 0);
	assert_int_equal(store_audit_unstage(s), 0);
	assert_int_equal(b->count("SELECT count(*) FROM audit WHERE action = 'audit.prune'"), 0);

	assert_int_equal(store_audit_stage(s, &a), STORE_OK);
	assert_int_equal(store_audit_prune(s, 1000000, 2000, &pruned), STORE_OK);
	assert_int_equal(pruned, 5);
	assert_int_equal(store_audit_unstage(s), 1);
	assert_int_equal(b->count("SELECT seq FROM audit WHERE action = 'audit.prune'"), 8);
	assert_int_equal(b->count("SELECT seq FROM audit WHERE action = 'audit.checkpoint'"), 7);
	assert_true(verify(s, fixture_key()).ok);
	store_close(s);
}

/* -- the suite --------------------------------------------------------------------------- */

#define T(f)	cmocka_unit_test_prestate_setup_teardown(f, b->setup, b->teardown, (void *)b)

int
conformance_run(const struct conformance_backend *b)
{
	const struct CMUnitTest tests[] = {
		T(tenants),
		T(write_probe),
		T(clients),
		T(client_create_missing_tenant_is_atomic),
		T(secrets),
		T(secret_revoked_with_its_tokens),
		T(secrets_due),
		T(secret_rotation),
		T(secret_rotations_at_once),
		T(keys),
		T(key_rotation),
		T(key_rotations_of_both_envs_at_once),
		T(key_rotations_at_once),
		T(key_rotations_at_once_without_lead),
		T(key_revocation),
		T(key_revocation_of_a_scheduled_successor),
		T(key_revocation_brings_the_successor_forward),
		T(key_revocations_at_once),
		T(key_tie_rotation_retires_both),
		T(tokens),
		T(tokens_revoked_since),
		T(token_revocations_at_once),
		T(token_pages),
		T(tenant_pages),
		T(client_pages),
		T(lock_pages),
		T(approval_pages),
		T(approval_claims),
		T(approval_filings_at_once),
		T(duplicate_token_fails_alone),
		T(expired_token_records_pruned),
		T(newer_schema_refused),
		T(conflict_keys_get_their_tenant),
		T(generation_seen_across_handles),
		T(group_commit_64_threads),
		T(close_commits_what_is_queued),
		T(queue_full_is_refused),
		T(audit_chain_keyed),
		T(audit_v1_trail_then_v2),
		T(audit_rewrite_without_key_found),
		T(audit_row_made_a_checkpoint_is_named),
		T(audit_scan_is_one_snapshot),
		T(audit_verify_prune_before_scan),
		T(audit_row_staged_commits_with_its_change),
		T(audit_prune_takes_its_staged_row),
	};

	return cmocka_run_group_tests_name(b->name, tests, NULL, NULL);
}
