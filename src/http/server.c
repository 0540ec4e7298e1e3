/*
 * server.c — the libmicrohttpd glue behind http.h: a request's life (the
 * access handler's calls, suspend and resume, completion) and the
 * listening sockets and daemons. What a request must pass before its body
 * is read is in admit.c; building answers, in response.c.
 *
 * HTTP_LOOPS_PER_CORE SO_REUSEPORT listening sockets per core, each a
 * libmicrohttpd daemon run by a thread of loop.c (listen_group(),
 * start_daemons()). A handler that
 * answers later (group commit) makes us suspend the connection;
 * http_exchange_resume() resumes it from any thread, wakes its loop, and
 * the access handler then queues the stored answer. A small state machine
 * under a mutex covers a resume that comes before the suspend.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "http/http.h"
#include "http/limits.h"
#include "http/loop.h"
#include "http/server_internal.h"
#include "http/tls.h"
#include "obs/log.h"
#include "net/cidr.h"
#include "net/forwarded.h"
#include "obs/metrics.h"
#include "util/util.h"

const char *const http_method_names[HTTP_METHOD__MAX] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"
};

/* -- request contexts -------------------------------------------------- */

/*
 * A request's conn_ctx (about 3 KB) is kept for the thread's next request
 * instead of going back to malloc: a block that size bypasses glibc's
 * per-thread cache, and freeing it on every request made malloc
 * consolidate its bins (1-2% of a cached gate check). Each thread keeps at
 * most SPARE_MAX; a thread's spares are freed when it ends, and the
 * calling thread's when the server is stopped.
 */
#define SPARE_MAX 4

static _Thread_local struct conn_ctx *spare[SPARE_MAX];
static _Thread_local unsigned nspare;
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;

static void
spares_free(void *unused)
{
	(void)unused;
	while (nspare > 0)
		free(spare[--nspare]);
}

static void
spare_key_init(void)
{
	(void)pthread_key_create(&spare_key, spares_free);
}

static struct conn_ctx *
ctx_take(void)
{
	if (nspare > 0)
		return spare[--nspare];
	return malloc(sizeof(struct conn_ctx));
}

static void
ctx_give_back(struct conn_ctx *c)
{
	if (nspare == SPARE_MAX) {
		free(c);
		return;
	}
	if (nspare == 0) {	/* marks the thread, so that its end frees them */
		pthread_once(&spare_once, spare_key_init);
		(void)pthread_setspecific(spare_key, &spare_key);
	}
	spare[nspare++] = c;
}

/* -- answers ---------------------------------------------------------- */

