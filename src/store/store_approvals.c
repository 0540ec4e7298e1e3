/*
 * store_approvals.c — store.h store_approval_* (issue 6; the rules are
 * the engine's, approvals/approvals.h): the state names, the checks of an
 * approval before the backend files it PENDING (with the fields a
 * decision sets cleared), the checks of a transition, and the conflict
 * answer both backends give (store_approval_conflict, store_backend.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

#define APPROVAL_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"approvals are not supported by this store backend")

const char *const store_approval_state_names[STORE_APPROVAL_STATE__MAX] = {
	"pending", "approved", "rejected", "expired", "used", "applied", "failed"
};

int
store_approval_state_from_name(const char *s, enum store_approval_state *out)
{
	for (int i = 0; s != NULL && i < STORE_APPROVAL_STATE__MAX; i++)
		if (strcmp(s, store_approval_state_names[i]) == 0) {
			*out = (enum store_approval_state)i;
			return 0;
		}
	return -1;
}

#define NONEMPTY(p) ((p) != NULL && (p)[0] != '\0')

int
store_approval_create(struct store *s, const struct store_approval *a)
{
	struct store_approval norm;

	REQUIRE(s != NULL && a != NULL, "NULL argument");
	REQUIRE(NONEMPTY(a->id) && NONEMPTY(a->tenant_id) && NONEMPTY(a->kind) &&
	    NONEMPTY(a->maker) && NONEMPTY(a->maker_tenant) && NONEMPTY(a->payload),
	    "an approval needs an id, a tenant, a kind, a maker and a payload");
	REQUIRE(a->state == STORE_APPROVAL_PENDING, "an approval is filed pending");
	REQUIRE(a->expires_at > a->created_at, "an approval must expire after it is filed");
	APPROVAL_REQUIRE_OPS(s, approval_create);
	norm = *a;
	norm.reason = OPT(a->reason, "");
	norm.conflict_key = OPT(a->conflict_key, "");
	norm.checker = "";
	norm.result = "";
	norm.decided_at = 0;
	norm.used_at = 0;
	return s->ops->approval_create(s->h, &norm);
}

int
store_approval_get(struct store *s, const char *id, struct store_approval *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	REQUIRE(NONEMPTY(id), "an approval id is required");
	APPROVAL_REQUIRE_OPS(s, approval_get);
	return s->ops->approval_get(s->h, id, out);
}

int
store_approval_list(struct store *s, const char *tenant_id, enum store_approval_state state,
    size_t limit, struct store_approval **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE((unsigned)state <= STORE_APPROVAL_STATE__MAX, "approval state out of range");
	REQUIRE(limit >= 1 && limit <= 1000, "limit must be 1 to 1000");
	APPROVAL_REQUIRE_OPS(s, approval_list);
	return s->ops->approval_list(s->h, tenant_id, state, 0, 0, INT64_MAX, "", (int64_t)limit,
	    out, n);
}

int
store_approval_list_page(struct store *s, const char *tenant_id, enum store_approval_state state,
    int64_t now, const struct store_approval_page *page, struct store_approval **out, size_t *n)
{
	REQUIRE(s != NULL && page != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE((unsigned)state <= STORE_APPROVAL_STATE__MAX, "approval state out of range");
	REQUIRE(page->limit >= 1 && page->limit <= STORE_LIST_PAGE_MAX,
	    "a page limit must be 1..10001");
	APPROVAL_REQUIRE_OPS(s, approval_list);
	/* No row is made at INT64_MAX: that cursor is before (newer than)
	 * every row. */
	if (page->before_id == NULL)
		return s->ops->approval_list(s->h, tenant_id, state, 1, now, INT64_MAX, "",
		    (int64_t)page->limit, out, n);
	return s->ops->approval_list(s->h, tenant_id, state, 1, now, page->before_created,
	    page->before_id, (int64_t)page->limit, out, n);
}

int
store_approval_transition(struct store *s, const char *id, enum store_approval_state from,
    enum store_approval_state to, int check_expiry, int64_t now, const char *checker,
    int64_t used_at, const char *result)
{
	REQUIRE(s != NULL, "NULL argument");
	REQUIRE(NONEMPTY(id), "an approval id is required");
	REQUIRE((unsigned)from < STORE_APPROVAL_STATE__MAX &&
	    (unsigned)to < STORE_APPROVAL_STATE__MAX && from != to,
	    "approval states out of range");
	APPROVAL_REQUIRE_OPS(s, approval_transition);
	return s->ops->approval_transition(s->h, id, from, to, check_expiry, now, checker,
	    used_at, result);
}

int
store_approval_claim(struct store *s, const char *id, int64_t now, int64_t until)
{
	REQUIRE(s != NULL, "NULL argument");
	REQUIRE(NONEMPTY(id), "an approval id is required");
	REQUIRE(until > now, "a claim must last past now");
	APPROVAL_REQUIRE_OPS(s, approval_claim);
	return s->ops->approval_claim(s->h, id, now, until);
}

int
store_approval_unclaimed(struct store *s, int64_t now, const char *after_id, size_t limit,
    struct store_approval **out, size_t *n)
{
	REQUIRE(s != NULL && after_id != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(limit >= 1 && limit <= 1000, "limit must be 1 to 1000");
	APPROVAL_REQUIRE_OPS(s, approval_unclaimed);
	return s->ops->approval_unclaimed(s->h, now, after_id, (int64_t)limit, out, n);
}

void
store_approval_clear(struct store_approval *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->tenant_id);
	free(a->kind);
	free(a->maker);
	free(a->maker_tenant);
	free(a->payload);
	free(a->reason);
	free(a->conflict_key);
	free(a->checker);
	free(a->result);
	memset(a, 0, sizeof(*a));
}

void
store_approval_free(struct store_approval *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++)
		store_approval_clear(&a[i]);
	free(a);
}

int
store_approval_conflict(const char *id, enum store_approval_state from,
    enum store_approval_state cur)
{
	if (cur == from)
		return store_set_error(STORE_CONFLICT, "approval %.64s has expired", id);
	return store_set_error(STORE_CONFLICT, "approval %.64s is %s", id,
	    store_approval_state_names[cur]);
}
