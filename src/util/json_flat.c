/* json_flat.c — see json_flat.h. */
#include "util/json_flat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
json_append_string(char *buf, size_t len, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	if (len + 2 > cap)
		return -1;
	buf[len++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (len + 7 > cap)
			return -1;
		if (c == '"' || c == '\\') {
			buf[len++] = '\\';
			buf[len++] = (char)c;
		} else if (c < 0x20) {
			memcpy(buf + len, "\\u00", 4);
			buf[len + 4] = hex[c >> 4];
			buf[len + 5] = hex[c & 15];
			len += 6;
		} else
			buf[len++] = (char)c;
	}
	if (len + 1 > cap)
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
