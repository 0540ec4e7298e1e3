/* public.c — see public.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate/gate.h"
#include "http/params.h"
#include "obs/metrics.h"
#include "server/context.h"
#include "server/offload.h"
#include "server/public.h"
#include "server/routes.h"
#include "util/util.h"

/* The public routes' ctx: the context and the table (for endpoint URLs). */
static struct {
	struct gh_ctx		*ctx;
	struct route_table	*table;
	char			 cache_control[48];	/* the JWKS's */
	char			 metadata_path[CONFIG_MAX_ISSUER + 48]; /* issuer_metadata_path */
} pub;

/* The longest a verifier may cache the JWKS (s), lead permitting. */
#define JWKS_MAX_AGE_S	300

/*
 * 1 when x was handed to the offload pool to run handler there: a change
 * to the store (a key rotated) must be loaded before the answer, and that
 * reads the store, which a loop in front of a shared store must not wait
 * on. With the pool full, or its turn there come too late (offload_is_late:
 * not queued again), the answer is from the keys in memory: a key is
 * published key_publish_lead before it signs, so a set one change behind
 * verifies every token issued now. Otherwise the keys are current, 0.
 */
static int
keys_offloaded(struct http_exchange *x, http_handler_fn handler)
{
	struct gh_ctx *c = pub.ctx;

	return !offload_is_late(x) && ctx_refresh_every(c, 0, ctx_may_wait(c, x), 0) &&
	    offload_exchange(c->offload, x, handler) == 0;
}

/*
 * The environment a JWKS request asks for (?env=production|sandbox) into
 * *env, STORE_ENV__MAX for every key: 0, or -1 or HTTP_PARSE_NOMEM with
 * *why. Other
 * parameters are left alone (a client's cache-buster, say).
 */
static int
jwks_env(const char *query, enum store_env *env, const char **why)
{
	struct http_params q;
	const char *v;
	char field[HTTP_MAX_FIELD_NAME];
	int rc = 0;

	*env = STORE_ENV__MAX;
	if (query[0] == '\0')
		return 0;
	memset(&q, 0, sizeof(q));
	if ((rc = http_form_parse(query, strlen(query), &q, why, field)) != 0)
		return rc;
	if ((v = http_params_get(&q, "env")) != NULL && store_env_from_name(v, env) == -1) {
		*why = "env: production or sandbox";
		rc = -1;
	}
	http_params_clear(&q);
	return rc;
}

/* Leaves in set's keys only env's: each JWK names its environment. */
static void
jwks_only(json_t *set, enum store_env env)
{
	json_t *keys = json_object_get(set, "keys");

	for (size_t i = json_array_size(keys); i > 0; i--) {
		const char *e = json_string_value(json_object_get(json_array_get(keys, i - 1), "env"));
		if (e == NULL || strcmp(e, store_env_names[env]) != 0)
			json_array_remove(keys, i - 1);
	}
}

/*
 * The JWKS; with ?env=production (or sandbox) only that environment's
 * keys. Both environments' tokens share the issuer and the default
 * audience, so a verifier that checks only the signature, iss and aud
 * takes a sandbox token for a production one (README); one fetching the
 * production set finds no key for it.
 */
static enum http_result
jwks(struct http_exchange *x)
{
	struct keyring *kr;
	enum store_env env;
	const char *why = NULL;
	json_t *set;
	int rc;

	if ((rc = jwks_env(x->req.query, &env, &why)) != 0) {
		http_response_json(&x->resp, rc == HTTP_PARSE_NOMEM ? 500 : 400, json_pack("{s:s, s:s}",
		    "error", rc == HTTP_PARSE_NOMEM ? "server_error" : "invalid_request",
		    "error_description", why != NULL ? why : "malformed query"));
		return HTTP_DONE;
	}
	if (keys_offloaded(x, jwks))
		return HTTP_DEFERRED;
	kr = ctx_keyring(pub.ctx);
	set = keyring_jwks(kr, clock_now(), store_env_names);
	keyring_unref(kr);
	if (set != NULL && env != STORE_ENV__MAX)
		jwks_only(set, env);
	http_response_json(&x->resp, 200, set);
	/* Verifiers may cache the set briefly, but never past the publish
	 * lead: one that fetched the set just before a scheduled rotation
	 * published the next key must fetch it again before that key
	 * signs. */
	http_response_header(&x->resp, "Cache-Control", pub.cache_control);
	return HTTP_DONE;
}

/* The URL of one of our paths under the issuer, which stays as configured
 * (RFC 8414 §3.3: the metadata's issuer is the iss exactly), trailing '/'
 * or not. */
static char *
url(const char *path)
{
	return str_url_join(pub.ctx->issuer, path);
}

