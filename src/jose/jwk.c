/* jwk.c — public JWKs (RFC 7517, RFC 7518 §6, RFC 8037 §2) out and in. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "jose/b64url.h"
#include "jose/jose_int.h"

#define JWK_MAX_B64	((JOSE_RSA_MAX_BITS / 8) / 3 * 4 + 4)

/* Base64url of buf[0..n) as a new JSON string. */
static json_t *
b64_json(const uint8_t *buf, size_t n)
{
	char out[JWK_MAX_B64 + 1];

	if (b64url_encoded_len(n) > JWK_MAX_B64)
		return NULL;
	b64url_encode(buf, n, out);
	return json_string(out);
}

/* A BIGNUM parameter as Base64urlUInt: big-endian, minimal (RFC 7518 §2). */
static json_t *
bn_json(const EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t buf[JOSE_RSA_MAX_BITS / 8];
	json_t *j = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) == 1 &&
	    (n = BN_num_bytes(bn)) > 0 && (size_t)n <= sizeof(buf) &&
	    BN_bn2bin(bn, buf) == n)
		j = b64_json(buf, (size_t)n);
	BN_free(bn);
	return j;
}

/* A P-256 coordinate, left-padded to 32 bytes (RFC 7518 §6.2.1.2). */
static json_t *
coord_json(const EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	uint8_t buf[32];
	json_t *j = NULL;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) == 1 &&
	    BN_bn2binpad(bn, buf, 32) == 32)
		j = b64_json(buf, 32);
	BN_free(bn);
	return j;
}

json_t *
jose_key_public_jwk(const struct jose_key *k)
{
	json_t *o, *a = NULL, *b = NULL;
	uint8_t raw[32];
	size_t rawlen = sizeof(raw);

	if ((o = json_object()) == NULL)
		return NULL;
	switch (k->alg) {
	case JOSE_ALG_RS256:
	case JOSE_ALG_PS256:
		json_object_set_new(o, "kty", json_string("RSA"));
		a = bn_json(k->pkey, OSSL_PKEY_PARAM_RSA_N);
		b = bn_json(k->pkey, OSSL_PKEY_PARAM_RSA_E);
		if (a == NULL || b == NULL)
			goto fail;
		break;
	case JOSE_ALG_ES256:
		json_object_set_new(o, "kty", json_string("EC"));
		json_object_set_new(o, "crv", json_string("P-256"));
		a = coord_json(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X);
		b = coord_json(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y);
		if (a == NULL || b == NULL)
			goto fail;
		break;
	case JOSE_ALG_EDDSA:
		json_object_set_new(o, "kty", json_string("OKP"));
		json_object_set_new(o, "crv", json_string("Ed25519"));
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &rawlen) != 1 ||
		    rawlen != 32 || (a = b64_json(raw, 32)) == NULL)
			goto fail;
		break;
	default:
		goto fail;
	}
	json_object_set_new(o, "kid", json_string(k->kid));
	json_object_set_new(o, "use", json_string("sig"));
	json_object_set_new(o, "alg", json_string(jose_alg_names[k->alg]));
	if (k->alg == JOSE_ALG_RS256 || k->alg == JOSE_ALG_PS256) {
		json_object_set_new(o, "n", a);
		json_object_set_new(o, "e", b);
	} else {
		json_object_set_new(o, "x", a);
		if (b != NULL)
			json_object_set_new(o, "y", b);
	}
	/* A failed json_string() above leaves a member out. */
	if (json_object_size(o) != (k->alg == JOSE_ALG_ES256 ? 7u : 6u)) {
		json_decref(o);
		return NULL;
	}
	return o;
fail:
	json_decref(a);
	json_decref(b);
	json_decref(o);
	return NULL;
}

/* A member as a string without embedded NUL, or NULL. */
static const char *
member_str(const json_t *jwk, const char *name)
{
	const json_t *v = json_object_get(jwk, name);

	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return NULL;
	return json_string_value(v);
}

/* Decodes a base64url member into buf: exactly want bytes when want != 0,
 * else 1..cap bytes with no leading zero (Base64urlUInt, RFC 7518 §2). */
static int
member_bytes(const json_t *jwk, const char *name, uint8_t *buf, size_t cap,
    size_t want, size_t *len)
{
	const char *s = member_str(jwk, name);

	if (s == NULL || b64url_decode(s, strlen(s), buf, cap, len) == -1)
		return -1;
	if (want != 0)
		return *len == want ? 0 : -1;
	return *len > 0 && buf[0] != 0 ? 0 : -1;
}

static EVP_PKEY *
fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
	EVP_PKEY_CTX *ctx = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pkey = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pkey = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static EVP_PKEY *
rsa_from_jwk(const json_t *jwk, const char **err)
{
	uint8_t n[JOSE_RSA_MAX_BITS / 8], e[8];
	size_t nl, el;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (member_bytes(jwk, "n", n, sizeof(n), 0, &nl) == -1 ||
	    member_bytes(jwk, "e", e, sizeof(e), 0, &el) == -1) {
		*err = "JWK has a bad n or e";
		return NULL;
	}
	/* A public exponent is odd and at least 3 (RFC 8017 §3.1). */
	if ((e[el - 1] & 1) == 0 || (el == 1 && e[0] < 3)) {
		*err = "JWK has a bad e";
		return NULL;
	}
	if ((bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)el, NULL)) == NULL ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
	    (pkey = fromdata("RSA", bld)) == NULL)
		*err = "JWK is not a usable RSA key";
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return pkey;
}

