/*
 * audit_chain.c — the audit trail's hash chain, shared by every backend and
 * by the verifier (store.h store_audit_hash, store_audit_digest_*): one
 * canonical, length-prefixed encoding, so that no two different rows hash
 * alike ("ab","c" vs "a","bc") and no backend encodes differently.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static const char domain[] = "gatehouse-audit-v1";	/* with its NUL */

/*
 * SHA-256 fetched once: EVP_sha256() in EVP_DigestInit_ex looks the
 * algorithm up in the provider store on every call, under a lock the
 * signing threads take too; the writer thread hashes every audit row of
 * the token endpoint's batches while holding up their answers.
 */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *
sha256(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md;
}

static void
be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static void
add_text(EVP_MD_CTX *md, const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	uint8_t len[4] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n };

	EVP_DigestUpdate(md, len, sizeof(len));
	if (n > 0)
		EVP_DigestUpdate(md, s, n);
}

void
store_audit_hash(const struct store_audit *a, uint8_t out[32])
{
	const char *f[8] = { a->request_id, a->actor, a->tenant, a->address, a->action,
	    a->target, a->outcome, a->detail };
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t num[8];
	unsigned outlen = 32;

	/* Only allocation can fail here; a zero hash then never verifies. */
	memset(out, 0, 32);
	if (md == NULL || sha256() == NULL ||
	    EVP_DigestInit_ex(md, sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return;
	}
	EVP_DigestUpdate(md, domain, sizeof(domain));
	EVP_DigestUpdate(md, a->prev_hash, 32);
	be64(num, (uint64_t)a->seq);
	EVP_DigestUpdate(md, num, 8);
	be64(num, (uint64_t)a->at);
	EVP_DigestUpdate(md, num, 8);
	for (int i = 0; i < 8; i++)
		add_text(md, f[i]);
	EVP_DigestFinal_ex(md, out, &outlen);
	EVP_MD_CTX_free(md);
}

struct store_audit_digest {
	EVP_MD_CTX	*md;
};

struct store_audit_digest *
store_audit_digest_new(void)
{
	struct store_audit_digest *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	if ((d->md = EVP_MD_CTX_new()) == NULL ||
	    sha256() == NULL ||
	    EVP_DigestInit_ex(d->md, sha256(), NULL) != 1) {
		EVP_MD_CTX_free(d->md);
		free(d);
		return NULL;
	}
	return d;
}

void
store_audit_digest_add(struct store_audit_digest *d, int64_t seq, const uint8_t hash[32])
{
	uint8_t num[8];

	be64(num, (uint64_t)seq);
	EVP_DigestUpdate(d->md, num, 8);
	EVP_DigestUpdate(d->md, hash, 32);
}

void
store_audit_digest_final(struct store_audit_digest *d, uint8_t out[32])
{
	unsigned outlen = 32;

	memset(out, 0, 32);
	EVP_DigestFinal_ex(d->md, out, &outlen);
	EVP_MD_CTX_free(d->md);
	free(d);
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
