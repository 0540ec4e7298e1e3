/*
 * util.c — the library's own small helpers: buffers, errors, clocks,
 * randomness, base64, form encoding, ISO 8601 times. The library is shipped
 * to partners, so it does not borrow the server's src/util.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "extern.h"

static const char *const err_names[GH_CLIENT_ERR__MAX] = {
	[GH_CLIENT_OK] = "ok",
	[GH_CLIENT_ERR_INVALID_ARGUMENT] = "invalid_argument",
	[GH_CLIENT_ERR_NO_MEMORY] = "no_memory",
	[GH_CLIENT_ERR_CREDENTIALS] = "credentials",
	[GH_CLIENT_ERR_INSECURE_FILE] = "insecure_file",
	[GH_CLIENT_ERR_NETWORK] = "network",
	[GH_CLIENT_ERR_TIMEOUT] = "timeout",
	[GH_CLIENT_ERR_TLS] = "tls",
	[GH_CLIENT_ERR_REDIRECT] = "redirect",
	[GH_CLIENT_ERR_UNAUTHORIZED] = "unauthorized",
	[GH_CLIENT_ERR_REJECTED] = "rejected",
	[GH_CLIENT_ERR_RATE_LIMITED] = "rate_limited",
	[GH_CLIENT_ERR_SERVER] = "server_error",
	[GH_CLIENT_ERR_BAD_RESPONSE] = "bad_response",
	[GH_CLIENT_ERR_BAD_LIFETIME] = "bad_lifetime",
	[GH_CLIENT_ERR_BUFFER_TOO_SMALL] = "buffer_too_small",
};

const char *
gh_client_err_name(enum gh_client_err e)
{
	if ((int)e < 0 || e >= GH_CLIENT_ERR__MAX || err_names[e] == NULL)
		return "unknown";
	return err_names[e];
}

enum gh_client_err
ghc_fail(struct gh_client_error *e, enum gh_client_err code, long http_status,
    const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return code;
	e->code = code;
	e->http_status = http_status;
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof(e->message), fmt, ap);
	va_end(ap);
	return code;
}

void
ghc_redactions_add(struct ghc_redactions *r, const char *s, size_t n)
{
	if (s != NULL && n > 0 && r->count < GHC_REDACT_MAX) {
		r->s[r->count] = s;
		r->n[r->count] = n;
		r->count++;
	}
}

/*
 * If src[0, len) is a prefix of one of r's strings cut short (at least
 * GHC_REDACT_PREFIX long, or the string's whole length if that is less),
 * 1: a text that ends so was cut in the middle of a secret.
 */
static int
cut_prefix(const struct ghc_redactions *r, const char *src, size_t len)
{
	size_t k, min;

	for (k = 0; r != NULL && k < r->count; k++) {
		min = r->n[k] < GHC_REDACT_PREFIX ? r->n[k] : GHC_REDACT_PREFIX;
		if (len < r->n[k] && len >= min && memcmp(src, r->s[k], len) == 0)
			return 1;
	}
	return 0;
}

/* The length of one of r's strings found whole at src (at most len bytes), or 0. */
static size_t
whole_at(const struct ghc_redactions *r, const char *src, size_t len)
{
	size_t k;

	for (k = 0; r != NULL && k < r->count; k++)
		if (len >= r->n[k] && memcmp(src, r->s[k], r->n[k]) == 0)
			return r->n[k];
	return 0;
}

void
ghc_redact(struct gh_client_error *e, const struct ghc_redactions *r)
{
	char out[sizeof(e->message)];
	size_t i = 0, o = 0, len, skip;

	if (e == NULL || r == NULL || r->count == 0)
		return;
	len = strlen(e->message);
	while (i < len && o + 1 < sizeof(out)) {
		if ((skip = whole_at(r, e->message + i, len - i)) > 0 ||
		    (cut_prefix(r, e->message + i, len - i) && (skip = len - i) > 0)) {
			for (int k = 0; k < 3 && o + 1 < sizeof(out); k++)
				out[o++] = '*';
			i += skip;
			continue;
		}
		out[o++] = e->message[i++];
	}
	out[o] = '\0';
	memcpy(e->message, out, o + 1);
	OPENSSL_cleanse(out, sizeof(out));
}

