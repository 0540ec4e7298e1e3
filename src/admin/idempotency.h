/*
 * idempotency.h — X-Request-ID as an idempotency key for state-changing
 * calls (issue 6 part 5), for the admin API and the approval routes alike.
 *
 * The key is scoped per calling client, as made: the id of a deleted
 * client may be given again (README), in any tenant, and the record of a
 * deleted client's call is not the new client's request (422; see
 * same_request in idempotency.c). The first call with a key runs and
 * its answer is kept (IDEM_KEEP_SECONDS); a retry with the same key and the
 * same request (method, path with query, SHA-256 of the body) gets that
 * answer again, marked "Idempotent-Replayed: true", without acting; the
 * same key with a different request gets 422; a retry while the first call
 * still runs gets 409. The first change a call makes marks its record
 * ACTED in that change's transaction (store.h store_idem_mark_acted). A
 * retry of a call begun IDEM_STALE_SECONDS ago that never acted (its
 * process stopped before changing anything) takes the key over and acts:
 * the first, should it still run, can then no longer act (its mark's
 * guard fails, rolling its change back), and of concurrent retries one
 * takes the key, the others get 409. A retry of one that acted and never
 * recorded its answer (it may have taken effect) gets 409 for as long as
 * the key is kept, with the reason idempotency_unknown once the first
 * began IDEM_STALE_SECONDS ago. Calls without X-Request-ID are not deduplicated (the
 * server's own generated id is not a key). Answers of 5xx are not kept: the
 * call did not complete, a retry runs again; unless it changed the store
 * before it failed (its record ACTED): then a retry gets 409, as after a
 * crash past its change. A client_secret in an answer
 * is not kept (it is shown once): a replay says client_secret_omitted.
 *
 * Use (any handler whose caller is known):
 *
 *	struct idem_claim claim;
 *	if (idem_begin(store, &principal->client->c, &x->req, &claim, &x->resp) == IDEM_ANSWERED)
 *		return HTTP_DONE;		// replayed, 409, 422 or 503
 *	... act, fill x->resp ...
 *	idem_finish(store, &claim, &x->resp);
 *	return HTTP_DONE;
 */
#ifndef GH_ADMIN_IDEMPOTENCY_H
#define GH_ADMIN_IDEMPOTENCY_H

#include "http/http.h"
#include "store/store.h"

#define IDEM_KEEP_SECONDS	86400	/* at least 24 h (issue 6) */
#define IDEM_STALE_SECONDS	300	/* a RUNNING record this old: its process stopped */

struct idem_claim {
	int	active;			/* a record was claimed: finish it */
	char	client_id[129];
	char	key[HTTP_REQUEST_ID_MAX + 1];
	int64_t	created_at;		/* the record's: ours, not a retry's */
};

enum idem_result { IDEM_PROCEED, IDEM_ANSWERED };

/* caller: the calling client's row (gate_principal client->c). */
enum idem_result idem_begin(struct store *, const struct store_client *caller,
	    const struct http_request *, struct idem_claim *,
	    struct http_response *);
/* Keeps resp as the answer to the claimed key (or releases the key for a
 * 5xx), after ending the mark idem_begin staged on this thread (so every
 * idem_begin that proceeds must be followed by idem_finish on the same
 * thread). No-op when nothing was claimed. */
void	idem_finish(struct store *, struct idem_claim *,
	    const struct http_response *);

#endif
