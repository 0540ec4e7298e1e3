/* test_verify.c — libgatehouse-verify against a JWKS served on loopback:
 * the gate's rules (signature and alg from the key, typ, exp/nbf with
 * leeway, iss, aud, tenant, env), key refresh on an unknown kid and its
 * rate limit, the key set's expiry by the answer's max-age, and RFC 8725's
 * bad tokens. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "gatehouse/verify.h"
#include "jose/b64url.h"
#include "jose/jose.h"

#define ISS "https://gatehouse.test"

static struct {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;		/* done changed */
	char		*jwks;
	int		 fetches;
	int		 fd;
	uint16_t	 port;
	pthread_t	 thread;
	char		 cache_control[64];	/* "": no Cache-Control field */
	int		 fail;		/* 1: answer 503 */
	/* hold > 0: the next fetch is answered only once done >= hold (or
	 * after 3 s); held_ok says which. */
	int		 hold, done, held_ok;
} srv = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, -1, 0, 0, "", 0,
	0, 0, 0 };

static struct jose_key *k1, *k2;

/* With srv.lock held: waits for srv.hold verifications to finish. */
static void
hold_fetch(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 3;	/* within the verifier's 5 s fetch timeout */
	while (srv.done < srv.hold)
		if (pthread_cond_timedwait(&srv.cond, &srv.lock, &until) != 0)
			break;
	srv.held_ok = srv.done >= srv.hold;
	srv.hold = 0;
}

static void *
serve(void *arg)
{
	(void)arg;
	for (;;) {
		char req[4096], head[512], cc[96] = "";
		size_t used = 0;
		int c = accept(srv.fd, NULL, NULL);
		if (c == -1)
			return NULL;
		while (used < sizeof(req) - 1) {
			ssize_t n = read(c, req + used, sizeof(req) - 1 - used);
			if (n <= 0)
				break;
			used += (size_t)n;
			req[used] = '\0';
			if (strstr(req, "\r\n\r\n") != NULL)
				break;
		}
		pthread_mutex_lock(&srv.lock);
		srv.fetches++;
		if (srv.hold > 0)
			hold_fetch();
		if (srv.cache_control[0] != '\0')
			snprintf(cc, sizeof(cc), "Cache-Control: %s\r\n", srv.cache_control);
		if (srv.fail)
			snprintf(head, sizeof(head), "HTTP/1.1 503 Service Unavailable\r\n"
			    "Content-Length: 0\r\nConnection: close\r\n\r\n");
		else
			snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			    "%sContent-Length: %zu\r\nConnection: close\r\n\r\n", cc, strlen(srv.jwks));
		if (write(c, head, strlen(head)) < 0 ||
		    (!srv.fail && write(c, srv.jwks, strlen(srv.jwks)) < 0))
			(void)0;
		pthread_mutex_unlock(&srv.lock);
		close(c);
	}
}

static void
publish(int with_k2)
{
	json_t *keys = json_array(), *j;

	j = jose_key_public_jwk(k1);
	json_object_set_new(j, "env", json_string("production"));
	json_array_append_new(keys, j);
	if (with_k2) {
		j = jose_key_public_jwk(k2);
		json_object_set_new(j, "env", json_string("sandbox"));
		json_array_append_new(keys, j);
	}
	j = json_pack("{s:o}", "keys", keys);
	pthread_mutex_lock(&srv.lock);
	free(srv.jwks);
	srv.jwks = json_dumps(j, JSON_COMPACT);
	pthread_mutex_unlock(&srv.lock);
	json_decref(j);
}

/* What the next answers carry: Cache-Control (NULL: none) and 503 or not. */
static void
serve_as(const char *cache_control, int fail)
{
	pthread_mutex_lock(&srv.lock);
	snprintf(srv.cache_control, sizeof(srv.cache_control), "%s",
	    cache_control != NULL ? cache_control : "");
	srv.fail = fail;
	pthread_mutex_unlock(&srv.lock);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1)
		;
}

