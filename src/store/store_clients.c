/*
 * store_clients.c — store.h store_client_* and store_secret_*: a client is
 * checked (an id, a tenant and a name; env and format in range) and its
 * optional strings get their defaults before the backend sees it, and its
 * first secret is made its own whatever client the caller named; a secret
 * needs a client, and its holder defaults to "" (the client itself). Deleting a client needs a backend that can. And freeing
 * what get and list return.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

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
	fs.holder = (char *)OPT(first->holder, "");
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
	return s->ops->client_list(s->h, tenant_id, INT64_MIN, "", INT64_MAX, out, n);
}

int
store_client_list_page(struct store *s, const struct store_client_page *page,
    struct store_client **out, size_t *n)
{
	REQUIRE(s != NULL && page != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(page->limit >= 1 && page->limit <= STORE_LIST_PAGE_MAX,
	    "a page limit must be 1..10001");
	/* The start is a cursor before every client (ids are never empty):
	 * the backends then have one statement, whichever page it is. */
	if (page->after_id == NULL)
		return s->ops->client_list(s->h, page->tenant_id, INT64_MIN, "",
		    (int64_t)page->limit, out, n);
	return s->ops->client_list(s->h, page->tenant_id, page->after_created, page->after_id,
	    (int64_t)page->limit, out, n);
}

int
store_client_update(struct store *s, const struct store_client *next,
    const struct store_client *read)
{
	struct store_client cn, cr;
	int rc;

	REQUIRE(s != NULL && read != NULL, "NULL argument");
	if ((rc = client_check(next, &cn, __func__)) != STORE_OK ||
	    (rc = client_check(read, &cr, __func__)) != STORE_OK)
		return rc;
	REQUIRE(strcmp(cn.id, cr.id) == 0, "next and read are different clients");
	return s->ops->client_update(s->h, &cn, &cr);
}

int
store_client_set_disabled(struct store *s, const char *id, int disabled, int64_t at)
{
	REQUIRE(s != NULL && id != NULL && id[0] != '\0', "a client id is required");
	REQUIRE(disabled == 0 || disabled == 1, "disabled is 0 or 1");
	return s->ops->client_set_disabled(s->h, id, disabled, at);
}

int
store_client_void_tokens(struct store *s, const char *id, int64_t after, int64_t at)
{
	REQUIRE(s != NULL && id != NULL && id[0] != '\0', "a client id is required");
	return s->ops->client_void_tokens(s->h, id, after, at);
}

int
store_client_delete(struct store *s, const char *id)
{
	REQUIRE(s != NULL && id != NULL && id[0] != '\0', "a client id is required");
	REQUIRE(s->ops->client_delete != NULL, "deleting clients is not supported by this store backend");
	return s->ops->client_delete(s->h, id);
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
store_secret_list(struct store *s, const char *client_id, struct store_secret **out, size_t *n)
{
	REQUIRE(s != NULL && client_id != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	return s->ops->secret_list(s->h, client_id, out, n);
}

int
store_secret_count_due(struct store *s, int64_t made_by, int64_t now, int64_t *count)
{
	REQUIRE(s != NULL && count != NULL, "NULL argument");
	*count = 0;
	return s->ops->secret_count_due(s->h, made_by, now, count);
}

int
store_secret_update(struct store *s, const struct store_secret *sec)
{
	REQUIRE(s != NULL && sec != NULL, "NULL argument");
	return s->ops->secret_update(s->h, sec, 0, 0);
}

int
store_secret_update_void_tokens(struct store *s, const struct store_secret *sec, int64_t after,
    int64_t at)
{
	REQUIRE(s != NULL && sec != NULL && sec->client_id != NULL && sec->client_id[0] != '\0',
	    "a secret of a client is required");
	REQUIRE(after > 0, "void tokens issued before a time after 0");
	return s->ops->secret_update(s->h, sec, after, at);
}

int
store_secret_rotate(struct store *s, struct store_secret *sec, int64_t end_by, size_t max_live,
    int64_t *prev_end)
{
	struct store_secret cs;
	int rc;

	REQUIRE(s != NULL && sec != NULL && prev_end != NULL, "NULL argument");
	REQUIRE(sec->client_id != NULL, "a secret needs a client");
	REQUIRE(max_live > 0, "max_live must be at least 1");
	*prev_end = 0;
	cs = *sec;
	cs.holder = (char *)OPT(sec->holder, "");
	rc = s->ops->secret_rotate(s->h, &cs, end_by, max_live, prev_end);
	sec->id = cs.id;
	return rc;
}

void
store_secret_clear(struct store_secret *x)
{
	if (x == NULL)
		return;
	free(x->client_id);
	free(x->holder);
	memset(x, 0, sizeof(*x));
}

void
store_secret_free(struct store_secret *x, size_t n)
{
	for (size_t i = 0; x != NULL && i < n; i++)
		store_secret_clear(&x[i]);
	free(x);
}