/* Whether r already carries a header named name. */
static int
has_header(const struct http_response *r, const char *name)
{
	for (size_t i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return 1;
	return 0;
}

static int
queue(struct conn_ctx *c)
{
	struct http_response *r = &c->x.resp;
	struct MHD_Response *mr;
	int rc;

	if (r->status == 0)
		http_response_error(r, 500, "server_error", "the handler gave no answer");
	/* Every 503 says when to try again (RFC 9110 §10.2.3), whichever
	 * route gave it: a client, ours among them, sends a POST again after
	 * a 503 only when it does. One place, so that none is left out. */
	if (r->status == 503 && !has_header(r, "Retry-After"))
		http_response_header(r, "Retry-After", "1");
	/* Not copied: the body stays ours until completed(), which libmicrohttpd
	 * calls once it has sent the answer or closed the connection, and which
	 * frees it. A failed queue leaves it for another try. */
	mr = MHD_create_response_from_buffer(r->body_len, r->body ? r->body : (char *)"",
	    MHD_RESPMEM_PERSISTENT);
	if (mr == NULL)
		return MHD_NO;
	MHD_add_response_header(mr, "Content-Type", r->content_type ? r->content_type : "application/json");
	MHD_add_response_header(mr, "X-Request-ID", c->x.req.request_id);
	for (size_t i = 0; i < r->nheaders; i++)
		MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
	/* Stopping: a kept-alive client moves to another connection (and
	 * node) rather than keep this one, which is about to close. */
	if (atomic_load(&c->srv->stopping) || c->unframed)
		MHD_add_response_header(mr, "Connection", "close");
	rc = MHD_queue_response(c->conn, (unsigned)r->status, mr);
	MHD_destroy_response(mr);
	if (rc == MHD_NO && !c->early) {
		/* libmicrohttpd 0.9.75 makes its last call (no upload data) before
		 * it can take an answer when Expect: 100-continue comes with bytes
		 * after the request, a pipelined one say, even with Content-Length:
		 * 0; MHD_NO would close the connection unanswered (found by
		 * tests/integration/test_fuzz_http.py). It calls again once it
		 * can: the answer waits for that call, as a deferred one does. */
		c->phase = PHASE_COMPLETED;
		return MHD_YES;
	}
	c->phase = PHASE_QUEUED;
	return rc;
}

/*
 * libmicrohttpd 0.9.75 stores each field of the query in the connection's
 * memory pool as it parses the request line, before any handler runs. When
 * they do not fit (a few hundred fields, "?&&&&..."), it queues its own 431
 * and then goes on parsing headers from the buffer it has just emptied: the
 * client gets no answer and the connection is held until the idle timeout.
 * This callback sees the target just before that parse, in MHD's own buffer
 * (MHD parses the fields from the byte after the first '?' once it returns).
 * A target over the limits gets its query cut there, so that MHD stores no
 * field, and is marked: http_admit() answers 414. (A NUL byte before the '?' hides
 * the query from us; that connection still waits for the idle timeout.)
 *
 * A "%00" anywhere in the target is marked too (STYLE 7): MHD decodes it
 * into a NUL that silently ends the path or the query field there
 * ("/healthz%00x" was served as /healthz, "?tenant=a%00x" read as a), and
 * http_admit() answers 400.
 */
static char target_long, target_nul;	/* their addresses, as *con_cls */

static void *
uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
	char *q;
	size_t fields = 1;
	int nul;

	(void)cls;
	(void)conn;
	if (uri == NULL)
		return NULL;
	nul = strstr(uri, "%00") != NULL;
	if ((q = strchr(uri, '?')) == NULL)
		return nul ? &target_nul : NULL;
	for (const char *p = q; *p != '\0'; p++)
		fields += *p == '&';
	if (!nul && fields <= HTTP_MAX_QUERY_FIELDS && strlen(uri) <= HTTP_MAX_URI_LEN)
		return NULL;
	q[1] = '\0';
	return nul ? &target_nul : &target_long;
}

/* 1 when con_cls is one of uri_seen()'s marks, not a request's context. */
static int
target_mark(const void *con_cls)
{
	return con_cls == &target_long || con_cls == &target_nul;
}

/* libmicrohttpd's first call of a request: a context (con_cls marks a
 * target uri_log refused), then http_admit(). */
static enum MHD_Result
request_begin(struct http_server *s, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, void **con_cls)
{
	int refused = *con_cls == &target_nul ? TARGET_NUL :
	    *con_cls == &target_long ? TARGET_LONG : TARGET_OK;
	struct conn_ctx *c;

	if ((c = ctx_take()) == NULL)
		return MHD_NO;
	memset(c, 0, offsetof(struct conn_ctx, hdr));
	c->target_refused = refused;
	c->srv = s;
	c->conn = conn;
	{
		const union MHD_ConnectionInfo *sc =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
		const struct conn_sock *cs = sc != NULL ? sc->socket_context : NULL;
		c->watch = cs != NULL ? cs->watch : NULL;	/* watch.h */
	}
	c->start_ns = clock_mono_ns();
	pthread_mutex_init(&c->mu, NULL);
	atomic_fetch_add(&s->inflight, 1);
	*con_cls = c;
	if (http_admit(c, url, method, version)) {
		c->early = 1;
		return (enum MHD_Result)queue(c);
	}
	return MHD_YES;
}

/* A piece of the body, kept up to the route's limit; past it, the rest is
 * read and dropped, and the request answered 413 once it is all in. A
 * chunked body (a Content-Length over the limit is refused before it is
 * read) that goes on past HTTP_MAX_BODY_DISCARD more ends the connection
 * unanswered: libmicrohttpd takes no answer before the body's end, and
 * reading without end would spend CPU and bandwidth on one client. */
