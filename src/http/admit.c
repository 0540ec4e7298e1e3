/*
 * admit.c — what a request must pass before its body is read (http_admit):
 * its header fields kept once, its query rebuilt, its X-Request-ID, the
 * limits of limits.h, how its body is framed and its Host, and the route
 * with its body limit. Each refusal is an answer prepared in the RFC 6749
 * shape; the first fault found, in that order, is the one answered.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "http/server_internal.h"
#include "util/util.h"

const char *
http_request_header(const struct http_request *req, const char *name, size_t *count)
{
	const struct http_field *f = req->fields;
	const char *value = NULL;
	size_t len = strlen(name), n = 0;

	for (size_t i = 0; i < req->nfields; i++)
		if (f[i].name_len == len && strcasecmp(f[i].name, name) == 0 && n++ == 0)
			value = f[i].value;
	if (count != NULL)
		*count = n;
	return value;
}

size_t
http_request_headers(const struct http_request *req, const char *name, const char **out,
    size_t max)
{
	const struct http_field *f = req->fields;
	size_t len = strlen(name), n = 0;

	for (size_t i = 0; i < req->nfields; i++)
		if (n < max && f[i].name_len == len && strcasecmp(f[i].name, name) == 0)
			out[n++] = f[i].value;
	return n;
}

static enum http_method
method_of(const char *m)
{
	for (int i = 0; i < HTTP_METHOD_OTHER; i++)
		if (strcmp(m, http_method_names[i]) == 0)
			return (enum http_method)i;
	return HTTP_METHOD_OTHER;
}

/* 1 when route r serves path: exactly, or as a prefix (and its serves). */
static int
route_hits(const struct http_route *r, const char *path)
{
	if (!r->prefix)
		return strcmp(path, r->path) == 0;
	return strncmp(path, r->path, strlen(r->path)) == 0 &&
	    (r->serves == NULL || r->serves(path));
}

static const struct http_route *
match(struct http_server *s, enum http_method m, const char *path, int *path_known)
{
	*path_known = 0;
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct http_route *r = &s->routes[i];
		if (!route_hits(r, path))
			continue;
		*path_known = 1;
		if (r->method == m || (m == HTTP_HEAD && r->method == HTTP_GET))
			return r;
	}
	return NULL;
}

/* RFC 9110 §15.5.6: a 405 MUST list the methods the target allows: those
 * of every route match() takes for path (prefix routes too, which once
 * left the list empty and so the header out), HEAD wherever GET is. With
 * path NULL, the server's (OPTIONS *): every route's, and OPTIONS. */
static void
allow_header(struct http_server *s, const char *path, struct http_response *resp)
{
	char allow[128] = "";
	size_t used = 0;
	unsigned methods = path == NULL ? 1u << HTTP_OPTIONS : 0;

	for (size_t i = 0; i < s->nroutes; i++)
		if (path == NULL || route_hits(&s->routes[i], path))
			methods |= 1u << s->routes[i].method |
			    (s->routes[i].method == HTTP_GET ? 1u << HTTP_HEAD : 0);
	/* Seven names with their commas take 43 bytes of the 128. */
	for (int m = 0; m < HTTP_METHOD_OTHER; m++)
		if (methods & 1u << m)
			used += (size_t)snprintf(allow + used, sizeof(allow) - used, "%s%s",
			    used ? ", " : "", http_method_names[m]);
	http_response_header(resp, "Allow", allow);
}

/* libmicrohttpd hands handlers the path without the query and keeps the
 * arguments decoded: the query is rebuilt from them, percent-encoded
 * again, so that handlers parse one form (http_form_parse) as they do
 * bodies. Order is kept; a name without '=' comes back as "name=". */
struct query_build {
	char	*buf;
	size_t	 len, cap;
	int	 oom;
};

