/*
 * jose_int.h — what the files of the JOSE module share (jose_key.c, jwk.c,
 * jws.c). Not for use outside src/jose and its unit tests.
 */
#ifndef GH_JOSE_INT_H
#define GH_JOSE_INT_H

#include <stdatomic.h>

#include <openssl/evp.h>

#include "jose/jose.h"

/* Raw JWS signature bound: RSA-8192 (1024 bytes) is the largest we accept. */
#define JOSE_MAX_SIG_LEN	1024
#define JOSE_RSA_MIN_BITS	2048
#define JOSE_RSA_MAX_BITS	8192

/* typ values whose encoded header is built once per key (jws.c). */
enum jose_typ {
	JOSE_TYP_AT_JWT,	/* "at+jwt", RFC 9068 §2.1: every access token */
	JOSE_TYP_JWT,		/* "JWT" */
	JOSE_TYP__MAX
};
extern const char *const jose_typ_names[JOSE_TYP__MAX];

/* Copies of an RSA private key for signing threads: one each for this many
 * threads (two HTTP loops a core up to eight cores); more share them. A
 * copy is made on its first use, so a server keeps as many as it has
 * signing threads. */
#define JOSE_RSA_SIGNERS	16

struct jose_signers {
	_Atomic(EVP_PKEY_CTX *)	 c[JOSE_RSA_SIGNERS];	/* NULL until first used */
};

struct jose_key {
	enum jose_alg	 alg;
	int		 priv;		/* the private half is present */
	EVP_PKEY	*pkey;		/* shared read-only by all threads */
	size_t		 sig_len;	/* exact raw JWS signature length */
	char		 kid[JOSE_MAX_KID_LEN + 1];
	char		*hdr[JOSE_TYP__MAX];	/* base64url protected headers */
	size_t		 hdr_len[JOSE_TYP__MAX];
	/*
	 * Operation templates, set up once (jose_ops_init) and only ever
	 * duplicated, never used, so that they stay read-only and shared:
	 * RS/PS/ES256 sign a SHA-256 digest with a copy of an initialised
	 * EVP_PKEY_CTX; Ed25519 (which hashes internally) copies an
	 * initialised EVP_MD_CTX. Either saves the per-call algorithm fetch
	 * of EVP_DigestSignInit_ex, a quarter of an ES256 signature's time.
	 */
	EVP_PKEY_CTX	*pk_sign, *pk_verify;
	EVP_MD_CTX	*md_sign, *md_verify;
	struct presign_pool *presign;	/* ES256 nonces made ahead, or NULL */
	/*
	 * RS/PS256 signing templates over copies of the private key (jws.c
	 * sign_template), made when a thread first signs: a thread signs with
	 * a copy of its own, not with the shared key. OpenSSL's RSA blinding
	 * belongs to the first thread that signs with a key; every other
	 * thread shares a second blinding under a write lock per signature,
	 * on which signers queued and slept (1.6% of RS256 signatures on two
	 * cores; more with more cores). NULL for other keys.
	 */
	struct jose_signers *signers;
};

/*
 * presign.c (presign.h): a pool of ES256 nonces for one key, filled by the
 * presigning thread from the key's first signature on. presign_pool_new
 * registers one for pkey's key (NULL when the thread is not running, or on
 * failure; signing is then whole); presign_pool_release is the key's last
 * use of it. presign_sign signs a SHA-256 digest into R||S with a pair from
 * the pool: 0, or -1 when it has none (sign whole). presign_available,
 * presign_used (pairs signed with), presign_batched (pairs made in batches,
 * p256_nonces.h), presign_batches (0: the next thread started makes its
 * pairs one at a time, as when a batch fails) and presign_spent (slots of
 * pairs already taken that still hold one: 0 when taking wipes) are for
 * tests.
 */
struct presign_pool;
struct presign_pool *presign_pool_new(EVP_PKEY *pkey);
void	presign_pool_release(struct presign_pool *);
int	presign_sign(struct presign_pool *, const uint8_t digest[32], uint8_t sig[64]);
size_t	presign_available(const struct presign_pool *);
uint64_t presign_used(void);
uint64_t presign_batched(void);
void	presign_batches(int on);
size_t	presign_spent(const struct presign_pool *);

/*
 * Wraps pkey (ownership passes, also on failure) into a key for alg after
 * checking that its type and size suit alg; priv says whether it can sign.
 */
int	jose_key_wrap(enum jose_alg alg, const char *kid, EVP_PKEY *pkey,
	    int priv, struct jose_key **out, const char **err);

/* Sets up k's operation templates (sign only when k->priv); 0 or -1.
 * jose_ops_free releases them. */
int	jose_ops_init(struct jose_key *k);
void	jose_ops_free(struct jose_key *k);

/* The base64url protected header {"alg","typ","kid"} (typ NULL: none),
 * malloc'd and NUL-terminated. */
char	*jose_header_encode(const struct jose_key *, const char *typ,
	    size_t *len);

/* The raw JWS signature of in[0..n) (R||S for ES256) into sig, which holds
 * JOSE_MAX_SIG_LEN bytes; *siglen is k->sig_len. 0 or -1. */
int	jose_sign_raw(const struct jose_key *k, const uint8_t *in, size_t n,
	    uint8_t *sig, size_t *siglen);
/* 0 when sig is a valid raw JWS signature of in[0..n) under k, else -1. */
int	jose_verify_raw(const struct jose_key *k, const uint8_t *in, size_t n,
	    const uint8_t *sig, size_t siglen);

#endif
