/*
 * audit_group.c — one audit row for a batch's token events of one client
 * (audit_group.h has the why and the layout). The writer thread groups;
 * store_audit_list expands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "store/audit_group.h"
#include "store/store_backend.h"
#include "util/json_flat.h"

/* Groups looked at for a row's match, newest first: a batch holds few
 * clients; a flood of distinct ones must not make the writer quadratic. */
#define GROUP_SEARCH	32

struct group {
	size_t	 first;		/* rows index of the first member */
	size_t	 count;
	int64_t	 min, max;	/* the members' times */
	char	*text;		/* the group's detail; NULL: write apart */
};

struct audit_grouper {
	size_t			 max;
	long			*of;	/* row -> group, -1: none */
	struct group		*g;
	size_t			 ng;
	struct store_audit	*out;
};

struct audit_grouper *
audit_grouper_new(size_t batch_max)
{
	struct audit_grouper *g = calloc(1, sizeof(*g));

	if (g == NULL)
		return NULL;
	g->max = batch_max;
	if ((g->of = calloc(batch_max, sizeof(*g->of))) == NULL ||
	    (g->g = calloc(batch_max, sizeof(*g->g))) == NULL ||
	    (g->out = calloc(batch_max, sizeof(*g->out))) == NULL) {
		audit_grouper_free(g);
		return NULL;
	}
	return g;
}

void
audit_grouper_release(struct audit_grouper *g)
{
	for (size_t i = 0; i < g->ng; i++)
		free(g->g[i].text);
	g->ng = 0;
}

void
audit_grouper_free(struct audit_grouper *g)
{
	if (g == NULL)
		return;
	if (g->g != NULL)
		audit_grouper_release(g);
	free(g->of);
	free(g->g);
	free(g->out);
	free(g);
}

static int
same_key(const struct store_audit *a, const struct store_audit *b)
{
	return strcmp(a->action, b->action) == 0 && strcmp(a->actor, b->actor) == 0 &&
	    strcmp(a->tenant, b->tenant) == 0 && strcmp(a->outcome, b->outcome) == 0;
}

/* The group rows[i] joins (made if none fits), or -1 when it stays apart. */
static long
join(struct audit_grouper *g, const struct store_audit *rows, size_t i)
{
	const struct store_audit *r = &rows[i];
	size_t looked = 0;

	if (!store_audit_is_prunable(r->action))
		return -1;
	for (size_t k = g->ng; k > 0 && looked < GROUP_SEARCH; k--, looked++) {
		struct group *c = &g->g[k - 1];
		int64_t lo = r->at < c->min ? r->at : c->min, hi = r->at > c->max ? r->at : c->max;
		if (hi - lo > AUDIT_GROUP_SPAN_MS || !same_key(&rows[c->first], r))
			continue;
		c->min = lo;
		c->max = hi;
		c->count++;
		return (long)(k - 1);
	}
	g->g[g->ng] = (struct group){ .first = i, .count = 1, .min = r->at, .max = r->at };
	return (long)g->ng++;
}

/* Appends a literal: the writer thread builds a group's text for every
 * batch, and snprintf of a constant cost ~600 instructions a call. */
#define PUT(lit) do {							\
	memcpy(buf + len, (lit), sizeof(lit) - 1);			\
	len += sizeof(lit) - 1;						\
} while (0)

/* The group's detail text (audit_group.h), or NULL when memory ran out. */
static char *
group_text(struct audit_grouper *g, long gi, const struct store_audit *rows, size_t n)
{
	size_t cap = 16, len;
	char *buf;

	for (size_t i = 0; i < n; i++)
		if (g->of[i] == gi)
			cap += 6 * (strlen(rows[i].request_id) + strlen(rows[i].address) +
			    strlen(rows[i].target) + strlen(rows[i].detail)) + 112;
	if ((buf = malloc(cap)) == NULL)
		return NULL;
	len = (size_t)snprintf(buf, cap, "{\"events\":[");
	for (size_t i = 0, first = 1; i < n; i++) {
		if (g->of[i] != gi)
			continue;
		/* cap holds every member at its worst escaping: no call fails. */
		len += (size_t)snprintf(buf + len, cap - len, "%s{\"at\":%lld,\"request_id\":",
		    first ? "" : ",", (long long)rows[i].at);
		first = 0;
		len = (size_t)json_append_string(buf, len, cap, rows[i].request_id);
		PUT(",\"address\":");
		len = (size_t)json_append_string(buf, len, cap, rows[i].address);
		PUT(",\"target\":");
		len = (size_t)json_append_string(buf, len, cap, rows[i].target);
		PUT(",\"detail\":");
		len = (size_t)json_append_string(buf, len, cap, rows[i].detail);
		buf[len++] = '}';
	}
	snprintf(buf + len, cap - len, "]}");
	return buf;
}

