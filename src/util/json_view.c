/* json_view.c — see json_view.h. Written by hand: json_view.h says why. */
#include "util/json_view.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Duplicate names are found with one open-addressed set for the whole
 * input: a slot holds a name's offset + 1 (low 16 bits) and its object's
 * ordinal (high 16 bits). A member takes at least 4 bytes ("":0), so an
 * input of len bytes has at most len / 4 names, and a set of 3/2 that many
 * slots (rounded up to a power of two) stays at most 2/3 full. Up to
 * STACK_SLOTS slots live on the stack, which covers token-sized input.
 */
#define STACK_SLOTS	512

struct reader {
	char		*buf;
	char		*p, *end;	/* reading at p; strings are written behind it */
	uint32_t	*slots;
	size_t		 mask;
	unsigned	 objects;	/* ordinals handed out */
	const char	*err;
};

static int
fail(struct reader *r, const char *why)
{
	if (r->err == NULL)
		r->err = why;
	return -1;
}

static void
skip_ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' ||
	    *r->p == '\r'))
		r->p++;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* A \u escape of four hex digits (r->p on its 'u'), or a surrogate pair
 * of two, to UTF-8 at *dst. */
static int
unicode_escape(struct reader *r, char **dst)
{
	unsigned cp, lo;
	unsigned char *d = (unsigned char *)*dst;

	if (r->end - r->p < 5 || hex4(r->p + 1, &cp) == -1)
		return fail(r, "a \\u escape needs four hex digits");
	r->p += 5;
	if (cp == 0)
		return fail(r, "\\u0000 is not allowed in a string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(r, "a low surrogate escape without a high one");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
		    hex4(r->p + 2, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
			return fail(r, "a high surrogate escape without a low one");
		r->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp < 0x80) {
		*d++ = (unsigned char)cp;
	} else if (cp < 0x800) {
		*d++ = (unsigned char)(0xc0 | cp >> 6);
		*d++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*d++ = (unsigned char)(0xe0 | cp >> 12);
		*d++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		*d++ = (unsigned char)(0xf0 | cp >> 18);
		*d++ = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		*d++ = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		*d++ = (unsigned char)(0x80 | (cp & 0x3f));
	}
	*dst = (char *)d;
	return 0;
}

static int
escape(struct reader *r, char **dst)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;

	if (++r->p == r->end)
		return fail(r, "a string ends inside an escape");
	if (*r->p == 'u')
		return unicode_escape(r, dst);
	if (*r->p == '\0' || (e = strchr(from, *r->p)) == NULL)
		return fail(r, "an invalid escape in a string");
	*(*dst)++ = to[e - from];
	r->p++;
	return 0;
}

