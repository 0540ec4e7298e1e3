/* jws.c — compact JWS (RFC 7515 §7.1) signing and verification. */
#include <pthread.h>
#include <stdatomic.h>
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

/* SHA-256, fetched once for the pre-hash of RS/PS/ES256 (a fetch per call
 * is a method-store lookup under a lock). Read-only afterwards. */
static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/*
 * The parameters of each algorithm's signature operation. PS256 is
 * RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (RFC 7518 §3.5:
 * the salt is as long as the digest); verification insists on exactly that
 * salt length.
 */
static int
pkey_op_init(EVP_PKEY_CTX *c, const struct jose_key *k, int sign)
{
	OSSL_PARAM p[5], *q = p;
	int saltlen = 32;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_SIGNATURE_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	if (k->alg == JOSE_ALG_PS256) {
		*q++ = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_PAD_MODE, (char *)OSSL_PKEY_RSA_PAD_MODE_PSS, 0);
		*q++ = OSSL_PARAM_construct_utf8_string(
		    OSSL_SIGNATURE_PARAM_MGF1_DIGEST, (char *)"SHA256", 0);
		*q++ = OSSL_PARAM_construct_int(OSSL_SIGNATURE_PARAM_PSS_SALTLEN,
		    &saltlen);
	}
	*q = OSSL_PARAM_construct_end();
	if (sign)
		return EVP_PKEY_sign_init_ex(c, p) == 1 ? 0 : -1;
	return EVP_PKEY_verify_init_ex(c, p) == 1 ? 0 : -1;
}

int
jose_ops_init(struct jose_key *k)
{
	pthread_once(&sha256_once, sha256_fetch);
	if (sha256 == NULL)
		return -1;
	if (k->alg == JOSE_ALG_EDDSA) {
		/* Pure EdDSA: no digest (RFC 8032 §5.1.6 hashes internally). */
		if ((k->md_verify = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestVerifyInit_ex(k->md_verify, NULL, NULL, NULL, NULL,
		    k->pkey, NULL) != 1)
			return -1;
		if (k->priv && ((k->md_sign = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit_ex(k->md_sign, NULL, NULL, NULL, NULL,
		    k->pkey, NULL) != 1))
			return -1;
		return 0;
	}
	if ((k->pk_verify = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) == NULL ||
	    pkey_op_init(k->pk_verify, k, 0) == -1)
		return -1;
	if (k->priv && ((k->pk_sign = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey,
	    NULL)) == NULL || pkey_op_init(k->pk_sign, k, 1) == -1))
		return -1;
	if (k->priv && k->alg == JOSE_ALG_ES256)
		k->presign = presign_pool_new(k->pkey);
	if (k->priv && (k->alg == JOSE_ALG_RS256 || k->alg == JOSE_ALG_PS256) &&
	    (k->signers = calloc(1, sizeof(*k->signers))) == NULL)
		return -1;
	return 0;
}

void
jose_ops_free(struct jose_key *k)
{
	EVP_PKEY_CTX_free(k->pk_sign);
	EVP_PKEY_CTX_free(k->pk_verify);
	EVP_MD_CTX_free(k->md_sign);
	EVP_MD_CTX_free(k->md_verify);
	presign_pool_release(k->presign);
	k->presign = NULL;
	if (k->signers != NULL)
		for (size_t i = 0; i < JOSE_RSA_SIGNERS; i++)
			EVP_PKEY_CTX_free(atomic_load(&k->signers->c[i]));
	free(k->signers);
	k->signers = NULL;
	k->pk_sign = k->pk_verify = NULL;
	k->md_sign = k->md_verify = NULL;
}

/* A signing template over a copy of k's private key; NULL when out of
 * memory. */
static EVP_PKEY_CTX *
signer_new(const struct jose_key *k)
{
	EVP_PKEY *copy = EVP_PKEY_dup(k->pkey);
	EVP_PKEY_CTX *c = copy != NULL ? EVP_PKEY_CTX_new_from_pkey(NULL, copy, NULL) : NULL;

	EVP_PKEY_free(copy);	/* the template holds it */
	if (c != NULL && pkey_op_init(c, k, 1) == -1) {
		EVP_PKEY_CTX_free(c);
		c = NULL;
	}
	return c;
}

/* The signing template of k this thread uses: for RSA, the copy of the key
 * numbered for this thread (jose_int.h jose_signers), made on first use, so
 * that the thread that first signs with a copy, and owns its blinding, is
 * the one that keeps signing with it. Threads past JOSE_RSA_SIGNERS share
 * numbers; two making one copy at once keep the first made. */
static EVP_PKEY_CTX *
sign_template(const struct jose_key *k)
{
	static atomic_uint threads;
	static _Thread_local int slot = -1;
	EVP_PKEY_CTX *c, *none = NULL;

	if (k->signers == NULL)
		return k->pk_sign;
	if (slot < 0)
		slot = (int)(atomic_fetch_add(&threads, 1) % JOSE_RSA_SIGNERS);
	if ((c = atomic_load(&k->signers->c[slot])) != NULL)
		return c;
	if ((c = signer_new(k)) == NULL)
		return k->pk_sign;	/* signs all the same, on the shared key */
	if (!atomic_compare_exchange_strong(&k->signers->c[slot], &none, c)) {
		EVP_PKEY_CTX_free(c);
		c = none;
	}
	return c;
}

/* The RS/PS/ES256 part of pkey_op, on the SHA-256 digest h of the input. */
static int
digest_op(const struct jose_key *k, const uint8_t h[32], uint8_t *out,
    size_t *outlen, const uint8_t *vsig, size_t vlen)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_dup(out != NULL ? sign_template(k) : k->pk_verify);
	int rc;

	if (c == NULL)
		return -1;
	if (out != NULL)
		rc = EVP_PKEY_sign(c, out, outlen, h, 32) == 1 ? 0 : -1;
	else
		rc = EVP_PKEY_verify(c, vsig, vlen, h, 32) == 1 ? 0 : -1;
	EVP_PKEY_CTX_free(c);
	return rc;
}