/* Appends s, percent-encoded unless raw. */
static void
qb_put(struct query_build *q, const char *s, int raw)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s != NULL && *s != '\0' && !q->oom; s++) {
		unsigned char ch = (unsigned char)*s;
		int plain = raw || (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~';
		if (q->len + 4 > q->cap) {
			/* Room for every byte of the longest target escaped: doubling
			 * alone jumped from 8192 past this bound and refused (414) a
			 * query of 2.8 KB of escaped bytes in a target under 4 KB. */
			size_t max = (size_t)HTTP_MAX_URI_LEN * 3 + 4;
			size_t cap = q->cap ? q->cap * 2 : 128;
			char *nb;
			if (cap > max)
				cap = max;
			if (q->len + 4 > cap || (nb = realloc(q->buf, cap)) == NULL) {
				q->oom = 1;
				return;
			}
			q->buf = nb;
			q->cap = cap;
		}
		if (plain)
			q->buf[q->len++] = (char)ch;
		else {
			q->buf[q->len++] = '%';
			q->buf[q->len++] = hex[ch >> 4];
			q->buf[q->len++] = hex[ch & 15];
		}
		q->buf[q->len] = '\0';
	}
}

static enum MHD_Result
query_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_build *q = cls;

	(void)kind;
	if (q->len > 0)
		qb_put(q, "&", 1);
	qb_put(q, key, 0);
	qb_put(q, "=", 1);
	qb_put(q, value, 0);
	return q->oom ? MHD_NO : MHD_YES;
}

/* Keeps each header field (see struct conn_ctx) and tallies the bytes as
 * sent ("Name: value\r\n"). The connection's pool is twice
 * HTTP_MAX_HEADER_BYTES (libmicrohttpd needs room to parse), so the
 * documented limit is checked here. */
static enum MHD_Result
header_keep(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	struct conn_ctx *c = cls;
	size_t vlen = value_size;

	(void)kind;
	/* RFC 9110 §5.5: a field value excludes the whitespace around it.
	 * libmicrohttpd 0.9.75 drops the leading but keeps the trailing
	 * ("X-TENANT-ID: acme " was another tenant's id): cut off here, in
	 * its buffer, which holds this request until completed(). */
	while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
		vlen--;
	if (vlen < value_size)
		((char *)value)[vlen] = '\0';
	if (c->nhdr < HTTP_MAX_HEADERS) {
		c->hdr[c->nhdr].name = key;
		c->hdr[c->nhdr].value = value;
		c->hdr[c->nhdr].name_len = key_size;
	}
	c->nhdr++;
	c->hdr_bytes += key_size + value_size + 4;
	return MHD_YES;
}

/* The request's fields, query, target and peer address, as handlers read
 * them (struct http_request). 1 when answered: a query too long to keep. */
static int
request_read(struct conn_ctx *c, const char *url, const char *method)
{
	struct http_request *req = &c->x.req;
	struct query_build q = { NULL, 0, 0, 0 };
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	req->priv = c;
	MHD_get_connection_values_n(c->conn, MHD_HEADER_KIND, header_keep, c);
	req->fields = c->hdr;
	req->nfields = c->nhdr < HTTP_MAX_HEADERS ? c->nhdr : HTTP_MAX_HEADERS;
	req->method = method_of(method);
	req->path = url;
	req->query = "";
	MHD_get_connection_values(c->conn, MHD_GET_ARGUMENT_KIND, query_iter, &q);
	if (q.oom) {
		free(q.buf);
		http_response_error(&c->x.resp, 414, "invalid_request", "the query string is too long");
		return 1;
	}
	if (q.buf != NULL)
		req->query = c->query = q.buf;
	req->body = "";
	req->tls = c->srv->tls;
	/* For the request log (scrubbed there: completed() in server.c). */
	str_copy(c->path, sizeof(c->path), url);
	ci = MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa = ci ? ci->client_addr : NULL;
	if (sa != NULL && sa->sa_family == AF_INET)
		ipv4_text((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr.s_addr,
		    req->peer_ip);
	else if (sa != NULL && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->peer_ip, sizeof(req->peer_ip));
	else
		str_copy(req->peer_ip, sizeof(req->peer_ip), "0.0.0.0");
	return 0;
}

/* X-Request-ID kept when well formed, made when absent. 1 when answered:
 * repeated or malformed (it still gets a fresh id to be echoed). */
static int
request_id_take(struct conn_ctx *c)
{
	struct http_request *req = &c->x.req;
	size_t n = 0;
	const char *rid = http_request_header(req, "X-Request-ID", &n);

	if (rid != NULL && n == 1 && str_is_ident(rid, strlen(rid), HTTP_REQUEST_ID_MAX)) {
		str_copy(req->request_id, sizeof(req->request_id), rid);
		return 0;
	}
	uuid_v4(req->request_id);
	if (rid == NULL)
		return 0;
	http_response_error(&c->x.resp, 400, "invalid_request", n > 1 ? "X-Request-ID is repeated" :
	    "X-Request-ID must be 1-128 characters of [A-Za-z0-9._:-]");
	return 1;
}

/* The header and target limits (limits.h), and a target without %00. 1
 * when answered: 431, 400 or 414. */
static int
request_within_limits(struct conn_ctx *c, const char *url, const char *method)
{
	size_t bytes = c->hdr_bytes + strlen(method) + strlen(url) + sizeof(" HTTP/1.1\r\n");

	if (c->nhdr > HTTP_MAX_HEADERS) {
		http_response_error(&c->x.resp, 431, "invalid_request", "too many header fields");
		return 1;
	}
	if (bytes > HTTP_MAX_HEADER_BYTES) {
		char why[80];

		snprintf(why, sizeof(why), "the request line and header fields are longer"
		    " than %d bytes", HTTP_MAX_HEADER_BYTES);
		http_response_error(&c->x.resp, 431, "invalid_request", why);
		return 1;
	}
	if (c->target_refused == TARGET_NUL) {
		http_response_error(&c->x.resp, 400, "invalid_request",
		    "the request target has a %00, which would end it early");
		return 1;
	}
	if (c->target_refused == TARGET_LONG || strlen(url) > HTTP_MAX_URI_LEN) {
		http_response_error(&c->x.resp, 414, "invalid_request", c->target_refused ?
		    "the request target is too long, or its query has too many fields" :
		    "the request target is too long");
		return 1;
	}
	return 0;
}

/* The tchars, the characters of a token (RFC 9110 §5.6.2): a table, as
 * every byte of every field name of every request is looked up. */
#define TCHAR_ALNUM(c)	(((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z') || \
			 ((c) >= '0' && (c) <= '9'))
