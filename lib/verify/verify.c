/*
 * verify.c — libgatehouse-verify; see include/gatehouse/verify.h.
 *
 * Built from gatehouse's own JOSE module (src/jose: the only OpenSSL user
 * for tokens) and the gate's claim checks (src/gate/claims.c), so a token
 * this library accepts is one the gate accepts, revocation aside.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "gatehouse/verify.h"
#include "cachectl.h"
#include "gate/claims.h"
#include "jose/b64url.h"
#include "jose/jose.h"

/* The largest JWKS answer read; it also bounds how many keys a set holds
 * (a usable JWK takes some 80 bytes at least). */
#define JWKS_MAX_BYTES	(1024 * 1024)

/* Upper bounds on the options (verify.h): a leeway near LONG_MAX overflows
 * exp + leeway in the claims check, and a refresh interval of days would
 * keep a withdrawn key for days. */
#define LEEWAY_MAX_S		600
#define MIN_REFRESH_MAX_S	3600

/* How long past its age limit a set whose fetches fail is still used: long
 * enough that an issuer's restart or a short outage stops no service, short
 * enough that a withdrawn key does not verify for as long as the issuer
 * stays unreachable (which an attacker who holds the key may arrange). */
#define MAX_STALE_DEFAULT_S	3600
#define MAX_STALE_MAX_S		86400

/* The options as 0.2.0 knew them: what (gh_verifier_new) reads. */
#define OPTIONS_V0_SIZE		offsetof(struct gh_verify_options, max_stale)

/* How long a key set is used before it is fetched again: the JWKS answer's
 * max-age within [min_refresh_interval, KEYSET_AGE_MAX_S], or
 * KEYSET_AGE_DEFAULT_S when it gives none (the most gatehouse sends). */
#define KEYSET_AGE_MAX_S	3600
#define KEYSET_AGE_DEFAULT_S	300

struct keyset_entry {
	struct jose_key	*key;
	char		 env[16];	/* "" when the JWK says none */
};

/* Immutable once built; swapped whole on a refresh. */
struct keyset {
	_Atomic int		 refs;
	int64_t			 fetched;	/* mono_ms() when the request went out */
	int64_t			 max_age;	/* seconds it may be used from then */
	size_t			 n, cap;
	struct keyset_entry	*e;		/* every usable key of the answer */
};

struct gh_verifier {
	char		*url;
	char		*issuer;
	char		*audience;
	char		*required_env;
	char		*ca_file;
	long		 leeway;
	long		 min_refresh;
	long		 timeout_ms;
	long		 max_stale;	/* seconds */
	int		 allow_http;

	pthread_mutex_t	 lock;		/* guards set */
	struct keyset	*set;		/* NULL until the first fetch */
	pthread_mutex_t	 fetch_lock;	/* one fetch at a time */
	int64_t		 last_fetch;	/* mono_ms() of the last attempt; 0: never; guarded
					 * by fetch_lock */
};

static const char *const messages[GH_VERIFY__MAX] = {
	[GH_VERIFY_OK] = "the token is valid",
	[GH_VERIFY_MALFORMED] = "the token is not a well-formed JWS",
	[GH_VERIFY_BAD_SIGNATURE] = "the token's signature or algorithm is refused",
	[GH_VERIFY_UNKNOWN_KEY] = "the token's kid names no key of the issuer",
	[GH_VERIFY_TYP] = "the token's typ is not at+jwt",
	[GH_VERIFY_CLAIMS] = "the token lacks a required claim",
	[GH_VERIFY_EXPIRED] = "the token has expired",
	[GH_VERIFY_NOT_YET_VALID] = "the token is not valid yet",
	[GH_VERIFY_ISSUER] = "the token was issued by another issuer",
	[GH_VERIFY_AUDIENCE] = "the token is not meant for this audience",
	[GH_VERIFY_TENANT] = "the token belongs to another tenant",
	[GH_VERIFY_ENVIRONMENT] = "the token's environment is refused",
	[GH_VERIFY_JWKS_UNAVAILABLE] = "the issuer's keys could not be fetched",
	[GH_VERIFY_INVALID_ARGUMENT] = "invalid argument",
	[GH_VERIFY_NO_MEMORY] = "out of memory",
};

