/*
 * test_jose_jws.c — compact JWS and JWK: known answers from RFC 7515
 * Appendix A and RFC 8037 Appendix A, round trips for every algorithm, and
 * every bad token of RFC 8725 with the exact error it must get.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jose/b64url.h"
#include "jose/jose.h"
#include "jose/jose_int.h"

/* ---- RFC vectors ---- */

/* RFC 7515 A.2 / A.3 payload (with its CRLFs). */
#define RFC_PAYLOAD_B64 "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"

static const char *rsa_a2[][2] = {
	{ "n", "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ" },
	{ "e", "AQAB" },
	{ "d", "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ" },
	{ "rsa-factor1", "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc" },
	{ "rsa-factor2", "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc" },
	{ "rsa-exponent1", "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0" },
	{ "rsa-exponent2", "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU" },
	{ "rsa-coefficient1", "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U" },
};
static const char rsa_a2_input[] = "eyJhbGciOiJSUzI1NiJ9." RFC_PAYLOAD_B64;
static const char rsa_a2_sig[] =
    "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";

static const char es_a3_x[] = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
static const char es_a3_y[] = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
static const char es_a3_input[] = "eyJhbGciOiJFUzI1NiJ9." RFC_PAYLOAD_B64;
static const char es_a3_sig[] =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
    "pmWQxfKTUJqPP3-Kg6NU1Q";

static const char ed_a1_d[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
static const char ed_a1_x[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
static const char ed_a4_input[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
static const char ed_a4_sig[] =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

/* ---- helpers ---- */

static struct jose_key *keys[JOSE_ALG__MAX];	/* generated once */

static size_t
dec(const char *s, uint8_t *out, size_t cap)
{
	size_t n;

	assert_int_equal(b64url_decode(s, strlen(s), out, cap, &n), 0);
	return n;
}

/* A key from an EVP_PKEY via PKCS#8 DER, as the store hands it over. */
static struct jose_key *
key_from_pkey(enum jose_alg alg, const char *kid, EVP_PKEY *pkey)
{
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(pkey);
	unsigned char *der = NULL;
	struct jose_key *k = NULL;
	const char *err = NULL;
	int n;

	assert_non_null(p8);
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	assert_true(n > 0);
	assert_int_equal(jose_key_from_private_der(alg, kid, der, (size_t)n, &k,
	    &err), 0);
	OPENSSL_free(der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pkey);
	return k;
}

static const struct jose_key *
lookup_list(void *arg, const char *kid)
{
	struct jose_key **l = arg;

	for (; *l != NULL; l++)
		if (strcmp(jose_key_kid(*l), kid) == 0)
			return *l;
	return NULL;
}

/* Verifies against all generated keys; returns the error or NULL. */
static const char *
verify_err(const char *tok, size_t len)
{
	struct jose_key *l[JOSE_ALG__MAX + 1];
	struct jose_jwt jwt;
	const char *err = NULL;
	int rc;

	memcpy(l, keys, sizeof(keys));
	l[JOSE_ALG__MAX] = NULL;
	rc = jose_verify_compact(tok, len, lookup_list, l, &jwt, NULL, &err);
	if (rc == 0) {
		assert_null(err);
		return NULL;
	}
	assert_non_null(err);
	return err;
}

static const char *
verify_str(const char *tok)
{
	return verify_err(tok, strlen(tok));
}

/*
 * A token with exactly these header and payload bytes, signed by k with the
 * real signature (so that only the property under test is wrong), or with
 * sig as given when k is NULL. malloc'd.
 */
static char *
forge(const struct jose_key *k, const char *hdr, const char *payload,
    const char *sig)
{
	size_t hl = strlen(hdr), pl = strlen(payload), o, sl;
	char *t = malloc(b64url_encoded_len(hl) + b64url_encoded_len(pl) +
	    b64url_encoded_len(JOSE_MAX_SIG_LEN) + (sig ? strlen(sig) : 0) + 3);
	uint8_t s[JOSE_MAX_SIG_LEN];

	assert_non_null(t);
	o = b64url_encode((const uint8_t *)hdr, hl, t);
	t[o++] = '.';
	o += b64url_encode((const uint8_t *)payload, pl, t + o);
	if (k != NULL) {
		assert_int_equal(jose_sign_raw(k, (const uint8_t *)t, o, s, &sl), 0);
		t[o++] = '.';
		b64url_encode(s, sl, t + o);
	} else {
		t[o++] = '.';
		strcpy(t + o, sig != NULL ? sig : "");
	}
	return t;
}

static char *
hdr_for(const struct jose_key *k, const char *extra)
{
	static char h[1024];

	snprintf(h, sizeof(h), "{\"alg\":\"%s\",\"kid\":\"%.64s\"%s%.400s}",
	    jose_alg_names[jose_key_alg(k)], jose_key_kid(k),
	    extra ? "," : "", extra ? extra : "");
	return h;
}

static int
setup(void **state)
{
	static const char *kids[] = { "rs-1", "ps-1", "es-1", "ed-1" };

	(void)state;
	for (int a = 0; a < JOSE_ALG__MAX; a++)
		if (jose_key_generate((enum jose_alg)a, kids[a], &keys[a], NULL) == -1)
			return -1;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int a = 0; a < JOSE_ALG__MAX; a++)
		jose_key_free(keys[a]);
	return 0;
}

/* ---- known answers ---- */

/* RFC 8037 A.4: Ed25519 is deterministic, so the signature is exact. */
static void
test_rfc8037_ed25519(void **state)
{
	uint8_t d[32], sig[JOSE_MAX_SIG_LEN];
	char enc[128];
	size_t sl;
	struct jose_key *k, *pub = NULL;
	json_t *jwk;
	const char *err;

	(void)state;
	assert_int_equal(dec(ed_a1_d, d, sizeof(d)), 32);
	k = key_from_pkey(JOSE_ALG_EDDSA, "rfc8037",
	    EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, d, 32));
	assert_non_null(k);
	assert_int_equal(jose_sign_raw(k, (const uint8_t *)ed_a4_input,
	    strlen(ed_a4_input), sig, &sl), 0);
	assert_int_equal(sl, 64);
	b64url_encode(sig, sl, enc);
	assert_string_equal(enc, ed_a4_sig);

	/* The public JWK is RFC 8037 A.1's, and parses back to a verifier. */
	jwk = jose_key_public_jwk(k);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "OKP");
	assert_string_equal(json_string_value(json_object_get(jwk, "crv")), "Ed25519");
	assert_string_equal(json_string_value(json_object_get(jwk, "x")), ed_a1_x);
	assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "EdDSA");
	assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
	assert_string_equal(json_string_value(json_object_get(jwk, "kid")), "rfc8037");
	assert_null(json_object_get(jwk, "d"));
	assert_int_equal(jose_key_from_jwk(jwk, &pub, &err), 0);
	json_decref(jwk);
	assert_int_equal(jose_key_can_sign(pub), 0);
	assert_int_equal(jose_verify_raw(pub, (const uint8_t *)ed_a4_input,
	    strlen(ed_a4_input), sig, sl), 0);
	sig[10] ^= 1;
	assert_int_equal(jose_verify_raw(pub, (const uint8_t *)ed_a4_input,
	    strlen(ed_a4_input), sig, sl), -1);
	jose_key_free(pub);
	jose_key_free(k);
}

