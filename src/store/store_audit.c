/*
 * store_audit.c — store.h store_audit_* (issue 6; links are
 * audit_chain.c's, grouped rows audit_group.c's): the key the store links
 * appended rows with (set once, matched against the store's key record,
 * and handed to the writer), appends queued for the writer's next batch,
 * and list, scan and prune dispatched to the backend, a list expanding
 * the writer's grouped rows into one entry per event.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit_group.h"
#include "store/store_internal.h"
#include "store/writer.h"
#include "util/util.h"

#define AUDIT_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"the audit trail is not supported by this store backend")

int
store_audit_supported(const struct store *s)
{
	return s != NULL && s->ops->commit_batch != NULL && s->ops->audit_list != NULL &&
	    s->ops->audit_scan != NULL && s->ops->audit_prune != NULL &&
	    s->ops->audit_seal != NULL;
}

#define AUDIT_REQUIRE_KEY(s) REQUIRE((s)->audit_key != NULL, \
	"the audit trail's key is not set: load the master key first")

int
store_audit_set_key(struct store *s, const uint8_t key[32], int64_t *keyed_after)
{
	struct store_audit_seal seal;
	struct store_audit_key *k;
	int rc, wrote = 0;

	if (keyed_after != NULL)
		*keyed_after = -1;
	REQUIRE(s != NULL && key != NULL, "NULL argument");
	AUDIT_REQUIRE_OPS(s, audit_seal);
	if ((k = store_audit_key_new(key)) == NULL)
		return store_set_error(STORE_ERROR, "audit: cannot make the chain key");
	if (s->audit_key != NULL) {
		/* The writer may be linking with the first: it stays. */
		rc = store_audit_key_matches(s->audit_key, store_audit_key_check(k)) ? STORE_OK :
		    store_set_error(STORE_CONFLICT, "audit: another key is set on this store");
		store_audit_key_free(k);
		return rc;
	}
	rc = s->ops->audit_seal(s->h, k, &seal, &wrote);
	if (rc == STORE_OK && !store_audit_key_matches(k, seal.check))
		rc = store_set_error(STORE_CONFLICT, "the master key does not match the key this "
		    "audit trail was written with");
	else if (rc == STORE_NOTFOUND)
		rc = STORE_OK;	/* the record was deleted: verification reports it */
	if (rc != STORE_OK) {
		store_audit_key_free(k);
		return rc;
	}
	s->audit_key = k;
	writer_set_audit_key(s->writer, k);
	if (wrote && keyed_after != NULL)
		*keyed_after = seal.through;
	return STORE_OK;
}

const struct store_audit_key *
store_audit_get_key(const struct store *s)
{
	return s != NULL ? s->audit_key : NULL;
}

int
store_audit_seal_get(struct store *s, struct store_audit_seal *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	AUDIT_REQUIRE_OPS(s, audit_seal);
	return s->ops->audit_seal(s->h, NULL, out, &(int){ 0 });
}

int
store_audit_append(struct store *s, const struct store_audit *a, store_done_fn done, void *arg)
{
	REQUIRE(s != NULL && a != NULL, "NULL argument");
	REQUIRE(a->action != NULL && a->action[0] != '\0' && a->outcome != NULL &&
	    a->outcome[0] != '\0', "an audit row needs an action and an outcome");
	AUDIT_REQUIRE_OPS(s, commit_batch);
	AUDIT_REQUIRE_KEY(s);
	return writer_enqueue_audit(s->writer, a, done, arg);
}

/* This thread's staged row (store_audit_stage): at most one, for one
 * backend handle; per thread, so that threads sharing a handle never take
 * each other's. */
static _Thread_local struct {
	const void			*h;	/* NULL: none staged */
	const struct store_audit_key	*k;
	struct store_audit		 a;	/* strings owned */
	int				 committed;
} staged;

