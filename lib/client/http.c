/*
 * http.c — one place that talks HTTP, with libcurl: TLS always verified,
 * redirects never followed, bounded connect and total timeouts, a bounded
 * answer, and the retry policy (network errors, 5xx and 429 retried with
 * bounded exponential backoff and jitter; other 4xx never).
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "extern.h"

enum gh_client_err
ghc_status_err(long status)
{
	if (status >= 200 && status < 300)
		return GH_CLIENT_OK;
	if (status >= 300 && status < 400)
		return GH_CLIENT_ERR_REDIRECT;
	if (status == 401)
		return GH_CLIENT_ERR_UNAUTHORIZED;
	if (status == 429)
		return GH_CLIENT_ERR_RATE_LIMITED;
	if (status >= 400 && status < 500)
		return GH_CLIENT_ERR_REJECTED;
	if (status >= 500)
		return GH_CLIENT_ERR_SERVER;
	return GH_CLIENT_ERR_BAD_RESPONSE;
}

enum gh_client_err
ghc_check_url(const struct gh_client *c, const char *url, struct gh_client_error *e)
{
	const char *auth, *end;

	if (url == NULL || *url == '\0')
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no URL given");
	if (strlen(url) > GHC_MAX_FIELD)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "URL longer than %d bytes",
		    GHC_MAX_FIELD);
	for (auth = url; *auth != '\0'; auth++)
		if ((unsigned char)*auth <= 0x20 || (unsigned char)*auth >= 0x7f)
			return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "URL contains a space or control character");
	if (strncasecmp(url, "https://", 8) == 0) {
		auth = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		if (!c->allow_http && !ghc_host_is_loopback(url))
			return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "plain http:// is only accepted for loopback hosts unless allow_http "
			    "is set; use https://");
		auth = url + 7;
	} else {
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "URL scheme must be https:// (or http:// to loopback)");
	}
	if ((end = strpbrk(auth, "/?#")) == NULL)
		end = auth + strlen(auth);
	if (end == auth)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "URL has no host");
	/* Credentials in a URL end up in logs and error messages. */
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "URL must not carry user:password@; give credentials as options");
	return GH_CLIENT_OK;
}

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct ghc_buf *b = arg;

	if (ghc_buf_append(b, p, size * n) != 0)
		return 0;	/* CURLE_WRITE_ERROR; b->overflow says why */
	return size * n;
}

/*
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; -1 if
 * absent/bad. Capped at GHC_MAX_MS (one day): the caller waits at most
 * retry_after_max_ms anyway, and the cap keeps the milliseconds in a
 * 32-bit long (a year of them, the old cap, is not).
 */
static long
retry_after_ms(CURL *h)
{
	const long long cap = GHC_MAX_MS / 1000;
	struct curl_header *hd = NULL;
	const char *v;
	long long secs = 0;
	time_t t;

	if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK ||
	    hd == NULL || (v = hd->value) == NULL)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (isdigit((unsigned char)*v)) {
		for (; isdigit((unsigned char)*v); v++) {
			secs = secs * 10 + (*v - '0');
			if (secs > cap)
				secs = cap;	/* "huge": clamp before the next digit */
		}
		while (*v == ' ' || *v == '\t')
			v++;
		return *v == '\0' ? (long)(secs * 1000) : -1;
	}
	if ((t = curl_getdate(v, NULL)) == -1)
		return -1;
	secs = (long long)t - (long long)time(NULL);
	if (secs < 0)
		secs = 0;
	if (secs > cap)
		secs = cap;
	return (long)(secs * 1000);
}

/* 1 when the request cannot have reached the server: no address for it,
 * or no connection to it. */
static int
never_sent(CURLcode cc)
{
	return cc == CURLE_COULDNT_RESOLVE_HOST || cc == CURLE_COULDNT_RESOLVE_PROXY ||
	    cc == CURLE_COULDNT_CONNECT;
}

