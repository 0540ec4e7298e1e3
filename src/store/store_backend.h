/*
 * store_backend.h — private to src/store/: the operations every backend
 * implements. store.c validates arguments, normalizes optional strings and
 * dispatches through a struct store_ops; writer.c runs the group commit
 * through ops->commit_tokens. Nothing outside src/store/ includes this.
 *
 * A backend handle (void *h) is what ops->open returned. Threading:
 *   - every op except commit_tokens may be called from many threads at once;
 *     the backend serializes what its connections need;
 *   - commit_tokens is only ever called from the one writer thread, so it may
 *     own a connection of its own without a lock;
 *   - close is called once, after the writer has stopped.
 *
 * Return values are enum store_err. On an error return the backend has set
 * the message with store_set_error() (one line, no secrets, no SQL values
 * other than identifiers the caller gave).
 *
 * Inputs the backend may rely on (store.c checks them): the store pointer
 * and out pointers are non-NULL; identifiers marked required in store.c are
 * non-NULL; optional text fields are "" (claims "{}") rather than NULL; enums
 * are in range. Out structs, *out and *n are zeroed before the call; on an
 * error return the backend leaves nothing allocated in them.
 */
#ifndef GH_STORE_BACKEND_H
#define GH_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct store_ops {
	const char *name;	/* store_backend(): "sqlite", "postgresql" */

	/* target: the path for sqlite ("sqlite:" removed), the whole URL for
	 * postgresql. Applies migrations; refuses a newer schema. On failure
	 * returns non-zero with a one-line reason in err and *h untouched. */
	int	(*open)(const char *target, void **h, char *err, size_t errlen);
	void	(*close)(void *h);
	int	(*schema_version)(void *h, int *current, int *latest);
	/* Must be cheap (every request): cache, and re-read only when another
	 * connection or process may have committed. */
	int	(*generation)(void *h, uint64_t *out);

	/* Every mutating op below increments the generation in the same
	 * transaction as its change. Unique violation: STORE_CONFLICT; a
	 * missing referenced row (tenant, client): STORE_NOTFOUND with
	 * "tenant X does not exist" / "client X does not exist". */
	int	(*tenant_create)(void *h, const struct store_tenant *);
	int	(*tenant_get)(void *h, const char *id, struct store_tenant *out);
	int	(*tenant_list)(void *h, struct store_tenant **out, size_t *n);

	/* first is NULL or has client_id == c->id; sets first->id. */
	int	(*client_create)(void *h, const struct store_client *c,
		    struct store_secret *first);
	int	(*client_get)(void *h, const char *id, struct store_client *out);
	int	(*client_list)(void *h, const char *tenant_id /* NULL: all */,
		    struct store_client **out, size_t *n);
	int	(*client_update)(void *h, const struct store_client *);

	int	(*secret_add)(void *h, struct store_secret *);
	int	(*secret_list)(void *h, const char *client_id,
		    struct store_secret **out, size_t *n);
	int	(*secret_update)(void *h, const struct store_secret *);

	int	(*key_add)(void *h, const struct store_key *);
	int	(*key_list)(void *h, struct store_key **out, size_t *n);
	int	(*key_update)(void *h, const struct store_key *);

	int	(*token_get)(void *h, const char *id, struct store_token *out);
	int	(*token_list)(void *h, const char *client_id,
		    struct store_token **out, size_t *n);
	/* Tokens with revoked_at != 0 and expires_at > now, any order. Runs
	 * on every generation change of every node: must use an index on
	 * revoked tokens, never scan the whole table. */
	int	(*token_list_revoked)(void *h, int64_t now,
		    struct store_token **out, size_t *n);
	/* Increment the generation only when a row changed. */
	int	(*token_revoke)(void *h, const char *id, int64_t at);
	int	(*token_revoke_by_name)(void *h, const char *client_id /* NULL */,
		    const char *name, int64_t at, int *count);

	/*
	 * The group commit (writer thread only): inserts t[0..n) in ONE
	 * transaction with a durable commit, and does NOT touch the
	 * generation. Returns STORE_OK when the transaction committed; then
	 * errs[i] is STORE_OK, or STORE_CONFLICT for a record whose id already
	 * exists (that record is skipped, the others commit — on PostgreSQL use
	 * INSERT ... ON CONFLICT (id) DO NOTHING and the row count). Any other
	 * return means nothing committed and every record failed with it.
	 */
	int	(*commit_tokens)(void *h, const struct store_token *t, size_t n,
		    int *errs);
};

extern const struct store_ops store_sqlite_ops;	/* store_sqlite.c */
extern const struct store_ops store_pgsql_ops;	/* store_pgsql.c */

/* Sets this thread's store_last_error() message and returns rc. */
int	store_set_error(int rc, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#endif