int
store_audit_stage(struct store *s, const struct store_audit *a)
{
	char **dst[8] = { &staged.a.request_id, &staged.a.actor, &staged.a.tenant,
	    &staged.a.address, &staged.a.action, &staged.a.target, &staged.a.outcome,
	    &staged.a.detail };
	const char *src[8];

	REQUIRE(s != NULL && a != NULL, "NULL argument");
	REQUIRE(a->action != NULL && a->action[0] != '\0' && a->outcome != NULL &&
	    a->outcome[0] != '\0', "an audit row needs an action and an outcome");
	AUDIT_REQUIRE_OPS(s, commit_batch);
	AUDIT_REQUIRE_KEY(s);
	if (staged.h != NULL)
		return store_set_error(STORE_CONFLICT, "audit: this thread has a row staged already");
	src[0] = a->request_id; src[1] = a->actor; src[2] = a->tenant; src[3] = a->address;
	src[4] = a->action; src[5] = a->target; src[6] = a->outcome; src[7] = a->detail;
	memset(&staged.a, 0, sizeof(staged.a));
	for (int i = 0; i < 8; i++)
		if ((*dst[i] = strdup(OPT(src[i], ""))) == NULL) {
			store_audit_clear(&staged.a);
			return store_set_error(STORE_ERROR, "audit: stage: out of memory");
		}
	staged.a.at = a->at;
	staged.k = s->audit_key;
	staged.committed = 0;
	staged.h = s->h;
	return STORE_OK;
}

int
store_audit_unstage(struct store *s)
{
	int committed;

	if (s == NULL || staged.h == NULL || staged.h != s->h)
		return 0;
	committed = staged.committed;
	store_audit_clear(&staged.a);
	staged.h = NULL;
	staged.k = NULL;
	staged.committed = 0;
	return committed;
}

int
store_audit_staged(const void *h, const struct store_audit_key **k, const struct store_audit **a)
{
	if (h == NULL || staged.h != h || staged.committed)
		return 0;
	*k = staged.k;
	*a = &staged.a;
	return 1;
}

void
store_audit_staged_committed(const void *h)
{
	if (h != NULL && staged.h == h)
		staged.committed = 1;
}

void
store_fault_before_commit(void)
{
	static atomic_int commits;
	char name[32];

	/* Counted only when a fault is asked for: nothing in production. */
	if (getenv("GATEHOUSE_TEST_FAULT") == NULL)
		return;
	snprintf(name, sizeof(name), "store-commit-%d", atomic_fetch_add(&commits, 1) + 1);
	test_fault_point(name);
}

int
store_audit_list(struct store *s, const struct store_audit_filter *f,
    struct store_audit **out, size_t *n)
{
	struct store_audit_filter g;
	struct store_audit *rows = NULL;
	size_t nrows = 0;
	int rc;

	REQUIRE(out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL && f != NULL, "NULL argument");
	REQUIRE(f->limit >= 1 && f->limit <= 10000, "an audit list limit must be 1..10000");
	AUDIT_REQUIRE_OPS(s, audit_list);
	g = *f;
	/* The backend sees "" for "no filter". */
	if (g.tenant == NULL)
		g.tenant = "";
	if (g.client == NULL)
		g.client = "";
	if (g.action == NULL)
		g.action = "";
	/* A grouped row's time is its earliest event's; its events lie within
	 * AUDIT_GROUP_SPAN_MS after. The expansion applies the exact window. */
	g.since = g.since > AUDIT_GROUP_SPAN_MS ? g.since - AUDIT_GROUP_SPAN_MS : 0;
	if ((rc = s->ops->audit_list(s->h, &g, &rows, &nrows)) != STORE_OK)
		return rc;
	return audit_group_expand(rows, nrows, f, out, n);
}

int
store_audit_scan(struct store *s, int64_t from_seq, store_audit_fn fn, void *arg)
{
	REQUIRE(s != NULL && fn != NULL, "NULL argument");
	AUDIT_REQUIRE_OPS(s, audit_scan);
	return s->ops->audit_scan(s->h, from_seq, fn, arg);
}

int
store_audit_prune(struct store *s, int64_t before, int64_t now, int64_t *pruned)
{
	int64_t dummy;

	if (pruned == NULL)
		pruned = &dummy;
	*pruned = 0;
	REQUIRE(s != NULL, "NULL argument");
	AUDIT_REQUIRE_OPS(s, audit_prune);
	AUDIT_REQUIRE_KEY(s);
	return s->ops->audit_prune(s->h, s->audit_key, before, now, pruned);
}

void
store_audit_clear(struct store_audit *a)
{
	if (a == NULL)
		return;
	free(a->request_id);
	free(a->actor);
	free(a->tenant);
	free(a->address);
	free(a->action);
	free(a->target);
	free(a->outcome);
	free(a->detail);
	memset(a, 0, sizeof(*a));
}

void
store_audit_free(struct store_audit *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++)
		store_audit_clear(&a[i]);
	free(a);
}
