/*
 * claims.h — the checks an access token's header and claims must pass once
 * its signature is verified (RFC 9068 §4, RFC 8725 §3.8-3.10): typ, exp and
 * nbf with leeway, iss, aud, tenant, and the claims gatehouse's tokens
 * always carry. Pure: no store, no clock, no globals, so the gate and the
 * in-process verification library (lib/verify) apply the same rules.
 */
#ifndef GH_GATE_CLAIMS_H
#define GH_GATE_CLAIMS_H

#include <stddef.h>
#include <stdint.h>

#include "util/json_view.h"

/* Role bits, equal to the store's STORE_ROLE_* (the library has no store). */
#define CLAIMS_ROLE_VIEWER	0x1u
#define CLAIMS_ROLE_OPERATOR	0x2u
#define CLAIMS_ROLE_ADMIN	0x4u

enum claims_err {
	CLAIMS_OK,
	CLAIMS_TYP,		/* header typ is not at+jwt */
	CLAIMS_MALFORMED,	/* a required claim is missing or mistyped */
	CLAIMS_EXPIRED,
	CLAIMS_NOT_YET_VALID,
	CLAIMS_ISSUER,
	CLAIMS_AUDIENCE,
	CLAIMS_TENANT,
	CLAIMS_ERR__MAX
};
/* Short static reason codes: "typ", "claims", "expired", ... */
extern const char *const claims_err_codes[CLAIMS_ERR__MAX];

struct claims_rules {
	const char	*issuer;	/* iss must equal it */
	const char	*audience;	/* aud must name it; NULL: not checked */
	const char	*tenant;	/* tenant_id must equal it; NULL: not checked */
	int64_t		 now;
	int64_t		 leeway;	/* seconds of skew allowed on exp and nbf */
	int		 skip_time;	/* exp and nbf not checked (revocation) */
};

/* What the checks found; strings point into the claims view (borrowed). */
struct claims {
	const char	*client_id;
	const char	*tenant_id;
	const char	*jti;
	const char	*sub;
	const char	*scope;		/* "" when absent */
	const char	*env;		/* NULL when absent */
	unsigned	 roles;		/* CLAIMS_ROLE_* */
	int64_t		 exp, nbf, iat;	/* nbf, iat 0 when absent */
	const struct json_view_member *aud;	/* string or array of strings; NULL */
};

/* Checks header and payload against rules. Returns CLAIMS_OK, or the first
 * failure with a secret-free sentence in desc. */
enum claims_err claims_check(const struct json_view *header,
	    const struct json_view *payload, const struct claims_rules *rules,
	    struct claims *out, char *desc, size_t desclen);
/* 1 when aud (a string or an array of strings) names want. */
int	claims_aud_has(const struct json_view_member *aud, const char *want);
/* 1 when the space-separated scope string holds scope s[0..n). */
int	claims_scope_has(const char *scope, const char *s, size_t n);

#endif
