/*
 * admin.c — the admin API's dispatch (see admin.h): one prefix route per
 * method hands every /admin/v1/ call here; the path is matched against the
 * operation tables of admin_clients.c and admin_misc.c, the bearer token
 * verified, the role checked, the JSON body parsed, and for a write the
 * X-Request-ID claimed as an idempotency key around the operation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/critical.h"
#include "admin/idempotency.h"
#include "admin/internal.h"
#include "approvals/approvals.h"
#include "http/params.h"
#include "net/cidr.h"
#include "oauth/client_cache.h"
#include "server/routes.h"
#include "util/util.h"

/* -- answers ------------------------------------------------------------------ */

void
admin_answer(struct admin_call *c, int status, json_t *body)
{
	http_response_json(&c->x->resp, status, body);
	http_response_header(&c->x->resp, "Cache-Control", "no-store");
	c->answered = 1;
}

void
admin_error(struct admin_call *c, int status, const char *code, const char *fmt, ...)
{
	char desc[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	/* It may quote the client, cut short: packed as JSON it must be UTF-8. */
	str_scrub_utf8(desc);
	admin_answer(c, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc));
	c->x->resp.reason = code;
}

void
admin_manage_error(struct admin_call *c, const char *err)
{
	/* manage's own words say which refusal it is, and come before any
	 * quote: what a quote starts is the caller's input echoed (a ttl
	 * of "does not exist" is a bad ttl, not a missing client). */
	char own[256];

	snprintf(own, sizeof(own), "%.*s", (int)strcspn(err, "\"'"), err);
	/* A client's secret that is not there is a missing resource, as
	 * one whose id does not parse (admin_clients.c secret_revoke). */
	if (strstr(own, "does not exist") != NULL || strstr(own, "has no secret") != NULL)
		admin_error(c, 404, "not_found", "%s", err);
	else if (strstr(own, STORE_SUPERSEDED_WORDS) != NULL)
		/* Before "store:": not the store failing, and not worth
		 * trying again; the call that took over gives the answer. */
		admin_error(c, 409, "conflict", "%s", err);
	else if (strncmp(own, "store:", 6) == 0 || strcmp(own, "out of memory") == 0)
		admin_error(c, 503, "temporarily_unavailable", "%s", err);
	else if (strstr(own, "already exists") != NULL || strstr(own, "live secrets") != NULL ||
	    strstr(own, "is disabled") != NULL || strstr(own, "already") != NULL)
		admin_error(c, 409, "conflict", "%s", err);
	else
		admin_error(c, 400, "invalid_request", "%s", err);
}

void
admin_store_error(struct admin_call *c, int rc)
{
	if (rc == STORE_SUPERSEDED)
		admin_error(c, 409, "conflict", "%s", store_last_error());
	else
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
}

/* -- queries ------------------------------------------------------------------ */

int
admin_query(struct admin_call *c, struct http_params *q, const char *const known[])
{
	const char *why;
	char field[HTTP_MAX_FIELD_NAME], names[256] = "";
	size_t i, k;
	int rc;

	memset(q, 0, sizeof(*q));
	if ((rc = http_form_parse(c->x->req.query, strlen(c->x->req.query), q, &why, field)) != 0) {
		if (rc == HTTP_PARSE_NOMEM)
			admin_error(c, 500, "server_error", "out of memory");
		else
			admin_error(c, 400, "invalid_request", "query: %s", why);
		return -1;
	}
	for (i = 0; i < q->n; i++) {
		for (k = 0; known[k] != NULL; k++)
			if (strcmp(q->items[i].name, known[k]) == 0)
				break;
		if (known[k] == NULL)
			break;
	}
	if (i == q->n)
		return 0;
	for (k = 0; known[k] != NULL; k++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", k ? ", " : "",
		    known[k]);
	admin_error(c, 400, "invalid_request", "unknown query parameter \"%.64s\" (known: %s)",
	    q->items[i].name, names);
	http_params_clear(q);
	return -1;
}

int
admin_query_i64(struct admin_call *c, const struct http_params *q, const char *name, int64_t min,
    int64_t max, int64_t *out)
{
	const char *v = http_params_get(q, name), *why;

	if (v == NULL)
		return 0;
	if (num_parse_i64(v, strlen(v), min, max, out, &why) == -1) {
		admin_error(c, 400, "invalid_request", "%s: %s (%lld..%lld)", name, why,
		    (long long)min, (long long)max);
		return -1;
	}
	return 0;
}