static enum MHD_Result
body_append(struct conn_ctx *c, const char *data, size_t n)
{
	if (c->too_big || c->body_len + n > c->max_body) {
		c->too_big = 1;
		c->dropped += n;
		if (c->dropped <= HTTP_MAX_BODY_DISCARD)
			return MHD_YES;
		log_event(LOG_INFO, "http.body_abandoned", json_pack("{s:s, s:I}",
		    "request_id", c->x.req.request_id, "limit", (json_int_t)c->max_body));
		return MHD_NO;
	}
	if (c->body_len + n + 1 > c->body_cap) {
		size_t cap = c->body_cap ? c->body_cap : 1024;
		char *nb;
		while (cap < c->body_len + n + 1)
			cap *= 2;
		if ((nb = realloc(c->body, cap)) == NULL)
			return MHD_NO;
		c->body = nb;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, data, n);
	c->body_len += n;
	return MHD_YES;
}

/* The request is all in: the handler runs once, and its answer is queued,
 * or the connection suspended until http_exchange_resume() gives it. Later
 * calls (libmicrohttpd's, or the resumed connection's) queue what was
 * given. */
static enum MHD_Result
request_run(struct conn_ctx *c, struct MHD_Connection *conn)
{
	enum http_result res;

	pthread_mutex_lock(&c->mu);
	if (c->phase == PHASE_COMPLETED) {
		pthread_mutex_unlock(&c->mu);
		return (enum MHD_Result)queue(c);
	}
	if (c->phase != PHASE_NEW) {
		pthread_mutex_unlock(&c->mu);
		return MHD_YES;
	}
	c->phase = PHASE_RUNNING;
	c->loop = http_loop_current();	/* to wake when it is resumed */
	pthread_mutex_unlock(&c->mu);
	watch_busy(c->watch);		/* all in: the rest is our time */
	if (c->too_big) {
		char desc[64];
		snprintf(desc, sizeof(desc), "the body is larger than %zu bytes", c->max_body);
		http_response_error(&c->x.resp, 413, "invalid_request", desc);
		return (enum MHD_Result)queue(c);
	}
	c->x.req.body = c->body ? c->body : "";
	if (c->body)
		c->body[c->body_len] = '\0';
	c->x.req.body_len = c->body_len;
	res = c->route->handler(&c->x);
	if (res == HTTP_DONE)
		return (enum MHD_Result)queue(c);
	pthread_mutex_lock(&c->mu);
	if (c->phase == PHASE_COMPLETED) {
		pthread_mutex_unlock(&c->mu);
		return (enum MHD_Result)queue(c);
	}
	MHD_suspend_connection(conn);
	atomic_fetch_add(&c->srv->suspended, 1);
	c->phase = PHASE_SUSPENDED;
	pthread_mutex_unlock(&c->mu);
	return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct conn_ctx *c = *con_cls;

	if (c == NULL || target_mark(c))
		return request_begin(cls, conn, url, method, version, con_cls);
	if (c->early || c->phase == PHASE_QUEUED) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		return body_append(c, upload_data, n);
	}
	return request_run(c, conn);
}

void
http_exchange_resume(struct http_exchange *x)
{
	struct conn_ctx *c = (struct conn_ctx *)x;	/* x is c's first member */
	struct http_server *srv = c->srv;
	struct http_loop *wake = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->phase == PHASE_SUSPENDED) {
		c->phase = PHASE_COMPLETED;
		MHD_resume_connection(c->conn);
		wake = c->loop;		/* c may be gone once unlocked */
	} else
		c->phase = PHASE_COMPLETED;
	pthread_mutex_unlock(&c->mu);
	if (wake != NULL) {
		http_loop_wake(wake);
		/* Only now: http_server_stop may stop the loops (and free
		 * them) once no connection is counted as suspended. */
		atomic_fetch_sub(&srv->suspended, 1);
	}
}