#define TCHAR(c)	(TCHAR_ALNUM(c) || (c) == '!' || (c) == '#' || (c) == '$' || \
			 (c) == '%' || (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' || \
			 (c) == '-' || (c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || \
			 (c) == '|' || (c) == '~')
#define TCHAR_ROW(r)	TCHAR((r) + 0), TCHAR((r) + 1), TCHAR((r) + 2), TCHAR((r) + 3), \
			TCHAR((r) + 4), TCHAR((r) + 5), TCHAR((r) + 6), TCHAR((r) + 7)
static const unsigned char tchar[256] = {
	TCHAR_ROW(0), TCHAR_ROW(8), TCHAR_ROW(16), TCHAR_ROW(24), TCHAR_ROW(32), TCHAR_ROW(40),
	TCHAR_ROW(48), TCHAR_ROW(56), TCHAR_ROW(64), TCHAR_ROW(72), TCHAR_ROW(80), TCHAR_ROW(88),
	TCHAR_ROW(96), TCHAR_ROW(104), TCHAR_ROW(112), TCHAR_ROW(120),
};

/* The characters of a reg-name (RFC 3986 §3.2.2: unreserved, sub-delims
 * and the '%' of pct-encoded), and of an IP-literal's inside with ':'. */
#define HOSTCHAR(c)	(TCHAR_ALNUM(c) || (c) == '-' || (c) == '.' || (c) == '_' || \
			 (c) == '~' || (c) == '!' || (c) == '$' || (c) == '&' || (c) == '\'' || \
			 (c) == '(' || (c) == ')' || (c) == '*' || (c) == '+' || (c) == ',' || \
			 (c) == ';' || (c) == '=' || (c) == '%')
#define HOSTCHAR_ROW(r)	HOSTCHAR((r) + 0), HOSTCHAR((r) + 1), HOSTCHAR((r) + 2), \
			HOSTCHAR((r) + 3), HOSTCHAR((r) + 4), HOSTCHAR((r) + 5), \
			HOSTCHAR((r) + 6), HOSTCHAR((r) + 7)
static const unsigned char hostchar[256] = {
	HOSTCHAR_ROW(0), HOSTCHAR_ROW(8), HOSTCHAR_ROW(16), HOSTCHAR_ROW(24), HOSTCHAR_ROW(32),
	HOSTCHAR_ROW(40), HOSTCHAR_ROW(48), HOSTCHAR_ROW(56), HOSTCHAR_ROW(64), HOSTCHAR_ROW(72),
	HOSTCHAR_ROW(80), HOSTCHAR_ROW(88), HOSTCHAR_ROW(96), HOSTCHAR_ROW(104), HOSTCHAR_ROW(112),
	HOSTCHAR_ROW(120),
};

