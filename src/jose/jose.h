/*
 * jose.h — JSON Web Keys and compact JWS on OpenSSL 3 EVP.
 *
 * This module is the only user of OpenSSL for tokens (STYLE 1, 3). Keys are
 * parsed once into a struct jose_key and then used, read-only, by any number
 * of threads. The algorithm is a property of the key: verification takes the
 * key by kid and refuses a token whose header names another algorithm
 * (RFC 8725 §3.1); "none" and HMAC are never accepted.
 *
 * Functions return 0 on success and -1 on failure with *err (when not NULL)
 * set to a static, secret-free reason.
 */
#ifndef GH_JOSE_H
#define GH_JOSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/json_view.h"

enum jose_alg {
	JOSE_ALG_RS256,
	JOSE_ALG_PS256,
	JOSE_ALG_ES256,
	JOSE_ALG_EDDSA,		/* Ed25519 */
	JOSE_ALG__MAX
};

/* Bounds on what verification accepts (RFC 8725 §3.9: bound everything). */
#define JOSE_MAX_TOKEN_LEN	8192
#define JOSE_MAX_KID_LEN	64

extern const char *const jose_alg_names[JOSE_ALG__MAX];
int	jose_alg_from_name(const char *name, enum jose_alg *out);

struct jose_key;

/* A new private key for alg (RSA keys are 2048 bits) with the given kid. */
int	jose_key_generate(enum jose_alg alg, const char *kid,
	    struct jose_key **out, const char **err);
/* The private key as DER (PKCS#8), malloc'd, for sealing into the store.
 * The caller cleanses and frees it. */
int	jose_key_private_der(const struct jose_key *, uint8_t **der,
	    size_t *len, const char **err);
/* A private key back from DER, for alg (checked against the key type). */
int	jose_key_from_private_der(enum jose_alg alg, const char *kid,
	    const uint8_t *der, size_t len, struct jose_key **out,
	    const char **err);
/* A public-only key from one JWK object (kty, crv, n/e or x/y, alg, kid);
 * the JWK must name alg, or a single algorithm must follow from kty/crv. */
int	jose_key_from_jwk(const json_t *jwk, struct jose_key **out,
	    const char **err);
void	jose_key_free(struct jose_key *);

const char	*jose_key_kid(const struct jose_key *);
enum jose_alg	 jose_key_alg(const struct jose_key *);
int		 jose_key_can_sign(const struct jose_key *);
/* The public JWK: kty, kid, use "sig", alg, and n/e or crv/x(/y). New ref. */
json_t	*jose_key_public_jwk(const struct jose_key *);

/*
 * Signs: header {"alg","typ","kid"} (typ given by the caller, e.g. "at+jwt";
 * the encoded header is computed once per key and typ) and the payload
 * bytes, into a compact JWS. *out is malloc'd and NUL-terminated.
 */
int	jose_sign_compact(const struct jose_key *, const char *typ,
	    const char *payload, size_t payload_len, char **out, size_t *outlen,
	    const char **err);

/* Finds the key for a kid; NULL when unknown. Must be thread-safe. */
typedef const struct jose_key *(*jose_key_lookup_fn)(void *arg,
	    const char *kid);

/* A verified JWT's header and claims set, read in place by
 * util/json_view.h; the views point into the buffers here. About 22 KB:
 * the gate keeps one on its worker's stack; libgatehouse-verify and the
 * CLI, which run on threads whose stacks they do not choose, on the heap. */
#define JOSE_MAX_HEADER_MEMBERS	16
#define JOSE_MAX_CLAIMS		128
#define JOSE_MAX_SEGMENT	(JOSE_MAX_TOKEN_LEN / 4 * 3 + 3)

struct jose_jwt {
	struct json_view	header, claims;
	struct json_view_member	header_m[JOSE_MAX_HEADER_MEMBERS];
	struct json_view_member	claims_m[JOSE_MAX_CLAIMS];
	char			header_buf[JOSE_MAX_SEGMENT];
	char			claims_buf[JOSE_MAX_SEGMENT];
};

/*
 * Verifies a compact JWS of at most JOSE_MAX_TOKEN_LEN bytes: exactly three
 * base64url segments; a header that is a JSON object of at most
 * JOSE_MAX_HEADER_MEMBERS members without duplicate names, with a known kid
 * (lookup), alg equal to the key's, no "crit" (we support no extensions;
 * RFC 7515 §4.1.11), jku/x5u/jwk ignored; a valid signature (ECDSA as raw
 * R||S per RFC 7518 §3.4, rejecting zero R or S); a payload that is a JSON
 * object of at most JOSE_MAX_CLAIMS members without duplicate names. Claims
 * are NOT checked here (exp, iss, aud are the caller's policy).
 * On success jwt holds the header and claims.
 */
int	jose_verify_compact(const char *token, size_t len,
	    jose_key_lookup_fn lookup, void *arg, struct jose_jwt *jwt,
	    const struct jose_key **key, const char **err);

#endif
