/*
 * store.h — the store: the one seam between gatehouse and its database.
 *
 * Two backends implement it: store_sqlite.c (the default, one file in WAL
 * mode) and store_pgsql.c (several nodes on one PostgreSQL). Nothing outside
 * src/store/ includes sqlite3.h or libpq-fe.h, writes SQL, or knows which
 * backend runs (STYLE 1, 15).
 *
 * Every function is thread-safe and returns an enum store_err (0 is success).
 * None prints or exits; store_last_error() gives this thread's last message
 * for an error return, without secrets. A write that returns STORE_OK is
 * durable (committed with a full sync).
 *
 * Ownership: out-parameters of type struct store_X are filled with heap
 * strings the caller frees with store_X_clear(); arrays with store_X_free().
 */
#ifndef GH_STORE_H
#define GH_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_err {
	STORE_OK = 0,
	STORE_NOTFOUND,		/* no such row */
	STORE_CONFLICT,		/* a unique key already exists, or a guard failed */
	STORE_UNAVAILABLE,	/* the database cannot be reached now (503) */
	STORE_ERROR,		/* anything else; see store_last_error() */
	STORE_SUPERSEDED,	/* a write refused by its call's mark: a retry, or another
				 * applier, took the call over (store_idem_mark_acted,
				 * store_approval_mark_applied); not the caller's own
				 * conflict, and not to be tried again */
	STORE_ERR__MAX
};

enum store_env { STORE_ENV_SANDBOX, STORE_ENV_PRODUCTION, STORE_ENV__MAX };
enum store_format { STORE_FORMAT_JWT, STORE_FORMAT_OPAQUE, STORE_FORMAT__MAX };

/* Roles are a bit set; Admin ⊃ Operator ⊃ Viewer is applied by the gate. */
#define STORE_ROLE_VIEWER	0x1u
#define STORE_ROLE_OPERATOR	0x2u
#define STORE_ROLE_ADMIN	0x4u

extern const char *const store_env_names[STORE_ENV__MAX];	/* "sandbox", "production" */
extern const char *const store_format_names[STORE_FORMAT__MAX];	/* "jwt", "opaque" */
int store_env_from_name(const char *s, enum store_env *out);	/* 0 or -1 */
int store_format_from_name(const char *s, enum store_format *out);

struct store_tenant {
	char	*id;
	char	*name;
	int64_t	 created_at;
};

struct store_client {
	char		*id;
	char		*tenant_id;
	char		*name;
	enum store_env	 env;
	unsigned	 roles;		/* STORE_ROLE_* bits */
	char		*scopes;	/* allowed scopes, space separated; "" for none */
	int64_t		 ttl;		/* default token lifetime, seconds */
	int64_t		 max_ttl;	/* the most a request may ask, seconds */
	enum store_format format;
	char		*allow_ips;	/* CIDRs, space separated; "" for none */
	char		*claims;	/* extra claims, a JSON object's text; "{}" */
	int		 disabled;
	int64_t		 rate_limit;	/* tokens a minute; 0 = the server default */
	int64_t		 tokens_valid_after; /* tokens issued before are void; 0 */
	int64_t		 created_at;
	int64_t		 updated_at;
};

/*
 * A client secret: only its keyed hash is stored (security/secret.h).
 * holder is the principal (a client id) the admin API showed the secret
 * to: the client that asked, the client itself for its own rotation
 * (whoever acted as it then); "" for the CLI's operator and the
 * bootstrap. The maker-checker rule reads it
 * (approvals/held.h). Written once, with the secret; NULL is "".
 */
struct store_secret {
	int64_t	 id;
	char	*client_id;
	uint8_t	 hash[32];
	int64_t	 created_at;
	int64_t	 expires_at;	/* 0: no expiry (until rotated) */
	int64_t	 revoked_at;	/* 0: not revoked */
	char	*holder;	/* a client id, or "" (above) */
};

/* A signing key: the private key is sealed under the master key. */
struct store_key {
	char		*kid;
	char		*alg;		/* "RS256", "PS256", "ES256", "EdDSA" */
	enum store_env	 env;
	uint8_t		*sealed;	/* security/seal.h output */
	size_t		 sealed_len;
	int64_t		 created_at;
	int64_t		 publish_at;	/* in the JWKS from then on */
	int64_t		 activate_at;	/* signs from then on */
	int64_t		 retire_at;	/* 0, or signs no more from then on */
	int64_t		 remove_at;	/* 0, or leaves the JWKS then */
};

/* An issued token. JWTs are recorded by jti; opaque tokens by an id made
 * of their issue time and their SHA-256 (security/opaque_token.h): the
 * token itself is never stored. */
struct store_token {
	char		*id;		/* jti, or an opaque token's record id */
	char		*client_id;
	char		*tenant_id;
	char		*name;		/* token_name (seed 002), a UUID by default */
	enum store_format format;
	enum store_env	 env;
	char		*scope;		/* granted scope, space separated */
	char		*aud;		/* audience, "" when none */
	int64_t		 issued_at;
	int64_t		 expires_at;
	int64_t		 revoked_at;	/* 0: live */
};

struct store;

/*
 * Opens the store named by url: "sqlite:PATH" (or a bare path) or
 * "postgresql://..." / "postgres://...". Applies pending migrations.
 * Refuses a database at a newer schema version than this binary knows.
 * On failure returns non-zero and writes a one-line reason into err.
 */
int	store_open(const char *url, struct store **out, char *err, size_t errlen);
/* 1 when the store URL holds a password (a PostgreSQL URL's user:password@
 * or password= parameter, as libpq reads it), else 0. */
int	store_url_has_password(const char *url);
/* Flushes queued writes (store_token_record) and closes. NULL is a no-op. */
void	store_close(struct store *);
/* "sqlite" or "postgresql". */
const char *store_backend(const struct store *);
/* One line for the operator (the server logs it at start): the database
 * engine's version and the settings of ours that bear on durability and
 * speed, so that a deployment shows what it runs with (for SQLite, whether
 * the page cache and WAL write layers are in force). Into buf; returns buf. */