/* The length of the well-formed UTF-8 sequence at s (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing past U+10FFFF), or 0. */
static size_t
utf8_len(const unsigned char *s, size_t avail)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (avail < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * The string at r->p (its opening quote), decoded to dst, which is at or
 * before the quote: every byte is read before it can be written over, and
 * the NUL lands at most on the closing quote. *len is the decoded length.
 */
static int
string(struct reader *r, char *dst, size_t *len)
{
	char *d = dst;

	r->p++;
	for (;;) {
		unsigned char c;
		size_t n;

		if (r->p == r->end)
			return fail(r, "a string is not closed");
		c = (unsigned char)*r->p;
		if (c == '"')
			break;
		if (c == '\\') {
			if (escape(r, &d) == -1)
				return -1;
		} else if (c < 0x20) {
			return fail(r, "a control character in a string");
		} else if (c < 0x80) {
			*d++ = (char)c;
			r->p++;
		} else {
			if ((n = utf8_len((const unsigned char *)r->p, (size_t)(r->end - r->p))) == 0)
				return fail(r, "invalid UTF-8 in a string");
			memmove(d, r->p, n);
			d += n;
			r->p += n;
		}
	}
	r->p++;
	*d = '\0';
	*len = (size_t)(d - dst);
	return 0;
}

static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void
c_locale_new(void)
{
	c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* strtod of s[0..n) in the C locale, whatever the process set (the
 * verification library runs inside other programs). s[n] is ours to
 * borrow for the terminating NUL. -1 when it is out of range. */
static int
real_value(char *s, size_t n, double *out)
{
	locale_t old = (locale_t)0;
	char save = s[n], *end;
	int rc = 0;

	pthread_once(&c_locale_once, c_locale_new);
	if (c_locale != (locale_t)0)
		old = uselocale(c_locale);
	s[n] = '\0';
	errno = 0;
	*out = strtod(s, &end);
	/* Without the C locale, strtod may stop at the '.'. */
	if (end != s + n || (errno == ERANGE && (*out == HUGE_VAL || *out == -HUGE_VAL)))
		rc = -1;
	s[n] = save;
	if (c_locale != (locale_t)0)
		uselocale(old);
	return rc;
}

static int
digits(struct reader *r)
{
	const char *start = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > start ? 0 : -1;
}

/* A number (RFC 8259 §6): an integer when it has neither fraction nor
 * exponent and fits long long, a real when it has either and is finite. */
static int
number(struct reader *r, struct json_view_member *m)
{
	char *start = r->p;
	unsigned long long mag = 0, lim = (unsigned long long)LLONG_MAX;
	int neg = 0, real = 0;
	double d;

	if (*r->p == '-') {
		neg = 1;
		lim++;
		r->p++;
	}
	if (r->p == r->end || *r->p < '0' || *r->p > '9')
		return fail(r, "a number has no digits");
	if (*r->p == '0')
		r->p++;
	else
		digits(r);
	if (r->p < r->end && *r->p == '.') {
		real = 1;
		r->p++;
		if (digits(r) == -1)
			return fail(r, "a number has no digits after '.'");
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		real = 1;
		if (++r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (digits(r) == -1)
			return fail(r, "a number has no digits in its exponent");
	}
	/* Inside an object a number is always followed by something. */
	if (r->p == r->end)
		return fail(r, "the object is not closed");
	if (real) {
		if (real_value(start, (size_t)(r->p - start), &d) == -1)
			return fail(r, "a real number is out of range");
		if (m != NULL) {
			m->type = JSON_VIEW_REAL;
			m->real = d;
		}
		return 0;
	}
	for (const char *s = start + neg; s < r->p; s++) {
		unsigned dig = (unsigned)(*s - '0');
		if (mag > (lim - dig) / 10)
			return fail(r, "an integer is out of range");
		mag = mag * 10 + dig;
	}
	if (m != NULL) {
		m->type = JSON_VIEW_INTEGER;
		m->integer = !neg ? (long long)mag :
		    mag == lim ? LLONG_MIN : -(long long)mag;
	}
	return 0;
}

static int
literal(struct reader *r, const char *word, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return fail(r, "an unknown literal");
	r->p += n;
	return 0;
}

/* FNV-1a of the name, mixed with its object's ordinal. */
static uint32_t
name_hash(const char *s, size_t n, unsigned id)
{
	uint32_t h = 2166136261u ^ (id * 0x9e3779b1u);

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h ^ h >> 15;
}

/* 1 when object id already has this name; else records it. */
static int
name_seen(struct reader *r, unsigned id, const char *name, size_t n)
{
	uint32_t off = (uint32_t)(name - r->buf) + 1;
	size_t i = name_hash(name, n, id) & r->mask;

	for (;; i = (i + 1) & r->mask) {
		uint32_t e = r->slots[i];
		if (e == 0) {
			r->slots[i] = off | (uint32_t)id << 16;
			return 0;
		}
		if (e >> 16 == id && strcmp(r->buf + (e & 0xffff) - 1, name) == 0)
			return 1;
	}
}

static int object(struct reader *, unsigned, struct json_view *);
static int array(struct reader *, unsigned, struct json_view_member *);

/* One value; a top-level member's (m not NULL) is recorded in m. depth is
 * that of the container holding it. */
static int
value(struct reader *r, unsigned depth, struct json_view_member *m)
{
	size_t n;
	char *s;

	if (r->p == r->end)
		return fail(r, "the object is not closed");
	switch (*r->p) {
	case '"':
		s = r->p;
		if (string(r, s, &n) == -1)
			return -1;
		if (m != NULL) {
			m->type = JSON_VIEW_STRING;
			m->str = s;
			m->len = n;
		}
		return 0;
	case '{':
		if (m != NULL)
			m->type = JSON_VIEW_OBJECT;
		return object(r, depth + 1, NULL);
	case '[':
		return array(r, depth + 1, m);
	case 't':
		if (m != NULL)
			m->type = JSON_VIEW_TRUE;
		return literal(r, "true", 4);
	case 'f':
		if (m != NULL)
			m->type = JSON_VIEW_FALSE;
		return literal(r, "false", 5);
	case 'n':
		if (m != NULL)
			m->type = JSON_VIEW_NULL;
		return literal(r, "null", 4);
	default:
		if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
			return number(r, m);
		return fail(r, "an unexpected character where a value should be");
	}
}

/* Into the container at r->p, closed by close: 1 when it is empty (and
 * already left), 0 when an element follows, -1 when nested too deeply. */
static int
enter(struct reader *r, unsigned depth, char close)
{
	if (depth > JSON_VIEW_MAX_DEPTH)
		return fail(r, "values are nested too deeply");
	r->p++;
	skip_ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		return 1;
	}
	return 0;
}

/* After an element: 1 when close ends the container, 0 after a ',' (another
 * element follows), -1 otherwise. */
static int
next(struct reader *r, char close)
{
	int arr = close == ']';

	skip_ws(r);
	if (r->p == r->end)
		return fail(r, arr ? "an array is not closed" : "the object is not closed");
	if (*r->p == close) {
		r->p++;
		return 1;
	}
	if (*r->p != ',')
		return fail(r, arr ? "expected ',' or ']' in an array" :
		    "expected ',' or '}' in an object");
	r->p++;
	skip_ws(r);
	return 0;
}

/*
 * An array at r->p. A top-level member's strings are packed from the '['
 * on: each element takes at least its decoded length + 2 bytes (quotes)
 * and is written in its decoded length + 1, so the packing never passes
 * what is still to be read.
 */
static int
array(struct reader *r, unsigned depth, struct json_view_member *m)
{
	char *start = r->p, *w = start;
	size_t n = 0, sl;
	int packing = m != NULL, rc;

	for (rc = enter(r, depth, ']'); rc == 0; rc = next(r, ']')) {
		if (packing && r->p < r->end && *r->p == '"') {
			if (string(r, w, &sl) == -1)
				return -1;
			w += sl + 1;
		} else {
			packing = 0;
			if (value(r, depth, NULL) == -1)
				return -1;
		}
		n++;
	}
	if (rc == -1)
		return -1;
	if (m != NULL) {
		m->type = JSON_VIEW_ARRAY;
		m->len = n;
		m->strings = packing ? start : NULL;
	}
	return 0;
}

/* An object at r->p; the top-level one (v not NULL) records members. */
static int
object(struct reader *r, unsigned depth, struct json_view *v)
{
	unsigned id = r->objects++;
	struct json_view_member *m = NULL;
	size_t n;
	char *name;
	int rc;

	for (rc = enter(r, depth, '}'); rc == 0; rc = next(r, '}')) {
		if (r->p == r->end || *r->p != '"')
			return fail(r, "expected a member name in double quotes");
		name = r->p;
		if (string(r, name, &n) == -1)
			return -1;
		if (name_seen(r, id, name, n))
			return fail(r, "a member name appears twice in one object");
		if (v != NULL) {
			if (v->n == v->cap)
				return fail(r, "the object has too many members");
			m = &v->m[v->n++];
			memset(m, 0, sizeof(*m));
			m->name = name;
			m->name_len = n;
		}
		skip_ws(r);
		if (r->p == r->end || *r->p != ':')
			return fail(r, "expected ':' after a member name");
		r->p++;
		skip_ws(r);
		if (value(r, depth, m) == -1)
			return -1;
	}
	return rc == -1 ? -1 : 0;
}

int
json_view_parse(struct json_view *v, char *buf, size_t len, const char **err)
{
	uint32_t stack_slots[STACK_SLOTS];
	struct reader r;
	size_t slots = 16, need = len / 4 + 1;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	v->n = 0;
	if (len == 0) {
		fail(&r, "empty input");
		goto out;
	}
	if (len > JSON_VIEW_MAX_LEN) {
		fail(&r, "longer than JSON_VIEW_MAX_LEN bytes");
		goto out;
	}
	while (slots < need + need / 2)
		slots *= 2;
	r.slots = slots <= STACK_SLOTS ? stack_slots : malloc(slots * sizeof(*r.slots));
	if (r.slots == NULL) {
		fail(&r, "out of memory");
		goto out;
	}
	memset(r.slots, 0, slots * sizeof(*r.slots));
	r.mask = slots - 1;
	r.buf = r.p = buf;
	r.end = buf + len;
	skip_ws(&r);
	if (r.p == r.end || *r.p != '{') {
		fail(&r, "not a JSON object");
		goto out;
	}
	if (object(&r, 1, v) == -1)
		goto out;
	skip_ws(&r);
	if (r.p != r.end) {
		fail(&r, "bytes after the object");
		goto out;
	}
	rc = 0;
out:
	if (r.slots != stack_slots)
		free(r.slots);
	if (rc == -1) {
		v->n = 0;
		if (err != NULL)
			*err = r.err;
	}
	return rc;
}

const struct json_view_member *
json_view_get(const struct json_view *v, const char *name)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->m[i].name, name) == 0)
			return &v->m[i];
	return NULL;
}