/* The class of a transport error and whether it is worth another try. */
static enum gh_client_err
curl_class(CURLcode cc, int overflow, int *retry)
{
	*retry = 0;
	if ((cc == CURLE_WRITE_ERROR && overflow) || cc == CURLE_FILESIZE_EXCEEDED)
		return GH_CLIENT_ERR_BAD_RESPONSE;
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		*retry = 1;
		return GH_CLIENT_ERR_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		*retry = 1;
		return GH_CLIENT_ERR_NETWORK;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED:
		return GH_CLIENT_ERR_TLS;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return GH_CLIENT_ERR_INVALID_ARGUMENT;
	case CURLE_OUT_OF_MEMORY:
		return GH_CLIENT_ERR_NO_MEMORY;
	default:
		return GH_CLIENT_ERR_NETWORK;
	}
}

static long
backoff_ms(const struct gh_client *c, int retry)
{
	long d = c->backoff_base_ms;
	int i;

	for (i = 0; i < retry && d < c->backoff_max_ms; i++)
		d = d > LONG_MAX / 2 ? LONG_MAX : d * 2;
	if (d > c->backoff_max_ms)
		d = c->backoff_max_ms;
	/* "Equal jitter": half fixed, half random, so that a crowd spreads out. */
	return d / 2 + (long)(ghc_rand64() % (uint64_t)(d / 2 + 1));
}

static void
resp_reset(struct ghc_http_resp *r)
{
	ghc_buf_free(&r->body);
	free(r->content_type);
	free(r->location);
	r->content_type = NULL;
	r->location = NULL;
	r->status = 0;
	r->retry_after_ms = -1;
}

void
ghc_http_resp_free(struct ghc_http_resp *r)
{
	resp_reset(r);
	r->attempts = 0;
}

/* Milliseconds from now to deadline, rounded up; <= 0 when it has passed. */
static long
ms_left(int64_t deadline_ns)
{
	int64_t left = deadline_ns - ghc_now_ns();

	if (left <= 0)
		return 0;
	/* deadline_ns is at most now + one day: the quotient fits a long. */
	return (long)((left + 999999) / 1000000);
}

const char *
ghc_deadline_note(const struct gh_client *c, const struct ghc_http_resp *r, char *buf,
    size_t len)
{
	if (r == NULL || !r->out_of_time)
		return "";
	snprintf(buf, len, " (the call's deadline of %lld ms left no time for another attempt)",
	    (long long)(c->deadline_ns / 1000000));
	return buf;
}

/*
 * libcurl's progress callback: a nonzero return ends the transfer. It is
 * called at least about once a second while a transfer waits, so that
 * gh_client_free ends a background refresh the server is slow to answer
 * within a second, instead of waiting out the attempt's timeout.
 */
static int
closing_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	const struct gh_client *c = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(&c->closing) ? 1 : 0;
}

static enum gh_client_err
setup(struct gh_client *c, CURL *h, const struct ghc_http_req *req,
    struct ghc_http_resp *resp, char *errbuf, long timeout_ms, struct gh_client_error *e)
{
	const char *m = req->method ? req->method : "GET";
	CURLcode cc = CURLE_OK;

#define SET(opt, val) do { if (cc == CURLE_OK) cc = curl_easy_setopt(h, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);	/* a redirect is reported, never followed */
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	/*
	 * A loopback host is reached directly, never through a proxy from the
	 * environment (http_proxy, ALL_PROXY): plain http:// is allowed there
	 * only because it never leaves the machine, and a proxy would carry
	 * the secret across the network in clear to its own loopback instead.
	 */
	if (ghc_host_is_loopback(req->url))
		SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms < timeout_ms ? c->connect_timeout_ms :
	    timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, timeout_ms);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, closing_cb);
	SET(CURLOPT_XFERINFODATA, c);
	SET(CURLOPT_HTTPHEADER, req->headers);
	SET(CURLOPT_USERAGENT, c->user_agent);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, &resp->body);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
	SET(CURLOPT_ACCEPT_ENCODING, NULL);
	if (c->ca_file != NULL)
		SET(CURLOPT_CAINFO, c->ca_file);
	if (c->ca_path != NULL)
		SET(CURLOPT_CAPATH, c->ca_path);
	if (strcmp(m, "GET") == 0 && req->body == NULL) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(m, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		if (strcmp(m, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, m);
		if (req->body != NULL || strcmp(m, "POST") == 0) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SET(CURLOPT_POSTFIELDS, req->body != NULL ? req->body : "");
		}
	}
#undef SET
	if (cc != CURLE_OK)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "libcurl refused an option: %s", curl_easy_strerror(cc));
	return GH_CLIENT_OK;
}

