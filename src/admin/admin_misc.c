/*
 * admin_misc.c — /admin/v1/ tenants, tokens, keys, locks and policy. Keys,
 * policy and address locks are the platform's: only platform principals
 * manage them. Key rotation is critical (critical.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin/critical.h"
#include "admin/internal.h"
#include "gate/gate.h"
#include "http/params.h"
#include "keys/keys.h"
#include "manage/manage.h"
#include "manage/views.h"
#include "net/cidr.h"
#include "util/util.h"

static const char *const none[] = { NULL };

/* -- tenants ----------------------------------------------------------------- */

static json_t *
tenant_json(const struct store_tenant *t)
{
	return json_pack("{s:s, s:s, s:o}", "tenant_id", t->id, "name", t->name,
	    "created_at", views_time(t->created_at));
}

/* ?limit=N (1..1000, default 100) &after=CURSOR: one page of the tenants
 * the caller sees (a tenant's principals: their own), by id, with the
 * cursor of the next page (null: this was the last). */
static void
tenants_list(struct admin_call *c)
{
	static const char *const known[] = { "limit", "after", NULL };
	struct http_params q;
	struct store_tenant *ts = NULL;
	size_t n = 0;
	int64_t limit = 100;
	char next[MANAGE_CURSOR_MAX + 1], err[512];
	json_t *arr;

	if (admin_query(c, &q, known) == -1)
		return;
	if (admin_query_i64(c, &q, "limit", 1, 1000, &limit) == -1)
		goto out;
	if (manage_tenant_page(c->ctx->store, c->platform ? NULL : c->p->tenant_id,
	    http_params_get(&q, "after"), (size_t)limit, &ts, &n, next, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, tenant_json(&ts[i]));
	store_tenant_free(ts, n);
	admin_answer(c, 200, json_pack("{s:o, s:o}", "tenants", arr,
	    "next", next[0] != '\0' ? json_string(next) : json_null()));
out:
	http_params_clear(&q);
}

static void
tenant_create(struct admin_call *c)
{
	static const char *const fields[] = { "id", "name", NULL };
	struct store_tenant t;
	const char *id, *name;
	char err[512];

	if (admin_fields(c, fields) == -1 || admin_str(c, "id", &id) == -1 ||
	    admin_str(c, "name", &name) == -1)
		return;
	if (admin_require_platform(c, "tenants") == -1)
		return;
	if (id == NULL) {
		admin_error(c, 400, "invalid_request", "id: required");
		return;
	}
	snprintf(c->target, sizeof(c->target), "%.128s", id);
	admin_audit_restage(c);
	if (manage_tenant_create(c->ctx->store, id, name, &t, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		return;
	}
	admin_answer(c, 201, tenant_json(&t));
	store_tenant_clear(&t);
}

static void
tenant_show(struct admin_call *c)
{
	struct store_tenant t;
	int rc;

	if (!admin_tenant_visible(c, c->arg[0]) ||
	    (rc = store_tenant_get(c->ctx->store, c->arg[0], &t)) == STORE_NOTFOUND) {
		admin_error(c, 404, "not_found", "tenant %s does not exist", c->arg[0]);
		return;
	}
	if (rc != STORE_OK) {
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
		return;
	}
	admin_answer(c, 200, tenant_json(&t));
	store_tenant_clear(&t);
}

/* -- tokens -------------------------------------------------------------------- */

/* The token id when visible, else 404 and -1. */
static int
token_get(struct admin_call *c, const char *id, struct store_token *t)
{
	int rc = store_token_get(c->ctx->store, id, t);

	if (rc == STORE_OK && admin_tenant_visible(c, t->tenant_id))
		return 0;
	if (rc == STORE_OK)
		store_token_clear(t);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		admin_error(c, 404, "not_found", "token %.128s does not exist", id);
	else
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
	return -1;
}

/* Whether the caller manages the client of a token it revokes (roles
 * within its own): 0, or -1 after answering. A client deleted since has
 * tokens that validate no more, and nobody to protect: 0. */
static int
token_client_managed(struct admin_call *c, const char *client_id)
{
	struct store_client cl;
	int rc = store_client_get(c->ctx->store, client_id, &cl);

	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK) {
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
		return -1;
	}
	rc = admin_roles_within(c, cl.roles, "this token's client");
	store_client_clear(&cl);
	return rc;
}

static void
token_show(struct admin_call *c)
{
	struct store_token t;

	if (token_get(c, c->arg[0], &t) == -1)
		return;
	admin_answer(c, 200, views_token(&t, clock_now(), 1));
	store_token_clear(&t);
}

/* By name among the clients of tenant (NULL: every tenant's) that the
 * caller manages: those with roles within its own (admin_roles_within).
 * STORE_OK when any token was revoked (count adds them up),
 * STORE_NOTFOUND when none, else the first store error. */
static int
tokens_revoke_managed(struct admin_call *c, const char *tenant, const char *name, int *count)
{
	struct store_client *cs = NULL;
	size_t n = 0;
	int rc;

	if ((rc = store_client_list(c->ctx->store, tenant, &cs, &n)) == STORE_OK) {
		rc = STORE_NOTFOUND;
		for (size_t i = 0; i < n; i++) {
			int k = 0, r;
			if (admin_level_of(cs[i].roles) > c->level)
				continue;
			r = store_token_revoke_by_name(c->ctx->store, cs[i].id, name, clock_now(), &k);
			if (r == STORE_OK) {
				*count += k;
				rc = STORE_OK;
			} else if (r != STORE_NOTFOUND) {
				rc = r;
				break;
			}
		}
		store_client_free(cs, n);
	}
	return rc;
}

/* Revokes the live tokens named name (of client, when given) that the
 * caller reaches.  0, or -1 when an error was answered. */
static int
tokens_revoke_by_name(struct admin_call *c, const char *name, const char *client,
    int *count)
{
	struct store_client cl;
	int rc;

	if (client != NULL) {
		if (admin_client_managed(c, client, &cl) == -1)
			return -1;
		rc = store_token_revoke_by_name(c->ctx->store, cl.id, name, clock_now(), count);
		store_client_clear(&cl);
	} else if (c->platform && c->level == ADMIN_ADMIN)
		/* Every client of every tenant is within an Admin's roles. */
		rc = store_token_revoke_by_name(c->ctx->store, NULL, name, clock_now(), count);
	else
		rc = tokens_revoke_managed(c, c->platform ? NULL : c->p->tenant_id, name, count);
	if (rc == STORE_NOTFOUND) {
		admin_error(c, 404, "not_found", "no live token named \"%.128s\" of a client this "
		    "client manages", name);
		return -1;
	}
	if (rc != STORE_OK) {
		admin_store_error(c, rc);
		return -1;
	}
	return 0;
}

static void
tokens_revoke(struct admin_call *c)
{
	static const char *const fields[] = { "id", "name", "client_id", NULL };
	const char *id, *name, *client;
	struct store_token t;
	int count = 0, rc;

	if (admin_fields(c, fields) == -1 || admin_str(c, "id", &id) == -1 ||
	    admin_str(c, "name", &name) == -1 || admin_str(c, "client_id", &client) == -1)
		return;
	if ((id == NULL) == (name == NULL)) {
		admin_error(c, 400, "invalid_request", "give id or name (one of them)");
		return;
	}
	if (id != NULL && client != NULL) {
		admin_error(c, 400, "invalid_request", "client_id: only with name");
		return;
	}
	if (id != NULL) {
		if (token_get(c, id, &t) == -1)
			return;
		rc = token_client_managed(c, t.client_id);
		store_token_clear(&t);
		if (rc == -1)
			return;
		if ((rc = store_token_revoke(c->ctx->store, id, clock_now())) != STORE_OK) {
			admin_store_error(c, rc);
			return;
		}
		count = 1;
	} else if (tokens_revoke_by_name(c, name, client, &count) == -1)
		return;
	gate_token_revoked(c->ctx);
	admin_answer(c, 200, json_pack("{s:i}", "revoked", count));
}

/* -- keys (platform) --------------------------------------------------------- */

static void
keys_list(struct admin_call *c)
{
	struct store_key *ks = NULL;
	size_t n = 0;
	int64_t now = clock_now();
	json_t *arr;

	if (admin_require_platform(c, "signing keys") == -1)
		return;
	if (store_key_list(c->ctx->store, &ks, &n) != STORE_OK) {
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, views_key(&ks[i], now));
	store_key_free(ks, n);
	admin_answer(c, 200, json_pack("{s:o}", "keys", arr));
}

static int
apply_key_rotate(struct gh_ctx *ctx, const json_t *p, json_t **result, char *err, size_t errlen)
{
	const char *envs = json_string_value(json_object_get(p, "env"));
	const char *alg = json_string_value(json_object_get(p, "alg"));
	const char *leads = json_string_value(json_object_get(p, "lead")), *why;
	char kid[KEYS_KID_LEN + 1], rerr[256];
	enum store_env env;
	int64_t lead, now = clock_now();

	if (envs == NULL || store_env_from_name(envs, &env) == -1)
		return snprintf(err, errlen, "env: must be sandbox or production"), -1;
	if (leads == NULL || num_parse_i64(leads, strlen(leads), 0, 30 * 86400, &lead, &why) == -1)
		return snprintf(err, errlen, "lead: 0..2592000 seconds"), -1;
	if (keys_rotate(ctx->store, ctx->seal_key, env, alg, now, lead,
	    keys_max_lifetime(ctx->store, env, 86400), kid, NULL, err, errlen) == -1)
		return -1;
	if (ctx_reload_keys(ctx, rerr, sizeof(rerr)) == -1)
		snprintf(err, errlen, "rotated to %s, but the keyring did not reload: %s", kid, rerr);
	*result = views_key_rotated(kid, env, now, now + lead);
	return 201;
}

const struct admin_kind admin_misc_kinds[] = {
	{ "key.rotate", apply_key_rotate },
};
const size_t admin_nmisc_kinds = GH_ARRAY_LEN(admin_misc_kinds);

static void
key_rotate(struct admin_call *c)
{
	static const char *const fields[] = { "env", "alg", "lead", NULL };
	const char *envs, *alg, *l, *why;
	char buf[64], leadtext[24], target[32];
	enum store_env env;
	enum jose_alg ja;
	int64_t lead = 600;

	if (admin_fields(c, fields) == -1 || admin_str(c, "env", &envs) == -1 ||
	    admin_str(c, "alg", &alg) == -1 || admin_num(c, "lead", buf, sizeof(buf), &l) == -1)
		return;
	if (admin_require_platform(c, "signing keys") == -1)
		return;
	if (envs == NULL || store_env_from_name(envs, &env) == -1) {
		admin_error(c, 400, "invalid_request", "env: required, sandbox or production");
		return;
	}
	if (alg != NULL && jose_alg_from_name(alg, &ja) == -1) {
		admin_error(c, 400, "invalid_request", "alg: must be RS256, PS256, ES256 or EdDSA");
		return;
	}
	if (l != NULL && strcmp(l, "0") == 0)
		lead = 0;
	else if (l != NULL && num_parse_duration(l, 1, 30 * 86400, &lead, &why) == -1) {
		admin_error(c, 400, "invalid_request", "lead: \"%.32s\" %s (0..30d)", l, why);
		return;
	}
	snprintf(leadtext, sizeof(leadtext), "%lld", (long long)lead);
	snprintf(target, sizeof(target), "keys:%s", store_env_names[env]);
	admin_critical(c, "key.rotate", c->p->tenant_id, env, target,
	    json_pack("{s:s, s:s?, s:s}", "env", store_env_names[env], "alg", alg, "lead", leadtext));
}

static void
key_revoke(struct admin_call *c)
{
	char err[512], took_over[KEYS_KID_LEN + 1];

	if (admin_fields(c, none) == -1 || admin_require_platform(c, "signing keys") == -1)
		return;
	/* Compromise response: immediate, Admin, never held for approval. */
	if (c->level < ADMIN_ADMIN) {
		admin_error(c, 403, "forbidden", "revoking a signing key needs the admin role");
		return;
	}
	if (keys_revoke(c->ctx->store, c->arg[0], clock_now(), took_over, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		return;
	}
	if (ctx_reload_keys(c->ctx, err, sizeof(err)) == -1) {
		admin_error(c, 503, "temporarily_unavailable", "revoked, but the keyring did not reload: %s", err);
		return;
	}
	admin_answer(c, 200, json_pack("{s:s, s:s, s:s*}", "kid", c->arg[0], "state", "removed",
	    "signing", took_over[0] != '\0' ? took_over : NULL));
}

/* -- locks ----------------------------------------------------------------------- */

/* ?limit=N (1..1000, default 100) &after=CURSOR: one page of the locks in
 * force that the caller sees (a tenant's principals: their clients' pair
 * locks; addresses are the platform's), with the cursor of the next page
 * (null: this was the last). */
static void
locks_list(struct admin_call *c)
{
	static const char *const known[] = { "limit", "after", NULL };
	struct http_params q;
	struct store_lock *ls = NULL;
	size_t n = 0;
	int64_t now = clock_now(), limit = 100;
	char next[MANAGE_CURSOR_MAX + 1], err[512];
	json_t *arr;

	if (admin_query(c, &q, known) == -1)
		return;
	if (admin_query_i64(c, &q, "limit", 1, 1000, &limit) == -1)
		goto out;
	if (manage_lock_page(c->ctx->store, now, c->platform ? NULL : c->p->tenant_id,
	    http_params_get(&q, "after"), (size_t)limit, &ls, &n, next, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, views_lock(&ls[i], now));
	store_lock_free(ls, n);
	admin_answer(c, 200, json_pack("{s:o, s:o}", "locks", arr,
	    "next", next[0] != '\0' ? json_string(next) : json_null()));
out:
	http_params_clear(&q);
}

static void
locks_clear(struct admin_call *c)
{
	static const char *const fields[] = { "address", "client_id", "all", NULL };
	const char *addr, *client;
	struct store_client cl;
	char key[CIDR_LOCK_KEY_LEN];
	int all, count = 0, rc;

	if (admin_fields(c, fields) == -1 || admin_str(c, "address", &addr) == -1 ||
	    admin_str(c, "client_id", &client) == -1 || admin_bool(c, "all", &all, 0) == -1)
		return;
	if (addr == NULL && client == NULL && !all) {
		admin_error(c, 400, "invalid_request", "give address, client_id, or all: true to clear every lock");
		return;
	}
	if (all && (addr != NULL || client != NULL)) {
		admin_error(c, 400, "invalid_request", "all clears every lock; it takes no address or client_id");
		return;
	}
	/* Locks are kept per IPv4 address and per IPv6 /64 (net/cidr.h). */
	if (addr != NULL && cidr_lock_key(addr, key, sizeof(key)) == -1) {
		admin_error(c, 400, "invalid_request", "address: \"%.60s\" is not an IPv4 or IPv6 "
		    "address, or an IPv6 /64", addr);
		return;
	}
	if (addr != NULL)
		addr = key;
	/* A tenant clears its own clients' pair locks; addresses are shared. */
	if (client == NULL && admin_require_platform(c, "address locks") == -1)
		return;
	/* A client's locks are managed as the client is (roles within). */
	if (client != NULL) {
		if (admin_client_managed(c, client, &cl) == -1)
			return;
		store_client_clear(&cl);
	}
	if ((rc = store_lock_clear(c->ctx->store, addr, client, clock_now(), &count)) != STORE_OK) {
		admin_store_error(c, rc);
		return;
	}
	admin_answer(c, 200, json_pack("{s:i}", "cleared", count));
}

/* -- policy (platform) --------------------------------------------------------- */

#define POLICY_SHOW_MAX (1024 * 1024)

static void
policy_show(struct admin_call *c)
{
	const char *path = c->ctx->cfg->policy;
	FILE *f;
	char *text;
	size_t n;

	if (admin_require_platform(c, "the gate policy") == -1)
		return;
	if (path == NULL || path[0] == '\0') {
		admin_answer(c, 200, json_pack("{s:n, s:n, s:s}", "file", "text",
		    "note", "no policy configured: the gate refuses every call"));
		return;
	}
	if ((f = fopen(path, "r")) == NULL) {
		admin_error(c, 503, "temporarily_unavailable", "policy file: %s", strerror(errno));
		return;
	}
	if ((text = malloc(POLICY_SHOW_MAX + 1)) == NULL) {
		fclose(f);
		admin_error(c, 500, "server_error", "out of memory");
		return;
	}
	n = fread(text, 1, POLICY_SHOW_MAX, f);
	fclose(f);
	text[n] = '\0';
	/* What the running gate enforces is what it loaded; the file may have
	 * changed since (reload to apply it). */
	admin_answer(c, 200, json_pack("{s:s, s:s%}", "file", path, "text", text, n));
	free(text);
}

static void
policy_reload(struct admin_call *c)
{
	char err[4096];

	if (admin_fields(c, none) == -1 || admin_require_platform(c, "the gate policy") == -1)
		return;
	if (c->ctx->cfg->policy == NULL || c->ctx->cfg->policy[0] == '\0') {
		admin_error(c, 409, "conflict", "no policy file configured (policy = FILE)");
		return;
	}
	if (gate_reload(c->ctx, err, sizeof(err)) == -1) {
		admin_error(c, 422, "invalid_policy", "the policy was not reloaded (the previous one stays): %s", err);
		return;
	}
	admin_answer(c, 200, json_pack("{s:s, s:s}", "file", c->ctx->cfg->policy, "state", "reloaded"));
}

const struct admin_op admin_misc_ops[] = {
	{ HTTP_GET, "tenants", ADMIN_VIEWER, tenants_list, "admin.tenant.list" },
	{ HTTP_POST, "tenants", ADMIN_OPERATOR, tenant_create, "admin.tenant.create" },
	{ HTTP_GET, "tenants/{}", ADMIN_VIEWER, tenant_show, "admin.tenant.show" },
	{ HTTP_GET, "tokens/{}", ADMIN_VIEWER, token_show, "admin.token.show" },
	{ HTTP_POST, "tokens/revoke", ADMIN_OPERATOR, tokens_revoke, "admin.token.revoke" },
	{ HTTP_GET, "keys", ADMIN_VIEWER, keys_list, "admin.key.list" },
	{ HTTP_POST, "keys/rotate", ADMIN_OPERATOR, key_rotate, "admin.key.rotate" },
	{ HTTP_POST, "keys/{}/revoke", ADMIN_OPERATOR, key_revoke, "admin.key.revoke" },
	{ HTTP_GET, "locks", ADMIN_VIEWER, locks_list, "admin.lock.list" },
	{ HTTP_POST, "locks/clear", ADMIN_OPERATOR, locks_clear, "admin.lock.clear" },
	{ HTTP_GET, "policy", ADMIN_VIEWER, policy_show, "admin.policy.show" },
	{ HTTP_POST, "policy/reload", ADMIN_OPERATOR, policy_reload, "admin.policy.reload" },
};
const size_t admin_nmisc_ops = GH_ARRAY_LEN(admin_misc_ops);
