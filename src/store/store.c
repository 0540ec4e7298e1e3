/*
 * store.c — the store's dispatch (store.h over store_backend.h). Picks the
 * backend by URL, checks arguments once for every backend, fills defaults
 * for optional strings, owns the group-commit writer and the per-thread
 * error message. Knows no SQL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "store/store_backend.h"
#include "store/writer.h"

const char *const store_env_names[STORE_ENV__MAX] = { "sandbox", "production" };
const char *const store_format_names[STORE_FORMAT__MAX] = { "jwt", "opaque" };

struct store {
	const struct store_ops	*ops;
	void			*h;	/* the backend's handle */
	struct writer		*writer;
};

/* -- errors ------------------------------------------------------------------ */

static _Thread_local char last_error[256] = "no error";

int
store_set_error(int rc, const char *fmt, ...)
{
	char buf[sizeof(last_error)];
	va_list ap;

	/* Through a copy: an argument may be store_last_error() itself. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(last_error, buf, sizeof(buf));
	return rc;
}

const char *
store_last_error(void)
{
	return last_error;
}

/* -- names ------------------------------------------------------------------- */

int
store_env_from_name(const char *s, enum store_env *out)
{
	for (int i = 0; s != NULL && i < STORE_ENV__MAX; i++)
		if (strcmp(s, store_env_names[i]) == 0) {
			*out = (enum store_env)i;
			return 0;
		}
	return -1;
}

int
store_format_from_name(const char *s, enum store_format *out)
{
	for (int i = 0; s != NULL && i < STORE_FORMAT__MAX; i++)
		if (strcmp(s, store_format_names[i]) == 0) {
			*out = (enum store_format)i;
			return 0;
		}
	return -1;
}

/* -- open and close ------------------------------------------------------------ */

/* URL scheme -> backend. strip: the backend gets what follows the prefix. */
static const struct scheme {
	const char		*prefix;
	int			 strip;
	const struct store_ops	*ops;
} schemes[] = {
	{ "sqlite:",		1, &store_sqlite_ops },
	{ "postgresql://",	0, &store_pgsql_ops },
	{ "postgres://",	0, &store_pgsql_ops },
};

int
store_open(const char *url, struct store **out, char *err, size_t errlen)
{
	const struct store_ops *ops = NULL;
	const char *target = url;
	struct store *s = NULL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || err == NULL || errlen == 0)
		return store_set_error(STORE_ERROR, "store_open: NULL argument");
	*out = NULL;
	if (url == NULL || url[0] == '\0') {
		snprintf(err, errlen, "no store URL (sqlite:PATH or postgresql://...)");
		return store_set_error(STORE_ERROR, "%s", err);
	}
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
			ops = schemes[i].ops;
			target = schemes[i].strip ? url + strlen(schemes[i].prefix) : url;
			break;
		}
	if (ops == NULL) {
		/* A bare path is SQLite; an unknown scheme is a mistake. */
		if (strstr(url, "://") != NULL) {
			snprintf(err, errlen, "\"%.60s\": unknown store scheme (sqlite:PATH or "
			    "postgresql://...)", url);
			return store_set_error(STORE_ERROR, "%s", err);
		}
		ops = &store_sqlite_ops;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return store_set_error(STORE_ERROR, "%s", err);
	}
	s->ops = ops;
	if (ops->open(target, &s->h, err, errlen) != STORE_OK) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot open the %s store", ops->name);
		free(s);
		return store_set_error(STORE_ERROR, "%s", err);
	}
	if ((s->writer = writer_start(ops, s->h, WRITER_QUEUE_MAX, WRITER_BATCH_MAX,
	    err, errlen)) == NULL) {
		ops->close(s->h);
		free(s);
		return store_set_error(STORE_ERROR, "%s", err);
	}
	*out = s;
	return STORE_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	writer_stop(s->writer);		/* commits what is queued first */
	s->ops->close(s->h);
	free(s);
}

const char *
store_backend(const struct store *s)
{
	return s != NULL ? s->ops->name : "none";
}

/* -- argument checks ----------------------------------------------------------- */

#define REQUIRE(cond, what) do {					\
	if (!(cond))							\
		return store_set_error(STORE_ERROR, "%s: %s", __func__, what); \
} while (0)

#define OPT(p, dflt)	((p) != NULL ? (p) : (dflt))

