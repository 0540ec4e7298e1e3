/*
 * peers.h — private to src/http: how many connections each client address
 * holds, so that one address cannot hold every connection the server takes.
 *
 * Why: the server takes HTTP_MAX_CONNECTIONS connections in all. Without a
 * share per address, one host opening that many (idle, or each sending a
 * request slowly within the request timeout) shut every other client out
 * until it let go. nginx's limit_conn and Apache's mod_reqtimeout/mod_qos
 * bound the same thing. An IPv6 address counts as its /64, as lockouts
 * count it (cidr_lock_key): a host may take any address of its /64.
 * Addresses of the trusted proxies are not counted: a proxy carries many
 * clients' requests and needs as many connections as they do.
 *
 * Thread-safe: each daemon's loop opens and closes its connections here.
 */
#ifndef GH_HTTP_PEERS_H
#define GH_HTTP_PEERS_H

#include <sys/socket.h>

struct cidr_list;
struct http_peers;

/* A table allowing each address max_each connections at once, those of
 * unlimited (may be NULL; must outlive the table) any number. NULL when
 * max_each is 0 (no limit) or out of memory; every function takes NULL
 * as "no limit". */
struct http_peers	*peers_new(unsigned max_each, const struct cidr_list *unlimited);
void			 peers_free(struct http_peers *);

/* Counts a new connection from addr: 0, or -1 when addr already holds its
 * share (the connection is then not counted, and must be ended). A
 * non-IP address (a UNIX socket) is never refused. */
int			 peers_open(struct http_peers *, const struct sockaddr *addr);

/* Counts out a connection that peers_open() counted. */
void			 peers_close(struct http_peers *, const struct sockaddr *addr);

#endif
