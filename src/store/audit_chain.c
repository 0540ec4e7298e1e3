/*
 * audit_chain.c — the audit trail's chain, shared by every backend and by
 * the verifier (store.h store_audit_link, store_audit_digest_*, the key
 * record): one canonical, length-prefixed encoding, so that no two
 * different rows link alike ("ab","c" vs "a","bc") and no backend encodes
 * differently. Rows written now are linked with HMAC-SHA-256 under the
 * audit key (v2); rows from before the key keep their SHA-256 links (v1),
 * which this file still computes so that they verify.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "store/store.h"
#include "store/store_backend.h"
#include "util/util.h"

const char *const store_audit_prunable[] = { "token.issued", "token.refused", NULL };

int
store_audit_is_prunable(const char *action)
{
	for (size_t i = 0; store_audit_prunable[i] != NULL; i++)
		if (strcmp(action, store_audit_prunable[i]) == 0)
			return 1;
	return 0;
}

/* Each hashed with its NUL. Distinct per use, so that no MAC made for one
 * purpose (a row, a digest, the key record) is ever valid for another, and
 * a v1 link can never pass for a v2 one. */
static const char domain_v1[] = "gatehouse-audit-v1";
static const char domain_v2[] = "gatehouse-audit-v2";
static const char domain_digest_v2[] = "gatehouse-audit-digest-v2";
static const char domain_check_v2[] = "gatehouse-audit-key-check-v2";
static const char domain_keyed_v2[] = "gatehouse-audit-keyed-v2";

/*
 * SHA-256 and HMAC fetched once: fetching by name in every init looks the
 * algorithm up in the provider store, under a lock the signing threads
 * take too; the writer thread links every audit row of the token
 * endpoint's batches while holding up their answers.
 */
static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void
fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&fetch_once, fetch);
	return sha256_md;
}

static EVP_MAC *
hmac(void)
{
	pthread_once(&fetch_once, fetch);
	return hmac_mac;
}

struct store_audit_key {
	EVP_MAC_CTX	*base;		/* keyed once; every MAC runs on a copy */
	uint8_t		 check[32];	/* the key record's check value */
};

/*
 * Where the bytes of a link or digest go: SHA-256 (k NULL: v1) or a copy
 * of the key's HMAC context (v2). Copying the keyed context costs a few
 * allocations; keying afresh would hash the key's two pads again for
 * every row.
 */
struct sink {
	EVP_MD_CTX	*md;
	EVP_MAC_CTX	*mac;
	int		 ok;
};

static int
sink_open(struct sink *s, const struct store_audit_key *k)
{
	memset(s, 0, sizeof(*s));
	s->ok = 1;
	if (k != NULL)
		return (s->mac = EVP_MAC_CTX_dup(k->base)) != NULL ? 0 : -1;
	if ((s->md = EVP_MD_CTX_new()) == NULL || sha256() == NULL ||
	    EVP_DigestInit_ex(s->md, sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s->md);
		s->md = NULL;
		return -1;
	}
	return 0;
}

static void
feed(struct sink *s, const void *p, size_t n)
{
	if (s->md != NULL)
		s->ok &= EVP_DigestUpdate(s->md, p, n) == 1;
	else
		s->ok &= EVP_MAC_update(s->mac, p, n) == 1;
}

/* Finishes and frees the sink: 0, or -1 with out zeroed (never verifies). */
static int
sink_close(struct sink *s, uint8_t out[32])
{
	unsigned mdlen = 32;
	size_t maclen = 32;

	if (s->md != NULL)
		s->ok &= EVP_DigestFinal_ex(s->md, out, &mdlen) == 1 && mdlen == 32;
	else
		s->ok &= EVP_MAC_final(s->mac, out, &maclen, 32) == 1 && maclen == 32;
	EVP_MD_CTX_free(s->md);
	EVP_MAC_CTX_free(s->mac);
	if (!s->ok)
		memset(out, 0, 32);
	return s->ok ? 0 : -1;
}

static void
be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static void
feed_i64(struct sink *s, int64_t v)
{
	uint8_t num[8];

	be64(num, (uint64_t)v);
	feed(s, num, 8);
}

static void
feed_text(struct sink *s, const char *t)
{
	size_t n = t != NULL ? strlen(t) : 0;
	uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };

	feed(s, len, sizeof(len));
	if (n > 0)
		feed(s, t, n);
}

struct store_audit_key *
store_audit_key_new(const uint8_t key[32])
{
	struct store_audit_key *k = calloc(1, sizeof(*k));
	OSSL_PARAM p[2];
	struct sink s;

	if (k == NULL)
		return NULL;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_end();
	if (hmac() == NULL || (k->base = EVP_MAC_CTX_new(hmac())) == NULL ||
	    EVP_MAC_init(k->base, key, 32, p) != 1 || sink_open(&s, k) == -1)
		goto fail;
	feed(&s, domain_check_v2, sizeof(domain_check_v2));
	if (sink_close(&s, k->check) == -1)
		goto fail;
	return k;
fail:
	store_audit_key_free(k);
	return NULL;
}