void
ghc_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen,
    const struct ghc_redactions *r)
{
	size_t i = 0, o = 0, skip;

	if (dstlen == 0)
		return;
	while (src != NULL && i < srclen && o + 1 < dstlen) {
		unsigned char ch = (unsigned char)src[i];

		/* Matched on src, not on what fits in dst: a secret that our cut
		 * would split is still replaced whole, and one the server cut
		 * (a prefix at its end) too. */
		if ((skip = whole_at(r, src + i, srclen - i)) > 0 ||
		    (cut_prefix(r, src + i, srclen - i) && (skip = srclen - i) > 0)) {
			for (int k = 0; k < 3 && o + 1 < dstlen; k++)
				dst[o++] = '*';
			i += skip;
			continue;
		}
		dst[o++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
		i++;
	}
	dst[o] = '\0';
}

int
ghc_buf_append(struct ghc_buf *b, const void *p, size_t n)
{
	size_t need, cap;
	char *np;

	if (n > SIZE_MAX - b->len - 1)
		return -1;
	need = b->len + n + 1;
	if (b->max != 0 && b->len + n > b->max) {
		b->overflow = 1;
		return -1;
	}
	if (need > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap *= 2;
		/* Grow by copying so that a secret in the old block is wiped. */
		if ((np = malloc(cap)) == NULL)
			return -1;
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			OPENSSL_cleanse(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
ghc_buf_append_str(struct ghc_buf *b, const char *s)
{
	return ghc_buf_append(b, s, strlen(s));
}

void
ghc_buf_free(struct ghc_buf *b)
{
	if (b->p != NULL) {
		OPENSSL_cleanse(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

int64_t
ghc_now_ns(void)
{
	struct timespec ts;

#ifdef CLOCK_BOOTTIME
	/* A laptop that slept through a token's expiry must see it expired. */
	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
#endif
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
ghc_sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

void
ghc_pause_ms(struct gh_client *c, long ms)
{
	while (ms > 0 && !atomic_load(&c->closing)) {
		long step = ms < 50 ? ms : 50;

		ghc_sleep_ms(step);
		ms -= step;
	}
}

uint64_t
ghc_rand64(void)
{
	static _Thread_local uint64_t s;

	if (s == 0) {
		if (getrandom(&s, sizeof(s), 0) != (ssize_t)sizeof(s) || s == 0)
			s = (uint64_t)ghc_now_ns() ^ (uint64_t)(uintptr_t)&s ^ 0x9e3779b97f4a7c15ULL;
	}
	/* xorshift64*: jitter only, never secrets. */
	s ^= s >> 12;
	s ^= s << 25;
	s ^= s >> 27;
	return s * 0x2545F4914F6CDD1DULL;
}

enum gh_client_err
gh_client_uuid4(char out[GH_CLIENT_REQUEST_ID_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	size_t got = 0;
	int i, o = 0;

	if (out == NULL)
		return GH_CLIENT_ERR_INVALID_ARGUMENT;
	while (got < sizeof(r)) {
		ssize_t n = getrandom(r + got, sizeof(r) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return GH_CLIENT_ERR_NO_MEMORY;
		}
		got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);	/* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);	/* variant 10 */
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[r[i] >> 4];
		out[o++] = hex[r[i] & 15];
	}
	out[o] = '\0';
	return GH_CLIENT_OK;
}

char *
ghc_base64(const void *in, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t i, o = 0;
	char *out;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0);

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
	return out;
}

int
ghc_form_encode(struct ghc_buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char enc[3];

		/* The WHATWG urlencoded serializer, which RFC 6749 Appendix B follows. */
		if (isalnum(ch) || ch == '*' || ch == '-' || ch == '.' || ch == '_') {
			if (ghc_buf_append(b, s, 1) != 0)
				return -1;
		} else if (ch == ' ') {
			if (ghc_buf_append(b, "+", 1) != 0)
				return -1;
		} else {
			enc[0] = '%';
			enc[1] = hex[ch >> 4];
			enc[2] = hex[ch & 15];
			if (ghc_buf_append(b, enc, 3) != 0)
				return -1;
		}
	}
	return 0;
}

/* Exactly n digits at *s into *v; advances *s. */
static int
digits(const char **s, int n, int *v)
{
	int i, x = 0;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return -1;
		x = x * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*v = x;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
ghc_parse_iso8601(const char *s, int64_t *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, mo, d, h, mi, sec = 0, oh = 0, om = 0, sign = 0, leap;

	if (s == NULL)
		return -1;
	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) || *s++ != '-' ||
	    digits(&s, 2, &d) || (*s != 'T' && *s != 't') || (s++, digits(&s, 2, &h)) ||
	    *s++ != ':' || digits(&s, 2, &mi))
		return -1;
	if (*s == ':') {
		s++;
		if (digits(&s, 2, &sec))
			return -1;
		if (*s == '.') {	/* fractions of a second: ignored, at least one digit */
			s++;
			if (!isdigit((unsigned char)*s))
				return -1;
			while (isdigit((unsigned char)*s))
				s++;
		}
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh))
			return -1;
		if (*s == ':')
			s++;
		if (digits(&s, 2, &om) || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;	/* no zone: local time of what machine? Refused. */
	}
	if (*s != '\0')
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return -1;
	if (sec == 60)
		sec = 59;	/* a leap second: POSIX time has none */
	*out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	    (int64_t)sign * (oh * 3600 + om * 60);
	return 0;
}

int
ghc_token_syntax_ok(const char *s, size_t len)
{
	size_t i = 0;

	/* b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
	while (i < len && (isalnum((unsigned char)s[i]) || strchr("-._~+/", s[i]) != NULL) &&
	    s[i] != '\0')
		i++;
	if (i == 0)
		return 0;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

/*
 * h[0..n), digits and dots, as an IPv4 address in 127.0.0.0/8. What
 * inet_aton refuses ("127.0.0.1.5", "127.300.0.1", "127.0.0.1.") libcurl
 * does not read as an address either: it asks the resolver, which may
 * answer with any host. inet_aton takes the octal form ("127.0.0.010")
 * as libcurl does.
 */
static int
ipv4_loopback(const char *h, size_t n)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a;
	size_t i;

	if (n >= sizeof(buf))
		return 0;
	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)h[i]) && h[i] != '.')
			return 0;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return inet_aton(buf, &a) != 0 && (ntohl(a.s_addr) >> 24) == 127;
}

int
ghc_host_is_loopback(const char *url)
{
	const char *h, *end;
	size_t n;

	if ((h = strstr(url, "://")) == NULL)
		return 0;
	h += 3;
	if ((end = strpbrk(h, "/?#")) == NULL)
		end = h + strlen(h);
	if (memchr(h, '@', (size_t)(end - h)) != NULL)
		return 0;	/* userinfo: do not guess */
	if (*h == '[')
		return strncmp(h, "[::1]", 5) == 0 && (h[5] == ':' || h + 5 == end);
	for (n = 0; h + n < end && h[n] != ':'; n++)
		;
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	if (n >= 7 && strncmp(h, "127.", 4) == 0)
		return ipv4_loopback(h, n);
	return 0;
}

char *
ghc_strdup_opt(const char *s)
{
	return s == NULL ? NULL : strdup(s);
}