/* A status code's three digits, without snprintf on every request. */
static void
status_text(int status, char out[4])
{
	if (status < 100 || status > 999) {	/* 0: no answer was queued */
		out[0] = '0';
		out[1] = '\0';
		return;
	}
	out[0] = (char)('0' + status / 100);
	out[1] = (char)('0' + status / 10 % 10);
	out[2] = (char)('0' + status % 10);
	out[3] = '\0';
}

/*
 * The request's log line. Behind a trusted proxy, "peer" is the caller its
 * X-Forwarded-For names (as the handlers read it, net/forwarded.h) and
 * "proxy" the proxy; "peer" stays the proxy when the caller is unknown.
 */
static void
log_request(const struct http_server *s, struct conn_ctx *c, uint64_t took_us)
{
	char caller[FORWARDED_ADDR_MAX];
	const char *lines[HTTP_MAX_HEADERS], *peer = c->x.req.peer_ip, *proxy = NULL;
	size_t n;

	if (s->trusted != NULL && s->trusted->n > 0 && cidr_match(s->trusted, peer) &&
	    (n = http_request_headers(&c->x.req, "X-Forwarded-For", lines, HTTP_MAX_HEADERS)) > 0 &&
	    forwarded_client(s->trusted, lines, n, caller) == 0) {
		proxy = peer;
		peer = caller;
	}
	/* jansson would not pack the line (all of it lost) with a client's
	 * invalid UTF-8 in the path or the claimed client id, or a character
	 * cut where they were copied; only now, as the line is written: most
	 * servers do not log requests. */
	str_scrub_utf8(c->path);
	str_scrub_utf8(c->x.resp.log_client);
	log_event(LOG_INFO, "http.request", json_pack("{s:s, s:s, s:i, s:f, s:s, s:s, s:s?, s:s?, s:s?, s:s?}",
	    "method", http_method_names[c->x.req.method], "path", c->path,
	    "status", c->x.resp.status, "duration_ms", (double)took_us / 1000.0,
	    "request_id", c->x.req.request_id, "peer", peer, "proxy", proxy,
	    "reason", c->x.resp.reason,
	    "client", c->x.resp.log_client[0] ? c->x.resp.log_client : NULL,
	    "tenant", c->x.resp.log_tenant[0] ? c->x.resp.log_tenant : NULL));
}

static void
completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct conn_ctx *c = *con_cls;
	const char *route;
	uint64_t now, took_us;
	double secs;

	(void)conn;
	(void)toe;
	if (c == NULL || target_mark(c)) {
		*con_cls = NULL;	/* refused before the handler saw it */
		return;
	}
	route = c->route ? c->route->name : "unmatched";
	now = clock_mono_ns();
	watch_answered(c->watch, now);
	took_us = (now - c->start_ns) / 1000;
	secs = (double)took_us / 1e6;
	{
		char status[4];
		const char *l1[2] = { route, status };
		status_text(c->x.resp.status, status);
		metrics_add("gatehouse_http_requests_total", 1, l1);
		if (c->x.resp.status >= 400) {
			const char *l2[2] = { route, c->x.resp.reason ? c->x.resp.reason : "error" };
			metrics_add("gatehouse_http_request_failures_total", 1, l2);
		}
		metrics_observe("gatehouse_http_request_duration_seconds", secs, l1);
	}
	if (s->log_requests)
		log_request(s, c, took_us);
	http_response_reset(&c->x.resp);
	free(c->body);
	free(c->query);
	pthread_mutex_destroy(&c->mu);
	ctx_give_back(c);
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
}

/* The watch list of the daemon conn came to. */
static struct http_watch *
watch_of(struct http_server *s, struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *d = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);

	for (unsigned i = 0; d != NULL && i < s->nd; i++)
		if (s->d[i] == d->daemon)
			return &s->watch[i];
	return NULL;
}

static const struct sockaddr *
client_addr(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *a = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

	return a != NULL ? a->client_addr : NULL;
}

/* The body, in the RFC 6749 §5.2 shape of every error; its length is the
 * Content-Length below, checked when built. */
#define OVER_SHARE_BODY	"{\"error\":\"temporarily_unavailable\"," \
	"\"error_description\":\"this address holds too many connections\"}"
