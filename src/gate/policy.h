/*
 * policy.h — the gate's route policy: which method and path need which
 * role, scopes, environment and audience (docs/policy.md has the format).
 *
 * A policy is parsed whole from a file and is immutable afterwards; a reload
 * parses a new one and swaps it (policy_ref/policy_unref count its users).
 * Rules are tried in file order and the first that matches decides; a call
 * that matches no rule is refused (default deny).
 */
#ifndef GH_GATE_POLICY_H
#define GH_GATE_POLICY_H

#include <stdatomic.h>
#include <stddef.h>

#include "http/http.h"

#define POLICY_MAX_FILE		(1024 * 1024)	/* bytes */
#define POLICY_MAX_LINE		4096		/* bytes in one line */
#define POLICY_MAX_RULES	10000
#define POLICY_MAX_SEGMENTS	64		/* '/'-separated parts of a pattern */
#define POLICY_MAX_SCOPES	32		/* scopes one rule may require */
#define POLICY_MAX_PATH		4096		/* a normalized request path */

/* Roles as levels: Admin ⊃ Operator ⊃ Viewer (DESIGN "The gate"). */
enum policy_role { POLICY_ROLE_VIEWER = 1, POLICY_ROLE_OPERATOR, POLICY_ROLE_ADMIN };
extern const char *const policy_role_names[4];	/* [1..3] */

/* Which tokens' environment a route takes. */
enum policy_env { POLICY_ENV_PRODUCTION, POLICY_ENV_SANDBOX, POLICY_ENV_ANY,
	POLICY_ENV__MAX };
extern const char *const policy_env_names[POLICY_ENV__MAX];

/* A pattern segment bound to the caller: {tenant} must be the token's
 * tenant, {client} its client id. */
enum policy_bind { POLICY_BIND_NONE, POLICY_BIND_TENANT, POLICY_BIND_CLIENT, POLICY_BIND__MAX };
extern const char *const policy_bind_names[POLICY_BIND__MAX];	/* "tenant", "client" */

/* How refusals of a bad token are spelled: RFC 6750 (ours), or seed 003. */
enum policy_style { POLICY_STYLE_RFC6750, POLICY_STYLE_MANGOPAY, POLICY_STYLE__MAX };
extern const char *const policy_style_names[POLICY_STYLE__MAX];

struct policy_rule {
	unsigned	 methods;	/* bit (1u << enum http_method) */
	char		*pattern;	/* as written */
	char		*segs[POLICY_MAX_SEGMENTS]; /* parsed; "*" one, "**" the rest */
	size_t		 nsegs;
	unsigned char	 binds[POLICY_MAX_SEGMENTS]; /* enum policy_bind of a "*" */
	int		 bound;		/* some segment is bound */
	enum policy_role role;		/* the least role that passes */
	char		*scopes[POLICY_MAX_SCOPES]; /* every one is required */
	size_t		 nscopes;
	char		*scope_text;	/* the required scopes, space separated */
	enum policy_env	 env;
	char		*aud;		/* the token must name it; NULL: the issuer */
	int		 aud_any;	/* aud=any: no audience check */
	int		 critical;	/* needs an approval (refused until approvals) */
	enum policy_style style;
	int		 tenant_optional; /* X-TENANT-ID may be absent */
	int		 line;		/* in the file, for messages */
};

struct policy {
	_Atomic int		 refs;
	struct policy_rule	*rules;
	size_t			 n;
	int			 folds;		/* a pattern has an upper-case letter */
	char			*source;	/* file name, for messages */
};

/*
 * Parses text[0..len) (named name in messages) into a new policy (refs 1).
 * Returns 0, or -1 with every bad line reported as "NAME:LINE: reason"
 * (newline separated, as many as fit) in err; nothing is kept on failure.
 */
int	policy_parse(const char *text, size_t len, const char *name,
	    struct policy **out, char *err, size_t errlen);
/* Reads and parses the file at path (at most POLICY_MAX_FILE bytes). */
int	policy_load(const char *path, struct policy **out, char *err,
	    size_t errlen);
struct policy *policy_ref(struct policy *);
void	policy_unref(struct policy *);	/* NULL is a no-op */

/*
 * Puts the path of a request target (X-Original-URI: origin-form, raw) into
 * canonical form for matching, or refuses it as ambiguous: the query is
 * dropped; percent-encoded unreserved characters are decoded (RFC 3986
 * §6.2.2.2) and other escapes upper-cased; an encoded '/', '\' or control
 * character, a "." or ".." segment, an empty segment other than a trailing
 * one, ';', '#' and characters outside RFC 3986 are refused, because a server
 * behind the gate might read such a path differently from the policy.
 * out needs POLICY_MAX_PATH + 1 bytes. 0, or -1 with a static reason in *why.
 */
int	policy_normalize_path(const char *uri, size_t len,
	    char out[POLICY_MAX_PATH + 1], const char **why);

/*
 * Checks a query (the bytes after a request target's '?', without it)
 * against RFC 3986 §3.4: pchar, '/' and '?', each '%' followed by two hex
 * digits, no encoded NUL. The query is not normalized: callers compare it
 * byte for byte. 0, or -1 with a static reason in *why.
 */
int	policy_check_query(const char *q, size_t len, const char **why);

/*
 * The segments rule r binds ({tenant}, {client}) of the normalized path it
 * matched, against the caller's tenant and client ids: 0 when each is the
 * id (its escapes decoded), or -1 with *which the first that is not
 * (enum policy_bind).
 */
int	policy_check_binds(const struct policy_rule *r, const char *path, const char *tenant,
	    const char *client, enum policy_bind *which);

/* The first rule matching method and a normalized path; NULL: none. */
const struct policy_rule *policy_match(const struct policy *,
	    enum http_method method, const char *path);

/*
 * The rule deciding a call (*out, as policy_match; NULL: none), or -1 with
 * a static reason in *why when the path is ambiguous: a server behind the
 * gate may route it as the path without its trailing '/' (Express by
 * default, Spring before 6) or as the path in any case (Express), and one
 * of those readings (with both, also the two together) is decided by
 * another rule or by none. Case is compared with pattern and path both
 * folded (ASCII). A path with neither a trailing '/' nor an upper-case
 * letter is matched once when no pattern has one either, as is a path that
 * no rule matches (refused anyway).
 */
int	policy_match_call(const struct policy *, enum http_method method,
	    const char *path, const struct policy_rule **out, const char **why);

#endif
