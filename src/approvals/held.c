/* held.c — see held.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "approvals/held.h"

int
approvals_held_has(const struct approvals_held *h, const char *id)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->id[i], id) == 0)
			return 1;
	return 0;
}

/* A store failure as the status approvals.h gives it, with the store's
 * sentence. */
static int
store_status(int rc, char *err, size_t errlen)
{
	snprintf(err, errlen, "store: %s", store_last_error());
	return rc == STORE_UNAVAILABLE ? 503 : 500;
}

/* When secret s stopped working: its expiry or its revocation, whichever
 * came first; 0 when neither. */
static int64_t
secret_end(const struct store_secret *s)
{
	int64_t end = s->expires_at;

	if (s->revoked_at != 0 && (end == 0 || s->revoked_at < end))
		end = s->revoked_at;
	return end;
}

/* Whether secret s of a client whose tokens from before valid_after are
 * void still counts at now (held.h): live, or ended so lately that a token
 * it issued may still be valid. */
static int
secret_counts(const struct store_secret *s, int64_t valid_after, int64_t now)
{
	int64_t end = secret_end(s);

	if (end == 0 || end > now)
		return 1;
	/* Tokens are issued before their secret ends: all of them are void
	 * once tokens_valid_after is past the end. */
	return end > valid_after && now - end < APPROVALS_TOKEN_LIFE_MAX;
}

/* Whether secret s could act as its client at t, when another secret was
 * made: live then, or ended so shortly before that a token it issued may
 * have been valid then. valid_after is the client's tokens_valid_after
 * now; it only moves forward, so one at or before t was the same at t. */
static int
secret_counted_at(const struct store_secret *s, int64_t valid_after, int64_t t)
{
	int64_t end = secret_end(s);

	if (end == 0 || end > t)
		return 1;
	if (valid_after <= t && valid_after > end)
		return 0;
	return t - end < APPROVALS_TOKEN_LIFE_MAX;
}

static int expand(struct store *, const char *id, int depth, int64_t now,
    struct approvals_held *, char *err, size_t errlen);

/* 1 when s was made by its client for itself through the admin API (its
 * own rotation): its holder is its own id. */
static int
self_made(const struct store_secret *s, const char *client_id)
{
	return strcmp(s->holder, client_id) == 0;
}

/*
 * Secret i, made by its client for itself, was shown to whoever acted as
 * the client then: through any of its secrets made before (lower id) that
 * could act at that time. Their holders hold i, whatever became of their
 * own secrets since, and so, in turn, do the holders behind an earlier
 * self-made one. Else a maker holding a client's secret could rotate it
 * as the client, void the tokens of the secret it was shown, and decide
 * its own requests through that client. seen marks the self-made secrets
 * followed already: each once, however many later ones lead to it.
 */
static int
expand_self_made(struct store *st, const struct store_client *c, const struct store_secret *ss,
    size_t n, size_t i, char *seen, int depth, int64_t now, struct approvals_held *h, char *err,
    size_t errlen)
{
	int rc = 0;

	if (seen[i])
		return 0;
	seen[i] = 1;
	for (size_t k = 0; k < n && rc == 0; k++) {
		if (ss[k].id >= ss[i].id || ss[k].holder[0] == '\0' ||
		    !secret_counted_at(&ss[k], c->tokens_valid_after, ss[i].created_at))
			continue;
		if (self_made(&ss[k], c->id))
			rc = expand_self_made(st, c, ss, n, k, seen, depth, now, h, err, errlen);
		else
			rc = expand(st, ss[k].holder, depth + 1, now, h, err, errlen);
	}
	return rc;
}

/* The holders of id's secrets that count, each expanded in turn. */
static int
expand_holders(struct store *st, const struct store_client *c, int depth, int64_t now,
    struct approvals_held *h, char *err, size_t errlen)
{
	struct store_secret *ss = NULL;
	size_t n = 0;
	char *seen;
	int rc;

	if ((rc = store_secret_list(st, c->id, &ss, &n)) != STORE_OK)
		return store_status(rc, err, errlen);
	if ((seen = calloc(n + 1, 1)) == NULL) {
		store_secret_free(ss, n);
		snprintf(err, errlen, "out of memory");
		return 500;
	}
	rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (ss[i].holder[0] == '\0' || !secret_counts(&ss[i], c->tokens_valid_after, now))
			continue;
		if (self_made(&ss[i], c->id))
			rc = expand_self_made(st, c, ss, n, i, seen, depth, now, h, err, errlen);
		else
			rc = expand(st, ss[i].holder, depth + 1, now, h, err, errlen);
	}
	free(seen);
	store_secret_free(ss, n);
	return rc;
}

/* Adds id and, unless it was there already (a cycle, or a holder of two
 * secrets), whoever holds its secrets. depth: id's distance from the
 * client asked about. */
static int
expand(struct store *st, const char *id, int depth, int64_t now, struct approvals_held *h,
    char *err, size_t errlen)
{
	struct store_client c;
	int rc;

	if (approvals_held_has(h, id))
		return 0;
	if (depth > APPROVALS_HELD_DEPTH || h->n == APPROVALS_HELD_MAX) {
		snprintf(err, errlen, "who may act as these clients cannot be told: their "
		    "credentials were issued through more than %d clients in turn (or %d in all); "
		    "rotate their secrets with the CLI", APPROVALS_HELD_DEPTH, APPROVALS_HELD_MAX);
		return 403;
	}
	snprintf(h->id[h->n++], sizeof(h->id[0]), "%s", id);
	/* A deleted client: its id stands for whoever held it (held.h). */
	if ((rc = store_client_get(st, id, &c)) == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return store_status(rc, err, errlen);
	rc = expand_holders(st, &c, depth, now, h, err, errlen);
	store_client_clear(&c);
	return rc;
}

int
approvals_held_by(struct store *st, const char *client_id, int64_t now,
    struct approvals_held *out, char *err, size_t errlen)
{
	out->n = 0;
	return expand(st, client_id, 0, now, out, err, errlen);
}

const char *
approvals_held_common(const struct approvals_held *a, const struct approvals_held *b)
{
	for (size_t i = 0; i < a->n; i++)
		if (approvals_held_has(b, a->id[i]))
			return a->id[i];
	return NULL;
}
