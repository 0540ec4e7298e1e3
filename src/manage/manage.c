/* manage.c — see manage.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "jose/jose.h"
#include "manage/manage.h"
#include "oauth/client_cache.h"
#include "util/json_view.h"
#include "util/util.h"

_Static_assert(MANAGE_MAX_CLAIMS_MEMBERS + 16 <= JOSE_MAX_CLAIMS,
    "a token with every extra claim must stay readable by the gate");

static int
fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return -1;
}

int
manage_tenant_create(struct store *st, const char *id, const char *name,
    struct store_tenant *out, char *err, size_t errlen)
{
	struct store_tenant t;
	int rc;

	if (id == NULL || !str_is_ident(id, strlen(id), 64))
		return fail(err, errlen, "tenant id must be 1-64 characters of [A-Za-z0-9._:-]");
	if (name == NULL)
		name = id;
	if (strlen(name) == 0 || strlen(name) > 128 || !str_is_clean_utf8(name, strlen(name)))
		return fail(err, errlen, "tenant name must be 1-128 characters of printable UTF-8");
	memset(&t, 0, sizeof(t));
	t.id = (char *)id;
	t.name = (char *)name;
	t.created_at = clock_now();
	if ((rc = store_tenant_create(st, &t)) == STORE_CONFLICT) {
		snprintf(err, errlen, "tenant %s already exists", id);
		return -1;
	}
	if (rc == STORE_SUPERSEDED) {
		/* The call's own guard, not the tenant's key (store.h). */
		snprintf(err, errlen, "%s", store_last_error());
		return -1;
	}
	if (rc != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	if (out != NULL && store_tenant_get(st, id, out) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	return 0;
}

int
manage_parse_roles(const char *s, unsigned *out, char *err, size_t errlen)
{
	static const char *const names[] = { "viewer", "operator", "admin" };
	unsigned bits = 0;

	while (*s != '\0') {
		size_t n = strcspn(s, ", "), i;
		for (i = 0; i < GH_ARRAY_LEN(names); i++)
			if (strlen(names[i]) == n && strncmp(names[i], s, n) == 0)
				break;
		if (n > 0 && i == GH_ARRAY_LEN(names)) {
			snprintf(err, errlen, "roles: \"%.*s\" is not one of admin, operator, viewer",
			    (int)(n > 32 ? 32 : n), s);
			return -1;
		}
		if (n > 0)
			bits |= 1u << i;
		s += n;
		while (*s == ',' || *s == ' ')
			s++;
	}
	if (bits == 0)
		return fail(err, errlen, "roles: name at least one of admin, operator, viewer");
	*out = bits;
	return 0;
}

static int
parse_scopes(const char *s, char **out, char *err, size_t errlen)
{
	size_t n = strlen(s);

	if (n > 2048)
		return fail(err, errlen, "scopes: longer than 2048 bytes");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		/* RFC 6749 §3.3 scope tokens, separated by spaces. */
		if (c != ' ' && !scope_char_ok(c))
			return fail(err, errlen, "scopes: a scope has a character outside RFC 6749 §3.3");
	}
	/* Stored normalized: single spaces, no ends. */
	if ((*out = malloc(n + 1)) == NULL)
		return fail(err, errlen, "out of memory");
	{
		size_t o = 0;
		const char *p = s;
		while (*p != '\0') {
			size_t m = strcspn(p, " ");
			if (m > 0) {
				if (o > 0)
					(*out)[o++] = ' ';
				memcpy(*out + o, p, m);
				o += m;
			}
			p += m + (p[m] == ' ');
		}
		(*out)[o] = '\0';
	}
	return 0;
}

/*
 * Tokens carry the extra claims as members of their claims set, which the
 * gate reads with util/json_view.h: refuse here what it would refuse there
 * (nesting, member count), so that no client can be given tokens that no
 * gate accepts. On failure *text is freed and set to NULL.
 */
