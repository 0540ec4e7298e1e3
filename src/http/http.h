/*
 * http.h — the HTTP server: libmicrohttpd glue, the route table, limits,
 * request logging and metrics. Handlers see a parsed, bounded request and
 * fill a response; they never touch libmicrohttpd.
 *
 * A handler may answer later from another thread (group commit: the token is
 * answered only after its record is durable): it returns HTTP_DEFERRED and
 * then calls http_exchange_resume() once x->resp is complete. The connection
 * is suspended meanwhile, so no server thread waits.
 */
#ifndef GH_HTTP_H
#define GH_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/limits.h"

struct cidr_list;

enum http_method {
	HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT, HTTP_PATCH, HTTP_DELETE,
	HTTP_OPTIONS, HTTP_METHOD_OTHER, HTTP_METHOD__MAX
};
extern const char *const http_method_names[HTTP_METHOD__MAX];

/* One header field as received: name and value are NUL-terminated. */
struct http_field {
	const char	*name, *value;
	size_t		 name_len;
};

struct http_request {
	enum http_method method;
	const char	*path;		/* target without the query, undecoded */
	const char	*query;		/* after '?', undecoded; "" when none */
	const char	*body;		/* NUL-terminated copy; "" when none */
	size_t		 body_len;
	char		 peer_ip[46];	/* the TCP peer, textual */
	int		 tls;		/* arrived over TLS */
	char		 request_id[HTTP_REQUEST_ID_MAX + 1]; /* echoed */
	const struct http_field *fields;	/* the header fields, in order */
	size_t		 nfields;
	void		*priv;		/* the glue's; not for handlers */
};

/* The value of header name (case-insensitive), NULL when absent. When count
 * is not NULL it gets how many times the field appeared (a repeated
 * Authorization is ambiguous: RFC 6749 §3.2 / §5.2 invalid_request). */
const char *http_request_header(const struct http_request *, const char *name,
	    size_t *count);
/* The values of the field lines named name (case-insensitive), in their
 * order, into out[] (room for max; HTTP_MAX_HEADERS holds every line a
 * request may have): how many were stored. */
size_t	 http_request_headers(const struct http_request *, const char *name,
	    const char **out, size_t max);

struct http_header {
	const char	*name;		/* static */
	char		*value;		/* in the response's room, or malloc'd */
	int		 heap;		/* value is malloc'd: it did not fit */
};

struct http_response {
	int		 status;
	const char	*content_type;	/* static; default application/json */
	char		*body;		/* malloc'd, owned */
	size_t		 body_len;
	struct http_header headers[HTTP_MAX_RESPONSE_HEADERS];
	size_t		 nheaders;
	/* Header values are copied here while they fit: a gate answer's six
	 * cost no allocation. */
	char		 room[HTTP_RESPONSE_HEADER_ROOM];
	size_t		 room_used;
	/* For the request log and metrics: a static reason code such as
	 * "invalid_client" (never user data), and who the caller was. */
	const char	*reason;
	char		 log_client[65];
	char		 log_tenant[65];
};

/* Drops the body and headers set so far, so that another answer can
 * replace them; completion does the same. */
void	http_response_reset(struct http_response *);
/* Sets status and a JSON body (steals body). A NULL body, or one that
 * cannot be written, is out of memory: a 500. */
void	http_response_json(struct http_response *, int status, json_t *body);
/* Sets status and a JSON body already written as text (steals body, of
 * len bytes, NUL-terminated; NULL means out of memory: a 500). */
void	http_response_json_text(struct http_response *, int status, char *body,
	    size_t len);
/* Sets status and a copied body of the given static content type. */
void	http_response_text(struct http_response *, int status,
	    const char *content_type, const char *body, size_t len);
/* Adds a header (name static, value copied). Extra headers past the limit
 * are dropped and logged; returns 0 or -1. */
int	http_response_header(struct http_response *, const char *name,
	    const char *value);

struct http_exchange {
	struct http_request	 req;
	struct http_response	 resp;
	void			*route_ctx;	/* the route's ctx */
	void			*handler_data;	/* server/offload.c marks x with it */
};

