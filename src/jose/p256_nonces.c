/*
 * p256_nonces.c — see p256_nonces.h.
 *
 * The points come from EC_POINT_mul in Jacobian coordinates (X, Y, Z),
 * x = X/Z^2; reading them needs EC_POINT_get_Jprojective_coordinates_GFp,
 * deprecated but kept throughout OpenSSL 3.x, so this file alone asks for
 * it (as presign.c does for its three).
 */
#undef OPENSSL_NO_DEPRECATED
#undef OPENSSL_API_COMPAT
#define OPENSSL_API_COMPAT		10101
#define OPENSSL_SUPPRESS_DEPRECATED
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>

#include "jose/p256_nonces.h"

#define B	P256_NONCES_BATCH

struct p256_nonces {
	EC_GROUP	*g;
	BN_CTX		*bn;
	BN_MONT_CTX	*mont_n, *mont_p;
	BIGNUM		*p, *n_2, *p_2;	/* the field prime; n-2, p-2 (Fermat) */
	/* Per nonce: k, then k^-1; the point's X (then x, then r) and Z
	 * (then Z^-1); the running products of a batch inversion, and its
	 * inputs in Montgomery form (to check each inverse). */
	BIGNUM		*k[B], *kinv[B], *x[B], *z[B], *prod[B], *am[B];
	BIGNUM		*t, *inv;
	EC_POINT	*R[B];
};

/* The per-nonce arrays of secrets, for the loops that make, clear and
 * free all of them. */
#define PER_NONCE	6
static void
per_nonce(struct p256_nonces *s, BIGNUM **v[PER_NONCE])
{
	v[0] = s->k;
	v[1] = s->kinv;
	v[2] = s->x;
	v[3] = s->z;
	v[4] = s->prod;
	v[5] = s->am;
}

static BIGNUM *
secret_bn(void)
{
	BIGNUM *b = BN_new();

	if (b != NULL)
		BN_set_flags(b, BN_FLG_CONSTTIME);
	return b;
}

void
p256_nonces_free(struct p256_nonces *s)
{
	BIGNUM **v[PER_NONCE];

	if (s == NULL)
		return;
	per_nonce(s, v);
	for (int i = 0; i < B; i++) {
		for (int j = 0; j < PER_NONCE; j++)
			BN_clear_free(v[j][i]);
		EC_POINT_clear_free(s->R[i]);
	}
	BN_clear_free(s->t);
	BN_clear_free(s->inv);
	BN_free(s->p);
	BN_free(s->n_2);
	BN_free(s->p_2);
	BN_MONT_CTX_free(s->mont_n);
	BN_MONT_CTX_free(s->mont_p);
	BN_CTX_free(s->bn);
	EC_GROUP_free(s->g);
	free(s);
}

struct p256_nonces *
p256_nonces_new(OSSL_LIB_CTX *lc)
{
	struct p256_nonces *s;
	BIGNUM **v[PER_NONCE];
	int ok;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	ok = (s->g = EC_GROUP_new_by_curve_name_ex(lc, NULL,
	    NID_X9_62_prime256v1)) != NULL &&
	    (s->bn = BN_CTX_new_ex(lc)) != NULL &&
	    (s->p = BN_new()) != NULL &&
	    EC_GROUP_get_curve(s->g, s->p, NULL, NULL, s->bn) == 1 &&
	    (s->n_2 = BN_dup(EC_GROUP_get0_order(s->g))) != NULL &&
	    (s->p_2 = BN_dup(s->p)) != NULL &&
	    BN_sub_word(s->n_2, 2) == 1 && BN_sub_word(s->p_2, 2) == 1 &&
	    (s->mont_n = BN_MONT_CTX_new()) != NULL &&
	    BN_MONT_CTX_set(s->mont_n, EC_GROUP_get0_order(s->g), s->bn) == 1 &&
	    (s->mont_p = BN_MONT_CTX_new()) != NULL &&
	    BN_MONT_CTX_set(s->mont_p, s->p, s->bn) == 1 &&
	    (s->t = secret_bn()) != NULL && (s->inv = secret_bn()) != NULL;
	per_nonce(s, v);
	for (int i = 0; ok && i < B; i++) {
		for (int j = 0; ok && j < PER_NONCE; j++)
			ok = (v[j][i] = secret_bn()) != NULL;
		ok = ok && (s->R[i] = EC_POINT_new(s->g)) != NULL;
	}
	if (!ok) {
		p256_nonces_free(s);
		ERR_clear_error();
		return NULL;
	}
	return s;
}

/*
 * Replaces each of a[0..m), every one in [1, mod) for a prime mod, with its
 * inverse (Montgomery's trick): with prod[i] = a[0]···a[i], one inversion
 * of prod[m-1] (Fermat, exp = mod-2, constant time), then walking back,
 * a[i]^-1 = (prod[i])^-1 · prod[i-1] and (prod[i-1])^-1 = (prod[i])^-1 ·
 * a[i]; all in Montgomery form. Then every a[i] · a[i]^-1 must be 1, so a
 * wrong inverse never leaves here. 1, or 0 on failure.
 */
