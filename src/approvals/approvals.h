/*
 * approvals.h — maker-checker (issue 6): a critical change or call is filed
 * as an approval request by one principal (the maker) and approved or
 * rejected by another (the checker, Admin role, same tenant or the platform
 * tenant). An approved admin operation is applied once, by the decision that
 * approved it; an approved "call" is consumed once, by the gate.
 *
 * The records live in the store (store.h store_approval_*); every state
 * change is a guarded UPDATE (… WHERE state = <expected>), so of concurrent
 * decisions or uses exactly one wins, whichever process or node makes it.
 *
 * State machine (enum store_approval_state, store.h):
 *
 *   PENDING --approve--> APPROVED --(kind "call": gate use)--> USED
 *      |                    |------(admin op: applier ok)----> APPLIED
 *      |                    `------(admin op: applier error)-> FAILED
 *      |--reject--> REJECTED
 *      `--expires_at passes--> EXPIRED   (also an unused APPROVED one)
 *
 * Every function below returns 0, or the HTTP status that describes the
 * failure with one sentence in err (never a secret):
 *   400 bad input (the field is named), 403 not allowed (role, own
 *   request, other tenant's maker), 404 no such approval visible to the
 *   caller (another tenant's id is 404 too, so ids do not leak), 409 the
 *   approval is not in a state that allows it (expired, rejected, used,
 *   applied, already decided) or a pending one holds the conflict key,
 *   500 an applier is missing or the store failed, 503 store unavailable.
 */
#ifndef GH_APPROVALS_H
#define GH_APPROVALS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gate/policy.h"
#include "manage/manage.h"
#include "store/store.h"

struct gh_ctx;

#define APPROVAL_ID_LEN		32	/* 128 random bits, lower-case hex */
#define APPROVAL_KIND_MAX	64	/* "call", "client.create", ... */
#define APPROVAL_REASON_MAX	1024	/* bytes of clean UTF-8 */
#define APPROVAL_PAYLOAD_MAX	65536	/* bytes of JSON text */
#define APPROVAL_CONFLICT_MAX	512
#define APPROVAL_PATH_MAX	2048	/* a "call" approval's path, before '?' */
#define APPROVAL_QUERY_MAX	2048	/* and its query, after '?' */
#define APPROVAL_KINDS_MAX	64	/* appliers that may be registered */

/* The kind of an approval for one protected API call (issue 6 part 3). */
#define APPROVAL_KIND_CALL	"call"

/* Who acts: a validated bearer token's holder (server) or the operator the
 * CLI acts as (--as CLIENT_ID, loaded from the store). */
struct approval_actor {
	char		 client_id[129];
	char		 tenant_id[65];
	unsigned	 roles;		/* STORE_ROLE_* bits as the token had them */
	enum store_env	 env;		/* the token's; zeroed: sandbox */
};

/*
 * Applies an approved admin operation (kind != "call"). Called once, by the
 * thread whose decision moved the approval PENDING -> APPROVED, with the
 * approval as stored (payload: the arguments the maker filed). Returns 0
 * with *result_json a malloc'd JSON text (may stay NULL: "{}"), recorded in
 * the approval (state APPLIED); or -1 with a sentence in err (state FAILED,
 * the error recorded as {"error": err}; APPLIED, with {"note", "error"},
 * when its write had committed: the change is made). Must validate the
 * payload again:
 * the world may have changed since filing.
 * Called again by approvals_recover for an approval left APPROVED by a
 * process that stopped between the decision and making the change; it
 * is then given the approval in state APPROVED. Its change must be one
 * store write: the approval's applied mark commits with the first write
 * the applier makes (store_approval_mark_applied), and a second applier's
 * write is refused (STORE_SUPERSEDED). Never called
 * for one approval by two processes at once: each call holds its claim
 * (store.h store_approval_claim).
 */
typedef int (*approval_apply_fn)(struct gh_ctx *, const struct store_approval *,
	    char **result_json, char *err, size_t errlen);

/*
 * Registers the applier of one admin operation kind ([a-z0-9._-]{1,64},
 * not "call"). Every process that decides approvals registers its appliers
 * before deciding (the server at start; `gatehouse approvals approve`
 * likewise): approving an admin op whose kind has no applier is refused with
 * 500 and changes nothing. Not thread-safe against decisions: call at start.
 * 0, or -1 (bad kind, already registered, table full).
 */
