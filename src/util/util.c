/* util.c — see util.h. */
#include "util/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

int
num_parse_i64(const char *s, size_t len, int64_t min, int64_t max,
              int64_t *out, const char **err)
{
	size_t i = 0;
	int neg = 0;
	uint64_t v = 0, lim;

	if (s == NULL || len == 0) {
		*err = "is empty";
		return -1;
	}
	if (s[0] == '-') {
		neg = 1;
		i = 1;
		if (len == 1) {
			*err = "is not a number";
			return -1;
		}
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9') {
			*err = "is not a whole number";
			return -1;
		}
		d = (unsigned)(s[i] - '0');
		if (v > (lim - d) / 10) {
			*err = "is out of range";
			return -1;
		}
		v = v * 10 + d;
	}
	int64_t r = neg ? (int64_t)(0 - v) : (int64_t)v;
	if (r < min) {
		*err = "is too small";
		return -1;
	}
	if (r > max) {
		*err = "is too large";
		return -1;
	}
	*out = r;
	return 0;
}

int
num_parse_duration(const char *s, int64_t min, int64_t max, int64_t *out,
                   const char **err)
{
	size_t len;
	int64_t mult = 1, v;

	if (s == NULL || (len = strlen(s)) == 0) {
		*err = "is empty";
		return -1;
	}
	switch (s[len - 1]) {
	case 's': mult = 1; len--; break;
	case 'm': mult = 60; len--; break;
	case 'h': mult = 3600; len--; break;
	case 'd': mult = 86400; len--; break;
	default:
		if (s[len - 1] < '0' || s[len - 1] > '9') {
			*err = "has an unknown unit (use s, m, h or d)";
			return -1;
		}
	}
	if (num_parse_i64(s, len, 0, INT64_MAX / 86400, &v, err) == -1)
		return -1;
	v *= mult;
	if (v < min) {
		*err = "is too short";
		return -1;
	}
	if (v > max) {
		*err = "is too long";
		return -1;
	}
	*out = v;
	return 0;
}

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int
hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
hex_decode(const char *in, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/*
 * Small requests (ids, opaque tokens, request ids: several per token) are
 * served from a per-thread pool that RAND_bytes refills 512 bytes at a
 * time: each RAND_bytes call pays OpenSSL's locking and fork check (a
 * getpid system call), 4% of a token's CPU when called per id. Bytes are
 * wiped from the pool as they are handed out. gatehouse never forks, so no
 * two processes share a pool.
 */
#define RAND_POOL_BYTES	512
#define RAND_POOL_MAX_TAKE 64

static _Thread_local uint8_t rand_pool[RAND_POOL_BYTES];
static _Thread_local size_t rand_pool_left;

int
rand_bytes(uint8_t *out, size_t n)
{
	uint8_t *src;

	if (n > INT32_MAX)
		return -1;
	if (n > RAND_POOL_MAX_TAKE)
		return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
	if (rand_pool_left < n) {
		if (RAND_bytes(rand_pool, RAND_POOL_BYTES) != 1)
			return -1;
		rand_pool_left = RAND_POOL_BYTES;
	}
	src = rand_pool + RAND_POOL_BYTES - rand_pool_left;
	memcpy(out, src, n);
	OPENSSL_cleanse(src, n);
	rand_pool_left -= n;
	return 0;
}

static void
uuid_format(const uint8_t b[16], char out[37])
{
	char h[33];

	hex_encode(b, 16, h);
	memcpy(out, h, 8);
	out[8] = '-';
	memcpy(out + 9, h + 8, 4);
	out[13] = '-';
	memcpy(out + 14, h + 12, 4);
	out[18] = '-';
	memcpy(out + 19, h + 16, 4);
	out[23] = '-';
	memcpy(out + 24, h + 20, 12);
	out[36] = '\0';
}

int
uuid_v4(char out[37])
{
	uint8_t b[16];

	if (rand_bytes(b, sizeof(b)) == -1)
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	uuid_format(b, out);
	return 0;
}

int
uuid_v7_bytes(uint8_t b[16])
{
	struct timespec ts;
	uint64_t ms;

	/* RFC 9562 §5.7: 48-bit Unix milliseconds, then 74 random bits. The
	 * real clock, not the test offset: only the order matters here. */
	if (rand_bytes(b, 16) == -1 || clock_gettime(CLOCK_REALTIME, &ts) == -1)
		return -1;
	ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (b[6] & 0x0f) | 0x70;
	b[8] = (b[8] & 0x3f) | 0x80;
	return 0;
}

int
uuid_v7(char out[37])
{
	uint8_t b[16];

	if (uuid_v7_bytes(b) == -1)
		return -1;
	uuid_format(b, out);
	return 0;
}

static int64_t
clock_offset(void)
{
	/* Read once; a race between two first callers reads the same value. */
	static volatile int loaded;
	static int64_t offset;
	if (!loaded) {
		const char *e = getenv("GATEHOUSE_CLOCK_OFFSET"), *err;
		int64_t v = 0;
		if (e != NULL && num_parse_i64(e, strlen(e), -(INT64_C(1) << 40),
		    INT64_C(1) << 40, &v, &err) == -1)
			v = 0;
		offset = v;
		loaded = 1;
	}
	return offset;
}

void
test_fault_point(const char *name)
{
	const char *f = getenv("GATEHOUSE_TEST_FAULT");
	struct timespec hold = { 2, 0 };

	if (f == NULL)
		return;
	if (strcmp(f, name) == 0)
		_exit(70);
	/* "pause:NAME": the thread holds there for 2 s, so that a test may
	 * change the store under a call in flight, at a known moment. */
	if (strncmp(f, "pause:", 6) == 0 && strcmp(f + 6, name) == 0)
		while (nanosleep(&hold, &hold) == -1 && errno == EINTR)
			;
}

int64_t
clock_now(void)
{
	return (int64_t)time(NULL) + clock_offset();
}

int64_t
clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + clock_offset()) * 1000 + ts.tv_nsec / 1000000;
}

