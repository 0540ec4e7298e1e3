/*
 * api.c — the approvals API (issue 6 part 3), JSON over HTTP, authenticated
 * with gatehouse's own bearer tokens (gate_bearer_verify) and X-TENANT-ID,
 * which is required and must name the token's tenant:
 *
 *   POST /approvals                 file a request for one call (Operator)
 *   GET  /approvals                 list (?state=, ?tenant=, ?limit=)
 *   GET  /approvals/{id}            show
 *   POST /approvals/{id}/approve    decide (Admin, not the maker)
 *   POST /approvals/{id}/reject
 *
 * State-changing calls honour X-Request-ID as an idempotency key
 * (admin/idempotency.h). Errors: {"error": code, "error_description"}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/idempotency.h"
#include "approvals/api.h"
#include "approvals/approvals.h"
#include "audit/audit.h"
#include "gate/bearer.h"
#include "http/params.h"
#include "net/cidr.h"
#include "server/context.h"
#include "server/routes.h"
#include "util/util.h"

#define API_PREFIX	"/approvals/"
#define API_MAX_BODY	16384

const char *const approvals_file_fields[] = { "tenant", "method", "path", "body_digest",
	"reason", NULL };

static const char *
code_of(int status)
{
	switch (status) {
	case 400: return "invalid_request";
	case 401: return "invalid_token";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 409: return "conflict";
	case 415: return "unsupported_media_type";
	case 503: return "temporarily_unavailable";
	default: return "server_error";
	}
}

static void
answer_error(struct http_exchange *x, int status, const char *why)
{
	char desc[256];

	/* It may quote the client, cut short: packed as JSON it must be UTF-8. */
	snprintf(desc, sizeof(desc), "%s", why);
	str_scrub_utf8(desc);
	http_response_json(&x->resp, status, json_pack("{s:s, s:s}", "error", code_of(status),
	    "error_description", desc));
	x->resp.reason = code_of(status);
	http_response_header(&x->resp, "Cache-Control", "no-store");
	if (status == 401)
		http_response_header(&x->resp, "WWW-Authenticate",
		    "Bearer error=\"invalid_token\"");
}

/* The caller: a valid gatehouse bearer token and X-TENANT-ID naming its
 * tenant. 0 with *a and *pp (a reference) filled, or -1 after answering,
 * *pp then the token's holder when it was valid (for the audit row), else
 * NULL: the caller releases it either way. */
static int
authenticate(struct gh_ctx *ctx, struct http_exchange *x, struct approval_actor *a,
    struct gate_principal **pp)
{
	struct gate_refusal why;
	const char *tok = NULL, *tenant;
	char addr[46];
	size_t toklen = 0, nt = 0;
	int https = 0, has;

	*pp = NULL;
	if (ctx_client_address(ctx, &x->req, addr, &https) == -1) {
		answer_error(x, 400, CTX_UNKNOWN_CALLER);
		return -1;
	}
	approvals_origin(x->req.request_id, addr);
	/* Bearer tokens only over HTTPS, as the admin API and the token
	 * endpoint (RFC 6750 §5.3): a token sent in the clear is anyone's
	 * who reads it, to file and decide approvals with. */
	if (ctx->require_https && !https) {
		answer_error(x, 400, "approval calls must use HTTPS (RFC 6750 §5.3)");
		return -1;
	}
	if ((has = gate_bearer_token(&x->req, &tok, &toklen)) == -1) {
		answer_error(x, 400, "the Authorization header is repeated");
		return -1;
	}
	if (has == 0) {
		http_response_json(&x->resp, 401, json_pack("{s:s, s:s}", "error", "invalid_token",
		    "error_description", "a gatehouse bearer token is required (Authorization: Bearer ...)"));
		x->resp.reason = "no_token";
		http_response_header(&x->resp, "WWW-Authenticate", "Bearer");
		http_response_header(&x->resp, "Cache-Control", "no-store");
		return -1;
	}
	if (!gate_token_syntax_ok(tok, toklen)) {
		answer_error(x, 401, "the bearer token is malformed");
		return -1;
	}
	(void)ctx_refresh(ctx);
	memset(&why, 0, sizeof(why));
	if (gate_bearer_verify(ctx, tok, toklen, 0, clock_now(), pp, &why) == -1) {
		answer_error(x, why.status == 503 ? 503 : 401, why.description);
		return -1;
	}
	snprintf(x->resp.log_client, sizeof(x->resp.log_client), "%.64s", (*pp)->client_id);
	snprintf(x->resp.log_tenant, sizeof(x->resp.log_tenant), "%.64s", (*pp)->tenant_id);
	/* RFC 9068 §4: a token asked for another API (audience=) is that
	 * API's, which receives it with every call: it files and decides
	 * nothing here. */
	if (!gate_principal_has_aud(*pp, ctx->issuer)) {
		answer_error(x, 401, "the token is for another audience: approvals take tokens "
		    "issued for gatehouse itself");
		return -1;
	}
	tenant = http_request_header(&x->req, "X-TENANT-ID", &nt);
	if (tenant == NULL || nt != 1) {
		answer_error(x, 400, nt > 1 ? "the X-TENANT-ID header is repeated" :
		    "the X-TENANT-ID header is required");
		return -1;
	}
	if (strcmp(tenant, (*pp)->tenant_id) != 0) {
		answer_error(x, 403, "the token belongs to another tenant than X-TENANT-ID names");
		return -1;
	}
	if ((*pp)->client->allow.n > 0 && !cidr_match(&(*pp)->client->allow, addr)) {
		answer_error(x, 403, "calls from this address are not allowed for this client");
		return -1;
	}
	memset(a, 0, sizeof(*a));
	snprintf(a->client_id, sizeof(a->client_id), "%s", (*pp)->client_id);
	snprintf(a->tenant_id, sizeof(a->tenant_id), "%s", (*pp)->tenant_id);
	a->roles = (*pp)->roles;
	a->env = (*pp)->env;
	return 0;
}

