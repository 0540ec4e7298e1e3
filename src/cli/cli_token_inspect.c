/*
 * cli_token_inspect.c — `gatehouse token inspect TOKEN [--jwks URL]`: decode
 * a JWT's header and claims, and with --jwks verify its signature against
 * the keys published there (fetched with libcurl, TLS always verified,
 * redirects never followed), then report one verdict:
 *
 *   valid      signature verified, within exp/nbf
 *   expired    signature verified, exp is past
 *   invalid    the signature, the key or the token's form is wrong
 *   unverified decoded only (no --jwks given)
 *
 * stdout gets {"result", "reason", "header", "claims", ...} as JSON, stderr a
 * one-line verdict. Exit 0 for valid or unverified, 1 for invalid or expired
 * or a JWKS that cannot be fetched, 2 for a usage error. TOKEN "-" reads the
 * token from stdin, so that it need not appear in the process list.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "jose/b64url.h"
#include "jose/jose.h"

#define INSPECT_JWKS_MAX	(1024 * 1024)	/* a JWKS larger than this is refused */
#define INSPECT_TIMEOUT_MS	10000L

/* After "usage: ", which cli_parse's --help and the error below print. */
static const char usage_text[] =
    "gatehouse token inspect TOKEN|- [--jwks URL] [--ca-file FILE] [--allow-http]\n"
    "Decodes a JWT's header and claims; with --jwks, verifies its signature against the\n"
    "keys published at URL and reports valid, expired or invalid. TOKEN - reads stdin.";

static const struct cli_opt opts[] = {
	{ "jwks", 1, 0, "JWKS URL to verify the signature against (https://, or http:// to loopback)" },
	{ "ca-file", 1, 0, "PEM CA bundle for the JWKS server's certificate" },
	{ "allow-http", 0, 0, "accept http:// for a JWKS on a non-loopback host" },
};

/* Every usable key of the JWKS (INSPECT_JWKS_MAX bounds how many): the
 * first 64 alone missed gatehouse's newest keys, listed last, once
 * rotations left more published. */
struct keys {
	struct jose_key	**k;
	size_t		 n, cap;
};

/* Adds k to ks (which owns it from here, also on failure): 0 or -1. */
static int
keys_add(struct keys *ks, struct jose_key *k)
{
	struct jose_key **nk;
	size_t cap;

	if (ks->n == ks->cap) {
		cap = ks->cap ? ks->cap * 2 : 16;
		if ((nk = realloc(ks->k, cap * sizeof(*nk))) == NULL) {
			jose_key_free(k);
			return -1;
		}
		ks->k = nk;
		ks->cap = cap;
	}
	ks->k[ks->n++] = k;
	return 0;
}

static const struct jose_key *
lookup(void *arg, const char *kid)
{
	struct keys *ks = arg;
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(jose_key_kid(ks->k[i]), kid) == 0)
			return ks->k[i];
	return NULL;
}

struct body {
	char	*p;
	size_t	 len;
	int	 overflow;
};