static enum http_result
metadata(struct http_exchange *x)
{
	json_t *o, *eps, *envs;
	struct keyring *kr;
	json_t *set;
	size_t i;
	json_t *k;
	char *u;

	if (keys_offloaded(x, metadata))
		return HTTP_DEFERRED;
	o = json_object();
	eps = json_object();
	envs = json_object();
	json_object_set_new(o, "issuer", json_string(pub.ctx->issuer));
	if (pub.table->token_paths[DIALECT_OAUTH] != NULL && (u = url(pub.table->token_paths[DIALECT_OAUTH])) != NULL) {
		json_object_set_new(o, "token_endpoint", json_string(u));
		free(u);
	}
	/* RFC 8414 §2: introspection (RFC 7662) and revocation (RFC 7009). */
	if ((u = url("/oauth/introspect")) != NULL) {
		json_object_set_new(o, "introspection_endpoint", json_string(u));
		free(u);
	}
	if ((u = url("/oauth/revoke")) != NULL) {
		json_object_set_new(o, "revocation_endpoint", json_string(u));
		free(u);
	}
	json_object_set_new(o, "introspection_endpoint_auth_methods_supported",
	    json_pack("[s,s]", "client_secret_basic", "client_secret_post"));
	json_object_set_new(o, "revocation_endpoint_auth_methods_supported",
	    json_pack("[s,s]", "client_secret_basic", "client_secret_post"));
	if ((u = url("/.well-known/jwks.json")) != NULL) {
		json_object_set_new(o, "jwks_uri", json_string(u));
		free(u);
	}
	json_object_set_new(o, "grant_types_supported", json_pack("[s]", "client_credentials"));
	json_object_set_new(o, "response_types_supported", json_array());
	json_object_set_new(o, "token_endpoint_auth_methods_supported",
	    json_pack("[s,s]", "client_secret_basic", "client_secret_post"));
	json_object_set_new(o, "access_token_signing_alg_values_supported",
	    json_pack("[s,s,s,s]", "RS256", "PS256", "ES256", "EdDSA"));
	/* Every dialect's token endpoint, and each environment's keys. */
	for (int d = 0; d < DIALECT__MAX; d++)
		if (pub.table->token_paths[d] != NULL && (u = url(pub.table->token_paths[d])) != NULL) {
			json_object_set_new(eps, dialect_table[d].name, json_string(u));
			free(u);
		}
	json_object_set_new(o, "gatehouse_token_endpoints", eps);
	kr = ctx_keyring(pub.ctx);
	set = keyring_jwks(kr, clock_now(), store_env_names);
	keyring_unref(kr);
	for (int e = 0; e < STORE_ENV__MAX; e++)
		json_object_set_new(envs, store_env_names[e], json_array());
	json_array_foreach(json_object_get(set, "keys"), i, k) {
		json_t *env = json_object_get(k, "env");
		json_t *arr = json_is_string(env) ? json_object_get(envs, json_string_value(env)) : NULL;
		if (arr != NULL)
			json_array_append(arr, json_object_get(k, "kid"));
	}
	json_decref(set);
	json_object_set_new(o, "gatehouse_environment_keys", envs);
	http_response_json(&x->resp, 200, o);
	return HTTP_DONE;
}

static enum http_result
healthz(struct http_exchange *x)
{
	http_response_json(&x->resp, 200, json_pack("{s:s}", "status", "ok"));
	return HTTP_DONE;
}

/* Loopback, or a trusted proxy (in front of a scraper or an operator). */
static int
operator_peer(const struct http_exchange *x)
{
	return strncmp(x->req.peer_ip, "127.", 4) == 0 || strcmp(x->req.peer_ip, "::1") == 0 ||
	    cidr_match(&pub.ctx->trusted_proxies, x->req.peer_ip);
}

static enum http_result
readyz(struct http_exchange *x)
{
	struct store_gen gen = { { 0 } };
	int cur = 0, latest = 0;
	char engine[512];
	json_t *o;
	/* The schema version is a real round trip to the database (the
	 * generation may come from a cache). */
	int ok = store_generation(pub.ctx->store, &gen) == STORE_OK &&
	    store_schema_version(pub.ctx->store, &cur, &latest) == STORE_OK;
	int writes = ok && !atomic_load(&pub.ctx->writes_failing);

	/* Tokens are not issued while the group commit fails (a full disk):
	 * not ready. Ready again once a write commits; this probe is what
	 * finds that out, since a balancer that stopped sending requests
	 * would leave the writer nothing to commit. */
	if (ok && !writes && (writes = store_write_probe(pub.ctx->store, clock_now()) == STORE_OK))
		atomic_store(&pub.ctx->writes_failing, 0);
	ok = ok && writes;

	/* Why the store failed is for operators too: a PostgreSQL error
	 * names its host, port and user. */
	o = json_pack("{s:s, s:{s:s, s:s, s:i, s:I, s:I, s:I}}",
	    "status", ok ? "ready" : "unavailable", "store", "backend",
	    store_backend(pub.ctx->store), "status", ok ? "ok" :
	    operator_peer(x) ? store_last_error() : "unavailable",
	    "schema_version", cur, "generation", (json_int_t)gen.v[STORE_GEN_DATA],
	    "lock_generation", (json_int_t)gen.v[STORE_GEN_LOCKS],
	    "revocation_generation", (json_int_t)gen.v[STORE_GEN_REVOKED]);
	/* The engine line as it stands, not as at start: it tells of a part
	 * that failed since (SQLite's checkpointer). Versions are for
	 * operators, as metrics are, not for anyone who can reach the port. */
	if (o != NULL)
		json_object_set_new(json_object_get(o, "store"), "writes",
		    json_string(writes ? "ok" : "failing"));
	if (o != NULL && operator_peer(x))
		json_object_set_new(json_object_get(o, "store"), "engine",
		    json_string(store_engine(pub.ctx->store, engine, sizeof(engine))));
	http_response_json(&x->resp, ok ? 200 : 503, o);
	if (!ok)
		x->resp.reason = "store_unavailable";
	return HTTP_DONE;
}