/*
 * 1 if a wait of ms before the next attempt still leaves time for it before
 * the deadline; else the retry is given up (and r says why).
 */
static int
time_for(struct ghc_http_resp *r, long ms, int64_t deadline_ns)
{
	if (ghc_now_ns() + (int64_t)ms * 1000000 < deadline_ns)
		return 1;
	r->out_of_time = 1;
	return 0;
}

/* A transport error's message: how many attempts, and whether the deadline ended them. */
static void
note_attempts(const struct gh_client *c, const struct ghc_http_resp *r, int retry, int reached,
    struct gh_client_error *e)
{
	char note[96];
	size_t n;

	if (e == NULL)
		return;
	n = strlen(e->message);
	if (retry > 0 && n < sizeof(e->message))
		n += (size_t)snprintf(e->message + n, sizeof(e->message) - n, " (after %d attempts)",
		    retry + 1);
	/* "reached": the message already says the deadline ended it. */
	if (!reached && n < sizeof(e->message))
		snprintf(e->message + n, sizeof(e->message) - n, "%s",
		    ghc_deadline_note(c, r, note, sizeof(note)));
}

/* resp emptied and h set up for the next attempt (*cut: with less than its timeout). */
static enum gh_client_err
attempt_setup(struct gh_client *c, CURL *h, const struct ghc_http_req *req,
    struct ghc_http_resp *resp, char *errbuf, int64_t deadline_ns, int *cut,
    struct gh_client_error *e)
{
	long left, tmo;

	resp_reset(resp);
	resp->body.max = c->max_response_bytes;
	errbuf[0] = '\0';
	/* The attempt gets its timeout, or what remains of the deadline. */
	left = ms_left(deadline_ns);
	*cut = left < c->timeout_ms;
	tmo = *cut ? (left > 0 ? left : 1) : c->timeout_ms;
	return setup(c, h, req, resp, errbuf, tmo, e);
}

/* A failed attempt's error (message in e) and, in *again, whether another may follow. */
static enum gh_client_err
transport_fail(const struct gh_client *c, const struct ghc_http_req *req,
    const struct ghc_http_resp *resp, CURLcode cc, int cut, const char *errbuf, int *again,
    struct gh_client_error *e)
{
	enum gh_client_err rc;

	rc = curl_class(cc, resp->body.overflow, again);
	if ((!req->idempotent && !never_sent(cc)) || atomic_load(&c->closing))
		*again = 0;	/* it may have been acted on; or the client is going */
	if (rc == GH_CLIENT_ERR_BAD_RESPONSE)
		ghc_fail(e, rc, 0, "the answer from %s is larger than %zu bytes",
		    req->url, c->max_response_bytes);
	else if (rc == GH_CLIENT_ERR_TIMEOUT && cut)
		ghc_fail(e, rc, 0, "%s %s: the call's deadline of %lld ms was reached",
		    req->method ? req->method : "GET", req->url,
		    (long long)(c->deadline_ns / 1000000));
	else
		ghc_fail(e, rc, 0, "%s %s: %s%s%s", req->method ? req->method : "GET",
		    req->url, curl_easy_strerror(cc), errbuf[0] ? ": " : "", errbuf);
	return rc;
}

/* An HTTP answer's status, Content-Type, Location and (429, 503) Retry-After,
 * into resp: 0, or -1 when a copy could not be made (out of memory). */
static int
answer_read(CURL *h, struct ghc_http_resp *resp)
{
	char *ct = NULL, *loc = NULL;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct &&
	    (resp->content_type = strdup(ct)) == NULL)
		return -1;
	if (curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc &&
	    (resp->location = strdup(loc)) == NULL)
		return -1;
	if (resp->status == 429 || resp->status == 503)
		resp->retry_after_ms = retry_after_ms(h);
	return 0;
}

/*
 * The wait before sending again after an HTTP answer, or -1 when the answer
 * is final: not a 429 or 5xx we may retry, or no time left (resp says so).
 */
static long
answer_retry_wait(const struct gh_client *c, const struct ghc_http_req *req,
    struct ghc_http_resp *resp, int retry, int64_t deadline_ns)
{
	long wait;