/* Its address is the opt-out (verify.h); its text is empty, so that a copy
 * of it is refused as no audience rather than taken as a wildcard. */
GH_VERIFY_API const char gh_verify_any_audience[] = "";

GH_VERIFY_API const char *
gh_verify_strerror(int r)
{
	if (r < 0 || r >= GH_VERIFY__MAX)
		return "unknown result";
	return messages[r];
}

/* Milliseconds, not seconds: with whole seconds a set with max-age=1
 * could expire a few milliseconds after it was fetched, or a second late. */
static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
keyset_unref(struct keyset *s)
{
	if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->n; i++)
		jose_key_free(s->e[i].key);
	free(s->e);
	free(s);
}

static struct keyset *
keyset_get(gh_verifier *v)
{
	struct keyset *s;

	pthread_mutex_lock(&v->lock);
	if ((s = v->set) != NULL)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&v->lock);
	return s;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static int curl_ok;

static void
curl_init_once(void)
{
	curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static char *
dup_or_null(const char *s, int *bad)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*bad = 1;
	return d;
}

static int
verifier_new(const struct gh_verify_options *o, gh_verifier **out, char *err,
    size_t errlen)
{
	gh_verifier *v;
	int bad = 0;

	if (out == NULL || o == NULL || o->jwks_url == NULL || o->issuer == NULL ||
	    o->issuer[0] == '\0') {
		if (err != NULL)
			snprintf(err, errlen, "jwks_url and issuer are required");
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	*out = NULL;
	/* RFC 9068 §4: the resource server MUST check that aud names it. A
	 * verifier without an audience took any token of the issuer, also
	 * one minted for another API; skipping the check must be said. */
	if (o->audience != GH_VERIFY_ANY_AUDIENCE &&
	    (o->audience == NULL || o->audience[0] == '\0')) {
		if (err != NULL)
			snprintf(err, errlen, "audience is required (the aud this API's "
			    "tokens carry), or GH_VERIFY_ANY_AUDIENCE");
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	if (strncmp(o->jwks_url, "https://", 8) != 0 &&
	    !(o->allow_http && strncmp(o->jwks_url, "http://", 7) == 0)) {
		if (err != NULL)
			snprintf(err, errlen, "jwks_url must be an https:// URL");
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	/* Required, as the audience is: a sandbox token has the production
	 * tokens' iss and aud and, at the plain JWKS URL, a key of the same
	 * set; a verifier that took either env by default took sandbox
	 * tokens in production. "any" is the deliberate opt-out. */
	if (o->required_env == NULL || (strcmp(o->required_env, "production") != 0 &&
	    strcmp(o->required_env, "sandbox") != 0 && strcmp(o->required_env, "any") != 0)) {
		if (err != NULL)
			snprintf(err, errlen, "required_env is required: production, sandbox or any");
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	if (o->leeway > LEEWAY_MAX_S) {
		if (err != NULL)
			snprintf(err, errlen, "leeway is at most %d seconds", LEEWAY_MAX_S);
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	if (o->min_refresh_interval > MIN_REFRESH_MAX_S) {
		if (err != NULL)
			snprintf(err, errlen, "min_refresh_interval is at most %d seconds",
			    MIN_REFRESH_MAX_S);
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	if (o->max_stale > MAX_STALE_MAX_S) {
		if (err != NULL)
			snprintf(err, errlen, "max_stale is at most %d seconds", MAX_STALE_MAX_S);
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	pthread_once(&curl_once, curl_init_once);
	if (!curl_ok) {
		if (err != NULL)
			snprintf(err, errlen, "curl_global_init failed");
		return GH_VERIFY_JWKS_UNAVAILABLE;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL)
		goto oom;
	v->url = dup_or_null(o->jwks_url, &bad);
	v->issuer = dup_or_null(o->issuer, &bad);
	/* NULL in v->audience: any audience (GH_VERIFY_ANY_AUDIENCE). */
	if (o->audience != GH_VERIFY_ANY_AUDIENCE)
		v->audience = dup_or_null(o->audience, &bad);
	/* NULL in v->required_env: either ("any"). */
	if (strcmp(o->required_env, "any") != 0)
		v->required_env = dup_or_null(o->required_env, &bad);
	v->ca_file = dup_or_null(o->ca_file, &bad);
	v->leeway = o->leeway < 0 ? 30 : o->leeway;
	v->min_refresh = o->min_refresh_interval <= 0 ? 30 : o->min_refresh_interval;
	v->timeout_ms = o->timeout_ms <= 0 ? 5000 : o->timeout_ms;
	v->max_stale = o->max_stale <= 0 ? MAX_STALE_DEFAULT_S : o->max_stale;
	v->allow_http = o->allow_http != 0;
	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->fetch_lock, NULL);
	if (bad) {
		gh_verifier_free(v);
		goto oom;
	}
	*out = v;
	return GH_VERIFY_OK;
oom:
	if (err != NULL)
		snprintf(err, errlen, "out of memory");
	return GH_VERIFY_NO_MEMORY;
}

/*
 * Extensible options (as openat2(2) takes its own, and gh_client_new_sized
 * the client's): read what the caller's struct holds, default the rest, and
 * refuse what a newer header set that this library would silently ignore.
 */
GH_VERIFY_API int
gh_verifier_new_sized(const struct gh_verify_options *user, size_t size, gh_verifier **out,
    char *err, size_t errlen)
{
	struct gh_verify_options o;
	const unsigned char *extra = (const unsigned char *)user;

	if (out != NULL)
		*out = NULL;
	if (user != NULL && size < OPTIONS_V0_SIZE) {
		if (err != NULL)
			snprintf(err, errlen, "options_size %zu is smaller than any struct "
			    "gh_verify_options (%zu)", size, (size_t)OPTIONS_V0_SIZE);
		return GH_VERIFY_INVALID_ARGUMENT;
	}
	for (size_t i = sizeof(o); user != NULL && i < size; i++)
		if (extra[i] != 0) {
			if (err != NULL)
				snprintf(err, errlen, "the options set a field (byte %zu) that this "
				    "library (%s) does not know", i, GH_VERIFY_VERSION);
			return GH_VERIFY_INVALID_ARGUMENT;
		}
	if (user == NULL)
		return verifier_new(NULL, out, err, errlen);
	memset(&o, 0, sizeof(o));
	memcpy(&o, user, size < sizeof(o) ? size : sizeof(o));
	return verifier_new(&o, out, err, errlen);
}

/* The 0.2.0 entry point, for binaries built before options were sized. */
GH_VERIFY_API int
(gh_verifier_new)(const struct gh_verify_options *o, gh_verifier **out, char *err,
    size_t errlen)
{
	return gh_verifier_new_sized(o, OPTIONS_V0_SIZE, out, err, errlen);
}

GH_VERIFY_API void
gh_verifier_free(gh_verifier *v)
{
	if (v == NULL)
		return;
	keyset_unref(v->set);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->fetch_lock);
	free(v->url);
	free(v->issuer);
	free(v->audience);
	free(v->required_env);
	free(v->ca_file);
	free(v);
}

struct body {
	char	*buf;
	size_t	 len;
	int	 too_big;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	char *nb;

	if (add > JWKS_MAX_BYTES - b->len) {
		b->too_big = 1;
		return 0;	/* aborts the transfer */
	}
	if ((nb = realloc(b->buf, b->len + add + 1)) == NULL)
		return 0;
	b->buf = nb;
	memcpy(b->buf + b->len, p, add);
	b->len += add;
	b->buf[b->len] = '\0';
	return add;
}

/* Room for one more key in s: 0, or -1 when out of memory. */
static int
keyset_grow(struct keyset *s)
{
	struct keyset_entry *ne;
	size_t cap;

	if (s->n < s->cap)
		return 0;
	cap = s->cap ? s->cap * 2 : 16;
	if ((ne = realloc(s->e, cap * sizeof(*ne))) == NULL)
		return -1;
	s->e = ne;
	s->cap = cap;
	return 0;
}

/*
 * Builds a key set from a JWKS document; keys this library cannot use
 * (other kty, "use":"enc") are skipped. Every other key is kept, however
 * many (JWKS_MAX_BYTES bounds them): a set of the first 64 kept the oldest
 * of gatehouse's keys, which it lists oldest first, and so lost the newest,
 * the one signing, once rotations left more than 64 published.
 */
static int
keyset_from_jwks(const char *text, size_t len, struct keyset **out)
{
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL), *keys, *k;
	struct keyset *s = NULL;
	size_t i;
	int rc = GH_VERIFY_JWKS_UNAVAILABLE;

	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys))
		goto out;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		rc = GH_VERIFY_NO_MEMORY;
		goto out;
	}
	atomic_init(&s->refs, 1);
	json_array_foreach(keys, i, k) {
		struct jose_key *key = NULL;
		const char *why = NULL;
		const json_t *env = json_object_get(k, "env");
		if (jose_key_from_jwk(k, &key, &why) == -1)
			continue;
		if (keyset_grow(s) == -1) {
			jose_key_free(key);
			rc = GH_VERIFY_NO_MEMORY;
			goto out;
		}
		s->e[s->n].key = key;
		s->e[s->n].env[0] = '\0';	/* the JWK says none (realloc'd, not zeroed) */
		if (json_is_string(env))
			snprintf(s->e[s->n].env, sizeof(s->e[s->n].env), "%s", json_string_value(env));
		s->n++;
	}
	*out = s;
	s = NULL;
	rc = GH_VERIFY_OK;
out:
	keyset_unref(s);
	json_decref(doc);
	return rc;
}

#if LIBCURL_VERSION_NUM < 0x075400
#error "libcurl 7.84 or later is needed (curl_easy_header)"
#endif

/*
 * How long the answer just received may be used (RFC 9111 §4.2): its
 * max-age less its Age (RFC 9111 §4.2.3; a CDN may have held it already),
 * within [min_refresh, KEYSET_AGE_MAX_S]. The floor keeps no-store,
 * no-cache and max-age=0 from fetching on every verification; the ceiling
 * bounds how long a withdrawn key can live on.
 */
static int64_t
answer_max_age(const gh_verifier *v, CURL *c)
{
	struct curl_header *h;
	struct cachectl cc;
	int64_t life, age;
	size_t n = 1;

	memset(&cc, 0, sizeof(cc));
	for (size_t i = 0; i < n; i++) {
		if (curl_easy_header(c, "Cache-Control", i, CURLH_HEADER, -1, &h) != CURLHE_OK)
			break;
		n = h->amount;
		cachectl_add(&cc, h->value, strlen(h->value));
	}
	if ((life = cachectl_lifetime(&cc)) < 0)
		life = KEYSET_AGE_DEFAULT_S;
	else if (curl_easy_header(c, "Age", 0, CURLH_HEADER, -1, &h) == CURLHE_OK &&
	    h->amount == 1 && (age = cachectl_age(h->value, strlen(h->value))) >= 0)
		life = life > age ? life - age : 0;
	if (life < v->min_refresh)
		life = v->min_refresh;
	return life < KEYSET_AGE_MAX_S ? life : KEYSET_AGE_MAX_S;
}

/* Fetches the JWKS and, when it reads, swaps it in whole: keys it no longer
 * names are gone. On failure the old set stays (the issuer may be briefly
 * down); v->last_fetch records the attempt either way. Call with
 * fetch_lock held. */
static int
fetch(gh_verifier *v)
{
	struct body b = { NULL, 0, 0 };
	struct keyset *s = NULL, *old;
	CURL *c = curl_easy_init();
	long status = 0;
	int rc = GH_VERIFY_JWKS_UNAVAILABLE;

	v->last_fetch = mono_ms();
	if (c == NULL)
		return GH_VERIFY_NO_MEMORY;
	if (curl_easy_setopt(c, CURLOPT_URL, v->url) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, v->allow_http ? "https,http" : "https") != CURLE_OK ||
#endif
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    (v->ca_file != NULL && curl_easy_setopt(c, CURLOPT_CAINFO, v->ca_file) != CURLE_OK) ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, v->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT, "gatehouse-verify/" GH_VERIFY_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b) != CURLE_OK)
		goto out;
	if (curl_easy_perform(c) != CURLE_OK ||
	    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
	    status != 200 || b.buf == NULL)
		goto out;
	if ((rc = keyset_from_jwks(b.buf, b.len, &s)) != GH_VERIFY_OK)
		goto out;
	/* Aged from when the request went out: conservative (RFC 9111 §4.2.3). */
	s->fetched = v->last_fetch;
	s->max_age = answer_max_age(v, c);
	pthread_mutex_lock(&v->lock);
	old = v->set;
	v->set = s;
	pthread_mutex_unlock(&v->lock);
	keyset_unref(old);
