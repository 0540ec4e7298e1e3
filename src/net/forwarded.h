/*
 * forwarded.h — the caller's address as a trusted proxy reports it in
 * X-Forwarded-For: a comma-separated list of addresses (RFC 9110 §5.6.1
 * list syntax), each proxy appending the address it was called from.
 *
 * The caller is the rightmost element that is not one of our trusted
 * proxies: everything to its right was added by our own proxies, and
 * everything to its left the caller may have written itself. Each element
 * is read strictly: an address in either family, an IPv4 address with a
 * port (1.2.3.4:5555) and an IPv6 address in brackets with or without one
 * ([2001:db8::1]:443), as some proxies write them. Anything else (a name,
 * "unknown", a zone id, garbage) leaves the caller unknown: the answer is
 * then -1, never the proxy's own address, which would put every caller
 * behind the proxy inside the proxy's allowlists and lockouts.
 */
#ifndef GH_NET_FORWARDED_H
#define GH_NET_FORWARDED_H

#include <stddef.h>

#include "net/cidr.h"

#define FORWARDED_ADDR_MAX	46	/* INET6_ADDRSTRLEN: the longest text out */

/* Reads one element s[0..n) (spaces and tabs around it ignored) into out,
 * in its canonical text: IPv4 dotted, IPv4-mapped IPv6 as IPv4, IPv6 as
 * inet_ntop writes it. 0, or -1 when it is not an address. */
int	forwarded_element(const char *s, size_t n, char out[FORWARDED_ADDR_MAX]);

/* The caller in the X-Forwarded-For field lines lines[0..n), read as one
 * list (RFC 9110 §5.3: a proxy may add a line rather than append to one),
 * into out (see above): 0, or -1 when the element that names it is not an
 * address, or the list names none (empty elements are skipped, as §5.6.1
 * asks). */
int	forwarded_client(const struct cidr_list *trusted, const char *const *lines, size_t n,
	    char out[FORWARDED_ADDR_MAX]);

#endif