static EVP_PKEY *
ec_from_jwk(const json_t *jwk, const char **err)
{
	uint8_t pt[65];
	size_t xl, yl;
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;

	pt[0] = 0x04;	/* uncompressed point, SEC 1 §2.3.3 */
	if (member_bytes(jwk, "x", pt + 1, 32, 32, &xl) == -1 ||
	    member_bytes(jwk, "y", pt + 33, 32, 32, &yl) == -1) {
		*err = "JWK has a bad x or y";
		return NULL;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
	    sizeof(pt)) != 1 ||
	    (pkey = fromdata("EC", bld)) == NULL)
		goto bad;
	/* Import already refuses points off the curve; check again, and for
	 * the point at infinity, rather than rely on it (invalid-curve
	 * attacks). */
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_public_check(ctx) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
		goto bad;
	}
	goto out;
bad:
	*err = "JWK is not a point on P-256";
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *
okp_from_jwk(const json_t *jwk, const char **err)
{
	uint8_t x[32];
	size_t xl;
	EVP_PKEY *pkey;

	if (member_bytes(jwk, "x", x, sizeof(x), 32, &xl) == -1) {
		*err = "JWK has a bad x";
		return NULL;
	}
	if ((pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x,
	    32)) == NULL)
		*err = "JWK is not a usable Ed25519 key";
	return pkey;
}

/* The members every JWK is checked for before its key type: kty and kid
 * (set on success), use, and alg (set with *have_alg when present).
 * Returns -1 with *why set. */
static int
jwk_check_common(const json_t *jwk, const char **kty, const char **kid,
    enum jose_alg *alg, int *have_alg, const char **why)
{
	const char *alg_name, *use;

	if (!json_is_object(jwk) || (*kty = member_str(jwk, "kty")) == NULL) {
		*why = "JWK lacks kty";
		return -1;
	}
	if ((*kid = member_str(jwk, "kid")) == NULL) {
		*why = "JWK lacks kid";
		return -1;
	}
	if (json_object_get(jwk, "use") != NULL &&
	    ((use = member_str(jwk, "use")) == NULL || strcmp(use, "sig") != 0)) {
		*why = "JWK is not for signatures";
		return -1;
	}
	if (json_object_get(jwk, "alg") != NULL) {
		if ((alg_name = member_str(jwk, "alg")) == NULL ||
		    jose_alg_from_name(alg_name, alg) == -1) {
			*why = "JWK names an unsupported alg";
			return -1;
		}
		*have_alg = 1;
	}
	return 0;
}

/* The public key for kty; *alg is settled from kty where the JWK may omit
 * it.  Returns NULL with *why set. */
static EVP_PKEY *
jwk_key_by_kty(const json_t *jwk, const char *kty, int have_alg,
    enum jose_alg *alg, const char **why)
{
	const char *crv;

	crv = member_str(jwk, "crv");
	/* Private members (d, p, q, ...) are ignored: a JWKS gives public keys
	 * only, and we never sign with a fetched key. */
	if (strcmp(kty, "RSA") == 0) {
		/* RS256 or PS256: only the JWK can say which. */
		if (!have_alg) {
			*why = "RSA JWK lacks alg";
			return NULL;
		}
		if (*alg != JOSE_ALG_RS256 && *alg != JOSE_ALG_PS256)
			goto mismatch;
		return rsa_from_jwk(jwk, why);
	} else if (strcmp(kty, "EC") == 0) {
		if (crv == NULL || strcmp(crv, "P-256") != 0) {
			*why = "EC JWK is not P-256";
			return NULL;
		}
		if (have_alg && *alg != JOSE_ALG_ES256)
			goto mismatch;
		*alg = JOSE_ALG_ES256;
		return ec_from_jwk(jwk, why);
	} else if (strcmp(kty, "OKP") == 0) {
		if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
			*why = "OKP JWK is not Ed25519";
			return NULL;
		}
		if (have_alg && *alg != JOSE_ALG_EDDSA)
			goto mismatch;
		*alg = JOSE_ALG_EDDSA;
		return okp_from_jwk(jwk, why);
	}
	*why = "JWK has an unsupported kty";
	return NULL;
mismatch:
	*why = "JWK alg does not fit its kty";
	return NULL;
}

int
jose_key_from_jwk(const json_t *jwk, struct jose_key **out, const char **err)
{
	const char *kty, *kid, *why = "bad JWK";
	enum jose_alg alg = JOSE_ALG__MAX;
	int have_alg = 0;
	EVP_PKEY *pkey = NULL;

	if (jwk_check_common(jwk, &kty, &kid, &alg, &have_alg, &why) == -1)
		goto fail;
	if ((pkey = jwk_key_by_kty(jwk, kty, have_alg, &alg, &why)) == NULL)
		goto fail;
	return jose_key_wrap(alg, kid, pkey, 0, out, err);
fail:
	if (err != NULL)
		*err = why;
	return -1;
}