static int
fetches(void)
{
	int n;
	pthread_mutex_lock(&srv.lock);
	n = srv.fetches;
	pthread_mutex_unlock(&srv.lock);
	return n;
}

static int
setup(void **state)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	const char *err = NULL;

	(void)state;
	if (jose_key_generate(JOSE_ALG_RS256, "k1", &k1, &err) == -1 ||
	    jose_key_generate(JOSE_ALG_ES256, "k2", &k2, &err) == -1)
		return -1;
	publish(0);
	srv.fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(srv.fd, (struct sockaddr *)&a, sizeof(a)) == -1 || listen(srv.fd, 16) == -1 ||
	    getsockname(srv.fd, (struct sockaddr *)&a, &al) == -1)
		return -1;
	srv.port = ntohs(a.sin_port);
	return pthread_create(&srv.thread, NULL, serve, NULL);
}

static int
teardown(void **state)
{
	(void)state;
	shutdown(srv.fd, SHUT_RDWR);
	close(srv.fd);
	pthread_join(srv.thread, NULL);
	free(srv.jwks);
	jose_key_free(k1);
	jose_key_free(k2);
	return 0;
}

/* Options for the test server's JWKS over plain HTTP, its issuer; the
 * caller sets the rest. url (128 bytes) must outlive them. */
static void
options_of_test_server(struct gh_verify_options *o, char url[128])
{
	snprintf(url, 128, "http://127.0.0.1:%u/.well-known/jwks.json", srv.port);
	memset(o, 0, sizeof(*o));
	o->jwks_url = url;
	o->issuer = ISS;
	o->allow_http = 1;
}

static gh_verifier *
verifier(const char *aud, long min_refresh)
{
	struct gh_verify_options o;
	gh_verifier *v = NULL;
	char url[128], err[128];

	options_of_test_server(&o, url);
	o.audience = aud;
	o.required_env = "any";	/* the tests use both keys' tokens */
	o.leeway = 30;
	o.min_refresh_interval = min_refresh;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	return v;
}

/* A token signed by key with typ, over the claims (printf-style JSON). */
static char *
token(const struct jose_key *key, const char *typ, const char *fmt, ...)
{
	char payload[2048], *out = NULL;
	size_t len = 0;
	const char *err = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(payload, sizeof(payload), fmt, ap);
	va_end(ap);
	assert_int_equal(jose_sign_compact(key, typ, payload, strlen(payload), &out, &len, &err), 0);
	return out;
}

static char *
good(const struct jose_key *key, const char *env, long exp_in, long nbf_in,
    const char *iss, const char *aud)
{
	long now = (long)time(NULL);
	return token(key, "at+jwt", "{\"iss\":\"%s\",\"sub\":\"c1\",\"client_id\":\"c1\","
	    "\"tenant_id\":\"acme\",\"roles\":[\"operator\"],\"env\":\"%s\",\"aud\":\"%s\","
	    "\"exp\":%ld,\"nbf\":%ld,\"iat\":%ld,\"jti\":\"j1\",\"scope\":\"cards:read cards:write\"}",
	    iss, env, aud, now + exp_in, now + nbf_in, now + nbf_in);
}

static int
verify(gh_verifier *v, const char *t, const char *tenant)
{
	return gh_verify_token(v, t, strlen(t), tenant, NULL);
}

static void
test_valid_and_claims(void **state)
{
	gh_verifier *v = verifier("https://api", 30);
	char *t = good(k1, "production", 600, 0, ISS, "https://api");
	struct gh_verify_claims c;

	(void)state;
	assert_int_equal(gh_verify_token(v, t, strlen(t), "acme", &c), GH_VERIFY_OK);
	assert_string_equal(c.client_id, "c1");
	assert_string_equal(c.tenant_id, "acme");
	assert_string_equal(c.env, "production");
	assert_int_equal(c.roles, GH_VERIFY_ROLE_OPERATOR);
	assert_true(gh_verify_has_scope(&c, "cards:write"));
	assert_false(gh_verify_has_scope(&c, "cards"));
	assert_non_null(strstr(c.payload_json, "\"jti\":\"j1\""));
	gh_verify_claims_clear(&c);
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_OK);
	assert_int_equal(verify(v, t, "other"), GH_VERIFY_TENANT);
	free(t);
	gh_verifier_free(v);
}

