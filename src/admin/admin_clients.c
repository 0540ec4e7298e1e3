/*
 * admin_clients.c — /admin/v1/clients...: clients, their secrets and
 * tokens. Every change goes through src/manage (the CLI's own checks). The
 * critical ones (create, disable, enable, delete, roles/scopes/allowlist
 * changes, secret rotation) are first reduced to a payload — a JSON object of strings, the
 * same an approval records — and then applied by the one function of their
 * kind (critical.c decides: now, or filed for approval).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin/critical.h"
#include "admin/internal.h"
#include "http/params.h"
#include "manage/manage.h"
#include "manage/views.h"
#include "util/util.h"

static json_t *
secret_json(const struct store_secret *s, int64_t now)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:s, s:o}", "secret_id", (json_int_t)s->id,
	    "created_at", views_time(s->created_at), "expires_at", views_time(s->expires_at),
	    "revoked_at", views_time(s->revoked_at), "state", views_secret_state(s, now),
	    "holder", views_secret_holder(s));
}

/* -- payloads: a client_spec as a JSON object of strings ---------------------- */

static const char *const spec_fields[] = { "tenant", "name", "id", "env", "roles", "scopes",
	"ttl", "max_ttl", "token_format", "claims", "rate_limit", "allow_ips", NULL };
static const char *const patch_fields[] = { "name", "roles", "scopes", "ttl", "max_ttl",
	"token_format", "claims", "rate_limit", "allow_ips", NULL };

/* Points s's fields into payload p (which must outlive s). */
static void
spec_from(const json_t *p, struct client_spec *s)
{
	json_t *ips = json_object_get(p, "allow_ips"), *e;
	size_t i;

	memset(s, 0, sizeof(*s));
	s->tenant = json_string_value(json_object_get(p, "tenant"));
	s->name = json_string_value(json_object_get(p, "name"));
	s->id = json_string_value(json_object_get(p, "id"));
	s->env = json_string_value(json_object_get(p, "env"));
	s->roles = json_string_value(json_object_get(p, "roles"));
	s->scopes = json_string_value(json_object_get(p, "scopes"));
	s->ttl = json_string_value(json_object_get(p, "ttl"));
	s->max_ttl = json_string_value(json_object_get(p, "max_ttl"));
	s->format = json_string_value(json_object_get(p, "token_format"));
	s->claims = json_string_value(json_object_get(p, "claims"));
	s->rate_limit = json_string_value(json_object_get(p, "rate_limit"));
	if (json_is_array(ips)) {
		s->allow_set = 1;
		json_array_foreach(ips, i, e)
			if (s->nallow < CIDR_MAX_BLOCKS && json_is_string(e))
				s->allow_ips[s->nallow++] = json_string_value(e);
	}
}

/* allow_ips, when the body has it: an array of at most CIDR_MAX_BLOCKS
 * CIDR strings (manage checks each), copied into p. */
static int
payload_allow_ips(struct admin_call *c, json_t *p)
{
	json_t *v = json_object_get(c->body, "allow_ips"), *arr;

	if (v == NULL)
		return 0;
	if (!json_is_array(v) || json_array_size(v) > CIDR_MAX_BLOCKS) {
		admin_error(c, 400, "invalid_request", "allow_ips: must be an array of at most %d CIDRs",
		    CIDR_MAX_BLOCKS);
		return -1;
	}
	arr = json_array();
	for (size_t k = 0; k < json_array_size(v); k++) {
		json_t *e = json_array_get(v, k);
		if (!json_is_string(e) || json_string_length(e) == 0 || json_string_length(e) > 64) {
			json_decref(arr);
			admin_error(c, 400, "invalid_request", "allow_ips[%zu]: must be a CIDR string", k);
			return -1;
		}
		json_array_append(arr, e);
	}
	json_object_set_new(p, "allow_ips", arr);
	return 0;
}

