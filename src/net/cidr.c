/* cidr.c — see cidr.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "net/cidr.h"
#include "util/util.h"

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) is read
 * as its IPv4 address; *mapped (if set) says it was written so. */
static int
parse_addr(const char *s, struct cidr *c, int *mapped)
{
	if (mapped != NULL)
		*mapped = 0;
	if (inet_pton(AF_INET, s, c->addr) == 1) {
		c->family = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, c->addr) == 1) {
		static const uint8_t prefix[12] = { 0,0,0,0,0,0,0,0,0,0,0xff,0xff };
		if (memcmp(c->addr, prefix, 12) == 0) {
			memmove(c->addr, c->addr + 12, 4);
			c->family = 4;
			if (mapped != NULL)
				*mapped = 1;
		} else
			c->family = 6;
		return 0;
	}
	return -1;
}

static int
parse_one(const char *item, size_t len, struct cidr *c, const char **err)
{
	char buf[64];
	char *slash;
	int64_t bits;
	const char *why;
	int mapped;

	if (len >= sizeof(buf)) {
		*err = "address block is too long";
		return -1;
	}
	memcpy(buf, item, len);
	buf[len] = '\0';
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(c, 0, sizeof(*c));
	if (parse_addr(buf, c, &mapped) == -1) {
		*err = "is not an IPv4 or IPv6 address";
		return -1;
	}
	c->bits = c->family == 4 ? 32 : 128;
	if (slash != NULL) {
		/* A mapped address's prefix counts its 96 IPv6 bits too. */
		if (num_parse_i64(slash + 1, strlen(slash + 1), mapped ? 96 : 0,
		    mapped ? 128 : c->bits, &bits, &why) == -1) {
			*err = mapped ? "has a prefix length out of range (96-128 for an "
			    "IPv4-mapped address)" : "has a prefix length out of range";
			return -1;
		}
		c->bits = (int)bits - (mapped ? 96 : 0);
	}
	for (int i = c->bits; i < (c->family == 4 ? 32 : 128); i++)
		if (c->addr[i / 8] & (0x80 >> (i % 8))) {
			*err = "has host bits set after the prefix";
			return -1;
		}
	return 0;
}

int
cidr_parse_list(const char *s, struct cidr_list *out, const char **err,
    const char **bad)
{
	const char *p = s;

	out->n = 0;
	while (*p != '\0') {
		size_t len;
		while (*p == ' ' || *p == ',' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		len = strcspn(p, " ,\t");
		if (out->n == CIDR_MAX_BLOCKS) {
			*err = "too many address blocks";
			*bad = p;
			return -1;
		}
		if (parse_one(p, len, &out->blocks[out->n], err) == -1) {
			*bad = p;
			return -1;
		}
		out->n++;
		p += len;
	}
	return 0;
}

int
cidr_match(const struct cidr_list *l, const char *ip)
{
	struct cidr a;

	if (l->n == 0 || parse_addr(ip, &a, NULL) == -1)
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct cidr *b = &l->blocks[i];
		int full = b->bits / 8, rest = b->bits % 8;
		if (b->family != a.family)
			continue;
		if (memcmp(a.addr, b->addr, (size_t)full) != 0)
			continue;
		if (rest != 0 && ((a.addr[full] ^ b->addr[full]) & (uint8_t)(0xff << (8 - rest))))
			continue;
		return 1;
	}
	return 0;
}

void
cidr_format_list(const struct cidr_list *l, char *out, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return;
	out[0] = '\0';
	for (size_t i = 0; i < l->n && used < len; i++) {
		char a[INET6_ADDRSTRLEN];
		inet_ntop(l->blocks[i].family == 4 ? AF_INET : AF_INET6,
		    l->blocks[i].addr, a, sizeof(a));
		used += (size_t)snprintf(out + used, len - used, "%s%s/%d",
		    i ? " " : "", a, l->blocks[i].bits);
	}
}

int
cidr_lock_key(const char *ip, char *out, size_t outlen)
{
	char buf[INET6_ADDRSTRLEN + 4];
	const char *slash = strchr(ip, '/');
	struct cidr c;
	size_t n = slash != NULL ? (size_t)(slash - ip) : strlen(ip);
	int mapped;

	if (outlen > 0)
		out[0] = '\0';
	if (outlen < CIDR_LOCK_KEY_LEN || n >= sizeof(buf))
		return -1;
	memcpy(buf, ip, n);
	buf[n] = '\0';
	if (parse_addr(buf, &c, &mapped) == -1)
		return -1;
	if (slash != NULL && (c.family != 6 || strcmp(slash, "/64") != 0))
		return -1;	/* a key is an IPv6 /64, nothing else */
	/* Dotted quads that inet_pton takes (no leading zeros, each <= 255)
	 * are already canonical: the common case costs a copy. */
	if (c.family == 4 && !mapped) {
		memcpy(out, buf, n + 1);
		return 0;
	}
	if (c.family == 4)
		return inet_ntop(AF_INET, c.addr, out, (socklen_t)outlen) != NULL ? 0 : -1;
	memset(c.addr + 8, 0, 8);
	if (inet_ntop(AF_INET6, c.addr, buf, sizeof(buf)) == NULL)
		return -1;
	snprintf(out, outlen, "%s/64", buf);
	return 0;
}