/* -- access ------------------------------------------------------------------- */

int
admin_tenant_visible(const struct admin_call *c, const char *tenant_id)
{
	return c->platform || strcmp(c->p->tenant_id, tenant_id) == 0;
}

int
admin_client_get(struct admin_call *c, const char *id, struct store_client *out)
{
	int rc = store_client_get(c->ctx->store, id, out);

	if (rc == STORE_OK && admin_tenant_visible(c, out->tenant_id)) {
		snprintf(c->tenant, sizeof(c->tenant), "%s", out->tenant_id);
		admin_audit_restage(c);
		return 0;
	}
	if (rc == STORE_OK)
		store_client_clear(out);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		admin_error(c, 404, "not_found", "client %.128s does not exist", id);
	else
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
	return -1;
}

int
admin_require_platform(struct admin_call *c, const char *what)
{
	if (c->platform)
		return 0;
	admin_error(c, 403, "forbidden", "%s belong to the platform tenant (%s): only its principals manage them",
	    what, c->ctx->cfg->platform_tenant);
	return -1;
}

/* -- fields ------------------------------------------------------------------- */

int
admin_fields(struct admin_call *c, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(c->body, key, v) {
		char names[400] = "";
		size_t i, used = 0;
		json_t *k;

		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(allowed[i], key) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		for (i = 0; allowed[i] != NULL && used < sizeof(names); i++)
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s",
			    i ? ", " : "", allowed[i]);
		/* The name as a JSON string: quoted and escaped, whatever it holds. */
		k = json_stringn(key, strlen(key) > 64 ? 64 : strlen(key));
		{
			char *q = json_dumps(k ? k : json_null(), JSON_ENCODE_ANY);
			admin_error(c, 400, "invalid_request", "unknown field %s (this call takes: %s)",
			    q ? q : "?", names[0] ? names : "no fields");
			free(q);
		}
		json_decref(k);
		return -1;
	}
	return 0;
}

int
admin_str(struct admin_call *c, const char *name, const char **out)
{
	json_t *v = json_object_get(c->body, name);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (!json_is_string(v)) {
		admin_error(c, 400, "invalid_request", "%s: must be a string", name);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
admin_list(struct admin_call *c, const char *name, char sep, char *buf, size_t len, int *present)
{
	json_t *v = json_object_get(c->body, name), *e;
	size_t used = 0, i;

	*present = 0;
	buf[0] = '\0';
	if (v == NULL)
		return 0;
	*present = 1;
	if (json_is_string(v)) {
		if (json_string_length(v) >= len)
			goto long_;
		memcpy(buf, json_string_value(v), json_string_length(v) + 1);
		if (strlen(buf) != json_string_length(v)) {
			admin_error(c, 400, "invalid_request", "%s: has a NUL character", name);
			return -1;
		}
		return 0;
	}
	if (!json_is_array(v)) {
		admin_error(c, 400, "invalid_request", "%s: must be an array of strings (or one string)", name);
		return -1;
	}
	json_array_foreach(v, i, e) {
		size_t n;
		if (!json_is_string(e)) {
			admin_error(c, 400, "invalid_request", "%s[%zu]: must be a string", name, i);
			return -1;
		}
		n = json_string_length(e);
		if (n == 0 || strlen(json_string_value(e)) != n || strchr(json_string_value(e), sep) != NULL) {
			admin_error(c, 400, "invalid_request", "%s[%zu]: must be a non-empty string without '%c'",
			    name, i, sep);
			return -1;
		}
		if (used + n + 2 > len)
			goto long_;
		if (used > 0)
			buf[used++] = sep;
		memcpy(buf + used, json_string_value(e), n + 1);
		used += n;
	}
	return 0;
long_:
	admin_error(c, 400, "invalid_request", "%s: longer than %zu bytes", name, len - 1);
	return -1;
}

int
admin_num(struct admin_call *c, const char *name, char *buf, size_t len, const char **out)
{
	json_t *v = json_object_get(c->body, name);

	*out = NULL;
	if (v == NULL)
		return 0;
	if (json_is_integer(v))
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v) && json_string_length(v) < len && json_string_length(v) > 0 &&
	    strlen(json_string_value(v)) == json_string_length(v))
		snprintf(buf, len, "%s", json_string_value(v));
	else {
		admin_error(c, 400, "invalid_request", "%s: must be an integer (or a duration such as \"15m\")", name);
		return -1;
	}
	*out = buf;
	return 0;
}