/* 1 when h is a Host value: uri-host [ ":" port ] (RFC 9112 §3.2, RFC
 * 3986 §3.2.2-3), or empty (a target without an authority). No route
 * reads it, but §3.2 makes an invalid one a MUST-400, and a proxy or log
 * behind us may read it: a Host of "a b", "a/b" or "a@b" is refused. */
static int
host_valid(const char *h)
{
	const unsigned char *p = (const unsigned char *)h;

	if (*p == '[') {	/* IP-literal: hex, '.', ':', or IPvFuture */
		for (p++; *p != ']'; p++)
			if (*p != ':' && !hostchar[*p])
				return 0;
		p++;
	} else
		while (hostchar[*p])
			p++;
	if (*p == ':')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	return *p == '\0';
}

/*
 * 1 when a field name is one libmicrohttpd 0.9.75 may have misread. It
 * keeps "Content-Length : 5" as a field named "Content-Length " and
 * appends a folded line to the name ("Content-Length:\r\n 5" becomes
 * "Content-Length5" with an empty value), so it frames such a body as
 * having none while a proxy that trims or unfolds reads a length: the
 * body would be taken as a second, smuggled request. RFC 9112 §5.1: a
 * server MUST answer 400 to whitespace before the colon; §5.2 lets it
 * refuse obs-fold. A name that is not a token, or a framing field's name
 * with more after it, is either.
 */
static int
field_name_misread(const struct http_field *f)
{
	static const char *const framing[] = { "Content-Length", "Transfer-Encoding" };

	for (size_t i = 0; i < f->name_len; i++)
		if (!tchar[(unsigned char)f->name[i]])
			return 1;
	for (size_t i = 0; i < GH_ARRAY_LEN(framing); i++) {
		size_t n = strlen(framing[i]);
		if (f->name_len > n && strncasecmp(f->name, framing[i], n) == 0)
			return 1;
	}
	return 0;
}

/* How the message is framed, and its Host; its Content-Length into *clp.
 * 1 when answered (400). */
static int
request_framed(struct conn_ctx *c, const char *version, const char **clp)
{
	struct http_request *req = &c->x.req;
	size_t ncl = 0, nte = 0, nhost = 0;
	const char *host, *cl = *clp = http_request_header(req, "Content-Length", &ncl);
	const char *te = http_request_header(req, "Transfer-Encoding", &nte);

	for (size_t i = 0; i < req->nfields; i++)
		if (field_name_misread(&req->fields[i])) {
			c->unframed = 1;
			http_response_error(&c->x.resp, 400, "invalid_request", "a header field"
			    " name is not a token: whitespace before its colon, or a folded line");
			return 1;
		}
	/* RFC 9110 §5.5: a CR in a field value MUST be refused or replaced;
	 * libmicrohttpd keeps a bare one, which another parser may take for
	 * the end of the line. */
	for (size_t i = 0; i < req->nfields; i++)
		if (strchr(req->fields[i].value, '\r') != NULL) {
			c->unframed = 1;
			http_response_error(&c->x.resp, 400, "invalid_request",
			    "a header field value holds a CR");
			return 1;
		}
	/* RFC 9112 §6.3: Content-Length with Transfer-Encoding, a coding other
	 * than chunked, or two Content-Lengths leave the body's end unknown.
	 * libmicrohttpd would read the first length and take what follows as
	 * the next request (a smuggled one), so the answer closes the
	 * connection. */
	if (ncl > 1 || nte > 1 || (cl != NULL && te != NULL) ||
	    (te != NULL && strcasecmp(te, "chunked") != 0)) {
		c->unframed = 1;
		http_response_error(&c->x.resp, 400, "invalid_request", ncl > 1 ?
		    "Content-Length is repeated" : nte > 1 ? "Transfer-Encoding is repeated" :
		    "Content-Length with Transfer-Encoding, or a Transfer-Encoding other than chunked");
		return 1;
	}
	/* RFC 9112 §6.1: HTTP/1.0 has no transfer codings, so its framing
	 * is faulty (an HTTP/1.0 proxy would not have read it as chunked);
	 * libmicrohttpd read the body as chunked all the same. */
	if (te != NULL && strcmp(version, "HTTP/1.0") == 0) {
		c->unframed = 1;
		http_response_error(&c->x.resp, 400, "invalid_request",
		    "an HTTP/1.0 request has no Transfer-Encoding");
		return 1;
	}
	/* RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host, and a
	 * valid one. */
	host = http_request_header(req, "Host", &nhost);
	if (nhost > 1 || (nhost == 0 && strcmp(version, "HTTP/1.1") == 0)) {
		http_response_error(&c->x.resp, 400, "invalid_request", nhost > 1 ? "Host is repeated" :
		    "an HTTP/1.1 request must have a Host header field");
		return 1;
	}
	if (host != NULL && !host_valid(host)) {
		http_response_error(&c->x.resp, 400, "invalid_request",
		    "Host is not a host with an optional port (RFC 9112 section 3.2)");
		return 1;
	}
	return 0;
}