enum http_result { HTTP_DONE, HTTP_DEFERRED };
typedef enum http_result (*http_handler_fn)(struct http_exchange *x);
/* After HTTP_DEFERRED: x->resp is complete; send it. Any thread. */
void	http_exchange_resume(struct http_exchange *x);

/* How a route authenticates its caller (STYLE 4). Declared for every route;
 * the server refuses to start with a route left at HTTP_AUTH_UNSET. */
enum http_auth {
	HTTP_AUTH_UNSET = 0,
	HTTP_AUTH_PUBLIC,	/* jwks, metadata, health */
	HTTP_AUTH_CLIENT,	/* client credentials in the request */
	HTTP_AUTH_BEARER,	/* gatehouse's own bearer token (admin API) */
	HTTP_AUTH_GATE,		/* the original call's credentials (gate) */
	HTTP_AUTH_OPERATOR,	/* metrics: loopback or configured scrapers */
	HTTP_AUTH__MAX
};

struct http_route {
	enum http_method method;
	const char	*path;		/* exact; or a prefix when prefix is set */
	int		 prefix;
	/* A prefix route's paths: NULL every one under the prefix, else
	 * those it returns 1 for. The others are not this route's: another
	 * route's, or 404; and a 405's Allow (RFC 9110 §15.5.6) names only
	 * the methods of the routes that serve the path. */
	int		(*serves)(const char *path);
	http_handler_fn	 handler;
	void		*ctx;		/* handed to the handler as route_ctx */
	enum http_auth	 auth;
	size_t		 max_body;	/* 0: HTTP_MAX_BODY_DEFAULT */
	const char	*name;		/* metrics label, static */
};

struct http_config {
	const char	*listen_host;	/* numeric IPv4 or IPv6 */
	uint16_t	 listen_port;	/* 0: a free port (see http_server_port) */
	const char	*tls_cert_pem;	/* contents, or NULL for plain HTTP */
	const char	*tls_key_pem;
	unsigned	 threads;	/* loops, a listening socket each; 0: two per core */
	int		 log_requests;	/* one JSON line per request on stderr */
	unsigned	 request_timeout_s; /* a request's time to arrive whole, and
					 * an idle connection's; 0: HTTP_CONN_TIMEOUT_S */
	unsigned	 conns_per_address; /* most connections one address (an
					 * IPv6 /64) holds at once; 0: no limit */
	const struct cidr_list *unlimited; /* addresses not limited (trusted
					 * proxies); NULL: none. Outlives the server */
};

struct http_server;

/* Binds the listening sockets (cfg->threads of them), not yet serving:
 * connections wait in the backlog. Apart so that a caller knows the port
 * (listen_port 0) before it serves, for the issuer it names. Returns 0, or
 * -1 with a one-line reason in err. */
int	http_server_listen(const struct http_config *, struct http_server **out,
	    char *err, size_t errlen);
/* Validates the routes and serves on the sockets of http_server_listen
 * (cfg the same). Returns 0, or -1 with a reason in err; either way the
 * caller ends with http_server_stop. routes must outlive the server. */
int	http_server_serve(struct http_server *, const struct http_config *,
	    const struct http_route *, size_t nroutes, char *err, size_t errlen);
/* Makes cert_pem (the leaf, then its intermediates) and key_pem, whose
 * match the caller has checked, what new TLS connections are shown;
 * connections open keep the certificate they had. Neither text is kept.
 * 0, or -1 with the reason in err and the certificate before still
 * served (as for a server without TLS). Any thread. */
int	http_server_tls_replace(struct http_server *, const char *cert_pem,
	    const char *key_pem, char *err, size_t errlen);
/* The port actually bound. */
uint16_t http_server_port(const struct http_server *);
/* Stops accepting, lets in-flight requests finish, then stops (one only
 * bound just closes its sockets). NULL is a no-op. A request still arriving (a slow upload) after 10 s is cut off;
 * a deferred answer is waited for however long it takes, because
 * libmicrohttpd aborts the process when stopped with a connection
 * suspended: the caller bounds the whole stop (cli_serve's stop_timeout). */
void	http_server_stop(struct http_server *);

#endif