static enum http_result
metrics(struct http_exchange *x)
{
	size_t len = 0;
	char *text;

	if (!operator_peer(x)) {
		http_response_json(&x->resp, 403, json_pack("{s:s, s:s}", "error", "access_denied",
		    "error_description", "metrics are served to loopback and trusted proxies only"));
		x->resp.reason = "access_denied";
		return HTTP_DONE;
	}
	gate_metrics_publish(pub.ctx);
	if ((text = metrics_render(&len)) == NULL) {
		http_response_json(&x->resp, 500, json_pack("{s:s}", "error", "server_error"));
		return HTTP_DONE;
	}
	http_response_text(&x->resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
	return HTTP_DONE;
}

#define METADATA_PATH "/.well-known/oauth-authorization-server"

/*
 * RFC 8414 §3.1: the metadata of an issuer with a path (https://h/auth) is
 * at /.well-known/oauth-authorization-server/auth, the well-known part put
 * between the host and the path, which a proxy in front of us forwards as
 * it is. Into out, 1; 0 when the issuer has no path, or one with bytes the
 * HTTP layer would not match as written (a '%'), whose metadata stays at
 * the root alone.
 */
static int
issuer_metadata_path(const char *issuer, char *out, size_t outlen)
{
	const char *host = strstr(issuer, "://"), *path;
	size_t n;

	if (host == NULL || (path = strchr(host + 3, '/')) == NULL)
		return 0;
	n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0 || strcspn(path, "%?#") < n)
		return 0;
	return snprintf(out, outlen, "%s%.*s", METADATA_PATH, (int)n, path) < (int)outlen;
}

/* The metadata at issuer_metadata_path too, when the issuer has a path. */
static int
metadata_at_issuer_path(struct route_table *t)
{
	struct http_route r;

	if (!issuer_metadata_path(pub.ctx->issuer, pub.metadata_path, sizeof(pub.metadata_path)))
		return 0;
	memset(&r, 0, sizeof(r));
	r.method = HTTP_GET;
	r.path = pub.metadata_path;
	r.handler = metadata;
	r.auth = HTTP_AUTH_PUBLIC;
	r.name = "metadata";
	return routes_add(t, &r);
}

int
public_routes_add(struct route_table *t, struct gh_ctx *ctx)
{
	static const struct {
		const char *path, *name;
		http_handler_fn fn;
		enum http_auth auth;
	} fixed[] = {
		{ "/.well-known/jwks.json", "jwks", jwks, HTTP_AUTH_PUBLIC },
		{ METADATA_PATH, "metadata", metadata, HTTP_AUTH_PUBLIC },
		{ "/healthz", "healthz", healthz, HTTP_AUTH_PUBLIC },
		{ "/readyz", "readyz", readyz, HTTP_AUTH_PUBLIC },
		{ "/metrics", "metrics", metrics, HTTP_AUTH_OPERATOR },
	};

	pub.ctx = ctx;
	pub.table = t;
	snprintf(pub.cache_control, sizeof(pub.cache_control), "public, max-age=%lld",
	    (long long)(ctx->cfg->key_publish_lead < JWKS_MAX_AGE_S ?
	    ctx->cfg->key_publish_lead : JWKS_MAX_AGE_S));
	for (size_t i = 0; i < GH_ARRAY_LEN(fixed); i++) {
		struct http_route r;
		memset(&r, 0, sizeof(r));
		r.method = HTTP_GET;
		r.path = fixed[i].path;
		r.handler = fixed[i].fn;
		r.auth = fixed[i].auth;
		r.name = fixed[i].name;
		r.max_body = 0;
		/* /readyz asks the database itself: a health probe must not hold
		 * the loop's other connections while the database is slow. */
		if ((r.handler == readyz ? routes_add_offloaded(t, &r, ctx) :
		    routes_add(t, &r)) == -1)
			return -1;
	}
	return metadata_at_issuer_path(t);
}
