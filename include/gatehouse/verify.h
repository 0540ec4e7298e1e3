/*
 * gatehouse/verify.h — in-process verification of gatehouse access tokens,
 * for C services that take bearer tokens without an nginx gate in front.
 *
 * A verifier validates a token with the same rules as gatehouse's gate:
 * the signature against the key its kid names in the issuer's JWKS, with
 * the algorithm fixed by that key (never by the token; "none" and HMAC are
 * refused; RFC 8725 §3.1); typ at+jwt (RFC 9068); exp and nbf with a small
 * leeway; iss; aud; the tenant when the caller names one (X-TENANT-ID); the
 * env claim against the key's environment. jku, x5u and jwk headers are
 * ignored, never fetched; crit is refused.
 *
 * The audience is required (RFC 9068 §4: the resource server MUST check
 * that aud names it): gh_verifier_new refuses options without one, so a
 * verifier cannot be set up by accident to accept tokens that the same
 * issuer minted for another API. A deployment whose tokens truly name no
 * audience of its own says so with audience = GH_VERIFY_ANY_AUDIENCE.
 *
 * The environment is required too: sandbox and production tokens share the
 * issuer, the default audience and (at the plain JWKS URL) one key set, so
 * only the env claim, bound to its key's env, tells them apart. A verifier
 * left to take either took any sandbox client's token in production;
 * required_env = "any" now says so, and NULL is refused.
 *
 * Keys are fetched from the JWKS URL with libcurl (HTTPS, certificate and
 * host verified) and cached as one key set, which expires:
 *
 *  - Its age limit is the JWKS answer's Cache-Control max-age (RFC 9111
 *    §5.2.2.1) less its Age, kept within [min_refresh_interval, 3600]
 *    seconds; 300 s when the answer gives no max-age. no-store, no-cache,
 *    max-age=0, conflicting max-ages and a malformed Cache-Control field
 *    (invalid freshness information, RFC 9111 §4.2.1) all mean the lower
 *    bound: fetch again once min_refresh_interval has passed. gatehouse
 *    itself sends max-age = min(key_publish_lead, 300).
 *  - A verification that finds the set past its age limit fetches it again
 *    first. One thread fetches; the others go on verifying with the current
 *    set meanwhile rather than wait for the issuer.
 *  - The new set replaces the old one whole: a key the issuer withdrew
 *    (`gatehouse keys revoke`) is gone, and its tokens get
 *    GH_VERIFY_UNKNOWN_KEY.
 *  - A fetch that fails (unreachable, not 200, not a JWKS) keeps the old
 *    set, so a brief outage of the issuer does not stop verification; it is
 *    tried again no sooner than min_refresh_interval later.
 *  - A set whose fetches keep failing is used for max_stale seconds past
 *    its age limit (default 3600) and no longer: from then on every
 *    verification fails closed with GH_VERIFY_JWKS_UNAVAILABLE until a
 *    fetch succeeds. An issuer cut off from its verifiers (or a JWKS
 *    answer blocked on the way) cannot keep a withdrawn key in use for
 *    good.
 *
 * So a withdrawn key stops verifying within the age limit of the last
 * answer that named it (at most 3600 s; at most 300 s with gatehouse as
 * the issuer), plus the one fetch (at most timeout_ms) during which other
 * threads finish with the old set. While the issuer cannot be reached the
 * old set, withdrawn key included, lives on, retried every
 * min_refresh_interval seconds, for max_stale seconds more at most.
 *
 * The set is also fetched again when a token names an unknown kid (key
 * rotation publishes keys ahead), at most once per min_refresh_interval
 * seconds, so tokens with made-up kids cannot make the verifier hammer the
 * issuer.
 *
 * Revocation is not visible to in-process verification: tokens are short
 * lived; a service that must see a revocation at once asks the gate or
 * introspection (RFC 7662) instead.
 *
 * Thread safety: one verifier may be used by any number of threads.
 * gh_verifier_new calls curl_global_init once; call it before starting
 * threads if the program uses libcurl elsewhere too.
 *
 * Link with `pkg-config --cflags --libs gatehouse-verify`.
 */
#ifndef GATEHOUSE_VERIFY_H
#define GATEHOUSE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GH_VERIFY_API __attribute__((visibility("default")))
#else
#define GH_VERIFY_API
#endif

#define GH_VERIFY_VERSION "0.2.0"

enum gh_verify_result {
	GH_VERIFY_OK = 0,
	GH_VERIFY_MALFORMED,		/* not a compact JWS, bad base64url or JSON */
	GH_VERIFY_BAD_SIGNATURE,	/* signature, algorithm or crit refused */
	GH_VERIFY_UNKNOWN_KEY,		/* kid not in the JWKS, even after a refresh */
	GH_VERIFY_TYP,			/* typ is not at+jwt */
	GH_VERIFY_CLAIMS,		/* a required claim is missing or mistyped */
	GH_VERIFY_EXPIRED,
	GH_VERIFY_NOT_YET_VALID,
	GH_VERIFY_ISSUER,
	GH_VERIFY_AUDIENCE,
	GH_VERIFY_TENANT,		/* the token belongs to another tenant */
	GH_VERIFY_ENVIRONMENT,		/* env claim does not match the key, or required_env */
	GH_VERIFY_JWKS_UNAVAILABLE,	/* the JWKS could not be fetched or read */
	GH_VERIFY_INVALID_ARGUMENT,
	GH_VERIFY_NO_MEMORY,
	GH_VERIFY__MAX
};