out:
	free(b.buf);
	curl_easy_cleanup(c);
	return rc;
}

GH_VERIFY_API int
gh_verifier_refresh(gh_verifier *v)
{
	int rc;

	if (v == NULL)
		return GH_VERIFY_INVALID_ARGUMENT;
	pthread_mutex_lock(&v->fetch_lock);
	rc = fetch(v);
	pthread_mutex_unlock(&v->fetch_lock);
	return rc;
}

/* 1 unless a fetch was tried within min_refresh seconds (also a failed
 * one: an unreachable issuer is not hammered either). With fetch_lock. */
static int
fetch_allowed(const gh_verifier *v)
{
	return v->last_fetch == 0 || mono_ms() - v->last_fetch >= (int64_t)v->min_refresh * 1000;
}

/* Fetches again unless fetch_allowed says no. */
static void
refresh_rate_limited(gh_verifier *v, const struct keyset *seen)
{
	struct keyset *now;

	pthread_mutex_lock(&v->fetch_lock);
	now = keyset_get(v);
	/* Another thread fetched while this one waited: use its result. */
	if (now == seen && fetch_allowed(v))
		(void)fetch(v);
	keyset_unref(now);
	pthread_mutex_unlock(&v->fetch_lock);
}

/* 1 when s is past its max-age. */
static int
keyset_expired(const struct keyset *s)
{
	return mono_ms() - s->fetched >= s->max_age * 1000;
}