/* RFC 7515 A.2: RSASSA-PKCS1-v1_5 is deterministic too. */
static void
test_rfc7515_rs256(void **state)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn[8];
	uint8_t buf[512], sig[JOSE_MAX_SIG_LEN];
	char enc[512];
	size_t n, sl;
	struct jose_key *k, *pub = NULL;
	json_t *jwk;
	const char *err = NULL;

	(void)state;
	for (int i = 0; i < 8; i++) {
		n = dec(rsa_a2[i][1], buf, sizeof(buf));
		bn[i] = BN_bin2bn(buf, (int)n, NULL);
		assert_int_equal(OSSL_PARAM_BLD_push_BN(bld, rsa_a2[i][0], bn[i]), 1);
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
	assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_KEYPAIR, params), 1);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	for (int i = 0; i < 8; i++)
		BN_free(bn[i]);

	k = key_from_pkey(JOSE_ALG_RS256, "rfc7515-a2", pkey);
	assert_non_null(k);
	assert_int_equal(jose_sign_raw(k, (const uint8_t *)rsa_a2_input,
	    strlen(rsa_a2_input), sig, &sl), 0);
	assert_int_equal(sl, 256);
	b64url_encode(sig, sl, enc);
	assert_string_equal(enc, rsa_a2_sig);

	/* n and e come out exactly as the RFC spells them. */
	jwk = jose_key_public_jwk(k);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "RSA");
	assert_string_equal(json_string_value(json_object_get(jwk, "n")), rsa_a2[0][1]);
	assert_string_equal(json_string_value(json_object_get(jwk, "e")), "AQAB");
	assert_null(json_object_get(jwk, "d"));
	assert_null(json_object_get(jwk, "p"));
	assert_int_equal(jose_key_from_jwk(jwk, &pub, &err), 0);
	json_decref(jwk);
	assert_int_equal(jose_verify_raw(pub, (const uint8_t *)rsa_a2_input,
	    strlen(rsa_a2_input), sig, sl), 0);
	jose_key_free(pub);
	jose_key_free(k);
}

/* RFC 7515 A.3: ECDSA is randomized, so verify the RFC's signature. */
static void
test_rfc7515_es256(void **state)
{
	json_t *jwk = json_pack("{s:s,s:s,s:s,s:s,s:s}", "kty", "EC", "crv", "P-256",
	    "x", es_a3_x, "y", es_a3_y, "kid", "rfc7515-a3");
	struct jose_key *pub = NULL;
	uint8_t sig[64];
	const char *err = NULL;
	json_t *back;

	(void)state;
	assert_int_equal(jose_key_from_jwk(jwk, &pub, &err), 0);
	assert_int_equal(jose_key_alg(pub), JOSE_ALG_ES256);
	assert_int_equal(dec(es_a3_sig, sig, sizeof(sig)), 64);
	assert_int_equal(jose_verify_raw(pub, (const uint8_t *)es_a3_input,
	    strlen(es_a3_input), sig, 64), 0);
	sig[63] ^= 1;
	assert_int_equal(jose_verify_raw(pub, (const uint8_t *)es_a3_input,
	    strlen(es_a3_input), sig, 64), -1);
	/* x and y come back out unchanged (32 bytes each). */
	back = jose_key_public_jwk(pub);
	assert_string_equal(json_string_value(json_object_get(back, "x")), es_a3_x);
	assert_string_equal(json_string_value(json_object_get(back, "y")), es_a3_y);
	assert_string_equal(json_string_value(json_object_get(back, "crv")), "P-256");
	json_decref(back);
	json_decref(jwk);
	jose_key_free(pub);
}