/*
 * One signature or verification of in[0..n) with a private copy of k's
 * template, so that any number of threads may use one key at once (the
 * template and the EVP_PKEY are only read). Signs into out (*outlen in-out)
 * when out is set, else verifies vsig[0..vlen). Returns 0 or -1.
 */
static int
pkey_op(const struct jose_key *k, const uint8_t *in, size_t n, uint8_t *out,
    size_t *outlen, const uint8_t *vsig, size_t vlen)
{
	int sign = out != NULL;
	EVP_MD_CTX *m = NULL;
	uint8_t h[32];
	int rc = -1;

	if (k->alg == JOSE_ALG_EDDSA) {
		if ((m = EVP_MD_CTX_new()) == NULL ||
		    EVP_MD_CTX_copy_ex(m, sign ? k->md_sign : k->md_verify) != 1)
			goto out;
		if (sign)
			rc = EVP_DigestSign(m, out, outlen, in, n) == 1 ? 0 : -1;
		else
			rc = EVP_DigestVerify(m, vsig, vlen, in, n) == 1 ? 0 : -1;
		goto out;
	}
	if (EVP_Digest(in, n, h, NULL, sha256, NULL) == 1)
		rc = digest_op(k, h, out, outlen, vsig, vlen);
out:
	EVP_MD_CTX_free(m);
	return rc;
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
	uint8_t der[80];
	size_t len;

	if (!k->priv)
		return -1;
	if (k->alg == JOSE_ALG_ES256) {
		uint8_t h[32];

		/* With a nonce made ahead (presign.h), else whole; one digest
		 * either way. */
		if (EVP_Digest(in, n, h, NULL, sha256, NULL) != 1)
			return -1;
		if (presign_sign(k->presign, h, sig) == 0) {
			*siglen = 64;
			return 0;
		}
		len = sizeof(der);
		if (digest_op(k, h, der, &len, NULL, 0) == -1 ||
		    ecdsa_der_to_raw(der, len, sig) == -1)
			return -1;
		len = 64;
	} else {
		len = JOSE_MAX_SIG_LEN;
		if (pkey_op(k, in, n, sig, &len, NULL, 0) == -1 || len != k->sig_len)
			return -1;
	}
	*siglen = len;
	return 0;
}

