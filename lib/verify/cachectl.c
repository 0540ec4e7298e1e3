/*
 * cachectl.c — Cache-Control and Age for the verifier's key set; see
 * cachectl.h. Input is a field value as libcurl hands it over: bounded by
 * len, never trusted to be well formed.
 */
#include <string.h>
#include <strings.h>

#include "cachectl.h"

/* A character of a token (RFC 9110 §5.6.2). */
static int
is_tchar(unsigned char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* qdtext and the second character of a quoted-pair (RFC 9110 §5.6.4). */
static int
is_qdtext(unsigned char ch, int escaped)
{
	if (ch == '\t' || ch == ' ' || ch >= 0x80)
		return 1;
	if (ch < 0x21 || ch == 0x7f)
		return 0;
	return escaped || (ch != '"' && ch != '\\');
}

/* delta-seconds = 1*DIGIT (RFC 9111 §1.2.2), saturating at 2^31; -1 when
 * s[0..len) is anything else (a sign, a space, a fraction, nothing). */
static int64_t
delta_seconds(const char *s, size_t len)
{
	int64_t v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v < CACHECTL_DELTA_MAX)
			v = v * 10 + (s[i] - '0');
	}
	return v < CACHECTL_DELTA_MAX ? v : CACHECTL_DELTA_MAX;
}

static size_t
skip_ows(const char *v, size_t len, size_t i)
{
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	return i;
}

/* One directive's argument at v[*i]: a token or a quoted-string. Sets
 * [*a, *a + *alen) to its text (inside the quotes) and *escaped when a
 * quoted-pair occurs. Returns -1 when malformed. */
static int
parse_arg(const char *v, size_t len, size_t *i, size_t *a, size_t *alen, int *escaped)
{
	size_t j = *i;

	*escaped = 0;
	if (j < len && v[j] == '"') {
		*a = ++j;
		for (; j < len && v[j] != '"'; j++) {
			if (v[j] == '\\') {
				*escaped = 1;
				if (++j == len || !is_qdtext((unsigned char)v[j], 1))
					return -1;
			} else if (!is_qdtext((unsigned char)v[j], 0))
				return -1;
		}
		if (j == len)
			return -1;	/* unterminated */
		*alen = j - *a;
		*i = j + 1;
		return 0;
	}
	*a = j;
	while (j < len && is_tchar((unsigned char)v[j]))
		j++;
	if (j == *a)
		return -1;
	*alen = j - *a;
	*i = j;
	return 0;
}

static int
name_is(const char *v, size_t n, size_t nlen, const char *want)
{
	return nlen == strlen(want) && strncasecmp(v + n, want, nlen) == 0;
}

/* Applies one directive. Recipients accept max-age's argument quoted too
 * (RFC 9111 §5.2), but only as plain digits. */
static void
apply(struct cachectl *cc, const char *v, size_t n, size_t nlen, int has_arg,
    size_t a, size_t alen, int escaped)
{
	int64_t age;

	if (name_is(v, n, nlen, "no-store") || name_is(v, n, nlen, "no-cache")) {
		/* A qualified no-cache="field" too: this cache has no use for
		 * the rest of a JWKS answer. */
		cc->stale = 1;
		return;
	}
	if (!name_is(v, n, nlen, "max-age"))
		return;
	if (!has_arg || escaped || (age = delta_seconds(v + a, alen)) < 0) {
		cc->invalid = 1;
		return;
	}
	if (cc->has_max_age && cc->max_age != age)
		cc->stale = 1;
	cc->has_max_age = 1;
	cc->max_age = age;
}

void
cachectl_add(struct cachectl *cc, const char *v, size_t len)
{
	size_t i = 0;

	/* #cache-directive: empty elements are allowed (RFC 9110 §5.6.1). */
	for (;;) {
		size_t n, nlen, a = 0, alen = 0;
		int has_arg = 0, escaped = 0;

		while ((i = skip_ows(v, len, i)) < len && v[i] == ',')
			i++;
		if (i == len)
			return;
		n = i;
		while (i < len && is_tchar((unsigned char)v[i]))
			i++;
		if ((nlen = i - n) == 0)
			goto bad;
		if (i < len && v[i] == '=') {
			i++;
			has_arg = 1;
			if (parse_arg(v, len, &i, &a, &alen, &escaped) == -1)
				goto bad;
		}
		i = skip_ows(v, len, i);
		if (i < len && v[i] != ',')
			goto bad;
		apply(cc, v, n, nlen, has_arg, a, alen, escaped);
	}
bad:
	cc->invalid = 1;
}

int64_t
cachectl_lifetime(const struct cachectl *cc)
{
	if (cc->stale || cc->invalid)
		return 0;
	return cc->has_max_age ? cc->max_age : -1;
}

int64_t
cachectl_age(const char *v, size_t len)
{
	size_t b = skip_ows(v, len, 0), e = len;

	while (e > b && (v[e - 1] == ' ' || v[e - 1] == '\t'))
		e--;
	return delta_seconds(v + b, e - b);
}