/* ---- round trips ---- */

static void
test_round_trip_all(void **state)
{
	static const char *typs[] = { "at+jwt", "JWT", "application/x+jwt", NULL };
	const char *payload = "{\"sub\":\"client-1\",\"exp\":2000000000,\"scope\":\"a b\"}";

	(void)state;
	for (int a = 0; a < JOSE_ALG__MAX; a++) {
		for (size_t t = 0; t < sizeof(typs) / sizeof(typs[0]); t++) {
			struct jose_key *l[] = { keys[a], NULL };
			const struct jose_key *used = NULL;
			struct jose_jwt jwt;
			const struct json_view_member *m;
			char *tok = NULL;
			size_t len = 0;
			const char *err = NULL;

			assert_int_equal(jose_sign_compact(keys[a], typs[t], payload,
			    strlen(payload), &tok, &len, &err), 0);
			assert_int_equal(strlen(tok), len);
			assert_int_equal(jose_verify_compact(tok, len, lookup_list, l,
			    &jwt, &used, &err), 0);
			assert_ptr_equal(used, keys[a]);
			assert_non_null(m = json_view_get(&jwt.header, "alg"));
			assert_string_equal(m->str, jose_alg_names[a]);
			assert_non_null(m = json_view_get(&jwt.header, "kid"));
			assert_string_equal(m->str, jose_key_kid(keys[a]));
			if (typs[t] != NULL) {
				assert_non_null(m = json_view_get(&jwt.header, "typ"));
				assert_string_equal(m->str, typs[t]);
			} else {
				assert_null(json_view_get(&jwt.header, "typ"));
			}
			assert_int_equal(jwt.header.n, typs[t] ? 3 : 2);
			assert_non_null(m = json_view_get(&jwt.claims, "sub"));
			assert_int_equal(m->type, JSON_VIEW_STRING);
			assert_string_equal(m->str, "client-1");
			free(tok);
		}
	}
}

/* The at+jwt header is exactly {"alg","typ","kid"} in that order. */
static void
test_header_bytes(void **state)
{
	char *tok = NULL, want[128];
	size_t len;
	uint8_t h[256];
	size_t hn;

	(void)state;
	assert_int_equal(jose_sign_compact(keys[JOSE_ALG_RS256], "at+jwt", "{}", 2,
	    &tok, &len, NULL), 0);
	assert_int_equal(b64url_decode(tok, (size_t)(strchr(tok, '.') - tok), h,
	    sizeof(h), &hn), 0);
	snprintf(want, sizeof(want), "{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"rs-1\"}");
	assert_int_equal(hn, strlen(want));
	assert_memory_equal(h, want, hn);
	/* Signature of an RSA-2048 key: 256 bytes, 342 characters. */
	assert_int_equal(strlen(strrchr(tok, '.') + 1), 342);
	free(tok);
}

/* A key survives PKCS#8 and JWK: the reloaded private key signs tokens the
 * JWK-built public key verifies. */
static void
test_der_and_jwk_round_trip(void **state)
{
	(void)state;
	for (int a = 0; a < JOSE_ALG__MAX; a++) {
		uint8_t *der = NULL;
		size_t derlen = 0;
		struct jose_key *k2 = NULL, *pub = NULL;
		struct jose_key *l[2] = { NULL, NULL };
		const char *err = NULL;
		json_t *jwk;
		char *tok = NULL;
		size_t len;
		struct jose_jwt jwt;

		assert_int_equal(jose_key_private_der(keys[a], &der, &derlen, &err), 0);
		assert_int_equal(jose_key_from_private_der((enum jose_alg)a,
		    jose_key_kid(keys[a]), der, derlen, &k2, &err), 0);
		/* Trailing bytes and a wrong algorithm are refused. */
		assert_int_equal(jose_key_from_private_der((enum jose_alg)a, "x",
		    der, derlen - 1, &pub, &err), -1);
		assert_int_equal(jose_key_from_private_der(
		    (enum jose_alg)((a + 2) % JOSE_ALG__MAX), "x", der, derlen,
		    &pub, &err), -1);
		free(der);
		jwk = jose_key_public_jwk(keys[a]);
		assert_non_null(jwk);
		assert_int_equal(jose_key_from_jwk(jwk, &pub, &err), 0);
		json_decref(jwk);
		assert_int_equal(jose_key_can_sign(pub), 0);
		assert_int_equal(jose_key_private_der(pub, &der, &derlen, &err), -1);
		assert_int_equal(jose_sign_compact(pub, "at+jwt", "{}", 2, &tok, &len,
		    &err), -1);
		assert_int_equal(jose_sign_compact(k2, "at+jwt", "{\"a\":1}", 7, &tok,
		    &len, &err), 0);
		l[0] = pub;
		assert_int_equal(jose_verify_compact(tok, len, lookup_list, l, &jwt,
		    NULL, &err), 0);
		free(tok);
		jose_key_free(pub);
		jose_key_free(k2);
	}
}

/* PS256 uses a 32-byte salt (RFC 7518 §3.5), checked by an independent
 * verifier that insists on 32; a 20-byte salt is refused by ours. */
