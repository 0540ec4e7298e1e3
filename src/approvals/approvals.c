/*
 * approvals.c — the maker-checker engine (approvals.h): who may file, see,
 * decide and use an approval. The store makes each state change a guarded
 * update; this file checks the rules before it and applies admin ops after
 * the winning approval.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "approvals/approvals.h"
#include "approvals/events.h"
#include "approvals/held.h"
#include "obs/log.h"
#include "gate/policy.h"
#include "manage/views.h"
#include "server/context.h"
#include "util/util.h"

static struct {
	char			kind[APPROVAL_KIND_MAX + 1];
	approval_apply_fn	fn;
} appliers[APPROVAL_KINDS_MAX];
static size_t nappliers;

/* Fills err and returns status (for `return fail(...)`). */
static int
fail(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int
fail(char *err, size_t errlen, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return status;
}

/* A store error as the engine's status, with the store's sentence. */
static int
store_fail(int rc, char *err, size_t errlen)
{
	static const int status[STORE_ERR__MAX] = {
		[STORE_OK] = 500, [STORE_NOTFOUND] = 404, [STORE_CONFLICT] = 409,
		[STORE_UNAVAILABLE] = 503, [STORE_ERROR] = 500, [STORE_SUPERSEDED] = 409,
	};

	return fail(err, errlen, (unsigned)rc < STORE_ERR__MAX ? status[rc] : 500, "%s",
	    store_last_error());
}

static int
kind_ok(const char *k)
{
	size_t n = k != NULL ? strlen(k) : 0;

	if (n == 0 || n > APPROVAL_KIND_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!(islower((unsigned char)k[i]) || isdigit((unsigned char)k[i]) ||
		    k[i] == '.' || k[i] == '_' || k[i] == '-'))
			return 0;
	return 1;
}

int
approvals_register(const char *kind, approval_apply_fn fn)
{
	if (!kind_ok(kind) || strcmp(kind, APPROVAL_KIND_CALL) == 0 || fn == NULL ||
	    approvals_applier(kind) != NULL || nappliers == APPROVAL_KINDS_MAX)
		return -1;
	snprintf(appliers[nappliers].kind, sizeof(appliers[nappliers].kind), "%s", kind);
	appliers[nappliers].fn = fn;
	nappliers++;
	return 0;
}

approval_apply_fn
approvals_applier(const char *kind)
{
	for (size_t i = 0; kind != NULL && i < nappliers; i++)
		if (strcmp(appliers[i].kind, kind) == 0)
			return appliers[i].fn;
	return NULL;
}

int
approvals_id_ok(const char *s)
{
	if (s == NULL || strlen(s) != APPROVAL_ID_LEN)
		return 0;
	for (size_t i = 0; i < APPROVAL_ID_LEN; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

enum store_approval_state
approvals_state_now(const struct store_approval *a, int64_t now)
{
	if ((a->state == STORE_APPROVAL_PENDING || a->state == STORE_APPROVAL_APPROVED) &&
	    a->expires_at <= now)
		return STORE_APPROVAL_EXPIRED;
	return a->state;
}

static int
is_platform(struct gh_ctx *ctx, const struct approval_actor *a)
{
	return strcmp(a->tenant_id, ctx->cfg->platform_tenant) == 0;
}

/* 1 when actor may see or act on tenant's approvals. */
static int
may_reach(struct gh_ctx *ctx, const struct approval_actor *a, const char *tenant)
{
	return strcmp(a->tenant_id, tenant) == 0 || is_platform(ctx, a);
}

static int
text_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	return n <= max && (n == 0 || str_is_clean_utf8(s, n));
}

/* The filing rules, in the order a caller learns of them: maker's role and
 * reach, kind, payload, reason and conflict key, then that the tenant
 * exists.  0, or the status (never 0) with err filled. */
static int
file_check_request(struct gh_ctx *ctx, const struct approval_actor *maker,
    const struct approval_request *req, const char *payload, const char *reason,
    const char *ckey, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j;
	int rc;

	if ((maker->roles & (STORE_ROLE_OPERATOR | STORE_ROLE_ADMIN)) == 0)
		return fail(err, errlen, 403, "filing an approval request needs the operator role");
	if (req->tenant_id == NULL || !str_is_ident(req->tenant_id, strlen(req->tenant_id), 64))
		return fail(err, errlen, 400, "tenant: 1-64 characters of [A-Za-z0-9._:-] required");
	if (!may_reach(ctx, maker, req->tenant_id))
		return fail(err, errlen, 403, "a principal of tenant %s cannot file for tenant %s",
		    maker->tenant_id, req->tenant_id);
	if (!kind_ok(req->kind))
		return fail(err, errlen, 400, "kind: 1-64 characters of [a-z0-9._-] required");
	if (strcmp(req->kind, APPROVAL_KIND_CALL) != 0 && approvals_applier(req->kind) == NULL)
		return fail(err, errlen, 400, "kind: %s is not an operation that takes approvals",
		    req->kind);
	if (strlen(payload) > APPROVAL_PAYLOAD_MAX)
		return fail(err, errlen, 400, "payload: at most %d bytes", APPROVAL_PAYLOAD_MAX);
	if ((j = json_loads(payload, JSON_REJECT_DUPLICATES, &jerr)) == NULL || !json_is_object(j)) {
		json_decref(j);
		return fail(err, errlen, 400, "payload: not a JSON object");
	}
	json_decref(j);
	if (!text_ok(reason, APPROVAL_REASON_MAX))
		return fail(err, errlen, 400, "reason: at most %d bytes of text without control "
		    "characters", APPROVAL_REASON_MAX);
	if (!text_ok(ckey, APPROVAL_CONFLICT_MAX))
		return fail(err, errlen, 400, "conflict key: at most %d bytes of text",
		    APPROVAL_CONFLICT_MAX);
	{
		struct store_tenant t;
		if ((rc = store_tenant_get(ctx->store, req->tenant_id, &t)) != STORE_OK)
			return rc == STORE_NOTFOUND ? fail(err, errlen, 404,
			    "tenant %s does not exist", req->tenant_id) : store_fail(rc, err, errlen);
		store_tenant_clear(&t);
	}
	return 0;
}

int
approvals_file(struct gh_ctx *ctx, const struct approval_actor *maker,
    const struct approval_request *req, struct store_approval *out, char *err, size_t errlen)
{
	struct store_approval a;
	const char *payload = req->payload != NULL ? req->payload : "{}";
	const char *reason = req->reason != NULL ? req->reason : "";
	const char *ckey = req->conflict_key != NULL ? req->conflict_key : "";
	char id[APPROVAL_ID_LEN + 1];
	uint8_t raw[APPROVAL_ID_LEN / 2];
	int rc, staged;

	memset(out, 0, sizeof(*out));
	if ((rc = file_check_request(ctx, maker, req, payload, reason, ckey, err,
	    errlen)) != 0)
		return rc;
	if (rand_bytes(raw, sizeof(raw)) == -1)
		return fail(err, errlen, 500, "no randomness for an approval id");
	hex_encode(raw, sizeof(raw), id);

	memset(&a, 0, sizeof(a));
	a.id = id;
	a.tenant_id = (char *)req->tenant_id;
	a.kind = (char *)req->kind;
	a.maker = (char *)maker->client_id;
	a.maker_tenant = (char *)maker->tenant_id;
	a.payload = (char *)payload;
	a.reason = (char *)reason;
	a.conflict_key = (char *)ckey;
	a.state = STORE_APPROVAL_PENDING;
	a.created_at = clock_now();
	a.expires_at = a.created_at + ctx->cfg->approval_ttl;
	staged = approvals_event_stage(ctx, "approval.file", maker, &a, "pending");
	rc = store_approval_create(ctx->store, &a);
	approvals_event_staged(ctx, staged, rc == STORE_OK, "approval.file", maker, &a, "pending");
	if (rc != STORE_OK)
		return store_fail(rc, err, errlen);
	if ((rc = store_approval_get(ctx->store, id, out)) != STORE_OK)
		return store_fail(rc, err, errlen);
	return 0;
}

/* "sha256:" and 64 lower-case hex digits (upper case accepted, lowered). */
static int
digest_norm(const char *in, char out[72])
{
	size_t n = strlen(in);

	if (n != 7 + 64 || strncmp(in, "sha256:", 7) != 0)
		return -1;
	memcpy(out, "sha256:", 7);
	for (size_t i = 7; i < n; i++) {
		if (!isxdigit((unsigned char)in[i]))
			return -1;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[n] = '\0';
	return 0;
}

static const char *const call_methods[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"
};

/* The method upper-cased into m (16 bytes), if it is one a call may have. */
static int
call_method(const char *method, char m[16])
{
	size_t i;

	if (method == NULL || strlen(method) >= 16)
		return -1;
	for (i = 0; method[i] != '\0'; i++)
		m[i] = (char)toupper((unsigned char)method[i]);
	m[i] = '\0';
	for (i = 0; i < GH_ARRAY_LEN(call_methods); i++)
		if (strcmp(m, call_methods[i]) == 0)
			return 0;
	return -1;
}

/* Two pending requests for the same call of one tenant conflict. The key
 * is a digest of (tenant, method, path, body digest): bounded whatever the
 * path's length. Into ckey (80 bytes): "call:" and 64 hex digits. -1 out
 * of memory, -2 when the digest fails. */
static int
call_conflict_key(const char *tenant_id, const char *m, const char *norm, const char *digest,
    char ckey[80])
{
	uint8_t md[32];
	char hex[65], *buf;
	size_t tn = strlen(tenant_id), mn = strlen(m), pn = strlen(norm);
	size_t dn = strlen(digest), bn = tn + mn + pn + dn + 3;
	int rc;

	if ((buf = malloc(bn)) == NULL)
		return -1;
	/* NUL-separated: no two tuples give the same bytes. */
	memcpy(buf, tenant_id, tn + 1);
	memcpy(buf + tn + 1, m, mn + 1);
	memcpy(buf + tn + mn + 2, norm, pn + 1);
	memcpy(buf + tn + mn + pn + 3, digest, dn);
	rc = EVP_Digest(buf, bn, md, NULL, EVP_sha256(), NULL);
	free(buf);
	if (rc != 1)
		return -2;
	hex_encode(md, sizeof(md), hex);
	snprintf(ckey, 80, "call:%s", hex);
	return 0;
}

/* The target an approval stores for the request target in: its path
 * normalized as the gate normalizes X-Original-URI, then '?' and the query
 * as given: the gate compares the query byte for byte, since the API
 * behind reads it as sent. 0, or 400 with err. */
static int
call_target(const char *in, char target[APPROVAL_TARGET_MAX + 1], char *err, size_t errlen)
{
	const char *why = NULL, *q;
	size_t plen, qlen, n;

	if (in == NULL || in[0] != '/')
		return fail(err, errlen, 400, "path: an absolute path is required");
	plen = strcspn(in, "?#");
	if (in[plen] == '#')
		return fail(err, errlen, 400, "path: a fragment ('#') is not part of a call");
	if (plen > APPROVAL_PATH_MAX)
		return fail(err, errlen, 400, "path: at most %d bytes before the query",
		    APPROVAL_PATH_MAX);
	if (policy_normalize_path(in, plen, target, &why) == -1)
		return fail(err, errlen, 400, "path: %s", why != NULL ? why : "not accepted");
	if (in[plen] == '\0')
		return 0;
	q = in + plen + 1;
	if ((qlen = strlen(q)) > APPROVAL_QUERY_MAX)
		return fail(err, errlen, 400, "path: a query of at most %d bytes",
		    APPROVAL_QUERY_MAX);
	if (policy_check_query(q, qlen, &why) == -1)
		return fail(err, errlen, 400, "path: %s", why);
	n = strlen(target);
	target[n] = '?';
	memcpy(target + n + 1, q, qlen + 1);
	return 0;
}

int
approvals_call_parse(const char *method, const char *path, const char *body_digest,
    struct approval_call *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (method == NULL)
		return fail(err, errlen, 400, "method: an HTTP method is required");
	if (call_method(method, out->method) == -1)
		return fail(err, errlen, 400, strlen(method) >= sizeof(out->method) ?
		    "method: an HTTP method is required" :
		    "method: one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
	if ((rc = call_target(path, out->target, err, errlen)) != 0)
		return rc;
	if (body_digest != NULL && body_digest[0] != '\0' &&
	    digest_norm(body_digest, out->digest) == -1)
		return fail(err, errlen, 400, "body_digest: \"sha256:\" and 64 hex digits expected");
	return 0;
}

int
approvals_file_call(struct gh_ctx *ctx, const struct approval_actor *maker,
    const char *tenant_id, const char *method, const char *path, const char *body_digest,
    const char *reason, struct store_approval *out, char *err, size_t errlen)
{
	struct approval_request req;
	struct approval_call *call;
	char *payload = NULL, ckey[80] = "";
	json_t *j;
	int rc;

	memset(out, 0, sizeof(*out));
	/* On the heap: a target is 6 KB. */
	if ((call = malloc(sizeof(*call))) == NULL)
		return fail(err, errlen, 500, "out of memory");
	if ((rc = approvals_call_parse(method, path, body_digest, call, err, errlen)) != 0)
		goto out;
	j = json_pack("{s:s, s:s, s:s}", "method", call->method, "path", call->target,
	    "body_digest", call->digest);
	if (j != NULL)
		payload = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	if (payload == NULL) {
		rc = fail(err, errlen, 500, "out of memory");
		goto out;
	}
	if (tenant_id != NULL && (rc = call_conflict_key(tenant_id, call->method, call->target,
	    call->digest, ckey)) < 0) {
		rc = fail(err, errlen, 500, rc == -1 ? "out of memory" : "cannot hash the call");
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.tenant_id = tenant_id;
	req.kind = APPROVAL_KIND_CALL;
	req.payload = payload;
	req.reason = reason;
	req.conflict_key = ckey;
	rc = approvals_file(ctx, maker, &req, out, err, errlen);
out:
	free(payload);
	free(call);
	return rc;
}

/* Loads id as viewer may see it: 400 malformed, 404 absent or another
 * tenant's (unless viewer is of the platform tenant). */
static int
load_visible(struct gh_ctx *ctx, const struct approval_actor *viewer, const char *id,
    struct store_approval *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if (!approvals_id_ok(id))
		return fail(err, errlen, 400, "approval id: %d lower-case hex digits expected",
		    APPROVAL_ID_LEN);
	if ((rc = store_approval_get(ctx->store, id, out)) != STORE_OK)
		return store_fail(rc, err, errlen);
	if (viewer != NULL && !may_reach(ctx, viewer, out->tenant_id)) {
		store_approval_clear(out);
		return fail(err, errlen, 404, "approval %s does not exist", id);
	}
	return 0;
}

int
approvals_get(struct gh_ctx *ctx, const struct approval_actor *viewer, const char *id,
    struct store_approval *out, char *err, size_t errlen)
{
	return load_visible(ctx, viewer, id, out, err, errlen);
}

/* The cursor of a page's last row (0), or -1 when its key cannot be one. */
static int
list_cursor(const struct store_approval *a, char next[MANAGE_CURSOR_MAX + 1])
{
	char at[24];
	const char *keys[2] = { at, a->id };

	if (a->created_at < 0)
		return -1;
	snprintf(at, sizeof(at), "%lld", (long long)a->created_at);
	return manage_cursor_make(next, "approvals", keys, 2);
}

int
approvals_list(struct gh_ctx *ctx, const struct approval_actor *viewer, const char *tenant_id,
    enum store_approval_state state, const char *after, size_t limit,
    struct store_approval **out, size_t *n, char next[MANAGE_CURSOR_MAX + 1], char *err,
    size_t errlen)
{
	struct store_approval_page page = { 0, NULL, limit + 1 };
	const char *t = tenant_id != NULL ? tenant_id : viewer->tenant_id, *keys[2];
	char buf[MANAGE_CURSOR_MAX + 1];
	int rc;

	*out = NULL;
	*n = 0;
	next[0] = '\0';
	if (limit < 1 || limit > 1000)
		return fail(err, errlen, 400, "limit: 1 to 1000");
	if (after != NULL) {
		if (manage_cursor_split(after, "approvals", buf, keys, 2) == -1 ||
		    manage_cursor_time(keys[0], &page.before_created) == -1 ||
		    !approvals_id_ok(keys[1]))
			return fail(err, errlen, 400, "after: not a cursor an approvals list gave "
			    "(approvals~<created_at>~<id>)");
		page.before_id = keys[1];
	}
	if (strcmp(t, "*") == 0) {
		if (!is_platform(ctx, viewer))
			return fail(err, errlen, 403, "only platform principals list every tenant");
		t = NULL;
	} else if (!str_is_ident(t, strlen(t), 64))
		return fail(err, errlen, 400, "tenant: 1-64 characters of [A-Za-z0-9._:-] required");
	else if (!may_reach(ctx, viewer, t))
		return fail(err, errlen, 403, "a principal of tenant %s cannot see tenant %s",
		    viewer->tenant_id, t);
	/* Expired rows may still be stored PENDING/APPROVED: the store
	 * filters on the state as of now. One row more than asked: whether
	 * another page follows. */
	if ((rc = store_approval_list_page(ctx->store, t, state, clock_now(), &page, out, n)) !=
	    STORE_OK)
		return store_fail(rc, err, errlen);
	if (*n <= limit)
		return 0;
	store_approval_clear(&(*out)[limit]);
	*n = limit;
	if (list_cursor(&(*out)[limit - 1], next) == -1) {
		store_approval_free(*out, *n);
		*out = NULL;
		*n = 0;
		return fail(err, errlen, 503, "store: an approval has a key no cursor can hold");
	}
	return 0;
}

/* 1 when approval a's change was made by another applier: its mark is
 * set. */
static int
made_elsewhere(struct gh_ctx *ctx, const struct store_approval *a)
{
	struct store_approval now;
	int made;

	memset(&now, 0, sizeof(now));
	if (store_approval_get(ctx->store, a->id, &now) != STORE_OK)
		return 0;
	made = now.used_at != 0;
	store_approval_clear(&now);
	return made;
}

/* Runs the applier of an approved admin op and records the outcome; on
 * the audit trail as the checker's (the decider applies it), or the
 * server's when checker is NULL (recovery applies it). */
static int
apply(struct gh_ctx *ctx, const struct approval_actor *checker, const struct store_approval *a,
    char *err, size_t errlen)
{
	approval_apply_fn fn = approvals_applier(a->kind);
	char *result = NULL, aerr[256] = "", *text = NULL;
	json_t *j = NULL;
	int ok, rc, staged, made;

	if (a->state == STORE_APPROVAL_APPROVED && a->used_at != 0) {
		/* Recovery: the change committed with its mark (below) and the
		 * outcome was not recorded. Made once: not again, nor judged by
		 * what the store holds now (a client created, then deleted by
		 * an operator, must stay deleted). */
		ok = 1;
		result = strdup("{\"recovered\":true,\"note\":\"the change was made; its outcome "
		    "was not recorded\"}");
		made = 1;
	} else if (store_approval_mark_applied(ctx->store, a->id, clock_now()) != STORE_OK) {
		ok = made = 0;
		snprintf(aerr, sizeof(aerr), "store: %s", store_last_error());
	} else {
		/* The applier's write carries the mark: made and marked, or
		 * neither (store.h store_approval_mark_applied). */
		ok = fn != NULL && fn(ctx, a, &result, aerr, sizeof(aerr)) == 0;
		made = store_approval_unmark(ctx->store);
	}
	test_fault_point("approval-after-apply");
	if (fn == NULL)
		snprintf(aerr, sizeof(aerr), "no applier for %s in this process", a->kind);
	if (!ok && !made && made_elsewhere(ctx, a)) {
		/* Another applier (its claim lapsed while it ran) made the
		 * change first: its outcome is the one to record. */
		free(result);
		return 0;
	}
	if (!ok && made) {
		/* The change committed with its mark, and the applier failed
		 * after it (its read back): the change is made. FAILED would
		 * say it never was, of a client made with the secret shown to
		 * the maker at filing working. */
		free(result);
		result = NULL;
		if ((j = json_pack("{s:s, s:s}", "note", "the change was made; the applier failed "
		    "after it", "error", aerr[0] != '\0' ? aerr : "unknown")) != NULL)
			result = json_dumps(j, JSON_COMPACT);
		json_decref(j);
		j = NULL;
		ok = 1;
	}
	if (ok) {
		/* Only JSON goes into the record. */
		if (result == NULL)
			j = json_object();
		else if ((j = json_loads(result, JSON_DECODE_ANY, NULL)) == NULL)
			j = json_pack("{s:s}", "error", "the applier returned no JSON");
	} else
		j = json_pack("{s:s}", "error", aerr[0] != '\0' ? aerr : "the change failed");
	free(result);
	if (j != NULL)
		text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	/* The decider's row commits with the outcome it reports. */
	staged = checker != NULL &&
	    approvals_event_stage(ctx, "approval.apply", checker, a, ok ? "ok" : "error");
	rc = store_approval_transition(ctx->store, a->id, STORE_APPROVAL_APPROVED,
	    ok ? STORE_APPROVAL_APPLIED : STORE_APPROVAL_FAILED, 0, clock_now(), NULL,
	    clock_now(), text != NULL ? text : "{}");
	free(text);
	if (checker != NULL)
		approvals_event_staged(ctx, staged, rc == STORE_OK, "approval.apply", checker, a,
		    ok ? "ok" : "error");
	if (rc != STORE_OK)
		return store_fail(rc, err, errlen);
	if (checker == NULL)
		approvals_event_recovered(ctx, a, ok ? "ok" : "error");
	return 0;
}

/* Recovery reads the approved, unclaimed admin changes this many at a
 * time, walking them all. */
#define RECOVER_PAGE	100

/* Finishes approval a if this process wins its claim: 1 applied (the
 * outcome recorded), 0 left alone (another process holds or finished it,
 * or this one cannot apply it yet). */
static int
recover_one(struct gh_ctx *ctx, const struct store_approval *a, int64_t now)
{
	char err[256];

	if (a->decided_at > now - APPROVALS_RECOVER_AFTER || approvals_applier(a->kind) == NULL)
		return 0;
	/* One node applies it: the claim is a guarded update, and another
	 * node's recovery, or a decider that has not finished, holds it. */
	if (store_approval_claim(ctx->store, a->id, now, now + APPROVALS_CLAIM_LEASE) != STORE_OK)
		return 0;
	log_event(LOG_WARN, "approval.recovering", json_pack("{s:s, s:s, s:I}", "approval", a->id,
	    "kind", a->kind, "decided_at", (json_int_t)a->decided_at));
	/* The server applies it, not the checker: the trail says so. */
	return apply(ctx, NULL, a, err, sizeof(err)) == 0;
}

int
approvals_recover(struct gh_ctx *ctx, int64_t now, int *recovered)
{
	char after[APPROVAL_ID_LEN + 1] = "";
	struct store_approval *page;
	size_t n;
	int more;

	*recovered = 0;
	/* Every one, a page at a time in id order: a claimed or finished
	 * row leaves the set, a skipped one is passed by the cursor. */
	do {
		if (store_approval_unclaimed(ctx->store, now, after, RECOVER_PAGE, &page, &n) !=
		    STORE_OK)
			return -1;
		for (size_t i = 0; i < n; i++)
			*recovered += recover_one(ctx, &page[i], now);
		/* Ids are ours (approvals_file): one longer could not move
		 * the cursor on, and ends the walk. */
		more = n == RECOVER_PAGE && snprintf(after, sizeof(after), "%s",
		    page[n - 1].id) < (int)sizeof(after);
		store_approval_free(page, n);
	} while (more);
	return 0;
}

/* Whether checker may decide a, as loaded for id, now: 0, or the status
 * with the reason in err. The caller records the refusal. */
static int
decide_check(const struct approval_actor *checker, const struct store_approval *a,
    const char *id, int approve, int64_t now, char *err, size_t errlen)
{
	enum store_approval_state st;

	if (strcmp(a->maker, checker->client_id) == 0)
		return fail(err, errlen, 403, "a maker cannot %s its own request",
		    approve ? "approve" : "reject");
	/* A second person, not a second client of the maker's: an admin may
	 * make a sandbox admin client with nobody's approval (sandbox changes
	 * are not critical under maker_checker = production), so a sandbox
	 * client decides nothing. A production admin client is itself made
	 * only with another admin's approval. */
	if (checker->env != STORE_ENV_PRODUCTION)
		return fail(err, errlen, 403, "approving or rejecting needs a production client: "
		    "a sandbox client can be made without anyone's approval");
	if ((st = approvals_state_now(a, now)) != STORE_APPROVAL_PENDING)
		return fail(err, errlen, 409, "approval %s is %s: only a pending one can be decided",
		    id, store_approval_state_names[st]);
	if (approve && strcmp(a->kind, APPROVAL_KIND_CALL) != 0 &&
	    approvals_applier(a->kind) == NULL)
		return fail(err, errlen, 500, "this process cannot apply %s changes", a->kind);
	return 0;
}

/*
 * The checker must be a second person, not only a second client: nobody
 * may act both as the maker and as the checker (held.h). 0, or the status
 * with the reason in err (client ids only, never a secret).
 */
static int
second_person(struct gh_ctx *ctx, const struct approval_actor *checker,
    const struct store_approval *a, int64_t now, char *err, size_t errlen)
{
	struct approvals_held *hc = calloc(2, sizeof(*hc)), *hm = hc + 1;
	const char *both;
	int rc;

	if (hc == NULL)
		return fail(err, errlen, 500, "out of memory");
	if ((rc = approvals_held_by(ctx->store, checker->client_id, now, hc, err, errlen)) != 0 ||
	    (rc = approvals_held_by(ctx->store, a->maker, now, hm, err, errlen)) != 0)
		goto out;
	if (approvals_held_has(hc, a->maker))
		rc = fail(err, errlen, 403, "this client's credentials were issued through %s, the "
		    "maker of this request, who may therefore act as this client: another admin "
		    "must decide it", a->maker);
	else if (approvals_held_has(hm, checker->client_id))
		rc = fail(err, errlen, 403, "the maker's credentials were issued through this "
		    "client, which may therefore act as the maker: another admin must decide it");
	else if ((both = approvals_held_common(hc, hm)) != NULL)
		rc = fail(err, errlen, 403, "this client's credentials and the maker's were both "
		    "issued through %s, who may therefore act as either: another admin must "
		    "decide it", both);
out:
	free(hc);
	return rc;
}

int
approvals_decide(struct gh_ctx *ctx, const struct approval_actor *checker, const char *id,
    int approve, struct store_approval *out, char *err, size_t errlen)
{
	const char *action = approve ? "approval.approve" : "approval.reject";
	struct store_approval a;
	int64_t now = clock_now();
	int rc, staged;

	memset(out, 0, sizeof(*out));
	if ((rc = load_visible(ctx, checker, id, &a, err, errlen)) != 0)
		return rc;
	/* After the load: a decision refused for the role is on the trail
	 * with the approval it tried, as every other refused decision. */
	if ((checker->roles & STORE_ROLE_ADMIN) == 0) {
		rc = fail(err, errlen, 403, "approving or rejecting needs the admin role");
		goto refused;
	}
	if ((rc = decide_check(checker, &a, id, approve, now, err, errlen)) != 0 ||
	    (rc = second_person(ctx, checker, &a, now, err, errlen)) != 0)
		goto refused;
	staged = approvals_event_stage(ctx, action, checker, &a, "ok");
	rc = store_approval_transition(ctx->store, id, STORE_APPROVAL_PENDING,
	    approve ? STORE_APPROVAL_APPROVED : STORE_APPROVAL_REJECTED, 1, now,
	    checker->client_id, 0, NULL);
	approvals_event_staged(ctx, staged, rc == STORE_OK, action, checker, &a, "ok");
	if (rc != STORE_OK) {
		/* Lost a race with another decision, or it expired meanwhile. */
		rc = store_fail(rc, err, errlen);
		goto refused;
	}
	test_fault_point("approval-after-decide");
	/* This call won the decision, and applies the change if it still
	 * holds the claim (recovery takes a decision older than
	 * APPROVALS_RECOVER_AFTER): else another process applies it, once. */
	if (approve && strcmp(a.kind, APPROVAL_KIND_CALL) != 0) {
		rc = store_approval_claim(ctx->store, id, now, now + APPROVALS_CLAIM_LEASE);
		if (rc == STORE_OK)
			rc = apply(ctx, checker, &a, err, errlen);
		else if (rc != STORE_CONFLICT)
			rc = store_fail(rc, err, errlen);	/* recovery finishes it */
		else
			rc = 0;
		if (rc != 0) {
			store_approval_clear(&a);
			return rc;
		}
	}
	store_approval_clear(&a);
	if ((rc = store_approval_get(ctx->store, id, out)) != STORE_OK)
		return store_fail(rc, err, errlen);
	return 0;
refused:
	approvals_event(ctx, action, checker, &a, "refused");
	store_approval_clear(&a);
	return rc;
}

/* 1 when an approval's stored target is path followed by rest (the raw
 * remainder of the call's target): the query byte for byte, and none
 * only where none was filed. */
static int
target_is(const char *stored, const char *path, const char *rest)
{
	size_t pn = strlen(path);

	return strncmp(stored, path, pn) == 0 && strcmp(stored + pn, rest) == 0;
}

int
approvals_consume(struct gh_ctx *ctx, const char *id, const struct approval_actor *caller,
    const char *method, const char *path, const char *rest, const char *body_digest,
    char bound[APPROVALS_DIGEST_MAX], char *err, size_t errlen)
{
	struct store_approval a;
	enum store_approval_state st;
	char want[APPROVALS_DIGEST_MAX] = "", given[APPROVALS_DIGEST_MAX] = "";
	const char *m, *p, *d;
	json_t *j = NULL;
	int64_t now = clock_now();
	int rc, staged;

	if (body_digest != NULL && digest_norm(body_digest, given) == -1)
		return fail(err, errlen, 400, "the body digest must be \"sha256:\" and 64 hex digits");
	if ((rc = load_visible(ctx, NULL, id, &a, err, errlen)) != 0)
		return rc;
	if (strcmp(a.tenant_id, caller->tenant_id) != 0) {
		/* Another tenant's id reads as unknown: ids do not leak. */
		rc = fail(err, errlen, 404, "approval %s does not exist", id);
		goto out;
	}
	if (strcmp(a.kind, APPROVAL_KIND_CALL) != 0) {
		rc = fail(err, errlen, 403, "approval %s is for a %s change, not a call", id, a.kind);
		goto out;
	}
	if ((st = approvals_state_now(&a, now)) != STORE_APPROVAL_APPROVED) {
		rc = fail(err, errlen, 409, "approval %s is %s, not approved and unused", id,
		    store_approval_state_names[st]);
		goto out;
	}
	if ((j = json_loads(a.payload, 0, NULL)) == NULL ||
	    json_unpack(j, "{s:s, s:s, s:s}", "method", &m, "path", &p, "body_digest", &d) != 0) {
		rc = fail(err, errlen, 500, "approval %s has a malformed call", id);
		goto out;
	}
	snprintf(want, sizeof(want), "%s", d);
	if (strcmp(m, method) != 0 || !target_is(p, path, rest)) {
		rc = fail(err, errlen, 403, "approval %s is for %.10s %.200s, not this call", id, m, p);
		goto out;
	}
	if (want[0] != '\0' && given[0] == '\0') {
		rc = fail(err, errlen, 403, "approval %s binds the request body: the gate needs "
		    "X-Original-Body-Digest", id);
		goto out;
	}
	if (want[0] != '\0' && strcmp(want, given) != 0) {
		rc = fail(err, errlen, 403, "the request body does not match approval %s", id);
		goto out;
	}
	/* The one use: APPROVED -> USED, guarded; a concurrent use loses. */
	staged = approvals_event_stage(ctx, "approval.use", caller, &a, "ok");
	rc = store_approval_transition(ctx->store, id, STORE_APPROVAL_APPROVED,
	    STORE_APPROVAL_USED, 1, now, NULL, now, NULL);
	approvals_event_staged(ctx, staged, rc == STORE_OK, "approval.use", caller, &a, "ok");
	if (rc != STORE_OK) {
		rc = store_fail(rc, err, errlen);
		goto out;
	}
	if (bound != NULL)
		snprintf(bound, APPROVALS_DIGEST_MAX, "%s", want);
	rc = 0;
out:
	json_decref(j);
	store_approval_clear(&a);
	return rc;
}

static json_t *
parsed_or_null(const char *s)
{
	json_t *j = s != NULL && s[0] != '\0' ? json_loads(s, JSON_DECODE_ANY, NULL) : NULL;

	return j != NULL ? j : json_null();
}

/* A payload as shown to principals and operators: a secret's keyed hash
 * (a change that makes a secret carries it until applied) is not shown. */
static json_t *
shown_payload(const char *s)
{
	json_t *j = parsed_or_null(s);

	if (json_is_object(j) && json_object_get(j, "secret_hash") != NULL)
		json_object_set_new(j, "secret_hash", json_string("(withheld)"));
	return j;
}

json_t *
approvals_json(const struct store_approval *a, int64_t now)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s?, s:o, s:o, s:o, s:o, s:o}",
	    "id", a->id, "tenant", a->tenant_id, "kind", a->kind, "maker", a->maker,
	    "maker_tenant", a->maker_tenant, "payload", shown_payload(a->payload),
	    "reason", a->reason, "state", store_approval_state_names[approvals_state_now(a, now)],
	    "checker", a->checker[0] != '\0' ? a->checker : NULL,
	    "created_at", views_time(a->created_at), "expires_at", views_time(a->expires_at),
	    "decided_at", views_time(a->decided_at), "used_at", views_time(a->used_at),
	    "result", parsed_or_null(a->result));
}
