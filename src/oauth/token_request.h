/*
 * token_request.h — the one normalized token request every dialect's route
 * parses into, and the one error every dialect renders in its own style.
 *
 * The issuing core (oauth/issue.h) sees only these; it never learns which
 * route or dialect called it (DESIGN: "every dialect, one core").
 */
#ifndef GH_TOKEN_REQUEST_H
#define GH_TOKEN_REQUEST_H

#include <stdint.h>

/* How the client authenticated (RFC 6749 §2.3.1). One per request. */
enum client_auth { CLIENT_AUTH_NONE, CLIENT_AUTH_BASIC, CLIENT_AUTH_BODY };

struct token_request {
	char		*client_id;	/* malloc'd */
	char		*client_secret;	/* malloc'd; cleansed on clear */
	enum client_auth auth;
	char		*grant_type;	/* as sent; the core checks it */
	char		*scope;		/* NULL: the client's whole allowed set */
	char		*audience;	/* NULL: the default audience */
	int64_t		 lifetime;	/* asked lifetime in seconds; 0: none asked */
	int		 lifetime_explicit; /* the client asked (vs a dialect default) */
	char		*token_name;	/* NULL: a new UUID */
	char		*tenant;	/* X-TENANT-ID when sent, else NULL */
	char		 peer_ip[46];	/* the caller's address after proxies */
	/* Set on an HTTP loop in front of a shared store: a login that must
	 * write to the store stops instead (oauth_client_login's no_wait). */
	int		 no_store_wait;
};

void	token_request_clear(struct token_request *);

/* RFC 6749 §5.2 error codes, plus what RFC 8707 and lockout add. */
enum oauth_code {
	OAUTH_INVALID_REQUEST,
	OAUTH_INVALID_CLIENT,
	OAUTH_INVALID_GRANT,
	OAUTH_UNAUTHORIZED_CLIENT,
	OAUTH_UNSUPPORTED_GRANT_TYPE,
	OAUTH_INVALID_SCOPE,
	OAUTH_INVALID_TARGET,
	OAUTH_ACCESS_DENIED,
	OAUTH_TEMPORARILY_UNAVAILABLE,
	OAUTH_SERVER_ERROR,
	OAUTH_NOT_ACCEPTABLE,
	OAUTH_UNSUPPORTED_MEDIA_TYPE,
	OAUTH_CODE__MAX
};
extern const char *const oauth_code_names[OAUTH_CODE__MAX];

struct oauth_error {
	int		 status;	/* HTTP status */
	enum oauth_code	 code;
	char		 description[256]; /* names what was wrong; no secrets */
	int		 basic_challenge; /* add WWW-Authenticate: Basic (401) */
	int64_t		 retry_after;	/* > 0: Retry-After seconds (429, 503) */
};

/* Fills e; description is printf-style. Returns -1 for `return oauth_fail(...)`. */
int	oauth_fail(struct oauth_error *e, int status, enum oauth_code code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* oauth_fail for a body or header parser's failure rc (http/params.h):
 * HTTP_PARSE_NOMEM is the server's 500 server_error, anything else the
 * client's 400 invalid_request; why is the parser's text. Returns -1. */
int	oauth_parse_fail(struct oauth_error *e, int rc, const char *why);

#endif
