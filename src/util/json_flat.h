/*
 * json_flat.h — JSON text written directly, for the token path's flat
 * objects: the JWT claims (with extra claims rendered once per client) and
 * the token endpoint's answer.
 *
 * Building those as a jansson tree and dumping it took 6% of a token's CPU
 * (a hashed object, an allocation per member, a callback per run of
 * characters); appending to one buffer takes a tenth of that. Everything
 * with nesting stays with jansson; tokens are read back with
 * util/json_view.h.
 *
 * Keys are static identifiers, written as they are; string values are
 * escaped per RFC 8259 §7 and must be valid UTF-8 (the callers' strings
 * are checked on the way in).
 */
#ifndef GH_UTIL_JSON_FLAT_H
#define GH_UTIL_JSON_FLAT_H

#include <stddef.h>

/* Appends s as a JSON string (quoted, escaped) to buf[len..cap); returns
 * the new length or -1 when it would not fit. At most 6 * strlen(s) + 2
 * bytes are written. */
int	json_append_string(char *buf, size_t len, size_t cap, const char *s);

/* A growing flat object. Out of memory is sticky: json_flat_end() then
 * returns NULL. */
struct json_flat {
	char	*buf;
	size_t	 len, cap;
	int	 members, oom;
};

void	json_flat_begin(struct json_flat *);
void	json_flat_str(struct json_flat *, const char *key, const char *value);
void	json_flat_int(struct json_flat *, const char *key, long long value);
/* Closes the object: the malloc'd, NUL-terminated text (length in *len),
 * or NULL when memory ran out. */
char	*json_flat_end(struct json_flat *, size_t *len);

#endif
