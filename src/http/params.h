/*
 * params.h — request parameters: form bodies (application/x-www-form-urlencoded),
 * JSON bodies, and HTTP Basic credentials, each parsed with explicit bounds
 * into NUL-free, UTF-8-checked strings (STYLE 7, 9).
 *
 * Errors are returned as -1 with *err set to a static message that names what
 * was wrong, suitable for an RFC 6749 error_description; *field (when not
 * NULL) gets the offending parameter's name when there is one (copied into
 * the caller's buffer of HTTP_MAX_FIELD_NAME bytes).
 */
#ifndef GH_PARAMS_H
#define GH_PARAMS_H

#include <stddef.h>

#include <jansson.h>

#include "http/limits.h"

#define HTTP_MAX_FIELD_NAME 64

struct http_param {
	char	*name;
	char	*value;
	size_t	 value_len;
};

struct http_params {
	struct http_param items[HTTP_MAX_PARAMS];
	size_t		  n;
};

/* The parsers below return 0, -1 when the input is refused (*err says
 * why: the client's fault, a 4xx), or HTTP_PARSE_NOMEM when memory ran
 * out (*err "out of memory": the server's fault, a 5xx; the input may
 * be good, so the client must not be told it is not). */
#define HTTP_PARSE_NOMEM	(-2)

/* Parses a form body: '&'-separated name=value, '+' as space, %XX decoded;
 * refuses a repeated name (RFC 6749 §3.2), %00 or raw NUL, invalid UTF-8,
 * more than HTTP_MAX_PARAMS parameters, a value over HTTP_MAX_PARAM_LEN. */
int	http_form_parse(const char *body, size_t len, struct http_params *out,
	    const char **err, char field[HTTP_MAX_FIELD_NAME]);
/* The value of name, NULL when absent. */
const char *http_params_get(const struct http_params *, const char *name);
/* Frees every item (values cleansed: they may hold secrets). */
void	http_params_clear(struct http_params *);

/* jansson's error je as "reason at byte N" into out, without the input
 * jansson quotes "near" it (a secret, when one was sent unquoted). At
 * most HTTP_JSON_ERROR_MAX bytes are needed. */
#define HTTP_JSON_ERROR_MAX	176
void	http_json_error(const json_error_t *je, char *out, size_t outlen);

/* Parses a JSON body that must be an object: refuses duplicate keys, NUL
 * bytes (\u0000), nesting deeper than HTTP_MAX_JSON_DEPTH, more than
 * HTTP_MAX_PARAMS members. *out is a new reference. */
int	http_json_parse(const char *body, size_t len, json_t **out,
	    const char **err);

/* Parses "Basic <b64>" (RFC 7617) into id and secret, each then
 * form-urldecoded as RFC 6749 §2.3.1 requires. Refuses a missing colon,
 * bad base64, empty id, NUL, invalid UTF-8. *id and *secret are malloc'd;
 * the caller cleanses and frees *secret. */
int	http_basic_parse(const char *header, char **id, char **secret,
	    const char **err);

/* 1 when the Content-Type value ct (NULL: none) names the media type
 * type, compared without regard to case, with or without parameters:
 * RFC 9110 §8.3.1, type "/" subtype *( OWS ";" OWS parameter ), OWS
 * being spaces and HTABs (§5.6.3). The parameters are not read. */
int	http_media_is(const char *ct, const char *type);

/* 1 when the n Accept values accept[] (each a field line; none takes
 * anything) allow type ("application/json"): the most specific media range
 * that takes it (type itself, over the wildcard of its major type, over
 * that of all types; compared without regard to case, RFC 9110 §8.3.1)
 * is not weighted q=0 (§12.5.1, §12.4.2). The lines are read as one list,
 * as §5.3 combines them. */
int	http_accepts_media(const char *const *accept, size_t n, const char *type);

/* Percent-decodes s[0..len) ('+' as space when plus is set) into a new
 * string; refuses bad escapes, NUL and invalid UTF-8 (-1);
 * HTTP_PARSE_NOMEM when out of memory. */
int	http_urldecode(const char *s, size_t len, int plus, char **out,
	    size_t *outlen);

#endif