	if (resp->status == 429) {
		if (resp->retry_after_ms > c->retry_after_max_ms)
			return -1;	/* longer than we may wait: the caller reports it */
		wait = resp->retry_after_ms >= 0 ? resp->retry_after_ms : backoff_ms(c, retry);
		if (!time_for(resp, wait, deadline_ns))
			return -1;
		return wait;
	}
	/* A 5xx may come after the request was acted on: sent again only
	 * when repeating it is harmless, or the server said when to come
	 * back (503 with Retry-After: it did not take the request). */
	if (resp->status >= 500 && resp->status <= 599) {
		int told = resp->status == 503 && resp->retry_after_ms >= 0;

		if ((!req->idempotent && !told) ||
		    (told && resp->retry_after_ms > c->retry_after_max_ms))
			return -1;
		wait = told ? resp->retry_after_ms : backoff_ms(c, retry);
		if (!time_for(resp, wait, deadline_ns))
			return -1;
		return wait;
	}
	return -1;
}

/*
 * One attempt: h set up, the request sent and its outcome in resp, *rc its
 * result (message in e). retry is the number of retries so far, max the
 * most allowed. Returns the wait before the next attempt, or -1 when this
 * one is final. errbuf is the caller's: h keeps pointing at it.
 */
static long
attempt_run(struct gh_client *c, CURL *h, const struct ghc_http_req *req,
    struct ghc_http_resp *resp, char *errbuf, int retry, int max,
    atomic_uint_fast64_t *counter, int64_t deadline_ns, enum gh_client_err *rc,
    struct gh_client_error *e)
{
	int again, cut;
	CURLcode cc;
	long wait;

	if ((*rc = attempt_setup(c, h, req, resp, errbuf, deadline_ns, &cut, e)) !=
	    GH_CLIENT_OK)
		return -1;
	resp->attempts++;
	if (counter != NULL)
		atomic_fetch_add(counter, 1);
	cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		*rc = transport_fail(c, req, resp, cc, cut, errbuf, &again, e);
		if (again && retry < max) {
			wait = backoff_ms(c, retry);
			if (time_for(resp, wait, deadline_ns))
				return wait;
		}
		note_attempts(c, resp, retry, *rc == GH_CLIENT_ERR_TIMEOUT && cut, e);
		return -1;
	}
	if (answer_read(h, resp) == -1) {
		/* Not an answer without its type: the caller would misread it. */
		*rc = ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, resp->status,
		    "out of memory reading the answer's headers");
		return -1;
	}
	*rc = GH_CLIENT_OK;
	if (retry >= max)
		return -1;
	return answer_retry_wait(c, req, resp, retry, deadline_ns);
}

enum gh_client_err
ghc_http_do(struct gh_client *c, const struct ghc_http_req *req, struct ghc_http_resp *resp,
    struct gh_client_error *e, atomic_uint_fast64_t *counter, int64_t deadline_ns)
{
	char errbuf[CURL_ERROR_SIZE];
	enum gh_client_err rc = GH_CLIENT_OK;
	int retry = 0, max = c->max_retries;
	CURL *h = NULL;
	long wait, left;

	memset(resp, 0, sizeof(*resp));
	resp->retry_after_ms = -1;
	if (max > GHC_MAX_RETRIES_CAP)
		max = GHC_MAX_RETRIES_CAP;
	if ((left = ms_left(deadline_ns)) <= 0)
		return ghc_fail(e, GH_CLIENT_ERR_TIMEOUT, 0, "%s %s: the call's deadline of %lld ms "
		    "passed before the request could be sent", req->method ? req->method : "GET",
		    req->url, (long long)(c->deadline_ns / 1000000));
	if ((h = curl_easy_init()) == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "curl_easy_init failed");
	for (;;) {
		/* A retry whose wait overslept the deadline is not started. */
		if (resp->attempts > 0 && (left = ms_left(deadline_ns)) <= 0) {
			resp->out_of_time = 1;
			if (rc != GH_CLIENT_OK)
				note_attempts(c, resp, retry - 1, 0, e);
			goto out;
		}
		if ((wait = attempt_run(c, h, req, resp, errbuf, retry, max, counter,
		    deadline_ns, &rc, e)) < 0)
			goto out;
		retry++;
		ghc_pause_ms(c, wait);
		if (atomic_load(&c->closing))
			goto out;
	}
out:
	curl_easy_cleanup(h);
	return rc;
}
