/* params.c — see params.h. Every input is bounded and decoded once; values
 * may hold secrets, so they are cleansed when freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "http/params.h"
#include "jose/b64url.h"
#include "util/json_alloc.h"
#include "util/util.h"

int
http_urldecode(const char *s, size_t len, int plus, char **out, size_t *outlen)
{
	char *p = malloc(len + 1);
	size_t o = 0;

	if (p == NULL)
		return HTTP_PARSE_NOMEM;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;
			if (hi < 0 || lo < 0)
				goto refused;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus)
			c = ' ';
		if (c == '\0')
			goto refused;
		p[o++] = c;
	}
	p[o] = '\0';
	if (!str_is_clean_utf8(p, o))
		goto refused;
	*out = p;
	*outlen = o;
	return 0;
refused:
	/* What was decoded may be part of a secret. */
	OPENSSL_cleanse(p, o);
	free(p);
	return -1;
}

static void
set_field(char field[HTTP_MAX_FIELD_NAME], const char *name)
{
	if (field != NULL)
		snprintf(field, HTTP_MAX_FIELD_NAME, "%s", name);
}

/* A refusal naming the parameter: "parameter 'NAME' WHAT" into *err (a
 * thread's buffer), NAME into field; name and value (wiped) freed. */
static int
named_refusal(char *name, char *value, size_t vlen, const char *what, const char **err,
    char field[HTTP_MAX_FIELD_NAME])
{
	static _Thread_local char tmsg[HTTP_MAX_FIELD_NAME + 80];

	snprintf(tmsg, sizeof(tmsg), "parameter '%s' %s", name, what);
	set_field(field, name);
	free(name);
	if (value != NULL) {
		OPENSSL_cleanse(value, vlen);
		free(value);
	}
	*err = tmsg;
	return -1;
}

/* One name=value pair of n bytes (no '&' in it), decoded and added to out
 * unless its name is there already: -1 with *err (and field) set. */
static int
form_pair(const char *pair, size_t n, struct http_params *out, const char **err,
    char field[HTTP_MAX_FIELD_NAME])
{
	const char *eq = memchr(pair, '=', n);
	size_t nl = eq != NULL ? (size_t)(eq - pair) : n, vraw = eq != NULL ? n - nl - 1 : 0;
	char *name = NULL, *value = NULL;
	size_t nlen, vlen;
	int rc;

	if (out->n == HTTP_MAX_PARAMS) {
		*err = "too many parameters";
		return -1;
	}
	if ((rc = http_urldecode(pair, nl, 1, &name, &nlen)) == HTTP_PARSE_NOMEM) {
		*err = "out of memory";
		return rc;
	}
	if (rc == -1 || nlen == 0 || nlen >= HTTP_MAX_FIELD_NAME) {
		free(name);
		*err = "a parameter name is empty, too long, or has an invalid %-escape, NUL or invalid UTF-8";
		return -1;
	}
	if (vraw > 3 * HTTP_MAX_PARAM_LEN)
		return named_refusal(name, NULL, 0, "is too long", err, field);
	if ((rc = http_urldecode(eq != NULL ? eq + 1 : "", vraw, 1, &value, &vlen)) == HTTP_PARSE_NOMEM) {
		free(name);
		*err = "out of memory";
		return rc;
	}
	if (rc == -1)
		return named_refusal(name, NULL, 0,
		    "has an invalid %-escape, a NUL byte or invalid UTF-8", err, field);
	if (vlen > HTTP_MAX_PARAM_LEN)
		return named_refusal(name, value, vlen, "is too long", err, field);
	/* RFC 6749 §3.2: parameters must not be included more than once. */
	if (http_params_get(out, name) != NULL)
		return named_refusal(name, value, vlen, "is repeated", err, field);
	out->items[out->n].name = name;
	out->items[out->n].value = value;
	out->items[out->n].value_len = vlen;
	out->n++;
	return 0;
}