static size_t
write_cb(char *p, size_t size, size_t n, void *arg)
{
	struct body *b = arg;
	size_t add = size * n;
	char *np;

	if (b->len + add > INSPECT_JWKS_MAX) {
		b->overflow = 1;
		return 0;
	}
	if ((np = realloc(b->p, b->len + add + 1)) == NULL)
		return 0;
	b->p = np;
	memcpy(b->p + b->len, p, add);
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* 127.0.0.0/8, [::1] or localhost: where plain http cannot be intercepted. */
static int
loopback(const char *url)
{
	const char *h = strstr(url, "://");
	size_t n;

	if (h == NULL)
		return 0;
	h += 3;
	n = strcspn(h, ":/?#");
	if (strncmp(h, "[::1]", 5) == 0)
		return 1;
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	return n >= 7 && strncmp(h, "127.", 4) == 0 && strspn(h, "0123456789.") == n;
}

/* One GET of url into b (at most INSPECT_JWKS_MAX bytes), certificates
 * checked, redirects not followed: 0 when it answered 200. */
static int
jwks_get(const char *url, const char *ca_file, struct body *b, char *why, size_t whylen)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *h;
	CURLcode cc;
	long status = 0;
	int rc = -1;

	if ((h = curl_easy_init()) == NULL) {
		snprintf(why, whylen, "curl_easy_init failed");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, INSPECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)INSPECT_JWKS_MAX);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "gatehouse-token-inspect");
	if (ca_file != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	if ((cc = curl_easy_perform(h)) != CURLE_OK) {
		snprintf(why, whylen, "cannot fetch the JWKS from %.200s: %s%s%.200s", url,
		    b->overflow ? "larger than 1 MiB" : curl_easy_strerror(cc),
		    errbuf[0] && !b->overflow ? ": " : "", b->overflow ? "" : errbuf);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(why, whylen, "the JWKS URL %.200s answered %ld%s", url, status,
		    status >= 300 && status < 400 ? " (redirects are not followed)" : "");
		goto out;
	}
	rc = 0;
out:
	curl_easy_cleanup(h);
	return rc;
}