const char *store_engine(struct store *, char *buf, size_t len);
/* This thread's last error message for a failed call; never NULL. */
const char *store_last_error(void);
/* The words every STORE_SUPERSEDED message starts with: a caller that
 * passes a store message on as text (manage's err) keeps them, and the
 * admin API answers such a text 409 (admin_manage_error). */
#define STORE_SUPERSEDED_WORDS	"superseded: "

/* The schema version the store is at, and the newest this binary knows. */
int	store_schema_version(struct store *, int *current, int *latest);
/* Commits one small durable write (the meta row "write_probe" set to now)
 * and nothing else: whether the store can take writes at all, for a
 * readiness check while its writes fail (a full disk). No generation
 * moves; no cache reloads. */
int	store_write_probe(struct store *, int64_t now);

/*
 * Change generations: numbers that every change a cache must see
 * increments, whichever process made it, one per kind, so that a change
 * reloads only what it touched:
 *   STORE_GEN_DATA     clients, secrets, keys, tenants, approvals
 *   STORE_GEN_LOCKS    lockout locks (store_lock_put, store_lock_clear): a
 *                      brute force makes them many times a second, and each
 *                      must not empty every node's other caches
 *   STORE_GEN_REVOKED  token revocations (store_token_revoke*): a client
 *                      revoking its tokens as it finishes with them must
 *                      not empty every node's client cache and keys
 * Cheap enough to call on every request. Token records do not count.
 */
enum store_gen_kind { STORE_GEN_DATA, STORE_GEN_LOCKS, STORE_GEN_REVOKED, STORE_GEN__MAX };
#define STORE_GEN_BIT(kind)	(1u << (kind))	/* a set of kinds */
struct store_gen {
	uint64_t	v[STORE_GEN__MAX];
};
/* Each kind's name: its meta row, and what /readyz and the logs call it
 * ("generation", "lock_generation", "revocation_generation"). */
extern const char *const store_gen_keys[STORE_GEN__MAX];	/* store.c */
int	store_generation(struct store *, struct store_gen *out);
/*
 * The generations as this process last learned them, without a round trip:
 * for callers that must not wait on a shared store (an HTTP loop,
 * server/offload.h). A shared store keeps them current as other nodes'
 * changes are announced, and, while it cannot hear them, as often as
 * store_generation is called elsewhere (the server does once a second).
 * A store whose reads are local answers as store_generation does.
 */
int	store_generation_cached(struct store *, struct store_gen *out);

/*
 * The operator's lists a page at a time (the admin API's GET /tenants,
 * /clients, /locks and /approvals; the CLI walks every page): each list is
 * in an order on a unique key, and a page holds at most page->limit
 * (1..STORE_LIST_PAGE_MAX) rows that come after a cursor, the key of the
 * previous page's last row (none: from the first row). A cursor is a place
 * in the order, not a row: rows made or deleted between pages do not move
 * it, so walking the pages gives each row that stayed exactly once. Fewer
 * than limit rows: no more. *out is the caller's (store_X_free), NULL when
 * n is 0. The unpaged store_X_list give every row, for the server's own
 * caches. The admin API's largest page (manage.h) is far smaller; this is
 * the CLI's walk (10000) and one more, to tell whether more follow.
 */
#define STORE_LIST_PAGE_MAX	10001

/* Tenants. list: every tenant, by id. */
int	store_tenant_create(struct store *, const struct store_tenant *);
int	store_tenant_get(struct store *, const char *id, struct store_tenant *out);
int	store_tenant_list(struct store *, struct store_tenant **out, size_t *n);
/* A page of tenants by id (above): those with an id above after_id (NULL:
 * from the first); only: NULL for every tenant, else that one alone (what
 * a tenant's own principals see). */
struct store_tenant_page {
	const char	*only;
	const char	*after_id;
	size_t		 limit;
};
int	store_tenant_list_page(struct store *, const struct store_tenant_page *page,
	    struct store_tenant **out, size_t *n);
void	store_tenant_clear(struct store_tenant *);
void	store_tenant_free(struct store_tenant *, size_t n);

/* Clients. create inserts the client and its first secret in one transaction
 * (secret->id is set); when token records with its id are there already (a
 * deleted client's), its tokens_valid_after becomes one past their last
 * issue time (schema_common.h, SCHEMA_SQL_VOID_EARLIER_TOKENS). */
int	store_client_create(struct store *, const struct store_client *,
	    struct store_secret *first_secret);
int	store_client_get(struct store *, const char *id, struct store_client *out);
int	store_client_list(struct store *, const char *tenant_id /* NULL: all */,
	    struct store_client **out, size_t *n);
/* A page of clients (above) in the order of store_client_list: created_at,
 * then id; those after (after_created, after_id), or from the first when
 * after_id is NULL; of tenant_id only unless it is NULL. */
struct store_client_page {
	const char	*tenant_id;
	int64_t		 after_created;
	const char	*after_id;
	size_t		 limit;
};
int	store_client_list_page(struct store *, const struct store_client_page *page,
	    struct store_client **out, size_t *n);
/*
 * update writes the settings of next (name, roles, scopes, ttl, max_ttl,
 * format, allow_ips, claims, rate_limit) and its updated_at to the client
 * named by next->id, if its settings are still those of read (the row the
 * caller read and changed): STORE_CONFLICT when another change came in
 * between (read it again, and apply the change to that), STORE_NOTFOUND
 * when there is no such client. The tenant, env and creation time never
 * change; disabled and tokens_valid_after change only by the two calls
 * below, so that an update made from an older read cannot undo them.
 */
int	store_client_update(struct store *, const struct store_client *next,
	    const struct store_client *read);
/* Sets disabled (0 or 1) and updated_at (at). STORE_NOTFOUND when absent. */
int	store_client_set_disabled(struct store *, const char *id, int disabled, int64_t at);
/* Voids the client's tokens issued before after: tokens_valid_after becomes
 * after, unless it is later already; updated_at becomes at. */
int	store_client_void_tokens(struct store *, const char *id, int64_t after, int64_t at);
/* Deletes the client and its secrets in one transaction (its token records
 * stay, for the record; they no longer validate: the client is gone, and a
 * client made again with its id takes them as void).
 * STORE_NOTFOUND when there is no such client. Increments the generation. */