uint64_t
clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
time_iso8601(int64_t t, char out[21])
{
	struct tm tm;
	time_t tt = (time_t)t;
	gmtime_r(&tt, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
str_is_clean_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned c = p[i];
		size_t n;
		uint32_t cp;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else
			return 0;
		if (n >= len - i)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

void
str_scrub_utf8(char *s)
{
	size_t len = strlen(s);

	for (size_t i = 0; i < len;) {
		unsigned c = (unsigned char)s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;

		/* Printable ASCII, nearly every byte of a request log's path
		 * or client id, without a call each. */
		if (c >= 0x20 && c < 0x7f)
			i++;
		else if (n <= len - i && str_is_clean_utf8(s + i, n))
			i += n;
		else
			s[i++] = '?';
	}
}

void
str_nqschar(const char *in, char *out, size_t cap)
{
	size_t o = 0;

	if (cap == 0)
		return;
	for (; *in != '\0' && o + 1 < cap; in++) {
		unsigned char c = (unsigned char)*in;

		if (c == 0xc2 && (unsigned char)in[1] == 0xa7) {
			int n = snprintf(out + o, cap - o, "section%s", in[2] == ' ' ? "" : " ");
			o = n > 0 && (size_t)n < cap - o ? o + (size_t)n : o;
			in++;
		} else if (c >= 0x80 && c < 0xc0)
			continue;	/* the rest of a character already written */
		else
			out[o++] = c >= 0xc0 ? '?' : (c == '"' || c == '\\' || c < 0x20 ||
			    c == 0x7f) ? '\'' : (char)c;
	}
	out[o] = '\0';
}

int
str_is_ident(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

int
scope_char_ok(unsigned char c)
{
	return c >= 0x21 && c != 0x22 && c != 0x5c && c <= 0x7e;
}

int
scope_token_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!scope_char_ok((unsigned char)s[i]))
			return 0;
	return len > 0;
}

size_t
str_copy(char *dst, size_t size, const char *src)
{
	size_t n = strnlen(src, size - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

/* By hand: glibc's inet_ntop goes through sprintf, and this runs on every
 * request (1.4% of a cached gate check's instructions). */
void
ipv4_text(const uint8_t b[4], char *out)
{
	char *p = out;

	for (int i = 0; i < 4; i++) {
		if (i > 0)
			*p++ = '.';
		if (b[i] >= 100)
			*p++ = (char)('0' + b[i] / 100);
		if (b[i] >= 10)
			*p++ = (char)('0' + b[i] / 10 % 10);
		*p++ = (char)('0' + b[i] % 10);
	}
	*p = '\0';
}

char *
str_url_join(const char *base, const char *path)
{
	size_t blen = strlen(base), plen;
	char *u;

	if (blen > 0 && base[blen - 1] == '/' && path[0] == '/')
		path++;
	plen = strlen(path);
	if ((u = malloc(blen + plen + 1)) == NULL)
		return NULL;
	memcpy(u, base, blen);
	memcpy(u + blen, path, plen + 1);
	return u;
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/*
 * Written here, not taken from OpenSSL's EVP_MAC "SIPHASH": the lockout
 * table hashes twice on every token request, and the EVP dispatch cost
 * ~1,300 instructions a call against ~100 for the rounds themselves
 * (callgrind; BENCHMARKS.md, twenty-eighth session). tests/unit/test_util
 * checks it against OpenSSL's on random keys and lengths.
 */
#define SIP_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3) do {						\
	v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0; v0 = SIP_ROTL(v0, 32);	\
	v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2; v2 = SIP_ROTL(v2, 32);	\
} while (0)

static uint64_t
le64(const uint8_t *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t
siphash24(const uint8_t key[16], const void *data, size_t len)
{
	const uint8_t *in = data;
	uint64_t k0 = le64(key), k1 = le64(key + 8), m, b = (uint64_t)len << 56;
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	size_t i, tail = len & 7;

	for (i = 0; i + 8 <= len; i += 8) {
		m = le64(in + i);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t k = 0; k < tail; k++)
		b |= (uint64_t)in[i + k] << (8 * k);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	for (int r = 0; r < 4; r++)
		SIP_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}