_Static_assert(sizeof(OVER_SHARE_BODY) - 1 == 97, "OVER_SHARE_BODY's Content-Length");

/*
 * A connection over its address's share, over plain HTTP: one fixed 503
 * (RFC 9110 §15.6.4) written into the fresh socket's empty send buffer,
 * never waiting (MSG_DONTWAIT) and never reading the request, before the
 * caller shuts it. An HTTP client then sees an answer that says when to
 * try again, not a bare close it often retries at once. The request left
 * unread may make the close a reset; the answer is in the client's
 * receive queue before it, where Linux keeps it for the client to read.
 * Over TLS nothing can be written before a handshake, whose cost is what
 * the share bounds: that connection is closed unanswered.
 */
static void
answer_over_share(int fd)
{
	static const char busy[] =
	    "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "Retry-After: 1\r\n"
	    "Connection: close\r\n"
	    "Content-Length: 97\r\n"
	    "\r\n" OVER_SHARE_BODY;

	(void)send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

/*
 * A connection opened or closed on its daemon's loop (or, closed, on the
 * thread stopping the server). An opened one is counted against its
 * address's share (peers.h), watched from its opening (watch.h) and, over
 * TLS, given the certificate current then (tls.h); one over its address's
 * share, or that cannot be watched (out of memory), is ended at once
 * rather than left unbounded. Only a connection with a socket context was
 * counted and holds a certificate: libmicrohttpd tells of every opened
 * connection's closing, so the two pair.
 */
static void
conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	struct http_server *s = cls;
	const union MHD_ConnectionInfo *fd, *tls;
	const struct sockaddr *addr = client_addr(conn);
	struct http_watch *w;
	struct conn_sock *cs = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (cs != NULL) {
			if (addr != NULL)
				peers_close(s->peers, addr);
			watch_close(cs->watch);
			tls_release(cs->pair);
			free(cs);
		}
		*socket_context = NULL;
		return;
	}
	fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (fd == NULL || (w = watch_of(s, conn)) == NULL)
		return;
	if (addr != NULL && peers_open(s->peers, addr) == -1) {
		if (s->certs == NULL)
			answer_over_share(fd->connect_fd);
		(void)shutdown(fd->connect_fd, SHUT_RDWR);
		return;
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL ||
	    (cs->watch = watch_open(w, fd->connect_fd, clock_mono_ns())) == NULL) {
		free(cs);
		if (addr != NULL)
			peers_close(s->peers, addr);
		(void)shutdown(fd->connect_fd, SHUT_RDWR);
		return;
	}
	/* Without a pair, the handshake fails (tls_retrieve). */
	if (s->certs != NULL &&
	    (tls = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION)) != NULL)
		cs->pair = tls_hold(s->certs, tls->tls_session);
	*socket_context = cs;
}

/* Between a loop's passes: its daemon's sweep for requests overdue. */
static int
watch_tick(void *arg)
{
	return watch_sweep(arg, clock_mono_ns());
}

/* MHD's accept policy: once stopping, a new connection is closed at once. */
static enum MHD_Result
admit_connection(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct http_server *s = cls;

	(void)addr;
	(void)addrlen;
	return atomic_load(&s->stopping) ? MHD_NO : MHD_YES;
}

/* Binds one listening socket for addr; reuseport puts it in the port's
 * SO_REUSEPORT group, so the kernel spreads connections over the group. */
