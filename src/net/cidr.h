/*
 * cidr.h — address allowlists: IPv4 and IPv6 CIDR blocks, parsed once and
 * matched against textual peer addresses. IPv4-mapped IPv6 addresses
 * (::ffff:a.b.c.d) match IPv4 blocks.
 */
#ifndef GH_CIDR_H
#define GH_CIDR_H

#include <stddef.h>
#include <stdint.h>

#define CIDR_MAX_BLOCKS 64

struct cidr {
	int	family;		/* 4 or 6 */
	uint8_t	addr[16];
	int	bits;
};

struct cidr_list {
	struct cidr	blocks[CIDR_MAX_BLOCKS];
	size_t		n;
};

/* Parses CIDRs separated by spaces or commas ("10.0.0.0/8 ::1", a bare
 * address is a /32 or /128). Returns 0, or -1 with *err a static reason and
 * *bad pointing at the offending item in s. Host bits must be zero. */
int	cidr_parse_list(const char *s, struct cidr_list *out, const char **err,
	    const char **bad);
/* 1 when the textual address ip is inside a block of l. */
int	cidr_match(const struct cidr_list *l, const char *ip);
/* Canonical text of the list ("10.0.0.0/8 ::1/128"), into out. */
void	cidr_format_list(const struct cidr_list *l, char *out, size_t len);

/*
 * The address that lockouts count failures and lock under, into out (at
 * least CIDR_LOCK_KEY_LEN bytes): an IPv4 address (also written
 * IPv4-mapped, ::ffff:a.b.c.d) as itself, an IPv6 address as its /64
 * ("2001:db8:1:2::/64"). A host is handed a whole /64 and may take any
 * address in it (RFC 4941 temporary addresses, or at will), so counting
 * single IPv6 addresses would let it guess without end. ip may also be a
 * key already (an IPv6 /64), as `lock list` shows them. Returns 0, or -1
 * when ip is neither (out is then "").
 */
#define CIDR_LOCK_KEY_LEN	48
int	cidr_lock_key(const char *ip, char *out, size_t outlen);

#endif
