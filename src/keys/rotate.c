/* rotate.c — signing-key rotation and revocation; see keys.h. */
#include <stdio.h>
#include <string.h>

#include "keys/keys.h"
#include "util/util.h"

int64_t
keys_max_lifetime(struct store *st, enum store_env env, int64_t floor)
{
	struct store_client *cs = NULL;
	size_t n = 0;
	int64_t m = floor;

	if (store_client_list(st, NULL, &cs, &n) != STORE_OK)
		return 366 * 86400;	/* unknown: keep the key long */
	for (size_t i = 0; i < n; i++)
		if (cs[i].env == env && cs[i].max_ttl > m)
			m = cs[i].max_ttl;
	store_client_free(cs, n);
	return m;
}

/* The key that signs env at now, and whether one is already scheduled. */
static int
find_current(const struct store_key *ks, size_t n, enum store_env env,
    int64_t now, int *pending)
{
	int best = -1;

	*pending = 0;
	for (size_t i = 0; i < n; i++) {
		const struct store_key *k = &ks[i];
		if (k->env != env || (k->remove_at != 0 && k->remove_at <= now))
			continue;
		if (k->retire_at != 0 && k->retire_at <= now)
			continue;
		if (k->activate_at > now) {
			*pending = 1;
			continue;
		}
		/* >=: on a tie the key made last (ks is in store_key_list's
		 * order, made first to last) signs, as the keyring and the
		 * store's own choice have it. */
		if (best == -1 || k->activate_at >= ks[best].activate_at)
			best = (int)i;
	}
	return best;
}

/*
 * When env's retiring keys are unpublished: KEYS_REMOVE_MARGIN after the
 * later of last_token_end (the longest lifetime a client may now ask,
 * from when the new key signs) and the end of the latest token already
 * issued. The clients' lifetimes alone miss a token issued before a
 * client's max_ttl was lowered: its key went while it was still valid.
 * -1 with a reason when the store cannot say.
 */
static int64_t
old_key_end(struct store *st, enum store_env env, int64_t now, int64_t last_token_end,
    char *err, size_t errlen)
{
	int64_t latest = 0;

	if (store_token_latest_expiry(st, env, now, &latest) != STORE_OK) {
		snprintf(err, errlen, "store: cannot read when the last %s token expires: %s",
		    store_env_names[env], store_last_error());
		return -1;
	}
	return (latest > last_token_end ? latest : last_token_end) + KEYS_REMOVE_MARGIN;
}

/* s->env's successor planned from its keys ks (store_key_list's): its alg
 * (alg_name; NULL: the current key's), dates, the key it replaces (a kid
 * in ks) and when that one goes. -1, with the reason in err, when a key of
 * the env is already scheduled to take over. */
static int
plan(struct store *st, const struct store_key *ks, size_t n, const char *alg_name,
    int64_t now, int64_t lead, int64_t max_lifetime, struct keys_successor *s, char *err,
    size_t errlen)
{
	int cur, pending;

	cur = find_current(ks, n, s->env, now, &pending);
	if (pending) {
		snprintf(err, errlen, "a %s key is already scheduled to take over; wait until it signs",
		    store_env_names[s->env]);
		return -1;
	}
	if (alg_name == NULL)
		alg_name = cur >= 0 ? ks[cur].alg : "RS256";
	if (jose_alg_from_name(alg_name, &s->alg) == -1) {
		snprintf(err, errlen, "alg: \"%.20s\" is not RS256, PS256, ES256 or EdDSA", alg_name);
		return -1;
	}
	s->dates.publish_at = now;
	s->dates.activate_at = now + lead;
	s->dates.retire_at = 0;
	s->dates.remove_at = 0;
	s->replaces = cur >= 0 ? ks[cur].kid : NULL;
	/* The old key signs until the new one does, then stays published
	 * while its last token can still be presented. */
	if ((s->old_remove_at = old_key_end(st, s->env, now, s->dates.activate_at + max_lifetime,
	    err, errlen)) == -1)
		return -1;
	return 0;
}

/* keys_rotate of each env of s[0..n), max_lifetime[i] the longest a token
 * of s[i].env may live: planned, then made in one store transaction. */
