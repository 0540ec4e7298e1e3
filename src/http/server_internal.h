/*
 * server_internal.h — private to src/http: the request context and the
 * server that server.c, admit.c and response.c share. Nothing outside
 * src/http includes it (http.h is the module's interface).
 */
#ifndef GH_HTTP_SERVER_INTERNAL_H
#define GH_HTTP_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

#include "http/http.h"
#include "http/limits.h"
#include "http/peers.h"
#include "http/watch.h"

/* What uri_seen() found in a target: too long or too many query fields
 * (414), or a %00 (400). */
enum target_fault { TARGET_OK, TARGET_LONG, TARGET_NUL };

enum phase { PHASE_NEW, PHASE_RUNNING, PHASE_SUSPENDED, PHASE_COMPLETED, PHASE_QUEUED };

struct conn_ctx {
	struct http_exchange	 x;
	struct http_server	*srv;
	struct MHD_Connection	*conn;
	struct http_loop	*loop;		/* the thread serving conn */
	struct conn_watch	*watch;		/* conn's, when its request is due */
	const struct http_route	*route;
	char			*body;
	size_t			 body_len, body_cap, max_body;
	int			 too_big;
	size_t			 dropped;	/* body bytes past the limit, read */
	int			 early;		/* an error answer was queued at once */
	int			 unframed;	/* the body's end is unknown: close after */
	int			 target_refused;	/* uri_seen()'s enum target_fault */
	pthread_mutex_t		 mu;
	enum phase		 phase;
	uint64_t		 start_ns;
	char			 path[256];	/* for the log, capped */
	char			*query;		/* x.req.query when not "" */
	/* The request's header fields (x.req.fields), read from libmicrohttpd
	 * once in http_admit(); its strings live in the connection's pool until
	 * completed(). Every lookup is then a walk of this array, not a
	 * callback per field. nhdr counts them all; hdr, the one member left
	 * out of the zeroing at allocation, holds the first HTTP_MAX_HEADERS
	 * (more is refused: 431). */
	size_t			 nhdr, hdr_bytes;
	struct http_field	 hdr[HTTP_MAX_HEADERS];
};

/* A connection's own, from its opening to its closing (libmicrohttpd's
 * socket context): its watch, and over TLS its certificate. */
struct conn_sock {
	struct conn_watch	*watch;		/* watch.h */
	struct tls_pair		*pair;		/* tls.h; NULL over plain HTTP */
};

struct http_server {
	int			 fds[HTTP_MAX_THREADS];	/* bound, not yet served */
	unsigned		 nfds;
	struct MHD_Daemon	*d[HTTP_MAX_THREADS];
	unsigned		 nd;
	struct http_loops	*loops;		/* the daemons' threads (loop.h) */
	struct http_watch	 watch[HTTP_MAX_THREADS];	/* d[i]'s connections */
	struct http_peers	*peers;		/* connections per address (peers.h) */
	uint16_t		 port;
	const struct http_route	*routes;
	size_t			 nroutes;
	int			 tls;
	struct tls_certs	*certs;		/* what TLS handshakes present (tls.h) */
	int			 log_requests;
	const struct cidr_list	*trusted;	/* proxies (http.h unlimited); NULL: none */
	_Atomic long		 inflight;
	_Atomic int		 stopping;	/* http_server_stop has begun */
	_Atomic long		 suspended;	/* connections awaiting a deferred answer */
};

/* admit.c: the first call of a request, everything that can be refused
 * before a body is read (fields, request id, limits, framing, route).
 * Returns 1 when an answer was prepared in c->x.resp (to be queued now). */
int	http_admit(struct conn_ctx *c, const char *url, const char *method,
	    const char *version);

/* response.c: an error answer in the RFC 6749 §5.2 shape, not cached. */
void	http_response_error(struct http_response *r, int status, const char *code,
	    const char *desc);

#endif