static void
test_time_issuer_audience_typ_env(void **state)
{
	gh_verifier *v = verifier("https://api", 30);
	char *t;

	(void)state;
	t = good(k1, "production", -31, -600, ISS, "https://api");
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_EXPIRED);
	free(t);
	t = good(k1, "production", -5, -600, ISS, "https://api");	/* within leeway */
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_OK);
	free(t);
	t = good(k1, "production", 600, 120, ISS, "https://api");
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_NOT_YET_VALID);
	free(t);
	t = good(k1, "production", 600, 0, "https://evil", "https://api");
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_ISSUER);
	free(t);
	t = good(k1, "production", 600, 0, ISS, "https://other");
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_AUDIENCE);
	free(t);
	t = good(k1, "sandbox", 600, 0, ISS, "https://api");	/* env not the key's */
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_ENVIRONMENT);
	free(t);
	t = token(k1, "JWT", "{\"iss\":\"" ISS "\",\"client_id\":\"c\",\"tenant_id\":\"t\","
	    "\"jti\":\"j\",\"exp\":%ld}", (long)time(NULL) + 60);
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_TYP);
	free(t);
	gh_verifier_free(v);
}

static char *
forge(const char *header, const char *payload, const char *sig)
{
	char *out = malloc(4096);
	size_t o;

	o = b64url_encode((const uint8_t *)header, strlen(header), out);
	out[o++] = '.';
	o += b64url_encode((const uint8_t *)payload, strlen(payload), out + o);
	out[o++] = '.';
	strcpy(out + o, sig);
	return out;
}

static void
test_rfc8725_bad_tokens(void **state)
{
	gh_verifier *v = verifier("x", 30);
	char *t = good(k1, "production", 600, 0, ISS, "x"), *f, *big;
	const char *dot2 = strrchr(t, '.');
	char payload[1024];

	(void)state;
	snprintf(payload, sizeof(payload), "{\"iss\":\"" ISS "\",\"client_id\":\"c\",\"tenant_id\":\"t\","
	    "\"jti\":\"j\",\"env\":\"production\",\"exp\":%ld}", (long)time(NULL) + 60);
	f = forge("{\"alg\":\"none\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", payload, "");
	assert_int_not_equal(verify(v, f, NULL), GH_VERIFY_OK);
	free(f);
	f = forge("{\"alg\":\"NoNe\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", payload, "AAAA");
	assert_int_not_equal(verify(v, f, NULL), GH_VERIFY_OK);
	free(f);
	f = forge("{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", payload,
	    "c2lnbmF0dXJlLXdpdGgtdGhlLXB1YmxpYy1rZXk");
	assert_int_equal(verify(v, f, NULL), GH_VERIFY_MALFORMED);
	free(f);
	f = forge("{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\",\"crit\":[\"exp\"]}", payload, "AAAA");
	assert_int_not_equal(verify(v, f, NULL), GH_VERIFY_OK);
	free(f);
	/* Tampered payload with the original signature. */
	f = forge("{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k1\"}", payload, dot2 + 1);
	assert_int_equal(verify(v, f, NULL), GH_VERIFY_BAD_SIGNATURE);
	free(f);
	/* Stripped signature; four segments; outside base64url. */
	f = strdup(t);
	strrchr(f, '.')[1] = '\0';
	assert_int_not_equal(verify(v, f, NULL), GH_VERIFY_OK);
	free(f);
	f = malloc(strlen(t) + 8);
	sprintf(f, "%s.AAAA", t);
	assert_int_equal(verify(v, f, NULL), GH_VERIFY_MALFORMED);
	free(f);
	f = strdup(t);
	f[3] = '*';
	assert_int_equal(verify(v, f, NULL), GH_VERIFY_MALFORMED);
	free(f);
	big = malloc(100 * 1024 + 1);
	memset(big, 'A', 100 * 1024);
	big[100 * 1024] = '\0';
	assert_int_equal(verify(v, big, NULL), GH_VERIFY_MALFORMED);
	free(big);
	free(t);
	gh_verifier_free(v);
}

