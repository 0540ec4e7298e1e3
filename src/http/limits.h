/*
 * limits.h — every bound on what a client may send, in one place (STYLE 6).
 * Tighter limits apply before authentication; no allocation is ever sized
 * from a client's claimed count.
 */
#ifndef GH_LIMITS_H
#define GH_LIMITS_H

#define HTTP_MAX_HEADER_BYTES	16384	/* request line + all headers (431) */
#define HTTP_MAX_HEADERS	64	/* header fields in one request (431) */
#define HTTP_MAX_URI_LEN	4096	/* request target (414) */
#define HTTP_MAX_QUERY_FIELDS	128	/* '&'-separated fields of the query (414):
					 * kept well inside libmicrohttpd's pool */
#define HTTP_MAX_BODY_DEFAULT	16384	/* a route's body limit unless it says (413) */
#define HTTP_MAX_BODY_DISCARD	(1024 * 1024) /* of a chunked body past its limit,
					 * read and dropped for the 413; then closed */
#define HTTP_MAX_PARAMS		32	/* form or JSON members in a token request */
#define HTTP_MAX_PARAM_LEN	8192	/* one parameter's decoded value: a whole token
					 * (JOSE_MAX_TOKEN_LEN) for RFC 7662/7009 */
#define HTTP_MAX_JSON_DEPTH	8	/* nesting in a request body */
#define HTTP_REQUEST_ID_MAX	128	/* X-Request-ID: [A-Za-z0-9._:-]{1,128} */
#define HTTP_CONN_TIMEOUT_S	30	/* idle connection */
#define HTTP_MAX_CONNECTIONS	4096
#define HTTP_MAX_THREADS	256	/* loops (config threads), a listening socket each */
#define HTTP_LOOPS_PER_CORE	2	/* the default for threads: server.c */
#define HTTP_LISTEN_BACKLOG	1024
#define HTTP_MAX_RESPONSE_HEADERS 16
#define HTTP_RESPONSE_HEADER_ROOM 512	/* header values kept in the response itself */

#endif