int
http_form_parse(const char *body, size_t len, struct http_params *out,
    const char **err, char field[HTTP_MAX_FIELD_NAME])
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(body, '\0', len) != NULL) {
		*err = "body contains a NUL byte";
		return -1;
	}
	while (i < len) {
		const char *amp = memchr(body + i, '&', len - i);
		size_t end = amp != NULL ? (size_t)(amp - body) : len;

		int rc;

		if (end > i && (rc = form_pair(body + i, end - i, out, err, field)) != 0) {
			http_params_clear(out);
			return rc;
		}
		i = end + 1;
	}
	return 0;
}

const char *
http_params_get(const struct http_params *p, const char *name)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->items[i].name, name) == 0)
			return p->items[i].value;
	return NULL;
}

void
http_params_clear(struct http_params *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->items[i].name);
		OPENSSL_cleanse(p->items[i].value, p->items[i].value_len);
		free(p->items[i].value);
	}
	p->n = 0;
}

static int
check_json(json_t *v, int depth, size_t *members)
{
	const char *k;
	json_t *c;
	size_t i;

	if (depth > HTTP_MAX_JSON_DEPTH)
		return -1;
	if (json_is_object(v)) {
		json_object_foreach(v, k, c) {
			if (++*members > 4 * HTTP_MAX_PARAMS || check_json(c, depth + 1, members) == -1)
				return -1;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, c) {
			if (++*members > 4 * HTTP_MAX_PARAMS || check_json(c, depth + 1, members) == -1)
				return -1;
		}
	}
	return 0;
}

void
http_json_error(const json_error_t *je, char *out, size_t outlen)
{
	/* Where, never what: jansson's text quotes the input "near" the
	 * error, which is a secret whenever a client left its secret
	 * unquoted, and a description reaches the audit trail as well as
	 * the client. */
	const char *near = strstr(je->text, " near ");
	int n = near != NULL ? (int)(near - je->text) : (int)strlen(je->text);

	snprintf(out, outlen, "%.*s at byte %d", n > 150 ? 150 : n, je->text, je->position);
}

int
http_json_parse(const char *body, size_t len, json_t **out, const char **err)
{
	static _Thread_local char tmsg[200];
	json_error_t je;
	json_t *o;
	size_t members = 0;
	unsigned long failed = json_alloc_failures();

	/* JSON_REJECT_DUPLICATES: a key given twice is ambiguous (RFC 6749
	 * §3.2 by analogy); without JSON_ALLOW_NUL jansson refuses \u0000. */
	o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL && json_alloc_failures() != failed) {
		*err = "out of memory";
		return HTTP_PARSE_NOMEM;
	}
	if (o == NULL) {
		char where[HTTP_JSON_ERROR_MAX];
		http_json_error(&je, where, sizeof(where));
		snprintf(tmsg, sizeof(tmsg), "body is not valid JSON: %s", where);
		*err = tmsg;
		return -1;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		*err = "body must be a JSON object";
		return -1;
	}
	if (json_object_size(o) > HTTP_MAX_PARAMS || check_json(o, 1, &members) == -1) {
		json_decref(o);
		*err = "body JSON is too large or too deeply nested";
		return -1;
	}
	*out = o;
	return 0;
}

int
http_media_is(const char *ct, const char *type)
{
	size_t n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return 0;
	/* OWS, then the parameters' ';' or the end: "application/json\t;
	 * charset=utf-8" is JSON, "application/jsonx" and "application/json
	 * x" are not. */
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* 0 when the parameters p[0..n) of one media range hold a weight of zero
 * ("q=0", "q=0.", "q=0.000"; RFC 9110 §12.4.2), else 1. */
static int
weight_nonzero(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t end = i, a, v;

		while (end < n && p[end] != ';')
			end++;
		for (a = i; a < end && is_ows(p[a]); a++)
			;
		if (end - a >= 2 && (p[a] == 'q' || p[a] == 'Q') && p[a + 1] == '=') {
			size_t z = end;
			while (z > a + 2 && is_ows(p[z - 1]))
				z--;
			v = a + 2;
			if (v == z || p[v] != '0')
				return 1;
			if (++v < z && p[v] == '.')
				while (++v < z && p[v] == '0')
					;
			return v < z;
		}
		i = end + 1;
	}
	return 1;
}