/*
 * A call turned away (401, 403) on the trail, as the admin API's refusals
 * are: who (p, NULL when the token was not valid), from where, and what it
 * tried (action; target: the approval's id, or ""). approvals_decide
 * records the refusals of an approval it has read itself; this is for the
 * rest. Queued: a refusal changes nothing.
 */
static void
audit_refusal(struct gh_ctx *ctx, struct http_exchange *x, const struct gate_principal *p,
    const char *action, const char *target)
{
	struct audit_event ev;
	char addr[46], detail[32];
	int https = 0;

	if (x->resp.status != 401 && x->resp.status != 403)
		return;
	(void)ctx_client_address(ctx, &x->req, addr, &https);	/* the proxy's when unknown */
	snprintf(detail, sizeof(detail), "{\"status\":%d}", x->resp.status);
	memset(&ev, 0, sizeof(ev));
	ev.request_id = x->req.request_id;
	ev.actor = p != NULL ? p->client_id : "";
	ev.tenant = p != NULL ? p->tenant_id : "";
	ev.address = addr;
	ev.action = action;
	ev.target = target;
	ev.outcome = "refused";
	ev.detail = detail;
	(void)audit_emit(ctx, &ev);	/* logs its own failure */
}

int
approvals_body_parse(const char *body, size_t len, const char *const *allowed, json_t **out,
    char *err, size_t errlen)
{
	const char *why = NULL, *k;
	json_t *v;
	int rc;

	*out = NULL;
	if ((rc = http_json_parse(body, len, out, &why)) != 0) {
		snprintf(err, errlen, rc == HTTP_PARSE_NOMEM ? "out of memory" : "malformed JSON body: %s",
		    why != NULL ? why : "not an object");
		return rc == HTTP_PARSE_NOMEM ? 500 : 400;
	}
	json_object_foreach(*out, k, v) {
		size_t i;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], k) == 0)
				break;
		if (allowed[i] == NULL || !json_is_string(v)) {
			snprintf(err, errlen, allowed[i] == NULL ? "unknown field \"%.40s\"" :
			    "field \"%.40s\" must be a string", k);
			json_decref(*out);
			*out = NULL;
			return 400;
		}
	}
	return 0;
}

/* The request's JSON object (an empty body is {} when empty_ok), with only
 * the allowed fields, each a string (approvals_body_parse). *out a new
 * reference; -1 after answering. */
static int
read_body(struct http_exchange *x, const char *const *allowed, int empty_ok, json_t **out)
{
	const char *ct;
	char err[160];
	size_t n = 0;

	*out = NULL;
	if (x->req.body_len == 0 && empty_ok) {
		*out = json_object();
		return 0;
	}
	ct = http_request_header(&x->req, "Content-Type", &n);
	if (n != 1 || !http_media_is(ct, "application/json")) {
		answer_error(x, 415, "Content-Type must be application/json");
		return -1;
	}
	if (approvals_body_parse(x->req.body, x->req.body_len, allowed, out, err,
	    sizeof(err)) != 0) {
		answer_error(x, 400, err);
		return -1;
	}
	return 0;
}

static const char *
field(json_t *o, const char *name)
{
	return json_string_value(json_object_get(o, name));
}

