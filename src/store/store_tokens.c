/*
 * store_tokens.c — store.h store_token_* and the group commit's entry
 * points. Reads, revocations and the retention prune go to the backend;
 * a record goes to the writer's queue (writer.h), which commits it with
 * the rest of its batch, and the pacing hints, the commit reports and
 * store_flush go to the writer too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/writer.h"

/* -- tokens -------------------------------------------------------------------- */

int
store_token_get(struct store *s, const char *id, struct store_token *out)
{
	REQUIRE(s != NULL && id != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	return s->ops->token_get(s->h, id, out);
}

int
store_token_list(struct store *s, const char *client_id, const struct store_token_page *page,
    struct store_token **out, size_t *n)
{
	REQUIRE(s != NULL && client_id != NULL && page != NULL && out != NULL && n != NULL,
	    "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(page->limit >= 1 && page->limit <= STORE_TOKEN_PAGE_MAX,
	    "a token page limit must be 1..100001");
	/* The start is a cursor before every record (ids are never empty):
	 * the backends then have one statement, whichever page it is. */
	if (page->after_id == NULL)
		return s->ops->token_list(s->h, client_id, INT64_MIN, "", page->limit, out, n);
	return s->ops->token_list(s->h, client_id, page->after_issued, page->after_id,
	    page->limit, out, n);
}

int
store_token_list_revoked(struct store *s, int64_t now, size_t limit, struct store_token **out,
    size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(limit >= 1 && limit <= INT64_MAX, "a limit must be at least 1");
	return s->ops->token_list_revoked(s->h, now, limit, out, n);
}

int
store_token_list_revoked_since(struct store *s, uint64_t since, int64_t now, size_t limit,
    struct store_token **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(limit >= 1 && limit <= INT64_MAX, "a limit must be at least 1");
	REQUIRE(since <= INT64_MAX, "a generation past INT64_MAX");
	return s->ops->token_list_revoked_since(s->h, since, now, limit, out, n);
}

int
store_token_revoke(struct store *s, const char *id, int64_t at)
{
	REQUIRE(s != NULL && id != NULL, "NULL argument");
	return s->ops->token_revoke(s->h, id, at);
}

int
store_token_revoke_by_name(struct store *s, const char *client_id, const char *name,
    int64_t at, int *count)
{
	int dummy;

	if (count == NULL)
		count = &dummy;
	*count = 0;
	REQUIRE(s != NULL && name != NULL, "NULL argument");
	return s->ops->token_revoke_by_name(s->h, client_id, name, at, count);
}

int
store_token_prune(struct store *s, int64_t expired_before, int64_t limit, int64_t *pruned)
{
	int64_t dummy;

	if (pruned == NULL)
		pruned = &dummy;
	*pruned = 0;
	REQUIRE(s != NULL, "NULL argument");
	REQUIRE(limit >= 1 && limit <= 100000, "a token prune limit must be 1..100000");
	REQUIRE(s->ops->token_prune != NULL, "this store backend cannot prune token records");
	return s->ops->token_prune(s->h, expired_before, limit, pruned);
}

int
store_token_latest_expiry(struct store *s, enum store_env env, int64_t now, int64_t *latest)
{
	REQUIRE(s != NULL && latest != NULL, "NULL argument");
	*latest = 0;
	return s->ops->token_latest_expiry(s->h, (int)env, now, latest);
}

void
store_token_clear(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->client_id);
	free(t->tenant_id);
	free(t->name);
	free(t->scope);
	free(t->aud);
	memset(t, 0, sizeof(*t));
}

void
store_token_free(struct store_token *t, size_t n)
{
	for (size_t i = 0; t != NULL && i < n; i++)
		store_token_clear(&t[i]);
	free(t);
}

/* -- the group commit (writer.h) ---------------------------------------------- */

int
store_token_record(struct store *s, const struct store_token *t, store_done_fn done, void *arg)
{
	REQUIRE(s != NULL && t != NULL, "NULL argument");
	REQUIRE(t->id != NULL && t->id[0] != '\0' && t->client_id != NULL && t->tenant_id != NULL,
	    "a token record needs an id, a client and a tenant");
	REQUIRE((unsigned)t->env < STORE_ENV__MAX && (unsigned)t->format < STORE_FORMAT__MAX,
	    "env or format out of range");
	return writer_enqueue(s->writer, t, done, arg);
}

void
store_expect_records(struct store *s, int delta)
{
	if (s != NULL && s->writer != NULL)
		writer_expect(s->writer, delta);
}

void
store_on_commit(struct store *s, store_commit_fn fn, void *arg)
{
	if (s != NULL && s->writer != NULL)
		writer_on_commit(s->writer, fn, arg);
}

int
store_flush(struct store *s)
{
	REQUIRE(s != NULL, "NULL argument");
	return writer_flush(s->writer);
}