int
admin_bool(struct admin_call *c, const char *name, int *out, int dflt)
{
	json_t *v = json_object_get(c->body, name);

	*out = dflt;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		admin_error(c, 400, "invalid_request", "%s: must be true or false", name);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* -- dispatch ----------------------------------------------------------------- */

/* Matches path (after the prefix) against pattern; {} takes one segment of
 * identifier characters. 1 on a match, with the segments in args. */
static int
path_match(const char *pattern, const char *path, char args[ADMIN_MAX_ARGS][129])
{
	size_t na = 0;

	for (size_t i = 0; i < ADMIN_MAX_ARGS; i++)	/* none left from before */
		args[i][0] = '\0';
	while (*pattern != '\0' || *path != '\0') {
		if (pattern[0] == '{' && pattern[1] == '}') {
			size_t n = strcspn(path, "/");
			if (n == 0 || na == ADMIN_MAX_ARGS || !str_is_ident(path, n, 128))
				return 0;
			memcpy(args[na], path, n);
			args[na++][n] = '\0';
			path += n;
			pattern += 2;
			continue;
		}
		if (*pattern != *path)
			return 0;
		pattern++;
		path++;
	}
	return 1;
}

static const struct admin_op *
find_op(enum http_method m, const char *rest, char args[ADMIN_MAX_ARGS][129], int *known,
    char *allow, size_t allowlen)
{
	const struct {
		const struct admin_op	*ops;
		size_t			 n;
	} tables[] = { { admin_client_ops, admin_nclient_ops }, { admin_misc_ops, admin_nmisc_ops },
	    { admin_audit_ops, admin_naudit_ops } };
	const struct admin_op *hit = NULL;
	size_t used = 0;
	char scratch[ADMIN_MAX_ARGS][129] = { "" };

	*known = 0;
	allow[0] = '\0';
	for (size_t t = 0; t < GH_ARRAY_LEN(tables); t++)
		for (size_t i = 0; i < tables[t].n; i++) {
			const struct admin_op *op = &tables[t].ops[i];
			if (!path_match(op->pattern, rest, scratch))
				continue;
			*known = 1;
			/* RFC 9110 §15.5.6: every method served, HEAD with GET. */
			if (used < allowlen)
				used += (size_t)snprintf(allow + used, allowlen - used, "%s%s%s",
				    used ? ", " : "", http_method_names[op->method],
				    op->method == HTTP_GET ? ", HEAD" : "");
			if (hit == NULL && (op->method == m || (m == HTTP_HEAD && op->method == HTTP_GET))) {
				hit = op;
				memcpy(args, scratch, sizeof(scratch));
			}
		}
	return hit;
}

enum admin_level
admin_level_of(unsigned roles)
{
	if (roles & STORE_ROLE_ADMIN)
		return ADMIN_ADMIN;
	if (roles & STORE_ROLE_OPERATOR)
		return ADMIN_OPERATOR;
	return roles & STORE_ROLE_VIEWER ? ADMIN_VIEWER : (enum admin_level)0;
}

static const char *const level_names[] = { "none", "viewer", "operator", "admin" };

/* Takes the bearer token from the request and verifies it into c->p; -1
 * after a 400, 401 or 503. */
static int
verify_bearer(struct admin_call *c)
{
	struct gate_refusal why;
	const char *a = NULL;
	size_t len = 0;
	int has;
	char hdr[300];

	/* RFC 6750 §3.1: a repeated header is a malformed request (400); no
	 * token gets a bare challenge. */
	if ((has = gate_bearer_token(&c->x->req, &a, &len)) == -1) {
		admin_error(c, 400, "invalid_request", "the Authorization header is repeated");
		return -1;
	}
	if (has == 0) {
		admin_error(c, 401, "invalid_token",
		    "the admin API needs \"Authorization: Bearer TOKEN\" (a gatehouse access token)");
		http_response_header(&c->x->resp, "WWW-Authenticate", "Bearer realm=\"gatehouse-admin\"");
		return -1;
	}
	(void)ctx_refresh(c->ctx);
	if (!gate_token_syntax_ok(a, len) ||
	    gate_bearer_verify(c->ctx, a, len, 0, clock_now(), &c->p, &why) == -1) {
		if (!gate_token_syntax_ok(a, len))
			gate_refuse(&why, 401, "invalid_token", "token_syntax", "the token is not an RFC 6750 b64token");
		admin_error(c, why.status, why.status == 401 ? "invalid_token" : "temporarily_unavailable",
		    "%s", why.description);
		if (why.status == 401) {
			snprintf(hdr, sizeof(hdr), "Bearer realm=\"gatehouse-admin\", error=\"invalid_token\"");
			http_response_header(&c->x->resp, "WWW-Authenticate", hdr);
		}
		return -1;
	}
	return 0;
}

/* X-TENANT-ID is not needed here (the token names the tenant), but
 * one that names another is refused, as at the gate and /approvals:
 * a caller that believes it acts for that tenant is told it does not.
 * -1 after a 400 or 403. */
static int
check_tenant_header(struct admin_call *c)
{
	size_t nt = 0;
	const char *tenant = http_request_header(&c->x->req, "X-TENANT-ID", &nt);

	if (nt > 1) {
		admin_error(c, 400, "invalid_request", "the X-TENANT-ID header is repeated");
		return -1;
	}
	if (tenant != NULL && strcmp(tenant, c->p->tenant_id) != 0) {
		admin_error(c, 403, "forbidden", "the token belongs to another tenant than "
		    "X-TENANT-ID names (platform principals name a tenant with ?tenant=)");
		return -1;
	}
	return 0;
}

/* Verifies the bearer token, then the client's allowlist and X-TENANT-ID,
 * and sets the caller's level; -1 after an answer (400, 401, 403, 503). */
static int
authenticate(struct admin_call *c)
{
	/* Bearer tokens only over HTTPS, as the token endpoint (RFC 6750 §5.3). */
	if (c->ctx->require_https && !c->https) {
		admin_error(c, 400, "invalid_request", "admin calls must use HTTPS (RFC 6750 §5.3)");
		return -1;
	}
	if (verify_bearer(c) == -1)
		return -1;
	/* RFC 9068 §4: a token asked for another API (audience=, a policy's
	 * aud= rule) is that API's, which receives it with every call: it
	 * must not act here with its client's roles. */
	if (!gate_principal_has_aud(c->p, c->ctx->issuer)) {
		admin_error(c, 401, "invalid_token", "the token is for another audience: the admin "
		    "API takes tokens issued for gatehouse itself (aud %.200s)", c->ctx->issuer);
		http_response_header(&c->x->resp, "WWW-Authenticate",
		    "Bearer realm=\"gatehouse-admin\", error=\"invalid_token\"");
		return -1;
	}
	/* The client's address allowlist holds for its admin calls too. */
	if (c->p->client != NULL && c->p->client->allow.n > 0 && !cidr_match(&c->p->client->allow, c->addr)) {
		admin_error(c, 403, "forbidden", "calls from %s are not allowed for this client", c->addr);
		return -1;
	}
	snprintf(c->x->resp.log_client, sizeof(c->x->resp.log_client), "%.64s", c->p->client_id);
	snprintf(c->x->resp.log_tenant, sizeof(c->x->resp.log_tenant), "%.64s", c->p->tenant_id);
	if (check_tenant_header(c) == -1)
		return -1;
	c->level = admin_level_of(c->p->roles);
	c->platform = strcmp(c->p->tenant_id, c->ctx->cfg->platform_tenant) == 0;
	return 0;
}

static int
parse_body(struct admin_call *c)
{
	const struct http_request *r = &c->x->req;
	const char *ct = http_request_header(r, "Content-Type", NULL);
	json_error_t je;

	if (r->body_len == 0) {
		c->body = json_object();
		return 0;
	}
	if (!http_media_is(ct, "application/json")) {
		admin_error(c, 415, "invalid_request", "the body must be application/json");
		return -1;
	}
	if ((c->body = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		char where[HTTP_JSON_ERROR_MAX];
		http_json_error(&je, where, sizeof(where));
		admin_error(c, 400, "invalid_request", "malformed JSON: %s", where);
		return -1;
	}
	if (!json_is_object(c->body)) {
		admin_error(c, 400, "invalid_request", "the body must be a JSON object");
		return -1;
	}
	return 0;
}

static enum http_result
admin_handle(struct http_exchange *x)
{
	struct admin_call c;
	const struct admin_op *op;
	struct idem_claim claim;
	const char *rest;
	char allow[128];
	int known;

	memset(&c, 0, sizeof(c));
	memset(&claim, 0, sizeof(claim));
	c.x = x;
	c.ctx = x->route_ctx;
	rest = x->req.path + strlen(ADMIN_PREFIX);
	if (x->req.query[0] != '\0' && x->req.method != HTTP_GET && x->req.method != HTTP_HEAD) {
		admin_error(&c, 400, "invalid_request", "writes take no query string; put fields in the JSON body");
		return HTTP_DONE;
	}
	if ((op = find_op(x->req.method, rest, c.arg, &known, allow, sizeof(allow))) == NULL) {
		if (known) {
			admin_error(&c, 405, "invalid_request", "method not allowed on this path");
			http_response_header(&x->resp, "Allow", allow);
		} else
			admin_error(&c, 404, "not_found", "no admin route for this path");
		return HTTP_DONE;
	}
	if (ctx_client_address(c.ctx, &x->req, c.addr, &c.https) == -1) {
		admin_error(&c, 400, "invalid_request", CTX_UNKNOWN_CALLER);
		return HTTP_DONE;
	}
	/* Approvals this call files (admin/critical.c) carry its request id
	 * and address on the trail, as those filed through /approvals do. */
	approvals_origin(x->req.request_id, c.addr);
	if (authenticate(&c) == -1)
		goto out;
	if (c.level < op->level) {
		admin_error(&c, 403, "forbidden", "this call needs the %s role (the token has %s)",
		    level_names[op->level], c.p->roles_text[0] ? c.p->roles_text : "none");
		goto out;
	}
	if (op->method != HTTP_GET) {
		if (parse_body(&c) == -1)
			goto out;
		if (idem_begin(c.ctx->store, &c.p->client->c, &x->req, &claim, &x->resp) ==
		    IDEM_ANSWERED) {
			c.idem_answered = 1;
			goto out;
		}
	} else if (x->req.body_len > 0) {
		admin_error(&c, 400, "invalid_request", "a GET takes no body");
		goto out;
	}
	/* A write's success row goes in with its change (admin_audit_stage);
	 * ended before the idempotency record is written. */
	if (op->method != HTTP_GET)
		admin_audit_stage(&c, op->action);
	op->fn(&c);
	admin_audit_unstage(&c);
	if (!c.answered)
		admin_error(&c, 500, "server_error", "the operation gave no answer");
	/* Before the answer: a request the caller makes next, on any
	 * connection, sees the change. */
	if (op->method != HTTP_GET)
		ctx_changed_here(c.ctx);
	idem_finish(c.ctx->store, &claim, &x->resp);
out:
	/* Every change, and every refusal, is on the trail (reads are not:
	 * they change nothing and would drown it). */
	if (op->method != HTTP_GET || x->resp.status == 401 || x->resp.status == 403)
		admin_audit_call(&c, op->action);
	approvals_origin(NULL, NULL);
	json_decref(c.body);
	gate_principal_release(c.p);
	return HTTP_DONE;
}

int
admin_routes_add(struct route_table *t, struct gh_ctx *ctx)
{
	static const enum http_method methods[] = { HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_PATCH,
	    HTTP_DELETE, HTTP_OPTIONS };

	/* Approvals filed here are applied by this process's deciders. */
	if (admin_register_appliers() == -1)
		return -1;

	for (size_t i = 0; i < GH_ARRAY_LEN(methods); i++) {
		struct http_route r;
		memset(&r, 0, sizeof(r));
		r.method = methods[i];
		r.path = ADMIN_PREFIX;
		r.prefix = 1;
		r.handler = admin_handle;
		r.ctx = ctx;
		r.auth = HTTP_AUTH_BEARER;
		r.max_body = ADMIN_MAX_BODY;
		r.name = "admin";
		if (routes_add_offloaded(t, &r, ctx) == -1)
			return -1;
	}
	return 0;
}
