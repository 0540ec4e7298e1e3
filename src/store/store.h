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

/* A client secret: only its keyed hash is stored (security/secret.h). */
struct store_secret {
	int64_t	 id;
	char	*client_id;
	uint8_t	 hash[32];
	int64_t	 created_at;
	int64_t	 expires_at;	/* 0: no expiry (until rotated) */
	int64_t	 revoked_at;	/* 0: not revoked */
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

/* An issued token. JWTs are recorded by jti; opaque tokens by the hex
 * SHA-256 of the token (the token itself is never stored). */
struct store_token {
	char		*id;		/* jti, or hex SHA-256 for opaque */
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
/* Flushes queued writes (store_token_record) and closes. NULL is a no-op. */
void	store_close(struct store *);
/* "sqlite" or "postgresql". */
const char *store_backend(const struct store *);
/* This thread's last error message for a failed call; never NULL. */
const char *store_last_error(void);
/* The schema version the store is at, and the newest this binary knows. */
int	store_schema_version(struct store *, int *current, int *latest);

/*
 * Change generation: a number every change that a cache must see increments
 * (clients, secrets, keys, revocations, tenants), whichever process made it.
 * Cheap enough to call on every request. Token records do not count.
 */
int	store_generation(struct store *, uint64_t *out);

/* Tenants. */
int	store_tenant_create(struct store *, const struct store_tenant *);
int	store_tenant_get(struct store *, const char *id, struct store_tenant *out);
int	store_tenant_list(struct store *, struct store_tenant **out, size_t *n);
void	store_tenant_clear(struct store_tenant *);
void	store_tenant_free(struct store_tenant *, size_t n);

/* Clients. create inserts the client and its first secret in one transaction
 * (secret->id is set). update rewrites every field of the row named by id. */
int	store_client_create(struct store *, const struct store_client *,
	    struct store_secret *first_secret);
int	store_client_get(struct store *, const char *id, struct store_client *out);
int	store_client_list(struct store *, const char *tenant_id /* NULL: all */,
	    struct store_client **out, size_t *n);
int	store_client_update(struct store *, const struct store_client *);
void	store_client_clear(struct store_client *);
void	store_client_free(struct store_client *, size_t n);

/* Secrets. add sets s->id. update writes expires_at and revoked_at. */
int	store_secret_add(struct store *, struct store_secret *s);
int	store_secret_list(struct store *, const char *client_id,
	    struct store_secret **out, size_t *n);
int	store_secret_update(struct store *, const struct store_secret *);
void	store_secret_clear(struct store_secret *);
void	store_secret_free(struct store_secret *, size_t n);

/* Signing keys. update writes the dates. */
int	store_key_add(struct store *, const struct store_key *);
int	store_key_list(struct store *, struct store_key **out, size_t *n);
int	store_key_update(struct store *, const struct store_key *);
void	store_key_clear(struct store_key *);
void	store_key_free(struct store_key *, size_t n);

/* Issued tokens. */
int	store_token_get(struct store *, const char *id, struct store_token *out);
int	store_token_list(struct store *, const char *client_id,
	    struct store_token **out, size_t *n);
/* Revokes the token id (STORE_NOTFOUND when absent; already revoked: OK). */
int	store_token_revoke(struct store *, const char *id, int64_t at);
/* Revokes every live token named name (of client_id when not NULL);
 * *count gets how many; STORE_NOTFOUND when none. */
/* Every revoked token that has not yet expired at now (the gate keeps these
 * ids in memory, reloaded when the generation moves). */
int	store_token_list_revoked(struct store *, int64_t now,
	    struct store_token **out, size_t *n);
int	store_token_revoke_by_name(struct store *, const char *client_id,
	    const char *name, int64_t at, int *count);
void	store_token_clear(struct store_token *);
void	store_token_free(struct store_token *, size_t n);

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
/* Blocks until every queued record is durable (SIGTERM, tests). */
int	store_flush(struct store *);

#endif
