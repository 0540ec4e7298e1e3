/*
 * client_probe.c — drives the client library for the tests in this folder:
 * options become a struct gh_client_options, then each step argument runs
 * one library operation and prints one JSON line with its outcome, so that
 * the Python tests (fake seed servers, the real gatehouse) can assert on
 * what a caller of the library sees. The secret comes from GH_PROBE_SECRET.
 *
 * Steps:
 *   get             gh_client_token_get (default scope and tenant); t_ms is
 *                   when it started, in ms since the probe started
 *   sleep:MS        sleep
 *   conc:N          N threads released at once each get a token
 *   call:URL        gh_client_call with the --header lines
 *   callconc:N:URL  N threads released at once each gh_client_call URL
 *   post:URL        the same as a POST; postidem:URL a POST marked idempotent
 *   invalidate      gh_client_token_invalidate of whatever is cached
 *   refuse          gh_client_token_invalidate of the token get returns (a 401)
 *   copy:N          gh_client_token_copy into an N-byte buffer between guards
 *   stats           gh_client_stats_get
 *
 * It includes the library's private header only to print when a token will
 * be refreshed (refresh_in_ms), which the public API does not expose.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "extern.h"

#define MAX_HEADERS 16
#define MAX_THREADS 256

static struct gh_client *cl;
static int64_t start_ms;
static const char *headers[MAX_HEADERS + 1];
static int nheaders;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
emit(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);

	if (s != NULL) {
		printf("%s\n", s);
		free(s);
	}
	fflush(stdout);
	json_decref(j);
}

static json_t *
err_json(const char *step, enum gh_client_err rc, const struct gh_client_error *e)
{
	return json_pack("{s:s, s:s, s:s, s:I}", "step", step, "rc", gh_client_err_name(rc),
	    "msg", rc == GH_CLIENT_OK ? "" : e->message, "status", (json_int_t)e->http_status);
}

static void
step_get(void)
{
	struct gh_client_error e;
	struct gh_client_token *t = NULL;
	enum gh_client_err rc;
	int64_t t0 = now_ms(), ns;
	json_t *j;

	memset(&e, 0, sizeof(e));
	rc = gh_client_token_get(cl, NULL, NULL, &t, &e);
	j = err_json("get", rc, &e);
	json_object_set_new(j, "ms", json_integer(now_ms() - t0));
	json_object_set_new(j, "t_ms", json_integer(t0 - start_ms));
	if (rc == GH_CLIENT_OK) {
		ns = ghc_now_ns();
		json_object_set_new(j, "token", json_string(gh_client_token_value(t)));
		json_object_set_new(j, "expires_at", json_integer(gh_client_token_expires_at(t)));
		json_object_set_new(j, "expires_in_ms", json_integer((t->expires_ns - ns) / 1000000));
		json_object_set_new(j, "usable_in_ms", json_integer((t->usable_ns - ns) / 1000000));
		json_object_set_new(j, "refresh_in_ms", json_integer((t->refresh_ns - ns) / 1000000));
	}
	gh_client_token_release(t);
	emit(j);
}

/*
 * copy:N: gh_client_token_copy into an N-byte buffer (N 0: buf NULL) that
 * sits between guard bytes, all filled with 'Z' first: reports what the
 * buffer holds up to its first NUL (nul_at -1: none), and whether any
 * byte outside it changed.
 */