static int
listen_socket(const struct sockaddr_storage *ss, socklen_t sslen, int reuseport,
    char *err, size_t errlen)
{
	int fd, one = 1;

	if ((fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) ||
	    (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) == -1) ||
	    bind(fd, (const struct sockaddr *)ss, sslen) == -1 ||
	    (reuseport && listen(fd, HTTP_LISTEN_BACKLOG) == -1)) {
		snprintf(err, errlen, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * One listening socket per core, in one SO_REUSEPORT group: the kernel
 * hashes each new connection to a socket, so the cores share the
 * connections. On one socket shared by libmicrohttpd's thread pool, the
 * worker that woke first took a burst of them, and now and then all 64 of
 * a load's: one core signed or verified while the other idled (an RS256
 * row at 60% instead of 85%, the uncached gate at 13.5k checks/s instead
 * of 26k; BENCHMARKS.md, eighth session). The stalls that once made each
 * socket keep a pool of workers were libmicrohttpd's own polling loop
 * (loop.h); our loops do not have them. A first bind without SO_REUSEPORT
 * refuses a port that another server holds, which a bind into a group of
 * the same user would otherwise join.
 */
/* The port field of an AF_INET or AF_INET6 address (network order). */
static uint16_t *
port_of(struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? &((struct sockaddr_in6 *)ss)->sin6_port :
	    &((struct sockaddr_in *)ss)->sin_port;
}

static int
listen_group(struct sockaddr_storage *ss, unsigned n, int *fds, char *err, size_t errlen)
{
	socklen_t sslen = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	uint16_t *port = port_of(ss);
	int probe;

	if (*port != 0) {
		if ((probe = listen_socket(ss, sslen, 0, err, errlen)) == -1)
			return -1;
		close(probe);
	}
	for (unsigned i = 0; i < n; i++) {
		if ((fds[i] = listen_socket(ss, sslen, 1, err, errlen)) == -1) {
			while (i > 0)
				close(fds[--i]);
			return -1;
		}
		if (i == 0 && *port == 0) {
			struct sockaddr_storage bound;
			socklen_t blen = sizeof(bound);
			if (getsockname(fds[0], (struct sockaddr *)&bound, &blen) == -1) {
				snprintf(err, errlen, "getsockname: %s", strerror(errno));
				close(fds[0]);
				return -1;
			}
			*port = *port_of(&bound);
		}
	}
	return 0;
}

/*
 * GnuTLS's priorities for our TLS: its defaults, but only TLS 1.2 and
 * 1.3. libmicrohttpd's default, GnuTLS "NORMAL", still negotiated TLS
 * 1.0 and 1.1 (with CBC and SHA-1), which RFC 8996 forbids and RFC 9700
 * (OAuth 2.0 security BCP, by BCP 195) rules out for a token endpoint.
 * At 1.2, NORMAL also took static RSA key exchange (no forward secrecy:
 * whoever gets the key later reads every recorded token) and CBC suites
 * (MAC-then-encrypt, Lucky13), which RFC 9325 §4.1-4.2 (BCP 195) says
 * not to negotiate: only ECDHE with AEAD ciphers are left, as in
 * Mozilla's "intermediate" profile.
 */
static const char tls_priorities[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-AES-256-CBC:-AES-128-CBC";

/* A libmicrohttpd daemon on listening socket fd, driven by a thread of
 * loop.c rather than its own; over TLS when a certificate is configured
 * (its options ride in an array, so there is one call). */
static struct MHD_Daemon *
start_daemon(struct http_server *s, const struct http_config *cfg, int fd, unsigned conn_limit,
    struct http_watch *w)
{
	unsigned flags = MHD_USE_EPOLL_LINUX_ONLY | MHD_ALLOW_SUSPEND_RESUME;
	/* The certificate by callback, not MHD_OPTION_HTTPS_MEM_CERT: a
	 * reload may replace it (tls.h). */
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_retrieve },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities },
		{ MHD_OPTION_END, 0, NULL }
	};

	if (strchr(cfg->listen_host, ':') != NULL)
		flags |= MHD_USE_IPv6;
	if (s->tls)
		flags |= MHD_USE_TLS;
	return MHD_start_daemon(flags, 0, admit_connection, s, access_handler, s,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_CONNECTION_LIMIT, conn_limit,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(w->timeout_ns / 1000000000u),
	    MHD_OPTION_NOTIFY_CONNECTION, conn_notify, s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(HTTP_MAX_HEADER_BYTES * 2),
	    MHD_OPTION_NOTIFY_COMPLETED, completed, s,
	    MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL,
	    MHD_OPTION_ARRAY, s->tls ? tls : &tls[2],
	    MHD_OPTION_END);
}