int	store_client_delete(struct store *, const char *id);
void	store_client_clear(struct store_client *);
void	store_client_free(struct store_client *, size_t n);

/* Secrets: a client's first comes with it (store_client_create), the next
 * by store_secret_rotate. update writes expires_at and revoked_at. */
int	store_secret_list(struct store *, const char *client_id,
	    struct store_secret **out, size_t *n);
int	store_secret_update(struct store *, const struct store_secret *);
/* update and store_client_void_tokens(sec->client_id, after, at) in ONE
 * transaction: a secret revoked for a leak has the client's tokens voided
 * with it, or neither is (a crash between the two left its tokens good,
 * and the secret, revoked already, could not be revoked again to void
 * them). STORE_NOTFOUND when the secret or the client is missing (nothing
 * changes). */
int	store_secret_update_void_tokens(struct store *, const struct store_secret *,
	    int64_t after, int64_t at);
/* How many secrets are live at now (not revoked, not ended) and were
 * made at or before made_by: those due for rotation, in one query. */
int	store_secret_count_due(struct store *, int64_t made_by, int64_t now, int64_t *count);
/*
 * A rotation, in one transaction: every live secret of s->client_id (not
 * revoked, not expired at s->created_at) that would outlive end_by ends at
 * end_by, and s is added (s->id set), so that there is never a moment
 * without a working secret nor, whoever else rotates at once (the CLI
 * beside the server, another node), more than max_live live ones.
 * *prev_end gets when the last secret live before ends (0: none was).
 * STORE_CONFLICT when the client already has max_live live secrets,
 * STORE_NOTFOUND when there is no such client. Increments the generation.
 */
int	store_secret_rotate(struct store *, struct store_secret *s, int64_t end_by,
	    size_t max_live, int64_t *prev_end);
void	store_secret_clear(struct store_secret *);
void	store_secret_free(struct store_secret *, size_t n);

/* Signing keys: added (an environment's first), then changed only by a
 * rotation or a revocation, each one transaction with its checks. */
int	store_key_add(struct store *, const struct store_key *);
int	store_key_list(struct store *, struct store_key **out, size_t *n);
/*
 * A rotation, in one transaction: add, a key of add->env taking over at
 * add->activate_at, goes in unless a key of that env is already scheduled
 * to take over at now (STORE_CONFLICT); the key signing for the env at
 * now, if any, then retires at add->activate_at and is removed at
 * old_remove_at. replaces: the kid the caller found signing for the env at
 * now (NULL: none); when another signs by now (a rotation elsewhere, with
 * no publish lead, came first), STORE_CONFLICT too. Rotations at once (the
 * CLI, the admin API, each node's schedule) leave one new key, never two.
 * Increments the generation.
 */
int	store_key_rotate(struct store *, const struct store_key *add, int64_t now,
	    int64_t old_remove_at, const char *replaces);
/*
 * Rotations of several environments in ONE transaction (n from 1 to
 * STORE_ENV__MAX, no env twice), each as store_key_rotate with its own
 * add, old_remove_at and replaces: all go in or none does (the first
 * refusal's answer), so that a crash or a refusal never leaves one env
 * rotated and not the other (keys rotate with no --env). Increments the
 * generation.
 */
struct store_key_rotation {
	const struct store_key	*add;
	int64_t			 old_remove_at;
	const char		*replaces;
};
int	store_key_rotate_envs(struct store *, const struct store_key_rotation *r, size_t n,
	    int64_t now);
/*
 * Revokes key kid at now (it retires and is removed at now: readers know
 * a revoked key by the two being equal, keys_revoked, whatever their own
 * clock says), in one
 * transaction with the check that another key of its env still signs:
 * when kid is the key signing for its env at now and no other does, the
 * key scheduled to take over next (a rotation's successor) is brought
 * forward to sign from now, and with none STORE_CONFLICT (revocations at
 * once cannot leave an env without a key); STORE_NOTFOUND when there is
 * no such key. A key revoked before it signs
 * cancels the rotation that scheduled it (store_key_rotate): the key it
 * was to replace, signing at now, no longer retires. Increments the
 * generation.
 */
int	store_key_revoke(struct store *, const char *kid, int64_t now);
void	store_key_clear(struct store_key *);
void	store_key_free(struct store_key *, size_t n);

/* Issued tokens. */
int	store_token_get(struct store *, const char *id, struct store_token *out);
/*
 * One page of a client's token records, in issue order (issued_at, then id,
 * ascending): at most page->limit (1..STORE_TOKEN_PAGE_MAX) records that
 * come after the cursor (page->after_issued, page->after_id), or from the
 * first when after_id is NULL. A busy client holds millions of records
 * within the retention: nobody may ask for all at once. Pass the last
 * record's (issued_at, id) to get the next page; n < limit: no more.
 * *out is the caller's (store_token_free), NULL when n is 0.
 */
struct store_token_page {
	int64_t		 after_issued;
	const char	*after_id;	/* NULL: from the start */
	size_t		 limit;
};
/* The CLI's largest page (100000) and one more, to tell whether more follow. */
#define STORE_TOKEN_PAGE_MAX	100001
int	store_token_list(struct store *, const char *client_id,
	    const struct store_token_page *page, struct store_token **out, size_t *n);
/* Revokes the token id (STORE_NOTFOUND when absent; already revoked: OK). */
int	store_token_revoke(struct store *, const char *id, int64_t at);
/* Revoked tokens that have not yet expired at now, at most limit (>= 1) of
 * them, in no order (the gate keeps these ids in memory, reloaded when the
 * generation moves; it asks for one more than it keeps, to tell when there
 * are more). */
int	store_token_list_revoked(struct store *, int64_t now, size_t limit,
	    struct store_token **out, size_t *n);
/* The same, of the tokens revoked since the set read at revocation
 * generation since (store_generation's v[STORE_GEN_REVOKED], read before
 * that set's rows): each revocation records the generation it made, in its
 * transaction, so a node that holds the set of generation N reads what
 * changed, not every revoked token again. A revocation committed while the
 * caller read the generation is read again next time, never missed. */
int	store_token_list_revoked_since(struct store *, uint64_t since, int64_t now,
	    size_t limit, struct store_token **out, size_t *n);
