/*
 * dialect.h — the token routes' spellings, as data (STYLE 4).
 *
 * Every route that issues tokens is one row of dialect_table: how its request
 * names each parameter, which bodies and client authentication it takes, and
 * how its answer is spelled. One normalizer (normalize.c) reads any row into
 * a struct token_request; one renderer (respond.c) writes any row's answer.
 * A fifth dialect is one more row.
 */
#ifndef GH_DIALECT_H
#define GH_DIALECT_H

#include <stdint.h>

#include "http/http.h"
#include "oauth/issue.h"
#include "oauth/token_request.h"

#define DIALECT_FORM		0x1u	/* application/x-www-form-urlencoded */
#define DIALECT_JSON		0x2u	/* application/json */
#define DIALECT_AUTH_BASIC	0x1u	/* client_secret_basic */
#define DIALECT_AUTH_BODY	0x2u	/* credentials in the body */

/* How a request names each parameter; NULL: the dialect has no such one. */
struct dialect_in {
	const char	*client_id;
	const char	*client_secret;
	const char	*grant_type;
	const char	*scope;
	const char	*audience;
	const char	*resource;	/* RFC 8707, read as the audience */
	const char	*lifetime;	/* seconds, a JSON number of whole value */
	const char	*token_name;
};

/* How the answer names each member; NULL: not in the answer. */
struct dialect_out {
	const char	*token;		/* "access_token" or "token" */
	const char	*token_type;	/* value of token_type: "Bearer", "bearer" */
	int		 expires_in;
	int		 valid_until;	/* ISO 8601 UTC, equal to exp */
	int		 scope;
	int		 token_name;
};

struct dialect {
	const char		*name;		/* config key route.NAME */
	const char		*default_path;
	const char		*source;	/* the seed document it follows */
	unsigned		 bodies;	/* DIALECT_FORM | DIALECT_JSON */
	unsigned		 auth;		/* DIALECT_AUTH_* */
	struct dialect_in	 in;
	const char		*implied_grant;	/* when the spelling has no grant */
	int64_t			 default_lifetime; /* asked when absent; 0: the client's */
	int			 json_accept;	/* Accept must allow application/json */
	struct dialect_out	 out;
};

enum dialect_id {
	DIALECT_OAUTH, DIALECT_M2P, DIALECT_PARTNER, DIALECT_PAPAYA,
	DIALECT_MANGOPAY, DIALECT__MAX
};
extern const struct dialect dialect_table[DIALECT__MAX];

/* Parses x's request in dialect d's spelling. 0, or -1 with e filled. */
int	dialect_parse(const struct dialect *d, const struct http_request *req,
	    struct token_request *out, struct oauth_error *e);


/* Writes the token answer in d's spelling, with Cache-Control: no-store and
 * Pragma: no-cache (RFC 6749 §5.1). */
void	dialect_respond(const struct dialect *d, struct http_response *resp,
	    const struct issued_token *t);
/* Writes an error (RFC 6749 §5.2 shape) with its status, WWW-Authenticate
 * when Basic was used (§5.2 invalid_client) and Retry-After when set. */
void	dialect_respond_error(struct http_response *resp,
	    const struct oauth_error *e);

#endif