int	approvals_register(const char *kind, approval_apply_fn fn);
/* The applier of kind, or NULL. */
approval_apply_fn approvals_applier(const char *kind);

/* What a maker files. tenant_id: the tenant the change is for; kind: an
 * admin op or "call"; payload: a JSON object's text (NULL: "{}"); reason:
 * free text (NULL: ""); conflict_key: NULL/"" for none, else filing is
 * refused with 409 while a pending, unexpired approval has the same key. */
struct approval_request {
	const char	*tenant_id;
	const char	*kind;
	const char	*payload;
	const char	*reason;
	const char	*conflict_key;
};

/*
 * Files a request: maker needs Operator (or Admin) and to belong to
 * req->tenant_id or the platform tenant (cfg platform_tenant). The approval
 * is PENDING until now + cfg approval_ttl. 0 with *out filled (the caller
 * frees it with store_approval_clear()), which the caller answers with
 * 202 Accepted and out->id.
 */
int	approvals_file(struct gh_ctx *, const struct approval_actor *maker,
	    const struct approval_request *req, struct store_approval *out,
	    char *err, size_t errlen);

/* A call as a "call" approval holds it (approvals_call_parse): the method
 * upper-cased, the target (the path normalized, then '?' and the query as
 * given, if any), and the body digest normalized ("" none). */
#define APPROVAL_TARGET_MAX	(POLICY_MAX_PATH + 1 + APPROVAL_QUERY_MAX)
struct approval_call {
	char	method[16];
	char	target[APPROVAL_TARGET_MAX + 1];
	char	digest[72];
};

/* The checks of a call's method, path and body digest as
 * approvals_file_call (below) makes them, before it files anything: 0 with
 * *out filled, or 400 with err naming the field. */
int	approvals_call_parse(const char *method, const char *path,
	    const char *body_digest, struct approval_call *out, char *err,
	    size_t errlen);

/*
 * Files a "call" approval: method (an HTTP token, upper-cased), path (the
 * call's request target: an absolute path, normalized as the gate
 * normalizes X-Original-URI, and optionally '?' and a query, checked by
 * policy_check_query and kept byte for byte; no '#'), body_digest NULL/""
 * or "sha256:<64 hex>". Its payload is {"method","path","body_digest"},
 * the query in "path", and its conflict key names tenant, method, path
 * (with the query) and digest (two pending requests for the same call
 * conflict).
 */
int	approvals_file_call(struct gh_ctx *, const struct approval_actor *maker,
	    const char *tenant_id, const char *method, const char *path,
	    const char *body_digest, const char *reason,
	    struct store_approval *out, char *err, size_t errlen);

/*
 * Approves (approve 1) or rejects (0) the approval id. The checker needs
 * Admin, must not be the maker, nor share with the maker anyone who may act
 * as both (held.h: a client whose secret the admin API showed to the maker,
 * or the other way round; 403), and must belong to the approval's tenant or
 * the platform tenant. Only a PENDING, unexpired
 * approval can be decided; of concurrent decisions exactly one wins and the
 * others get 409. An approved admin op is then applied by this call (see
 * approval_apply_fn); a failing applier still returns 0: out->state says
 * APPLIED or FAILED and out->result why. *out is the approval afterwards.
 * Every decision on an approval the checker may see, refused ones too (a
 * role short of Admin among them), is on the audit trail.
 */
int	approvals_decide(struct gh_ctx *, const struct approval_actor *checker,
	    const char *id, int approve, struct store_approval *out,
	    char *err, size_t errlen);

/* One approval, visible to viewer (any role) when it belongs to viewer's
 * tenant or viewer is of the platform tenant; else 404. Expiry is applied
 * on read: a PENDING or APPROVED approval past expires_at reads EXPIRED. */
int	approvals_get(struct gh_ctx *, const struct approval_actor *viewer,
	    const char *id, struct store_approval *out, char *err, size_t errlen);