/* Revokes every live token named name (of client_id when not NULL);
 * *count gets how many; STORE_NOTFOUND when none. */
int	store_token_revoke_by_name(struct store *, const char *client_id,
	    const char *name, int64_t at, int *count);
/* Deletes the records of at most limit (1..100000) tokens that expired
 * before expired_before (seconds); *pruned gets how many. An expired token
 * is refused and reported inactive with or without its record: the record
 * is kept only for operators (token list) until the retention ends. */
int	store_token_prune(struct store *, int64_t expired_before, int64_t limit,
	    int64_t *pruned);
/* The latest expires_at of env's JWT records that expire after now (0 when
 * none) into *latest: until then a token signed by one of env's keys may be
 * presented (keys/rotate.c keeps a retiring key published that long). */
int	store_token_latest_expiry(struct store *, enum store_env env, int64_t now,
	    int64_t *latest);
void	store_token_clear(struct store_token *);
void	store_token_free(struct store_token *, size_t n);

/*
 * Idempotency records (issue 6): the first answer to a state-changing admin
 * or approval call, keyed by (client_id, key) where key is the caller's
 * X-Request-ID, with the SHA-256 (hex) of the call it answered. begin claims
 * the key: it inserts a RUNNING record and returns STORE_OK, or, when a live
 * record holds the key, fills *existing and returns STORE_CONFLICT. A record
 * past its expires_at is replaced, and so is a RUNNING one (its call never
 * changed the store: see store_idem_mark_acted) of the same fingerprint
 * begun before stale_before: its process stopped, or is too slow to
 * matter, and the retry acts in its place. Of concurrent begins (threads,
 * processes, nodes) one takes the key. An ACTED record is never replaced
 * before it expires: its call changed the store and never recorded its
 * answer (admin/idempotency.h). finish stores the answer (DONE) and
 * release drops the record (so a retry may run), each only of the record
 * begun at created_at (the caller's own, not one that replaced it): finish
 * one not yet DONE, release one still RUNNING (an ACTED one's call changed
 * the store: run again, it would act twice; STORE_NOTFOUND, kept).
 */
enum store_idem_state { STORE_IDEM_RUNNING, STORE_IDEM_DONE, STORE_IDEM_ACTED };
struct store_idem {
	char			*client_id;
	char			*key;
	char			 fingerprint[65];
	enum store_idem_state	 state;	/* stored 0, 1, 2 as the enum */
	int			 status;	/* DONE: the answer's status */
	char			*body;		/* DONE: the answer's body; "" */
	int64_t			 created_at;
	int64_t			 expires_at;
};
int	store_idem_begin(struct store *, const struct store_idem *rec,
	    int64_t now, int64_t stale_before, struct store_idem *existing);
int	store_idem_finish(struct store *, const char *client_id,
	    const char *key, int64_t created_at, int status, const char *body);
int	store_idem_release(struct store *, const char *client_id,
	    const char *key, int64_t created_at);
/*
 * The mark of a call's first change (as store_approval_mark_applied's):
 * the next write this thread commits on s that changes data also moves
 * the record (client_id, key) begun at created_at from RUNNING to ACTED,
 * in its transaction, guarded: when the record is no longer that RUNNING
 * one (a retry took the key over, above) the write is rolled back and
 * answers STORE_SUPERSEDED: the call does not act after its retry began.
 * One mark at a time per thread (STORE_CONFLICT). store_idem_unmark ends
 * it before the answer is recorded: 1 when it committed with a write.
 */
int	store_idem_mark_acted(struct store *, const char *client_id,
	    const char *key, int64_t created_at);
int	store_idem_unmark(struct store *);
void	store_idem_clear(struct store_idem *);

/*
 * Maker-checker approvals (issue 6, approvals/approvals.h is the engine).
 * The store keeps the rows and makes every state change a guarded update
 * (WHERE state = the expected one) so that of concurrent changes exactly
 * one wins; the rules (roles, tenants, makers) are the engine's. Every
 * mutation increments the generation. Stored states are numbered as the
 * enum (text names in store_approval_state_names).
 */
enum store_approval_state {
	STORE_APPROVAL_PENDING, STORE_APPROVAL_APPROVED, STORE_APPROVAL_REJECTED,
	STORE_APPROVAL_EXPIRED, STORE_APPROVAL_USED, STORE_APPROVAL_APPLIED,
	STORE_APPROVAL_FAILED, STORE_APPROVAL_STATE__MAX
};
extern const char *const store_approval_state_names[STORE_APPROVAL_STATE__MAX];
int	store_approval_state_from_name(const char *s,
	    enum store_approval_state *out);	/* 0 or -1 */
struct store_approval {
	char	*id;
	char	*tenant_id;
	char	*kind;		/* "call", or an admin op ("client.create") */
	char	*maker;		/* client id */
	char	*maker_tenant;
	char	*payload;	/* JSON object text */
	char	*reason;	/* "" none */
	char	*conflict_key;	/* "" none */
	enum store_approval_state state;
	char	*checker;	/* client id; "" until decided */
	char	*result;	/* JSON text; "" none */
	int64_t	 created_at;
	int64_t	 expires_at;
	int64_t	 decided_at;	/* 0 until decided */
	int64_t	 used_at;	/* 0; when USED, APPLIED or FAILED, and an
				 * APPROVED admin change's once its change
				 * is made (store_approval_mark_applied) */
};
/* Inserts a PENDING approval. In one transaction: PENDING rows with
 * expires_at <= a->created_at become EXPIRED; then, when a->conflict_key is
 * not "", a PENDING row with that key gives STORE_CONFLICT (nothing
 * inserted); an existing id gives STORE_CONFLICT. */
int	store_approval_create(struct store *, const struct store_approval *a);
int	store_approval_get(struct store *, const char *id,
	    struct store_approval *out);
/* Newest first (created_at, then id, descending), at most limit rows;
 * tenant_id NULL: all; state STORE_APPROVAL_STATE__MAX: any (stored state,
 * without applying expiry). */
int	store_approval_list(struct store *, const char *tenant_id,
	    enum store_approval_state state, size_t limit,
	    struct store_approval **out, size_t *n);