int
jose_verify_raw(const struct jose_key *k, const uint8_t *in, size_t n,
    const uint8_t *sig, size_t siglen)
{
	uint8_t der[80];

	if (siglen != k->sig_len)
		return -1;
	if (k->alg == JOSE_ALG_ES256) {
		if (ecdsa_raw_to_der(sig, der, sizeof(der), &siglen) == -1)
			return -1;
		sig = der;
	}
	return pkey_op(k, in, n, NULL, NULL, sig, siglen);
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
	/* Never issue a token that verification (ours or a gate's) refuses. */
	if (payload_len > JOSE_MAX_TOKEN_LEN) {
		why = "token too large";
		goto out;
	}
	plen = b64url_encoded_len(payload_len);
	slen = b64url_encoded_len(k->sig_len);
	if (hlen + 1 + plen + 1 + slen > JOSE_MAX_TOKEN_LEN) {
		why = "token too large";
		goto out;
	}
	/* One allocation: header.payload is written in place, signed, and the
	 * signature appended. */
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

/* Decodes one segment into buf and reads it as an object of at most cap
 * members. Duplicate names are refused (RFC 7515 §5.2 step 4: reject or
 * take the last; we reject), and so are trailing bytes. */
static int
load_object(const char *seg, size_t n, char *buf, struct json_view *v,
    struct json_view_member *m, size_t cap)
{
	size_t len;

	v->m = m;
	v->cap = cap;
	v->n = 0;
	if (b64url_decode(seg, n, (uint8_t *)buf, JOSE_MAX_SEGMENT, &len) == -1)
		return -1;
	return json_view_parse(v, buf, len, NULL);
}

/* A header parameter that is a string, or NULL. */
static const struct json_view_member *
header_string(const struct json_view *h, const char *name)
{
	const struct json_view_member *m = json_view_get(h, name);

	return m != NULL && m->type == JSON_VIEW_STRING ? m : NULL;
}

/* Exactly three segments, none empty (RFC 7515 §7.1; five would be JWE):
 * the two dots into *d1 and *d2. */
static int
segments(const char *token, size_t len, const char **d1, const char **d2)
{
	if ((*d1 = memchr(token, '.', len)) == NULL ||
	    (*d2 = memchr(*d1 + 1, '.', len - (size_t)(*d1 + 1 - token))) == NULL ||
	    memchr(*d2 + 1, '.', len - (size_t)(*d2 + 1 - token)) != NULL)
		return -1;
	if (*d1 == token || *d2 == *d1 + 1 || *d2 + 1 == token + len)
		return -1;
	return 0;
}

/* The key the header names, if its alg is the key's: NULL with *why set
 * when the header asks for anything we do not do. */
static const struct jose_key *
header_key(const struct json_view *h, jose_key_lookup_fn lookup, void *arg, const char **why)
{
	const struct json_view_member *alg_m, *kid_m;
	const struct jose_key *k;
	enum jose_alg alg;

	/* We implement no extensions, so any crit fails (RFC 7515 §4.1.11). */
	if (json_view_get(h, "crit") != NULL) {
		*why = "unsupported crit header";
		return NULL;
	}
	/* Exact, case-sensitive names only: none/NoNe/HS256 are refused here,
	 * before any key is looked up (RFC 8725 §3.1). */
	if ((alg_m = header_string(h, "alg")) == NULL) {
		*why = "missing alg";
		return NULL;
	}
	if (jose_alg_from_name(alg_m->str, &alg) == -1) {
		*why = "unsupported algorithm";
		return NULL;
	}
	if ((kid_m = header_string(h, "kid")) == NULL) {
		*why = "missing kid";
		return NULL;
	}
	if (kid_m->len == 0 || kid_m->len > JOSE_MAX_KID_LEN) {
		*why = "bad kid";
		return NULL;
	}
	if ((k = lookup(arg, kid_m->str)) == NULL) {
		*why = "unknown kid";
		return NULL;
	}
	if (alg != k->alg) {
		*why = "algorithm mismatch";
		return NULL;
	}
	return k;
}

int
jose_verify_compact(const char *token, size_t len, jose_key_lookup_fn lookup,
    void *arg, struct jose_jwt *jwt, const struct jose_key **key,
    const char **err)
{
	const char *d1, *d2, *why = "malformed token";
	const struct jose_key *k;
	size_t sl, sn;
	int rc = -1;

	jwt->header.n = jwt->claims.n = 0;
	if (token == NULL || len == 0)
		goto out;
	if (len > JOSE_MAX_TOKEN_LEN) {
		why = "token too long";
		goto out;
	}
	if (segments(token, len, &d1, &d2) == -1)
		goto out;
	sl = len - (size_t)(d2 + 1 - token);
	if (load_object(token, (size_t)(d1 - token), jwt->header_buf, &jwt->header, jwt->header_m,
	    JOSE_MAX_HEADER_MEMBERS) == -1) {
		why = "malformed token header";
		goto out;
	}
	if ((k = header_key(&jwt->header, lookup, arg, &why)) == NULL)
		goto out;
	/* The signature is decoded where the claims will be, before them. */
	if (b64url_decode(d2 + 1, sl, (uint8_t *)jwt->claims_buf, JOSE_MAX_SEGMENT,
	    &sn) == -1 || jose_verify_raw(k, (const uint8_t *)token,
	    (size_t)(d2 - token), (const uint8_t *)jwt->claims_buf, sn) == -1) {
		why = "bad signature";
		goto out;
	}
	if (load_object(d1 + 1, (size_t)(d2 - d1 - 1), jwt->claims_buf, &jwt->claims,
	    jwt->claims_m, JOSE_MAX_CLAIMS) == -1) {
		why = "malformed token payload";
		goto out;
	}
	if (key != NULL)
		*key = k;
	rc = 0;
out:
	if (rc == -1) {
		jwt->header.n = jwt->claims.n = 0;
		if (err != NULL)
			*err = why;
	}
	return rc;
}
