/* jws.c — compact JWS (RFC 7515 §7.1) signing and verification. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "jose/b64url.h"
#include "jose/jose_int.h"

const char *const jose_typ_names[JOSE_TYP__MAX] = {
	[JOSE_TYP_AT_JWT] = "at+jwt",
	[JOSE_TYP_JWT] = "JWT",
};

/* The order n of P-256 (SEC 2 §2.4.2), big-endian: R and S must be in
 * [1, n-1] (RFC 7518 §3.4 by way of FIPS 186-4 §6.4). */
static const uint8_t p256_order[32] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
	0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

char *
jose_header_encode(const struct jose_key *k, const char *typ, size_t *len)
{
	json_t *h;
	char *js = NULL, *out = NULL;
	size_t n;

	/* jansson keeps insertion order: {"alg","typ","kid"}. */
	h = typ != NULL ?
	    json_pack("{s:s,s:s,s:s}", "alg", jose_alg_names[k->alg], "typ", typ,
	    "kid", k->kid) :
	    json_pack("{s:s,s:s}", "alg", jose_alg_names[k->alg], "kid", k->kid);
	if (h == NULL || (js = json_dumps(h, JSON_COMPACT)) == NULL)
		goto out;
	n = strlen(js);
	if ((out = malloc(b64url_encoded_len(n) + 1)) == NULL)
		goto out;
	*len = b64url_encode((const uint8_t *)js, n, out);
out:
	free(js);
	json_decref(h);
	return out;
}

/*
 * One fresh EVP_MD_CTX per operation: the EVP_PKEY is shared read-only and
 * the context is the only per-call state, so any number of threads may sign
 * with one key. PS256 is RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte
 * salt (RFC 7518 §3.5: the salt is as long as the digest); verification
 * insists on exactly that salt length.
 */
static int
digest_init(EVP_MD_CTX *mctx, const struct jose_key *k, int sign)
{
	OSSL_PARAM pss[4], *params = NULL;
	int saltlen = 32;
	const char *md = k->alg == JOSE_ALG_EDDSA ? NULL : "SHA256";

	if (k->alg == JOSE_ALG_PS256) {
		pss[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_PAD_MODE, (char *)OSSL_PKEY_RSA_PAD_MODE_PSS, 0);
		pss[1] = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_MGF1_DIGEST, (char *)"SHA256", 0);
		pss[2] = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
		    &saltlen);
		pss[3] = OSSL_PARAM_construct_end();
		params = pss;
	}
	if (sign)
		return EVP_DigestSignInit_ex(mctx, NULL, md, NULL, NULL, k->pkey,
		    params) == 1 ? 0 : -1;
	return EVP_DigestVerifyInit_ex(mctx, NULL, md, NULL, NULL, k->pkey,
	    params) == 1 ? 0 : -1;
}