static void
test_refresh_on_unknown_kid_is_rate_limited(void **state)
{
	gh_verifier *v = verifier("x", 2);
	char *t1 = good(k1, "production", 600, 0, ISS, "x");
	char *t2 = good(k2, "sandbox", 600, 0, ISS, "x");
	char *t3;
	int n0;

	(void)state;
	publish(0);
	n0 = fetches();
	assert_int_equal(verify(v, t1, NULL), GH_VERIFY_OK);
	assert_int_equal(fetches(), n0 + 1);
	publish(1);			/* rotation publishes k2 */
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_UNKNOWN_KEY);	/* within 2 s */
	assert_int_equal(fetches(), n0 + 1);
	sleep(2);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);	/* refreshed */
	assert_int_equal(fetches(), n0 + 2);
	/* Made-up kids do not make it fetch again and again. */
	t3 = forge("{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"nope\"}", "{}", "AAAA");
	for (int i = 0; i < 20; i++)
		assert_int_equal(verify(v, t3, NULL), GH_VERIFY_UNKNOWN_KEY);
	assert_int_equal(fetches(), n0 + 2);
	assert_int_equal(verify(v, t1, NULL), GH_VERIFY_OK);
	free(t1);
	free(t2);
	free(t3);
	gh_verifier_free(v);
}

/* Regression: a key the issuer withdrew from its JWKS (keys revoke after a
 * compromise) verified for as long as the process lived. The key set now
 * expires with the answer's max-age, and the new set replaces it whole. */
static void
test_withdrawn_key_stops_after_max_age(void **state)
{
	gh_verifier *v = verifier("x", 1);
	char *t1 = good(k1, "production", 600, 0, ISS, "x");
	char *t2 = good(k2, "sandbox", 600, 0, ISS, "x");
	int n0;

	(void)state;
	serve_as("public, max-age=1", 0);
	publish(1);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);
	n0 = fetches();
	publish(0);			/* the issuer withdraws k2 */
	sleep_ms(1100);			/* past max-age */
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_UNKNOWN_KEY);
	/* One fetch for the expired set; the unknown kid's own refetch is
	 * rate-limited as before. */
	assert_int_equal(fetches(), n0 + 1);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_UNKNOWN_KEY);
	assert_int_equal(verify(v, t1, NULL), GH_VERIFY_OK);
	assert_int_equal(fetches(), n0 + 1);
	serve_as(NULL, 0);
	free(t1);
	free(t2);
	gh_verifier_free(v);
}

/* The issuer down when the set expires: the old set keeps verifying, the
 * issuer is asked again only min_refresh_interval later, and once it
 * answers the new set takes over. */
static void
test_failing_jwks_keeps_old_set(void **state)
{
	gh_verifier *v = verifier("x", 1);
	char *t2 = good(k2, "sandbox", 600, 0, ISS, "x");
	int n0;

	(void)state;
	serve_as("max-age=1", 0);
	publish(1);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);
	n0 = fetches();
	serve_as("max-age=1", 1);	/* 503 from now on */
	sleep_ms(1100);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);	/* tried, kept the old set */
	assert_int_equal(fetches(), n0 + 1);
	for (int i = 0; i < 20; i++)	/* not hammered */
		assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);
	assert_int_equal(fetches(), n0 + 1);
	sleep_ms(1100);			/* min_refresh_interval later: again */
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);
	assert_int_equal(fetches(), n0 + 2);
	publish(0);			/* back, without k2 */
	serve_as("max-age=1", 0);
	sleep_ms(1100);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_UNKNOWN_KEY);
	assert_int_equal(fetches(), n0 + 3);
	serve_as(NULL, 0);
	free(t2);
	gh_verifier_free(v);
}

