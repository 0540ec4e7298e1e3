/*
 * bearer.h — validation of a bearer token presented at the gate, to
 * introspection or to revocation: who it belongs to, or why it is refused.
 *
 * A JWT must pass jose_verify_compact (signature with the key its kid names,
 * the algorithm fixed by that key; RFC 8725 §3.1), the claim checks of
 * claims.h, an env claim that matches its signing key's environment, a
 * record in the store that is not revoked, and a client that still exists,
 * is enabled and has not voided its tokens since (tokens_valid_after). An
 * opaque token is looked up by its hex SHA-256 and passes the same time,
 * revocation and client checks. Either principal's roles and scopes are the
 * token's cut to those its client holds now. Route policy (roles, scopes,
 * audience, tenant, address) is the caller's.
 */
#ifndef GH_GATE_BEARER_H
#define GH_GATE_BEARER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "oauth/client_cache.h"
#include "store/store.h"

struct gh_ctx;

#define GATE_MAX_AUD		32
#define GATE_MAX_OPAQUE_LEN	512

/* A validated token's holder. Immutable once built and shared by the token
 * cache and the requests using it (gate_principal_release). */
struct gate_principal {
	_Atomic int		 refs;
	char			 client_id[129];
	char			 tenant_id[65];
	char			 token_id[65];	/* jti, or hex SHA-256 (opaque) */
	unsigned		 roles;		/* STORE_ROLE_*, effective now */
	char			 roles_text[32]; /* "admin,operator,viewer" */
	enum store_env		 env;
	enum store_format	 format;
	char			*scope;		/* space separated */
	char			*aud[GATE_MAX_AUD];
	size_t			 naud;
	int64_t			 exp, nbf, iat;
	/* GATE_VERIFY_FOR_REVOCATION only (any other check refuses such a
	 * token): 1 when its record says it was revoked already. */
	int			 revoked;
	struct client_entry	*client;	/* a reference: allowlist */
};
void	gate_principal_release(struct gate_principal *);	/* NULL: no-op */
/* 1 when the token names audience a. */
int	gate_principal_has_aud(const struct gate_principal *, const char *a);

/* Why a token or call was refused: the answer's status and RFC 6750 §3.1
 * error code, a short static reason code for logs and metrics, and a
 * sentence for error_description (never token or secret material). */
struct gate_refusal {
	int		 status;
	const char	*error;
	const char	*reason;
	char		 description[200];
};
/* Fills r; returns -1 (for `return gate_refuse(...)`). */
int	gate_refuse(struct gate_refusal *r, int status, const char *error,
	    const char *reason, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

/* 1 when t[0..n) is an RFC 6750 §2.1 b64token. */
int	gate_token_syntax_ok(const char *t, size_t n);

struct http_request;
/*
 * The bearer token of the Authorization header (RFC 6750 §2.1; the scheme
 * in any case, one or more spaces before the token), for every route that
 * takes one: 1 with *tok and *len set (syntax not checked), 0 when there is
 * none (no header, or another scheme), -1 when the header is repeated.
 */
int	gate_bearer_token(const struct http_request *, const char **tok,
	    size_t *len);

/* Only the signature, issuer and the token's record are checked (time,
 * revocation and the client's state are not): for revocation, which must
 * accept an expired or already revoked token. */
#define GATE_VERIFY_FOR_REVOCATION	0x1u

/*
 * Validates token[0..len) at now. Returns 0 with *out a new reference, or
 * -1 with why filled: 401 invalid_token (the reason says which check), or
 * 503 when the store cannot be read.
 */
int	gate_bearer_verify(struct gh_ctx *, const char *token, size_t len,
	    unsigned flags, int64_t now, struct gate_principal **out,
	    struct gate_refusal *why);

#endif