/* 1 when s is past its max-age by more than max_stale: fetching it again
 * has failed for that long, and it is no longer used (verify.h). */
static int
keyset_too_stale(const gh_verifier *v, const struct keyset *s)
{
	return mono_ms() - s->fetched >= (s->max_age + v->max_stale) * 1000;
}

/*
 * Fetches again when the set s in use has expired. Single flight without
 * a queue: the thread that gets fetch_lock fetches, and any other thread
 * goes on with the set it holds instead of waiting for the issuer. The
 * rate limit is the unknown-kid one, so a failing issuer is asked again
 * no sooner than min_refresh later while the old set keeps working.
 * Returns the set to verify with (a new reference; s's is dropped).
 */
static struct keyset *
refresh_if_expired(gh_verifier *v, struct keyset *s)
{
	struct keyset *now;

	if (!keyset_expired(s) || pthread_mutex_trylock(&v->fetch_lock) != 0)
		return s;
	now = keyset_get(v);
	/* Another thread fetched since s was taken: use its result. */
	if (now == s && fetch_allowed(v))
		(void)fetch(v);
	keyset_unref(now);
	pthread_mutex_unlock(&v->fetch_lock);
	keyset_unref(s);
	return keyset_get(v);
}

struct lookup {
	const struct keyset	*s;
	const char		*env;
	int			 asked, found;
};