static void
answer_approval(struct http_exchange *x, int status, const struct store_approval *a)
{
	http_response_json(&x->resp, status, approvals_json(a, clock_now()));
	http_response_header(&x->resp, "Cache-Control", "no-store");
}

/* POST /approvals */
static void
file_call(struct gh_ctx *ctx, struct http_exchange *x, const struct approval_actor *me)
{
	struct store_approval a;
	const char *tenant;
	char err[256], loc[64];
	json_t *b;
	int rc;

	if (read_body(x, approvals_file_fields, 0, &b) == -1)
		return;
	tenant = field(b, "tenant") != NULL ? field(b, "tenant") : me->tenant_id;
	rc = approvals_file_call(ctx, me, tenant, field(b, "method"), field(b, "path"),
	    field(b, "body_digest"), field(b, "reason"), &a, err, sizeof(err));
	json_decref(b);
	if (rc != 0) {
		answer_error(x, rc, err);
		return;
	}
	/* 202: the call is not allowed yet; a checker decides. */
	answer_approval(x, 202, &a);
	snprintf(loc, sizeof(loc), "/approvals/%s", a.id);
	http_response_header(&x->resp, "Location", loc);
	store_approval_clear(&a);
}

/* GET /approvals?state=&tenant=&limit=&after=: one page, with the cursor
 * of the next (null: this was the last). */
static void
list(struct gh_ctx *ctx, struct http_exchange *x, const struct approval_actor *me)
{
	struct http_params q;
	struct store_approval *v = NULL;
	enum store_approval_state state = STORE_APPROVAL_STATE__MAX;
	const char *s, *why = NULL;
	char err[256], fieldname[HTTP_MAX_FIELD_NAME], next[MANAGE_CURSOR_MAX + 1];
	int64_t limit = 100;
	size_t n = 0;
	json_t *arr;
	int rc;

	memset(&q, 0, sizeof(q));
	if ((rc = http_form_parse(x->req.query, strlen(x->req.query), &q, &why, fieldname)) != 0) {
		snprintf(err, sizeof(err), "query: %s", why != NULL ? why : "malformed");
		answer_error(x, rc == HTTP_PARSE_NOMEM ? 500 : 400, err);
		return;
	}
	for (size_t i = 0; i < q.n; i++)
		if (strcmp(q.items[i].name, "state") != 0 && strcmp(q.items[i].name, "tenant") != 0 &&
		    strcmp(q.items[i].name, "limit") != 0 && strcmp(q.items[i].name, "after") != 0) {
			snprintf(err, sizeof(err), "unknown query parameter \"%.40s\"", q.items[i].name);
			answer_error(x, 400, err);
			goto out;
		}
	if ((s = http_params_get(&q, "state")) != NULL &&
	    store_approval_state_from_name(s, &state) == -1) {
		answer_error(x, 400, "state: one of pending, approved, rejected, expired, used, "
		    "applied, failed");
		goto out;
	}
	if ((s = http_params_get(&q, "limit")) != NULL &&
	    num_parse_i64(s, strlen(s), 1, 1000, &limit, &why) == -1) {
		answer_error(x, 400, "limit: a number from 1 to 1000");
		goto out;
	}
	rc = approvals_list(ctx, me, http_params_get(&q, "tenant"), state, http_params_get(&q, "after"),
	    (size_t)limit, &v, &n, next, err, sizeof(err));
	if (rc != 0) {
		answer_error(x, rc, err);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++)
		json_array_append_new(arr, approvals_json(&v[i], clock_now()));
	store_approval_free(v, n);
	http_response_json(&x->resp, 200, json_pack("{s:o, s:o}", "approvals", arr,
	    "next", next[0] != '\0' ? json_string(next) : json_null()));
	http_response_header(&x->resp, "Cache-Control", "no-store");
out:
	http_params_clear(&q);
}

/* /approvals/{id}[/approve|/reject]: the id and the action ("" for none);
 * -1 when the path has another shape. */
static int
split(const char *path, char id[APPROVAL_ID_LEN + 1], const char **action)
{
	const char *p = path + strlen(API_PREFIX), *slash = strchr(p, '/');
	size_t n = slash != NULL ? (size_t)(slash - p) : strlen(p);

	if (n == 0 || n > APPROVAL_ID_LEN)
		return -1;
	memcpy(id, p, n);
	id[n] = '\0';
	*action = slash != NULL ? slash + 1 : "";
	return 0;
}

/* The audit action of a call: filing (POST to the list), reading (any
 * GET), or deciding one approval (POST .../approve or .../reject). */
