/* keyring.c — see keyring.h. Built by one thread, then read-only: lookups
 * take no lock; only the reference count is atomic. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "jose/keyring.h"

struct keyring_entry {
	struct jose_key		*key;
	int			 env;
	struct keyring_dates	 d;
};

struct keyring {
	atomic_uint		 refs;
	size_t			 n, cap;
	struct keyring_entry	*e;
};

struct keyring *
keyring_new(void)
{
	struct keyring *kr;

	if ((kr = calloc(1, sizeof(*kr))) == NULL)
		return NULL;
	atomic_init(&kr->refs, 1);
	return kr;
}

struct keyring *
keyring_ref(struct keyring *kr)
{
	if (kr != NULL)
		atomic_fetch_add_explicit(&kr->refs, 1, memory_order_relaxed);
	return kr;
}

void
keyring_unref(struct keyring *kr)
{
	if (kr == NULL)
		return;
	/* acq_rel: the last owner sees every other owner's reads finished. */
	if (atomic_fetch_sub_explicit(&kr->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < kr->n; i++)
		jose_key_free(kr->e[i].key);
	free(kr->e);
	free(kr);
}

int
keyring_add(struct keyring *kr, struct jose_key *key, int env,
    const struct keyring_dates *dates)
{
	struct keyring_entry *ne;

	if (kr == NULL || key == NULL || dates == NULL)
		goto fail;
	/* Two keys with one kid would make verification ambiguous. */
	for (size_t i = 0; i < kr->n; i++)
		if (strcmp(jose_key_kid(kr->e[i].key), jose_key_kid(key)) == 0)
			goto fail;
	if (kr->n == kr->cap) {
		size_t cap = kr->cap ? kr->cap * 2 : 8;
		if ((ne = realloc(kr->e, cap * sizeof(*ne))) == NULL)
			goto fail;
		kr->e = ne;
		kr->cap = cap;
	}
	kr->e[kr->n].key = key;
	kr->e[kr->n].env = env;
	kr->e[kr->n].d = *dates;
	kr->n++;
	return 0;
fail:
	jose_key_free(key);
	return -1;
}

static int
published(const struct keyring_dates *d, int64_t now)
{
	return d->publish_at <= now && (d->remove_at == 0 || now < d->remove_at);
}

const struct jose_key *
keyring_signing_key(const struct keyring *kr, int env, int64_t now, int64_t *remove_at)
{
	const struct keyring_entry *best = NULL;

	if (kr == NULL)
		return NULL;
	for (size_t i = 0; i < kr->n; i++) {
		const struct keyring_entry *e = &kr->e[i];
		if (e->env != env || !jose_key_can_sign(e->key) ||
		    e->d.activate_at > now ||
		    (e->d.retire_at != 0 && now >= e->d.retire_at))
			continue;
		/* >=: on a tie the key added last wins. */
		if (best == NULL || e->d.activate_at >= best->d.activate_at)
			best = e;
	}
	if (remove_at != NULL)
		*remove_at = best != NULL ? best->d.remove_at : 0;
	return best != NULL ? best->key : NULL;
}

const struct jose_key *
keyring_find(const struct keyring *kr, const char *kid, int64_t now, int *env)
{
	if (kr == NULL || kid == NULL)
		return NULL;
	for (size_t i = 0; i < kr->n; i++) {
		const struct keyring_entry *e = &kr->e[i];
		if (strcmp(jose_key_kid(e->key), kid) != 0)
			continue;
		if (!published(&e->d, now))
			return NULL;
		if (env != NULL)
			*env = e->env;
		return e->key;
	}
	return NULL;
}

json_t *
keyring_jwks(const struct keyring *kr, int64_t now,
    const char *const *env_names)
{
	json_t *keys, *jwk;

	if ((keys = json_array()) == NULL)
		return NULL;
	for (size_t i = 0; kr != NULL && i < kr->n; i++) {
		const struct keyring_entry *e = &kr->e[i];
		if (!published(&e->d, now))
			continue;
		if ((jwk = jose_key_public_jwk(e->key)) == NULL)
			goto fail;
		if (env_names != NULL && e->env >= 0 &&
		    json_object_set_new(jwk, "env", json_string(env_names[e->env])) == -1) {
			json_decref(jwk);
			goto fail;
		}
		if (json_array_append_new(keys, jwk) == -1)
			goto fail;
	}
	return json_pack("{s:o}", "keys", keys);
fail:
	json_decref(keys);
	return NULL;
}

size_t
keyring_size(const struct keyring *kr)
{
	return kr != NULL ? kr->n : 0;
}
