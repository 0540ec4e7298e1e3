/* client_cache.c — see client_cache.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "oauth/client_cache.h"
#include "util/json_flat.h"
#include "util/util.h"

#define BUCKETS 4096
/* Unknown ids are remembered too (direct-mapped, overwritten on collision),
 * so an unknown id costs what a known one does: no store read that a
 * stopwatch could tell apart (issue 5, no enumeration). */
#define NEGATIVE_SLOTS 8192

struct node {
	struct client_entry	*e;
	struct node		*next;
};

struct client_cache {
	struct store		*store;
	char			*issuer;
	pthread_rwlock_t	 lock;
	struct node		*buckets[BUCKETS];
	size_t			 n;
	uint64_t		 epoch;	/* bumped by every clear */
	char			*negative[NEGATIVE_SLOTS];
	uint8_t			 hash_key[16];	/* drawn for this cache (hash_full) */
};

static const char *const registered[] = {
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope",
	"scopes", "tenant_id", "roles", "env", "is_test", "token_name", "typ",
};

int
claims_is_registered(const char *name)
{
	for (size_t i = 0; i < GH_ARRAY_LEN(registered); i++)
		if (strcmp(registered[i], name) == 0)
			return 1;
	return 0;
}

/*
 * SipHash-2-4 under a key drawn for this cache, as in lockout.c: unknown
 * ids are the caller's to choose, and with a public hash (FNV, before) a
 * caller could make ids that fall in the negative slot of another unknown
 * id and evict it, over and over, so that its lookups read the store again.
 */
static uint64_t
hash_full(const struct client_cache *cc, const char *s)
{
	return siphash24(cc->hash_key, s, strlen(s));
}

static unsigned
hash_id(const struct client_cache *cc, const char *s)
{
	return (unsigned)(hash_full(cc, s) % BUCKETS);
}

struct client_cache *
client_cache_new(struct store *st, const char *issuer)
{
	struct client_cache *cc = calloc(1, sizeof(*cc));

	if (cc == NULL)
		return NULL;
	if (rand_bytes(cc->hash_key, sizeof(cc->hash_key)) == -1 ||
	    (cc->issuer = strdup(issuer)) == NULL) {
		free(cc);
		return NULL;
	}
	cc->store = st;
	pthread_rwlock_init(&cc->lock, NULL);
	return cc;
}

static void
entry_free(struct client_entry *e)
{
	store_client_clear(&e->c);
	for (size_t i = 0; i < e->nscopes; i++)
		free(e->scopes[i]);
	free(e->scopes);
	free(e->claims_fragment);
	OPENSSL_cleanse(e->secrets, sizeof(e->secrets));
	free(e);
}

void
client_entry_release(struct client_entry *e)
{
	if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1)
		entry_free(e);
}

static void
clear_locked(struct client_cache *cc)
{
	for (size_t i = 0; i < BUCKETS; i++) {
		struct node *n = cc->buckets[i], *next;
		for (; n != NULL; n = next) {
			next = n->next;
			client_entry_release(n->e);
			free(n);
		}
		cc->buckets[i] = NULL;
	}
	cc->n = 0;
	cc->epoch++;
	for (size_t i = 0; i < NEGATIVE_SLOTS; i++) {
		free(cc->negative[i]);
		cc->negative[i] = NULL;
	}
}

void
client_cache_clear(struct client_cache *cc)
{
	pthread_rwlock_wrlock(&cc->lock);
	clear_locked(cc);
	pthread_rwlock_unlock(&cc->lock);
}

void
client_cache_free(struct client_cache *cc)
{
	if (cc == NULL)
		return;
	clear_locked(cc);
	pthread_rwlock_destroy(&cc->lock);
	OPENSSL_cleanse(cc->hash_key, sizeof(cc->hash_key));
	free(cc->issuer);
	free(cc);
}

/* Appends to buf[0..len) of cap bytes, or goes to fail when it does not
 * fit: the users below have locals buf, len and cap and a fail label. */
#define APPEND_LIT(s) do { size_t l_ = strlen(s); if ((size_t)len + l_ >= cap) goto fail; memcpy(buf + len, s, l_); len += (int)l_; } while (0)
#define APPEND_STR(s) do { if ((len = json_append_string(buf, (size_t)len, cap, s)) < 0) goto fail; } while (0)

/* Appends the client's extra claims, each as a member and a comma,
 * to buf at *lenp.  0, or -1 when one does not fit or cannot be dumped. */
