/* json_flat.c — see json_flat.h. */
#include "util/json_flat.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A byte a JSON string carries as it is (RFC 8259 section 7): neither a
 * quote, a backslash nor a control character. */
static inline int
plain(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

/* RFC 8259 §7's two-character escapes, by the byte they stand for. */
static const char short_escape[128] = {
	['"'] = '"', ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f', ['\n'] = 'n', ['\r'] = 'r',
	['\t'] = 't',
};

#define ONES	0x0101010101010101ULL
#define HIGHS	0x8080808080808080ULL

/* Whether any of the 8 bytes in w is not plain. Exact: the classic
 * zero-byte test ((v - ONES) & ~v & HIGHS) has no false positive when no
 * byte qualifies, and less-than-0x20 is the same test with 0x20 (bytes
 * with the top bit set are masked out by ~w, and are plain). */
static inline int
word_special(uint64_t w)
{
	uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

	return ((((w - ONES * 0x20) & ~w) | ((q - ONES) & ~q) | ((b - ONES) & ~b)) & HIGHS) != 0;
}

/* Plain bytes are checked 8 at a time and copied in runs: tokens, ids and
 * URLs are nearly all plain, and a byte-at-a-time loop with its bound
 * check was ~16 instructions a byte of the token endpoint's answer
 * (callgrind), most of the answer's cost. */
int
json_append_string(char *buf, size_t len, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(s), i = 0;

	if (len > cap || cap - len < 2)
		return -1;
	buf[len++] = '"';
	while (i < n) {
		size_t run = i;
		unsigned char c;

		for (uint64_t w; run + 8 <= n; run += 8) {
			memcpy(&w, s + run, 8);
			if (word_special(w))
				break;
		}
		while (run < n && plain((unsigned char)s[run]))
			run++;
		if (cap - len < run - i)
			return -1;
		memcpy(buf + len, s + i, run - i);
		len += run - i;
		if ((i = run) == n)
			break;
		c = (unsigned char)s[i++];
		if (c < 128 && short_escape[c] != 0) {
			/* The two-byte escapes jansson writes: a client's extra
			 * claims are bounded by jansson's text of them (manage/),
			 * and a name with "\u000a" for "\n" made them three
			 * times as long here (the client's tokens failed). */
			if (cap - len < 2)
				return -1;
			buf[len++] = '\\';
			buf[len++] = short_escape[c];
		} else {
			if (cap - len < 6)
				return -1;
			memcpy(buf + len, "\\u00", 4);
			buf[len + 4] = hex[c >> 4];
			buf[len + 5] = hex[c & 15];
			len += 6;
		}
	}
	if (cap - len < 1)
		return -1;
	buf[len++] = '"';
	return (int)len;
}

/* Room for more bytes and the final NUL, or oom set. */
static int
reserve(struct json_flat *j, size_t more)
{
	size_t cap;
	char *nb;

	if (j->oom)
		return -1;
	if (j->len + more + 1 <= j->cap)
		return 0;
	cap = j->cap ? j->cap : 256;
	while (cap < j->len + more + 1)
		cap *= 2;
	if ((nb = realloc(j->buf, cap)) == NULL) {
		j->oom = 1;
		return -1;
	}
	j->buf = nb;
	j->cap = cap;
	return 0;
}

static void
put(struct json_flat *j, const char *s, size_t n)
{
	if (reserve(j, n) == -1)
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
}

static void
key(struct json_flat *j, const char *k)
{
	if (j->members++ > 0)
		put(j, ",", 1);
	put(j, "\"", 1);
	put(j, k, strlen(k));
	put(j, "\":", 2);
}

void
json_flat_begin(struct json_flat *j)
{
	memset(j, 0, sizeof(*j));
	put(j, "{", 1);
}

void
json_flat_str(struct json_flat *j, const char *k, const char *v)
{
	size_t need = 6 * strlen(v) + 2;
	int n;

	key(j, k);
	if (reserve(j, need) == -1)
		return;
	n = json_append_string(j->buf, j->len, j->len + need + 1, v);
	if (n < 0)
		j->oom = 1;	/* cannot happen: need is the worst case */
	else
		j->len = (size_t)n;
}

void
json_flat_int(struct json_flat *j, const char *k, long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", v);

	key(j, k);
	put(j, num, (size_t)n);
}

char *
json_flat_end(struct json_flat *j, size_t *len)
{
	put(j, "}", 1);
	if (j->oom) {
		free(j->buf);
		j->buf = NULL;
		return NULL;
	}
	j->buf[j->len] = '\0';
	*len = j->len;
	return j->buf;
}
