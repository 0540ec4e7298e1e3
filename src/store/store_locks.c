/*
 * store_locks.c — store.h store_lock_* (issue 5), store_failure_* and
 * store_rate_* (issue 8), as sqlite_locks.c and pgsql_locks.c are on the
 * backends' side. Every lock and failure key is checked as
 * store_backend.h promises it to the backend (a kind; an address of at
 * most 45 bytes; a pair's client id of at most 128), an address lock's
 * client id is made "" (it is part of the row's key), and issuance rows
 * need a client id and a positive count. A backend without them answers
 * STORE_ERROR.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "util/util.h"

#define LOCK_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"lockout locks are not supported by this store backend")

/* A lock's fields as store_backend.h promises them; NULL when valid. */
static const char *
lock_invalid(const struct store_lock *lk)
{
	if ((unsigned)lk->kind >= STORE_LOCK_KIND__MAX)
		return "unknown lock kind";
	if (lk->address == NULL || lk->address[0] == '\0' ||
	    strlen(lk->address) > STORE_LOCK_ADDRESS_MAX)
		return "a lock needs an address (at most 45 bytes)";
	if (lk->kind == STORE_LOCK_PAIR && (lk->client_id == NULL || lk->client_id[0] == '\0' ||
	    strlen(lk->client_id) > STORE_LOCK_CLIENT_MAX))
		return "a pair lock needs a client id (at most 128 bytes)";
	if (lk->until <= lk->created_at)
		return "a lock must end after it starts";
	return NULL;
}

int
store_lock_put(struct store *s, const struct store_lock *locks, size_t n)
{
	uint64_t gen;

	return store_lock_put_gen(s, locks, n, &gen);
}

int
store_lock_put_gen(struct store *s, const struct store_lock *locks, size_t n, uint64_t *gen)
{
	struct store_lock *norm;
	int rc;

	REQUIRE(s != NULL && locks != NULL && gen != NULL, "NULL argument");
	*gen = 0;
	REQUIRE(n > 0 && n <= 100000, "1 to 100000 locks at once");
	for (size_t i = 0; i < n; i++) {
		const char *why = lock_invalid(&locks[i]);
		if (why != NULL)
			return store_set_error(STORE_ERROR, "%s: lock %zu: %s", __func__, i, why);
	}
	LOCK_REQUIRE_OPS(s, lock_put);
	if ((norm = malloc(n * sizeof(*norm))) == NULL)
		return store_set_error(STORE_ERROR, "%s: out of memory", __func__);
	/* An address lock's client id is "" whatever the caller left there:
	 * it is part of the row's key. */
	for (size_t i = 0; i < n; i++) {
		norm[i] = locks[i];
		if (norm[i].kind == STORE_LOCK_ADDRESS)
			norm[i].client_id = "";
	}
	rc = s->ops->lock_put(s->h, norm, n, gen);
	free(norm);
	return rc;
}

int
store_lock_list(struct store *s, int64_t now, struct store_lock **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	LOCK_REQUIRE_OPS(s, lock_list);
	return s->ops->lock_list(s->h, now, NULL, "", "", -1, INT64_MAX, out, n);
}

int
store_lock_list_page(struct store *s, int64_t now, const struct store_lock_page *page,
    struct store_lock **out, size_t *n)
{
	REQUIRE(s != NULL && page != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(page->limit >= 1 && page->limit <= STORE_LIST_PAGE_MAX,
	    "a page limit must be 1..10001");
	LOCK_REQUIRE_OPS(s, lock_list);
	/* Addresses are never empty, and kinds are >= 0: ("", "", -1) is
	 * before every lock. */
	if (page->after_address == NULL)
		return s->ops->lock_list(s->h, now, page->tenant_id, "", "", -1,
		    (int64_t)page->limit, out, n);
	REQUIRE((unsigned)page->after_kind < STORE_LOCK_KIND__MAX, "unknown lock kind");
	return s->ops->lock_list(s->h, now, page->tenant_id, page->after_address,
	    OPT(page->after_client_id, ""), (int)page->after_kind, (int64_t)page->limit, out, n);
}

int
store_lock_clear(struct store *s, const char *address, const char *client_id, int64_t now,
    int *count)
{
	int dummy;

	if (count == NULL)
		count = &dummy;
	*count = 0;
	REQUIRE(s != NULL, "NULL argument");
	REQUIRE(address == NULL || (address[0] != '\0' && strlen(address) <= STORE_LOCK_ADDRESS_MAX),
	    "an address filter must be 1 to 45 bytes");
	REQUIRE(client_id == NULL || (client_id[0] != '\0' && strlen(client_id) <= STORE_LOCK_CLIENT_MAX),
	    "a client filter must be 1 to 128 bytes");
	LOCK_REQUIRE_OPS(s, lock_clear);
	return s->ops->lock_clear(s->h, address, client_id, now, count);
}

int
store_lock_cleared_since(struct store *s, uint64_t since, size_t limit,
    struct store_lock_cleared **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(limit >= 1 && limit <= STORE_LIST_PAGE_MAX, "a limit must be 1..10001");
	LOCK_REQUIRE_OPS(s, lock_cleared);
	return s->ops->lock_cleared(s->h, since, (int64_t)limit, out, n);
}

void
store_lock_cleared_free(struct store_lock_cleared *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++)
		store_lock_cleared_clear_v(&c[i]);
	free(c);
}