static void
test_ps256_salt(void **state)
{
	const struct jose_key *k = keys[JOSE_ALG_PS256];
	const char *msg = "header.payload";
	uint8_t sig[JOSE_MAX_SIG_LEN];
	size_t sl = sizeof(sig);
	EVP_MD_CTX *m;
	EVP_PKEY_CTX *p = NULL;
	char *tok, enc[400];

	(void)state;
	assert_int_equal(jose_sign_raw(k, (const uint8_t *)msg, strlen(msg), sig, &sl), 0);
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit_ex(m, &p, "SHA256", NULL, NULL, k->pkey, NULL), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(p, 32), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, sl, (const uint8_t *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(m);

	/* Same key, salt 20: a valid PSS signature, but not PS256's. */
	tok = forge(NULL, hdr_for(k, NULL), "{}", "");
	m = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit_ex(m, &p, "SHA256", NULL, NULL, k->pkey, NULL), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(p, RSA_PKCS1_PSS_PADDING), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(p, 20), 1);
	sl = sizeof(sig);
	assert_int_equal(EVP_DigestSign(m, sig, &sl, (const uint8_t *)tok,
	    strlen(tok) - 1), 1);
	EVP_MD_CTX_free(m);
	b64url_encode(sig, sl, enc);
	tok = realloc(tok, strlen(tok) + strlen(enc) + 1);
	strcat(tok, enc);
	assert_string_equal(verify_str(tok), "bad signature");
	free(tok);
}

/* ---- RFC 8725 bad tokens ---- */

static void
test_alg_none_and_hmac(void **state)
{
	const struct jose_key *rs = keys[JOSE_ALG_RS256];
	const char *algs[] = { "none", "NoNe", "NONE", "HS256", "rs256", "RS256 ", "ES512", "" };
	char hdr[128], *tok;
	uint8_t mac[32], n[512];
	unsigned int ml;
	char enc[64];
	json_t *jwk = jose_key_public_jwk(rs);
	size_t nl = dec(json_string_value(json_object_get(jwk, "n")), n, sizeof(n));

	(void)state;
	json_decref(jwk);
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"%s\",\"kid\":\"rs-1\"}", algs[i]);
		/* Unsecured: empty signature. */
		tok = forge(NULL, hdr, "{\"sub\":\"x\"}", "");
		assert_string_equal(verify_str(tok), "malformed token");
		free(tok);
		/* Key confusion: HMAC keyed with the public modulus. */
		tok = forge(NULL, hdr, "{\"sub\":\"x\"}", "");
		HMAC(EVP_sha256(), n, (int)nl, (const uint8_t *)tok, strlen(tok) - 1, mac, &ml);
		b64url_encode(mac, ml, enc);
		tok = realloc(tok, strlen(tok) + strlen(enc) + 1);
		strcat(tok, enc);
		assert_string_equal(verify_str(tok), "unsupported algorithm");
		free(tok);
	}
	/* alg not a string, or missing. */
	tok = forge(NULL, "{\"alg\":null,\"kid\":\"rs-1\"}", "{}", "AAAA");
	assert_string_equal(verify_str(tok), "missing alg");
	free(tok);
	tok = forge(NULL, "{\"alg\":[\"RS256\"],\"kid\":\"rs-1\"}", "{}", "AAAA");
	assert_string_equal(verify_str(tok), "missing alg");
	free(tok);
	tok = forge(NULL, "{\"kid\":\"rs-1\"}", "{}", "AAAA");
	assert_string_equal(verify_str(tok), "missing alg");
	free(tok);
	tok = forge(NULL, "{\"alg\":\"RS256\\u0000\",\"kid\":\"rs-1\"}", "{}", "AAAA");
	assert_non_null(verify_str(tok));
	free(tok);
}

/* A valid signature by one key under another key's kid and alg fails;
 * a token naming an algorithm other than its key's fails. */
