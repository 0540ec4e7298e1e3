/*
 * introspect.c — POST /oauth/introspect (RFC 7662) and POST /oauth/revoke
 * (RFC 7009), both for authenticated clients and both scoped to the
 * caller's tenant. Introspection reports another tenant's token inactive.
 * Revocation of a token the caller may not revoke (another tenant's, or
 * another client's unless the caller is an admin of its tenant) is
 * refused with 400 unauthorized_client and changes nothing (RFC 7009
 * §2.1; see revoke_allowed); an invalid, expired or unknown token is
 * answered 200 (§2.2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "gate/gate.h"
#include "gate/internal.h"
#include "http/params.h"
#include "obs/log.h"
#include "oauth/client_auth.h"
#include "oauth/dialect.h"
#include "security/secret.h"
#include "server/context.h"
#include "util/util.h"

#define MAX_CLIENT_ID 128

struct caller {
	struct http_params	 form;
	char			*id;
	char			*secret;
	int			 basic;
	struct client_entry	*client;
	const char		*token;
	char			 peer[46];
};

static void
caller_clear(struct caller *c)
{
	http_params_clear(&c->form);
	free(c->id);
	if (c->secret != NULL) {
		OPENSSL_cleanse(c->secret, strlen(c->secret));
		free(c->secret);
	}
	client_entry_release(c->client);
}

/* The client's credentials, Basic or client_id and client_secret in the
 * form (id and secret), never both (RFC 6749 §2.3): into c->id and
 * c->secret (copies), c->basic set for Basic. */
static int
caller_credentials(struct http_exchange *x, struct caller *c, const char *id,
    const char *secret, struct oauth_error *e)
{
	size_t n = 0;
	const char *authz = http_request_header(&x->req, "Authorization", &n), *why = NULL;
	int rc;

	if (n > 1)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "the Authorization header is repeated");
	if (authz != NULL) {
		if (strncasecmp(authz, "Basic ", 6) != 0)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "the Authorization header must use the Basic scheme here");
		/* As at the token endpoint (oauth/normalize.c): the client's
		 * id alone in the body is allowed, if it is the Basic one. */
		if (secret != NULL)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "client credentials were sent both in the Authorization header and in the body; use one method");
		if ((rc = http_basic_parse(authz, &c->id, &c->secret, &why)) != 0) {
			if (rc == HTTP_PARSE_NOMEM)
				return oauth_parse_fail(e, rc, why);
			oauth_fail(e, 401, OAUTH_INVALID_CLIENT, "%s", why ? why : "bad Basic credentials");
			e->basic_challenge = 1;
			return -1;
		}
		c->basic = 1;
		if (id != NULL && strcmp(id, c->id) != 0)
			return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
			    "client_id in the body is not the client of the Basic credentials");
		return 0;
	}
	if (id == NULL && secret == NULL) {
		oauth_fail(e, 401, OAUTH_INVALID_CLIENT, "client authentication is required: "
		    "send HTTP Basic credentials, or client_id and client_secret");
		e->basic_challenge = 1;
		return -1;
	}
	if (id == NULL || secret == NULL || id[0] == '\0' || secret[0] == '\0')
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
		    "send both client_id and client_secret");
	if ((c->id = strdup(id)) == NULL || (c->secret = strdup(secret)) == NULL)
		return oauth_fail(e, 500, OAUTH_SERVER_ERROR, "out of memory");
	return 0;
}

/* The client authenticated with its credentials, against the store as it
 * is now, and allowed to call from its address: c->client. */
static int
caller_login(struct gh_ctx *ctx, struct http_exchange *x, struct caller *c,
    struct oauth_error *e)
{
	int64_t age = 0;

	snprintf(x->resp.log_client, sizeof(x->resp.log_client), "%.64s", c->id);
	if (strlen(c->id) > MAX_CLIENT_ID || !str_is_clean_utf8(c->id, strlen(c->id)) ||
	    strlen(c->secret) > SECRET_MAX_INPUT) {
		oauth_fail(e, 401, OAUTH_INVALID_CLIENT, "client authentication failed");
		e->basic_challenge = c->basic;
		return -1;
	}
	/* Introspection and revocation always see the store as it is now. */
	ctx_refresh(ctx);
	gate_sync_generation(ctx->gate);
	if (oauth_client_login(ctx, c->id, c->secret, c->basic, 0, c->peer, clock_now(),
	    &c->client, &age, e) == -1) {
		if (e->code == OAUTH_INVALID_CLIENT)
			log_event(LOG_WARN, "auth.client_failed", json_pack("{s:s, s:s, s:s}",
			    "client", x->resp.log_client, "peer", c->peer,
			    "request_id", x->req.request_id));
		return -1;
	}
	if (c->client->c.disabled)
		return oauth_fail(e, 400, OAUTH_UNAUTHORIZED_CLIENT, "this client is disabled");
	if (c->client->allow.n > 0 && !cidr_match(&c->client->allow, c->peer))
		return oauth_fail(e, 400, OAUTH_UNAUTHORIZED_CLIENT,
		    "requests from %s are not allowed for this client", c->peer);
	snprintf(x->resp.log_tenant, sizeof(x->resp.log_tenant), "%s", c->client->c.tenant_id);
	return 0;
}

