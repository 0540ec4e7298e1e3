/*
 * verify.c — checks the audit trail's chain under the audit key (audit.h
 * audit_verify; the rules are store.h's). First the key record: its check
 * value must be the key's (else the master key is the wrong one, said as
 * such rather than as a broken row) and its MAC must hold. Then one pass in
 * seq order, stopping at the first break so that the seq it names is the
 * first broken one:
 *   - each row's chain version must be where the key record allows it: v1
 *     (unkeyed) rows only up to the seq the record bound and before every
 *     v2 row, v2 rows only after it (a row rewritten without the key, as
 *     an unkeyed row, fails here); the row at the bound must be the one
 *     bound (its hash);
 *   - rows after the newest checkpoint's cut C must be C+1, C+2, ... with
 *     no gap (a gap is a deleted row), each chaining to the one before
 *     (prev_hash; row C+1 to the checkpoint's through_hash) and each link
 *     matching its content (an edited, inserted or moved row fails here);
 *   - rows at or before C (the ones a prune kept) must each match their own
 *     link, and together the checkpoint's kept count and digest (keyed
 *     when the checkpoint row is).
 * A trail with rows but no key record fails too: its rows could have been
 * rewritten by anyone. A chain cannot show that its newest rows were cut
 * off: verify prints the head so that the operator can record it elsewhere
 * and compare.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "audit/audit.h"
#include "store/store.h"
#include "util/util.h"

struct checkpoint {
	int64_t	 seq;		/* the checkpoint row; 0: none */
	int	 keyed;		/* a v2 row: its kept_digest is keyed */
	int64_t	 through;
	uint8_t	 through_hash[32];
	int64_t	 kept;
	uint8_t	 kept_digest[32];
};

struct walk {
	struct audit_verify_result	*r;
	const struct checkpoint		*cp;
	const struct store_audit_key	*k;
	const struct store_audit_seal	*seal;	/* NULL: the trail has none */
	struct store_audit_digest	*dg;	/* rows <= through; NULL once done */
	int64_t				 kept;
	int64_t				 expect_seq;
	uint8_t				 expect_prev[32];
	int64_t				 newer_cp;	/* a checkpoint after cp: rescan */
	int64_t				 first_v2;	/* the first keyed row; 0: none yet */
	int64_t				 last;		/* the last row read; 0: none */
};

#define WALK_STOP	100	/* above every enum store_err */
#define WALK_RESCAN	101

static int bad(struct walk *, int64_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
bad(struct walk *w, int64_t seq, const char *fmt, ...)
{
	va_list ap;

	w->r->ok = 0;
	w->r->first_bad = seq;
	va_start(ap, fmt);
	vsnprintf(w->r->why, sizeof(w->r->why), fmt, ap);
	va_end(ap);
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
		    "their checkpoint: a row there was deleted or inserted",
		    (long long)w->cp->through);
	return 0;
}

/* Whether the row's chain version is one the key record allows there. */
static int
version_ok(struct walk *w, const struct store_audit *a)
{
	long long seq = a->seq;

	if (a->chain == STORE_AUDIT_CHAIN_V2) {
		if (w->seal == NULL)
			return bad(w, a->seq, "row %lld is keyed but the trail has no key record: "
			    "the record was deleted", seq);
		if (a->seq <= w->seal->through)
			return bad(w, a->seq, "row %lld is keyed but lies in the unkeyed part the "
			    "key record bound (to seq %lld): it was moved or inserted", seq,
			    (long long)w->seal->through);
		if (w->first_v2 == 0)
			w->first_v2 = a->seq;
		return 0;
	}
	if (a->chain != STORE_AUDIT_CHAIN_V1)
		return bad(w, a->seq, "row %lld has an unknown chain version %d: it was edited",
		    seq, a->chain);
	/* An unkeyed row where the chain is keyed is what an attacker without
	 * the key writes when rewriting a row and every one after it. */
	if (w->first_v2 != 0)
		return bad(w, a->seq, "row %lld is unkeyed (v1) after keyed row %lld: it was "
		    "rewritten without the key", seq, (long long)w->first_v2);
	if (w->seal != NULL && a->seq > w->seal->through)
		return bad(w, a->seq, "row %lld is unkeyed (v1) but the trail is keyed after seq "
		    "%lld: it was rewritten without the key", seq, (long long)w->seal->through);
	if (w->seal != NULL && a->seq == w->seal->through &&
	    CRYPTO_memcmp(a->hash, w->seal->through_hash, 32) != 0)
		return bad(w, a->seq, "row %lld is not the row the trail was keyed after: the "
		    "unkeyed rows were rewritten", seq);
	return 0;
}

