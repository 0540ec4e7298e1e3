/*
 * store.c — the store's dispatch (store.h over store_backend.h). Picks the
 * backend by URL, checks arguments once for every backend, fills defaults
 * for optional strings, owns the group-commit writer and the per-thread
 * error message. Knows no SQL.
 *
 * The dispatch's files, sharing store_internal.h (the handle and the
 * argument checks):
 *   - this one: the handle's life (the backend by URL, open, close), the
 *     engine line, the schema version and the generation; the per-thread
 *     error message and the enums' names; and the clear functions the
 *     backends' row collectors call;
 *   - store_<topic>.c: one per feature, its entry points (checks, then
 *     the backend or the writer) and the functions that free what they
 *     return: tenants, clients (with their secrets), keys, tokens (with
 *     the group commit's entry points), idempotency, locks (with the
 *     shared failure and issuance counts), approvals and audit, as the
 *     backends' sqlite_<topic>.c and pgsql_<topic>.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"
#include "store/writer.h"

const char *const store_env_names[STORE_ENV__MAX] = { "sandbox", "production" };
const char *const store_format_names[STORE_FORMAT__MAX] = { "jwt", "opaque" };

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
store_url_has_password(const char *url)
{
	for (size_t i = 0; url != NULL && i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0)
			return schemes[i].ops->url_has_password != NULL &&
			    schemes[i].ops->url_has_password(url);
	return 0;
}

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
	/* A row this thread staged and never ended must not be taken by a
	 * store opened later at the same address. */
	(void)store_audit_unstage(s);
	(void)store_approval_unmark(s);
	(void)store_idem_unmark(s);
	s->ops->close(s->h);
	store_audit_key_free(s->audit_key);	/* wipes it */
	free(s);
}

const char *
store_backend(const struct store *s)
{
	return s != NULL ? s->ops->name : "none";
}

const char *
store_engine(struct store *s, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (s == NULL || s->ops->engine == NULL)
		snprintf(buf, len, "%s", store_backend(s));
	else
		s->ops->engine(s->h, buf, len);
	return buf;
}

/* -- schema and generation ------------------------------------------------------ */

int
store_schema_version(struct store *s, int *current, int *latest)
{
	REQUIRE(s != NULL && current != NULL && latest != NULL, "NULL argument");
	*current = *latest = 0;
	return s->ops->schema_version(s->h, current, latest);
}

int
store_write_probe(struct store *s, int64_t now)
{
	REQUIRE(s != NULL, "NULL argument");
	return s->ops->write_probe(s->h, now);
}

int
store_generation(struct store *s, struct store_gen *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	return s->ops->generation(s->h, out);
}

const char *const store_gen_keys[STORE_GEN__MAX] = {
	[STORE_GEN_DATA] = "generation",
	[STORE_GEN_LOCKS] = "lock_generation",
	[STORE_GEN_REVOKED] = "revocation_generation",
};

int
store_generation_cached(struct store *s, struct store_gen *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	if (s->ops->generation_cached == NULL)
		return s->ops->generation(s->h, out);
	return s->ops->generation_cached(s->h, out);
}

/* -- for the backends' row collectors (store_backend.h) ------------------------- */

void store_tenant_clear_v(void *p) { store_tenant_clear(p); }
void store_client_clear_v(void *p) { store_client_clear(p); }
void store_secret_clear_v(void *p) { store_secret_clear(p); }
void store_key_clear_v(void *p) { store_key_clear(p); }
void store_token_clear_v(void *p) { store_token_clear(p); }
void store_approval_clear_v(void *p) { store_approval_clear(p); }
void store_audit_clear_v(void *p) { store_audit_clear(p); }

void
store_lock_clear_v(void *p)
{
	struct store_lock *l = p;

	free(l->client_id);
	free(l->address);
}

void
store_lock_cleared_clear_v(void *p)
{
	struct store_lock_cleared *c = p;

	free(c->client_id);
	free(c->address);
}

void
store_failure_clear_v(void *p)
{
	struct store_failure_row *r = p;

	free(r->address);
	free(r->client_id);
}

void
store_rate_clear_v(void *p)
{
	struct store_rate *r = p;

	free(r->client_id);
	free(r->node);
}
