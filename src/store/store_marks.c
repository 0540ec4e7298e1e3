/*
 * store_marks.c — store.h store_approval_mark_applied and
 * store_idem_mark_acted: marks that commit with the next change this
 * thread makes, as a staged audit row does (store_audit.c). The backends'
 * write-commit paths (sqi_tx_end, sq_tx_end, pgi_tx_end) run them.
 */
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

/* This thread's marks, one of each kind, for one backend handle each:
 * per thread, so that threads sharing a handle never take each other's. */
static _Thread_local struct store_mark marks[STORE_MARK__MAX];

static void
mark_clear(struct store_mark *m)
{
	free(m->a);
	free(m->b);
	memset(m, 0, sizeof(*m));
}

static int
mark_stage(struct store *s, enum store_mark_kind k, const char *a, const char *b, int64_t v)
{
	struct store_mark *m = &marks[k];

	if (m->h != NULL)
		return store_set_error(STORE_CONFLICT, "store: this thread has such a mark staged already");
	m->a = strdup(a);
	m->b = strdup(b != NULL ? b : "");
	if (m->a == NULL || m->b == NULL) {
		mark_clear(m);
		return store_set_error(STORE_ERROR, "store: mark: out of memory");
	}
	m->v = v;
	m->committed = 0;
	m->h = s->h;
	return STORE_OK;
}

static int
mark_unstage(struct store *s, enum store_mark_kind k)
{
	struct store_mark *m = &marks[k];
	int committed;

	if (s == NULL || m->h == NULL || m->h != s->h)
		return 0;
	committed = m->committed;
	mark_clear(m);
	return committed;
}

int
store_approval_mark_applied(struct store *s, const char *id, int64_t at)
{
	REQUIRE(s != NULL && id != NULL && id[0] != '\0', "NULL argument");
	REQUIRE(at > 0, "an applied mark needs a time");
	return mark_stage(s, STORE_MARK_APPROVAL_APPLIED, id, NULL, at);
}

int
store_approval_unmark(struct store *s)
{
	return mark_unstage(s, STORE_MARK_APPROVAL_APPLIED);
}

int
store_idem_mark_acted(struct store *s, const char *client_id, const char *key,
    int64_t created_at)
{
	REQUIRE(s != NULL && client_id != NULL && key != NULL, "NULL argument");
	return mark_stage(s, STORE_MARK_IDEM_ACTED, client_id, key, created_at);
}

int
store_idem_unmark(struct store *s)
{
	return mark_unstage(s, STORE_MARK_IDEM_ACTED);
}

const struct store_mark *
store_mark_staged(const void *h, enum store_mark_kind k)
{
	const struct store_mark *m = &marks[k];

	return h != NULL && m->h == h && !m->committed ? m : NULL;
}

int
store_mark_refused(enum store_mark_kind k, const struct store_mark *m)
{
	if (k == STORE_MARK_APPROVAL_APPLIED)
		return store_set_error(STORE_SUPERSEDED, STORE_SUPERSEDED_WORDS "approval %s: "
		    "its change is made already, or its outcome recorded: not made again", m->a);
	return store_set_error(STORE_SUPERSEDED, STORE_SUPERSEDED_WORDS "a retry of this call "
	    "(its X-Request-ID) took its key over; this call no longer acts");
}

void
store_marks_committed(const void *h)
{
	for (int k = 0; k < STORE_MARK__MAX; k++)
		if (h != NULL && marks[k].h == h)
			marks[k].committed = 1;
}
