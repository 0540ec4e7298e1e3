/*
 * pgsql_values.c — how values reach a PostgreSQL statement (the overview
 * is at the top of store_pgsql.c): bound parameters (struct pv: text, SQL
 * NULL, int64 as text, bytea as binary), the text of the array literals
 * that carry a whole batch of rows in one parameter (struct pgi_arr), and
 * the UTF-8 check that text needs (a PostgreSQL text column refuses
 * invalid bytes, SQLite takes any). A file of its own because it is plain
 * C over the caller's buffers: it calls no libpq and touches no
 * connection.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pgsql_internal.h"

void
pv_s(struct pv *p, const char *s)
{
	p->v[p->n] = s != NULL ? s : "";
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pv_i(struct pv *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
	p->v[p->n] = p->num[p->n];
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pv_null(struct pv *p)
{
	p->v[p->n] = NULL;
	p->len[p->n] = 0;
	p->fmt[p->n] = 0;
	p->n++;
}

void
pv_b(struct pv *p, const void *b, size_t n)
{
	p->v[p->n] = n > 0 ? b : "";
	p->len[p->n] = (int)n;
	p->fmt[p->n] = 1;
	p->n++;
}

void
pv_opt(struct pv *p, const char *s)
{
	if (s != NULL)
		pv_s(p, s);
	else
		pv_null(p);
}

void
pgi_arr_put(struct pgi_arr *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t ncap = b->cap ? b->cap : 256;
		char *np;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* One element of a text[] literal: quoted, \ and " escaped. */
void
pgi_arr_s(struct pgi_arr *b, const char *s, int first)
{
	if (!first)
		pgi_arr_put(b, ",", 1);
	pgi_arr_put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		size_t run = strcspn(s, "\\\"");
		pgi_arr_put(b, s, run);
		s += run;
		if (*s == '\0')
			break;
		pgi_arr_put(b, "\\", 1);
		pgi_arr_put(b, s, 1);
	}
	pgi_arr_put(b, "\"", 1);
}

void
pgi_arr_i(struct pgi_arr *b, int64_t v, int first)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%s%lld", first ? "" : ",", (long long)v);

	pgi_arr_put(b, num, (size_t)n);
}

int
pgi_arr_bind(struct pgi_arr *a, int n, struct pv *p)
{
	for (int k = 0; k < n; k++) {
		pgi_arr_put(&a[k], "}", 1);
		if (a[k].oom)
			return -1;
		pv_s(p, a[k].p);
	}
	return 0;
}

/* Whether s is valid UTF-8 (what a PostgreSQL text column accepts; SQLite
 * takes any bytes). Overlong forms, surrogates and values past U+10FFFF
 * are invalid. */
int
pgi_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p != '\0') {
		unsigned c = *p, n, cp;
		if (c < 0x80) {
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned k = 1; k <= n; k++) {
			if ((p[k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* A copy of s with every byte outside valid UTF-8 sequences as '?'. */
char *
pgi_utf8_fixed(const char *s)
{
	char *out = strdup(s);
	char one[5];

	for (size_t i = 0; out != NULL && out[i] != '\0';) {
		unsigned char c = (unsigned char)out[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
		    (c & 0xf8) == 0xf0 ? 4 : 0;
		size_t k;
		for (k = 0; k < n && out[i + k] != '\0'; k++)
			one[k] = out[i + k];
		one[k] = '\0';
		if (n == 0 || k < n || !pgi_utf8_valid(one)) {
			out[i++] = '?';
			continue;
		}
		i += n;
	}
	return out;
}
