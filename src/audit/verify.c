/*
 * verify.c — checks the audit trail's hash chain (audit.h audit_verify; the
 * rules are store.h's). One pass in seq order, stopping at the first break
 * so that the seq it names is the first broken one:
 *   - rows after the newest checkpoint's cut C must be C+1, C+2, ... with
 *     no gap (a gap is a deleted row), each chaining to the one before
 *     (prev_hash; row C+1 to the checkpoint's through_hash) and each hash
 *     matching its content (an edited, inserted or moved row fails here);
 *   - rows at or before C (the ones a prune kept) must each match their own
 *     hash, and together the checkpoint's kept count and digest.
 * A chain cannot show that its newest rows were cut off: verify prints the
 * head so that the operator can record it elsewhere and compare.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "audit/audit.h"
#include "store/store.h"
#include "util/util.h"

struct checkpoint {
	int64_t	 seq;		/* the checkpoint row; 0: none */
	int64_t	 through;
	uint8_t	 through_hash[32];
	int64_t	 kept;
	uint8_t	 kept_digest[32];
};

struct walk {
	struct audit_verify_result	*r;
	const struct checkpoint		*cp;
	struct store_audit_digest	*dg;	/* rows <= through; NULL once done */
	int64_t				 kept;
	int64_t				 expect_seq;
	uint8_t				 expect_prev[32];
	int64_t				 newer_cp;	/* a checkpoint after cp: rescan */
};

#define WALK_STOP	100	/* above every enum store_err */
#define WALK_RESCAN	101

static int
bad(struct walk *w, int64_t seq, const char *fmt, int64_t n)
{
	w->r->ok = 0;
	w->r->first_bad = seq;
	snprintf(w->r->why, sizeof(w->r->why), fmt, (long long)n);
	return WALK_STOP;
}

/* The kept rows at or before the cut, against the checkpoint. */
static int
close_prefix(struct walk *w)
{
	uint8_t d[32];

	if (w->dg == NULL)
		return 0;
	store_audit_digest_final(w->dg, d);
	w->dg = NULL;
	if (w->kept != w->cp->kept || CRYPTO_memcmp(d, w->cp->kept_digest, 32) != 0)
		return bad(w, w->cp->through,
		    "the rows kept at or before seq %lld (the pruned prefix) do not match "
		    "their checkpoint: a row there was deleted or inserted", w->cp->through);
	return 0;
}

static int
visit(void *arg, const struct store_audit *a)
{
	struct walk *w = arg;
	uint8_t h[32];

	w->r->rows++;
	if (strcmp(a->action, STORE_AUDIT_CHECKPOINT) == 0 && a->seq > w->cp->seq &&
	    a->seq > w->cp->through) {
		w->newer_cp = a->seq;	/* a prune ran since we looked */
		return WALK_RESCAN;
	}
	store_audit_hash(a, h);
	if (a->seq <= w->cp->through) {
		if (CRYPTO_memcmp(h, a->hash, 32) != 0)
			return bad(w, a->seq, "row %lld was edited: its hash does not match its content",
			    a->seq);
		if (store_audit_is_prunable(a->action))
			return bad(w, a->seq, "row %lld is a token event inside the pruned prefix: "
			    "it was inserted", a->seq);
		store_audit_digest_add(w->dg, a->seq, a->hash);
		w->kept++;
		return 0;
	}
	if (close_prefix(w) != 0)
		return WALK_STOP;
	if (a->seq != w->expect_seq)
		return bad(w, w->expect_seq, "row %lld is missing: it was deleted (or the rows "
		    "after it renumbered)", w->expect_seq);
	if (CRYPTO_memcmp(a->prev_hash, w->expect_prev, 32) != 0)
		return bad(w, a->seq, "row %lld does not chain to the row before it: rows were "
		    "reordered, inserted, or the row before was rewritten", a->seq);
	if (CRYPTO_memcmp(h, a->hash, 32) != 0)
		return bad(w, a->seq, "row %lld was edited: its hash does not match its content",
		    a->seq);
	memcpy(w->expect_prev, a->hash, 32);
	w->expect_seq++;
	w->r->head_seq = a->seq;
	hex_encode(a->hash, 32, w->r->head_hash);
	return 0;
}

/* The newest checkpoint at or below max_seq (0: any). 0, 1 when its
 * detail is unreadable (reported in r), -1 store error. */
static int
find_checkpoint(struct store *st, struct checkpoint *cp, struct audit_verify_result *r)
{
	struct store_audit_filter f;
	struct store_audit *rows = NULL;
	size_t n = 0;
	json_t *j = NULL;
	json_int_t through, kept;
	const char *th, *kd;
	int rc = 0;

	memset(cp, 0, sizeof(*cp));
	memset(&f, 0, sizeof(f));
	f.action = STORE_AUDIT_CHECKPOINT;
	f.limit = 1;
	if (store_audit_list(st, &f, &rows, &n) != STORE_OK)
		return -1;
	if (n == 0)
		goto out;
	cp->seq = rows[0].seq;
	if ((j = json_loads(rows[0].detail, 0, NULL)) == NULL ||
	    json_unpack(j, "{s:I, s:s, s:I, s:s}", "through", &through, "through_hash", &th,
	    "kept", &kept, "kept_digest", &kd) != 0 ||
	    through < 0 || through >= cp->seq || kept < 0 ||
	    hex_decode(th, strlen(th), cp->through_hash, 32) != 0 ||
	    hex_decode(kd, strlen(kd), cp->kept_digest, 32) != 0) {
		r->ok = 0;
		r->first_bad = cp->seq;
		snprintf(r->why, sizeof(r->why), "row %lld, a checkpoint, has a malformed detail: "
		    "it was edited", (long long)cp->seq);
		rc = 1;
		goto out;
	}
	cp->through = through;
	cp->kept = kept;
out:
	json_decref(j);
	store_audit_free(rows, n);
	return rc;
}

int
audit_verify(struct store *st, struct audit_verify_result *r)
{
	/* A prune between finding the checkpoint and the scan is caught by
	 * the scan (a newer checkpoint) and answered by a rescan. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct checkpoint cp;
		struct walk w;
		int rc;

		memset(r, 0, sizeof(*r));
		r->ok = 1;
		if ((rc = find_checkpoint(st, &cp, r)) != 0)
			return rc == 1 ? 0 : -1;
		r->checkpoint = cp.through;
		memset(&w, 0, sizeof(w));
		w.r = r;
		w.cp = &cp;
		w.expect_seq = cp.through + 1;
		memcpy(w.expect_prev, cp.through_hash, 32);
		if (cp.seq != 0 && (w.dg = store_audit_digest_new()) == NULL)
			return -1;
		rc = store_audit_scan(st, 1, visit, &w);
		if (rc == WALK_RESCAN) {
			if (w.dg != NULL) {
				uint8_t junk[32];
				store_audit_digest_final(w.dg, junk);
			}
			continue;
		}
		if (rc == 0)
			close_prefix(&w);
		else if (w.dg != NULL) {
			uint8_t junk[32];
			store_audit_digest_final(w.dg, junk);
		}
		if (rc != 0 && rc != WALK_STOP)
			return -1;
		return 0;
	}
	snprintf(r->why, sizeof(r->why), "the trail kept changing under the check (prunes)");
	r->ok = 0;
	return 0;
}
