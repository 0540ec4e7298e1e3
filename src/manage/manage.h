/*
 * manage.h — the operator's changes, validated once for every way in: the
 * CLI and (later) the admin API call these, so the same input gets the same
 * answer. Each returns 0, or -1 with a one-line reason in err that names the
 * field; nothing is changed on failure.
 */
#ifndef GH_MANAGE_H
#define GH_MANAGE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "net/cidr.h"
#include "security/secret.h"
#include "store/store.h"

/* A client as asked for, in text (CLI flags or JSON). NULL: the default. */
struct client_spec {
	const char	*id;		/* default: a new UUID */
	const char	*tenant;
	const char	*name;
	const char	*env;		/* sandbox (default) | production */
	const char	*roles;		/* comma separated; default viewer */
	const char	*scopes;	/* space separated; default none */
	const char	*ttl;		/* seconds or 15m, 1h...; default per env */
	const char	*max_ttl;
	const char	*format;	/* jwt (default) | opaque */
	const char	*claims;	/* a JSON object */
	const char	*rate_limit;	/* tokens a minute */
	const char	*allow_ips[CIDR_MAX_BLOCKS];
	size_t		 nallow;
	int		 allow_set;	/* update: allow_ips given (nallow 0 clears) */
};

#define MANAGE_MAX_CLAIMS_LEN 4096
/* A JWT carries a client's scopes twice (the "scope" string and the
 * "scopes" array, up to twice the string's length) and its claims once:
 * 3 x scopes + claims is kept within this, so that with the claims the
 * server sets every token fits JOSE_MAX_TOKEN_LEN (8192 bytes, what a
 * verifier accepts and about what nginx takes in a header line). */
#define MANAGE_MAX_TOKEN_EXTRA 4096
/* Extra claims sit beside the 16 registered ones in a token's claims set,
 * which the gate reads with at most JOSE_MAX_CLAIMS members. */
#define MANAGE_MAX_CLAIMS_MEMBERS 100

int	manage_tenant_create(struct store *, const char *id, const char *name,
	    struct store_tenant *out, char *err, size_t errlen);

/* Creates the client with a new secret (shown once: copied into secret). */
int	manage_client_create(struct store *, const uint8_t secret_key[32],
	    const struct config *, const struct client_spec *,
	    struct store_client *out, char secret[SECRET_TEXT_LEN + 1],
	    char *err, size_t errlen);
/*
 * Changes a client's settings: the non-NULL fields of patch (name, roles,
 * scopes, ttl, max_ttl, format, claims, rate_limit; allow_ips when
 * allow_set), validated exactly as on create against the merged result.
 * id, tenant and env cannot change (NULL in patch).
 */
int	manage_client_update(struct store *, const struct config *,
	    const char *id, const struct client_spec *patch,
	    struct store_client *out, char *err, size_t errlen);
/* The checks alone, changing nothing (before filing a change for
 * approval: a request that cannot apply is refused up front). */
int	manage_client_check(const struct config *, const struct client_spec *,
	    char *err, size_t errlen);
int	manage_client_update_check(struct store *, const struct config *,
	    const char *id, const struct client_spec *patch, char *err,
	    size_t errlen);
/* 1 when client id already has every setting patch would give it (an
 * update found in effect: approval recovery, admin/critical.c); 0 when
 * not, or when that cannot be told (no such client, an invalid patch, the
 * store failed). Changes nothing. */
int	manage_client_update_in_effect(struct store *, const struct config *,
	    const char *id, const struct client_spec *patch);
/* Deletes a client and its secrets; its tokens stop validating. */
int	manage_client_delete(struct store *, const char *id, char *err,
	    size_t errlen);
int	manage_client_set_disabled(struct store *, const char *id, int disabled,
	    struct store_client *out, char *err, size_t errlen);

/*
 * Secret rotation with overlap: a new secret (shown once), while every live
 * one keeps working until now + grace at most (one already ending sooner
 * keeps its end). *prev_end is when the last of them ends: 0 when there was
 * none. At most two live secrets: a third is refused. A disabled client is
 * not rotated.
 */
#define MANAGE_MAX_LIVE_SECRETS 2
int	manage_secret_rotate(struct store *, const uint8_t secret_key[32],
	    const char *client_id, int64_t grace, struct store_secret *out,
	    int64_t *prev_end, char secret[SECRET_TEXT_LEN + 1], char *err,
	    size_t errlen);
/*
 * The same with a secret made earlier, of which only the hash is given:
 * the admin API makes the secret and shows it to its caller, or to the
 * maker of a change filed for approval, and keeps only the hash until the
 * change applies. holder: the client it was shown to, recorded with the
 * secret (store.h struct store_secret): the client that asked, which is the
 * client itself for its own rotation; NULL or "" as the CLI records. The
 * other two record "": their secret goes to the CLI's operator.
 */
int	manage_client_create_hashed(struct store *, const struct config *,
	    const struct client_spec *, const uint8_t hash[32], const char *holder,
	    struct store_client *out, char *err, size_t errlen);
