/*
 * store_tenants.c — store.h store_tenant_*: a tenant needs an id and a
 * name before the backend stores it; and freeing what get and list
 * return.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

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
	return s->ops->tenant_list(s->h, NULL, "", INT64_MAX, out, n);
}

int
store_tenant_list_page(struct store *s, const struct store_tenant_page *page,
    struct store_tenant **out, size_t *n)
{
	REQUIRE(s != NULL && page != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(page->limit >= 1 && page->limit <= STORE_LIST_PAGE_MAX,
	    "a page limit must be 1..10001");
	/* "" comes before every id (ids are never empty). */
	return s->ops->tenant_list(s->h, page->only, OPT(page->after_id, ""),
	    (int64_t)page->limit, out, n);
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