static const struct jose_key *
lookup_key(void *arg, const char *kid)
{
	struct lookup *l = arg;

	l->asked = 1;
	for (size_t i = 0; l->s != NULL && i < l->s->n; i++)
		if (strcmp(jose_key_kid(l->s->e[i].key), kid) == 0) {
			l->found = 1;
			l->env = l->s->e[i].env;
			return l->s->e[i].key;
		}
	return NULL;
}

static char *
xdup(const char *s, int *bad)
{
	char *d = strdup(s != NULL ? s : "");
	if (d == NULL)
		*bad = 1;
	return d;
}

/* The verified token's payload as compact JSON text, malloc'd: the view
 * rewrote its own copy in place, so it is decoded again and re-dumped. */
static char *
payload_text(const char *token, size_t len)
{
	const char *d1 = memchr(token, '.', len), *d2;
	uint8_t *buf;
	size_t n;
	json_t *j;
	char *out = NULL;

	if (d1 == NULL || (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))) == NULL ||
	    (buf = malloc(JOSE_MAX_SEGMENT)) == NULL)
		return NULL;
	if (b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, JOSE_MAX_SEGMENT, &n) == 0 &&
	    (j = json_loadb((const char *)buf, n, 0, NULL)) != NULL) {
		out = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	free(buf);
	return out;
}