static int
fragment_append_extra(const char *claims, char *buf, size_t cap, int *lenp)
{
	int len = *lenp;
	json_t *extra = NULL;
	const char *key;
	json_t *val;

	/* Extra claims: never a registered one (DESIGN "What a token carries"). */
	extra = json_loads(claims, JSON_REJECT_DUPLICATES, NULL);
	if (extra != NULL && json_is_object(extra)) {
		json_object_foreach(extra, key, val) {
			char *v;
			if (claims_is_registered(key))
				continue;
			APPEND_STR(key);
			APPEND_LIT(":");
			v = json_dumps(val, JSON_COMPACT | JSON_ENCODE_ANY);
			if (v == NULL)
				goto fail;
			if ((size_t)len + strlen(v) + 2 >= cap) {
				free(v);
				goto fail;
			}
			memcpy(buf + len, v, strlen(v));
			len += (int)strlen(v);
			free(v);
			APPEND_LIT(",");
		}
	}
	json_decref(extra);
	*lenp = len;
	return 0;
fail:
	json_decref(extra);
	return -1;
}

/* Serializes the claims every token of this client carries. */
static int
build_fragment(struct client_cache *cc, struct client_entry *e)
{
	static const char *const role_names[] = { "viewer", "operator", "admin" };
	size_t cap = 1024 + strlen(e->c.claims) + 4 * strlen(cc->issuer) +
	    8 * (strlen(e->c.id) + strlen(e->c.tenant_id));
	char *buf = malloc(cap);
	int len = 0, first = 1;

	if (buf == NULL)
		return -1;
	APPEND_LIT("\"iss\":");
	APPEND_STR(cc->issuer);
	APPEND_LIT(",\"sub\":");
	APPEND_STR(e->c.id);
	APPEND_LIT(",\"client_id\":");
	APPEND_STR(e->c.id);
	APPEND_LIT(",\"tenant_id\":");
	APPEND_STR(e->c.tenant_id);
	APPEND_LIT(",\"roles\":[");
	for (size_t i = 0; i < GH_ARRAY_LEN(role_names); i++)
		if (e->c.roles & (1u << i)) {
			if (!first)
				APPEND_LIT(",");
			APPEND_STR(role_names[i]);
			first = 0;
		}
	APPEND_LIT("],\"env\":");
	APPEND_STR(store_env_names[e->c.env]);
	APPEND_LIT(e->c.env == STORE_ENV_SANDBOX ? ",\"is_test\":true," : ",\"is_test\":false,");
	if (fragment_append_extra(e->c.claims, buf, cap, &len) == -1)
		goto fail;
	buf[len] = '\0';
	e->claims_fragment = buf;
	e->claims_fragment_len = (size_t)len;
	return 0;
fail:
	free(buf);
	return -1;
}
#undef APPEND_LIT
#undef APPEND_STR

/* Every one of the client's scopes into e->scopes: as many as the stored
 * text holds (manage/ bounds it at 2048 bytes), since a scope left out
 * would be refused to the client, or missing from its default grant. */
static int
load_scopes(struct client_entry *e)
{
	const char *p;
	size_t n = 0;

	for (p = e->c.scopes; *p != '\0';) {
		size_t l;
		while (*p == ' ')
			p++;
		if ((l = strcspn(p, " ")) == 0)
			break;
		n++;
		p += l;
	}
	if ((e->scopes = calloc(n + 1, sizeof(*e->scopes))) == NULL)
		return -1;
	for (p = e->c.scopes; e->nscopes < n;) {
		size_t l;
		while (*p == ' ')
			p++;
		l = strcspn(p, " ");
		if ((e->scopes[e->nscopes] = xstrndup(p, l)) == NULL)
			return -1;
		e->nscopes++;
		p += l;
	}
	return 0;
}

static int
load(struct client_cache *cc, const char *id, struct client_entry **out)
{
	struct client_entry *e = calloc(1, sizeof(*e));
	struct store_secret *secrets = NULL;
	size_t nsecrets = 0;
	const char *why, *bad;
	int64_t now = clock_now();
	int rc;

	if (e == NULL)
		return STORE_ERROR;
	atomic_init(&e->refs, 1);
	if ((rc = store_client_get(cc->store, id, &e->c)) != STORE_OK) {
		free(e);
		return rc;
	}
	if ((rc = store_secret_list(cc->store, id, &secrets, &nsecrets)) != STORE_OK)
		goto fail;
	/* Newest first, and only those that can still match: a rotation
	 * ends the old secret without revoking it, so a client rotated a few
	 * times has more ended secrets than slots, and taken oldest first
	 * they crowded out its current one. An ended secret never comes back
	 * (a change to it moves the generation, which reloads the entry). */
	for (size_t i = nsecrets; i-- > 0 && e->nsecrets < CLIENT_MAX_SECRETS;) {
		if (secrets[i].revoked_at != 0 ||
		    (secrets[i].expires_at != 0 && secrets[i].expires_at <= now))
			continue;
		memcpy(e->secrets[e->nsecrets].hash, secrets[i].hash, 32);
		e->secrets[e->nsecrets].created_at = secrets[i].created_at;
		e->secrets[e->nsecrets].expires_at = secrets[i].expires_at;
		e->nsecrets++;
	}
	store_secret_free(secrets, nsecrets);
	rc = STORE_ERROR;
	if (cidr_parse_list(e->c.allow_ips, &e->allow, &why, &bad) == -1)
		goto fail;	/* validated on write; a bad row fails closed */
	if (load_scopes(e) == -1)
		goto fail;
	if (build_fragment(cc, e) == -1)
		goto fail;
	*out = e;
	return STORE_OK;
fail:
	entry_free(e);
	return rc;
}