static const char *
call_action(enum http_method m, int is_item, const char *action)
{
	if (m != HTTP_POST)
		return "approval.read";
	if (!is_item)
		return "approval.file";
	return strcmp(action, "approve") == 0 ? "approval.approve" : "approval.reject";
}

static enum http_result
handle(struct http_exchange *x)
{
	struct gh_ctx *ctx = x->route_ctx;
	struct gate_principal *p = NULL;
	struct approval_actor me;
	struct store_approval a;
	struct idem_claim claim;
	char id[APPROVAL_ID_LEN + 1], err[256];
	const char *action = "";
	int is_item = strncmp(x->req.path, API_PREFIX, strlen(API_PREFIX)) == 0;
	int rc;

	memset(&claim, 0, sizeof(claim));
	if (is_item && split(x->req.path, id, &action) == -1) {
		answer_error(x, 404, "no such approval route");
		return HTTP_DONE;
	}
	if (is_item && ((x->req.method == HTTP_POST && strcmp(action, "approve") != 0 &&
	    strcmp(action, "reject") != 0) || (x->req.method != HTTP_POST && action[0] != '\0'))) {
		answer_error(x, 404, "no such approval route");
		return HTTP_DONE;
	}
	if (authenticate(ctx, x, &me, &p) == -1) {
		audit_refusal(ctx, x, p, call_action(x->req.method, is_item, action),
		    is_item ? id : "");
		goto out;
	}
	if (x->req.method == HTTP_POST &&
	    idem_begin(ctx->store, &p->client->c, &x->req, &claim, &x->resp) == IDEM_ANSWERED)
		goto out;
	if (!is_item && x->req.method == HTTP_POST) {
		file_call(ctx, x, &me);
		if (x->resp.status == 403)
			audit_refusal(ctx, x, p, "approval.file", "");
	} else if (!is_item) {
		list(ctx, x, &me);
		if (x->resp.status == 403)
			audit_refusal(ctx, x, p, "approval.read", "");
	}
	else if (x->req.method != HTTP_POST) {
		if ((rc = approvals_get(ctx, &me, id, &a, err, sizeof(err))) != 0)
			answer_error(x, rc, err);
		else {
			answer_approval(x, 200, &a);
			store_approval_clear(&a);
		}
	} else {
		static const char *const none[] = { NULL };
		json_t *b;

		if (read_body(x, none, 1, &b) == 0) {
			json_decref(b);
			rc = approvals_decide(ctx, &me, id, strcmp(action, "approve") == 0, &a, err,
			    sizeof(err));
			if (rc != 0)
				answer_error(x, rc, err);
			else {
				answer_approval(x, 200, &a);
				store_approval_clear(&a);
			}
		}
	}
	idem_finish(ctx->store, &claim, &x->resp);
out:
	approvals_origin(NULL, NULL);
	gate_principal_release(p);
	return HTTP_DONE;
}

/* The paths of the prefix routes (http.h struct http_route serves): GET
 * /approvals/{id}, POST /approvals/{id}/approve and .../reject, so that a
 * 405's Allow names exactly the methods a path has. The id itself is
 * checked by the handler (400 when malformed). */
static int
serves_item(const char *path)
{
	return strchr(path + strlen(API_PREFIX), '/') == NULL;
}

static int
serves_decision(const char *path)
{
	const char *slash = strchr(path + strlen(API_PREFIX), '/');

	return slash != NULL && (strcmp(slash, "/approve") == 0 || strcmp(slash, "/reject") == 0);
}

int
approvals_routes_add(struct route_table *t, struct gh_ctx *ctx)
{
	static const struct {
		enum http_method m;
		const char *path;
		int prefix;
		int (*serves)(const char *);
	} fixed[] = {
		{ HTTP_POST, "/approvals", 0, NULL },
		{ HTTP_GET, "/approvals", 0, NULL },
		{ HTTP_GET, API_PREFIX, 1, serves_item },
		{ HTTP_POST, API_PREFIX, 1, serves_decision },
	};

	for (size_t i = 0; i < GH_ARRAY_LEN(fixed); i++) {
		struct http_route r;

		memset(&r, 0, sizeof(r));
		r.method = fixed[i].m;
		r.path = fixed[i].path;
		r.prefix = fixed[i].prefix;
		r.serves = fixed[i].serves;
		r.handler = handle;
		r.ctx = ctx;
		r.auth = HTTP_AUTH_BEARER;
		r.max_body = API_MAX_BODY;
		r.name = "approvals";
		if (routes_add_offloaded(t, &r, ctx) == -1)
			return -1;
	}
	return 0;
}