/*
 * A page of approvals (above, STORE_LIST_PAGE_MAX) newest first, as
 * store_approval_list orders them: those before (before_created,
 * before_id), or from the newest when before_id is NULL; of tenant_id only
 * unless it is NULL; of state as of now (approvals/approvals.h
 * approvals_state_now: PENDING and APPROVED only while expires_at > now,
 * EXPIRED also a PENDING or APPROVED row whose time has come), any when
 * state is STORE_APPROVAL_STATE__MAX. The filter is the query's, so an old
 * row of the state is found however many newer rows there are.
 */
struct store_approval_page {
	int64_t		 before_created;
	const char	*before_id;
	size_t		 limit;
};
int	store_approval_list_page(struct store *, const char *tenant_id,
	    enum store_approval_state state, int64_t now,
	    const struct store_approval_page *page, struct store_approval **out,
	    size_t *n);
/* The guarded transition of the row id: from state `from` to `to`, only
 * while expires_at > now when check_expiry; sets checker and decided_at
 * (checker non-NULL), used_at (used_at != 0) and result (non-NULL) with it.
 * STORE_OK when this call changed the row; STORE_CONFLICT when the row is
 * not in `from` (or has expired); STORE_NOTFOUND when there is no row. */
int	store_approval_transition(struct store *, const char *id,
	    enum store_approval_state from, enum store_approval_state to,
	    int check_expiry, int64_t now, const char *checker,
	    int64_t used_at, const char *result);
/*
 * The apply claim of an approved admin change (kind not "call"): of the
 * processes that would apply it (the decider, and any node's recovery,
 * approvals_recover), only the one whose claim succeeds applies it. The
 * claim is a guarded update: while the row is APPROVED, of a kind other
 * than "call", and no claim on it is in force at now (claim_until <= now),
 * it holds the row until `until`. STORE_OK when this call claimed it;
 * STORE_CONFLICT when another claim is in force or the row is not an
 * approved admin change (any more); STORE_NOTFOUND when there is no row.
 * A claimer that stops leaves its claim to lapse at `until`: then another
 * may claim the row and finish it.
 */
int	store_approval_claim(struct store *, const char *id, int64_t now,
	    int64_t until);
/*
 * The mark of an approved admin change's change (kind not "call"), made
 * with it: the next write this thread commits on s that changes data (the
 * applier's: a client, secret or key write) also sets the approval's
 * used_at to at, in its transaction, guarded: only while the approval is
 * APPROVED with used_at 0. When the guard fails (another applier made the
 * change, or the outcome is recorded) that write is rolled back and
 * answers STORE_SUPERSEDED: the change is not made twice. So an APPROVED
 * admin change with used_at set was applied, whether or not its outcome
 * was recorded (approvals_recover), and one with used_at 0 never was. One
 * mark at a time per thread (STORE_CONFLICT). store_approval_unmark ends
 * it, after the change: 1 when it committed with a write, else 0.
 */
int	store_approval_mark_applied(struct store *, const char *id, int64_t at);
int	store_approval_unmark(struct store *);
/*
 * The approved admin changes (stored state APPROVED, kind not "call",
 * whatever their expiry) that no claim holds at now: those with an id
 * greater than after_id ("" from the first), in id order, at most limit
 * (1..1000), so that a caller walks every one however many there are.
 * Free with store_approval_free().
 */
int	store_approval_unclaimed(struct store *, int64_t now, const char *after_id,
	    size_t limit, struct store_approval **out, size_t *n);
void	store_approval_clear(struct store_approval *);
void	store_approval_free(struct store_approval *, size_t n);

/*
 * Lockout locks (issue 5, security/lockout.h), kept in the store so that the
 * operator (gatehouse lock list|clear) and every node see them. A lock is on
 * a (client id, address) pair or on a whole address (client_id ""); it is in
 * force while until > now. put makes or extends n >= 1 locks in one
 * transaction (the later until wins; a server batches the locks it makes);
 * clear removes the locks matching its filters and records the clear
 * (store_lock_cleared_since). put and clear increment the generation:
 * servers then reload. A server lifts a lock only for a clear recorded at
 * a generation above its lock's (struct store_lock gen), never for a lock
 * missing from the list: the list is read by a clock (the reader's, and
 * the pruning writer's), and a lock it misses may still be in force.
 */
enum store_lock_kind { STORE_LOCK_PAIR, STORE_LOCK_ADDRESS, STORE_LOCK_KIND__MAX };
#define STORE_LOCK_ADDRESS_MAX	45	/* an IPv6 address's text */
#define STORE_LOCK_CLIENT_MAX	128
struct store_lock {
	enum store_lock_kind kind;
	char		*client_id;	/* "" for an address lock */
	char		*address;
	int64_t		 created_at;
	int64_t		 until;
	uint64_t	 gen;		/* list: the locks' generation its row was
					 * written at (0: before migration 19) */
};
/* put also deletes the locks that ended STORE_LOCK_PRUNE_AFTER seconds
 * before the newest created_at of its batch: that is the writer's clock,
 * and a node whose clock is behind it still holds such a lock (for up to
 * leeway, at most 300 s, past its end: lockout.h); finding it gone, that
 * node would no longer list it. Where nodes share the store (PostgreSQL),
 * only those that ended as long before the store's clock (store_clock)
 * too: a writer whose clock is far ahead prunes no lock still in force
 * elsewhere. A pruned lock is not cleared: no server lifts it. */
#define STORE_LOCK_PRUNE_AFTER	600
int	store_lock_put(struct store *, const struct store_lock *locks, size_t n);
/* The same; *gen gets the locks' generation the write made (each row's
 * gen): a clear recorded above it came after these locks were stored. */
int	store_lock_put_gen(struct store *, const struct store_lock *locks, size_t n,
	    uint64_t *gen);
/* The locks in force at now, ordered by address, client id, kind. */
int	store_lock_list(struct store *, int64_t now, struct store_lock **out,
	    size_t *n);
/* A page of them (above, STORE_LIST_PAGE_MAX): those after (after_address,
 * after_client_id, after_kind), or from the first when after_address is
 * NULL. tenant_id: NULL for every lock, else only the pair locks of that
 * tenant's clients (what its own principals see: addresses are shared). */