static int
batch_invert(struct p256_nonces *s, BIGNUM **a, int m, BN_MONT_CTX *mont,
    const BIGNUM *mod, const BIGNUM *exp)
{
	BN_CTX *bn = s->bn;
	BIGNUM **prod = s->prod, **am = s->am, *t = s->t, *inv = s->inv;

	for (int i = 0; i < m; i++)
		if (BN_to_montgomery(am[i], a[i], mont, bn) != 1 ||
		    (i == 0 ? BN_copy(prod[0], am[0]) == NULL :
		    BN_mod_mul_montgomery(prod[i], prod[i - 1], am[i], mont, bn) != 1))
			return 0;
	if (BN_from_montgomery(t, prod[m - 1], mont, bn) != 1 ||
	    BN_mod_exp_mont_consttime(inv, t, exp, mod, bn, mont) != 1 ||
	    BN_to_montgomery(inv, inv, mont, bn) != 1)
		return 0;
	for (int i = m - 1; i > 0; i--)
		if (BN_mod_mul_montgomery(t, inv, prod[i - 1], mont, bn) != 1 ||
		    BN_mod_mul_montgomery(inv, inv, am[i], mont, bn) != 1 ||
		    BN_from_montgomery(a[i], t, mont, bn) != 1)
			return 0;
	if (BN_from_montgomery(a[0], inv, mont, bn) != 1)
		return 0;
	for (int i = 0; i < m; i++)	/* aR · a^-1 · R^-1 = 1 */
		if (BN_mod_mul_montgomery(t, am[i], a[i], mont, bn) != 1 || !BN_is_one(t))
			return 0;
	return 1;
}

/* k[i] fresh in [1, n-1], R[i] = k[i]·G, its X and Z, and kinv[i] = k[i]. */
static int
draw(struct p256_nonces *s, int i)
{
	const BIGNUM *n = EC_GROUP_get0_order(s->g);

	do {
		if (BN_priv_rand_range_ex(s->k[i], n, 0, s->bn) != 1)
			return 0;
	} while (BN_is_zero(s->k[i]));
	return EC_POINT_mul(s->g, s->R[i], s->k[i], NULL, NULL, s->bn) == 1 &&
	    EC_POINT_get_Jprojective_coordinates_GFp(s->g, s->R[i], s->x[i],
	    NULL, s->z[i], s->bn) == 1 && !BN_is_zero(s->z[i]) &&
	    BN_copy(s->kinv[i], s->k[i]) != NULL;
}

/* x[i] = X·(Z^-1)^2 mod p, then r = x mod n (z[i] holds Z^-1). */
static int
affine_r(struct p256_nonces *s, int i)
{
	return BN_to_montgomery(s->z[i], s->z[i], s->mont_p, s->bn) == 1 &&
	    BN_mod_mul_montgomery(s->z[i], s->z[i], s->z[i], s->mont_p, s->bn) == 1 &&
	    BN_mod_mul_montgomery(s->x[i], s->x[i], s->z[i], s->mont_p, s->bn) == 1 &&
	    BN_nnmod(s->x[i], s->x[i], EC_GROUP_get0_order(s->g), s->bn) == 1;
}

/* The first nonce's r the slow way, from OpenSSL's affine conversion: a
 * method whose points were not Jacobian would fail here. (Every inverse
 * was checked in batch_invert.) */
static int
check_first(struct p256_nonces *s)
{
	return EC_POINT_get_affine_coordinates(s->g, s->R[0], s->t, NULL, s->bn) == 1 &&
	    BN_nnmod(s->t, s->t, EC_GROUP_get0_order(s->g), s->bn) == 1 &&
	    BN_cmp(s->t, s->x[0]) == 0;
}

size_t
p256_nonces_make(struct p256_nonces *s, uint8_t out[][64])
{
	BIGNUM **v[PER_NONCE];
	size_t made = 0;
	int ok = 1;

	for (int i = 0; ok && i < B; i++)
		ok = draw(s, i);
	ok = ok && batch_invert(s, s->kinv, B, s->mont_n, EC_GROUP_get0_order(s->g),
	    s->n_2) && batch_invert(s, s->z, B, s->mont_p, s->p, s->p_2);
	for (int i = 0; ok && i < B; i++)
		ok = affine_r(s, i);
	ok = ok && check_first(s);
	for (int i = 0; ok && i < B; i++) {
		if (BN_is_zero(s->x[i]))	/* r = 0: probability 2^-256 */
			continue;
		if (BN_bn2binpad(s->kinv[i], out[made], 32) != 32 ||
		    BN_bn2binpad(s->x[i], out[made] + 32, 32) != 32)
			ok = 0;
		else
			made++;
	}
	per_nonce(s, v);
	for (int i = 0; i < B; i++) {
		for (int j = 0; j < PER_NONCE; j++)
			BN_clear(v[j][i]);
		(void)EC_POINT_set_to_infinity(s->g, s->R[i]);
	}
	BN_clear(s->t);
	BN_clear(s->inv);
	if (!ok) {
		OPENSSL_cleanse(out, (size_t)B * 64);
		ERR_clear_error();
		return 0;
	}
	return made;
}
