/* secrets.c — secret rotation, revocation, and voiding a client's tokens. */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "manage/manage.h"
#include "util/util.h"

static int
get_client(struct store *st, const char *id, struct store_client *c, char *err,
    size_t errlen)
{
	int rc = store_client_get(st, id, c);

	if (rc == STORE_NOTFOUND)
		snprintf(err, errlen, "client %.64s does not exist", id);
	else if (rc != STORE_OK)
		snprintf(err, errlen, "store: %s", store_last_error());
	return rc == STORE_OK ? 0 : -1;
}

/* preset: the new secret's hash made earlier (secret untouched), or NULL;
 * holder: whom it was shown to (store.h; NULL: the client). The count of live secrets, the cut of the old ones and the new one's
 * insert are one store transaction (store_secret_rotate): two rotations at
 * once cannot make a third live secret, and a failure leaves none that
 * nobody was shown. */
static int
secret_rotate(struct store *st, const uint8_t secret_key[32],
    const char *client_id, int64_t grace, const uint8_t *preset, const char *holder,
    struct store_secret *out, int64_t *prev_end, char secret[SECRET_TEXT_LEN + 1], char *err,
    size_t errlen)
{
	struct store_client c;
	struct store_secret add;
	int64_t now = clock_now();
	int rc = -1, src;

	if (get_client(st, client_id, &c, err, errlen) == -1)
		return -1;
	memset(&add, 0, sizeof(add));
	if (c.disabled) {
		snprintf(err, errlen, "client %.64s is disabled; enable it before rotating its secret", client_id);
		goto out;
	}
	if (preset == NULL && secret_generate(secret) == -1) {
		snprintf(err, errlen, "no randomness");
		goto out;
	}
	add.client_id = c.id;
	add.created_at = now;
	add.holder = (char *)holder;
	if (preset != NULL)
		memcpy(add.hash, preset, sizeof(add.hash));
	else if (secret_hash(secret_key, secret, SECRET_TEXT_LEN, add.hash) == -1) {
		/* Stored, it would be a secret nothing matches. */
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The old secrets end after the grace period; the new one exists
	 * from the same commit, so there is never a moment with no working
	 * secret. */
	src = store_secret_rotate(st, &add, now + grace, MANAGE_MAX_LIVE_SECRETS, prev_end);
	if (src != STORE_OK) {
		if (src == STORE_CONFLICT && strstr(store_last_error(), "live secrets") != NULL)
			snprintf(err, errlen, "client %.64s already has %d live secrets; revoke one "
			    "(gatehouse client revoke-secret) before rotating again", client_id,
			    MANAGE_MAX_LIVE_SECRETS);
		else if (src == STORE_SUPERSEDED)
			snprintf(err, errlen, "%s", store_last_error());
		else
			snprintf(err, errlen, "store: %s", store_last_error());
		if (preset == NULL)
			OPENSSL_cleanse(secret, SECRET_TEXT_LEN + 1);
		goto out;
	}
	if (out != NULL) {
		*out = add;
		out->client_id = out->holder = NULL;
	}
	rc = 0;
out:
	add.client_id = add.holder = NULL;
	OPENSSL_cleanse(add.hash, sizeof(add.hash));
	store_client_clear(&c);
	return rc;
}

int
manage_secret_rotate(struct store *st, const uint8_t secret_key[32],
    const char *client_id, int64_t grace, struct store_secret *out, int64_t *prev_end,
    char secret[SECRET_TEXT_LEN + 1], char *err, size_t errlen)
{
	return secret_rotate(st, secret_key, client_id, grace, NULL, NULL, out, prev_end, secret,
	    err, errlen);
}

int
manage_secret_rotate_hashed(struct store *st, const char *client_id, int64_t grace,
    const uint8_t hash[32], const char *holder, struct store_secret *out, int64_t *prev_end,
    char *err, size_t errlen)
{
	return secret_rotate(st, NULL, client_id, grace, hash, holder, out, prev_end, NULL, err,
	    errlen);
}

int
manage_client_revoke_tokens(struct store *st, const char *client_id, char *err,
    size_t errlen)
{
	int64_t now = clock_now();
	int rc;

	/* Tokens are void when issued before this second ends: a token
	 * issued in the same second as the revocation cannot be told apart.
	 * One statement of its own (store.h): an update of the client's
	 * settings made from an older read cannot undo it. */
	if ((rc = store_client_void_tokens(st, client_id, now + 1, now)) != STORE_OK) {
		snprintf(err, errlen, rc == STORE_NOTFOUND ? "client %.64s does not exist" : "store: %s",
		    rc == STORE_NOTFOUND ? client_id : store_last_error());
		return -1;
	}
	return 0;
}

int
manage_secret_revoke(struct store *st, const char *client_id, int64_t secret_id,
    int revoke_tokens, char *err, size_t errlen)
{
	struct store_secret *ss = NULL;
	size_t n = 0;
	int64_t now;
	int rc = -1, found = 0, src;

	if (store_secret_list(st, client_id, &ss, &n) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (ss[i].id != secret_id)
			continue;
		found = 1;
		if (ss[i].revoked_at != 0) {
			snprintf(err, errlen, "secret %lld of client %.64s is already revoked",
			    (long long)secret_id, client_id);
			goto out;
		}
		now = clock_now();
		ss[i].revoked_at = now;
		/* With its tokens, in one transaction (and the audit row staged
		 * for the change with both): a crash between the two left a
		 * leaked secret's tokens good, and the secret, revoked by then,
		 * could not be revoked again to void them. Voided as
		 * manage_client_revoke_tokens voids them. */
		src = revoke_tokens ? store_secret_update_void_tokens(st, &ss[i], now + 1, now) :
		    store_secret_update(st, &ss[i]);
		if (src != STORE_OK) {
			snprintf(err, errlen, "store: %s", store_last_error());
			goto out;
		}
	}
	if (!found) {
		struct store_client c;
		if (get_client(st, client_id, &c, err, errlen) == 0) {
			store_client_clear(&c);
			snprintf(err, errlen, "client %.64s has no secret %lld", client_id, (long long)secret_id);
		}
		goto out;
	}
	rc = 0;
out:
	store_secret_free(ss, n);
	return rc;
}
