/* forwarded.c — see forwarded.h. */
#include <arpa/inet.h>
#include <string.h>

#include "net/forwarded.h"

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* The address text[0..n) (no brackets, no port) of family af (0: either)
 * into out, canonical. 0, or -1. */
static int
canonical(const char *text, size_t n, int af, char out[FORWARDED_ADDR_MAX])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	char buf[FORWARDED_ADDR_MAX];
	unsigned char a[16];

	/* inet_pton would stop at a NUL and take what came before it. */
	if (n == 0 || n >= sizeof(buf) || memchr(text, '\0', n) != NULL)
		return -1;
	memcpy(buf, text, n);
	buf[n] = '\0';
	if (af != AF_INET6 && inet_pton(AF_INET, buf, a) == 1)
		return inet_ntop(AF_INET, a, out, FORWARDED_ADDR_MAX) != NULL ? 0 : -1;
	if (af == AF_INET || inet_pton(AF_INET6, buf, a) != 1)
		return -1;
	/* ::ffff:a.b.c.d is the IPv4 host a.b.c.d (RFC 4291 §2.5.5.2). */
	if (memcmp(a, mapped, sizeof(mapped)) == 0)
		return inet_ntop(AF_INET, a + 12, out, FORWARDED_ADDR_MAX) != NULL ? 0 : -1;
	return inet_ntop(AF_INET6, a, out, FORWARDED_ADDR_MAX) != NULL ? 0 : -1;
}

/* 1 when s[0..n) is a port: one to five digits. */
static int
is_port(const char *s, size_t n)
{
	if (n == 0 || n > 5)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

int
forwarded_element(const char *s, size_t n, char out[FORWARDED_ADDR_MAX])
{
	const char *colon, *close;

	while (n > 0 && is_ows(*s))
		s++, n--;
	while (n > 0 && is_ows(s[n - 1]))
		n--;
	if (n > 0 && s[0] == '[') {
		/* [IPv6] or [IPv6]:port (RFC 3986 §3.2.2's IP-literal). */
		if ((close = memchr(s, ']', n)) == NULL)
			return -1;
		if ((size_t)(close - s) + 1 < n &&
		    (close[1] != ':' || !is_port(close + 2, n - (size_t)(close - s) - 2)))
			return -1;
		return canonical(s + 1, (size_t)(close - s) - 1, AF_INET6, out);
	}
	/* One colon: IPv4:port. Two or more: an IPv6 address, never with a
	 * port outside brackets, where its last group could not be told from
	 * one. */
	colon = memchr(s, ':', n);
	if (colon != NULL && memchr(colon + 1, ':', n - (size_t)(colon - s) - 1) == NULL) {
		if (!is_port(colon + 1, n - (size_t)(colon - s) - 1))
			return -1;
		return canonical(s, (size_t)(colon - s), AF_INET, out);
	}
	return canonical(s, n, 0, out);
}

/* One element of the list, s[0..n), read from the right: -1 unreadable, 0
 * the caller (in out), 1 one of ours (in out; read on). Empty: 2. */
static int
element_step(const struct cidr_list *trusted, const char *s, size_t n,
    char out[FORWARDED_ADDR_MAX])
{
	size_t k = 0;

	while (k < n && is_ows(s[k]))
		k++;
	if (k == n)
		return 2;
	if (forwarded_element(s, n, out) == -1)
		return -1;
	return cidr_match(trusted, out) ? 1 : 0;
}

int
forwarded_client(const struct cidr_list *trusted, const char *const *lines, size_t n,
    char out[FORWARDED_ADDR_MAX])
{
	int have = 0;

	/* From the right: the last line's last element first; empty ones
	 * are skipped. */
	while (n-- > 0) {
		const char *list = lines[n];
		size_t len = strlen(list);

		for (;;) {
			size_t start = len;
			int rc;

			while (start > 0 && list[start - 1] != ',')
				start--;
			if ((rc = element_step(trusted, list + start, len - start, out)) <= 0)
				return rc;
			have |= rc == 1;
			if (start == 0)
				break;
			len = start - 1;
		}
	}
	/* Every element one of our proxies: the leftmost made the request. */
	return have ? 0 : -1;
}
