/* views.c — see views.h. */
#include <stdlib.h>
#include <string.h>

#include "keys/keys.h"
#include "manage/views.h"
#include "util/util.h"

/* By bit: STORE_ROLE_VIEWER, STORE_ROLE_OPERATOR, STORE_ROLE_ADMIN. */
static const char *const role_names[] = { "viewer", "operator", "admin" };
static const char *const lock_kinds[STORE_LOCK_KIND__MAX] = { "pair", "address" };

json_t *
views_time(int64_t t)
{
	char iso[21];

	if (t == 0)
		return json_null();
	time_iso8601(t, iso);
	return json_string(iso);
}

/* The space separated words of s as an array of strings. */
static json_t *
words(const char *s)
{
	json_t *arr = json_array();
	char *dup, *tok, *save = NULL;

	if ((dup = strdup(s)) != NULL) {
		for (tok = strtok_r(dup, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			json_array_append_new(arr, json_string(tok));
		free(dup);
	}
	return arr;
}

json_t *
views_client(const struct store_client *c)
{
	json_t *roles = json_array();
	json_t *claims = json_loads(c->claims, 0, NULL);

	for (size_t i = 0; i < GH_ARRAY_LEN(role_names); i++)
		if (c->roles & (1u << i))
			json_array_append_new(roles, json_string(role_names[i]));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:s, s:o, s:o, s:s, s:I, s:o, s:o, s:o}",
	    "client_id", c->id, "tenant_id", c->tenant_id, "name", c->name,
	    "env", store_env_names[c->env], "roles", roles, "scopes", words(c->scopes),
	    "ttl", (json_int_t)c->ttl, "max_ttl", (json_int_t)c->max_ttl,
	    "token_format", store_format_names[c->format], "allow_ips", words(c->allow_ips),
	    "claims", claims ? claims : json_object(),
	    "status", c->disabled ? "disabled" : "active",
	    "rate_limit", (json_int_t)c->rate_limit,
	    "tokens_valid_after", views_time(c->tokens_valid_after),
	    "created_at", views_time(c->created_at), "updated_at", views_time(c->updated_at));
}

static int
secret_live(const struct store_secret *s, int64_t now)
{
	return s->revoked_at == 0 && (s->expires_at == 0 || s->expires_at > now);
}

/* The age in seconds of the client's oldest live secret, or -1 when none. */
static int64_t
oldest_secret_age(struct store *st, const char *client_id, int64_t now)
{
	struct store_secret *ss = NULL;
	size_t n = 0;
	int64_t oldest = -1;

	if (store_secret_list(st, client_id, &ss, &n) != STORE_OK)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (secret_live(&ss[i], now) && (oldest == -1 || now - ss[i].created_at > oldest))
			oldest = now - ss[i].created_at;
	store_secret_free(ss, n);
	return oldest;
}

json_t *
views_client_listed(struct store *st, const struct store_client *c, int64_t now,
    int64_t rotation_age)
{
	json_t *o = views_client(c);
	int64_t age = oldest_secret_age(st, c->id, now);

	json_object_set_new(o, "secret_age_days", age < 0 ? json_null() : json_integer(age / 86400));
	/* In seconds, as /metrics counts it, not in whole days. */
	json_object_set_new(o, "secret_rotation_due",
	    json_boolean(age >= 0 && age >= rotation_age));
	return o;
}

const char *
views_secret_state(const struct store_secret *s, int64_t now)
{
	if (s->revoked_at != 0)
		return "revoked";
	return secret_live(s, now) ? "live" : "expired";
}

json_t *
views_secret_holder(const struct store_secret *s)
{
	return s->holder != NULL && s->holder[0] != '\0' ? json_string(s->holder) : json_null();
}

/* A key's state at now, from its dates. */
static const char *
key_state(const struct store_key *k, int64_t now)
{
	if ((k->remove_at != 0 && k->remove_at <= now) || keys_revoked(k))
		return "removed";
	if (k->retire_at != 0 && k->retire_at <= now)
		return "retired";
	if (k->publish_at > now)
		return "scheduled";
	if (k->activate_at > now)
		return "published";
	return "active";
}

json_t *
views_key(const struct store_key *k, int64_t now)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}",
	    "kid", k->kid, "alg", k->alg, "env", store_env_names[k->env],
	    "state", key_state(k, now), "created_at", views_time(k->created_at),
	    "publish_at", views_time(k->publish_at), "activate_at", views_time(k->activate_at),
	    "retire_at", views_time(k->retire_at), "remove_at", views_time(k->remove_at));
}

json_t *
views_key_rotated(const char *kid, enum store_env env, int64_t publish_at, int64_t activate_at)
{
	return json_pack("{s:s, s:s, s:o, s:o}", "kid", kid, "env", store_env_names[env],
	    "publish_at", views_time(publish_at), "activate_at", views_time(activate_at));
}

json_t *
views_token(const struct store_token *t, int64_t now, int with_aud)
{
	/* s*: a NULL aud leaves out the key as well (jansson 2.11 and later). */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s*, s:o, s:o, s:o, s:s}",
	    "id", t->id, "name", t->name, "client_id", t->client_id,
	    "tenant_id", t->tenant_id, "format", store_format_names[t->format],
	    "env", store_env_names[t->env], "scope", t->scope, "aud", with_aud ? t->aud : NULL,
	    "issued_at", views_time(t->issued_at), "expires_at", views_time(t->expires_at),
	    "revoked_at", views_time(t->revoked_at),
	    "status", t->revoked_at ? "revoked" : t->expires_at <= now ? "expired" : "live");
}

json_t *
views_lock(const struct store_lock *l, int64_t now)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:I}",
	    "kind", lock_kinds[l->kind], "address", l->address,
	    "client_id", l->kind == STORE_LOCK_PAIR ? json_string(l->client_id) : json_null(),
	    "locked_at", views_time(l->created_at), "until", views_time(l->until),
	    "retry_after", (json_int_t)(l->until - now));
}
