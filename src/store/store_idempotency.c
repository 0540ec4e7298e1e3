/*
 * store_idempotency.c — store.h store_idem_* (issue 6): a record needs a
 * client, a key and a SHA-256 fingerprint; a backend without idempotency
 * records answers STORE_ERROR.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define IDEM_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"idempotency records are not supported by this store backend")

int
store_idem_begin(struct store *s, const struct store_idem *rec, int64_t now,
    int64_t stale_before, struct store_idem *existing)
{
	REQUIRE(s != NULL && rec != NULL && existing != NULL, "NULL argument");
	REQUIRE(rec->client_id != NULL && rec->client_id[0] != '\0' &&
	    rec->key != NULL && rec->key[0] != '\0', "an idempotency record needs a client and a key");
	REQUIRE(strlen(rec->fingerprint) == 64, "an idempotency record needs a SHA-256 fingerprint");
	IDEM_REQUIRE_OPS(s, idem_begin);
	memset(existing, 0, sizeof(*existing));
	return s->ops->idem_begin(s->h, rec, now, stale_before, existing);
}

int
store_idem_finish(struct store *s, const char *client_id, const char *key, int64_t created_at,
    int status, const char *body)
{
	REQUIRE(s != NULL && client_id != NULL && key != NULL, "NULL argument");
	IDEM_REQUIRE_OPS(s, idem_finish);
	return s->ops->idem_finish(s->h, client_id, key, created_at, status,
	    body != NULL ? body : "");
}

int
store_idem_release(struct store *s, const char *client_id, const char *key, int64_t created_at)
{
	REQUIRE(s != NULL && client_id != NULL && key != NULL, "NULL argument");
	IDEM_REQUIRE_OPS(s, idem_release);
	return s->ops->idem_release(s->h, client_id, key, created_at);
}

void
store_idem_clear(struct store_idem *r)
{
	if (r == NULL)
		return;
	free(r->client_id);
	free(r->key);
	free(r->body);
	memset(r, 0, sizeof(*r));
}