/* The form body, the client's credentials and authentication, and the
 * token parameter. */
static int
read_caller(struct gh_ctx *ctx, struct http_exchange *x, struct caller *c,
    struct oauth_error *e)
{
	size_t n = 0;
	const char *ct = http_request_header(&x->req, "Content-Type", &n), *why = NULL;
	char field[HTTP_MAX_FIELD_NAME];
	int https = 0, rc;

	if (ctx_client_address(ctx, &x->req, c->peer, &https) == -1)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, CTX_UNKNOWN_CALLER);
	if (ctx->require_https && !https)
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST,
		    "requests with client credentials must use HTTPS (RFC 6749 §2.3.1)");
	if (n > 1 || !http_media_is(ct, "application/x-www-form-urlencoded"))
		return oauth_fail(e, 415, OAUTH_INVALID_REQUEST,
		    "Content-Type must be application/x-www-form-urlencoded");
	field[0] = '\0';
	if ((rc = http_form_parse(x->req.body, x->req.body_len, &c->form, &why, field)) != 0)
		return oauth_parse_fail(e, rc, why);
	if (caller_credentials(x, c, http_params_get(&c->form, "client_id"),
	    http_params_get(&c->form, "client_secret"), e) == -1 ||
	    caller_login(ctx, x, c, e) == -1)
		return -1;
	if ((c->token = http_params_get(&c->form, "token")) == NULL || c->token[0] == '\0')
		return oauth_fail(e, 400, OAUTH_INVALID_REQUEST, "'token' is required");
	/* token_type_hint is optional and may be ignored (RFC 7662 §2.1,
	 * RFC 7009 §2.1): the token's form says what it is. */
	return 0;
}

static json_t *
roles_array(unsigned roles)
{
	json_t *a = json_array();

	if (roles & STORE_ROLE_VIEWER)
		json_array_append_new(a, json_string("viewer"));
	if (roles & STORE_ROLE_OPERATOR)
		json_array_append_new(a, json_string("operator"));
	if (roles & STORE_ROLE_ADMIN)
		json_array_append_new(a, json_string("admin"));
	return a;
}

static void
answer(struct http_exchange *x, int status, json_t *body)
{
	http_response_json(&x->resp, status, body);
	/* RFC 7662 §2.2 carries token data: never cached. */
	http_response_header(&x->resp, "Cache-Control", "no-store");
	http_response_header(&x->resp, "Pragma", "no-cache");
}

enum http_result
gate_introspect_handle(struct http_exchange *x)
{
	struct gh_ctx *ctx = x->route_ctx;
	struct caller c;
	struct oauth_error e;
	struct gate_principal *p = NULL;
	struct gate_refusal why;
	json_t *o, *aud;

	memset(&c, 0, sizeof(c));
	if (read_caller(ctx, x, &c, &e) == -1) {
		dialect_respond_error(&x->resp, &e);
		caller_clear(&c);
		return HTTP_DONE;
	}
	if (gate_bearer_verify(ctx, c.token, strlen(c.token), 0, clock_now(), &p, &why) == -1) {
		if (why.status == 503) {
			oauth_fail(&e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "%s", why.description);
			e.retry_after = 1;
			dialect_respond_error(&x->resp, &e);
		} else {
			answer(x, 200, json_pack("{s:b}", "active", 0));
			x->resp.reason = why.reason;
		}
		goto out;
	}
	/* Tenant isolation: another tenant's token is simply not active for
	 * this caller (RFC 7662 §2.2 lets the server say no more). */
	if (strcmp(p->tenant_id, c.client->c.tenant_id) != 0) {
		answer(x, 200, json_pack("{s:b}", "active", 0));
		x->resp.reason = "other_tenant";
		goto out;
	}
	o = json_pack("{s:b, s:s*, s:s, s:s, s:s, s:I, s:I, s:I, s:s, s:s, s:o, s:s}",
	    "active", 1, "scope", p->scope[0] != '\0' ? p->scope : NULL, "client_id", p->client_id,
	    "sub", p->client_id, "token_type", "Bearer",
	    "exp", (json_int_t)p->exp, "iat", (json_int_t)p->iat,
	    "nbf", (json_int_t)(p->nbf ? p->nbf : p->iat), "iss", ctx->issuer,
	    "tenant_id", p->tenant_id, "roles", roles_array(p->roles),
	    "env", store_env_names[p->env]);
	if (o == NULL) {
		oauth_fail(&e, 500, OAUTH_SERVER_ERROR, "out of memory");
		dialect_respond_error(&x->resp, &e);
		goto out;
	}
	if (p->format == STORE_FORMAT_JWT)
		json_object_set_new(o, "jti", json_string(p->token_id));
	if (p->naud == 1)
		json_object_set_new(o, "aud", json_string(p->aud[0]));
	else if (p->naud > 1) {
		aud = json_array();
		for (size_t i = 0; i < p->naud; i++)
			json_array_append_new(aud, json_string(p->aud[i]));
		json_object_set_new(o, "aud", aud);
	}
	answer(x, 200, o);
	x->resp.reason = "active";
out:
	gate_principal_release(p);
	caller_clear(&c);
	return HTTP_DONE;
}