size_t
audit_group_rows(struct audit_grouper *g, struct store_audit *rows, size_t n)
{
	size_t m = 0;

	if (n > g->max)
		return n;
	g->ng = 0;
	for (size_t i = 0; i < n; i++)
		g->of[i] = join(g, rows, i);
	for (size_t k = 0; k < g->ng; k++)
		if (g->g[k].count > 1)
			g->g[k].text = group_text(g, (long)k, rows, n);
	for (size_t i = 0; i < n; i++) {
		long gi = g->of[i];
		const struct group *c = gi < 0 ? NULL : &g->g[gi];
		if (c == NULL || c->count == 1 || c->text == NULL) {
			g->out[m++] = rows[i];	/* apart: as it came */
			continue;
		}
		if (c->first != i)
			continue;		/* in its group's row */
		g->out[m] = rows[i];
		g->out[m].at = c->min;
		g->out[m].request_id = "";
		g->out[m].address = "";
		g->out[m].target = "";
		g->out[m++].detail = c->text;
	}
	memcpy(rows, g->out, m * sizeof(*rows));
	return m;
}

int
audit_row_is_group(const struct store_audit *r)
{
	static const char head[] = "{\"events\":[";

	return r->request_id[0] == '\0' && r->address[0] == '\0' && r->target[0] == '\0' &&
	    strncmp(r->detail, head, sizeof(head) - 1) == 0 && store_audit_is_prunable(r->action);
}

/* -- listing -------------------------------------------------------------- */

struct entries {
	struct store_audit	*v;
	size_t			 n, cap;
};

static struct store_audit *
entry_add(struct entries *e)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct store_audit *v = realloc(e->v, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		e->v = v;
		e->cap = cap;
	}
	memset(&e->v[e->n], 0, sizeof(e->v[0]));
	return &e->v[e->n++];
}

static int
in_window(const struct store_audit_filter *f, int64_t at)
{
	return (f->since == 0 || at >= f->since) && (f->until == 0 || at < f->until);
}

/* The events array of a group row, or NULL when the row does not hold a
 * well-formed one (then it is listed as the row it is). */
static json_t *
group_events(const struct store_audit *r)
{
	json_t *doc, *ev;
	size_t i;
	json_t *e;

	if (!audit_row_is_group(r) ||
	    (doc = json_loads(r->detail, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return NULL;
	ev = json_object_get(doc, "events");
	if (!json_is_array(ev) || json_array_size(ev) == 0)
		goto bad;
	json_array_foreach(ev, i, e)
		if (!json_is_integer(json_object_get(e, "at")) ||
		    !json_is_string(json_object_get(e, "request_id")) ||
		    !json_is_string(json_object_get(e, "address")) ||
		    !json_is_string(json_object_get(e, "target")) ||
		    !json_is_string(json_object_get(e, "detail")))
			goto bad;
	json_incref(ev);
	json_decref(doc);
	return ev;
bad:
	json_decref(doc);
	return NULL;
}

/* Appends the group's events in the window, newest first. -1: ENOMEM. */
static int
add_events(struct entries *out, const struct store_audit *r, json_t *ev,
    const struct store_audit_filter *f)
{
	for (size_t k = json_array_size(ev); k > 0; k--) {
		json_t *e = json_array_get(ev, k - 1);
		int64_t at = json_integer_value(json_object_get(e, "at"));
		struct store_audit *d;
		if (!in_window(f, at))
			continue;
		if ((d = entry_add(out)) == NULL)
			return -1;
		*d = *r;
		d->at = at;
		d->request_id = strdup(json_string_value(json_object_get(e, "request_id")));
		d->actor = strdup(r->actor);
		d->tenant = strdup(r->tenant);
		d->address = strdup(json_string_value(json_object_get(e, "address")));
		d->action = strdup(r->action);
		d->target = strdup(json_string_value(json_object_get(e, "target")));
		d->outcome = strdup(r->outcome);
		d->detail = strdup(json_string_value(json_object_get(e, "detail")));
		if (!d->request_id || !d->actor || !d->tenant || !d->address || !d->action ||
		    !d->target || !d->outcome || !d->detail)
			return -1;
	}
	return 0;
}

static size_t
events_in_window(json_t *ev, const struct store_audit_filter *f)
{
	size_t k = 0, i;
	json_t *e;

	json_array_foreach(ev, i, e)
		k += in_window(f, json_integer_value(json_object_get(e, "at")));
	return k;
}

int
audit_group_expand(struct store_audit *rows, size_t n, const struct store_audit_filter *f,
    struct store_audit **out, size_t *nout)
{
	struct entries e = { NULL, 0, 0 };
	size_t i;
	int rc = STORE_OK;

	for (i = 0; i < n; i++) {
		json_t *ev = group_events(&rows[i]);
		size_t k = ev != NULL ? events_in_window(ev, f) : (size_t)in_window(f, rows[i].at);
		if (e.n > 0 && e.n + k > f->limit) {
			json_decref(ev);
			break;		/* never split a row: the next page has it */
		}
		if (ev == NULL && k == 1) {
			struct store_audit *d = entry_add(&e);
			if (d == NULL)
				goto nomem;
			*d = rows[i];		/* moved: its strings are the entry's */
			memset(&rows[i], 0, sizeof(rows[i]));
		} else if (ev != NULL && add_events(&e, &rows[i], ev, f) == -1) {
			json_decref(ev);
			goto nomem;
		}
		json_decref(ev);
	}
	store_audit_free(rows, n);
	*out = e.v;
	*nout = e.n;
	return rc;
nomem:
	store_audit_free(rows, n);
	store_audit_free(e.v, e.n);
	*out = NULL;
	*nout = 0;
	return store_set_error(STORE_ERROR, "out of memory");
}
