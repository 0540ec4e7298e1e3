/*
 * held.h — who may act as a client, for the maker-checker rule that the
 * checker is a second person (approvals.h approvals_decide).
 *
 * Comparing client ids is not enough: the admin API shows the secret it
 * makes for a new client, or for another client's rotation, to the
 * principal that asked (the maker, when the change was filed). That
 * principal may then act as the client, and approve its own requests
 * through it. Each secret records whom it was shown to (store.h struct
 * store_secret holder): the client that asked, which is the client itself
 * for its own rotation; "" for the CLI's operator and the bootstrap.
 *
 * held_by(X) is X itself, and for each secret of X that counts (below)
 * with a holder H other than X, held_by(H): the principals, named by client
 * id, through whom someone may act as X. X stays in its own set whatever
 * happened to its secrets since, because whoever acted as X then still
 * knows what was shown to X; so does a deleted holder (no secrets left to
 * follow: its id stands for whoever held it).
 *
 * A secret X made for itself (holder X: its own rotation through the admin
 * API) was shown to whoever acted as X at that moment: so for such a
 * secret that counts, the holders of X's earlier secrets (lower id) that
 * could act then (counted at its making, as below) are followed too, and
 * in turn those of an earlier self-made one. Else a maker shown X's secret
 * could rotate it as X, void X's tokens once the secret it was shown had
 * ended, and hold X no more.
 *
 * A secret counts while it, or a token it issued, may still work: until
 * it is revoked or expires, and then until either every token of the
 * client issued before that end is void (tokens_valid_after past it: a
 * revocation of its tokens) or the longest lifetime a token can have
 * (366 days, manage's bound on max_ttl) has passed since. Counting only
 * live secrets would let a maker who holds a client's secret take a token,
 * revoke the secret (an Operator's change, no approval) and then approve
 * as that client with the token.
 *
 * Cycles (A's secret shown to B, B's to A) are followed once. A chain
 * deeper than APPROVALS_HELD_DEPTH, or a set larger than
 * APPROVALS_HELD_MAX, cannot be told: refused (it fails closed).
 */
#ifndef GH_APPROVALS_HELD_H
#define GH_APPROVALS_HELD_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define APPROVALS_HELD_DEPTH	8
#define APPROVALS_HELD_MAX	64
/* The longest lifetime a token can have (manage: max_ttl at most 366d). */
#define APPROVALS_TOKEN_LIFE_MAX	((int64_t)366 * 86400)

struct approvals_held {
	size_t	n;
	char	id[APPROVALS_HELD_MAX][129];
};

/* held_by(client_id) as of now into *out: 0, or an HTTP status with a
 * sentence in err: 403 (the bounds above), 503 or 500 (the store). */
int	approvals_held_by(struct store *, const char *client_id, int64_t now,
	    struct approvals_held *out, char *err, size_t errlen);

/* 1 when h holds id. */
int	approvals_held_has(const struct approvals_held *h, const char *id);
/* An id both sets hold (the first of a's), or NULL when they share none. */
const char *approvals_held_common(const struct approvals_held *a,
	    const struct approvals_held *b);

#endif