/* DER ECDSA-Sig-Value to the fixed 64-byte R||S of RFC 7518 §3.4. */
static int
ecdsa_der_to_raw(const uint8_t *der, size_t len, uint8_t raw[64])
{
	const unsigned char *p = der;
	ECDSA_SIG *s;
	const BIGNUM *r, *ss;
	int rc = -1;

	if ((s = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL)
		return -1;
	ECDSA_SIG_get0(s, &r, &ss);
	if (BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(ss, raw + 32, 32) == 32)
		rc = 0;
	ECDSA_SIG_free(s);
	return rc;
}

static int
in_range(const uint8_t v[32])
{
	static const uint8_t zero[32];

	return memcmp(v, zero, 32) != 0 && memcmp(v, p256_order, 32) < 0;
}

/* R||S to DER, refusing R or S of zero or not below the order. */
static int
ecdsa_raw_to_der(const uint8_t raw[64], uint8_t *der, size_t cap,
    size_t *len)
{
	ECDSA_SIG *s = NULL;
	BIGNUM *r = NULL, *ss = NULL;
	unsigned char *p = der;
	int n, rc = -1;

	if (!in_range(raw) || !in_range(raw + 32))
		return -1;
	if ((s = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(raw, 32, NULL)) == NULL ||
	    (ss = BN_bin2bn(raw + 32, 32, NULL)) == NULL ||
	    ECDSA_SIG_set0(s, r, ss) != 1)
		goto out;
	r = ss = NULL;
	if ((n = i2d_ECDSA_SIG(s, NULL)) <= 0 || (size_t)n > cap ||
	    i2d_ECDSA_SIG(s, &p) != n)
		goto out;
	*len = (size_t)n;
	rc = 0;
out:
	BN_free(r);
	BN_free(ss);
	ECDSA_SIG_free(s);
	return rc;
}

int
jose_sign_raw(const struct jose_key *k, const uint8_t *in, size_t n,
    uint8_t *sig, size_t *siglen)
{
	EVP_MD_CTX *mctx = NULL;
	uint8_t der[80];
	size_t len;
	int rc = -1;

	if (!k->priv || (mctx = EVP_MD_CTX_new()) == NULL ||
	    digest_init(mctx, k, 1) == -1)
		goto out;
	if (k->alg == JOSE_ALG_ES256) {
		len = sizeof(der);
		if (EVP_DigestSign(mctx, der, &len, in, n) != 1 ||
		    ecdsa_der_to_raw(der, len, sig) == -1)
			goto out;
		len = 64;
	} else {
		len = JOSE_MAX_SIG_LEN;
		if (EVP_DigestSign(mctx, sig, &len, in, n) != 1 ||
		    len != k->sig_len)
			goto out;
	}
	*siglen = len;
	rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

int
jose_verify_raw(const struct jose_key *k, const uint8_t *in, size_t n,
    const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *mctx = NULL;
	uint8_t der[80];
	size_t derlen;
	int rc = -1;

	if (siglen != k->sig_len)
		return -1;
	if (k->alg == JOSE_ALG_ES256) {
		if (ecdsa_raw_to_der(sig, der, sizeof(der), &derlen) == -1)
			return -1;
		sig = der;
		siglen = derlen;
	}
	if ((mctx = EVP_MD_CTX_new()) == NULL || digest_init(mctx, k, 0) == -1)
		goto out;
	if (EVP_DigestVerify(mctx, sig, siglen, in, n) == 1)
		rc = 0;
out:
	EVP_MD_CTX_free(mctx);
	return rc;
}

int
jose_sign_compact(const struct jose_key *k, const char *typ,
    const char *payload, size_t payload_len, char **out, size_t *outlen,
    const char **err)
{
	const char *hdr = NULL, *why = "out of memory";
	char *own = NULL, *tok = NULL;
	size_t hlen = 0, plen, slen, siglen, o;
	uint8_t sig[JOSE_MAX_SIG_LEN];
	int rc = -1;

	if (k == NULL || !k->priv) {
		why = "key cannot sign";
		goto out;
	}
	for (int t = 0; t < JOSE_TYP__MAX && hdr == NULL; t++)
		if (typ != NULL && strcmp(typ, jose_typ_names[t]) == 0) {
			hdr = k->hdr[t];
			hlen = k->hdr_len[t];
		}
	if (hdr == NULL && (hdr = own = jose_header_encode(k, typ, &hlen)) == NULL)
		goto out;
	if (payload_len > (JOSE_MAX_TOKEN_LEN * (size_t)16)) {
		why = "payload too large";
		goto out;
	}
	/* One allocation: header.payload is written in place, signed, and the
	 * signature appended. */
	plen = b64url_encoded_len(payload_len);
	slen = b64url_encoded_len(k->sig_len);
	if ((tok = malloc(hlen + 1 + plen + 1 + slen + 1)) == NULL)
		goto out;
	memcpy(tok, hdr, hlen);
	o = hlen;
	tok[o++] = '.';
	o += b64url_encode((const uint8_t *)payload, payload_len, tok + o);
	if (jose_sign_raw(k, (const uint8_t *)tok, o, sig, &siglen) == -1) {
		why = "signing failed";
		goto out;
	}
	tok[o++] = '.';
	o += b64url_encode(sig, siglen, tok + o);
	*out = tok;
	*outlen = o;
	tok = NULL;
	rc = 0;
out:
	free(own);
	free(tok);
	if (rc == -1 && err != NULL)
		*err = why;
	return rc;
}

/* Parses a JSON object, refusing duplicate member names (RFC 7515 §5.2
 * step 4: reject or take the last; we reject) and trailing bytes. */
static json_t *
load_object(const uint8_t *buf, size_t len)
{
	json_error_t jerr;
	json_t *j;

	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

int
jose_verify_compact(const char *token, size_t len, jose_key_lookup_fn lookup,
    void *arg, json_t **header, json_t **claims, const struct jose_key **key,
    const char **err)
{
	/* Decoded segments are at most 3/4 of the bounded token. */
	uint8_t buf[JOSE_MAX_TOKEN_LEN / 4 * 3 + 3];
	const char *d1, *d2, *why = "malformed token", *kid;
	const struct jose_key *k;
	json_t *h = NULL, *c = NULL, *v;
	size_t hl, pl, sl, hn, pn, sn;
	enum jose_alg alg;
	int rc = -1;

	if (token == NULL || len == 0)
		goto out;
	if (len > JOSE_MAX_TOKEN_LEN) {
		why = "token too long";
		goto out;
	}
	/* Exactly three segments (RFC 7515 §7.1; five would be JWE). */
	if ((d1 = memchr(token, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))) == NULL ||
	    memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
		goto out;
	hl = (size_t)(d1 - token);
	pl = (size_t)(d2 - d1 - 1);
	sl = len - (size_t)(d2 + 1 - token);
	if (hl == 0 || pl == 0 || sl == 0)
		goto out;
	if (b64url_decode(token, hl, buf, sizeof(buf), &hn) == -1 ||
	    (h = load_object(buf, hn)) == NULL) {
		why = "malformed token header";
		goto out;
	}
	/* We implement no extensions, so any crit fails (RFC 7515 §4.1.11). */
	if (json_object_get(h, "crit") != NULL) {
		why = "unsupported crit header";
		goto out;
	}
	v = json_object_get(h, "alg");
	if (!json_is_string(v)) {
		why = "missing alg";
		goto out;
	}
	/* Exact, case-sensitive names only: none/NoNe/HS256 are refused here,
	 * before any key is looked up (RFC 8725 §3.1). */
	if (jose_alg_from_name(json_string_value(v), &alg) == -1 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		why = "unsupported algorithm";
		goto out;
	}
	v = json_object_get(h, "kid");
	if (!json_is_string(v)) {
		why = "missing kid";
		goto out;
	}
	kid = json_string_value(v);
	if (json_string_length(v) == 0 || json_string_length(v) > JOSE_MAX_KID_LEN ||
	    strlen(kid) != json_string_length(v)) {
		why = "bad kid";
		goto out;
	}
	if ((k = lookup(arg, kid)) == NULL) {
		why = "unknown kid";
		goto out;
	}
	if (alg != k->alg) {
		why = "algorithm mismatch";
		goto out;
	}
	if (b64url_decode(d2 + 1, sl, buf, sizeof(buf), &sn) == -1 ||
	    jose_verify_raw(k, (const uint8_t *)token, (size_t)(d2 - token),
	    buf, sn) == -1) {
		why = "bad signature";
		goto out;
	}
	if (b64url_decode(d1 + 1, pl, buf, sizeof(buf), &pn) == -1 ||
	    (c = load_object(buf, pn)) == NULL) {
		why = "malformed token payload";
		goto out;
	}
	if (header != NULL) {
		*header = h;
		h = NULL;
	}
	if (claims != NULL) {
		*claims = c;
		c = NULL;
	}
	if (key != NULL)
		*key = k;
	rc = 0;
out:
	json_decref(h);
	json_decref(c);
	if (rc == -1 && err != NULL)
		*err = why;
	return rc;
}