struct gh_verify_options {
	const char	*jwks_url;	/* required: https://HOST/.well-known/jwks.json */
	const char	*issuer;	/* required: the iss tokens must carry */
	const char	*audience;	/* required: the aud tokens must name (this
					 * API's identifier, e.g. what clients
					 * ask for with audience=); or
					 * GH_VERIFY_ANY_AUDIENCE */
	const char	*required_env;	/* required: "production" or "sandbox";
					 * "any": either, deliberately */
	long		 leeway;	/* seconds of clock skew; < 0: default 30;
					 * more than 600: refused */
	long		 min_refresh_interval; /* seconds between JWKS fetches on an
					 * unknown kid or after a failed fetch;
					 * <= 0: default 30; more than 3600:
					 * refused */
	long		 timeout_ms;	/* JWKS fetch timeout; <= 0: default 5000 */
	const char	*ca_file;	/* PEM CA bundle; NULL: the system's */
	int		 allow_http;	/* 1: also accept an http:// URL (tests on
					 * loopback); 0: HTTPS only */
	/* Fields after this point were added after 0.2.0 (sized options). */
	long		 max_stale;	/* seconds a key set is still used past
					 * its age limit while fetching it again
					 * fails; then GH_VERIFY_JWKS_UNAVAILABLE;
					 * <= 0: default 3600; more than 86400:
					 * refused */
};

#define GH_VERIFY_ROLE_VIEWER	0x1u
#define GH_VERIFY_ROLE_OPERATOR	0x2u
#define GH_VERIFY_ROLE_ADMIN	0x4u

/* What a valid token says about its caller. Strings are the verifier's
 * copies; free them with gh_verify_claims_clear. */
struct gh_verify_claims {
	char		*client_id;
	char		*tenant_id;
	char		*sub;
	char		*jti;
	char		*scope;		/* space separated; "" when none */
	char		*env;		/* "production" or "sandbox" */
	unsigned	 roles;		/* GH_VERIFY_ROLE_* */
	int64_t		 exp, nbf, iat;
	char		*payload_json;	/* every claim, as compact JSON text */
};

typedef struct gh_verifier gh_verifier;

/*
 * The deliberate opt-out of the aud check: audience = GH_VERIFY_ANY_AUDIENCE
 * accepts a token whatever its aud names, including a token minted for
 * another API of the same issuer. Recognised by its address only: a copy
 * of it (or "") is no audience and is refused. Before 0.2.0 a NULL audience
 * meant this; it is now refused with GH_VERIFY_INVALID_ARGUMENT.
 */
GH_VERIFY_API extern const char gh_verify_any_audience[];
#define GH_VERIFY_ANY_AUDIENCE	gh_verify_any_audience

/*
 * A new verifier. No network until the first verification (or
 * gh_verifier_refresh). Returns GH_VERIFY_OK, or an error with a reason
 * in err (when not NULL).
 *
 * gh_verifier_new is a macro that passes sizeof(*opts) to
 * gh_verifier_new_sized, which reads options_size bytes: fewer than the
 * 0.2.0 struct is GH_VERIFY_INVALID_ARGUMENT; fields past the end take
 * their defaults; bytes beyond the struct this library knows must be zero.
 * The function gh_verifier_new itself (a binary built against 0.2.0, or
 * called as (gh_verifier_new)(...)) reads the 0.2.0 struct.
 */
GH_VERIFY_API int gh_verifier_new_sized(const struct gh_verify_options *opts,
	    size_t options_size, gh_verifier **out, char *err, size_t errlen);
GH_VERIFY_API int (gh_verifier_new)(const struct gh_verify_options *opts,
	    gh_verifier **out, char *err, size_t errlen);
#define gh_verifier_new(opts, out, err, errlen) \
	gh_verifier_new_sized((opts), sizeof(*(opts)), (out), (err), (errlen))
GH_VERIFY_API void gh_verifier_free(gh_verifier *);	/* NULL is a no-op */

/* Fetches the JWKS now (e.g. at start-up), regardless of the rate limit. */
GH_VERIFY_API int gh_verifier_refresh(gh_verifier *);

/*
 * Verifies token[0..len) (without "Bearer "). tenant is the X-TENANT-ID the
 * call named (NULL: not checked). On GH_VERIFY_OK, out (when not NULL) is
 * filled; on any error it is left zeroed.
 */
GH_VERIFY_API int gh_verify_token(gh_verifier *, const char *token, size_t len,
	    const char *tenant, struct gh_verify_claims *out);

/* 1 when the space-separated scope holds s. */
GH_VERIFY_API int gh_verify_has_scope(const struct gh_verify_claims *,
	    const char *s);
GH_VERIFY_API void gh_verify_claims_clear(struct gh_verify_claims *);

/* A static English description of a result. */
GH_VERIFY_API const char *gh_verify_strerror(int result);

#ifdef __cplusplus
}
#endif

#endif