static void
test_alg_mismatch(void **state)
{
	char *tok;

	(void)state;
	/* ES256 key's signature, header says RS256 with the RS key's kid. */
	tok = forge(keys[JOSE_ALG_ES256], "{\"alg\":\"RS256\",\"kid\":\"es-1\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "algorithm mismatch");
	free(tok);
	/* RS and PS share a key type; the key fixes which one. */
	tok = forge(keys[JOSE_ALG_RS256], "{\"alg\":\"PS256\",\"kid\":\"rs-1\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "algorithm mismatch");
	free(tok);
	tok = forge(keys[JOSE_ALG_PS256], "{\"alg\":\"RS256\",\"kid\":\"ps-1\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "algorithm mismatch");
	free(tok);
	/* Signed by ES key, but claims the Ed key's kid. */
	tok = forge(keys[JOSE_ALG_ES256], "{\"alg\":\"EdDSA\",\"kid\":\"ed-1\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "bad signature");
	free(tok);
}

static void
test_kid(void **state)
{
	const struct jose_key *es = keys[JOSE_ALG_ES256];
	static const char *unknown[] = {
		"nope", "../../../etc/passwd", "' OR 1=1 --", "es-1 ", "ES-1",
		"es-1/../es-1", "\\u00e9s-1",
	};
	char hdr[256], *tok;

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", unknown[i]);
		tok = forge(es, hdr, "{}", NULL);
		assert_string_equal(verify_str(tok), "unknown kid");
		free(tok);
	}
	tok = forge(es, "{\"alg\":\"ES256\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "missing kid");
	free(tok);
	tok = forge(es, "{\"alg\":\"ES256\",\"kid\":1}", "{}", NULL);
	assert_string_equal(verify_str(tok), "missing kid");
	free(tok);
	tok = forge(es, "{\"alg\":\"ES256\",\"kid\":\"\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "bad kid");
	free(tok);
	/* NUL inside the kid must not truncate it to "es-1". */
	tok = forge(es, "{\"alg\":\"ES256\",\"kid\":\"es-1\\u0000x\"}", "{}", NULL);
	assert_non_null(verify_str(tok));
	free(tok);
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"ES256\",\"kid\":\"%065d\"}", 0);
	tok = forge(es, hdr, "{}", NULL);
	assert_string_equal(verify_str(tok), "bad kid");
	free(tok);
}

static void
test_crit_and_ignored_headers(void **state)
{
	const struct jose_key *ed = keys[JOSE_ALG_EDDSA];
	struct jose_key *evil = NULL;
	json_t *ej;
	char extra[512], *tok, *s;

	(void)state;
	/* Validly signed, but crit names an extension we do not implement. */
	tok = forge(ed, hdr_for(ed, "\"crit\":[\"exp\"],\"exp\":1"), "{}", NULL);
	assert_string_equal(verify_str(tok), "unsupported crit header");
	free(tok);
	tok = forge(ed, hdr_for(ed, "\"crit\":[\"b64\"],\"b64\":false"), "{}", NULL);
	assert_string_equal(verify_str(tok), "unsupported crit header");
	free(tok);
	tok = forge(ed, hdr_for(ed, "\"crit\":[]"), "{}", NULL);
	assert_string_equal(verify_str(tok), "unsupported crit header");
	free(tok);

	/* jku, x5u, x5c and an embedded jwk are ignored: a valid token stays
	 * valid, and a token signed by the embedded key fails. */
	assert_int_equal(jose_key_generate(JOSE_ALG_EDDSA, "ed-1", &evil, NULL), 0);
	ej = jose_key_public_jwk(evil);
	s = json_dumps(ej, JSON_COMPACT);
	snprintf(extra, sizeof(extra), "\"jku\":\"https://evil.example/jwks\","
	    "\"x5u\":\"https://evil.example/c\",\"x5c\":[\"AAAA\"],\"jwk\":%s", s);
	free(s);
	json_decref(ej);
	tok = forge(ed, hdr_for(ed, extra), "{}", NULL);
	assert_null(verify_str(tok));
	free(tok);
	tok = forge(evil, hdr_for(ed, extra), "{}", NULL);
	assert_string_equal(verify_str(tok), "bad signature");
	free(tok);
	jose_key_free(evil);
}

static void
test_tampering(void **state)
{
	(void)state;
	for (int a = 0; a < JOSE_ALG__MAX; a++) {
		char *tok = NULL, *p, *other = NULL;
		size_t len, olen;

		assert_int_equal(jose_sign_compact(keys[a], "at+jwt",
		    "{\"sub\":\"alice\"}", 15, &tok, &len, NULL), 0);
		assert_null(verify_err(tok, len));
		/* Payload: alice -> alicf. */
		p = strchr(tok, '.') + 1;
		p[3] ^= 0x01;
		assert_non_null(verify_err(tok, len));
		p[3] ^= 0x01;
		/* Last signature byte. */
		tok[len - 2] = tok[len - 2] == 'A' ? 'B' : 'A';
		assert_string_equal(verify_err(tok, len), "bad signature");
		/* Stripped signature, with and without its dot. */
		p = strrchr(tok, '.');
		assert_string_equal(verify_err(tok, (size_t)(p - tok) + 1), "malformed token");
		assert_string_equal(verify_err(tok, (size_t)(p - tok)), "malformed token");
		/* Another token's signature on this header.payload. */
		assert_int_equal(jose_sign_compact(keys[a], "at+jwt",
		    "{\"sub\":\"bob\"}", 13, &other, &olen, NULL), 0);
		strcpy(p + 1, strrchr(other, '.') + 1);
		assert_string_equal(verify_str(tok), "bad signature");
		free(other);
		free(tok);
	}
}

/* R||S checks of RFC 7518 §3.4: zero, the order, and the wrong length. */
static void
test_ecdsa_signature_values(void **state)
{
	static const char n_hex[] =
	    "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
	const struct jose_key *es = keys[JOSE_ALG_ES256];
	uint8_t sig[64], good[64];
	char enc[128], *base, *tok;
	size_t sl;

	(void)state;
	base = forge(NULL, hdr_for(es, NULL), "{}", "");
	assert_int_equal(jose_sign_raw(es, (const uint8_t *)base, strlen(base) - 1,
	    good, &sl), 0);

	memset(sig, 0, 64);	/* the all-zero signature (CVE-2022-21449) */
	b64url_encode(sig, 64, enc);
	tok = forge(NULL, hdr_for(es, NULL), "{}", enc);
	assert_string_equal(verify_str(tok), "bad signature");
	free(tok);
	assert_int_equal(jose_verify_raw(es, (const uint8_t *)base, strlen(base) - 1,
	    sig, 64), -1);

	/* R = n, S good; R good, S = n; R good, S = 0. */
	for (int i = 0; i < 32; i++)
		sscanf(n_hex + 2 * i, "%2hhx", &sig[i]);
	memcpy(sig + 32, good + 32, 32);
	assert_int_equal(jose_verify_raw(es, (const uint8_t *)base, strlen(base) - 1,
	    sig, 64), -1);
	memcpy(sig + 32, sig, 32);
	memcpy(sig, good, 32);
	assert_int_equal(jose_verify_raw(es, (const uint8_t *)base, strlen(base) - 1,
	    sig, 64), -1);
	memset(sig + 32, 0, 32);
	assert_int_equal(jose_verify_raw(es, (const uint8_t *)base, strlen(base) - 1,
	    sig, 64), -1);
	/* The good one passes; a DER signature (not R||S) does not. */
	assert_int_equal(jose_verify_raw(es, (const uint8_t *)base, strlen(base) - 1,
	    good, 64), 0);
	assert_int_equal(jose_verify_raw(es, (const uint8_t *)base, strlen(base) - 1,
	    good, 63), -1);
	free(base);
}

static void
test_duplicate_members(void **state)
{
	const struct jose_key *rs = keys[JOSE_ALG_RS256];
	char *tok;

	(void)state;
	/* Validly signed: only the duplicate is wrong. */
	tok = forge(rs, "{\"alg\":\"RS256\",\"kid\":\"rs-1\",\"alg\":\"none\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "malformed token header");
	free(tok);
	tok = forge(rs, "{\"alg\":\"RS256\",\"kid\":\"nope\",\"kid\":\"rs-1\"}", "{}", NULL);
	assert_string_equal(verify_str(tok), "malformed token header");
	free(tok);
	tok = forge(rs, hdr_for(rs, NULL), "{\"sub\":\"a\",\"sub\":\"admin\"}", NULL);
	assert_string_equal(verify_str(tok), "malformed token payload");
	free(tok);
	/* Not objects, or trailing bytes. */
	tok = forge(rs, "[\"RS256\",\"rs-1\"]", "{}", NULL);
	assert_string_equal(verify_str(tok), "malformed token header");
	free(tok);
	tok = forge(rs, hdr_for(rs, NULL), "[1]", NULL);
	assert_string_equal(verify_str(tok), "malformed token payload");
	free(tok);
	tok = forge(rs, hdr_for(rs, NULL), "\"sub\"", NULL);
	assert_string_equal(verify_str(tok), "malformed token payload");
	free(tok);
	tok = forge(rs, hdr_for(rs, NULL), "{} {}", NULL);
	assert_string_equal(verify_str(tok), "malformed token payload");
	free(tok);
	tok = forge(rs, "{\"alg\":\"RS256\",\"kid\":\"rs-1\"}x", "{}", NULL);
	assert_string_equal(verify_str(tok), "malformed token header");
	free(tok);
	/* Sanity: the same construction without the defect verifies. */
	tok = forge(rs, hdr_for(rs, NULL), "{\"sub\":\"a\"}", NULL);
	assert_null(verify_str(tok));
	free(tok);
}

static void
test_segments_and_encoding(void **state)
{
	const struct jose_key *ed = keys[JOSE_ALG_EDDSA];
	char *tok, *bad, *big;
	size_t len;

	(void)state;
	tok = forge(ed, hdr_for(ed, NULL), "{\"sub\":\"a\"}", NULL);
	len = strlen(tok);
	assert_null(verify_str(tok));
	bad = malloc(len + 16);

	/* Four and five segments (the latter is JWE's shape). */
	snprintf(bad, len + 16, "%s.AAAA", tok);
	assert_string_equal(verify_str(bad), "malformed token");
	snprintf(bad, len + 16, "%s.AA.AA", tok);
	assert_string_equal(verify_str(bad), "malformed token");
	assert_string_equal(verify_str(".."), "malformed token");
	assert_string_equal(verify_str(""), "malformed token");
	assert_string_equal(verify_str("abc"), "malformed token");
	assert_string_equal(verify_str(".e30.AAAA"), "malformed token");

	/* Padding on the signature, and base64 (not url) characters. */
	snprintf(bad, len + 16, "%s==", tok);
	assert_string_equal(verify_str(bad), "bad signature");
	strcpy(bad, tok);
	bad[len - 5] = '+';
	assert_string_equal(verify_str(bad), "bad signature");
	strcpy(bad, tok);
	bad[2] = '/';
	assert_string_equal(verify_str(bad), "malformed token header");
	strcpy(bad, tok);
	bad[strchr(tok, '.') - tok + 2] = ' ';
	assert_non_null(verify_str(bad));
	/* Non-canonical: the signature's last character with its unused bits
	 * set decodes to the same bytes in a lax decoder. Ed25519: 64 bytes,
	 * last group of 1 byte -> 2 chars, 4 unused bits. */
	strcpy(bad, tok);
	bad[len - 1] = (char)(bad[len - 1] == 'A' ? 'B' : bad[len - 1] + 1);
	assert_string_equal(verify_str(bad), "bad signature");
	/* An embedded NUL within the bounds. */
	strcpy(bad, tok);
	bad[5] = '\0';
	assert_non_null(verify_err(bad, len));
	free(bad);

	/* 100 KB, and one byte over the bound, are refused before parsing. */
	big = malloc(100 * 1024 + 1);
	memset(big, 'A', 100 * 1024);
	big[10] = '.';
	big[20] = '.';
	big[100 * 1024] = '\0';
	assert_string_equal(verify_str(big), "token too long");
	assert_string_equal(verify_err(big, JOSE_MAX_TOKEN_LEN + 1), "token too long");
	free(big);
	free(tok);
}

/* Tokens up to the bound are issued and verify; one byte more is refused
 * at signing, so we never issue a token that verification would refuse. */
static void
test_size_bound(void **state)
{
	const struct jose_key *ed = keys[JOSE_ALG_EDDSA];
	size_t hdr = b64url_encoded_len(strlen("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"ed-1\"}"));
	size_t room = JOSE_MAX_TOKEN_LEN - hdr - 2 - 86;	/* payload chars */
	size_t pl = room / 4 * 3;				/* payload bytes */
	char *p, *tok = NULL;
	size_t len;
	const char *err = NULL;

	(void)state;
	while (b64url_encoded_len(pl + 1) <= room)	/* the most that fits */
		pl++;
	p = malloc(pl + 2);
	memset(p, 'x', pl);
	memcpy(p, "{\"", 2);
	memcpy(p + pl - 4, "\":1}", 4);
	p[pl] = '\0';
	assert_int_equal(jose_sign_compact(ed, "at+jwt", p, pl, &tok, &len, &err), 0);
	assert_true(len <= JOSE_MAX_TOKEN_LEN && len + 3 >= JOSE_MAX_TOKEN_LEN);
	assert_null(verify_err(tok, len));
	free(tok);
	tok = NULL;
	memcpy(p + pl - 4, "x\":1}", 5);
	p[pl + 1] = '\0';
	assert_int_equal(jose_sign_compact(ed, "at+jwt", p, pl + 1, &tok, &len, &err), -1);
	assert_string_equal(err, "token too large");
	assert_null(tok);
	free(p);
}

/* ---- JWK parsing ---- */

static void
test_jwk_rejects(void **state)
{
	struct jose_key *k = NULL;
	const char *err = NULL;
	json_t *good = jose_key_public_jwk(keys[JOSE_ALG_RS256]), *j;
	json_t *ec = jose_key_public_jwk(keys[JOSE_ALG_ES256]);
	EVP_PKEY *small;
	BIGNUM *n = NULL;
	uint8_t nb[128], yb[32];
	char enc[256];

	(void)state;
#define REJECT(obj) do { k = NULL; err = NULL; \
	assert_int_equal(jose_key_from_jwk((obj), &k, &err), -1); \
	assert_null(k); assert_non_null(err); json_decref(obj); } while (0)

	/* RSA without alg is ambiguous (RS256 or PS256). */
	j = json_deep_copy(good); json_object_del(j, "alg"); REJECT(j);
	j = json_deep_copy(good); json_object_set_new(j, "alg", json_string("ES256")); REJECT(j);
	j = json_deep_copy(good); json_object_set_new(j, "alg", json_string("HS256")); REJECT(j);
	j = json_deep_copy(good); json_object_set_new(j, "alg", json_string("none")); REJECT(j);
	j = json_deep_copy(good); json_object_set_new(j, "use", json_string("enc")); REJECT(j);
	j = json_deep_copy(good); json_object_del(j, "kid"); REJECT(j);
	j = json_deep_copy(good); json_object_set_new(j, "kty", json_string("oct")); REJECT(j);
	j = json_deep_copy(good); json_object_set_new(j, "e", json_string("AAEAAQ")); REJECT(j);	/* leading zero */
	j = json_deep_copy(good); json_object_set_new(j, "e", json_string("AQA")); REJECT(j);	/* even */
	j = json_deep_copy(good); json_object_set_new(j, "n", json_string("AQAB")); REJECT(j);	/* tiny */
	j = json_deep_copy(good); json_object_set_new(j, "n", json_integer(3)); REJECT(j);
	/* A 1024-bit modulus. */
	small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	assert_int_equal(EVP_PKEY_get_bn_param(small, "n", &n), 1);
	b64url_encode(nb, (size_t)BN_bn2bin(n, nb), enc);
	BN_free(n);
	EVP_PKEY_free(small);
	j = json_deep_copy(good); json_object_set_new(j, "n", json_string(enc)); REJECT(j);

	/* EC: a point off the curve, short coordinates, another curve. */
	j = json_deep_copy(ec);
	dec(json_string_value(json_object_get(j, "y")), yb, 32);
	yb[31] ^= 1;
	b64url_encode(yb, 32, enc);
	json_object_set_new(j, "y", json_string(enc));
	REJECT(j);
	j = json_deep_copy(ec); json_object_set_new(j, "x", json_string("AAAA")); REJECT(j);
	j = json_deep_copy(ec); json_object_set_new(j, "crv", json_string("P-384")); REJECT(j);
	j = json_deep_copy(ec); json_object_set_new(j, "alg", json_string("RS256")); REJECT(j);
	j = json_deep_copy(ec); json_object_del(j, "y"); REJECT(j);
	/* The origin is not on P-256. */
	j = json_deep_copy(ec);
	memset(yb, 0, 32);
	b64url_encode(yb, 32, enc);
	json_object_set_new(j, "x", json_string(enc));
	json_object_set_new(j, "y", json_string(enc));
	REJECT(j);
	j = json_string("not an object"); REJECT(j);

	/* Private members are ignored: the key is public only. */
	j = json_deep_copy(ec);
	json_object_set_new(j, "d", json_string("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"));
	assert_int_equal(jose_key_from_jwk(j, &k, &err), 0);
	assert_int_equal(jose_key_can_sign(k), 0);
	jose_key_free(k);
	json_decref(j);
	/* EC and OKP imply their alg. */
	j = json_deep_copy(ec);
	json_object_del(j, "alg");
	json_object_del(j, "use");
	assert_int_equal(jose_key_from_jwk(j, &k, &err), 0);
	assert_int_equal(jose_key_alg(k), JOSE_ALG_ES256);
	jose_key_free(k);
	json_decref(j);
#undef REJECT
	json_decref(good);
	json_decref(ec);
}

static void
test_key_rejects(void **state)
{
	struct jose_key *k = NULL;
	const char *err = NULL;
	char kid[JOSE_MAX_KID_LEN + 2];
	enum jose_alg a;

	(void)state;
	memset(kid, 'k', sizeof(kid) - 1);
	kid[sizeof(kid) - 1] = '\0';
	assert_int_equal(jose_key_generate(JOSE_ALG_EDDSA, kid, &k, &err), -1);
	assert_int_equal(jose_key_generate(JOSE_ALG_EDDSA, "", &k, &err), -1);
	assert_int_equal(jose_key_generate(JOSE_ALG__MAX, "x", &k, &err), -1);
	assert_int_equal(jose_key_from_private_der(JOSE_ALG_RS256, "x",
	    (const uint8_t *)"garbage", 7, &k, &err), -1);
	assert_int_equal(jose_alg_from_name("EdDSA", &a), 0);
	assert_int_equal(a, JOSE_ALG_EDDSA);
	assert_int_equal(jose_alg_from_name("eddsa", &a), -1);
	assert_int_equal(jose_alg_from_name("none", &a), -1);
	assert_int_equal(jose_alg_from_name(NULL, &a), -1);
}

/* ---- threads ---- */

struct worker {
	const struct jose_key *k;
	struct jose_jwt *jwt;	/* on the heap: a thread's stack is the caller's */
	int ok;
};

static void *
sign_verify_loop(void *arg)
{
	struct worker *w = arg;
	struct jose_key *l[] = { (struct jose_key *)w->k, NULL };

	w->ok = 0;
	for (int i = 0; i < 20; i++) {
		char *tok = NULL, p[64];
		size_t len;
		int pl = snprintf(p, sizeof(p), "{\"i\":%d}", i);
		const struct json_view_member *m;

		if (jose_sign_compact(w->k, "at+jwt", p, (size_t)pl, &tok, &len, NULL) == -1 ||
		    jose_verify_compact(tok, len, lookup_list, l, w->jwt, NULL, NULL) == -1 ||
		    (m = json_view_get(&w->jwt->claims, "i")) == NULL ||
		    m->type != JSON_VIEW_INTEGER || m->integer != i) {
			free(tok);
			return NULL;
		}
		free(tok);
	}
	w->ok = 1;
	return NULL;
}

/* One key, used by several threads at once. */
static void
test_threads(void **state)
{
	pthread_t t[8];
	struct worker w[8];

	(void)state;
	for (int i = 0; i < 8; i++) {
		w[i].k = keys[i % JOSE_ALG__MAX];
		assert_non_null(w[i].jwt = malloc(sizeof(*w[i].jwt)));
		assert_int_equal(pthread_create(&t[i], NULL, sign_verify_loop, &w[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		free(w[i].jwt);
		assert_int_equal(w[i].ok, 1);
	}
}

/* More threads on one RSA key than it has signing copies (jose_int.h
 * JOSE_RSA_SIGNERS): the threads past that share copies, and every
 * signature still verifies. */
static void
test_more_threads_than_rsa_copies(void **state)
{
	enum { N = JOSE_RSA_SIGNERS + 4 };
	pthread_t t[N];
	struct worker w[N];

	(void)state;
	for (int i = 0; i < N; i++) {
		w[i].k = keys[i % 2 ? JOSE_ALG_PS256 : JOSE_ALG_RS256];
		assert_non_null(w[i].jwt = malloc(sizeof(*w[i].jwt)));
		assert_int_equal(pthread_create(&t[i], NULL, sign_verify_loop, &w[i]), 0);
	}
	for (int i = 0; i < N; i++) {
		pthread_join(t[i], NULL);
		free(w[i].jwt);
		assert_int_equal(w[i].ok, 1);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc8037_ed25519),
		cmocka_unit_test(test_rfc7515_rs256),
		cmocka_unit_test(test_rfc7515_es256),
		cmocka_unit_test(test_round_trip_all),
		cmocka_unit_test(test_header_bytes),
		cmocka_unit_test(test_der_and_jwk_round_trip),
		cmocka_unit_test(test_ps256_salt),
		cmocka_unit_test(test_alg_none_and_hmac),
		cmocka_unit_test(test_alg_mismatch),
		cmocka_unit_test(test_kid),
		cmocka_unit_test(test_crit_and_ignored_headers),
		cmocka_unit_test(test_tampering),
		cmocka_unit_test(test_ecdsa_signature_values),
		cmocka_unit_test(test_duplicate_members),
		cmocka_unit_test(test_segments_and_encoding),
		cmocka_unit_test(test_size_bound),
		cmocka_unit_test(test_jwk_rejects),
		cmocka_unit_test(test_key_rejects),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_more_threads_than_rsa_copies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