/* Revocation, step one: the token verified for revocation into *p (the
 * caller releases it, set or not). RFC 7009 §2.2: an invalid or unknown
 * token is answered 200 too. Returns -1 when the answer is written. */
static int
revoke_verify(struct gh_ctx *ctx, struct http_exchange *x, const struct caller *c,
    struct gate_principal **p)
{
	struct oauth_error e;
	struct gate_refusal why;

	if (gate_bearer_verify(ctx, c->token, strlen(c->token), GATE_VERIFY_FOR_REVOCATION,
	    clock_now(), p, &why) == -1) {
		if (why.status == 503) {
			oauth_fail(&e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "%s", why.description);
			e.retry_after = 1;
			dialect_respond_error(&x->resp, &e);
		} else {
			answer(x, 200, json_object());
			x->resp.reason = why.reason;
		}
		return -1;
	}
	return 0;
}

/* Revocation, step two: may this caller revoke p? The token's own client
 * may revoke it, and so may an admin client of its tenant; nobody else,
 * and nobody of another tenant. RFC 7009 §2.1: such a request "is
 * refused and the client is informed of the error", as Keycloak and ORY
 * Hydra answer it (400 unauthorized_client). It tells the caller only
 * that the token it holds is valid, which the gate would tell it too.
 * Returns -1 when refused, the answer written. */
static int
revoke_allowed(struct http_exchange *x, const struct caller *c,
    const struct gate_principal *p)
{
	struct oauth_error e;

	if (strcmp(p->tenant_id, c->client->c.tenant_id) != 0 ||
	    (strcmp(p->client_id, c->client->c.id) != 0 &&
	    !(c->client->c.roles & STORE_ROLE_ADMIN))) {
		log_event(LOG_WARN, "auth.revoke_refused", json_pack("{s:s, s:s, s:s}",
		    "client", c->client->c.id, "peer", c->peer, "request_id", x->req.request_id));
		oauth_fail(&e, 400, OAUTH_UNAUTHORIZED_CLIENT, "the token was not issued to this "
		    "client, and this client is not an admin of its tenant");
		dialect_respond_error(&x->resp, &e);
		x->resp.reason = "not_yours";
		return -1;
	}
	return 0;
}

/* Revocation, step three: the token revoked in the store and in this
 * process's gate, and the answer written either way. */
static void
revoke_commit(struct gh_ctx *ctx, struct http_exchange *x, const struct caller *c,
    const struct gate_principal *p)
{
	struct oauth_error e;
	int rc;

	rc = store_token_revoke(ctx->store, p->token_id, clock_now());
	if (rc != STORE_OK && rc != STORE_NOTFOUND) {
		/* RFC 7009 §2.2.1: the client may retry. */
		oauth_fail(&e, 503, OAUTH_TEMPORARILY_UNAVAILABLE, "the token could not be revoked now; try again");
		e.retry_after = 1;
		dialect_respond_error(&x->resp, &e);
		return;
	}
	/* The store's generation moved too; this makes it immediate here.
	 * Not for a token revoked already: nothing changed, and the cache
	 * emptied at every such call would be a client's to empty at will
	 * (every token in use verified again), with no new token needed. */
	if (!p->revoked)
		gate_token_revoked(ctx);
	log_event(LOG_INFO, "token.revoked", json_pack("{s:s, s:s, s:s, s:s, s:s}",
	    "token_id", p->token_id, "token_client", p->client_id, "tenant", p->tenant_id,
	    "by", c->client->c.id, "request_id", x->req.request_id));
	answer(x, 200, json_object());
	x->resp.reason = "revoked";
}

enum http_result
gate_revoke_handle(struct http_exchange *x)
{
	struct gh_ctx *ctx = x->route_ctx;
	struct caller c;
	struct oauth_error e;
	struct gate_principal *p = NULL;

	memset(&c, 0, sizeof(c));
	if (read_caller(ctx, x, &c, &e) == -1) {
		dialect_respond_error(&x->resp, &e);
		caller_clear(&c);
		return HTTP_DONE;
	}
	if (revoke_verify(ctx, x, &c, &p) == -1 || revoke_allowed(x, &c, p) == -1)
		goto out;
	revoke_commit(ctx, x, &c, p);
out:
	gate_principal_release(p);
	caller_clear(&c);
	return HTTP_DONE;
}