/*
 * A daemon on each listening socket in fds[0..n), into s->d. A daemon of
 * its own per socket, not two sharing one: two daemons on one socket race
 * to accept, and the one that wakes first takes a whole burst of
 * connections while the other idles (seen: one of two loops per socket
 * held all 64 of a load's). On failure every socket is closed and every
 * daemon stopped.
 */
static int
start_daemons(struct http_server *s, const struct http_config *cfg, int *fds, unsigned n)
{
	unsigned limit = (unsigned)HTTP_MAX_CONNECTIONS / n;
	unsigned timeout = cfg->request_timeout_s ? cfg->request_timeout_s : HTTP_CONN_TIMEOUT_S;

	for (unsigned i = 0; i < n; i++) {
		struct MHD_Daemon *d;

		s->watch[i] = (struct http_watch){ .timeout_ns = (uint64_t)timeout * 1000000000u };
		if ((d = start_daemon(s, cfg, fds[i], limit, &s->watch[i])) == NULL) {
			for (unsigned j = i; j < n; j++)
				close(fds[j]);
			while (s->nd > 0)
				MHD_stop_daemon(s->d[--s->nd]);
			return -1;
		}
		s->d[s->nd++] = d;
	}
	return 0;
}

static int
check_routes(const struct http_route *routes, size_t nroutes, char *err, size_t errlen)
{
	for (size_t i = 0; i < nroutes; i++) {
		if (routes[i].auth == HTTP_AUTH_UNSET || routes[i].auth >= HTTP_AUTH__MAX ||
		    routes[i].handler == NULL || routes[i].path == NULL || routes[i].path[0] != '/') {
			snprintf(err, errlen, "route %s: no auth kind, handler or path", routes[i].path ? routes[i].path : "?");
			return -1;
		}
		for (size_t k = 0; k < i; k++)
			if (routes[k].method == routes[i].method && strcmp(routes[k].path, routes[i].path) == 0) {
				snprintf(err, errlen, "route %s %s is declared twice",
				    http_method_names[routes[i].method], routes[i].path);
				return -1;
			}
	}
	return 0;
}