int	manage_secret_rotate_hashed(struct store *, const char *client_id,
	    int64_t grace, const uint8_t hash[32], const char *holder,
	    struct store_secret *out, int64_t *prev_end, char *err, size_t errlen);
/* Ends one secret at once; with revoke_tokens, voids the client's tokens in the
 * same store transaction (store_secret_update_void_tokens). */
int	manage_secret_revoke(struct store *, const char *client_id,
	    int64_t secret_id, int revoke_tokens, char *err, size_t errlen);
/* Voids every token the client holds now (tokens_valid_after). */
int	manage_client_revoke_tokens(struct store *, const char *client_id,
	    char *err, size_t errlen);

/*
 * A client's token records a page at a time (store.h store_token_list), in
 * issue order: at most limit (1..MANAGE_TOKEN_PAGE_MAX) records after the
 * cursor after (NULL: from the first). next gets the cursor of the page
 * that follows, "" when this one is the last. A cursor is
 * "<issued_at>.<token id>", the last record's: digits, a dot, and 32 or 64
 * lower-case hex digits (the ids gatehouse makes); any other text is
 * refused ("after: ..."), as is a limit out of range ("limit: ..."); a
 * store failure's err starts "store:". *out is the caller's
 * (store_token_free), also on -1 (then NULL).
 */
#define MANAGE_TOKEN_PAGE_MAX	(STORE_TOKEN_PAGE_MAX - 1)
#define MANAGE_TOKEN_ID_MAX	64
#define MANAGE_TOKEN_CURSOR_MAX	(19 + 1 + MANAGE_TOKEN_ID_MAX)
int	manage_token_page(struct store *, const char *client_id, const char *after,
	    size_t limit, struct store_token **out, size_t *n,
	    char next[MANAGE_TOKEN_CURSOR_MAX + 1], char *err, size_t errlen);
/* The cursor text of a record (0), or -1 when its id is not one gatehouse
 * makes; and back (0, or -1 for any text manage_token_cursor cannot give). */
int	manage_token_cursor(const struct store_token *,
	    char out[MANAGE_TOKEN_CURSOR_MAX + 1]);
int	manage_token_cursor_parse(const char *s, int64_t *issued,
	    char id[MANAGE_TOKEN_ID_MAX + 1]);

/*
 * The operator's other lists a page at a time (store.h
 * STORE_LIST_PAGE_MAX), for the admin API and the CLI alike: at most limit
 * (1..MANAGE_PAGE_MAX) rows after the cursor after (NULL: from the first),
 * in the store's order for the list; next gets the cursor of the page that
 * follows, "" when this one is the last. A cursor is the list's name and
 * its last row's key, '~' before each part (list_page.c): to its user an
 * opaque text to send back. Any other text, another list's cursor too, is
 * refused ("after: ..."), as is a limit out of range ("limit: ..."); a
 * store failure's err starts "store:". *out is the caller's (store_X_free),
 * also on -1 (then NULL).
 *   tenants  by id; only: NULL for all, else that tenant alone
 *   clients  by created_at, id; of tenant (NULL: every tenant's)
 *   locks    in force at now, by address, client id, kind; tenant: NULL
 *            for all, else its clients' pair locks
 */
#define MANAGE_PAGE_MAX		(STORE_LIST_PAGE_MAX - 1)
#define MANAGE_CURSOR_MAX	255
int	manage_tenant_page(struct store *, const char *only, const char *after,
	    size_t limit, struct store_tenant **out, size_t *n,
	    char next[MANAGE_CURSOR_MAX + 1], char *err, size_t errlen);
int	manage_client_page(struct store *, const char *tenant, const char *after,
	    size_t limit, struct store_client **out, size_t *n,
	    char next[MANAGE_CURSOR_MAX + 1], char *err, size_t errlen);
int	manage_lock_page(struct store *, int64_t now, const char *tenant,
	    const char *after, size_t limit, struct store_lock **out, size_t *n,
	    char next[MANAGE_CURSOR_MAX + 1], char *err, size_t errlen);
/*
 * The cursor itself, for a list paged elsewhere (the approvals):
 * make writes list and each of keys[0..nkeys) after a '~' (0, or -1 when
 * a key is not 0..128 bytes of printable ASCII without '~' and space, or
 * the whole is too long); split takes a text back into buf, pointing
 * keys[0..nkeys) into it (0, or -1 for any text make would not write with
 * list and nkeys keys). time: a key that is a time, digits as "%lld"
 * writes a value >= 0 (0, or -1).
 */
int	manage_cursor_make(char out[MANAGE_CURSOR_MAX + 1], const char *list,
	    const char *const *keys, size_t nkeys);
int	manage_cursor_split(const char *s, const char *list,
	    char buf[MANAGE_CURSOR_MAX + 1], const char **keys, size_t nkeys);
int	manage_cursor_time(const char *s, int64_t *out);

/* Roles: "admin,operator" -> bits; 0 or -1. */
int	manage_parse_roles(const char *s, unsigned *out, char *err, size_t errlen);

#endif
