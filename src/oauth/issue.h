/*
 * issue.h — the issuing core: one normalized token request in, one token
 * out. It authenticates the client (cached; secret compared in constant
 * time), applies the client's policy (tenant, address, scope, audience,
 * lifetime), and signs a JWT (RFC 9068) or makes an opaque token. It never
 * learns which route or dialect called it.
 */
#ifndef GH_ISSUE_H
#define GH_ISSUE_H

#include <stddef.h>
#include <stdint.h>

#include "oauth/token_request.h"
#include "store/store.h"

struct gh_ctx;

struct issued_token {
	char		*token;		/* malloc'd; cleansed on clear */
	size_t		 token_len;
	const char	*alg;		/* "RS256"..., or "opaque" (static) */
	int64_t		 iat;
	int64_t		 exp;
	char		*scope;		/* granted, malloc'd */
	char		*aud;		/* malloc'd */
	char		 name[129];	/* token_name */
	char		 record_id[65];	/* jti, or an opaque token's (opaque_token.h) */
	char		 client_id[129];
	char		 tenant_id[65];
	enum store_env	 env;
	enum store_format format;
	int64_t		 secret_age;	/* seconds: age of the secret used, for rotation notices */
};
void	issued_token_clear(struct issued_token *);

/* Issues a token for r. 0, -1 with e filled (RFC 6749 §5.2), or 1 when
 * r->no_store_wait stopped a login that must write to the store (nothing
 * done: run it again where waiting is allowed). */
int	oauth_issue(struct gh_ctx *, const struct token_request *r,
	    struct issued_token *out, struct oauth_error *e);

/* Queues t's record with group commit; done(arg, err) runs once it is
 * durable (or failed). 0, or -1 when it could not be queued. */
int	oauth_record(struct gh_ctx *, const struct issued_token *t,
	    store_done_fn done, void *arg);

#endif