int
http_server_listen(const struct http_config *cfg, struct http_server **out, char *err,
    size_t errlen)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = cfg->threads ? cfg->threads :
	    (unsigned)HTTP_LOOPS_PER_CORE * (ncpu > 0 ? (unsigned)ncpu : 1);
	char why[128];

	*out = NULL;
	if (threads > HTTP_MAX_THREADS)
		threads = HTTP_MAX_THREADS;
	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, cfg->listen_host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons(cfg->listen_port);
	} else if (inet_pton(AF_INET6, cfg->listen_host, &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(cfg->listen_port);
	} else {
		snprintf(err, errlen, "listen address %s is not numeric", cfg->listen_host);
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (listen_group(&ss, threads, s->fds, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot listen on %s:%u: %s", cfg->listen_host, cfg->listen_port, why);
		free(s);
		return -1;
	}
	s->nfds = threads;
	s->port = ntohs(*port_of(&ss));
	*out = s;
	return 0;
}

/*
 * Each connection is a file descriptor, and a soft limit of 1024 (systemd's
 * and many shells' default) refuses connections long before
 * HTTP_MAX_CONNECTIONS. The soft limit is raised to cover them and
 * HTTP_FD_SPARE more (store, logs, listening sockets) as far as the hard
 * limit allows; one left short is logged, so that refused connections have
 * a cause an operator can find.
 */
#define HTTP_FD_SPARE	256

static void
raise_fd_limit(void)
{
	const rlim_t want = (rlim_t)HTTP_MAX_CONNECTIONS + HTTP_FD_SPARE;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		log_event(LOG_WARN, "http.fd_limit", json_pack("{s:I, s:I, s:s}",
		    "open_files", (json_int_t)rl.rlim_cur, "connections", (json_int_t)HTTP_MAX_CONNECTIONS,
		    "note", "raise the hard open-file limit (LimitNOFILE=, ulimit -Hn) to serve them all"));
}

int
http_server_serve(struct http_server *s, const struct http_config *cfg,
    const struct http_route *routes, size_t nroutes, char *err, size_t errlen)
{
	unsigned n = s->nfds;
	void *ticks[HTTP_MAX_THREADS];
	char why[128];

	if (check_routes(routes, nroutes, err, errlen) == -1)
		return -1;
	s->routes = routes;
	s->nroutes = nroutes;
	s->tls = cfg->tls_cert_pem != NULL;
	if (s->tls && (s->certs = tls_certs_new(cfg->tls_cert_pem, cfg->tls_key_pem, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "TLS: %s", why);
		return -1;
	}
	s->log_requests = cfg->log_requests;
	metrics_declare("gatehouse_http_requests_total", "counter", "HTTP requests by route and status.", "route,status");
	metrics_declare("gatehouse_http_request_failures_total", "counter", "HTTP requests answered 4xx/5xx, by route and reason.", "route,reason");
	metrics_declare("gatehouse_http_request_duration_seconds", "histogram", "Request latency by route and status.", "route,status");
	metrics_declare("gatehouse_http_requests_timed_out_total", "counter",
	    "Connections ended because a request did not arrive whole within the request timeout.", "");
	metrics_add("gatehouse_http_requests_timed_out_total", 0, NULL);	/* shown from the start */
	metrics_declare("gatehouse_http_connections_refused_total", "counter",
	    "Connections ended at once because their address already held connections_per_address.", "");
	metrics_add("gatehouse_http_connections_refused_total", 0, NULL);
	s->trusted = cfg->unlimited;
	if (cfg->conns_per_address > 0 &&
	    (s->peers = peers_new(cfg->conns_per_address, cfg->unlimited)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	raise_fd_limit();
	s->nfds = 0;	/* the daemons', or closed, from here on */
	if (start_daemons(s, cfg, s->fds, n) == -1) {
		snprintf(err, errlen, "cannot serve on port %u (a bad TLS certificate or key?)", s->port);
		return -1;
	}
	for (unsigned i = 0; i < s->nd; i++)
		ticks[i] = &s->watch[i];
	if ((s->loops = http_loops_start(s->d, s->nd, watch_tick, ticks, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "cannot serve on port %u: %s", s->port, why);
		while (s->nd > 0)
			MHD_stop_daemon(s->d[--s->nd]);
		return -1;
	}
	return 0;
}

int
http_server_tls_replace(struct http_server *s, const char *cert_pem, const char *key_pem,
    char *err, size_t errlen)
{
	if (s->certs == NULL) {
		snprintf(err, errlen, "the server does not serve TLS");
		return -1;
	}
	return tls_certs_replace(s->certs, cert_pem, key_pem, err, errlen);
}

uint16_t
http_server_port(const struct http_server *s)
{
	return s->port;
}

void
http_server_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	/* Bound, never served: nothing but the sockets. */
	while (s->nfds > 0)
		close(s->fds[--s->nfds]);
	/* New connections are refused (admit_connection) and answers close
	 * theirs; in-flight requests finish first. Not MHD_quiesce_daemon():
	 * libmicrohttpd 0.9.75's epoll workers race it to take the listen
	 * socket out of their epoll sets, and the loser aborts the process
	 * ("Failed to remove listen FD from epoll set"; seen in
	 * tests/pgsql/test_approvals.py). */
	atomic_store(&s->stopping, 1);
	/* suspended too: a resume counts its connection out only after it
	 * has woken the loop, and the connection may complete (inflight
	 * falls) before that; s and the loops must outlive the resume. */
	for (int i = 0; atomic_load(&s->inflight) > 0 || atomic_load(&s->suspended) > 0; i++) {
		/* After 10 s only deferred answers are waited for: a connection
		 * still uploading is closed by MHD_stop_daemon; a suspended one
		 * would make it abort. */
		if (i >= 1000 && atomic_load(&s->suspended) == 0)
			break;
		usleep(10000);
	}
	http_loops_stop(s->loops);	/* the daemons are then this thread's */
	for (unsigned i = 0; i < s->nd; i++)
		MHD_stop_daemon(s->d[i]);
	spares_free(NULL);	/* in case MHD completed requests on this thread */
	tls_certs_free(s->certs);	/* every connection has let go of its pair */
	peers_free(s->peers);
	free(s);
}