/* The route, and the body limit it sets. 1 when answered: 404 or 405, a
 * Content-Length that is not a number (400) or over the limit (413). */
static int
request_routed(struct conn_ctx *c, const char *url, const char *cl)
{
	struct http_request *req = &c->x.req;
	char desc[320];
	int known;

	/* RFC 9110 §9.3.7: OPTIONS with the asterisk-form (RFC 9112 §3.2.4)
	 * asks about the server, not a resource: 200, no content, and Allow
	 * naming the methods it serves. OPTIONS on a path stays 405 (with
	 * its Allow): a 2xx from /gate lets a call through, and a proxy that
	 * hands the gate the original call's method must never get one for
	 * an OPTIONS nobody authenticated. */
	if (req->method == HTTP_OPTIONS && strcmp(url, "*") == 0) {
		http_response_text(&c->x.resp, 200, "text/plain", "", 0);
		allow_header(c->srv, NULL, &c->x.resp);
		return 1;
	}
	if ((c->route = match(c->srv, req->method, url, &known)) == NULL) {
		if (known) {
			http_response_error(&c->x.resp, 405, "invalid_request", "method not allowed on this path");
			allow_header(c->srv, url, &c->x.resp);
		} else {
			json_t *p = json_stringn(url, strlen(url) > 200 ? 200 : strlen(url));
			snprintf(desc, sizeof(desc), "no route for %s", json_string_value(p) ? json_string_value(p) : "?");
			json_decref(p);
			http_response_error(&c->x.resp, 404, "not_found", desc);
		}
		return 1;
	}
	c->x.route_ctx = c->route->ctx;
	c->max_body = c->route->max_body ? c->route->max_body : HTTP_MAX_BODY_DEFAULT;
	if (cl != NULL) {
		int64_t v;
		const char *why;
		if (num_parse_i64(cl, strlen(cl), 0, INT64_MAX, &v, &why) == -1) {
			c->unframed = 1;
			http_response_error(&c->x.resp, 400, "invalid_request", "Content-Length is not a number");
			return 1;
		}
		if ((uint64_t)v > c->max_body) {
			snprintf(desc, sizeof(desc), "the body is larger than %zu bytes", c->max_body);
			http_response_error(&c->x.resp, 413, "invalid_request", desc);
			return 1;
		}
	}
	return 0;
}

/* The path of a target in absolute-form ("http://host:port/path"), which
 * RFC 9112 §3.2.2 says a server MUST accept (its authority stands for
 * Host, which no route reads); any other target as it is. */
static const char *
origin_path(const char *url)
{
	const char *p;

	if (url[0] == '/')
		return url;	/* origin-form: nearly every request */
	if (strncasecmp(url, "http://", 7) == 0)
		p = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		p = url + 8;
	else
		return url;
	p = strchr(p, '/');
	return p != NULL ? p : "/";
}

/* First call of a request: everything that can be refused before a body
 * is read, in this order. Returns 1 when an answer was prepared (to be
 * queued now). */
int
http_admit(struct conn_ctx *c, const char *url, const char *method, const char *version)
{
	const char *cl = NULL;

	url = origin_path(url);
	if (request_read(c, url, method) || request_id_take(c) ||
	    request_within_limits(c, url, method) || request_framed(c, version, &cl))
		return 1;
	return request_routed(c, url, cl);
}
