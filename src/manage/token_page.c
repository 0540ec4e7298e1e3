/*
 * token_page.c — manage.h manage_token_page and its cursor: a client's
 * token records one bounded page at a time, for the admin API and the CLI
 * alike, so that both take and give the same cursors.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manage/manage.h"
#include "util/util.h"

/* A record id as gatehouse makes them (oauth/issue.c): a jti is 16 random
 * bytes in lower-case hex (32 digits), an opaque token's record id 64
 * (security/opaque_token.h). Nothing else is a token id. */
static int
token_id_ok(const char *s, size_t len)
{
	if (len != 32 && len != MANAGE_TOKEN_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int
manage_token_cursor_parse(const char *s, int64_t *issued, char id[MANAGE_TOKEN_ID_MAX + 1])
{
	const char *dot, *why;
	size_t dlen;

	if (s == NULL || (dot = memchr(s, '.', strnlen(s, MANAGE_TOKEN_CURSOR_MAX + 1))) == NULL)
		return -1;
	dlen = (size_t)(dot - s);
	/* Digits only, as manage_token_cursor writes them: no sign, no
	 * leading zero (one text per place, not "007." and "7."). */
	if (dlen == 0 || dlen > 19 || s[0] < '0' || s[0] > '9' || (s[0] == '0' && dlen > 1) ||
	    num_parse_i64(s, dlen, 0, INT64_MAX, issued, &why) == -1)
		return -1;
	if (!token_id_ok(dot + 1, strnlen(dot + 1, MANAGE_TOKEN_ID_MAX + 1)))
		return -1;
	memcpy(id, dot + 1, strlen(dot + 1) + 1);
	return 0;
}

int
manage_token_cursor(const struct store_token *t, char out[MANAGE_TOKEN_CURSOR_MAX + 1])
{
	if (t->issued_at < 0 || !token_id_ok(t->id, strlen(t->id)))
		return -1;
	snprintf(out, MANAGE_TOKEN_CURSOR_MAX + 1, "%" PRId64 ".%s", t->issued_at, t->id);
	return 0;
}

int
manage_token_page(struct store *st, const char *client_id, const char *after, size_t limit,
    struct store_token **out, size_t *n, char next[MANAGE_TOKEN_CURSOR_MAX + 1],
    char *err, size_t errlen)
{
	struct store_token_page page = { 0, NULL, limit + 1 };
	char after_id[MANAGE_TOKEN_ID_MAX + 1];

	*out = NULL;
	*n = 0;
	next[0] = '\0';
	if (limit < 1 || limit > MANAGE_TOKEN_PAGE_MAX) {
		snprintf(err, errlen, "limit: must be 1..%d", MANAGE_TOKEN_PAGE_MAX);
		return -1;
	}
	if (after != NULL) {
		if (manage_token_cursor_parse(after, &page.after_issued, after_id) == -1) {
			snprintf(err, errlen, "after: not a cursor a token list gave "
			    "(<issued_at>.<token id>)");
			return -1;
		}
		page.after_id = after_id;
	}
	/* One record more than asked: whether another page follows. */
	if (store_token_list(st, client_id, &page, out, n) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	if (*n <= limit)
		return 0;
	store_token_clear(&(*out)[limit]);
	*n = limit;
	if (manage_token_cursor(&(*out)[limit - 1], next) == -1) {
		store_token_free(*out, *n);
		*out = NULL;
		*n = 0;
		snprintf(err, errlen, "store: a token record of this client has an id no cursor "
		    "can hold");
		return -1;
	}
	return 0;
}