/* A verified token's claims, copied into out for the caller (who clears
 * them with gh_verify_claims_clear). */
static int
claims_out(const struct claims *cl, const char *token, size_t len, struct gh_verify_claims *out)
{
	int bad = 0;

	out->client_id = xdup(cl->client_id, &bad);
	out->tenant_id = xdup(cl->tenant_id, &bad);
	out->sub = xdup(cl->sub, &bad);
	out->jti = xdup(cl->jti, &bad);
	out->scope = xdup(cl->scope, &bad);
	out->env = xdup(cl->env, &bad);
	out->roles = cl->roles;
	out->exp = cl->exp;
	out->nbf = cl->nbf;
	out->iat = cl->iat;
	if ((out->payload_json = payload_text(token, len)) == NULL)
		bad = 1;
	if (bad) {
		gh_verify_claims_clear(out);
		return GH_VERIFY_NO_MEMORY;
	}
	return GH_VERIFY_OK;
}

static int
verify_with(gh_verifier *v, struct keyset *s, const char *token, size_t len,
    const char *tenant, struct gh_verify_claims *out, int *unknown_kid)
{
	static const int map[CLAIMS_ERR__MAX] = {
		[CLAIMS_OK] = GH_VERIFY_OK, [CLAIMS_TYP] = GH_VERIFY_TYP,
		[CLAIMS_MALFORMED] = GH_VERIFY_CLAIMS, [CLAIMS_EXPIRED] = GH_VERIFY_EXPIRED,
		[CLAIMS_NOT_YET_VALID] = GH_VERIFY_NOT_YET_VALID,
		[CLAIMS_ISSUER] = GH_VERIFY_ISSUER, [CLAIMS_AUDIENCE] = GH_VERIFY_AUDIENCE,
		[CLAIMS_TENANT] = GH_VERIFY_TENANT,
	};
	struct lookup l = { s, NULL, 0, 0 };
	struct jose_jwt *jwt;
	const struct jose_key *key = NULL;
	const char *jerr = NULL;
	struct claims_rules rules;
	struct claims cl;
	char desc[160];
	enum claims_err ce;
	int rc;

	*unknown_kid = 0;
	/* ~22 KB: on the heap, since this runs on the caller's threads, whose
	 * stacks may be small. */
	if ((jwt = malloc(sizeof(*jwt))) == NULL)
		return GH_VERIFY_NO_MEMORY;
	if (jose_verify_compact(token, len, lookup_key, &l, jwt, &key, &jerr) == -1) {
		if (l.asked && !l.found) {
			*unknown_kid = 1;
			rc = GH_VERIFY_UNKNOWN_KEY;
		} else {
			rc = (!l.asked || (jerr != NULL && strncmp(jerr, "malformed", 9) == 0)) ?
			    GH_VERIFY_MALFORMED : GH_VERIFY_BAD_SIGNATURE;
		}
		goto out;
	}
	memset(&rules, 0, sizeof(rules));
	rules.issuer = v->issuer;
	rules.audience = v->audience;
	rules.tenant = tenant;
	rules.now = (int64_t)time(NULL);
	rules.leeway = v->leeway;
	if ((ce = claims_check(&jwt->header, &jwt->claims, &rules, &cl, desc,
	    sizeof(desc))) != CLAIMS_OK) {
		rc = map[ce];
		goto out;
	}
	/* The key fixes the environment (gatehouse publishes each key's env). */
	if ((l.env != NULL && l.env[0] != '\0' && (cl.env == NULL || strcmp(cl.env, l.env) != 0)) ||
	    (v->required_env != NULL && (cl.env == NULL || strcmp(cl.env, v->required_env) != 0))) {
		rc = GH_VERIFY_ENVIRONMENT;
		goto out;
	}
	rc = out != NULL ? claims_out(&cl, token, len, out) : GH_VERIFY_OK;
out:
	free(jwt);
	return rc;
}

