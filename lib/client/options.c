/*
 * options.c — gh_client_new and gh_client_free: the options checked,
 * defaulted and copied into a client, whose cache (client.c) is then
 * started; and the client's end, its secret wiped.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "extern.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* A value that goes into a header or a body: no controls, bounded. */
int
ghc_field_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f || n >= max)
			return 0;
	return 1;
}

/* 0: dflt; above max: max (so that a conversion to ns cannot overflow). */
static enum gh_client_err
set_default(long v, long dflt, long max, long *out, const char *name, struct gh_client_error *e)
{
	if (v < 0)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "%s must not be negative", name);
	*out = v == 0 ? dflt : v > max ? max : v;
	return GH_CLIENT_OK;
}

/* The copies of the options, the secret wiped first, and c itself. */
static void
free_settings(struct gh_client *c)
{
	ghc_secret_forms_free(c);
	if (c->client_secret != NULL) {
		OPENSSL_cleanse(c->client_secret, strlen(c->client_secret));
		free(c->client_secret);
	}
	free(c->base_url);
	free(c->token_url);
	free(c->client_id);
	free(c->scope);
	free(c->tenant);
	free(c->token_name);
	free(c->ca_file);
	free(c->ca_path);
	free(c->user_agent);
	free(c);
}

/* The options that need no copy to check: the dialect, id, secret, fields and lifetime. */
static enum gh_client_err
options_check(const struct gh_client_options *o, struct gh_client_error *e)
{
	if ((int)o->dialect < 0 || o->dialect >= GH_CLIENT_DIALECT__MAX)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "unknown dialect %d",
		    (int)o->dialect);
	if (o->client_id == NULL || *o->client_id == '\0' ||
	    !ghc_field_ok(o->client_id, GHC_MAX_FIELD))
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "client_id is missing, too long or has control characters");
	if (o->client_secret == NULL || *o->client_secret == '\0' ||
	    !ghc_field_ok(o->client_secret, GHC_MAX_FIELD))
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "client_secret is missing, too long or has control characters");
	/* Seed 003: base64("ClientId:ApiKey") without encoding; a ':' in the id is ambiguous. */
	if (o->dialect == GH_CLIENT_DIALECT_MANGOPAY && strchr(o->client_id, ':') != NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "a mangopay ClientId cannot contain ':' (RFC 7617 §2)");
	if ((o->scope != NULL && !ghc_field_ok(o->scope, GHC_MAX_FIELD)) ||
	    (o->tenant != NULL && !ghc_field_ok(o->tenant, 256)) ||
	    (o->token_name != NULL && !ghc_field_ok(o->token_name, 256)) ||
	    (o->user_agent != NULL && !ghc_field_ok(o->user_agent, 256)))
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "scope, tenant, token_name or user_agent is too long or has control characters");
	if (o->token_expiration < 0 || o->token_expiration > GHC_MAX_LIFETIME_S)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "token_expiration must be 0..%ld", GHC_MAX_LIFETIME_S);
	return GH_CLIENT_OK;
}

/* The durations, retries and size limit, defaulted and bounded, into c. */
static enum gh_client_err
settings_durations(struct gh_client *c, const struct gh_client_options *o,
    struct gh_client_error *e)
{
	enum gh_client_err rc;
	long v = 0;