/* Regression: while the issuer could not be reached the last key set
 * verified for good, a key withdrawn before the outage included. Past its
 * age limit by max_stale it now fails closed, and a fetch that works again
 * ends that. */
static void
test_unreachable_issuer_fails_closed_after_max_stale(void **state)
{
	struct gh_verify_options o;
	gh_verifier *v = NULL;
	char url[128], err[128];
	char *t2 = good(k2, "sandbox", 600, 0, ISS, "x");

	(void)state;
	options_of_test_server(&o, url);
	o.audience = "x";
	o.required_env = "any";
	o.min_refresh_interval = 1;
	o.max_stale = 1;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	serve_as("max-age=1", 0);
	publish(1);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);
	serve_as("max-age=1", 1);	/* the issuer withdraws k2, and is cut off */
	publish(0);
	sleep_ms(1100);			/* past max-age, within max_stale */
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_OK);
	sleep_ms(1000);			/* past max-age + max_stale */
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_JWKS_UNAVAILABLE);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_JWKS_UNAVAILABLE);
	serve_as("max-age=1", 0);	/* back: its answer decides again */
	sleep_ms(1100);
	assert_int_equal(verify(v, t2, NULL), GH_VERIFY_UNKNOWN_KEY);
	serve_as(NULL, 0);
	free(t2);
	gh_verifier_free(v);
}

/* The options grew a field: a caller built against 0.2.0 (the function,
 * not the macro) gets the default; a too small size, or a newer header's
 * field this library does not know, is refused. */
static void
test_sized_options(void **state)
{
	struct {
		struct gh_verify_options o;
		long newer;
	} big;
	gh_verifier *v = NULL;
	char url[128], err[160];

	(void)state;
	memset(&big, 0, sizeof(big));
	options_of_test_server(&big.o, url);
	big.o.audience = "x";
	big.o.required_env = "any";
	big.o.max_stale = 86401;
	assert_int_equal(gh_verifier_new(&big.o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	assert_string_equal(err, "max_stale is at most 86400 seconds");
	/* 0.2.0's struct ends before max_stale: not read. */
	assert_int_equal((gh_verifier_new)(&big.o, &v, err, sizeof(err)), GH_VERIFY_OK);
	gh_verifier_free(v);
	assert_int_equal(gh_verifier_new_sized(&big.o, 8, &v, err, sizeof(err)),
	    GH_VERIFY_INVALID_ARGUMENT);
	assert_null(v);
	big.o.max_stale = 0;
	big.newer = 1;
	assert_int_equal(gh_verifier_new_sized(&big.o, sizeof(big), &v, err, sizeof(err)),
	    GH_VERIFY_INVALID_ARGUMENT);
	big.newer = 0;
	assert_int_equal(gh_verifier_new_sized(&big.o, sizeof(big), &v, err, sizeof(err)),
	    GH_VERIFY_OK);
	gh_verifier_free(v);
}

#define NTHREADS 8

struct worker {
	gh_verifier	*v;
	const char	*t;
	int		 rc;
};

static void *
work(void *arg)
{
	struct worker *w = arg;

	w->rc = verify(w->v, w->t, NULL);
	pthread_mutex_lock(&srv.lock);
	srv.done++;
	pthread_cond_broadcast(&srv.cond);
	pthread_mutex_unlock(&srv.lock);
	return NULL;
}

/* Threads verifying when the set expires: one fetches, and the others go
 * on with the current set meanwhile instead of queueing behind the issuer
 * (the server holds the fetch until they are all done). */
static void
test_refresh_does_not_block_other_threads(void **state)
{
	gh_verifier *v = verifier("x", 1);
	char *t1 = good(k1, "production", 600, 0, ISS, "x");
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	int n0, held_ok;

	(void)state;
	serve_as("max-age=1", 0);
	publish(0);
	assert_int_equal(verify(v, t1, NULL), GH_VERIFY_OK);
	n0 = fetches();
	serve_as("max-age=60", 0);
	pthread_mutex_lock(&srv.lock);
	srv.hold = NTHREADS - 1;	/* every thread but the fetcher */
	srv.done = 0;
	srv.held_ok = 0;
	pthread_mutex_unlock(&srv.lock);
	sleep_ms(1100);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ v, t1, -1 };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].rc, GH_VERIFY_OK);
	}
	assert_int_equal(fetches(), n0 + 1);	/* single flight */
	pthread_mutex_lock(&srv.lock);
	held_ok = srv.held_ok;
	srv.hold = 0;
	pthread_mutex_unlock(&srv.lock);
	assert_int_equal(held_ok, 1);	/* the others did not wait for the issuer */
	/* The new set (max-age=60) is fresh: no more fetches. */
	assert_int_equal(verify(v, t1, NULL), GH_VERIFY_OK);
	assert_int_equal(fetches(), n0 + 1);
	serve_as(NULL, 0);
	free(t1);
	gh_verifier_free(v);
}