static int
claims_readable(const char *compact, char **text, char *err, size_t errlen)
{
	struct json_view_member m[MANAGE_MAX_CLAIMS_MEMBERS];
	struct json_view v = { m, 0, MANAGE_MAX_CLAIMS_MEMBERS };
	size_t n = strlen(compact);
	const char *why = "out of memory";
	char *copy = malloc(n + 1);
	int rc = -1;

	if (copy != NULL)
		rc = json_view_parse(&v, memcpy(copy, compact, n + 1), n, &why);
	free(copy);
	if (rc == 0)
		return 0;
	snprintf(err, errlen, "claims: %s (at most %d members, nested at most %d deep)",
	    why, MANAGE_MAX_CLAIMS_MEMBERS, JSON_VIEW_MAX_DEPTH);
	free(*text);
	*text = NULL;
	return -1;
}

static int
parse_claims(const char *s, char **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;
	const char *key;
	json_t *v;

	if (strlen(s) > MANAGE_MAX_CLAIMS_LEN) {
		snprintf(err, errlen, "claims: longer than %d bytes", MANAGE_MAX_CLAIMS_LEN);
		return -1;
	}
	if ((o = json_loads(s, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		snprintf(err, errlen, "claims: not valid JSON: %s", je.text);
		return -1;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		return fail(err, errlen, "claims: must be a JSON object");
	}
	json_object_foreach(o, key, v) {
		if (claims_is_registered(key)) {
			snprintf(err, errlen, "claims: \"%.40s\" is a registered claim the server sets; extra claims may not override it", key);
			json_decref(o);
			return -1;
		}
	}
	*out = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (*out == NULL)
		return fail(err, errlen, "out of memory");
	return claims_readable(*out, out, err, errlen);
}

static int
parse_allowlist(const struct client_spec *s, char **out, char *err, size_t errlen)
{
	struct cidr_list all, one;
	const char *why, *bad;
	char text[CIDR_MAX_BLOCKS * 50];

	all.n = 0;
	for (size_t i = 0; i < s->nallow; i++) {
		if (cidr_parse_list(s->allow_ips[i], &one, &why, &bad) == -1) {
			snprintf(err, errlen, "allow-ip: \"%.50s\" %s", bad, why);
			return -1;
		}
		/* One of separators alone (" ", ",") would add no block: given
		 * alone, it left the client without an allowlist, any address
		 * allowed, while the list (and an approval of it) showed one. */
		if (one.n == 0) {
			snprintf(err, errlen, "allow-ip: \"%.50s\" names no address", s->allow_ips[i]);
			return -1;
		}
		for (size_t k = 0; k < one.n; k++) {
			if (all.n == CIDR_MAX_BLOCKS)
				return fail(err, errlen, "allow-ip: too many address blocks");
			all.blocks[all.n++] = one.blocks[k];
		}
	}
	cidr_format_list(&all, text, sizeof(text));
	*out = strdup(text);
	return *out ? 0 : fail(err, errlen, "out of memory");
}

static int
parse_seconds(const char *field, const char *v, int64_t def, int64_t *out,
    char *err, size_t errlen)
{
	const char *why;

	if (v == NULL) {
		*out = def;
		return 0;
	}
	if (num_parse_duration(v, 1, 366 * 86400, out, &why) == -1) {
		snprintf(err, errlen, "%s: \"%.32s\" %s (1s..366d; units s, m, h, d)", field, v, why);
		return -1;
	}
	return 0;
}

/*
 * A new client's id. RFC 7617 section 2 forbids ':' in a Basic user-id
 * and parsers split at the first one (http_basic_parse as well), so only
 * a client sending RFC 6749 section 2.3.1's urlencoded form could log in
 * with such an id; requests' HTTPBasicAuth and seed 003's SDKs send it
 * raw. Ids made before keep working: this checks creation only, and
 * tenant ids, which go in no Basic header, keep str_is_ident's ':'.
 */
static int
client_id_check(const char *id, char *err, size_t errlen)
{
	if (strchr(id, ':') != NULL)
		return fail(err, errlen, "id: ':' is not allowed in a client id "
		    "(RFC 7617 section 2: Basic credentials split at the first ':')");
	if (!str_is_ident(id, strlen(id), 128))
		return fail(err, errlen, "id: must be 1-128 characters of [A-Za-z0-9._-]");
	return 0;
}

static int
build_client(const struct config *cfg, const struct client_spec *s,
    struct store_client *c, char *err, size_t errlen)
{
	const char *why;
	int64_t def_ttl;

	if (s->tenant == NULL)
		return fail(err, errlen, "tenant: required");
	if (s->name == NULL || strlen(s->name) == 0 || strlen(s->name) > 128 ||
	    !str_is_clean_utf8(s->name, strlen(s->name)))
		return fail(err, errlen, "name: required, 1-128 characters of printable UTF-8");
	if (s->id != NULL && client_id_check(s->id, err, errlen) == -1)
		return -1;
	if (s->id != NULL)
		c->id = strdup(s->id);
	else if ((c->id = malloc(37)) != NULL && uuid_v4(c->id) == -1)
		return fail(err, errlen, "no randomness");
	if (c->id == NULL)
		return fail(err, errlen, "out of memory");
	if ((c->tenant_id = strdup(s->tenant)) == NULL || (c->name = strdup(s->name)) == NULL)
		return fail(err, errlen, "out of memory");
	c->env = STORE_ENV_SANDBOX;
	if (s->env != NULL && store_env_from_name(s->env, &c->env) == -1)
		return fail(err, errlen, "env: must be sandbox or production");
	c->roles = STORE_ROLE_VIEWER;
	if (s->roles != NULL && manage_parse_roles(s->roles, &c->roles, err, errlen) == -1)
		return -1;
	if (parse_scopes(s->scopes ? s->scopes : "", &c->scopes, err, errlen) == -1)
		return -1;
	def_ttl = c->env == STORE_ENV_SANDBOX ? cfg->ttl_sandbox : cfg->ttl_production;
	if (parse_seconds("ttl", s->ttl, def_ttl, &c->ttl, err, errlen) == -1 ||
	    parse_seconds("max-ttl", s->max_ttl, c->ttl > cfg->max_ttl ? c->ttl : cfg->max_ttl,
	    &c->max_ttl, err, errlen) == -1)
		return -1;
	if (c->ttl > c->max_ttl) {
		snprintf(err, errlen, "ttl (%llds) is above max-ttl (%llds)",
		    (long long)c->ttl, (long long)c->max_ttl);
		return -1;
	}
	c->format = STORE_FORMAT_JWT;
	if (s->format != NULL && store_format_from_name(s->format, &c->format) == -1)
		return fail(err, errlen, "token-format: must be jwt or opaque");
	if (parse_claims(s->claims ? s->claims : "{}", &c->claims, err, errlen) == -1)
		return -1;
	if (3 * strlen(c->scopes) + strlen(c->claims) > MANAGE_MAX_TOKEN_EXTRA) {
		/* Each within its own bound, together they made tokens the
		 * server could not sign (500 on every request). */
		snprintf(err, errlen, "scopes and claims: too large together for a token "
		    "(3 x %zu bytes of scopes + %zu of claims is over %d)", strlen(c->scopes),
		    strlen(c->claims), MANAGE_MAX_TOKEN_EXTRA);
		return -1;
	}
	if (parse_allowlist(s, &c->allow_ips, err, errlen) == -1)
		return -1;
	if (c->env == STORE_ENV_PRODUCTION && c->allow_ips[0] == '\0' && cfg->require_allowlist)
		return fail(err, errlen, "allow-ip: production clients need an IP allowlist (or set require_allowlist = false)");
	if (s->rate_limit != NULL && num_parse_i64(s->rate_limit, strlen(s->rate_limit), 0,
	    100000000, &c->rate_limit, &why) == -1) {
		snprintf(err, errlen, "rate-limit: %s (0..100000000 tokens a minute)", why);
		return -1;
	}
	c->created_at = c->updated_at = clock_now();
	return 0;
}

/* preset: the first secret's hash made earlier (then secret is untouched),
 * or NULL to make a secret now; holder: whom it was shown to (store.h). */
static int
client_create(struct store *st, const uint8_t secret_key[32],
    const struct config *cfg, const struct client_spec *s, const uint8_t *preset,
    const char *holder, struct store_client *out, char secret[SECRET_TEXT_LEN + 1], char *err,
    size_t errlen)
{
	struct store_client c;
	struct store_secret sec;
	struct store_tenant t;
	int rc = -1, src;

	memset(&c, 0, sizeof(c));
	memset(&sec, 0, sizeof(sec));
	if (build_client(cfg, s, &c, err, errlen) == -1)
		goto out;
	if ((src = store_tenant_get(st, c.tenant_id, &t)) != STORE_OK) {
		if (src == STORE_NOTFOUND)
			snprintf(err, errlen, "tenant: %s does not exist", c.tenant_id);
		else
			snprintf(err, errlen, "store: %s", store_last_error());
		goto out;
	}
	store_tenant_clear(&t);
	if (preset != NULL)
		memcpy(sec.hash, preset, sizeof(sec.hash));
	else if (secret_generate(secret) == -1) {
		snprintf(err, errlen, "no randomness");
		goto out;
	} else if (secret_hash(secret_key, secret, SECRET_TEXT_LEN, sec.hash) == -1) {
		/* Stored, it would be a secret nothing matches. */
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	sec.client_id = c.id;
	sec.created_at = c.created_at;
	sec.holder = (char *)holder;
	if ((src = store_client_create(st, &c, &sec)) != STORE_OK) {
		if (src == STORE_CONFLICT)
			snprintf(err, errlen, "client %s already exists", c.id);
		else if (src == STORE_SUPERSEDED)
			snprintf(err, errlen, "%s", store_last_error());
		else
			snprintf(err, errlen, "store: %s", store_last_error());
		if (preset == NULL)
			OPENSSL_cleanse(secret, SECRET_TEXT_LEN + 1);
		goto out;
	}
	if (out != NULL && store_client_get(st, c.id, out) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		goto out;
	}
	rc = 0;
out:
	sec.client_id = sec.holder = NULL;
	OPENSSL_cleanse(sec.hash, sizeof(sec.hash));
	store_client_clear(&c);
	return rc;
}

int
manage_client_create(struct store *st, const uint8_t secret_key[32],
    const struct config *cfg, const struct client_spec *s,
    struct store_client *out, char secret[SECRET_TEXT_LEN + 1], char *err,
    size_t errlen)
{
	return client_create(st, secret_key, cfg, s, NULL, NULL, out, secret, err, errlen);
}

int
manage_client_create_hashed(struct store *st, const struct config *cfg,
    const struct client_spec *s, const uint8_t hash[32], const char *holder,
    struct store_client *out, char *err, size_t errlen)
{
	return client_create(st, NULL, cfg, s, hash, holder, out, NULL, err, errlen);
}

int
manage_client_set_disabled(struct store *st, const char *id, int disabled,
    struct store_client *out, char *err, size_t errlen)
{
	struct store_client c;
	int rc;

	/* One statement of its own (store.h): an update of the client's
	 * settings made from an older read cannot undo it. */
	if ((rc = store_client_set_disabled(st, id, disabled ? 1 : 0, clock_now())) != STORE_OK) {
		snprintf(err, errlen, rc == STORE_NOTFOUND ? "client %.64s does not exist" : "store: %s",
		    rc == STORE_NOTFOUND ? id : store_last_error());
		return -1;
	}
	if ((rc = store_client_get(st, id, &c)) != STORE_OK) {
		snprintf(err, errlen, rc == STORE_NOTFOUND ? "client %.64s does not exist" : "store: %s",
		    rc == STORE_NOTFOUND ? id : store_last_error());
		return -1;
	}
	if (out != NULL)
		*out = c;
	else
		store_client_clear(&c);
	return 0;
}

/* The stored roles as create's text ("viewer,operator,admin"). */
static void
roles_text(unsigned roles, char *out, size_t len)
{
	static const char *const names[] = { "viewer", "operator", "admin" };
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < GH_ARRAY_LEN(names) && used < len; i++)
		if (roles & (1u << i))
			used += (size_t)snprintf(out + used, len - used, "%s%s", used ? "," : "", names[i]);
}

int
manage_client_check(const struct config *cfg, const struct client_spec *s, char *err,
    size_t errlen)
{
	struct store_client c;
	int rc;

	memset(&c, 0, sizeof(c));
	rc = build_client(cfg, s, &c, err, errlen);
	store_client_clear(&c);
	return rc;
}

/* The stored numbers and roles as the text a spec holds. */
struct spec_text {
	char	roles[64], ttl[24], max_ttl[24], rate[24];
};

/* The merged spec m: the stored value (cur, and its numbers as text in t)
 * where the patch says nothing, so that the result passes the same checks
 * as a new client. m points into cur, patch and t. */
static void
spec_merge(const struct store_client *cur, const struct client_spec *patch,
    struct client_spec *m, struct spec_text *t)
{
	memset(m, 0, sizeof(*m));
	roles_text(cur->roles, t->roles, sizeof(t->roles));
	snprintf(t->ttl, sizeof(t->ttl), "%lld", (long long)cur->ttl);
	snprintf(t->max_ttl, sizeof(t->max_ttl), "%lld", (long long)cur->max_ttl);
	snprintf(t->rate, sizeof(t->rate), "%lld", (long long)cur->rate_limit);
	m->id = cur->id;
	m->tenant = cur->tenant_id;
	m->env = store_env_names[cur->env];
	m->name = patch->name ? patch->name : cur->name;
	m->roles = patch->roles ? patch->roles : t->roles;
	m->scopes = patch->scopes ? patch->scopes : cur->scopes;
	m->ttl = patch->ttl ? patch->ttl : t->ttl;
	m->max_ttl = patch->max_ttl ? patch->max_ttl : t->max_ttl;
	m->format = patch->format ? patch->format : store_format_names[cur->format];
	m->claims = patch->claims ? patch->claims : cur->claims;
	m->rate_limit = patch->rate_limit ? patch->rate_limit : t->rate;
	if (patch->allow_set) {
		m->nallow = patch->nallow;
		for (size_t i = 0; i < patch->nallow && i < CIDR_MAX_BLOCKS; i++)
			m->allow_ips[i] = patch->allow_ips[i];
	} else if (cur->allow_ips[0] != '\0') {
		m->allow_ips[0] = cur->allow_ips;
		m->nallow = 1;
	}
}

/* One read, merge and conditional write: 0, -1 with err, 1 when the
 * client changed since the read (err set too). */
static int
client_update_once(struct store *st, const struct config *cfg, const char *id,
    const struct client_spec *patch, int dry_run, struct store_client *out, char *err,
    size_t errlen)
{
	struct store_client cur, next;
	struct client_spec m;
	struct spec_text t;
	int rc = -1, src;

	if (patch->id != NULL || patch->tenant != NULL || patch->env != NULL)
		return fail(err, errlen, "id, tenant and env of a client cannot change");
	if ((src = store_client_get(st, id, &cur)) != STORE_OK) {
		snprintf(err, errlen, src == STORE_NOTFOUND ? "client %.64s does not exist" : "store: %s",
		    src == STORE_NOTFOUND ? id : store_last_error());
		return -1;
	}
	memset(&next, 0, sizeof(next));
	spec_merge(&cur, patch, &m, &t);
	if (build_client(cfg, &m, &next, err, errlen) == -1)
		goto out;
	next.disabled = cur.disabled;
	next.tokens_valid_after = cur.tokens_valid_after;
	next.created_at = cur.created_at;
	if (dry_run) {
		rc = 0;
		goto out;
	}
	if ((src = store_client_update(st, &next, &cur)) != STORE_OK) {
		if (src == STORE_CONFLICT) {
			/* Said only if every try met another change ("store:":
			 * a 503 in the admin API, worth trying again). */
			snprintf(err, errlen, "store: client %.64s kept changing while this update "
			    "was applied; try again", id);
			rc = 1;
		} else if (src == STORE_SUPERSEDED)
			/* Taken over: not tried again, as a conflict is. */
			snprintf(err, errlen, "%s", store_last_error());
		else
			snprintf(err, errlen, src == STORE_NOTFOUND ? "client %.64s does not exist" :
			    "store: %s", src == STORE_NOTFOUND ? id : store_last_error());
		goto out;
	}
	if (out != NULL && store_client_get(st, id, out) != STORE_OK) {
		snprintf(err, errlen, "store: %s", store_last_error());
		goto out;
	}
	rc = 0;
out:
	store_client_clear(&next);
	store_client_clear(&cur);
	return rc;
}

/* The patch applied to the client as it is: a change that came in between
 * the read and the write (STORE_CONFLICT) makes it read again and apply the
 * patch to that, a few times at most. */
#define UPDATE_TRIES	5

static int
client_update(struct store *st, const struct config *cfg, const char *id,
    const struct client_spec *patch, int dry_run, struct store_client *out, char *err,
    size_t errlen)
{
	int rc = 1;

	for (int i = 0; i < UPDATE_TRIES && rc == 1; i++)
		rc = client_update_once(st, cfg, id, patch, dry_run, out, err, errlen);
	return rc == 0 ? 0 : -1;
}

int
manage_client_update(struct store *st, const struct config *cfg, const char *id,
    const struct client_spec *patch, struct store_client *out, char *err, size_t errlen)
{
	return client_update(st, cfg, id, patch, 0, out, err, errlen);
}

int
manage_client_update_check(struct store *st, const struct config *cfg, const char *id,
    const struct client_spec *patch, char *err, size_t errlen)
{
	return client_update(st, cfg, id, patch, 1, NULL, err, errlen);
}

/* 1 when two clients have the settings an update sets alike. */
static int
same_settings(const struct store_client *a, const struct store_client *b)
{
	return strcmp(a->name, b->name) == 0 && a->roles == b->roles &&
	    strcmp(a->scopes, b->scopes) == 0 && a->ttl == b->ttl && a->max_ttl == b->max_ttl &&
	    a->format == b->format && strcmp(a->allow_ips, b->allow_ips) == 0 &&
	    strcmp(a->claims, b->claims) == 0 && a->rate_limit == b->rate_limit;
}

int
manage_client_update_in_effect(struct store *st, const struct config *cfg, const char *id,
    const struct client_spec *patch)
{
	struct store_client cur, next;
	struct client_spec m;
	struct spec_text t;
	char err[256];
	int same = 0;

	if (patch->id != NULL || patch->tenant != NULL || patch->env != NULL ||
	    store_client_get(st, id, &cur) != STORE_OK)
		return 0;
	/* The client the update would leave, built as the update builds it
	 * (the same normalizing), compared with the client as it is. */
	memset(&next, 0, sizeof(next));
	spec_merge(&cur, patch, &m, &t);
	if (build_client(cfg, &m, &next, err, sizeof(err)) == 0)
		same = same_settings(&cur, &next);
	store_client_clear(&next);
	store_client_clear(&cur);
	return same;
}

int
manage_client_delete(struct store *st, const char *id, char *err, size_t errlen)
{
	int rc = store_client_delete(st, id);

	if (rc == STORE_NOTFOUND)
		snprintf(err, errlen, "client %.64s does not exist", id);
	else if (rc != STORE_OK)
		snprintf(err, errlen, "store: %s", store_last_error());
	return rc == STORE_OK ? 0 : -1;
}