/*
 * A page of the approvals of tenant_id (NULL: viewer's own tenant; another
 * tenant only for platform principals; "*": every tenant, platform only),
 * newest first, at most limit (1..1000), of one state
 * (STORE_APPROVAL_STATE__MAX: any; pending, approved and expired are
 * states as of now, as approvals_get shows them), older than the cursor
 * after (NULL: from the newest). next gets the cursor of the page that
 * follows ("approvals~<created_at>~<id>", manage.h), "" when this one is
 * the last; a text that is not one is 400 ("after: ..."). The store
 * filters on the state, so an old pending request is on a page however
 * many newer ones there are. Free with store_approval_free().
 */
int	approvals_list(struct gh_ctx *, const struct approval_actor *viewer,
	    const char *tenant_id, enum store_approval_state state, const char *after,
	    size_t limit, struct store_approval **out, size_t *n,
	    char next[MANAGE_CURSOR_MAX + 1], char *err, size_t errlen);

/*
 * The gate's use of a "call" approval: id must name an APPROVED, unexpired
 * "call" approval of the caller's tenant whose method and target equal the
 * call's: path (normalized) followed by rest, what follows the path in the
 * call's X-Original-URI, raw ("" none; "?a=1"): a query must equal the
 * approval's byte for byte, and a call with one never uses an approval
 * filed without one, nor the reverse (caller: the token's holder, named in
 * the audit event); when
 * the approval has a body digest, body_digest ("sha256:<hex>", NULL when the
 * gate was not told the body) must be given and equal. On success the
 * approval moves APPROVED -> USED in one guarded UPDATE: of concurrent uses
 * exactly one gets 0, the others 409, and bound (when not NULL) gets the
 * digest the approval binds, normalized ("" none): what the gate tells the
 * upstream to check the body against. Nothing is cached. Failures: 400 (a
 * malformed id or digest), 403 (mismatch: method, path, query, digest —
 * the approval stays usable), 404, 409 (not approved, expired, used), 503.
 */
#define APPROVALS_DIGEST_MAX	72	/* "sha256:" and 64 hex digits, NUL */
int	approvals_consume(struct gh_ctx *, const char *id,
	    const struct approval_actor *caller,
	    const char *method, const char *path, const char *rest,
	    const char *body_digest, char bound[APPROVALS_DIGEST_MAX],
	    char *err, size_t errlen);

/* The approval's state as of now (PENDING/APPROVED past expires_at:
 * EXPIRED). */
/*
 * Finishes admin approvals left APPROVED (decided, outcome not recorded:
 * the deciding process stopped in between) whose decision is at least
 * APPROVALS_RECOVER_AFTER seconds old: every one, however many, read a
 * page at a time. Each is applied by the one process that claims it
 * (store_approval_claim, for APPROVALS_CLAIM_LEASE seconds): the decider
 * claims it as it decides, and a recovery only once no claim is in force,
 * so that of several nodes recovering at once one applies it. An
 * applier's change commits with the approval's applied mark
 * (store_approval_mark_applied): one whose mark is set was made, and is
 * recorded APPLIED without calling the applier again (however the store
 * has changed since); one not marked was never made, and its applier sees
 * state APPROVED (for approvals applied before the mark existed, it still
 * looks for the change in effect). The outcome, APPLIED or FAILED, is
 * recorded, and on the audit trail as the server's (events.h
 * approvals_event_recovered), not the checker's. The server runs it at
 * start and every half minute. *recovered counts them. 0, or -1 when the
 * store could not be read.
 *
 * The lease bounds how long an applier may take: one still running when
 * its claim lapses may meet a recovery; then the guarded mark lets only
 * the first of them make the change.
 */
#define APPROVALS_RECOVER_AFTER 30
#define APPROVALS_CLAIM_LEASE	APPROVALS_RECOVER_AFTER
int	approvals_recover(struct gh_ctx *, int64_t now, int *recovered);

enum store_approval_state approvals_state_now(const struct store_approval *,
	    int64_t now);
/* The JSON view of an approval (API and CLI): id, tenant, kind, maker,
 * maker_tenant, payload (parsed), reason, state (as of now), checker,
 * created_at/expires_at/decided_at/used_at (ISO 8601 or null), result
 * (parsed, or null). A new reference, NULL on allocation failure. */
json_t	*approvals_json(const struct store_approval *, int64_t now);

/* The request this thread serves, for the audit events of the calls above
 * (request id and source address); NULLs clear it. */
void	approvals_origin(const char *request_id, const char *address);

/* 1 when s is a well-formed approval id. */
int	approvals_id_ok(const char *s);

#endif