struct store_lock_page {
	const char	*tenant_id;
	const char	*after_address;
	const char	*after_client_id;	/* "" for an address lock */
	enum store_lock_kind after_kind;
	size_t		 limit;
};
int	store_lock_list_page(struct store *, int64_t now, const struct store_lock_page *page,
	    struct store_lock **out, size_t *n);
/* Removes locks: address NULL = at any address; client_id NULL = any lock
 * (address and pair), else only that client's pair locks. *count gets how
 * many of those removed were in force at now (may be NULL). */
int	store_lock_clear(struct store *, const char *address,
	    const char *client_id, int64_t now, int *count);
void	store_lock_free(struct store_lock *, size_t n);
/*
 * The clears (store_lock_clear) recorded at a locks' generation above
 * since, oldest first, at most limit (1..STORE_LIST_PAGE_MAX): each one's
 * filters (NULL: any, as store_lock_clear took them) and generation. A
 * clear is kept STORE_LOCK_CLEARED_KEEP seconds (the store's clock, as the
 * clear read it): the longest lock (lockout_duration, at most 86400 s)
 * that it could lift has ended on every node by then. Every clear, even
 * one that removed no row, is recorded and moves the generation: a lock a
 * node holds may be missing from the store (pruned by another node's
 * clock, or its write still being retried). *out as
 * store_lock_cleared_free frees; NULL when n is 0.
 */
struct store_lock_cleared {
	char		*address;	/* NULL: any */
	char		*client_id;	/* NULL: any lock; else that client's pair locks */
	uint64_t	 gen;
	int64_t		 cleared_at;
};
#define STORE_LOCK_CLEARED_KEEP	(86400 + 600)
int	store_lock_cleared_since(struct store *, uint64_t since, size_t limit,
	    struct store_lock_cleared **out, size_t *n);
void	store_lock_cleared_free(struct store_lock_cleared *, size_t n);

/*
 * Failure counters shared by every node of one store (issue 8), so that a
 * caller spreading bad credentials over nodes is locked out as on one.
 * A key is a lock's (kind, address, client_id; "" for an address).
 * store_failure_add counts one failure for each of keys[0..n) (n <= 4) in
 * one transaction: a window that began at or before now - window restarts
 * at now with 1, else its count grows by one; counts[i] gets key i's new
 * count. Rows whose window ended are pruned on the way.
 * store_failure_reset sets the keys' counts to 0 (a success, a lock made).
 * store_is_shared: 1 when several nodes may use this store at once (the
 * counters are then worth a round trip per failure), 0 for SQLite.
 */
struct store_failure_key {
	enum store_lock_kind kind;
	const char	*address;
	const char	*client_id;	/* "" for an address */
};
int	store_failure_add(struct store *, const struct store_failure_key *keys,
	    size_t n, int64_t now, int64_t window, int64_t *counts);
int	store_failure_reset(struct store *, const struct store_failure_key *keys,
	    size_t n);
int	store_is_shared(const struct store *);
/* How many statements the store runs at once for its callers: a shared
 * store's pooled connections (PostgreSQL's pool_size), 1 for SQLite. The
 * server runs that many threads for requests that wait on the store
 * (server/offload.h): more would only wait for a connection. */
int	store_connections(const struct store *);
/*
 * The pair keys counting failures at now (their window began after now -
 * window), at most max (1 to 10000), the newest windows first: how a node
 * learns of the pairs that failed on other nodes, so that a success on it
 * clears their shared count too (store_failure_reset). *out as
 * store_failure_free frees.
 */
struct store_failure_row {
	char	*address;
	char	*client_id;
	int64_t	 window_start;
	int64_t	 failures;
};
int	store_failure_pairs(struct store *, int64_t now, int64_t window, size_t max,
	    struct store_failure_row **out, size_t *n);
void	store_failure_free(struct store_failure_row *, size_t n);

/*
 * Issuance counts shared by nodes (issue 8), so that a client's rate limit
 * holds over all of them. Each node adds what it issued per client since
 * its last push (store_rate_push: rows[i].taken added to the client's
 * total for node, updated_at set to now; rows whose updated_at <= now -
 * 300 are deleted on the way), and reads the totals of the other nodes
 * updated since a time (store_rate_pull: *out as store_rate_free frees).
 * A total only grows while its row lives; a row a node has not touched for
 * five minutes goes, and starts again from 0.
 */
#define STORE_RATE_NODE_MAX	64
struct store_rate {
	char	*client_id;
	char	*node;
	int64_t	 taken;
};
int	store_rate_push(struct store *, const char *node, const struct store_rate *rows,
	    size_t n, int64_t now);
int	store_rate_pull(struct store *, const char *not_node, int64_t since,
	    struct store_rate **out, size_t *n);
void	store_rate_free(struct store_rate *, size_t n);
/*
 * The store's clock, wall-clock seconds into *now: the database server's
 * where nodes share the store (PostgreSQL), so that times compared across
 * nodes (store_rate_push's now, store_rate_pull's since) are on one clock
 * whatever each node's own reads; this process's (clock_now) otherwise.
 * STORE_OK, or the store's error.
 */
int	store_clock(struct store *, int64_t *now);

/*
 * The hot path: records an issued token with group commit. The record is
 * queued; a writer thread commits the queue in one transaction and then
 * calls done(arg, err) for each record, from the writer thread, after the
 * batch is durable. Returns non-zero (and never calls done) only when the
 * record cannot be queued. t is copied.
 */
typedef void (*store_done_fn)(void *arg, int err);
int	store_token_record(struct store *, const struct store_token *t,
	    store_done_fn done, void *arg);
/* A pacing hint for the group commit: +1 when a token is about to be made
 * (its record will follow soon), -1 once its record is queued or will not
 * come. The writer holds a commit a little while records are on their way,
 * so that they share its sync; it never waits for them long. */
void	store_expect_records(struct store *, int delta);
/* Blocks until every queued record is durable or has failed (SIGTERM,
 * tests): STORE_OK when all were committed, else the failed commit's error
 * (each record's caller has had its own answer). */