static int
rotate(struct store *st, const uint8_t seal_key[32], struct keys_successor *s, size_t n,
    const char *alg_name, int64_t now, int64_t lead, const int64_t *max_lifetime,
    const struct keys_audit *au, char *err, size_t errlen)
{
	struct store_key *ks = NULL;
	size_t nk = 0;
	int rc = -1;

	if (store_key_list(st, &ks, &nk) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	/* The checks of plan spare making a key in vain; the store's, in
	 * the same transaction as the inserts, are the ones that hold when
	 * rotations run at once. */
	for (size_t i = 0; i < n; i++)
		if (plan(st, ks, nk, alg_name, now, lead, max_lifetime[i], &s[i], err, errlen) == -1)
			goto out;
	if (keys_create_successors(st, seal_key, s, n, now, au, err, errlen) == -1)
		goto out;
	rc = 0;
out:
	store_key_free(ks, nk);
	return rc;
}

int
keys_rotate(struct store *st, const uint8_t seal_key[32], enum store_env env,
    const char *alg_name, int64_t now, int64_t lead, int64_t max_lifetime,
    char kid[KEYS_KID_LEN + 1], const struct keys_audit *au, char *err, size_t errlen)
{
	struct keys_successor s;

	memset(&s, 0, sizeof(s));
	s.env = env;
	if (rotate(st, seal_key, &s, 1, alg_name, now, lead, &max_lifetime, au, err, errlen) == -1)
		return -1;
	memcpy(kid, s.kid, sizeof(s.kid));
	return 0;
}

int
keys_rotate_envs(struct store *st, const uint8_t seal_key[32], struct keys_successor *s,
    size_t n, const char *alg_name, int64_t now, int64_t lead, char *err, size_t errlen)
{
	int64_t max_lifetime[STORE_ENV__MAX];

	if (n == 0 || n > STORE_ENV__MAX) {
		snprintf(err, errlen, "one rotation per environment");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		max_lifetime[i] = keys_max_lifetime(st, s[i].env, 86400);
	return rotate(st, seal_key, s, n, alg_name, now, lead, max_lifetime, NULL, err, errlen);
}

/* Into took_over, the kid of the key signing for env at now, as the store
 * has it after a revocation ("" when it cannot be read: the revocation
 * stands all the same). */
static void
signing_now(struct store *st, enum store_env env, int64_t now,
    char took_over[KEYS_KID_LEN + 1])
{
	struct store_key *ks = NULL;
	size_t n = 0;
	int pending, cur;

	took_over[0] = '\0';
	if (store_key_list(st, &ks, &n) != STORE_OK)
		return;
	if ((cur = find_current(ks, n, env, now, &pending)) >= 0)
		snprintf(took_over, KEYS_KID_LEN + 1, "%s", ks[cur].kid);
	store_key_free(ks, n);
}

int
keys_revoke(struct store *st, const char *kid, int64_t now,
    char took_over[KEYS_KID_LEN + 1], char *err, size_t errlen)
{
	struct store_key *ks = NULL;
	size_t n = 0;
	int rc = -1, found = 0, src, alone = 0;
	enum store_env env = STORE_ENV_SANDBOX;

	took_over[0] = '\0';
	if (store_key_list(st, &ks, &n) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ks[i].kid, kid) != 0)
			continue;
		found = 1;
		env = ks[i].env;
		if (ks[i].remove_at != 0 && ks[i].remove_at <= now) {
			snprintf(err, errlen, "key %.64s is already removed", kid);
			goto out;
		}
		{
			int pending, cur = find_current(ks, n, ks[i].env, now, &pending);
			int others = 0;
			for (size_t k = 0; k < n; k++)
				if (k != i && ks[k].env == ks[i].env && ks[k].activate_at <= now &&
				    (ks[k].retire_at == 0 || ks[k].retire_at > now) &&
				    (ks[k].remove_at == 0 || ks[k].remove_at > now))
					others = 1;
			/* The only key signing, with a successor waiting: the
			 * store brings the successor forward (a leaked key ends
			 * in one step). With none, the env could not sign. */
			alone = cur == (int)i && !others;
			if (alone && !pending) {
				snprintf(err, errlen, "key %.64s is the only key signing for %s; "
				    "rotate first (gatehouse keys rotate --env %s --lead 0), then revoke it",
				    kid, store_env_names[ks[i].env], store_env_names[ks[i].env]);
				goto out;
			}
		}
		/* The check above gives the reason with its way out; the
		 * store's, in one transaction with the change, is the one
		 * that holds when revocations run at once. */
		if ((src = store_key_revoke(st, kid, now)) != STORE_OK) {
			if (src == STORE_CONFLICT)
				snprintf(err, errlen, "%s; rotate first (gatehouse keys rotate --env %s "
				    "--lead 0), then revoke it", store_last_error(),
				    store_env_names[ks[i].env]);
			else if (src == STORE_SUPERSEDED)
				snprintf(err, errlen, "%s", store_last_error());
			else
				snprintf(err, errlen, "store: %s", store_last_error());
			goto out;
		}
	}
	if (!found) {
		snprintf(err, errlen, "no key %.64s", kid);
		goto out;
	}
	if (alone)
		signing_now(st, env, now, took_over);
	rc = 0;
out:
	store_key_free(ks, n);
	return rc;
}

/* due[env]: 1 when env's signing key has signed for interval - lead and
 * no successor is published. 0, or -1 when the keys cannot be read. */
static int
envs_due(struct store *st, int64_t now, int64_t interval, int64_t lead,
    int due[STORE_ENV__MAX])
{
	struct store_key *ks = NULL;
	size_t n = 0;

	if (store_key_list(st, &ks, &n) != STORE_OK)
		return -1;
	for (int env = 0; env < STORE_ENV__MAX; env++) {
		int pending, cur = find_current(ks, n, (enum store_env)env, now, &pending);
		due[env] = !pending && cur >= 0 && ks[cur].activate_at + interval - lead <= now;
	}
	store_key_free(ks, n);
	return 0;
}

int
keys_rotate_due(struct store *st, const uint8_t seal_key[32], int64_t now,
    int64_t interval, int64_t lead, char made[STORE_ENV__MAX][KEYS_KID_LEN + 1],
    const struct keys_audit *au, char *err, size_t errlen)
{
	int due[STORE_ENV__MAX] = { 0 }, again[STORE_ENV__MAX] = { 0 };

	for (int env = 0; env < STORE_ENV__MAX; env++)
		made[env][0] = '\0';
	if (interval <= 0)
		return 0;
	if (envs_due(st, now, interval, lead, due) == -1) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	for (int env = 0; env < STORE_ENV__MAX; env++) {
		if (!due[env])
			continue;
		if (keys_rotate(st, seal_key, (enum store_env)env, NULL, now, lead,
		    keys_max_lifetime(st, (enum store_env)env, 86400), made[env], au, err,
		    errlen) == -1) {
			made[env][0] = '\0';
			/* Every node runs the schedule: refused because another
			 * node's rotation of env came first (env no longer due),
			 * it is done, not failed. */
			if (envs_due(st, now, interval, lead, again) == 0 && !again[env])
				continue;
			return -1;
		}
	}
	return 0;
}
