/*
 * keys.h — signing keys in the store: made here, sealed under the master
 * key, and unsealed into a keyring. The only code that sees private key
 * bytes outside src/jose/ (STYLE 3: the seam where signing could move into
 * its own process).
 */
#ifndef GH_KEYS_H
#define GH_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "jose/jose.h"
#include "jose/keyring.h"
#include "store/store.h"

#define KEYS_KID_LEN 24

/*
 * 1 when k was revoked (store_key_revoke retires and removes it at one
 * time; a rotation removes a key well after it retires it). Whatever the
 * clock of the reader: the revoking host's clock may be ahead of it, or
 * its own stepped back since, and a key revoked in its future would sign
 * and be published again until its clock caught up.
 */
int	keys_revoked(const struct store_key *k);
/*
 * A caller's audit row for each key made here (audit.h audit_stage), so
 * that the key and its row commit in one store transaction: stage(arg,
 * env, kid) is called with the new key's kid once it is made, just before
 * the transaction that stores it (a row staged there goes in with it);
 * done(arg, env, kid, ok) once that transaction has ended, ok when the key
 * went in (store_audit_unstage then says whether its row did). NULL where
 * taken: no rows. One key per transaction: not for keys_rotate_envs.
 */
struct keys_audit {
	void	(*stage)(void *arg, enum store_env env, const char *kid);
	void	(*done)(void *arg, enum store_env env, const char *kid, int ok);
	void	*arg;
};

/* Builds a keyring of every key in the store that is neither revoked nor
 * removed at now.
 * 0, or -1 with a reason in err (a key that does not unseal is an error:
 * a wrong master key must not start a server that cannot verify). */
int	keys_load(struct store *, const uint8_t seal_key[32], int64_t now,
	    struct keyring **out, char *err, size_t errlen);
/* Generates a key for env and alg, seals and stores it with the given
 * dates (its row through au, may be NULL); kid gets its id. 0 or -1. */
int	keys_create(struct store *, const uint8_t seal_key[32],
	    enum store_env env, enum jose_alg alg,
	    const struct keyring_dates *dates, char kid[KEYS_KID_LEN + 1],
	    const struct keys_audit *au, char *err, size_t errlen);
/*
 * The same for keys that take over from their env's current one, s[0..n)
 * (n <= STORE_ENV__MAX, no env twice), all in one store transaction
 * (store_key_rotate_envs): refused, none made, with the reason in err,
 * when a key of an env is already scheduled to take over at now, or
 * another than its replaces (NULL: none) signs (a rotation came first);
 * else each current key retires at its successor's dates.activate_at and
 * is removed at old_remove_at. s[i].kid gets the new key's id. au (may be
 * NULL; with n == 1 only): the row of the key, as keys_create's.
 */
struct keys_successor {
	enum store_env		 env;
	enum jose_alg		 alg;
	struct keyring_dates	 dates;
	int64_t			 old_remove_at;
	const char		*replaces;
	char			 kid[KEYS_KID_LEN + 1];
};
int	keys_create_successors(struct store *, const uint8_t seal_key[32],
	    struct keys_successor *s, size_t n, int64_t now, const struct keys_audit *au,
	    char *err, size_t errlen);
/* Makes sure each environment has a key that signs at now, creating one
 * with alg where none does, each with its row through au (may be NULL);
 * *created counts them and made[env] gets the kid made for env ("" where
 * none was). 0 or -1. */
int	keys_ensure(struct store *, const uint8_t seal_key[32],
	    enum jose_alg alg, int64_t now, int *created,
	    char made[STORE_ENV__MAX][KEYS_KID_LEN + 1], const struct keys_audit *au,
	    char *err, size_t errlen);

/* Beyond the longest lifetime, how long a retired key stays published
 * (clock skew); a token ends at least this long before its key goes
 * (oauth/issue.c). */
#define KEYS_REMOVE_MARGIN	300

/*
 * Rotation: a new key for env is published at now and signs from
 * now + lead, so verifiers that cache the JWKS know it before they meet it.
 * The key it replaces retires then, and stays published for max_lifetime
 * + KEYS_REMOVE_MARGIN more (the longest a token it signed can live), or
 * until KEYS_REMOVE_MARGIN after the latest expiry of env's issued tokens
 * if that is later (one issued before its client's max_ttl was lowered),
 * before it is removed.
 * alg NULL: the current key's algorithm. au (may be NULL): the new key's
 * row, as keys_create's. 0, or -1 with a reason.
 */
int	keys_rotate(struct store *, const uint8_t seal_key[32],
	    enum store_env env, const char *alg, int64_t now, int64_t lead,
	    int64_t max_lifetime, char kid[KEYS_KID_LEN + 1], const struct keys_audit *au,
	    char *err, size_t errlen);
/* keys_rotate for the envs of s[0..n) (n <= STORE_ENV__MAX, no env twice;
 * each with the longest lifetime of its clients, keys_max_lifetime), in
 * ONE store transaction: every env gets its new key (s[i].kid) or none
 * does, so that a crash or a refusal never leaves one rotated and not the
 * other. 0, or -1 with a reason. */
int	keys_rotate_envs(struct store *, const uint8_t seal_key[32],
	    struct keys_successor *s, size_t n, const char *alg, int64_t now, int64_t lead,
	    char *err, size_t errlen);
/* The schedule: rotates each environment whose signing key has signed for
 * interval - lead already (so the successor signs at interval), unless a
 * successor is already published; each new key with its row through au
 * (may be NULL). made[env] gets the kid of env's new key, "" when env was
 * not due. 0 or -1 (made holds those made before). */
int	keys_rotate_due(struct store *, const uint8_t seal_key[32], int64_t now,
	    int64_t interval, int64_t lead, char made[STORE_ENV__MAX][KEYS_KID_LEN + 1],
	    const struct keys_audit *au, char *err, size_t errlen);
/* Ends a key at once (compromise): retired and removed now. A successor
 * revoked before it signs cancels its rotation: the key it was to replace
 * signs on. The only key signing for its env is refused when no successor
 * waits (rotate first); with one waiting, the successor signs from now on,
 * in the same store transaction, and took_over gets its kid (else ""). */
int	keys_revoke(struct store *, const char *kid, int64_t now,
	    char took_over[KEYS_KID_LEN + 1], char *err, size_t errlen);
/* The longest max_ttl of env's clients (at least floor). */
int64_t	keys_max_lifetime(struct store *, enum store_env env, int64_t floor);

#endif
