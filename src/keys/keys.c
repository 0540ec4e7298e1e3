/* keys.c — see keys.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "keys/keys.h"
#include "security/masterkey.h"
#include "util/util.h"

int
keys_revoked(const struct store_key *k)
{
	return k->remove_at != 0 && k->remove_at == k->retire_at;
}

int
keys_load(struct store *st, const uint8_t seal_key[32], int64_t now,
    struct keyring **out, char *err, size_t errlen)
{
	struct store_key *rows = NULL;
	size_t n = 0;
	struct keyring *kr = NULL;
	int rc = -1;

	if (store_key_list(st, &rows, &n) != STORE_OK) {
		snprintf(err, errlen, "cannot list signing keys: %s", store_last_error());
		return -1;
	}
	if ((kr = keyring_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_key *k = &rows[i];
		struct keyring_dates d = { k->publish_at, k->activate_at, k->retire_at, k->remove_at };
		struct jose_key *jk = NULL;
		enum jose_alg alg;
		uint8_t *der = NULL;
		size_t derlen = 0;
		const char *why = NULL;

		if ((k->remove_at != 0 && k->remove_at <= now) || keys_revoked(k))
			continue;
		if (jose_alg_from_name(k->alg, &alg) == -1) {
			snprintf(err, errlen, "key %s has unknown algorithm %s", k->kid, k->alg);
			goto out;
		}
		if (unseal(seal_key, k->sealed, k->sealed_len, k->kid, &der, &derlen) == -1) {
			snprintf(err, errlen, "key %s does not unseal: wrong master key, or the row was altered", k->kid);
			goto out;
		}
		rc = jose_key_from_private_der(alg, k->kid, der, derlen, &jk, &why);
		OPENSSL_cleanse(der, derlen);
		free(der);
		if (rc == -1) {
			snprintf(err, errlen, "key %s: %s", k->kid, why ? why : "unreadable");
			goto out;
		}
		rc = -1;
		if (keyring_add(kr, jk, (int)k->env, &d) == -1) {
			snprintf(err, errlen, "key %s: cannot add to keyring", k->kid);
			goto out;
		}
	}
	*out = kr;
	kr = NULL;
	rc = 0;
out:
	keyring_unref(kr);
	store_key_free(rows, n);
	return rc;
}

/*
 * A new key of alg for env with dates: its kid into kid, and its row
 * (private key sealed under seal_key, into *sealed, which the caller frees)
 * into *row, ready for the store.
 */
static int
key_make(const uint8_t seal_key[32], enum store_env env, enum jose_alg alg,
    const struct keyring_dates *dates, char kid[KEYS_KID_LEN + 1], struct store_key *row,
    uint8_t **sealed, char *err, size_t errlen)
{
	struct jose_key *jk = NULL;
	uint8_t rnd[8], *der = NULL;
	size_t derlen = 0, sealed_len = 0;
	char hex[17];
	const char *why = NULL;
	int rc = -1;

	*sealed = NULL;
	/* kid: environment, date and 64 random bits; unique and telling. */
	if (rand_bytes(rnd, sizeof(rnd)) == -1) {
		snprintf(err, errlen, "no randomness");
		return -1;
	}
	hex_encode(rnd, sizeof(rnd), hex);
	snprintf(kid, KEYS_KID_LEN + 1, "%s-%s", env == STORE_ENV_SANDBOX ? "sbx" : "prd", hex);

	if (jose_key_generate(alg, kid, &jk, &why) == -1 ||
	    jose_key_private_der(jk, &der, &derlen, &why) == -1) {
		snprintf(err, errlen, "cannot make a %s key: %s", jose_alg_names[alg], why ? why : "?");
		goto out;
	}
	if (seal(seal_key, der, derlen, kid, sealed, &sealed_len) == -1) {
		snprintf(err, errlen, "cannot seal the new key");
		goto out;
	}
	memset(row, 0, sizeof(*row));
	row->kid = kid;
	row->alg = (char *)jose_alg_names[alg];
	row->env = env;
	row->sealed = *sealed;
	row->sealed_len = sealed_len;
	row->created_at = clock_now();
	row->publish_at = dates->publish_at;
	row->activate_at = dates->activate_at;
	row->retire_at = dates->retire_at;
	row->remove_at = dates->remove_at;
	rc = 0;
out:
	if (der != NULL) {
		OPENSSL_cleanse(der, derlen);
		free(der);
	}
	jose_key_free(jk);
	return rc;
}