static void
step_copy(long n)
{
	struct gh_client_error e;
	enum gh_client_err rc;
	unsigned char *mem;
	size_t needed = 12345, i;
	long nul_at = -1;
	int guards_ok = 1;
	json_t *j;

	memset(&e, 0, sizeof(e));
	if ((mem = malloc((size_t)n + 32)) == NULL)
		exit(1);
	memset(mem, 'Z', (size_t)n + 32);
	rc = gh_client_token_copy(cl, NULL, NULL, n > 0 ? (char *)mem + 16 : NULL, (size_t)n,
	    &needed, &e);
	for (i = 0; i < 16; i++)
		if (mem[i] != 'Z' || mem[16 + (size_t)n + i] != 'Z')
			guards_ok = 0;
	for (i = 0; i < (size_t)n; i++)
		if (mem[16 + i] == '\0') {
			nul_at = (long)i;
			break;
		}
	j = err_json("copy", rc, &e);
	json_object_set_new(j, "needed", json_integer((json_int_t)needed));
	json_object_set_new(j, "nul_at", json_integer(nul_at));
	json_object_set_new(j, "guards_ok", json_boolean(guards_ok));
	if (nul_at >= 0)
		json_object_set_new(j, "buf", json_stringn((char *)mem + 16, (size_t)nul_at));
	free(mem);
	emit(j);
}

struct conc {
	pthread_barrier_t *bar;
	enum gh_client_err rc;
	char		 token[GH_CLIENT_TOKEN_MAX + 1];
	int64_t		 ms;
};

static void *
conc_main(void *arg)
{
	struct conc *c = arg;
	struct gh_client_token *t = NULL;
	int64_t t0;

	pthread_barrier_wait(c->bar);
	t0 = now_ms();
	c->rc = gh_client_token_get(cl, NULL, NULL, &t, NULL);
	c->ms = now_ms() - t0;
	if (c->rc == GH_CLIENT_OK)
		snprintf(c->token, sizeof(c->token), "%s", gh_client_token_value(t));
	gh_client_token_release(t);
	return NULL;
}

