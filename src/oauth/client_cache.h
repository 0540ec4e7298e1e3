/*
 * client_cache.h — clients as the issuing core needs them, in memory.
 *
 * An entry holds the client row, its live secret hashes, its parsed
 * allowlist and scopes, and the fixed part of its tokens' claims, serialized
 * once. Entries are immutable and refcounted; the cache is emptied whenever
 * the store's generation changes (server/context.c), so a change made by
 * the CLI, the admin API or another node takes effect on the next request.
 * Bounded: past CLIENT_CACHE_MAX entries the cache starts over.
 */
#ifndef GH_CLIENT_CACHE_H
#define GH_CLIENT_CACHE_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>

#include "net/cidr.h"
#include "store/store.h"

#define CLIENT_CACHE_MAX	65536
/* No client id is longer (manage/ makes them 1-128 bytes; the token
 * routes refuse longer ones): the cache answers a longer one unknown
 * without a store read and without remembering it. */
#define CLIENT_ID_MAX		128
#define CLIENT_MAX_SECRETS	4

struct client_secret_hash {
	uint8_t	hash[32];
	int64_t	created_at;
	int64_t	expires_at;	/* 0: none */
};

struct client_entry {
	struct store_client	 c;
	struct client_secret_hash secrets[CLIENT_MAX_SECRETS];
	size_t			 nsecrets;	/* unrevoked, unended at load; newest first */
	struct cidr_list	 allow;
	char			**scopes;	/* nscopes of them, each malloc'd */
	size_t			 nscopes;
	/* "\"iss\":...,\"sub\":...,...," — every fixed claim, each followed
	 * by a comma, ready to be placed into a payload. */
	char			*claims_fragment;
	size_t			 claims_fragment_len;
	_Atomic int		 refs;
};

struct client_cache;

struct client_cache *client_cache_new(struct store *, const char *issuer);
void	client_cache_free(struct client_cache *);
/* The entry for id (a new reference), loading it from the store on a miss.
 * Returns STORE_OK, STORE_NOTFOUND, or another store error. */
int	client_cache_get(struct client_cache *, const char *id,
	    struct client_entry **out);
void	client_entry_release(struct client_entry *);
/* client_cache_get from memory alone, for callers that must not wait on
 * the store: 1 with *rc and *out as client_cache_get gives them (an entry,
 * or STORE_NOTFOUND for an id remembered as unknown, *out NULL), or 0 when
 * only the store can answer (nothing read; *out NULL). */
int	client_cache_peek(struct client_cache *, const char *id,
	    struct client_entry **out, int *rc);
/* Drops every entry (held references stay valid until released). */
void	client_cache_clear(struct client_cache *);

/* 1 when name is a registered claim that extra claims may not override. */
int	claims_is_registered(const char *name);

#endif