/* A look under the read lock: 1 with *rc STORE_OK and *out the entry (a
 * new reference, the caller's to release), 1 with *rc STORE_NOTFOUND when
 * id is remembered as unknown, or 0 on a miss. *epoch gets the cache's
 * epoch as of the look. */
static int
cache_lookup(struct client_cache *cc, unsigned b, const char *id, uint64_t *epoch,
    struct client_entry **out, int *rc)
{
	struct node *n;

	pthread_rwlock_rdlock(&cc->lock);
	*epoch = cc->epoch;
	for (n = cc->buckets[b]; n != NULL; n = n->next)
		if (strcmp(n->e->c.id, id) == 0) {
			atomic_fetch_add(&n->e->refs, 1);
			*out = n->e;
			pthread_rwlock_unlock(&cc->lock);
			*rc = STORE_OK;
			return 1;
		}
	{
		const char *neg = cc->negative[hash_full(cc, id) % NEGATIVE_SLOTS];
		if (neg != NULL && strcmp(neg, id) == 0) {
			pthread_rwlock_unlock(&cc->lock);
			*rc = STORE_NOTFOUND;
			return 1;
		}
	}
	pthread_rwlock_unlock(&cc->lock);
	return 0;
}

/* Remembers id as unknown in its negative slot (which owns a copy), unless
 * the cache was cleared since epoch. */
static void
cache_remember_unknown(struct client_cache *cc, const char *id, uint64_t epoch)
{
	char *dup = strdup(id);

	pthread_rwlock_wrlock(&cc->lock);
	if (dup != NULL && epoch == cc->epoch) {
		size_t slot = (size_t)(hash_full(cc, id) % NEGATIVE_SLOTS);
		free(cc->negative[slot]);
		cc->negative[slot] = dup;
		dup = NULL;
	}
	pthread_rwlock_unlock(&cc->lock);
	free(dup);
}

/* Keeps e, just loaded for id, in bucket b with a reference of the cache's
 * own; the caller keeps its reference. A clear during the load means the
 * row may be stale: hand it to this request (it was read after the request
 * began) but do not keep it. */
static void
cache_keep(struct client_cache *cc, unsigned b, const char *id, struct client_entry *e,
    uint64_t epoch)
{
	struct node *n;

	pthread_rwlock_wrlock(&cc->lock);
	for (n = cc->buckets[b]; n != NULL; n = n->next)
		if (strcmp(n->e->c.id, id) == 0)
			break;
	if (n == NULL && epoch == cc->epoch) {
		if (cc->n >= CLIENT_CACHE_MAX)
			clear_locked(cc);
		if ((n = malloc(sizeof(*n))) != NULL) {
			n->e = e;
			atomic_fetch_add(&e->refs, 1);
			n->next = cc->buckets[b];
			cc->buckets[b] = n;
			cc->n++;
		}
	}
	pthread_rwlock_unlock(&cc->lock);
}

int
client_cache_peek(struct client_cache *cc, const char *id, struct client_entry **out,
    int *rc)
{
	uint64_t epoch;

	*out = NULL;
	if (strlen(id) > CLIENT_ID_MAX) {
		*rc = STORE_NOTFOUND;
		return 1;
	}
	return cache_lookup(cc, hash_id(cc, id), id, &epoch, out, rc);
}

int
client_cache_get(struct client_cache *cc, const char *id,
    struct client_entry **out)
{
	unsigned b = hash_id(cc, id);
	struct client_entry *e;
	uint64_t epoch;
	int rc;

	/* Before the store, and never into a negative slot: a refused
	 * request's claimed id (token_route.c refusal_event) can be as long
	 * as its body, and 8192 slots of those pinned some 64 MB. */
	if (strlen(id) > CLIENT_ID_MAX)
		return STORE_NOTFOUND;
	if (cache_lookup(cc, b, id, &epoch, out, &rc))
		return rc;
	if ((rc = load(cc, id, &e)) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			cache_remember_unknown(cc, id, epoch);
		return rc;
	}
	cache_keep(cc, b, id, e, epoch);
	*out = e;
	return STORE_OK;
}
