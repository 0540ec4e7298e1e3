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

#endif