GH_VERIFY_API int
gh_verify_token(gh_verifier *v, const char *token, size_t len, const char *tenant,
    struct gh_verify_claims *out)
{
	struct keyset *s;
	int rc, unknown = 0;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (v == NULL || token == NULL)
		return GH_VERIFY_INVALID_ARGUMENT;
	if (len == 0 || len > JOSE_MAX_TOKEN_LEN)
		return GH_VERIFY_MALFORMED;
	if ((s = keyset_get(v)) == NULL) {
		refresh_rate_limited(v, NULL);
		if ((s = keyset_get(v)) == NULL)
			return GH_VERIFY_JWKS_UNAVAILABLE;
	}
	s = refresh_if_expired(v, s);
	if (keyset_too_stale(v, s)) {
		rc = GH_VERIFY_JWKS_UNAVAILABLE;
		goto out;
	}
	rc = verify_with(v, s, token, len, tenant, out, &unknown);
	if (unknown) {
		/* Rotation publishes keys ahead, but a verifier may have fetched
		 * before the new key appeared: fetch again, rate-limited. */
		refresh_rate_limited(v, s);
		keyset_unref(s);
		if ((s = keyset_get(v)) == NULL)
			return GH_VERIFY_JWKS_UNAVAILABLE;
		rc = verify_with(v, s, token, len, tenant, out, &unknown);
	}
out:
	keyset_unref(s);
	return rc;
}

GH_VERIFY_API int
gh_verify_has_scope(const struct gh_verify_claims *c, const char *s)
{
	if (c == NULL || c->scope == NULL || s == NULL)
		return 0;
	return claims_scope_has(c->scope, s, strlen(s));
}

GH_VERIFY_API void
gh_verify_claims_clear(struct gh_verify_claims *c)
{
	if (c == NULL)
		return;
	free(c->client_id);
	free(c->tenant_id);
	free(c->sub);
	free(c->jti);
	free(c->scope);
	free(c->env);
	free(c->payload_json);
	memset(c, 0, sizeof(*c));
}
