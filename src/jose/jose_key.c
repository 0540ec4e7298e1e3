/* jose_key.c — struct jose_key: algorithms, generation, PKCS#8 in and out. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "jose/jose_int.h"

/* RFC 7518 §3.1 and RFC 8037 §3.1 spellings; matched case-sensitively
 * (RFC 7515 §4.1.1: alg is case-sensitive, so "NoNe" is no alg at all). */
const char *const jose_alg_names[JOSE_ALG__MAX] = {
	[JOSE_ALG_RS256] = "RS256",
	[JOSE_ALG_PS256] = "PS256",
	[JOSE_ALG_ES256] = "ES256",
	[JOSE_ALG_EDDSA] = "EdDSA",
};

int
jose_alg_from_name(const char *name, enum jose_alg *out)
{
	if (name == NULL)
		return -1;
	for (int i = 0; i < JOSE_ALG__MAX; i++)
		if (strcmp(name, jose_alg_names[i]) == 0) {
			*out = (enum jose_alg)i;
			return 0;
		}
	return -1;
}

static int
kid_ok(const char *kid)
{
	size_t n;

	if (kid == NULL)
		return 0;
	n = strlen(kid);
	return n > 0 && n <= JOSE_MAX_KID_LEN;
}

/* Does pkey's type (and size, curve) fit alg? Sets the signature length. */
static int
check_pkey(enum jose_alg alg, EVP_PKEY *pkey, size_t *sig_len,
    const char **err)
{
	char group[32];
	int bits;

	switch (alg) {
	case JOSE_ALG_RS256:
	case JOSE_ALG_PS256:
		if (!EVP_PKEY_is_a(pkey, "RSA")) {
			*err = "key is not an RSA key";
			return -1;
		}
		bits = EVP_PKEY_get_bits(pkey);
		if (bits < JOSE_RSA_MIN_BITS || bits > JOSE_RSA_MAX_BITS) {
			*err = "RSA key size out of range (2048..8192 bits)";
			return -1;
		}
		*sig_len = (size_t)EVP_PKEY_get_size(pkey);
		return 0;
	case JOSE_ALG_ES256:
		if (!EVP_PKEY_is_a(pkey, "EC") ||
		    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), NULL) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			*err = "key is not a P-256 key";
			return -1;
		}
		*sig_len = 64;
		return 0;
	case JOSE_ALG_EDDSA:
		if (!EVP_PKEY_is_a(pkey, "ED25519")) {
			*err = "key is not an Ed25519 key";
			return -1;
		}
		*sig_len = 64;
		return 0;
	default:
		*err = "unsupported algorithm";
		return -1;
	}
}

int
jose_key_wrap(enum jose_alg alg, const char *kid, EVP_PKEY *pkey, int priv,
    struct jose_key **out, const char **err)
{
	struct jose_key *k = NULL;
	const char *why = NULL;
	int rc = -1;

	if (!kid_ok(kid)) {
		why = "kid must be 1 to 64 characters";
		goto out;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		why = "out of memory";
		goto out;
	}
	if (check_pkey(alg, pkey, &k->sig_len, &why) == -1)
		goto out;
	k->alg = alg;
	k->priv = priv;
	k->pkey = pkey;
	pkey = NULL;
	memcpy(k->kid, kid, strlen(kid) + 1);
	if (jose_ops_init(k) == -1) {
		why = "key unusable for its algorithm";
		goto out;
	}
	for (int t = 0; t < JOSE_TYP__MAX; t++)
		if ((k->hdr[t] = jose_header_encode(k, jose_typ_names[t],
		    &k->hdr_len[t])) == NULL) {
			why = "cannot encode the JWS header (kid not UTF-8?)";
			goto out;
		}
	*out = k;
	k = NULL;
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	jose_key_free(k);
	if (rc == -1 && err != NULL)
		*err = why;
	return rc;
}

int
jose_key_generate(enum jose_alg alg, const char *kid, struct jose_key **out,
    const char **err)
{
	EVP_PKEY *pkey = NULL;

	switch (alg) {
	case JOSE_ALG_RS256:
	case JOSE_ALG_PS256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case JOSE_ALG_ES256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case JOSE_ALG_EDDSA:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		if (err != NULL)
			*err = "unsupported algorithm";
		return -1;
	}
	if (pkey == NULL) {
		if (err != NULL)
			*err = "key generation failed";
		return -1;
	}
	return jose_key_wrap(alg, kid, pkey, 1, out, err);
}

int
jose_key_private_der(const struct jose_key *k, uint8_t **der, size_t *len,
    const char **err)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	uint8_t *buf = NULL, *p;
	int n, rc = -1;
	const char *why = "cannot encode the private key";

	if (k == NULL || !k->priv) {
		why = "no private key";
		goto out;
	}
	if ((p8 = EVP_PKEY2PKCS8(k->pkey)) == NULL ||
	    (n = i2d_PKCS8_PRIV_KEY_INFO(p8, NULL)) <= 0)
		goto out;
	/* Our own buffer so that the caller frees it with free(). */
	if ((buf = malloc((size_t)n)) == NULL) {
		why = "out of memory";
		goto out;
	}
	p = buf;
	if (i2d_PKCS8_PRIV_KEY_INFO(p8, &p) != n)
		goto out;
	*der = buf;
	*len = (size_t)n;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, (size_t)n);
		free(buf);
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (rc == -1 && err != NULL)
		*err = why;
	return rc;
}

int
jose_key_from_private_der(enum jose_alg alg, const char *kid,
    const uint8_t *der, size_t len, struct jose_key **out, const char **err)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pkey = NULL;
	const unsigned char *p = der;

	if (der == NULL || len == 0 || len > INT_MAX ||
	    (p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len)) == NULL ||
	    p != der + len ||
	    (pkey = EVP_PKCS82PKEY_ex(p8, NULL, NULL)) == NULL) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		if (err != NULL)
			*err = "not a PKCS#8 private key";
		return -1;
	}
	PKCS8_PRIV_KEY_INFO_free(p8);
	return jose_key_wrap(alg, kid, pkey, 1, out, err);
}

void
jose_key_free(struct jose_key *k)
{
	if (k == NULL)
		return;
	jose_ops_free(k);
	EVP_PKEY_free(k->pkey);
	for (int t = 0; t < JOSE_TYP__MAX; t++)
		free(k->hdr[t]);
	free(k);
}

const char *
jose_key_kid(const struct jose_key *k)
{
	return k->kid;
}

enum jose_alg
jose_key_alg(const struct jose_key *k)
{
	return k->alg;
}

int
jose_key_can_sign(const struct jose_key *k)
{
	return k != NULL && k->priv;
}