int
store_schema_version(struct store *s, int *current, int *latest)
{
	REQUIRE(s != NULL && current != NULL && latest != NULL, "NULL argument");
	*current = *latest = 0;
	return s->ops->schema_version(s->h, current, latest);
}

int
store_generation(struct store *s, uint64_t *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	return s->ops->generation(s->h, out);
}

/* -- tenants ------------------------------------------------------------------- */

int
store_tenant_create(struct store *s, const struct store_tenant *t)
{
	REQUIRE(s != NULL && t != NULL, "NULL argument");
	REQUIRE(t->id != NULL && t->id[0] != '\0', "a tenant needs an id");
	REQUIRE(t->name != NULL, "a tenant needs a name");
	return s->ops->tenant_create(s->h, t);
}

int
store_tenant_get(struct store *s, const char *id, struct store_tenant *out)
{
	REQUIRE(s != NULL && id != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	return s->ops->tenant_get(s->h, id, out);
}

int
store_tenant_list(struct store *s, struct store_tenant **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->tenant_list(s->h, out, n);
}

void
store_tenant_clear(struct store_tenant *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

void
store_tenant_free(struct store_tenant *t, size_t n)
{
	for (size_t i = 0; t != NULL && i < n; i++)
		store_tenant_clear(&t[i]);
	free(t);
}

/* -- clients ------------------------------------------------------------------- */

/* Checks c and copies it into *cc with defaults for optional strings. */
static int
client_check(const struct store_client *c, struct store_client *cc, const char *fn)
{
	if (c == NULL)
		return store_set_error(STORE_ERROR, "%s: NULL argument", fn);
	if (c->id == NULL || c->id[0] == '\0' || c->tenant_id == NULL || c->name == NULL)
		return store_set_error(STORE_ERROR, "%s: a client needs an id, a tenant and a name", fn);
	if ((unsigned)c->env >= STORE_ENV__MAX || (unsigned)c->format >= STORE_FORMAT__MAX)
		return store_set_error(STORE_ERROR, "%s: client %.64s: env or format out of range",
		    fn, c->id);
	*cc = *c;
	cc->scopes = OPT(c->scopes, "");
	cc->allow_ips = OPT(c->allow_ips, "");
	cc->claims = OPT(c->claims, "{}");
	return STORE_OK;
}

int
store_client_create(struct store *s, const struct store_client *c, struct store_secret *first)
{
	struct store_client cc;
	struct store_secret fs;
	int rc;

	REQUIRE(s != NULL, "NULL argument");
	if ((rc = client_check(c, &cc, __func__)) != STORE_OK)
		return rc;
	if (first == NULL)
		return s->ops->client_create(s->h, &cc, NULL);
	/* The first secret belongs to this client, whatever it said. */
	fs = *first;
	fs.client_id = cc.id;
	if ((rc = s->ops->client_create(s->h, &cc, &fs)) == STORE_OK)
		first->id = fs.id;
	return rc;
}

int
store_client_get(struct store *s, const char *id, struct store_client *out)
{
	REQUIRE(s != NULL && id != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	return s->ops->client_get(s->h, id, out);
}

int
store_client_list(struct store *s, const char *tenant_id, struct store_client **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->client_list(s->h, tenant_id, out, n);
}

int
store_client_update(struct store *s, const struct store_client *c)
{
	struct store_client cc;
	int rc;

	REQUIRE(s != NULL, "NULL argument");
	if ((rc = client_check(c, &cc, __func__)) != STORE_OK)
		return rc;
	return s->ops->client_update(s->h, &cc);
}

void
store_client_clear(struct store_client *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->tenant_id);
	free(c->name);
	free(c->scopes);
	free(c->allow_ips);
	free(c->claims);
	memset(c, 0, sizeof(*c));
}

void
store_client_free(struct store_client *c, size_t n)
{
	for (size_t i = 0; c != NULL && i < n; i++)
		store_client_clear(&c[i]);
	free(c);
}

/* -- secrets ------------------------------------------------------------------- */

int
store_secret_add(struct store *s, struct store_secret *sec)
{
	REQUIRE(s != NULL && sec != NULL, "NULL argument");
	REQUIRE(sec->client_id != NULL, "a secret needs a client");
	return s->ops->secret_add(s->h, sec);
}

int
store_secret_list(struct store *s, const char *client_id, struct store_secret **out, size_t *n)
{
	REQUIRE(s != NULL && client_id != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->secret_list(s->h, client_id, out, n);
}

int
store_secret_update(struct store *s, const struct store_secret *sec)
{
	REQUIRE(s != NULL && sec != NULL, "NULL argument");
	return s->ops->secret_update(s->h, sec);
}

void
store_secret_clear(struct store_secret *x)
{
	if (x == NULL)
		return;
	free(x->client_id);
	memset(x, 0, sizeof(*x));
}

void
store_secret_free(struct store_secret *x, size_t n)
{
	for (size_t i = 0; x != NULL && i < n; i++)
		store_secret_clear(&x[i]);
	free(x);
}

/* -- keys ---------------------------------------------------------------------- */

int
store_key_add(struct store *s, const struct store_key *k)
{
	REQUIRE(s != NULL && k != NULL, "NULL argument");
	REQUIRE(k->kid != NULL && k->kid[0] != '\0' && k->alg != NULL, "a key needs a kid and an alg");
	REQUIRE(k->sealed != NULL && k->sealed_len > 0 && k->sealed_len <= 1u << 24,
	    "a key needs its sealed private key (at most 16 MiB)");
	REQUIRE((unsigned)k->env < STORE_ENV__MAX, "env out of range");
	return s->ops->key_add(s->h, k);
}

int
store_key_list(struct store *s, struct store_key **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->key_list(s->h, out, n);
}

int
store_key_update(struct store *s, const struct store_key *k)
{
	REQUIRE(s != NULL && k != NULL && k->kid != NULL, "NULL argument");
	return s->ops->key_update(s->h, k);
}

void
store_key_clear(struct store_key *k)
{
	if (k == NULL)
		return;
	free(k->kid);
	free(k->alg);
	free(k->sealed);
	memset(k, 0, sizeof(*k));
}

void
store_key_free(struct store_key *k, size_t n)
{
	for (size_t i = 0; k != NULL && i < n; i++)
		store_key_clear(&k[i]);
	free(k);
}

/* -- tokens -------------------------------------------------------------------- */

int
store_token_get(struct store *s, const char *id, struct store_token *out)
{
	REQUIRE(s != NULL && id != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	return s->ops->token_get(s->h, id, out);
}

int
store_token_list(struct store *s, const char *client_id, struct store_token **out, size_t *n)
{
	REQUIRE(s != NULL && client_id != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->token_list(s->h, client_id, out, n);
}

int
store_token_list_revoked(struct store *s, int64_t now, struct store_token **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->token_list_revoked(s->h, now, out, n);
}

int
store_token_revoke(struct store *s, const char *id, int64_t at)
{
	REQUIRE(s != NULL && id != NULL, "NULL argument");
	return s->ops->token_revoke(s->h, id, at);
}

int
store_token_revoke_by_name(struct store *s, const char *client_id, const char *name,
    int64_t at, int *count)
{
	int dummy;

	if (count == NULL)
		count = &dummy;
	*count = 0;
	REQUIRE(s != NULL && name != NULL, "NULL argument");
	return s->ops->token_revoke_by_name(s->h, client_id, name, at, count);
}

void
store_token_clear(struct store_token *t)
{
	if (t == NULL)
		return;
	free(t->id);
	free(t->client_id);
	free(t->tenant_id);
	free(t->name);
	free(t->scope);
	free(t->aud);
	memset(t, 0, sizeof(*t));
}

void
store_token_free(struct store_token *t, size_t n)
{
	for (size_t i = 0; t != NULL && i < n; i++)
		store_token_clear(&t[i]);
	free(t);
}

int
store_token_record(struct store *s, const struct store_token *t, store_done_fn done, void *arg)
{
	REQUIRE(s != NULL && t != NULL, "NULL argument");
	REQUIRE(t->id != NULL && t->id[0] != '\0' && t->client_id != NULL && t->tenant_id != NULL,
	    "a token record needs an id, a client and a tenant");
	REQUIRE((unsigned)t->env < STORE_ENV__MAX && (unsigned)t->format < STORE_FORMAT__MAX,
	    "env or format out of range");
	return writer_enqueue(s->writer, t, done, arg);
}

int
store_flush(struct store *s)
{
	REQUIRE(s != NULL, "NULL argument");
	return writer_flush(s->writer);
}
