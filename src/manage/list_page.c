/*
 * list_page.c — manage.h manage_tenant_page, manage_client_page,
 * manage_lock_page and the cursor they share with the approvals list
 * (approvals/approvals.c): the operator's lists one bounded page at a
 * time, for the admin API and the CLI alike, so that both take and give
 * the same cursors.
 *
 * A cursor is the list's name and the key of the last row of a page, each
 * part after a '~': "tenants~acme", "clients~1700000000~app-1",
 * "locks~192.0.2.7~app-1~pair". No key holds a '~' (ids are
 * [A-Za-z0-9._:-], addresses hex digits, dots, colons and a "/64"), and
 * '~' needs no escaping in a query string. The name makes another list's
 * cursor (or a token list's, which has no '~') a refusal, not a place.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manage/manage.h"
#include "util/util.h"

#define KEY_MAX	128	/* the longest id (a client's) */

/* Whether s[0..len) may be a key part: at most max bytes of printable
 * ASCII other than '~' and space, at least min. Every id gatehouse makes
 * is one; a row whose key is not cannot be paged past. */
static int
key_ok(const char *s, size_t len, size_t min, size_t max)
{
	if (len < min || len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] >= '~')
			return 0;
	return 1;
}

int
manage_cursor_make(char out[MANAGE_CURSOR_MAX + 1], const char *list, const char *const *keys,
    size_t nkeys)
{
	size_t at;

	at = (size_t)snprintf(out, MANAGE_CURSOR_MAX + 1, "%s", list);
	for (size_t i = 0; i < nkeys; i++) {
		size_t len = strlen(keys[i]);
		if (!key_ok(keys[i], len, 0, KEY_MAX) || at + 1 + len > MANAGE_CURSOR_MAX) {
			out[0] = '\0';
			return -1;
		}
		out[at++] = '~';
		memcpy(out + at, keys[i], len);
		at += len;
		out[at] = '\0';
	}
	return 0;
}

int
manage_cursor_split(const char *s, const char *list, char buf[MANAGE_CURSOR_MAX + 1],
    const char **keys, size_t nkeys)
{
	size_t len, llen = strlen(list), k = 0;
	char *p;

	if (s == NULL || (len = strnlen(s, MANAGE_CURSOR_MAX + 1)) > MANAGE_CURSOR_MAX ||
	    len <= llen || strncmp(s, list, llen) != 0 || s[llen] != '~')
		return -1;
	memcpy(buf, s, len + 1);
	/* Each '~' starts a part; exactly nkeys of them, each a key. */
	for (p = buf + llen; p != NULL; k++) {
		char *end;
		if (k == nkeys)
			return -1;
		*p++ = '\0';
		keys[k] = p;
		end = strchr(p, '~');
		if (!key_ok(p, end != NULL ? (size_t)(end - p) : strlen(p), 0, KEY_MAX))
			return -1;
		p = end;
	}
	return k == nkeys ? 0 : -1;
}

int
manage_cursor_time(const char *s, int64_t *out)
{
	size_t len = strlen(s);
	const char *why;

	/* Digits only, as a cursor is written: no sign, no leading zero
	 * (one text per place). */
	if (len == 0 || len > 19 || s[0] < '0' || s[0] > '9' || (s[0] == '0' && len > 1) ||
	    num_parse_i64(s, len, 0, INT64_MAX, out, &why) == -1)
		return -1;
	return 0;
}

/* The checks every page makes before it reads; 0 or -1 with err. */
static int
page_check(size_t limit, char *next, char *err, size_t errlen)
{
	next[0] = '\0';
	if (limit < 1 || limit > MANAGE_PAGE_MAX) {
		snprintf(err, errlen, "limit: must be 1..%d", MANAGE_PAGE_MAX);
		return -1;
	}
	return 0;
}

static int
bad_cursor(const char *list, const char *shape, char *err, size_t errlen)
{
	snprintf(err, errlen, "after: not a cursor a %s list gave (%s)", list, shape);
	return -1;
}

static int
store_failed(char *err, size_t errlen)
{
	snprintf(err, errlen, "store: %s", store_last_error());
	return -1;
}

static int
unpageable(const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "store: a %s has a key no cursor can hold", what);
	return -1;
}

/* -- tenants ------------------------------------------------------------------- */