	if ((rc = set_default(o->connect_timeout_ms, 5000, GHC_MAX_MS, &c->connect_timeout_ms,
	    "connect_timeout_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->timeout_ms, 20000, GHC_MAX_MS, &c->timeout_ms, "timeout_ms", e)) !=
	    GH_CLIENT_OK ||
	    (rc = set_default(o->backoff_base_ms, 200, GHC_MAX_MS, &c->backoff_base_ms,
	    "backoff_base_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->backoff_max_ms, 5000, GHC_MAX_MS, &c->backoff_max_ms,
	    "backoff_max_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->retry_after_max_ms, 30000, GHC_MAX_MS, &c->retry_after_max_ms,
	    "retry_after_max_ms", e)) != GH_CLIENT_OK ||
	    (rc = set_default(o->refresh_before_s, 300, GHC_MAX_LIFETIME_S, &v, "refresh_before_s",
	    e)) != GH_CLIENT_OK)
		return rc;
	if (o->refresh_before_ms < 0)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "refresh_before_ms is negative");
	/* Both bounded by the longest lifetime accepted: at most ~3.2e16 ns. */
	if (o->refresh_before_ms > 0)
		c->refresh_before_ns = (int64_t)o->refresh_before_ms >
		    (int64_t)GHC_MAX_LIFETIME_S * 1000 ? (int64_t)GHC_MAX_LIFETIME_S * 1000000000 :
		    (int64_t)o->refresh_before_ms * 1000000;
	else
		c->refresh_before_ns = (int64_t)v * 1000000000;
	if (c->backoff_max_ms < c->backoff_base_ms)
		c->backoff_max_ms = c->backoff_base_ms;
	c->max_retries = o->max_retries == 0 ? 3 : o->max_retries < 0 ? 0 : o->max_retries;
	/* Default: every attempt may use its whole timeout; waits come out of it. */
	v = c->timeout_ms * (1 + (c->max_retries < GHC_MAX_RETRIES_CAP ? c->max_retries :
	    GHC_MAX_RETRIES_CAP));
	if ((rc = set_default(o->deadline_ms, v < GHC_MAX_MS ? v : GHC_MAX_MS, GHC_MAX_MS, &v,
	    "deadline_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->deadline_ns = (int64_t)v * 1000000;
	if ((rc = set_default(o->refresh_401_holdoff_ms, 60000, GHC_MAX_MS, &v,
	    "refresh_401_holdoff_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->holdoff_401_ns = (int64_t)v * 1000000;
	if ((rc = set_default(o->background_idle_ms, 3600000, GHC_MAX_MS, &v,
	    "background_idle_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->idle_ns = (int64_t)v * 1000000;
	if ((rc = set_default(o->refusal_holdoff_ms, 10000, GHC_MAX_MS, &v,
	    "refusal_holdoff_ms", e)) != GH_CLIENT_OK)
		return rc;
	c->refusal_holdoff_ns = (int64_t)v * 1000000;
	/* Precise enough for the idle limit; rare enough to keep the hot path's
	 * cache line shared. */
	c->touch_ns = c->idle_ns / 16 < 1000000000 ? c->idle_ns / 16 : 1000000000;
	c->max_response_bytes = o->max_response_bytes ? o->max_response_bytes :
	    GHC_DEFAULT_RESPONSE_MAX;
	return GH_CLIENT_OK;
}

/* base_url (checked, without trailing '/') and token_url, its path's or the dialect's. */
static enum gh_client_err
settings_urls(struct gh_client *c, const struct gh_client_options *o, struct gh_client_error *e)
{
	enum gh_client_err rc;
	const char *path;
	size_t n;

	if ((rc = ghc_check_url(c, o->base_url, e)) != GH_CLIENT_OK)
		return rc;
	if ((c->base_url = strdup(o->base_url)) == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	n = strlen(c->base_url);
	while (n > 0 && c->base_url[n - 1] == '/')
		c->base_url[--n] = '\0';
	path = o->token_path != NULL ? o->token_path : gh_client_dialect_path(o->dialect);
	if (strstr(path, "://") != NULL) {
		if ((c->token_url = strdup(path)) == NULL)
			return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	} else {
		if (*path != '/')
			return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "token_path must start with '/' or be a full URL");
		if ((c->token_url = malloc(n + strlen(path) + 1)) == NULL)
			return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
		memcpy(c->token_url, c->base_url, n);
		memcpy(c->token_url + n, path, strlen(path) + 1);
	}
	return ghc_check_url(c, c->token_url, e);
}

/* The credentials (and the secret's other forms) and the other strings, copied into c. */
static enum gh_client_err
settings_strings(struct gh_client *c, const struct gh_client_options *o,
    struct gh_client_error *e)
{
	if ((c->client_id = strdup(o->client_id)) == NULL ||
	    (c->client_secret = strdup(o->client_secret)) == NULL)
		goto nomem;
	c->secret_len = strlen(c->client_secret);
	if (ghc_secret_forms(c) != 0)
		goto nomem;
	if ((o->scope && *o->scope && (c->scope = strdup(o->scope)) == NULL) ||
	    (o->tenant && *o->tenant && (c->tenant = strdup(o->tenant)) == NULL) ||
	    (o->token_name && (c->token_name = strdup(o->token_name)) == NULL) ||
	    (o->ca_file && (c->ca_file = strdup(o->ca_file)) == NULL) ||
	    (o->ca_path && (c->ca_path = strdup(o->ca_path)) == NULL) ||
	    (c->user_agent = strdup(o->user_agent ? o->user_agent :
	    "gatehouse-client/" GH_CLIENT_VERSION)) == NULL)
		goto nomem;
	if (c->dialect == GH_CLIENT_DIALECT_PAPAYA && c->scope != NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "the papaya dialect has no scope parameter");
	return GH_CLIENT_OK;
nomem:
	return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
}

static enum gh_client_err
client_new(const struct gh_client_options *o, struct gh_client **out,
    struct gh_client_error *e)
{
	struct gh_client *c = NULL;
	enum gh_client_err rc;

	if (out != NULL)
		*out = NULL;
	if (o == NULL || out == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no options or no out pointer");
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "curl_global_init failed: %s",
		    curl_easy_strerror(curl_init_rc));
	if ((rc = options_check(o, e)) != GH_CLIENT_OK)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_NO_MEMORY, 0, "out of memory");
	c->dialect = o->dialect;
	c->allow_http = o->allow_http != 0;
	c->background_refresh = o->background_refresh != 0;
	c->token_expiration = o->token_expiration;

	if ((rc = settings_durations(c, o, e)) != GH_CLIENT_OK ||
	    (rc = settings_urls(c, o, e)) != GH_CLIENT_OK ||
	    (rc = settings_strings(c, o, e)) != GH_CLIENT_OK ||
	    (rc = ghc_cache_init(c, e)) != GH_CLIENT_OK)
		goto fail;
	*out = c;
	return GH_CLIENT_OK;
fail:
	free_settings(c);
	return rc;
}

/*
 * Extensible options (as openat2(2) and clone3(2) take theirs): read what
 * the caller's struct holds, default the rest, and refuse what a newer
 * header set that this library would silently ignore.
 */
enum gh_client_err
gh_client_new_sized(const struct gh_client_options *user, size_t size, struct gh_client **out,
    struct gh_client_error *e)
{
	struct gh_client_options o;
	const unsigned char *extra;
	size_t i;

	if (out != NULL)
		*out = NULL;
	if (user == NULL || out == NULL)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0, "no options or no out pointer");
	if (size < GHC_OPTIONS_V0_SIZE)
		return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
		    "options_size %zu is smaller than any struct gh_client_options (%zu)", size,
		    (size_t)GHC_OPTIONS_V0_SIZE);
	extra = (const unsigned char *)user;
	for (i = sizeof(o); i < size; i++)
		if (extra[i] != 0)
			return ghc_fail(e, GH_CLIENT_ERR_INVALID_ARGUMENT, 0,
			    "the options set a field (byte %zu) that this library (%s) does not know; "
			    "link a newer libgatehouse-client", i, GH_CLIENT_VERSION);
	memset(&o, 0, sizeof(o));
	memcpy(&o, user, size < sizeof(o) ? size : sizeof(o));
	return client_new(&o, out, e);
}

/* The 0.1.0 entry point, for binaries built before options were sized. */
enum gh_client_err
(gh_client_new)(const struct gh_client_options *o, struct gh_client **out,
    struct gh_client_error *e)
{
	return gh_client_new_sized(o, GHC_OPTIONS_V0_SIZE, out, e);
}

void
gh_client_free(struct gh_client *c)
{
	if (c == NULL)
		return;
	ghc_cache_free(c);
	free_settings(c);
}