static int
step_conc(int n)
{
	pthread_barrier_t bar;
	pthread_t th[MAX_THREADS];
	struct conc *cs;
	struct gh_client_stats st;
	int i, k, ok = 0, distinct = 0, slow = 0;
	int64_t max_ms = 0;

	if (n < 1 || n > MAX_THREADS || (cs = calloc((size_t)n, sizeof(*cs))) == NULL)
		return -1;
	pthread_barrier_init(&bar, NULL, (unsigned)n);
	for (i = 0; i < n; i++) {
		cs[i].bar = &bar;
		if (pthread_create(&th[i], NULL, conc_main, &cs[i]) != 0) {
			fprintf(stderr, "client_probe: cannot start thread %d\n", i);
			exit(1);
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	for (i = 0; i < n; i++) {
		if (cs[i].rc != GH_CLIENT_OK)
			continue;
		ok++;
		if (cs[i].ms > max_ms)
			max_ms = cs[i].ms;
		if (cs[i].ms >= 100)
			slow++;
		for (k = 0; k < i; k++)
			if (cs[k].rc == GH_CLIENT_OK && strcmp(cs[k].token, cs[i].token) == 0)
				break;
		if (k == i)
			distinct++;
	}
	gh_client_stats_get(cl, &st);
	emit(json_pack("{s:s, s:i, s:i, s:i, s:I, s:I, s:i}", "step", "conc", "threads", n, "ok", ok,
	    "distinct", distinct, "token_requests", (json_int_t)st.token_requests,
	    "max_ms", (json_int_t)max_ms, "slow_100ms", slow));
	free(cs);
	return 0;
}

static void
step_call(const char *url, const char *method, int idempotent)
{
	struct gh_client_request r;
	struct gh_client_response resp;
	struct gh_client_error e;
	enum gh_client_err rc;
	int64_t t0 = now_ms();
	json_t *j;

	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	r.url = url;
	r.method = method;
	r.idempotent = idempotent;
	r.headers = nheaders > 0 ? headers : NULL;
	rc = gh_client_call(cl, &r, &resp, &e);
	j = err_json("call", rc, &e);
	json_object_set_new(j, "ms", json_integer(now_ms() - t0));
	json_object_set_new(j, "status", json_integer(resp.status));
	json_object_set_new(j, "body", json_stringn(resp.body ? resp.body : "", resp.body_len));
	json_object_set_new(j, "request_id", json_string(resp.request_id));
	json_object_set_new(j, "attempts", json_integer(resp.attempts));
	gh_client_response_free(&resp);
	emit(j);
}

struct callconc {
	pthread_barrier_t *bar;
	const char	*url;
	enum gh_client_err rc;
	long		 status;
};

static void *
callconc_main(void *arg)
{
	struct callconc *cc = arg;
	struct gh_client_request r;
	struct gh_client_response resp;

	memset(&r, 0, sizeof(r));
	r.url = cc->url;
	pthread_barrier_wait(cc->bar);
	cc->rc = gh_client_call(cl, &r, &resp, NULL);
	cc->status = resp.status;
	gh_client_response_free(&resp);
	return NULL;
}

/* callconc:N:URL: N threads released at once each make one call. */
static int
step_callconc(const char *arg)
{
	pthread_barrier_t bar;
	pthread_t th[MAX_THREADS];
	struct callconc *cs;
	struct gh_client_stats st;
	const char *colon = strchr(arg, ':');
	json_t *statuses;
	int i, n;

	if (colon == NULL)
		return -1;
	n = atoi(arg);
	if (n < 1 || n > MAX_THREADS || (cs = calloc((size_t)n, sizeof(*cs))) == NULL)
		return -1;
	pthread_barrier_init(&bar, NULL, (unsigned)n);
	for (i = 0; i < n; i++) {
		cs[i].bar = &bar;
		cs[i].url = colon + 1;
		if (pthread_create(&th[i], NULL, callconc_main, &cs[i]) != 0) {
			fprintf(stderr, "client_probe: cannot start thread %d\n", i);
			exit(1);
		}
	}
	statuses = json_array();
	for (i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
		json_array_append_new(statuses, json_integer(cs[i].status));
	}
	pthread_barrier_destroy(&bar);
	gh_client_stats_get(cl, &st);
	emit(json_pack("{s:s, s:o, s:I}", "step", "callconc", "statuses", statuses,
	    "token_requests", (json_int_t)st.token_requests));
	free(cs);
	return 0;
}

static void
step_stats(void)
{
	struct gh_client_stats st;

	gh_client_stats_get(cl, &st);
	emit(json_pack("{s:s, s:I, s:I, s:I, s:I}", "step", "stats",
	    "token_requests", (json_int_t)st.token_requests,
	    "token_fetches", (json_int_t)st.token_fetches,
	    "token_failures", (json_int_t)st.token_failures,
	    "api_calls", (json_int_t)st.api_calls));
}

static long
num(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0') {
		fprintf(stderr, "client_probe: not a number: %s\n", s);
		exit(2);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct gh_client_options o;
	struct gh_client_error e;
	enum gh_client_err rc;
	int i;

	memset(&o, 0, sizeof(o));
	memset(&e, 0, sizeof(e));
	start_ms = now_ms();
	o.client_secret = getenv("GH_PROBE_SECRET");
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--background") == 0) {
			o.background_refresh = 1;
			continue;
		}
		if (v == NULL) {
			fprintf(stderr, "client_probe: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (strcmp(a, "--url") == 0)
			o.base_url = v;
		else if (strcmp(a, "--dialect") == 0) {
			if (gh_client_dialect_parse(v, &o.dialect) != GH_CLIENT_OK) {
				fprintf(stderr, "client_probe: unknown dialect %s\n", v);
				return 2;
			}
		} else if (strcmp(a, "--id") == 0)
			o.client_id = v;
		else if (strcmp(a, "--path") == 0)
			o.token_path = v;
		else if (strcmp(a, "--scope") == 0)
			o.scope = v;
		else if (strcmp(a, "--tenant") == 0)
			o.tenant = v;
		else if (strcmp(a, "--token-name") == 0)
			o.token_name = v;
		else if (strcmp(a, "--expiration") == 0)
			o.token_expiration = num(v);
		else if (strcmp(a, "--refresh-before-ms") == 0)
			o.refresh_before_ms = num(v);
		else if (strcmp(a, "--refresh-before-s") == 0)
			o.refresh_before_s = num(v);
		else if (strcmp(a, "--timeout-ms") == 0)
			o.timeout_ms = num(v);
		else if (strcmp(a, "--connect-timeout-ms") == 0)
			o.connect_timeout_ms = num(v);
		else if (strcmp(a, "--retries") == 0)
			o.max_retries = (int)num(v);
		else if (strcmp(a, "--backoff-ms") == 0)
			o.backoff_base_ms = num(v);
		else if (strcmp(a, "--backoff-max-ms") == 0)
			o.backoff_max_ms = num(v);
		else if (strcmp(a, "--retry-after-max-ms") == 0)
			o.retry_after_max_ms = num(v);
		else if (strcmp(a, "--deadline-ms") == 0)
			o.deadline_ms = num(v);
		else if (strcmp(a, "--refresh-401-holdoff-ms") == 0)
			o.refresh_401_holdoff_ms = num(v);
		else if (strcmp(a, "--refusal-holdoff-ms") == 0)
			o.refusal_holdoff_ms = num(v);
		else if (strcmp(a, "--background-idle-ms") == 0)
			o.background_idle_ms = num(v);
		else if (strcmp(a, "--ca-file") == 0)
			o.ca_file = v;
		else if (strcmp(a, "--header") == 0 && nheaders < MAX_HEADERS)
			headers[nheaders++] = v;
		else {
			fprintf(stderr, "client_probe: unknown option %s\n", a);
			return 2;
		}
	}
	if ((rc = gh_client_new(&o, &cl, &e)) != GH_CLIENT_OK) {
		emit(err_json("new", rc, &e));
		return 1;
	}
	for (; i < argc; i++) {
		const char *s = argv[i];

		if (strcmp(s, "get") == 0)
			step_get();
		else if (strncmp(s, "sleep:", 6) == 0) {
			struct timespec ts;
			long ms = num(s + 6);

			ts.tv_sec = ms / 1000;
			ts.tv_nsec = (ms % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		} else if (strncmp(s, "conc:", 5) == 0) {
			if (step_conc((int)num(s + 5)) != 0) {
				fprintf(stderr, "client_probe: conc:1..%d\n", MAX_THREADS);
				return 2;
			}
		} else if (strncmp(s, "call:", 5) == 0)
			step_call(s + 5, NULL, 0);
		else if (strncmp(s, "copy:", 5) == 0)
			step_copy(num(s + 5));
		else if (strncmp(s, "callconc:", 9) == 0) {
			if (step_callconc(s + 9) != 0) {
				fprintf(stderr, "client_probe: callconc:1..%d:URL\n", MAX_THREADS);
				return 2;
			}
		} else if (strncmp(s, "post:", 5) == 0)
			step_call(s + 5, "POST", 0);
		else if (strncmp(s, "postidem:", 9) == 0)
			step_call(s + 9, "POST", 1);
		else if (strcmp(s, "invalidate") == 0) {
			gh_client_token_invalidate(cl, NULL, NULL, NULL);
			emit(json_pack("{s:s}", "step", "invalidate"));
		} else if (strcmp(s, "refuse") == 0) {
			/* What a caller with its own HTTP client does after a 401. */
			struct gh_client_token *t = NULL;

			if (gh_client_token_get(cl, NULL, NULL, &t, NULL) == GH_CLIENT_OK)
				gh_client_token_invalidate(cl, NULL, NULL, t);
			gh_client_token_release(t);
			emit(json_pack("{s:s}", "step", "refuse"));
		} else if (strcmp(s, "stats") == 0)
			step_stats();
		else {
			fprintf(stderr, "client_probe: unknown step %s\n", s);
			gh_client_free(cl);
			return 2;
		}
	}
	gh_client_free(cl);
	return 0;
}