static int
visit(void *arg, const struct store_audit *a)
{
	struct walk *w = arg;
	uint8_t h[32];
	int linked;

	w->r->rows++;
	w->last = a->seq;
	/* -1: an unknown chain version (version_ok says so), or out of memory. */
	linked = store_audit_link(w->k, a, h);
	/* A newer checkpoint than the one looked up: a prune ran since, so
	 * look again. Unless the row is not what it says (its link fails): the
	 * store's lookup may not take it for one (text after a NUL), and
	 * looking again would find the same; it is named instead. */
	if (strcmp(a->action, STORE_AUDIT_CHECKPOINT) == 0 && a->seq > w->cp->seq &&
	    a->seq > w->cp->through) {
		if (linked == -1 || CRYPTO_memcmp(h, a->hash, 32) != 0)
			return bad(w, a->seq, "row %lld was edited: its hash does not match its "
			    "content", (long long)a->seq);
		w->newer_cp = a->seq;
		return WALK_RESCAN;
	}
	if (version_ok(w, a) != 0)
		return WALK_STOP;
	if (linked == -1)
		return bad(w, a->seq, "row %lld could not be checked (out of memory)",
		    (long long)a->seq);
	if (a->seq <= w->cp->through) {
		if (CRYPTO_memcmp(h, a->hash, 32) != 0)
			return bad(w, a->seq, "row %lld was edited: its hash does not match its "
			    "content", (long long)a->seq);
		if (store_audit_is_prunable(a->action))
			return bad(w, a->seq, "row %lld is a token event inside the pruned prefix: "
			    "it was inserted", (long long)a->seq);
		store_audit_digest_add(w->dg, a->seq, a->hash);
		w->kept++;
		return 0;
	}
	if (close_prefix(w) != 0)
		return WALK_STOP;
	if (a->seq != w->expect_seq)
		return bad(w, w->expect_seq, "row %lld is missing: it was deleted (or the rows "
		    "after it renumbered)", (long long)w->expect_seq);
	if (CRYPTO_memcmp(a->prev_hash, w->expect_prev, 32) != 0)
		return bad(w, a->seq, "row %lld does not chain to the row before it: rows were "
		    "reordered, inserted, or the row before was rewritten", (long long)a->seq);
	if (CRYPTO_memcmp(h, a->hash, 32) != 0)
		return bad(w, a->seq, "row %lld was edited: its hash does not match its content",
		    (long long)a->seq);
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
	/* A checkpoint's chain version says how its digest was made; one
	 * whose version was changed fails the walk (version_ok). */
	cp->keyed = rows[0].chain == STORE_AUDIT_CHAIN_V2;
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

/*
 * The key record against k: 0 (*seal filled, *have 1; or no record, *have
 * 0), 1 when the verdict is in r already (a wrong key, an altered record),
 * -1 store error.
 */
static int
check_key(struct store *st, const struct store_audit_key *k, struct store_audit_seal *seal,
    int *have, struct audit_verify_result *r)
{
	int rc = store_audit_seal_get(st, seal);

	*have = rc == STORE_OK;
	if (rc == STORE_NOTFOUND)
		return 0;
	if (rc != STORE_OK)
		return -1;
	r->ok = 0;
	if (!store_audit_key_matches(k, seal->check)) {
		r->key_mismatch = 1;
		snprintf(r->why, sizeof(r->why), "the master key does not match the key this "
		    "audit trail was written with");
		return 1;
	}
	if (!store_audit_seal_valid(k, seal)) {
		snprintf(r->why, sizeof(r->why), "the audit trail's key record was altered: its "
		    "MAC does not match");
		return 1;
	}
	r->ok = 1;
	return 0;
}

/*
 * A trail that ends before the row the key record bound: that row was
 * there when the trail was keyed, and rows are never deleted from the end
 * (a prune's checkpoint goes after the head), so the rows from it on were
 * cut off. The one cut verify can see without a head recorded elsewhere.
 */
static int
cut_before_seal(struct walk *w)
{
	if (w->seal == NULL || w->seal->through <= w->last)
		return 0;
	return bad(w, w->last + 1, "the trail ends at seq %lld, before row %lld that the key "
	    "record bound: the rows from seq %lld on were cut off", (long long)w->last,
	    (long long)w->seal->through, (long long)w->last + 1);
}

/* 1 when a checkpoint newer than cp is there now: a prune committed
 * between reading cp and the scan's snapshot, which then lacks the rows
 * it cut, and the break the walk found there is not tampering. */
static int
pruned_since(struct store *st, const struct checkpoint *cp)
{
	struct audit_verify_result scratch;
	struct checkpoint now;

	memset(&scratch, 0, sizeof(scratch));
	return find_checkpoint(st, &now, &scratch) == 0 && now.seq > cp->seq;
}

/* The digest of a walk that stopped before closing its prefix. */
static void
drop_digest(struct walk *w)
{
	uint8_t junk[32];

	if (w->dg != NULL)
		store_audit_digest_final(w->dg, junk);
	w->dg = NULL;
}

int
audit_verify(struct store *st, const struct store_audit_key *k, struct audit_verify_result *r)
{
	struct store_audit_seal seal;
	int have_seal = 0, rc;

	memset(r, 0, sizeof(*r));
	r->ok = 1;
	if (k == NULL) {
		r->ok = 0;
		snprintf(r->why, sizeof(r->why), "no audit key to verify with");
		return 0;
	}
	if ((rc = check_key(st, k, &seal, &have_seal, r)) != 0)
		return rc == 1 ? 0 : -1;
	/* A prune between finding the checkpoint and the scan is caught by
	 * the scan (a newer checkpoint), or when it cut rows the walk missed
	 * before reaching that, by looking again, and answered by a rescan. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct checkpoint cp;
		struct walk w;

		memset(r, 0, sizeof(*r));
		r->ok = 1;
		if ((rc = find_checkpoint(st, &cp, r)) != 0)
			return rc == 1 ? 0 : -1;
		r->checkpoint = cp.through;
		memset(&w, 0, sizeof(w));
		w.r = r;
		w.cp = &cp;
		w.k = k;
		w.seal = have_seal ? &seal : NULL;
		w.expect_seq = cp.through + 1;
		memcpy(w.expect_prev, cp.through_hash, 32);
		if (cp.seq != 0 && (w.dg = store_audit_digest_new(cp.keyed ? k : NULL)) == NULL)
			return -1;
		rc = store_audit_scan(st, 1, visit, &w);
		if (rc == WALK_RESCAN || (rc == WALK_STOP && pruned_since(st, &cp))) {
			drop_digest(&w);
			continue;
		}
		if (rc == 0 && close_prefix(&w) == 0)
			(void)cut_before_seal(&w);
		drop_digest(&w);
		if (rc != 0 && rc != WALK_STOP)
			return -1;
		if (r->ok && !have_seal && r->rows > 0) {
			r->ok = 0;
			snprintf(r->why, sizeof(r->why), "the trail is not keyed: it has no key record "
			    "(written when a gatehouse holding the master key first writes to the "
			    "store; if one has, the record was deleted)");
		}
		return 0;
	}
	snprintf(r->why, sizeof(r->why), "the trail kept changing under the check (prunes)");
	r->ok = 0;
	return 0;
}