static const char *
failure_keys_invalid(const struct store_failure_key *k, size_t n)
{
	if (k == NULL || n == 0 || n > 4)
		return "1 to 4 keys at once";
	for (size_t i = 0; i < n; i++) {
		struct store_lock lk = { k[i].kind, (char *)k[i].client_id, (char *)k[i].address, 0, 1, 0 };
		const char *why = lock_invalid(&lk);
		if (why != NULL)
			return why;
		if (k[i].kind == STORE_LOCK_ADDRESS && (k[i].client_id == NULL || k[i].client_id[0] != '\0'))
			return "an address key's client id is \"\"";
		for (size_t j = 0; j < i; j++)
			if (k[j].kind == k[i].kind && strcmp(k[j].address, k[i].address) == 0 &&
			    strcmp(k[j].client_id, k[i].client_id) == 0)
				return "a key is given twice";
	}
	return NULL;
}

int
store_failure_add(struct store *s, const struct store_failure_key *keys, size_t n,
    int64_t now, int64_t window, int64_t *counts)
{
	const char *why;

	REQUIRE(s != NULL && counts != NULL, "NULL argument");
	REQUIRE(window > 0, "the window must be positive");
	if ((why = failure_keys_invalid(keys, n)) != NULL)
		return store_set_error(STORE_ERROR, "%s: %s", __func__, why);
	LOCK_REQUIRE_OPS(s, failure_add);
	return s->ops->failure_add(s->h, keys, n, now, window, counts);
}

int
store_failure_reset(struct store *s, const struct store_failure_key *keys, size_t n)
{
	const char *why;

	REQUIRE(s != NULL, "NULL argument");
	if ((why = failure_keys_invalid(keys, n)) != NULL)
		return store_set_error(STORE_ERROR, "%s: %s", __func__, why);
	LOCK_REQUIRE_OPS(s, failure_reset);
	return s->ops->failure_reset(s->h, keys, n);
}

int
store_failure_pairs(struct store *s, int64_t now, int64_t window, size_t max,
    struct store_failure_row **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(window > 0, "the window must be positive");
	REQUIRE(max > 0 && max <= 10000, "1 to 10000 rows at once");
	LOCK_REQUIRE_OPS(s, failure_pairs);
	return s->ops->failure_pairs(s->h, now - window, max, out, n);
}

void
store_failure_free(struct store_failure_row *r, size_t n)
{
	for (size_t i = 0; r != NULL && i < n; i++)
		store_failure_clear_v(&r[i]);
	free(r);
}

int
store_rate_push(struct store *s, const char *node, const struct store_rate *rows, size_t n,
    int64_t now)
{
	REQUIRE(s != NULL && node != NULL && rows != NULL, "NULL argument");
	REQUIRE(node[0] != '\0' && strlen(node) <= STORE_RATE_NODE_MAX, "a node is 1 to 64 bytes");
	REQUIRE(n > 0 && n <= 10000, "1 to 10000 rows at once");
	for (size_t i = 0; i < n; i++)
		if (rows[i].client_id == NULL || rows[i].client_id[0] == '\0' ||
		    strlen(rows[i].client_id) > STORE_LOCK_CLIENT_MAX || rows[i].taken <= 0)
			return store_set_error(STORE_ERROR, "%s: row %zu: a client id of 1 to 128 "
			    "bytes and a positive count", __func__, i);
	LOCK_REQUIRE_OPS(s, rate_push);
	return s->ops->rate_push(s->h, node, rows, n, now);
}

int
store_rate_pull(struct store *s, const char *not_node, int64_t since, struct store_rate **out,
    size_t *n)
{
	REQUIRE(s != NULL && not_node != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	LOCK_REQUIRE_OPS(s, rate_pull);
	return s->ops->rate_pull(s->h, not_node, since, out, n);
}

void
store_rate_free(struct store_rate *r, size_t n)
{
	for (size_t i = 0; r != NULL && i < n; i++)
		store_rate_clear_v(&r[i]);
	free(r);
}

int
store_clock(struct store *s, int64_t *now)
{
	REQUIRE(s != NULL && now != NULL, "NULL argument");
	if (s->ops->clock == NULL) {
		*now = clock_now();
		return STORE_OK;
	}
	return s->ops->clock(s->h, now);
}

int
store_is_shared(const struct store *s)
{
	return s != NULL && s->ops->shared;
}

int
store_connections(const struct store *s)
{
	return s->ops->connections != NULL ? s->ops->connections(s->h) : 1;
}

void
store_lock_free(struct store_lock *l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++)
		store_lock_clear_v(&l[i]);
	free(l);
}
