/*
 * store_keys.c — store.h store_key_*: a signing key needs a kid, an alg,
 * its sealed private key (at most 16 MiB) and an env in range before the
 * backend stores it; and freeing what the list returns.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* The checks a key to be added must pass (REQUIRE returns from here). */
static int
key_check(const struct store_key *k)
{
	REQUIRE(k->kid != NULL && k->kid[0] != '\0' && k->alg != NULL, "a key needs a kid and an alg");
	REQUIRE(k->sealed != NULL && k->sealed_len > 0 && k->sealed_len <= 1u << 24,
	    "a key needs its sealed private key (at most 16 MiB)");
	REQUIRE((unsigned)k->env < STORE_ENV__MAX, "env out of range");
	return STORE_OK;
}

int
store_key_add(struct store *s, const struct store_key *k)
{
	int rc;

	REQUIRE(s != NULL && k != NULL, "NULL argument");
	if ((rc = key_check(k)) != STORE_OK)
		return rc;
	return s->ops->key_add(s->h, k);
}

int
store_kid_same(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

int
store_key_rotate(struct store *s, const struct store_key *add, int64_t now,
    int64_t old_remove_at, const char *replaces)
{
	struct store_key_rotation r = { add, old_remove_at, replaces };

	return store_key_rotate_envs(s, &r, 1, now);
}

int
store_key_rotate_envs(struct store *s, const struct store_key_rotation *r, size_t n,
    int64_t now)
{
	unsigned envs = 0;
	int rc;

	REQUIRE(s != NULL && r != NULL, "NULL argument");
	REQUIRE(n >= 1 && n <= STORE_ENV__MAX, "one rotation per env, at least one");
	for (size_t i = 0; i < n; i++) {
		REQUIRE(r[i].add != NULL, "NULL argument");
		if ((rc = key_check(r[i].add)) != STORE_OK)
			return rc;
		REQUIRE(!(envs & (1u << r[i].add->env)), "one rotation per env");
		envs |= 1u << r[i].add->env;
	}
	return s->ops->key_rotate(s->h, r, n, now);
}

int
store_key_revoke(struct store *s, const char *kid, int64_t now)
{
	REQUIRE(s != NULL && kid != NULL && kid[0] != '\0', "a kid is required");
	return s->ops->key_revoke(s->h, kid, now);
}

int
store_key_list(struct store *s, struct store_key **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->key_list(s->h, out, n);
}

void
store_key_clear(struct store_key *k)
{
	if (k == NULL)
		return;
	free(k->kid);
	free(k->alg);
	free(k->sealed);
	memset(k, 0, sizeof(*k));
}

void
store_key_free(struct store_key *k, size_t n)
{
	for (size_t i = 0; k != NULL && i < n; i++)
		store_key_clear(&k[i]);
	free(k);
}