/* gatehouse lists its keys oldest first, the signing one last, and each
 * rotation leaves the key before published while its tokens live: after
 * many rotations the key that signs is past the 64th. The set once held the
 * first 64 and refused every new token (GH_VERIFY_UNKNOWN_KEY). */
static void
test_newest_of_many_published_keys(void **state)
{
	json_t *keys = json_array(), *j;
	struct jose_key *old;
	const char *err = NULL;
	gh_verifier *v = verifier("x", 30);
	char kid[16], *t = good(k1, "production", 600, 0, ISS, "x");

	(void)state;
	for (int i = 0; i < 70; i++) {
		snprintf(kid, sizeof(kid), "old-%d", i);
		assert_int_equal(jose_key_generate(JOSE_ALG_EDDSA, kid, &old, &err), 0);
		j = jose_key_public_jwk(old);
		json_object_set_new(j, "env", json_string("production"));
		json_array_append_new(keys, j);
		jose_key_free(old);
	}
	j = jose_key_public_jwk(k1);
	json_object_set_new(j, "env", json_string("production"));
	json_array_append_new(keys, j);
	j = json_pack("{s:o}", "keys", keys);
	pthread_mutex_lock(&srv.lock);
	free(srv.jwks);
	srv.jwks = json_dumps(j, JSON_COMPACT);
	pthread_mutex_unlock(&srv.lock);
	json_decref(j);
	assert_int_equal(verify(v, t, NULL), GH_VERIFY_OK);
	free(t);
	gh_verifier_free(v);
	publish(0);
}

static void
test_options(void **state)
{
	struct gh_verify_options o;
	gh_verifier *v = NULL;
	char err[128];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.jwks_url = "http://127.0.0.1:1/jwks";
	o.issuer = ISS;
	o.audience = "https://api";
	o.required_env = "production";
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	assert_non_null(strstr(err, "https"));
	o.jwks_url = "https://127.0.0.1:1/jwks";
	o.issuer = NULL;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	/* An unreachable issuer: unavailable, not a crash; TLS is required. */
	o.issuer = ISS;
	o.timeout_ms = 2000;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	assert_int_equal(gh_verify_token(v, "a.b.c", 5, NULL, NULL), GH_VERIFY_JWKS_UNAVAILABLE);
	gh_verifier_free(v);
	assert_string_equal(gh_verify_strerror(GH_VERIFY_EXPIRED), "the token has expired");
}

/* Regression: leeway = LONG_MAX overflowed exp + leeway in the claims
 * check; absurd values are refused up front, with the reason. */
