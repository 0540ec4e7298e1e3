/*
 * internal.h — what the admin API's files share (not for use outside
 * src/admin/): one call's state, the operation table's shape, and the
 * helpers that answer, check access and read JSON fields.
 */
#ifndef GH_ADMIN_INTERNAL_H
#define GH_ADMIN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gate/bearer.h"
#include "http/http.h"
#include "server/context.h"

#define ADMIN_PREFIX	"/admin/v1/"
#define ADMIN_MAX_ARGS	3
#define ADMIN_MAX_BODY	65536

/* Access levels, ordered: Admin ⊃ Operator ⊃ Viewer. */
enum admin_level { ADMIN_VIEWER = 1, ADMIN_OPERATOR, ADMIN_ADMIN };
/* The highest level of STORE_ROLE_* bits (0: none). */
enum admin_level admin_level_of(unsigned roles);

struct admin_call {
	struct http_exchange	*x;
	struct gh_ctx		*ctx;
	struct gate_principal	*p;
	enum admin_level	 level;		/* the principal's highest role */
	int			 platform;	/* acts across tenants */
	char			 addr[46];	/* the caller's, after trusted proxies */
	int			 https;		/* the call came over TLS (or a trusted proxy's) */
	char			 arg[ADMIN_MAX_ARGS][129]; /* {} segments of the path */
	json_t			*body;		/* writes: the JSON object ({} if empty) */
	char			 tenant[65];	/* the tenant acted on (audit), "" unknown */
	char			 target[129];	/* what a create made (audit); else the path's {} */
	int			 answered;
	int			 idem_answered;	/* answered from its X-Request-ID's record */
	int			 audit_staged;	/* a success row staged (admin_audit_stage) */
	const char		*audit_action;	/* its action */
	int			 audit_status;	/* the status that row says */
	int			 audit_committed; /* it went in with the change */
};

typedef void (*admin_fn)(struct admin_call *);

struct admin_op {
	enum http_method	 method;
	const char		*pattern;	/* "clients/{}/secrets", under ADMIN_PREFIX */
	enum admin_level	 level;		/* the least role that may call */
	admin_fn		 fn;
	const char		*action;	/* audit action, "client.create" */
};

/* Answers: steal body. error: code is the JSON "error", the rest the
 * description (never a secret). Both set c->answered. */
void	admin_answer(struct admin_call *, int status, json_t *body);
void	admin_error(struct admin_call *, int status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* A manage_* failure: 404 (does not exist), 409 (exists, limits, state,
 * or the call taken over: STORE_SUPERSEDED_WORDS), 503 (store), else 400
 * with err as it is. */
void	admin_manage_error(struct admin_call *, const char *err);
/* A store call's failure rc, as the store said it: 409 when a retry or
 * another applier took the call over (STORE_SUPERSEDED), else 503. */
void	admin_store_error(struct admin_call *, int rc);

/* A GET's query string into q, refusing any parameter not named in known
 * (NULL-terminated): a misspelt filter or page size must not be ignored.
 * 0 (the caller clears q), or -1 after answering 400 (q clear). */
struct http_params;
int	admin_query(struct admin_call *, struct http_params *q, const char *const known[]);
/* The query parameter name, when given, as a number in min..max into *out:
 * 0, or -1 after answering 400 naming it and the range. */
int	admin_query_i64(struct admin_call *, const struct http_params *, const char *name,
	    int64_t min, int64_t max, int64_t *out);

/* Tenant isolation: 1 when the principal may see tenant_id. */
int	admin_tenant_visible(const struct admin_call *, const char *tenant_id);
/* The client named id when visible, else answers 404 (also for another
 * tenant's: no enumeration) and returns -1. */
int	admin_client_get(struct admin_call *, const char *id,
	    struct store_client *out);
/*
 * A principal makes, or manages, a client only with roles it holds itself
 * (Admin ⊃ Operator ⊃ Viewer): every write that acts on a client, its
 * secrets, its tokens or its locks. roles_within: 0 when roles are within
 * the caller's, else -1 after answering 403 (what names the client in the
 * sentence). client_managed: admin_client_get, then roles_within.
 */
int	admin_roles_within(struct admin_call *, unsigned roles, const char *what);
int	admin_client_managed(struct admin_call *, const char *id,
	    struct store_client *out);
/* Platform-only resources (keys, policy, address locks): -1 after 403. */
int	admin_require_platform(struct admin_call *, const char *what);

/* Request fields. allowed: NULL-terminated; an unknown field answers 400
 * naming it. -1 after answering. */
int	admin_fields(struct admin_call *, const char *const *allowed);
/* A string field into *out (NULL when absent): 400 on a wrong type. */
int	admin_str(struct admin_call *, const char *name, const char **out);
/* A string or an array of strings, joined by sep into buf. *present 0
 * when absent. */
int	admin_list(struct admin_call *, const char *name, char sep, char *buf,
	    size_t len, int *present);
/* An integer, or a duration string ("15m"), as text in buf (NULL when
 * absent). */
int	admin_num(struct admin_call *, const char *name, char *buf, size_t len,
	    const char **out);
int	admin_bool(struct admin_call *, const char *name, int *out, int dflt);

/* The operations of each file. */
extern const struct admin_op admin_client_ops[];
extern const size_t admin_nclient_ops;
extern const struct admin_op admin_misc_ops[];
extern const size_t admin_nmisc_ops;
extern const struct admin_op admin_audit_ops[];
extern const size_t admin_naudit_ops;

/* Records the answered call in the audit trail (admin_audit.c). */
void	admin_audit_call(struct admin_call *, const char *action);
/*
 * A write's success row, staged before its handler runs (store.h
 * store_audit_stage), so that the change's own transaction commits it: a
 * crash cannot leave a change the trail does not show. admin_audit_restage
 * stages it again once the handler has named the tenant or the target
 * (c->tenant, c->target), before the change; admin_audit_unstage, before
 * anything else the call writes (an approval filed, the idempotency
 * record), ends it and notes whether it went in. admin_audit_call then
 * writes a row only when it did not, or when the answer is not the one it
 * said.
 */
void	admin_audit_stage(struct admin_call *, const char *action);
void	admin_audit_restage(struct admin_call *);
void	admin_audit_unstage(struct admin_call *);

#endif
