/*
 * opaque_token.h — opaque access tokens (seed 003's 32 hex digits) and the
 * ids their records are stored under.
 *
 * A token is one AES-256 block, under a key derived from the master key,
 * enciphering the low 32 bits of its issue time in milliseconds followed by
 * 96 fresh random bits; it is written as 32 lower-case hex digits. Without
 * the key nobody can tell it from 128 random bits, so guessing one is as
 * hard as guessing 128 random bits (RFC 6749 §10.10).
 *
 * Its record's id is 64 hex digits: the time prefix (8), then the first
 * 28 bytes of the token's SHA-256 (56). The store never holds the token:
 * the prefix is 32 of the 128 deciphered bits, and even with the master
 * key, finding a token from its id takes 2^96 guesses.
 *
 * Why not 128 random bits hashed, as before: a token's record is written
 * in the commit that issues it, and a random id lands each record on a
 * random page of the id index, one more page in every commit and every
 * checkpoint. Ids that grow with time all land on the index's last page;
 * on the 2-core machine this took issuance from about 24,000 to 40,000
 * opaque tokens a second, and 15,400 to 19,500 on PostgreSQL (BENCHMARKS.md,
 * sixteenth session). The prefix wraps every 49.7 days, which only moves
 * where in the index new records land.
 */
#ifndef GH_OPAQUE_TOKEN_H
#define GH_OPAQUE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define OPAQUE_TOKEN_LEN	32	/* hex digits */
#define OPAQUE_ID_LEN		64	/* hex digits of a record id */
#define OPAQUE_KEY_LEN		32

/* A new token issued at now_ms, and its record id; both NUL-terminated.
 * 0, or -1 when no random bits, cipher or hash could be had. */
int	opaque_token_new(const uint8_t key[OPAQUE_KEY_LEN], int64_t now_ms,
	    char token[OPAQUE_TOKEN_LEN + 1], char id[OPAQUE_ID_LEN + 1]);

/* The record id a presented token would have been issued under: 1 with id
 * written, 0 when the token is not 32 lower-case hex digits (so not one of
 * ours), -1 when the cipher or the hash failed. */
int	opaque_token_id(const uint8_t key[OPAQUE_KEY_LEN], const char *token,
	    size_t len, char id[OPAQUE_ID_LEN + 1]);

/* The id of a record written before tokens carried their time: the hex
 * SHA-256 of the token. Tokens issued then stay valid until they expire.
 * 0, or -1 when the hash failed. */
int	opaque_token_legacy_id(const char *token, size_t len,
	    char id[OPAQUE_ID_LEN + 1]);

#endif