int	store_flush(struct store *);
/* Reports each group commit to fn (metrics: the server's /metrics shows
 * commit times and batch sizes, where a slowing disk shows first): the
 * records in the batch, how long its commit took with its sync, in
 * nanoseconds, and its outcome (enum store_err). fn runs on the writer
 * thread between the commit and the answers, so it must be quick. Set it
 * before traffic; NULL stops the reports. */
typedef void (*store_commit_fn)(void *arg, size_t records, int64_t ns, int err);
void	store_on_commit(struct store *, store_commit_fn fn, void *arg);

/*
 * The audit trail (issue 6; audit/audit.h is its user side). Append-only
 * and chained, each row's link keyed by a key derived from the master key.
 * A row:
 *   seq        1, 2, 3, ... assigned by the store on append, never a gap
 *              (only a retention prune removes rows, see below)
 *   at         milliseconds since the epoch, when the event happened
 *   request_id .. detail   text, "" for none; never a secret
 *   chain      how hash was made: STORE_AUDIT_CHAIN_V2 for every row
 *              appended now; STORE_AUDIT_CHAIN_V1 for rows written before
 *              the chain was keyed (schema migration 10 marks them so)
 *   prev_hash  the hash of row seq-1; 32 zero bytes for seq 1
 *   hash       store_audit_link(row) over prev_hash and the row
 * Rows are appended by the group-commit writer in queue order, in the SAME
 * transaction as the token records of that batch: an audit row queued
 * before a token record is durable no later than it. The store reads the
 * chain head and assigns seq, prev_hash and hash inside that transaction,
 * so appends are serialized across processes and nodes (SQLite: BEGIN
 * IMMEDIATE; PostgreSQL: pg_advisory_xact_lock(STORE_AUDIT_LOCK) first).
 * The row of an admin change is appended the same way, but inside that
 * change's own transaction (store_audit_stage, below).
 *
 * Why keyed: an unkeyed chain (v1, SHA-256) can be rewritten by anyone who
 * can write the database (a stolen backup, a database admin, an SQL
 * injection) by recomputing every later hash. A v2 link is HMAC-SHA-256
 * under the audit key, which only holders of the master key can derive:
 * without it, no row can be edited, inserted or turned back into a v1 row
 * undetected. With the master key, the trail can be rewritten.
 *
 * The key record (table audit_key, one row): written once, the first time
 * a process sets the key (store_audit_set_key) on a store without one, in
 * a transaction holding the chain lock. It holds a check value of the key
 * (so that a wrong master key is told apart from tampering) and binds the
 * v1 prefix: the seq and hash of the head at that moment ("through"; 0 and
 * zero bytes for an empty trail), under the key. Verification then accepts
 * v1 rows only at or before that seq, and v2 rows only after it; a v1 row
 * after a v2 row, or one past the bound, is tampering.
 *
 * Retention: store_audit_prune deletes the rows of actions
 * STORE_AUDIT_PRUNABLE ("token.issued", "token.refused") with seq <= C,
 * where C is the greatest seq of such a row with at < before, and in the
 * same transaction appends a checkpoint row (action "audit.checkpoint",
 * outcome "ok") BEFORE deleting (so that it chains to the head as it is,
 * and a seq is never used twice even when row C was the head), whose
 * detail is exactly
 *   {"through":C,"through_hash":"<hex hash of row C>","kept":N,
 *    "kept_digest":"<hex>","pruned":P}
 * kept_digest is store_audit_digest over the N rows left with seq <= C
 * (ascending), keyed as the checkpoint row itself is (a v2 checkpoint: the
 * keyed digest; a v1 one, written before the change: SHA-256).
 * Verification then checks rows <= C one by one (link) and together
 * (kept_digest), and the chain from row C+1 (prev_hash == through_hash)
 * onwards.
 */
#define STORE_AUDIT_CHECKPOINT	"audit.checkpoint"
#define STORE_AUDIT_LOCK	0x6761746568617564LL	/* PG advisory key */
#define STORE_AUDIT_CHAIN_V1	1	/* SHA-256, unkeyed: rows from before the key */
#define STORE_AUDIT_CHAIN_V2	2	/* HMAC-SHA-256 under the audit key */
extern const char *const store_audit_prunable[];	/* NULL-terminated */
/* 1 when action is one of store_audit_prunable. */
int	store_audit_is_prunable(const char *action);
struct store_audit {
	int64_t	 seq;
	int64_t	 at;
	char	*request_id;
	char	*actor;
	char	*tenant;
	char	*address;
	char	*action;
	char	*target;
	char	*outcome;
	char	*detail;
	int	 chain;		/* STORE_AUDIT_CHAIN_*; ignored on append */
	uint8_t	 prev_hash[32];
	uint8_t	 hash[32];
};
/* Filters of store_audit_list; NULL / 0 = any. client matches actor or
 * target. since <= at < until (ms). before_seq: only rows below (paging).
 * Newest first; limit 1..10000. The writer stores a batch's token events of
 * one client as one row (audit_group.h); the list gives each event as an
 * entry of its own with that row's seq, and never splits a row across
 * pages (so a page may pass the limit by the rest of its first row). */
struct store_audit_filter {
	const char	*tenant;
	const char	*client;
	const char	*action;
	int64_t		 since;
	int64_t		 until;
	int64_t		 before_seq;
	size_t		 limit;
};

/*
 * The audit key: 32 bytes the caller derives from the master key (audit.h
 * audit_key_derive; the store never sees the master key), held as an
 * HMAC-SHA-256 context keyed once and copied for every link. new: NULL
 * when OpenSSL fails (out of memory). free wipes it; NULL is a no-op. A
 * key may be used by several threads at once (it is only read).
 */
struct store_audit_key;
struct store_audit_key *store_audit_key_new(const uint8_t key[32]);
void	store_audit_key_free(struct store_audit_key *);
/* The key's check value (the key record's, below): 32 bytes, not secret. */
const uint8_t *store_audit_key_check(const struct store_audit_key *);