/* How specifically the media range r[0..n) takes type: 3 as type itself,
 * 2 as the wildcard of its major type (major '/' '*'), 1 as the wildcard
 * of all, 0 not at all. */
static int
range_rank(const char *r, size_t n, const char *type)
{
	size_t major = strcspn(type, "/");

	if (n == strlen(type) && strncasecmp(r, type, n) == 0)
		return 3;
	if (n == major + 2 && strncasecmp(r, type, major + 1) == 0 && r[major + 1] == '*')
		return 2;
	return n == 3 && memcmp(r, "*/*", 3) == 0 ? 1 : 0;
}

/* Folds the ranges of one Accept value into *rank and *ok: the most
 * specific range that takes type, the first of equals, and whether its
 * weight is above 0. */
static void
accept_fold(const char *accept, const char *type, int *rank, int *ok)
{
	const char *p = accept;

	for (;;) {
		size_t n = strcspn(p, ","), m = 0;
		const char *r = p;
		int k;

		while (n > 0 && is_ows(*r))
			r++, n--;
		while (m < n && r[m] != ';' && !is_ows(r[m]))
			m++;
		if ((k = range_rank(r, m, type)) > *rank) {
			*rank = k;
			*ok = weight_nonzero(r + m, n - m);
		}
		if (r[n] == '\0')
			return;
		p = r + n + 1;
	}
}

int
http_accepts_media(const char *const *accept, size_t n, const char *type)
{
	int rank = 0, ok = 0;

	if (n == 0)
		return 1;
	for (size_t i = 0; i < n; i++)
		accept_fold(accept[i], type, &rank, &ok);
	return rank > 0 && ok;
}

int
http_basic_parse(const char *header, char **id, char **secret, const char **err)
{
	const char *b64;
	uint8_t raw[1024];
	size_t rawlen = 0, idlen, seclen;
	uint8_t *colon;
	int rc;

	*id = *secret = NULL;
	/* The scheme is checked here, not only by the callers: skipping six
	 * bytes of a shorter header read past its end (found by
	 * tests/unit/test_fuzz_parsers.c with the header ""). */
	if (strncasecmp(header, "Basic ", 6) != 0) {
		*err = "the Authorization header is not valid Basic credentials";
		return -1;
	}
	b64 = header + 6;
	while (*b64 == ' ')
		b64++;
	if (strlen(b64) > 4 * (sizeof(raw) / 3) ||
	    b64std_decode(b64, strlen(b64), raw, sizeof(raw) - 1, &rawlen) == -1) {
		*err = "the Authorization header is not valid Basic credentials";
		return -1;
	}
	if ((colon = memchr(raw, ':', rawlen)) == NULL || colon == raw) {
		OPENSSL_cleanse(raw, sizeof(raw));
		*err = "Basic credentials must be client_id:client_secret";
		return -1;
	}
	/* RFC 6749 §2.3.1: each part is form-urlencoded before base64. */
	if ((rc = http_urldecode((char *)raw, (size_t)(colon - raw), 1, id, &idlen)) != 0 ||
	    (rc = http_urldecode((char *)colon + 1, rawlen - (size_t)(colon - raw) - 1, 1, secret,
	    &seclen)) != 0) {
		free(*id);
		*id = NULL;
		OPENSSL_cleanse(raw, sizeof(raw));
		*err = rc == HTTP_PARSE_NOMEM ? "out of memory" :
		    "Basic credentials have an invalid %-escape, a NUL byte or invalid UTF-8";
		return rc;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	if (idlen == 0) {
		free(*id);
		OPENSSL_cleanse(*secret, seclen);
		free(*secret);
		*id = *secret = NULL;
		*err = "Basic credentials have an empty client id";
		return -1;
	}
	return 0;
}