static void
test_option_bounds(void **state)
{
	struct gh_verify_options o;
	gh_verifier *v = NULL;
	char err[128];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.jwks_url = "https://127.0.0.1:1/jwks";
	o.issuer = ISS;
	o.audience = "https://api";
	o.required_env = "production";
	o.leeway = LONG_MAX;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	assert_null(v);
	assert_string_equal(err, "leeway is at most 600 seconds");
	o.leeway = 601;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	o.leeway = 600;
	o.min_refresh_interval = 3601;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	assert_string_equal(err, "min_refresh_interval is at most 3600 seconds");
	o.min_refresh_interval = LONG_MAX;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	/* The bounds themselves are accepted. */
	o.min_refresh_interval = 3600;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	gh_verifier_free(v);
}

/* Regression: a verifier set up without an audience (NULL, the zeroed
 * options' default) accepted a token the issuer minted for another API
 * (RFC 9068 §4). The audience is now required; skipping its check takes
 * GH_VERIFY_ANY_AUDIENCE, named, and a copy of that is not it. */
static void
test_audience_required(void **state)
{
	struct gh_verify_options o;
	gh_verifier *v = NULL;
	char url[128], err[128], copy[1] = "";
	char *other = good(k1, "production", 600, 0, ISS, "https://other-api");

	(void)state;
	options_of_test_server(&o, url);
	o.required_env = "production";
	publish(0);
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	assert_null(v);
	assert_non_null(strstr(err, "audience is required"));
	o.audience = "";
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	o.audience = copy;	/* the opt-out's text, not the opt-out */
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	o.audience = "https://api";
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	assert_int_equal(verify(v, other, NULL), GH_VERIFY_AUDIENCE);
	gh_verifier_free(v);
	o.audience = GH_VERIFY_ANY_AUDIENCE;
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	assert_int_equal(verify(v, other, NULL), GH_VERIFY_OK);
	gh_verifier_free(v);
	free(other);
}

/* Regression: a verifier left without required_env (NULL, the zeroed
 * options' default) took a sandbox client's token, signed by a sandbox key
 * of the same JWKS, with the production tokens' iss and aud. The
 * environment is now required; "any" is the deliberate opt-out. */
static void
test_environment_required(void **state)
{
	struct gh_verify_options o;
	gh_verifier *v = NULL;
	char url[128], err[128];
	char *sandbox = good(k2, "sandbox", 600, 0, ISS, "https://api");
	char *forged = good(k2, "production", 600, 0, ISS, "https://api");

	(void)state;
	options_of_test_server(&o, url);
	o.audience = "https://api";
	publish(1);			/* both environments' keys, as the plain URL */
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	assert_null(v);
	assert_non_null(strstr(err, "required_env is required"));
	o.required_env = "staging";
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_INVALID_ARGUMENT);
	o.required_env = "production";
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	assert_int_equal(verify(v, sandbox, NULL), GH_VERIFY_ENVIRONMENT);
	/* A sandbox key cannot make a production token either. */
	assert_int_equal(verify(v, forged, NULL), GH_VERIFY_ENVIRONMENT);
	gh_verifier_free(v);
	o.required_env = "any";
	assert_int_equal(gh_verifier_new(&o, &v, err, sizeof(err)), GH_VERIFY_OK);
	assert_int_equal(verify(v, sandbox, NULL), GH_VERIFY_OK);
	assert_int_equal(verify(v, forged, NULL), GH_VERIFY_ENVIRONMENT);
	gh_verifier_free(v);
	publish(0);
	free(sandbox);
	free(forged);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_and_claims),
		cmocka_unit_test(test_time_issuer_audience_typ_env),
		cmocka_unit_test(test_rfc8725_bad_tokens),
		cmocka_unit_test(test_refresh_on_unknown_kid_is_rate_limited),
		cmocka_unit_test(test_withdrawn_key_stops_after_max_age),
		cmocka_unit_test(test_failing_jwks_keeps_old_set),
		cmocka_unit_test(test_unreachable_issuer_fails_closed_after_max_stale),
		cmocka_unit_test(test_sized_options),
		cmocka_unit_test(test_refresh_does_not_block_other_threads),
		cmocka_unit_test(test_newest_of_many_published_keys),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_option_bounds),
		cmocka_unit_test(test_audience_required),
		cmocka_unit_test(test_environment_required),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