int
keys_create(struct store *st, const uint8_t seal_key[32], enum store_env env,
    enum jose_alg alg, const struct keyring_dates *dates,
    char kid[KEYS_KID_LEN + 1], const struct keys_audit *au, char *err, size_t errlen)
{
	struct store_key row;
	uint8_t *sealed = NULL;
	int rc = -1, src;

	if (key_make(seal_key, env, alg, dates, kid, &row, &sealed, err, errlen) == -1)
		goto out;
	/* The row naming the kid, staged for the insert's own transaction. */
	if (au != NULL)
		au->stage(au->arg, env, kid);
	/* "store: " marks a failure of the store, not of the request (the
	 * admin API answers it 503, admin_manage_error). Said before done,
	 * which may write to the store. */
	if ((src = store_key_add(st, &row)) != STORE_OK)
		snprintf(err, errlen, "store: cannot store the new key: %s", store_last_error());
	if (au != NULL)
		au->done(au->arg, env, kid, src == STORE_OK);
	if (src != STORE_OK)
		goto out;
	rc = 0;
out:
	free(sealed);
	return rc;
}

int
keys_create_successors(struct store *st, const uint8_t seal_key[32], struct keys_successor *s,
    size_t n, int64_t now, const struct keys_audit *au, char *err, size_t errlen)
{
	struct store_key rows[STORE_ENV__MAX];
	struct store_key_rotation r[STORE_ENV__MAX];
	uint8_t *sealed[STORE_ENV__MAX] = { NULL };
	size_t made = 0;
	int rc = -1, src;

	if (n == 0 || n > STORE_ENV__MAX || (au != NULL && n != 1)) {
		snprintf(err, errlen, "one rotation per environment");
		return -1;
	}
	for (made = 0; made < n; made++) {
		if (key_make(seal_key, s[made].env, s[made].alg, &s[made].dates, s[made].kid,
		    &rows[made], &sealed[made], err, errlen) == -1)
			goto out;
		r[made].add = &rows[made];
		r[made].old_remove_at = s[made].old_remove_at;
		r[made].replaces = s[made].replaces;
	}
	/* The row naming the kid, staged for the rotation's transaction. */
	if (au != NULL)
		au->stage(au->arg, s[0].env, s[0].kid);
	/* The store's refusal names the env; said before done, which may
	 * write to the store. */
	if ((src = store_key_rotate_envs(st, r, n, now)) == STORE_CONFLICT &&
	    strstr(store_last_error(), "came first") != NULL)
		snprintf(err, errlen, "%s", store_last_error());
	else if (src == STORE_CONFLICT)
		snprintf(err, errlen, "%s; wait until it signs", store_last_error());
	else if (src == STORE_SUPERSEDED)
		snprintf(err, errlen, "%s", store_last_error());
	else if (src != STORE_OK)
		snprintf(err, errlen, "store: cannot store the new key: %s", store_last_error());
	if (au != NULL)
		au->done(au->arg, s[0].env, s[0].kid, src == STORE_OK);
	if (src != STORE_OK)
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < n; i++)
		free(sealed[i]);
	return rc;
}

int
keys_ensure(struct store *st, const uint8_t seal_key[32], enum jose_alg alg,
    int64_t now, int *created, char made[STORE_ENV__MAX][KEYS_KID_LEN + 1],
    const struct keys_audit *au, char *err, size_t errlen)
{
	struct keyring *kr = NULL;

	*created = 0;
	for (int env = 0; env < STORE_ENV__MAX; env++)
		made[env][0] = '\0';
	if (keys_load(st, seal_key, now, &kr, err, errlen) == -1)
		return -1;
	for (int env = 0; env < STORE_ENV__MAX; env++) {
		struct keyring_dates d = { now, now, 0, 0 };
		if (keyring_signing_key(kr, env, now, NULL) != NULL)
			continue;
		if (keys_create(st, seal_key, (enum store_env)env, alg, &d, made[env], au, err,
		    errlen) == -1) {
			keyring_unref(kr);
			return -1;
		}
		(*created)++;
	}
	keyring_unref(kr);
	return 0;
}
