/*
 * util.h — small helpers every module uses: range-checked numbers, hex,
 * random identifiers, the clock, bounded strings.
 *
 * All functions are thread-safe. None prints or exits.
 */
#ifndef GH_UTIL_H
#define GH_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define GH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The one number parser (STYLE 8). Parses the decimal integer in s[0..len)
 * (no sign other than a leading '-', no spaces, no exponent) into *out.
 * Returns 0 on success; -1 with *err set to a static reason otherwise.
 */
int num_parse_i64(const char *s, size_t len, int64_t min, int64_t max,
                  int64_t *out, const char **err);

/*
 * Parses a duration: a whole number followed by an optional unit s, m, h, d
 * (seconds when none), e.g. "90d", "15m", "3600". Bounds in seconds.
 */
int num_parse_duration(const char *s, int64_t min, int64_t max, int64_t *out,
                       const char **err);

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Strict hex decode of exactly 2*n chars; returns 0 or -1. */
int hex_decode(const char *in, size_t len, uint8_t *out, size_t n);
/* The value of one hex digit (either case), or -1. */
int hex_digit(int c);

/* Cryptographically random bytes (OpenSSL RAND_bytes); 0 or -1. */
int rand_bytes(uint8_t *out, size_t n);
/* SipHash-2-4 of data under key (Aumasson and Bernstein, 2012; the
 * reference's little-endian byte order), for hash tables whose keys a
 * client chooses: without the key nobody can aim entries at one bucket. */
uint64_t siphash24(const uint8_t key[16], const void *data, size_t len);
/* A random UUID v4, 36 chars + NUL. Returns 0 or -1. */
int uuid_v4(char out[37]);
/*
 * A UUID v7 (RFC 9562): time-ordered, 74 random bits. Used for ids that are
 * stored in an index (token ids and names): consecutive ids land in the
 * same B-tree page, so a batch of inserts writes a few pages, not one per
 * row. Not for secrets: its first 48 bits are the time.
 */
int uuid_v7(char out[37]);
int uuid_v7_bytes(uint8_t out[16]);

/*
 * The clock. Seconds since the epoch. Tests shift it with the environment
 * variable GATEHOUSE_CLOCK_OFFSET (seconds, read once) so that rotation and
 * expiry can be tested without sleeping.
 */
int64_t clock_now(void);
/* The same clock in milliseconds, from one reading of CLOCK_REALTIME. */
int64_t clock_now_ms(void);
/* Monotonic nanoseconds, for durations and latency. */
uint64_t clock_mono_ns(void);

/*
 * Test hook: when the environment variable GATEHOUSE_TEST_FAULT is name,
 * the process ends at once with status 70, as a crash or a kill there
 * would end it, so that the tests can show what the next start or a
 * recovery makes of the state left. "pause:name" holds the calling
 * thread there for 2 s instead, so that a test can change the store under
 * a call in flight at a known moment. Unset in production: nothing
 * happens.
 */
void	test_fault_point(const char *name);
/* Formats t as ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ" (21 bytes with NUL). */
void time_iso8601(int64_t t, char out[21]);

/*
 * Length-aware validation of client strings (STYLE 7): 1 when s[0..len)
 * is valid UTF-8 with no NUL and no control characters other than none.
 */
int str_is_clean_utf8(const char *s, size_t len);
/* Replaces, in place, each byte of the NUL-terminated s that does not start
 * a character str_is_clean_utf8 accepts with '?'. For error descriptions
 * that quote the client: jansson refuses to pack invalid UTF-8, and the
 * answer then lost its whole body (found by tests/integration/
 * test_fuzz_http.py: a bounded snprintf, or jansson's own error text, cut a
 * character of the client's in two). */
void str_scrub_utf8(char *s);
/* Copies in into out (cap bytes, NUL-terminated, cut short to fit) as
 * NQSCHAR, the characters RFC 6749 §5.2 allows in an error_description and
 * RFC 6750 §3 in a quoted-string (%x20-21 / %x23-5B / %x5D-7E): '"', '\\'
 * and controls become "'", "§" (our texts cite RFCs) "section", and any
 * other non-ASCII character one '?'. */
void str_nqschar(const char *in, char *out, size_t cap);
/* 1 when s[0..len) is a valid identifier: [A-Za-z0-9._:-]{1,max}. */
int str_is_ident(const char *s, size_t len, size_t max);
/* RFC 6749 Appendix A.4: c may stand in a scope-token (%x21 / %x23-5B /
 * %x5D-7E); scope_token_ok: s[0..len) is one, non-empty. */
int scope_char_ok(unsigned char c);
int scope_token_ok(const char *s, size_t len);

/* Copies the NUL-terminated src into dst of size bytes (size > 0), cut to
 * size - 1 bytes and always terminated; returns the bytes copied. The
 * request path's "%s" without snprintf's formatting machinery. */
size_t str_copy(char *dst, size_t size, const char *src);
/* The dotted-quad text of the IPv4 address b (network order), as
 * inet_ntop writes it, into out (at least 16 bytes). */
void ipv4_text(const uint8_t b[4], char *out);
/* base and path ("/..."), joined with one '/' between them however base
 * ends: an RFC 8414 issuer may end in '/', and "https://a.example/" with
 * "/oauth/token" must not make "https://a.example//oauth/token", another
 * resource (RFC 3986 §6.2.3 leaves empty segments significant). A new
 * string the caller frees, or NULL when out of memory. */
char *str_url_join(const char *base, const char *path);
/* strdup that returns NULL only on allocation failure; xstrndup likewise. */
char *xstrndup(const char *s, size_t n);

#endif