int
manage_tenant_page(struct store *st, const char *only, const char *after, size_t limit,
    struct store_tenant **out, size_t *n, char next[MANAGE_CURSOR_MAX + 1], char *err,
    size_t errlen)
{
	struct store_tenant_page page = { only, NULL, limit + 1 };
	char buf[MANAGE_CURSOR_MAX + 1];
	const char *key;

	*out = NULL;
	*n = 0;
	if (page_check(limit, next, err, errlen) == -1)
		return -1;
	if (after != NULL) {
		if (manage_cursor_split(after, "tenants", buf, &key, 1) == -1 || key[0] == '\0')
			return bad_cursor("tenant", "tenants~<id>", err, errlen);
		page.after_id = key;
	}
	/* One row more than asked: whether another page follows. */
	if (store_tenant_list_page(st, &page, out, n) != STORE_OK)
		return store_failed(err, errlen);
	if (*n <= limit)
		return 0;
	store_tenant_clear(&(*out)[limit]);
	*n = limit;
	key = (*out)[limit - 1].id;
	if (manage_cursor_make(next, "tenants", &key, 1) == -1) {
		store_tenant_free(*out, *n);
		*out = NULL;
		*n = 0;
		return unpageable("tenant", err, errlen);
	}
	return 0;
}

/* -- clients ------------------------------------------------------------------- */

int
manage_client_page(struct store *st, const char *tenant, const char *after, size_t limit,
    struct store_client **out, size_t *n, char next[MANAGE_CURSOR_MAX + 1], char *err,
    size_t errlen)
{
	struct store_client_page page = { tenant, 0, NULL, limit + 1 };
	char buf[MANAGE_CURSOR_MAX + 1], at[24];
	const char *keys[2];
	const struct store_client *last;

	*out = NULL;
	*n = 0;
	if (page_check(limit, next, err, errlen) == -1)
		return -1;
	if (after != NULL) {
		if (manage_cursor_split(after, "clients", buf, keys, 2) == -1 ||
		    manage_cursor_time(keys[0], &page.after_created) == -1 || keys[1][0] == '\0')
			return bad_cursor("client", "clients~<created_at>~<id>", err, errlen);
		page.after_id = keys[1];
	}
	if (store_client_list_page(st, &page, out, n) != STORE_OK)
		return store_failed(err, errlen);
	if (*n <= limit)
		return 0;
	store_client_clear(&(*out)[limit]);
	*n = limit;
	last = &(*out)[limit - 1];
	snprintf(at, sizeof(at), "%" PRId64, last->created_at);
	keys[0] = at;
	keys[1] = last->id;
	if (last->created_at < 0 || manage_cursor_make(next, "clients", keys, 2) == -1) {
		store_client_free(*out, *n);
		*out = NULL;
		*n = 0;
		return unpageable("client", err, errlen);
	}
	return 0;
}

/* -- locks --------------------------------------------------------------------- */

/* The kind's name in a cursor, as views.c shows it. */
static const char *const lock_kind_names[STORE_LOCK_KIND__MAX] = { "pair", "address" };

int
manage_lock_page(struct store *st, int64_t now, const char *tenant, const char *after,
    size_t limit, struct store_lock **out, size_t *n, char next[MANAGE_CURSOR_MAX + 1],
    char *err, size_t errlen)
{
	struct store_lock_page page = { tenant, NULL, NULL, STORE_LOCK_PAIR, limit + 1 };
	char buf[MANAGE_CURSOR_MAX + 1];
	const char *keys[3];
	const struct store_lock *last;
	int kind = -1;

	*out = NULL;
	*n = 0;
	if (page_check(limit, next, err, errlen) == -1)
		return -1;
	if (after != NULL) {
		if (manage_cursor_split(after, "locks", buf, keys, 3) == -1 || keys[0][0] == '\0' ||
		    strlen(keys[0]) > STORE_LOCK_ADDRESS_MAX)
			return bad_cursor("lock", "locks~<address>~<client id>~<kind>", err, errlen);
		for (int k = 0; k < STORE_LOCK_KIND__MAX; k++)
			if (strcmp(keys[2], lock_kind_names[k]) == 0)
				kind = k;
		/* An address lock has no client; a pair lock has one. */
		if (kind == -1 || (kind == STORE_LOCK_ADDRESS) != (keys[1][0] == '\0'))
			return bad_cursor("lock", "locks~<address>~<client id>~<kind>", err, errlen);
		page.after_address = keys[0];
		page.after_client_id = keys[1];
		page.after_kind = (enum store_lock_kind)kind;
	}
	if (store_lock_list_page(st, now, &page, out, n) != STORE_OK)
		return store_failed(err, errlen);
	if (*n <= limit)
		return 0;
	/* store.h has no clear for one lock (store_lock_clear removes locks). */
	free((*out)[limit].address);
	free((*out)[limit].client_id);
	*n = limit;
	last = &(*out)[limit - 1];
	keys[0] = last->address;
	keys[1] = last->client_id;
	keys[2] = lock_kind_names[last->kind];
	if (manage_cursor_make(next, "locks", keys, 3) == -1) {
		store_lock_free(*out, *n);
		*out = NULL;
		*n = 0;
		return unpageable("lock", err, errlen);
	}
	return 0;
}
