/*
 * json_view.h — one JSON object read in place, without allocation, for the
 * token path: a JWT's header and claims set.
 *
 * Why not jansson here: jansson builds a tree (a hashed object, a malloc
 * per member and per string, a callback per byte). On a gate check that
 * verifies its token, its two json_loadb calls on ~500 bytes cost 86,000
 * instructions, 16% of the whole check and a third of what is not the RSA
 * signature. This reader validates the same grammar and returns what the
 * claim checks need, with no allocation below ~1.3 KB of input (a typical
 * token's claims are ~500 bytes). jansson
 * stays for everything else (and as this reader's oracle in its tests).
 *
 * The object is read per RFC 8259, as jansson reads it with
 * JSON_REJECT_DUPLICATES: any value may appear as a member (nested values
 * are validated, then skipped); strings are valid UTF-8 with valid escapes,
 * surrogates paired, "\u0000" refused (no string holds a NUL); integers
 * outside long long and reals outside double are refused; duplicate names
 * are refused at every level (RFC 7515 §5.2, RFC 7519 §4); only whitespace
 * may follow the object. Beyond jansson, for bounds (RFC 8725 §3.9): at most
 * JSON_VIEW_MAX_LEN bytes, nesting at most JSON_VIEW_MAX_DEPTH deep, and at
 * most the caller's number of top-level members.
 *
 * The input buffer is rewritten: every string is decoded over its own
 * bytes and NUL-terminated there, and an array of strings is packed at its
 * '[' as "s1\0s2\0...". The view points into the buffer, so the buffer
 * must outlive it.
 */
#ifndef GH_UTIL_JSON_VIEW_H
#define GH_UTIL_JSON_VIEW_H

#include <stddef.h>
#include <string.h>

#define JSON_VIEW_MAX_LEN	8192	/* bytes of input */
#define JSON_VIEW_MAX_DEPTH	32	/* the object itself is depth 1 */

enum json_view_type {
	JSON_VIEW_STRING,
	JSON_VIEW_INTEGER,
	JSON_VIEW_REAL,
	JSON_VIEW_TRUE,
	JSON_VIEW_FALSE,
	JSON_VIEW_NULL,
	JSON_VIEW_ARRAY,
	JSON_VIEW_OBJECT,
	JSON_VIEW__MAX
};

/* One top-level member. Strings are decoded and NUL-terminated. */
struct json_view_member {
	const char		*name;
	size_t			 name_len;
	enum json_view_type	 type;
	const char		*str;	/* STRING */
	size_t			 len;	/* STRING: bytes; ARRAY: elements */
	long long		 integer;	/* INTEGER */
	double			 real;		/* REAL */
	/* ARRAY whose elements are all strings (or none): the first of its
	 * len strings, each NUL-terminated and followed by the next; else NULL. */
	const char		*strings;
};

struct json_view {
	struct json_view_member	*m;	/* the caller's array of cap */
	size_t			 n, cap;
};

/*
 * Reads the object in buf[0..len) into v, whose m and cap the caller set
 * (v->n is set here). Returns 0, or -1 with *err (when not NULL) set to a
 * static reason that quotes nothing from the input. On failure v->n is 0
 * and buf's contents are unspecified.
 */
int	json_view_parse(struct json_view *v, char *buf, size_t len,
	    const char **err);

/* The member named name, or NULL. */
const struct json_view_member *json_view_get(const struct json_view *v,
	    const char *name);

/* The string after s in a member's strings list. */
static inline const char *
json_view_next_string(const char *s)
{
	return s + strlen(s) + 1;
}

#endif
