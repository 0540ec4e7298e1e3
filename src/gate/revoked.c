/*
 * revoked.c — an immutable hash set of revoked token ids (see revoked.h).
 * Open addressing with linear probing at a load factor of at most 1/2; the
 * hash is FNV-1a, enough here because the ids are ours (random or
 * time-ordered hex), not chosen by a caller.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gate/revoked.h"
#include "store/store.h"

struct revoked_set {
	_Atomic long	 refs;
	size_t		 count;
	int		 complete;	/* every revoked id is here */
	size_t		 mask;		/* slots - 1; slots a power of two */
	char		**slot;		/* NULL: empty */
};

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static void
set_free(struct revoked_set *r)
{
	if (r->slot != NULL)
		for (size_t i = 0; i <= r->mask; i++)
			free(r->slot[i]);
	free(r->slot);
	free(r);
}

static int
set_add(struct revoked_set *r, char *id)
{
	size_t i = (size_t)fnv1a(id) & r->mask;

	while (r->slot[i] != NULL) {
		if (strcmp(r->slot[i], id) == 0) {
			free(id);
			return 0;
		}
		i = (i + 1) & r->mask;
	}
	r->slot[i] = id;
	r->count++;
	return 0;
}

int
revoked_set_load(struct store *st, int64_t now, size_t max, struct revoked_set **out)
{
	struct store_token *t = NULL;
	struct revoked_set *r;
	size_t n = 0, slots = 16;
	int rc, complete;

	*out = NULL;
	if (max < 1 || max > REVOKED_SET_MAX)
		max = REVOKED_SET_MAX;
	/* One more than is kept: whether there are more. */
	if ((rc = store_token_list_revoked(st, now, max + 1, &t, &n)) != STORE_OK)
		return rc;
	if ((complete = n <= max) == 0) {
		store_token_clear(&t[max]);
		n = max;
	}
	while (slots < 2 * n)
		slots *= 2;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->slot = calloc(slots, sizeof(*r->slot))) == NULL) {
		free(r);
		store_token_free(t, n);
		return STORE_ERROR;
	}
	atomic_init(&r->refs, 1);
	r->complete = complete;
	r->mask = slots - 1;
	for (size_t i = 0; i < n; i++) {
		/* Take the id over from the record: no copy. */
		set_add(r, t[i].id);
		t[i].id = NULL;
	}
	store_token_free(t, n);
	*out = r;
	return STORE_OK;
}

struct revoked_set *
revoked_set_ref(struct revoked_set *r)
{
	if (r != NULL)
		atomic_fetch_add(&r->refs, 1);
	return r;
}

void
revoked_set_unref(struct revoked_set *r)
{
	if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1)
		set_free(r);
}

int
revoked_set_has(const struct revoked_set *r, const char *id)
{
	size_t i;

	if (r == NULL || r->count == 0)
		return 0;
	for (i = (size_t)fnv1a(id) & r->mask; r->slot[i] != NULL; i = (i + 1) & r->mask)
		if (strcmp(r->slot[i], id) == 0)
			return 1;
	return 0;
}

int
revoked_set_complete(const struct revoked_set *r)
{
	return r == NULL || r->complete;
}

size_t
revoked_set_count(const struct revoked_set *r)
{
	return r == NULL ? 0 : r->count;
}