/* Fetch the JWKS at url into ks. 0, or -1 with why filled in. */
static int
fetch_jwks(const char *url, const char *ca_file, int allow_http, struct keys *ks,
    char *why, size_t whylen)
{
	struct body b = { 0 };
	json_error_t jerr;
	json_t *j = NULL, *arr, *jwk;
	size_t i;
	int rc = -1;

	if (strncasecmp(url, "https://", 8) != 0 &&
	    !(strncasecmp(url, "http://", 7) == 0 && (allow_http || loopback(url)))) {
		snprintf(why, whylen, "the JWKS URL must be https:// (http:// only to loopback "
		    "or with --allow-http)");
		return -1;
	}
	if (jwks_get(url, ca_file, &b, why, whylen) == -1)
		goto out;
	if ((j = json_loadb(b.p ? b.p : "", b.len, JSON_REJECT_DUPLICATES, &jerr)) == NULL ||
	    !json_is_object(j) || !json_is_array(arr = json_object_get(j, "keys"))) {
		snprintf(why, whylen, "the answer from %.200s is not a JWKS ({\"keys\": [...]})", url);
		goto out;
	}
	json_array_foreach(arr, i, jwk) {
		struct jose_key *k;
		const char *err = NULL;

		/* A key we cannot use (another kty, no kid) is skipped, not fatal. */
		if (!json_is_string(json_object_get(jwk, "kid")) ||
		    jose_key_from_jwk(jwk, &k, &err) != 0)
			continue;
		if (keys_add(ks, k) == -1) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
	}
	if (ks->n == 0) {
		snprintf(why, whylen, "the JWKS at %.200s has no usable key", url);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	free(b.p);
	return rc;
}

/* One base64url segment that must be a JSON object; NULL if not. */
static json_t *
segment_json(const char *s, size_t len)
{
	uint8_t *buf;
	size_t n = 0;
	json_t *j = NULL;

	if (len == 0 || (buf = malloc(len)) == NULL)
		return NULL;
	if (b64url_decode(s, len, buf, len, &n) == 0)
		j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
	free(buf);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

static int
read_stdin_token(char *buf, size_t cap)
{
	size_t n;

	if (fgets(buf, (int)cap, stdin) == NULL)
		return -1;
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == cap - 1)
		return -1;	/* longer than any token we accept */
	buf[n] = '\0';
	return 0;
}

/* NumericDates beyond +-10^15 s (some 30 million years) are not dates: so
 * bounded, exp - now and now - exp cannot overflow an int64_t. */
#define INSPECT_DATE_MAX	1000000000000000LL

/* A NumericDate claim as whole seconds; 0 if absent, -1 if not a number or
 * out of range, an integer as a real (a token is anyone's input). */
static int
num_claim(const json_t *claims, const char *name, int64_t *out)
{
	const json_t *v = json_object_get(claims, name);

	*out = 0;
	if (v == NULL)
		return 0;
	if (json_is_integer(v) && json_integer_value(v) > -INSPECT_DATE_MAX &&
	    json_integer_value(v) < INSPECT_DATE_MAX)
		*out = json_integer_value(v);
	else if (json_is_real(v) && json_real_value(v) > -(double)INSPECT_DATE_MAX &&
	    json_real_value(v) < (double)INSPECT_DATE_MAX)
		*out = (int64_t)json_real_value(v);
	else
		return -1;
	return 1;
}

static void
verdict(json_t *o, const char *result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
verdict(json_t *o, const char *result, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	json_object_set_new(o, "result", json_string(result));
	json_object_set_new(o, "reason", json_string(reason));
	fprintf(stderr, "gatehouse token inspect: %s: %s\n", result, reason);
}

/*
 * The token argument ("-": a line of stdin), checked to have a JWT's
 * characters and three parts, into *tokp (static for stdin's) and its two
 * JSON parts into *hdr and *claims (the caller's). 0, or the exit status
 * after a one-line message.
 */
static int
token_decode(const char *arg, const char **tokp, size_t *lenp, json_t **hdr, json_t **claims)
{
	static char stdin_tok[JOSE_MAX_TOKEN_LEN + 2];
	const char *tok = arg, *d1, *d2;
	size_t len;

	if (strcmp(tok, "-") == 0) {
		if (read_stdin_token(stdin_tok, sizeof(stdin_tok)) != 0)
			return cli_fail("token inspect: no token, or one longer than %d bytes, on stdin",
			    JOSE_MAX_TOKEN_LEN);
		tok = stdin_tok;
	}
	len = strlen(tok);
	if (len > JOSE_MAX_TOKEN_LEN)
		return cli_fail("token inspect: the token is longer than %d bytes", JOSE_MAX_TOKEN_LEN);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)tok[i]) && tok[i] != '-' && tok[i] != '_' && tok[i] != '.')
			return cli_fail("token inspect: the token has a character a JWT cannot have "
			    "at offset %zu", i);
	if ((d1 = strchr(tok, '.')) == NULL || (d2 = strchr(d1 + 1, '.')) == NULL ||
	    strchr(d2 + 1, '.') != NULL)
		return cli_fail("token inspect: not a JWT (three dot-separated parts); an opaque "
		    "token can only be checked by the server's introspection endpoint");
	if ((*hdr = segment_json(tok, (size_t)(d1 - tok))) == NULL ||
	    (*claims = segment_json(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL) {
		int which_hdr = *hdr == NULL;
		json_decref(*hdr);
		*hdr = NULL;
		return cli_fail("token inspect: the %s is not a base64url-encoded JSON object",
		    which_hdr ? "header" : "claims part");
	}
	*tokp = tok;
	*lenp = len;
	return 0;
}

/* A token's time claims, as num_claim read them, and the time now. */
struct times {
	int has_exp, has_nbf;
	int64_t exp, nbf, now;
};

/* The verdict on a token whose signature verified with key: its times.
 * 0 when it is valid now, else 1. */
static int
time_verdict(json_t *out, const struct jose_key *key, const struct times *t)
{
	if (t->has_exp < 0 || t->has_nbf < 0) {
		verdict(out, "invalid", "signature valid, but %s is not a NumericDate",
		    t->has_exp < 0 ? "exp" : "nbf");
		return 1;
	}
	if (t->has_exp == 1 && t->now >= t->exp) {
		verdict(out, "expired", "signature valid (key %s), but expired %lld s ago",
		    jose_key_kid(key), (long long)(t->now - t->exp));
		return 1;
	}
	if (t->has_nbf == 1 && t->now < t->nbf) {
		verdict(out, "invalid", "signature valid, but not valid before nbf, %lld s from now",
		    (long long)(t->nbf - t->now));
		return 1;
	}
	verdict(out, "valid", "signature verified with key %s (%s)%s", jose_key_kid(key),
	    jose_alg_names[jose_key_alg(key)], t->has_exp == 1 ? "" : "; the token has no exp");
	return 0;
}

/* The signature checked with the keys of --jwks, and the verdict set in
 * out. 0 when valid now, 1 when not, -1 after a one-line message when the
 * keys could not be had. */
static int
signature_verdict(const struct cli_args *a, const char *tok, size_t len, const struct times *t,
    json_t *out)
{
	struct keys ks = { .k = NULL, .n = 0, .cap = 0 };
	struct jose_jwt *jwt = NULL;
	const struct jose_key *key = NULL;
	const char *err = NULL;
	char why[512];
	int rc = -1;

	if (fetch_jwks(cli_get(a, "jwks"), cli_get(a, "ca-file"), cli_has(a, "allow-http"), &ks,
	    why, sizeof(why)) != 0) {
		cli_fail("token inspect: %s", why);
		goto out;
	}
	if ((jwt = malloc(sizeof(*jwt))) == NULL) {
		cli_fail("token inspect: out of memory");
		goto out;
	}
	if (jose_verify_compact(tok, len, lookup, &ks, jwt, &key, &err) != 0) {
		json_object_set_new(out, "signature", json_string("invalid"));
		verdict(out, "invalid", "%s", err ? err : "verification failed");
		rc = 1;
		goto out;
	}
	json_object_set_new(out, "signature", json_string("valid"));
	json_object_set_new(out, "kid", json_string(jose_key_kid(key)));
	json_object_set_new(out, "alg", json_string(jose_alg_names[jose_key_alg(key)]));
	rc = time_verdict(out, key, t);
out:
	free(jwt);
	for (size_t i = 0; i < ks.n; i++)
		jose_key_free(ks.k[i]);
	free(ks.k);
	return rc;
}

int
cmd_token_inspect(int argc, char **argv)
{
	struct cli_args a;
	json_t *out = NULL, *hdr = NULL, *claims = NULL;
	struct times t = { .now = (int64_t)time(NULL) };
	const char *tok = NULL;
	size_t len = 0;
	int r, rc;

	if ((r = cli_parse(argc, argv, usage_text, opts, sizeof(opts) / sizeof(opts[0]), &a)) != 0)
		return r > 0 ? 0 : 2;
	if (a.npos != 1) {
		fprintf(stderr, "usage: %s\n", usage_text);
		return 2;
	}
	if ((rc = token_decode(a.pos[0], &tok, &len, &hdr, &claims)) != 0)
		return rc;
	out = json_object();
	json_object_set(out, "header", hdr);
	json_object_set(out, "claims", claims);
	t.has_exp = num_claim(claims, "exp", &t.exp);
	t.has_nbf = num_claim(claims, "nbf", &t.nbf);
	if (t.has_exp == 1) {
		json_object_set_new(out, "expires_in", json_integer(t.exp - t.now));
		json_object_set_new(out, "expired", json_boolean(t.now >= t.exp));
	}
	if (!cli_has(&a, "jwks")) {
		json_object_set_new(out, "signature", json_string("not checked"));
		verdict(out, "unverified", "decoded only; give --jwks URL to verify the signature%s",
		    t.has_exp == 1 && t.now >= t.exp ? " (and it is past its exp)" : "");
		rc = 0;
	} else if ((rc = signature_verdict(&a, tok, len, &t, out)) == -1) {
		rc = 1;
		goto done;
	}
	if (cli_print(out) != 0)
		rc = 1;
	out = NULL;
done:
	json_decref(out);
	json_decref(hdr);
	json_decref(claims);
	return rc;
}
