/*
 * cachectl.h — how long a JWKS answer may be used, from its Cache-Control
 * and Age fields (RFC 9111), for libgatehouse-verify's key set.
 *
 * The verifier is a private cache of one response, so only max-age,
 * no-cache and no-store matter; s-maxage, public, private and the rest are
 * ignored. Parsing is strict: a field that is not a list of
 * token [ "=" ( token / quoted-string ) ] (RFC 9111 §5.2, RFC 9110 §5.6)
 * counts as invalid freshness information, which RFC 9111 §4.2.1
 * encourages treating as stale.
 *
 * Not part of the library's API (hidden, like every symbol but verify.h's).
 */
#ifndef GH_VERIFY_CACHECTL_H
#define GH_VERIFY_CACHECTL_H

#include <stddef.h>
#include <stdint.h>

/* RFC 9111 §1.2.2: a delta-seconds beyond what fits is taken as 2^31. */
#define CACHECTL_DELTA_MAX	2147483648LL

/* What the Cache-Control field lines seen so far say; zero it first. */
struct cachectl {
	int	 stale;		/* no-store, no-cache or conflicting max-ages */
	int	 invalid;	/* a malformed field or max-age argument */
	int	 has_max_age;
	int64_t	 max_age;
};

/* Adds one Cache-Control field line, value[0..len). Several lines are one
 * list (RFC 9110 §5.3); two different max-age values make it stale
 * (RFC 9111 §4.2.1). */
void	cachectl_add(struct cachectl *, const char *value, size_t len);

/* The freshness lifetime in seconds: 0 when stale at once (stale or
 * invalid), -1 when the
 * fields gave no max-age (the caller picks a heuristic lifetime). */
int64_t	cachectl_lifetime(const struct cachectl *);

/* An Age field value (RFC 9111 §5.1): delta-seconds, or -1 when invalid
 * (which the caller ignores). */
int64_t	cachectl_age(const char *value, size_t len);

#endif