/* claims, when the body has them: a JSON object, kept as its text. */
static int
payload_claims(struct admin_call *c, json_t *p)
{
	json_t *v = json_object_get(c->body, "claims");
	char *text;

	if (v == NULL)
		return 0;
	if (!json_is_object(v)) {
		admin_error(c, 400, "invalid_request", "claims: must be a JSON object");
		return -1;
	}
	if ((text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		admin_error(c, 500, "server_error", "out of memory");
		return -1;
	}
	json_object_set_new(p, "claims", json_string(text));
	free(text);
	return 0;
}

/* One field f other than allow_ips and claims: a list (roles, scopes), a
 * number (ttl, max_ttl, rate_limit) or a string, as text into p. */
static int
payload_field(struct admin_call *c, const char *f, json_t *p)
{
	char buf[4096], num[64];
	const char *s = NULL;
	int present = 0;

	if (strcmp(f, "roles") == 0 || strcmp(f, "scopes") == 0) {
		if (admin_list(c, f, strcmp(f, "roles") == 0 ? ',' : ' ', buf, sizeof(buf),
		    &present) == -1)
			return -1;
		s = present ? buf : NULL;
	} else if (strcmp(f, "ttl") == 0 || strcmp(f, "max_ttl") == 0 || strcmp(f, "rate_limit") == 0) {
		if (admin_num(c, f, num, sizeof(num), &s) == -1)
			return -1;
	} else if (admin_str(c, f, &s) == -1)
		return -1;
	if (s != NULL)
		json_object_set_new(p, f, json_string(s));
	return 0;
}

/* Reads the request's client fields (names: which) into a payload of
 * strings. NULL after answering 400. */
static json_t *
payload_read(struct admin_call *c, const char *const *which)
{
	json_t *p = json_object();
	int rc = 0;

	for (size_t i = 0; which[i] != NULL && rc == 0; i++) {
		if (strcmp(which[i], "allow_ips") == 0)
			rc = payload_allow_ips(c, p);
		else if (strcmp(which[i], "claims") == 0)
			rc = payload_claims(c, p);
		else
			rc = payload_field(c, which[i], p);
	}
	if (rc == -1) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* -- appliers (also run by an approval: validate everything again) ----------- */

/*
 * The secret a change makes: critical.c made it and showed it to the
 * caller (or the maker, when filed), and the payload carries its hash and
 * whom it was shown to. 0, or -1 with err.
 */
static int
payload_secret(const json_t *p, uint8_t hash[32], const char **holder, char *err,
    size_t errlen)
{
	int preset = admin_preset_hash(p, hash, err, errlen);

	if (preset == 0)
		snprintf(err, errlen, "secret_hash: required");
	if (preset != 1 || admin_preset_holder(p, holder, err, errlen) == -1)
		return -1;
	return 0;
}

static int
apply_client_create(struct gh_ctx *ctx, const json_t *p, json_t **result, char *err, size_t errlen)
{
	struct client_spec s;
	struct store_client cl;
	const char *holder;
	uint8_t hash[32];
	int rc;

	spec_from(p, &s);
	if (payload_secret(p, hash, &holder, err, errlen) == -1)
		return -1;
	rc = manage_client_create_hashed(ctx->store, ctx->cfg, &s, hash, holder, &cl, err, errlen);
	OPENSSL_cleanse(hash, sizeof(hash));
	if (rc == -1)
		return -1;
	*result = views_client(&cl);
	store_client_clear(&cl);
	return 201;
}

static int
apply_client_update(struct gh_ctx *ctx, const json_t *p, json_t **result, char *err, size_t errlen)
{
	struct client_spec s;
	struct store_client cl;
	const char *id = json_string_value(json_object_get(p, "client_id"));

	if (id == NULL)
		return snprintf(err, errlen, "client_id: required"), -1;
	spec_from(p, &s);
	if (manage_client_update(ctx->store, ctx->cfg, id, &s, &cl, err, errlen) == -1)
		return -1;
	*result = views_client(&cl);
	store_client_clear(&cl);
	return 200;
}

/* Disables (disabled 1) or enables (0) the payload's client. */
static int
set_disabled(struct gh_ctx *ctx, const json_t *p, int disabled, json_t **result, char *err,
    size_t errlen)
{
	struct store_client cl;
	const char *id = json_string_value(json_object_get(p, "client_id"));

	if (id == NULL)
		return snprintf(err, errlen, "client_id: required"), -1;
	if (manage_client_set_disabled(ctx->store, id, disabled, &cl, err, errlen) == -1)
		return -1;
	*result = views_client(&cl);
	store_client_clear(&cl);
	return 200;
}

static int
apply_client_disable(struct gh_ctx *ctx, const json_t *p, json_t **result, char *err, size_t errlen)
{
	return set_disabled(ctx, p, 1, result, err, errlen);
}

static int
apply_client_enable(struct gh_ctx *ctx, const json_t *p, json_t **result, char *err, size_t errlen)
{
	return set_disabled(ctx, p, 0, result, err, errlen);
}

static int
apply_client_delete(struct gh_ctx *ctx, const json_t *p, json_t **result, char *err, size_t errlen)
{
	const char *id = json_string_value(json_object_get(p, "client_id"));

	if (id == NULL)
		return snprintf(err, errlen, "client_id: required"), -1;
	if (manage_client_delete(ctx->store, id, err, errlen) == -1)
		return -1;
	*result = json_pack("{s:s, s:s}", "client_id", id, "state", "deleted");
	return 200;
}

static int
apply_secret_rotate(struct gh_ctx *ctx, const json_t *p, json_t **result, char *err, size_t errlen)
{
	struct store_secret s;
	const char *id = json_string_value(json_object_get(p, "client_id"));
	const char *g = json_string_value(json_object_get(p, "grace")), *why, *holder;
	int64_t grace, prev_end = 0;
	uint8_t hash[32];
	int rc;

	if (id == NULL || g == NULL)
		return snprintf(err, errlen, "client_id and grace: required"), -1;
	if (num_parse_duration(g, 1, 366 * 86400, &grace, &why) == -1) {
		snprintf(err, errlen, "grace: \"%.32s\" %s (1s..366d; units s, m, h, d)", g, why);
		return -1;
	}
	memset(&s, 0, sizeof(s));
	if (payload_secret(p, hash, &holder, err, errlen) == -1)
		return -1;
	rc = manage_secret_rotate_hashed(ctx->store, id, grace, hash, holder, &s, &prev_end, err,
	    errlen);
	OPENSSL_cleanse(hash, sizeof(hash));
	if (rc == -1)
		return -1;
	*result = json_pack("{s:s, s:I, s:o, s:o}", "client_id", id,
	    "secret_id", (json_int_t)s.id, "created_at", views_time(s.created_at),
	    "previous_secrets_expire_at", views_time(prev_end));
	store_secret_clear(&s);
	return 201;
}

int
admin_client_update_in_effect(struct gh_ctx *ctx, const json_t *p)
{
	struct client_spec s;
	const char *id = json_string_value(json_object_get(p, "client_id"));

	if (id == NULL)
		return 0;
	spec_from(p, &s);
	return manage_client_update_in_effect(ctx->store, ctx->cfg, id, &s);
}

const struct admin_kind admin_client_kinds[] = {
	{ "client.create", apply_client_create },
	{ "client.update", apply_client_update },
	{ "client.disable", apply_client_disable },
	{ "client.enable", apply_client_enable },
	{ "client.delete", apply_client_delete },
	{ "secret.rotate", apply_secret_rotate },
};
const size_t admin_nclient_kinds = GH_ARRAY_LEN(admin_client_kinds);

/* -- operations ---------------------------------------------------------------- */

/*
 * ?tenant=ID &limit=N (1..1000, default 100) &after=CURSOR: one page of the
 * clients (the caller's tenant's unless a platform principal names one or
 * none), with the cursor of the next page (null: this was the last).
 */
static void
clients_list(struct admin_call *c)
{
	static const char *const known[] = { "tenant", "limit", "after", NULL };
	int64_t now = clock_now(), limit = 100;
	struct http_params q;
	struct store_client *cs = NULL;
	size_t n = 0;
	const char *tenant;
	char next[MANAGE_CURSOR_MAX + 1], err[512];
	json_t *arr;

	if (admin_query(c, &q, known) == -1)
		return;
	if (admin_query_i64(c, &q, "limit", 1, 1000, &limit) == -1)
		goto out;
	tenant = http_params_get(&q, "tenant");
	if (tenant != NULL && !str_is_ident(tenant, strlen(tenant), 64)) {
		admin_error(c, 400, "invalid_request", "tenant: must be 1-64 characters of [A-Za-z0-9._:-]");
		goto out;
	}
	if (tenant != NULL && !admin_tenant_visible(c, tenant)) {
		admin_error(c, 404, "not_found", "tenant %s does not exist", tenant);
		goto out;
	}
	if (tenant == NULL && !c->platform)
		tenant = c->p->tenant_id;
	if (manage_client_page(c->ctx->store, tenant, http_params_get(&q, "after"), (size_t)limit,
	    &cs, &n, next, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, views_client_listed(c->ctx->store, &cs[i], now,
		    c->ctx->cfg->secret_rotation_age));
	store_client_free(cs, n);
	admin_answer(c, 200, json_pack("{s:o, s:o}", "clients", arr,
	    "next", next[0] != '\0' ? json_string(next) : json_null()));
out:
	http_params_clear(&q);
}

/*
 * A principal may make, or manage, a client only with roles it holds
 * itself. Making a client or rotating its secret shows the secret to the
 * maker, and an approval names the change, not that: an operator that
 * made or rotated an admin client would hold an admin's credentials; one
 * that revoked an admin's tokens or cleared its locks would manage it too.
 * 0, or -1 after answering 403.
 */
int
admin_roles_within(struct admin_call *c, unsigned roles, const char *what)
{
	/* Admin ⊃ Operator ⊃ Viewer: the highest role decides. */
	enum admin_level need = admin_level_of(roles);

	if (need <= c->level)
		return 0;
	admin_error(c, 403, "forbidden", "%s has the %s role, above this client's: only a client "
	    "with that role may make or manage it", what, need == ADMIN_ADMIN ? "admin" : "operator");
	return -1;
}

/* admin_client_get for a write: the client within the caller's roles. */
int
admin_client_managed(struct admin_call *c, const char *id, struct store_client *out)
{
	if (admin_client_get(c, id, out) == -1)
		return -1;
	if (admin_roles_within(c, out->roles, "this client") == 0)
		return 0;
	store_client_clear(out);
	return -1;
}

/* The roles of spec s (a comma list; NULL: none asked) within the
 * caller's; 0, or -1 after answering. */
static int
spec_roles_within(struct admin_call *c, const struct client_spec *s)
{
	unsigned roles = 0;
	char err[256];

	if (s->roles == NULL)
		return 0;
	if (manage_parse_roles(s->roles, &roles, err, sizeof(err)) == -1) {
		admin_error(c, 400, "invalid_request", "roles: %s", err);
		return -1;
	}
	return admin_roles_within(c, roles, "the client asked for");
}

/*
 * A creation's id must be free when it is filed, not only when it is
 * applied: a pending creation holds its id's conflict key, and a change
 * filed under another tenant's client's id would only fail a day later.
 * Client ids are not secret (every token carries one), so saying that the
 * id is taken tells nothing. 0, or -1 after answering 409 (503).
 */
static int
client_id_free(struct admin_call *c, const char *id)
{
	struct store_client cl;
	int rc = store_client_get(c->ctx->store, id, &cl);

	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc == STORE_OK) {
		store_client_clear(&cl);
		admin_error(c, 409, "conflict", "id: client id %.128s is taken; choose another, "
		    "or leave id out for a new UUID", id);
	} else
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
	return -1;
}

static void
client_create(struct admin_call *c)
{
	json_t *p;
	struct client_spec s;
	char err[512], id[37];
	enum store_env env = STORE_ENV_SANDBOX;

	if (admin_fields(c, spec_fields) == -1 || (p = payload_read(c, spec_fields)) == NULL)
		return;
	/* A tenant's principal creates in its own tenant; another is 404. */
	if (json_object_get(p, "tenant") == NULL)
		json_object_set_new(p, "tenant", json_string(c->p->tenant_id));
	if (!admin_tenant_visible(c, json_string_value(json_object_get(p, "tenant")))) {
		admin_error(c, 404, "not_found", "tenant: %.64s does not exist",
		    json_string_value(json_object_get(p, "tenant")));
		json_decref(p);
		return;
	}
	/* The id is fixed now: an approval's conflict key names it. */
	if (json_object_get(p, "id") == NULL) {
		if (uuid_v4(id) == -1) {
			admin_error(c, 500, "server_error", "no randomness");
			json_decref(p);
			return;
		}
		json_object_set_new(p, "id", json_string(id));
	}
	spec_from(p, &s);
	snprintf(c->target, sizeof(c->target), "%.128s", s.id != NULL ? s.id : "");
	if (manage_client_check(c->ctx->cfg, &s, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		json_decref(p);
		return;
	}
	if (spec_roles_within(c, &s) == -1 || client_id_free(c, s.id) == -1) {
		json_decref(p);
		return;
	}
	if (s.env != NULL)
		(void)store_env_from_name(s.env, &env);
	admin_critical(c, "client.create", s.tenant, env, s.id, p);
}

static void
client_show(struct admin_call *c)
{
	struct store_client cl;

	struct store_secret *ss = NULL;
	size_t n = 0;
	int64_t now = clock_now();
	json_t *o, *arr;

	if (admin_client_get(c, c->arg[0], &cl) == -1)
		return;
	if (store_secret_list(c->ctx->store, cl.id, &ss, &n) != STORE_OK) {
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
		store_client_clear(&cl);
		return;
	}
	/* As the CLI's show: the secrets by their dates only. */
	o = views_client(&cl);
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, secret_json(&ss[i], now));
	json_object_set_new(o, "secrets", arr);
	store_secret_free(ss, n);
	admin_answer(c, 200, o);
	store_client_clear(&cl);
}

static void
client_update(struct admin_call *c)
{
	struct store_client cl;
	struct client_spec s;
	json_t *p;
	char err[512];
	int critical;

	if (admin_fields(c, patch_fields) == -1)
		return;
	if (json_object_size(c->body) == 0) {
		admin_error(c, 400, "invalid_request", "nothing to change: give at least one of name, roles, "
		    "scopes, ttl, max_ttl, token_format, claims, rate_limit, allow_ips");
		return;
	}
	if (admin_client_managed(c, c->arg[0], &cl) == -1)
		return;
	if ((p = payload_read(c, patch_fields)) == NULL) {
		store_client_clear(&cl);
		return;
	}
	json_object_set_new(p, "client_id", json_string(cl.id));
	spec_from(p, &s);
	if (manage_client_update_check(c->ctx->store, c->ctx->cfg, cl.id, &s, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		json_decref(p);
		store_client_clear(&cl);
		return;
	}
	if (spec_roles_within(c, &s) == -1) {
		json_decref(p);
		store_client_clear(&cl);
		return;
	}
	/* What a client may do and for how long: its roles, scopes and
	 * allowlist, the claims its tokens carry (an API may authorize on
	 * them: partner_id), their lifetimes and its rate limit. A client
	 * could otherwise give itself 366-day, unthrottled tokens. */
	critical = json_object_get(p, "roles") != NULL || json_object_get(p, "scopes") != NULL ||
	    json_object_get(p, "allow_ips") != NULL || json_object_get(p, "claims") != NULL ||
	    json_object_get(p, "ttl") != NULL || json_object_get(p, "max_ttl") != NULL ||
	    json_object_get(p, "rate_limit") != NULL;
	if (critical)
		admin_critical(c, "client.update", cl.tenant_id, cl.env, cl.id, p);
	else
		admin_apply_now(c, "client.update", p);
	store_client_clear(&cl);
}

/* A critical change whose payload is the client's id alone (kind:
 * client.disable, client.enable, client.delete). */
static void
client_critical(struct admin_call *c, const char *kind)
{
	static const char *const none[] = { NULL };
	struct store_client cl;

	if (admin_fields(c, none) == -1 || admin_client_managed(c, c->arg[0], &cl) == -1)
		return;
	admin_critical(c, kind, cl.tenant_id, cl.env, cl.id, json_pack("{s:s}", "client_id", cl.id));
	store_client_clear(&cl);
}

static void
client_disable(struct admin_call *c)
{
	client_critical(c, "client.disable");
}

static void
client_delete(struct admin_call *c)
{
	client_critical(c, "client.delete");
}

/* Enabling undoes a disable, which may have been approved as a security
 * action: one person must not undo it alone. Critical as disable is. */
static void
client_enable(struct admin_call *c)
{
	client_critical(c, "client.enable");
}

static void
secrets_list(struct admin_call *c)
{
	struct store_client cl;
	struct store_secret *ss = NULL;
	size_t n = 0;
	int64_t now = clock_now();
	json_t *arr;

	if (admin_client_get(c, c->arg[0], &cl) == -1)
		return;
	if (store_secret_list(c->ctx->store, cl.id, &ss, &n) != STORE_OK) {
		admin_error(c, 503, "temporarily_unavailable", "store: %s", store_last_error());
		store_client_clear(&cl);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, secret_json(&ss[i], now));
	store_secret_free(ss, n);
	admin_answer(c, 200, json_pack("{s:s, s:o}", "client_id", cl.id, "secrets", arr));
	store_client_clear(&cl);
}

static void
secret_rotate(struct admin_call *c)
{
	static const char *const fields[] = { "grace", NULL };
	struct store_client cl;
	char buf[64];
	const char *g, *why;
	int64_t grace;

	if (admin_fields(c, fields) == -1 || admin_num(c, "grace", buf, sizeof(buf), &g) == -1)
		return;
	/* As the CLI: 7 days unless said. */
	if (g == NULL)
		g = "7d";
	if (num_parse_duration(g, 1, 366 * 86400, &grace, &why) == -1) {
		admin_error(c, 400, "invalid_request", "grace: \"%.32s\" %s (1s..366d; units s, m, h, d)", g, why);
		return;
	}
	if (admin_client_managed(c, c->arg[0], &cl) == -1)
		return;
	if (cl.disabled)
		admin_error(c, 409, "conflict", "client %.64s is disabled; enable it before rotating its secret", cl.id);
	else
		admin_critical(c, "secret.rotate", cl.tenant_id, cl.env, cl.id,
		    json_pack("{s:s, s:s}", "client_id", cl.id, "grace", g));
	store_client_clear(&cl);
}

static void
secret_revoke(struct admin_call *c)
{
	static const char *const fields[] = { "revoke_tokens", NULL };
	struct store_client cl;
	const char *why;
	int64_t sid;
	int revoke_tokens;
	char err[512];

	if (admin_fields(c, fields) == -1 || admin_bool(c, "revoke_tokens", &revoke_tokens, 0) == -1)
		return;
	if (num_parse_i64(c->arg[1], strlen(c->arg[1]), 1, INT64_MAX, &sid, &why) == -1) {
		admin_error(c, 404, "not_found", "secret %.32s does not exist", c->arg[1]);
		return;
	}
	if (admin_client_managed(c, c->arg[0], &cl) == -1)
		return;
	if (manage_secret_revoke(c->ctx->store, cl.id, sid, revoke_tokens, err, sizeof(err)) == -1)
		admin_manage_error(c, err);
	else
		admin_answer(c, 200, json_pack("{s:s, s:I, s:s, s:b}", "client_id", cl.id,
		    "secret_id", (json_int_t)sid, "state", "revoked", "tokens_revoked", revoke_tokens));
	store_client_clear(&cl);
}

/*
 * ?limit=N (1..1000, default 100) &after=CURSOR: one page of the client's
 * token records, with the cursor of the next page (null: this was the
 * last). A busy client holds millions within the retention, and a Viewer
 * may call this: the answer is never more than one page.
 */
static void
tokens_list(struct admin_call *c)
{
	static const char *const known[] = { "limit", "after", NULL };
	struct http_params q;
	struct store_client cl;
	struct store_token *ts = NULL;
	size_t n = 0;
	int64_t now = clock_now(), limit = 100;
	char next[MANAGE_TOKEN_CURSOR_MAX + 1], err[512];
	json_t *arr;

	if (admin_query(c, &q, known) == -1)
		return;
	if (admin_query_i64(c, &q, "limit", 1, 1000, &limit) == -1 ||
	    admin_client_get(c, c->arg[0], &cl) == -1) {
		http_params_clear(&q);
		return;
	}
	if (manage_token_page(c->ctx->store, cl.id, http_params_get(&q, "after"), (size_t)limit,
	    &ts, &n, next, err, sizeof(err)) == -1) {
		admin_manage_error(c, err);
		goto out;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, views_token(&ts[i], now, 1));
	store_token_free(ts, n);
	admin_answer(c, 200, json_pack("{s:s, s:o, s:o}", "client_id", cl.id, "tokens", arr,
	    "next", next[0] != '\0' ? json_string(next) : json_null()));
out:
	store_client_clear(&cl);
	http_params_clear(&q);
}

static void
tokens_revoke_all(struct admin_call *c)
{
	static const char *const none[] = { NULL };
	struct store_client cl;
	char err[512];

	if (admin_fields(c, none) == -1 || admin_client_managed(c, c->arg[0], &cl) == -1)
		return;
	if (manage_client_revoke_tokens(c->ctx->store, cl.id, err, sizeof(err)) == -1)
		admin_manage_error(c, err);
	else
		admin_answer(c, 200, json_pack("{s:s, s:s}", "client_id", cl.id, "tokens", "revoked"));
	store_client_clear(&cl);
}

const struct admin_op admin_client_ops[] = {
	{ HTTP_GET, "clients", ADMIN_VIEWER, clients_list, "admin.client.list" },
	{ HTTP_POST, "clients", ADMIN_OPERATOR, client_create, "admin.client.create" },
	{ HTTP_GET, "clients/{}", ADMIN_VIEWER, client_show, "admin.client.show" },
	{ HTTP_PATCH, "clients/{}", ADMIN_OPERATOR, client_update, "admin.client.update" },
	{ HTTP_DELETE, "clients/{}", ADMIN_OPERATOR, client_delete, "admin.client.delete" },
	{ HTTP_POST, "clients/{}/disable", ADMIN_OPERATOR, client_disable, "admin.client.disable" },
	{ HTTP_POST, "clients/{}/enable", ADMIN_OPERATOR, client_enable, "admin.client.enable" },
	{ HTTP_GET, "clients/{}/secrets", ADMIN_VIEWER, secrets_list, "admin.secret.list" },
	{ HTTP_POST, "clients/{}/secrets/rotate", ADMIN_OPERATOR, secret_rotate, "admin.secret.rotate" },
	{ HTTP_POST, "clients/{}/secrets/{}/revoke", ADMIN_OPERATOR, secret_revoke, "admin.secret.revoke" },
	{ HTTP_GET, "clients/{}/tokens", ADMIN_VIEWER, tokens_list, "admin.token.list" },
	{ HTTP_POST, "clients/{}/tokens/revoke", ADMIN_OPERATOR, tokens_revoke_all, "admin.token.revoke_all" },
};
const size_t admin_nclient_ops = GH_ARRAY_LEN(admin_client_ops);