/*
 * The link of a row, by a->chain:
 *   STORE_AUDIT_CHAIN_V1  SHA-256 over "gatehouse-audit-v1\0" then the
 *                         encoding below (k is not used; may be NULL);
 *   STORE_AUDIT_CHAIN_V2  HMAC-SHA-256 under k over "gatehouse-audit-v2\0"
 *                         then the same encoding.
 * The encoding: prev_hash, seq and at (8 bytes big-endian each), then each
 * of the eight text fields in the order above as a 4-byte big-endian
 * length and its bytes (length-prefixed: "ab","c" and "a","bc" differ).
 * Reads a->prev_hash; writes out. 0, or -1 (an unknown chain, v2 without a
 * key, out of memory) with out zeroed, which never verifies.
 */
int	store_audit_link(const struct store_audit_key *k, const struct store_audit *a,
	    uint8_t out[32]);

/*
 * kept_digest over (seq 8 bytes big-endian || hash) of each kept row: k
 * NULL, SHA-256 (v1 checkpoints); else HMAC-SHA-256 under k over
 * "gatehouse-audit-digest-v2\0" then the same. new: NULL on ENOMEM; final
 * frees d.
 */
struct store_audit_digest;
struct store_audit_digest *store_audit_digest_new(const struct store_audit_key *k);
void	store_audit_digest_add(struct store_audit_digest *, int64_t seq,
	    const uint8_t hash[32]);
void	store_audit_digest_final(struct store_audit_digest *, uint8_t out[32]);

/*
 * The key record (above). check = HMAC(k, "gatehouse-audit-key-check-v2\0");
 * mac = HMAC(k, "gatehouse-audit-keyed-v2\0" || through (8 bytes
 * big-endian) || through_hash). seal_make fills *out for (through,
 * through_hash); key_matches: 1 when check is k's; seal_valid: 1 when mac
 * is k's over the record's through and through_hash (compared in constant
 * time).
 */
struct store_audit_seal {
	int64_t	 through;		/* the last v1 row's seq; 0: none */
	uint8_t	 through_hash[32];	/* its hash; zero bytes when none */
	uint8_t	 check[32];
	uint8_t	 mac[32];
};
int	store_audit_seal_make(const struct store_audit_key *k, int64_t through,
	    const uint8_t through_hash[32], struct store_audit_seal *out);
int	store_audit_key_matches(const struct store_audit_key *k, const uint8_t check[32]);
int	store_audit_seal_valid(const struct store_audit_key *k,
	    const struct store_audit_seal *s);

/*
 * Sets the key this store links appended rows with (the writer's batches,
 * prune's checkpoints), and writes the key record when the store has none
 * (above). Call it once after store_open, before sharing the store between
 * threads and before any append: store_audit_append and store_audit_prune
 * refuse to run without it. The store keeps its own copy of the key and
 * wipes it in store_close; the caller wipes key. STORE_CONFLICT when the
 * store's key record was made with another key ("the master key does not
 * match ..."; nothing is set: rows linked with it would never verify), or
 * when another key was set before; STORE_OK again for the same key. A store
 * whose record is missing though it has v2 rows (the record was deleted)
 * gets no new one: the key is set and verification reports the loss.
 * keyed_after (may be NULL): the seq of the last unkeyed row when this
 * call wrote the key record (0: the trail was empty), else -1. Writing it
 * on a trail with rows happens once, when the chain is first keyed; the
 * caller reports it (who deletes the record and rewrites every row as
 * unkeyed gets the forgery bound by the next keyed write, and only that
 * report, outside the database, shows it).
 */
int	store_audit_set_key(struct store *, const uint8_t key[32], int64_t *keyed_after);
/* The key set on this store, NULL when none (for the verifier of a
 * process that has set it, the server's admin API). */
const struct store_audit_key *store_audit_get_key(const struct store *);
/* The key record, read: STORE_OK, or STORE_NOTFOUND when there is none. */
int	store_audit_seal_get(struct store *, struct store_audit_seal *out);

/* Queues the row (seq, chain and hashes are the store's; a is copied) for
 * the next group-commit batch; done as store_token_record (may be NULL).
 * STORE_ERROR when no key is set (store_audit_set_key). */
int	store_audit_append(struct store *, const struct store_audit *a,
	    store_done_fn done, void *arg);
/*
 * One change and its audit row in ONE transaction: a caller that is about
 * to change the store stages the row that says so (seq, chain and hashes
 * are the store's; a is copied; a->at as given); the next write this
 * thread commits on s (any store call that changes data: client, secret,
 * tenant, key, token revocation, lock, approval) appends it, chained as
 * store_audit_append's rows are, inside that call's transaction, just
 * before its COMMIT: a crash leaves both or neither. A write that fails
 * (rolled back) leaves it staged. One row at a time per thread (the
 * handle may be shared by threads: each stages its own); STORE_CONFLICT
 * when this thread has a row staged already, STORE_ERROR when no key is
 * set. The backend's group-commit writer never takes a staged row.
 * store_audit_unstage ends the staging, after the change: 1 when the row
 * was committed with a write, 0 when it was not (it is dropped: the
 * caller then writes its row as before, the failure row of a failed
 * change, or the success row of a change that wrote nothing).
 */
int	store_audit_stage(struct store *, const struct store_audit *a);
int	store_audit_unstage(struct store *);
/* Whether this backend keeps an audit trail. */
int	store_audit_supported(const struct store *);
int	store_audit_list(struct store *, const struct store_audit_filter *f,
	    struct store_audit **out, size_t *n);
/* Calls fn on every row with seq >= from_seq in ascending seq order, until
 * it returns non-zero (then that value is returned). */
typedef int (*store_audit_fn)(void *arg, const struct store_audit *row);
int	store_audit_scan(struct store *, int64_t from_seq, store_audit_fn fn,
	    void *arg);
/* The retention prune (above), at time now (ms) for the checkpoint row.
 * *pruned gets the rows deleted (0: nothing old enough, no checkpoint,
 * and nothing committed). A row this thread staged (store_audit_stage:
 * who pruned) goes in after the checkpoint, in the same transaction.
 * Needs the key, as store_audit_append. */
int	store_audit_prune(struct store *, int64_t before, int64_t now,
	    int64_t *pruned);
void	store_audit_clear(struct store_audit *);
void	store_audit_free(struct store_audit *, size_t n);

#endif
