/*
 * audit_group.h — private to src/store/: the token events of one client in
 * one group-commit batch share one audit row.
 *
 * Why: a row per issued token cost the writer thread ~10 us (its SHA-256
 * link, a table row and two index entries, and WAL bytes nearly doubling
 * the batch's), 12-18% of a token's CPU: the trail cost the token endpoint
 * more than issue 6 allows. Under load a batch holds tens of one client's
 * tokens; written as one row, the trail's cost stops growing with them.
 *
 * Which rows: those of the prunable actions (store_audit_prunable: token
 * issued and refused), of one batch, with equal action, actor, tenant and
 * outcome, whose times lie within AUDIT_GROUP_SPAN_MS. A lone event keeps
 * its own row, as before. A group's row has
 *   at          the earliest event's time
 *   request_id, address, target   "" (they differ per event)
 *   detail      {"events":[{"at":MS,"request_id":"..","address":"..",
 *               "target":"..","detail":".."},...]} in queue order
 * and is chained and verified like any row (store.h). store_audit_list
 * lists a group's events as entries of their own, sharing the row's seq,
 * so a reader of the trail sees one entry per event either way. Entries
 * stay in row (seq) order, so within one batch (a few milliseconds of
 * concurrent requests) one client's events are listed together.
 */
#ifndef GH_STORE_AUDIT_GROUP_H
#define GH_STORE_AUDIT_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define AUDIT_GROUP_SPAN_MS	1000

struct audit_grouper;

/* Scratch for batches of up to batch_max rows; NULL when out of memory. */
struct audit_grouper	*audit_grouper_new(size_t batch_max);
void			 audit_grouper_free(struct audit_grouper *);

/*
 * Merges rows[0..n) in place and returns how many rows remain. A group's
 * row points at text owned by g until audit_grouper_release(); the other
 * rows are left as they were (their strings still the caller's). When
 * memory runs out, the rows of that group stay apart: never an event lost.
 */
size_t	audit_group_rows(struct audit_grouper *g, struct store_audit *rows, size_t n);
void	audit_grouper_release(struct audit_grouper *g);

/* 1 when the row carries a group of events (the layout above). */
int	audit_row_is_group(const struct store_audit *);

/*
 * The entries of rows[0..n) (newest first, as store_audit_list gives
 * them): a group's events become entries (newest first), kept only when
 * since <= at < until holds for the event's own time. At most f->limit
 * entries, except that a row's events are never split: the first row is
 * listed whole, and a later row that would pass the limit is left for the
 * next page (before_seq). Takes the rows (frees them). STORE_OK or
 * STORE_ERROR (out of memory; rows freed).
 */
int	audit_group_expand(struct store_audit *rows, size_t n,
	    const struct store_audit_filter *f, struct store_audit **out, size_t *nout);

#endif