void
store_audit_key_free(struct store_audit_key *k)
{
	if (k == NULL)
		return;
	/* Freeing the context wipes the key schedule it holds. */
	EVP_MAC_CTX_free(k->base);
	OPENSSL_cleanse(k, sizeof(*k));
	free(k);
}

const uint8_t *
store_audit_key_check(const struct store_audit_key *k)
{
	return k->check;
}

int
store_audit_link(const struct store_audit_key *k, const struct store_audit *a, uint8_t out[32])
{
	const char *f[8] = { a->request_id, a->actor, a->tenant, a->address, a->action,
	    a->target, a->outcome, a->detail };
	struct sink s;

	memset(out, 0, 32);
	if (a->chain == STORE_AUDIT_CHAIN_V1) {
		if (sink_open(&s, NULL) == -1)
			return -1;
		feed(&s, domain_v1, sizeof(domain_v1));
	} else if (a->chain == STORE_AUDIT_CHAIN_V2 && k != NULL) {
		if (sink_open(&s, k) == -1)
			return -1;
		feed(&s, domain_v2, sizeof(domain_v2));
	} else
		return -1;
	feed(&s, a->prev_hash, 32);
	feed_i64(&s, a->seq);
	feed_i64(&s, a->at);
	for (int i = 0; i < 8; i++)
		feed_text(&s, f[i]);
	return sink_close(&s, out);
}

struct store_audit_digest {
	struct sink	s;
};

struct store_audit_digest *
store_audit_digest_new(const struct store_audit_key *k)
{
	struct store_audit_digest *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	if (sink_open(&d->s, k) == -1) {
		free(d);
		return NULL;
	}
	if (k != NULL)
		feed(&d->s, domain_digest_v2, sizeof(domain_digest_v2));
	return d;
}

void
store_audit_digest_add(struct store_audit_digest *d, int64_t seq, const uint8_t hash[32])
{
	feed_i64(&d->s, seq);
	feed(&d->s, hash, 32);
}

void
store_audit_digest_final(struct store_audit_digest *d, uint8_t out[32])
{
	sink_close(&d->s, out);
	free(d);
}

/* The key record's MAC over (through, through_hash). 0 or -1. */
static int
seal_mac(const struct store_audit_key *k, int64_t through, const uint8_t through_hash[32],
    uint8_t out[32])
{
	struct sink s;

	memset(out, 0, 32);
	if (k == NULL || sink_open(&s, k) == -1)
		return -1;
	feed(&s, domain_keyed_v2, sizeof(domain_keyed_v2));
	feed_i64(&s, through);
	feed(&s, through_hash, 32);
	return sink_close(&s, out);
}

int
store_audit_seal_make(const struct store_audit_key *k, int64_t through,
    const uint8_t through_hash[32], struct store_audit_seal *out)
{
	memset(out, 0, sizeof(*out));
	if (k == NULL)
		return -1;
	out->through = through;
	memcpy(out->through_hash, through_hash, 32);
	memcpy(out->check, k->check, 32);
	return seal_mac(k, through, through_hash, out->mac);
}

int
store_audit_key_matches(const struct store_audit_key *k, const uint8_t check[32])
{
	return k != NULL && CRYPTO_memcmp(k->check, check, 32) == 0;
}

int
store_audit_seal_valid(const struct store_audit_key *k, const struct store_audit_seal *s)
{
	uint8_t m[32];

	if (seal_mac(k, s->through, s->through_hash, m) == -1)
		return 0;
	return CRYPTO_memcmp(m, s->mac, 32) == 0;
}

void
store_audit_checkpoint_detail(int64_t through, const uint8_t through_hash[32], int64_t kept,
    const uint8_t kept_digest[32], int64_t pruned, char *out, size_t outlen)
{
	char th[65], kd[65];

	hex_encode(through_hash, 32, th);
	hex_encode(kept_digest, 32, kd);
	snprintf(out, outlen, "{\"through\":%lld,\"through_hash\":\"%s\",\"kept\":%lld,"
	    "\"kept_digest\":\"%s\",\"pruned\":%lld}", (long long)through, th, (long long)kept,
	    kd, (long long)pruned);
}

void
store_audit_checkpoint(struct store_audit *cp, int64_t at, char *detail)
{
	memset(cp, 0, sizeof(*cp));
	cp->at = at;
	cp->action = (char *)STORE_AUDIT_CHECKPOINT;
	cp->outcome = (char *)"ok";
	cp->detail = detail;
}
