/*
 * test_fuzz_parsers.c — deterministic mutation fuzzing of every parser that
 * reads untrusted bytes (STYLE 18: a fuzz driver per parser), so that the
 * sanitizer build (GH_SANITIZE: ASan with leak checks, UBSan) sees each
 * parser's error paths, not only the inputs the other unit tests thought of.
 *
 * For each target a few valid seeds are checked to be accepted, then every
 * prefix of every seed is tried, then seeded pseudo-random mutations of the
 * seeds (bit flips, byte insertion and deletion, truncation, duplicated
 * sections, splices of two seeds, NUL, 0xff, '%', '=', '&', '.', '"', '\\',
 * overlong and surrogate UTF-8, huge numbers, deep JSON nesting, long runs).
 * Each input is copied into a buffer of exactly its length, so that reading
 * one byte past it is an ASan report. Only what each header documents is
 * asserted: the result is one of the documented ones, outputs stay within
 * their bounds, out-parameters on failure are as documented, and, where a
 * cheap independent oracle exists, the answer itself (round trips, a
 * reference implementation). Every target must see both accepted and
 * refused mutated inputs, so a mutator that never reaches the error paths
 * (or never gets past them) fails the test.
 *
 * The run is reproducible: xorshift64* from a fixed seed, reseeded per
 * target. GH_FUZZ_SEED=N picks another seed, GH_FUZZ_SCALE=K runs K times
 * as many mutations, GH_FUZZ_TRACE=1 prints every input before it is tried.
 * A failed check, or a sanitizer report, prints the target, the iteration
 * and the input.
 *
 * Headers reach the token normalizer through the real http_request_header()
 * (src/http/server.c) over fields the fuzzer wrote; lib/verify/verify.c is
 * included to reach its JWKS parser (keyset_from_jwks) and to install a key
 * set without a network, with lib/verify/cachectl.c, which it calls.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <sqlite3.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

#include "test_rng.h"
#include "approvals/api.h"
#include "approvals/approvals.h"
#include "audit/audit.h"
#include "config/config.h"
#include "gate/bearer.h"
#include "gate/claims.h"
#include "gate/policy.h"
#include "http/params.h"
#include "jose/b64url.h"
#include "jose/jose_int.h"
#include "manage/manage.h"
#include "net/forwarded.h"
#include "net/cidr.h"
#include "oauth/client_cache.h"
#include "oauth/dialect.h"
#include "security/secret.h"
#include "server/context.h"
#include "tmpdir.h"
#include "util/json_flat.h"
#include "util/json_view.h"
#include "util/util.h"

#include "../../lib/client/extern.h"
#include "../../lib/verify/cachectl.c"
#include "../../lib/verify/verify.c"

/* -- the generator ------------------------------------------------------ */

#define FZ_DEFAULT_SEED	UINT64_C(0x5eed0f9a7e40c5e1)
#define FZ_BUF		(64 * 1024)	/* the mutation workspace */

/* Static, so that a failed check (which leaves by longjmp) leaks nothing
 * that would bury its report under LeakSanitizer's. */
static uint8_t fz_work[FZ_BUF];

static uint64_t fz_seed = FZ_DEFAULT_SEED;
static int64_t fz_scale = 1;
static int fz_trace;

/* What is being tried, for the report of a failed check or a sanitizer. */
static struct {
	const char	*target;
	const char	*phase;
	size_t		 iter;
	const uint8_t	*data;
	size_t		 len;
} fz_cur;

static void
fz_print_input(FILE *f, const uint8_t *d, size_t n)
{
	size_t shown = n > 2048 ? 2048 : n;

	fprintf(f, "  input (%zu bytes%s): \"", n, shown < n ? ", first 2048 shown" : "");
	for (size_t i = 0; i < shown; i++) {
		if (d[i] == '"' || d[i] == '\\')
			fprintf(f, "\\%c", d[i]);
		else if (d[i] >= 0x20 && d[i] < 0x7f)
			fputc(d[i], f);
		else
			fprintf(f, "\\x%02x", d[i]);
	}
	fprintf(f, "\"\n");
}

static void
fz_report(void)
{
	if (fz_cur.target == NULL)
		return;
	fprintf(stderr, "fuzz: failing input: target %s, %s %zu, seed %llu\n",
	    fz_cur.target, fz_cur.phase, fz_cur.iter, (unsigned long long)fz_seed);
	if (fz_cur.data != NULL)
		fz_print_input(stderr, fz_cur.data, fz_cur.len);
}

#define FZ_CHECK(c) do {						\
	if (!(c)) {							\
		fz_report();						\
		fail_msg("fuzz %s: check failed (line %d): %s",	\
		    fz_cur.target, __LINE__, #c);			\
	}								\
} while (0)

/* A NUL-terminated copy of d[0..n), for the parsers that take C strings
 * (an embedded NUL ends the string there, as it would for them). */
static char *
fz_cstr(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

/* 1 when s[0..n) holds needle. */
static int
fz_contains(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; k <= n && i <= n - k; i++)
		if (memcmp(s + i, needle, k) == 0)
			return 1;
	return 0;
}

/* -- mutations ---------------------------------------------------------- */

static const uint8_t fz_special[] = {
	0x00, 0xff, '%', '=', '&', '.', '"', '\\', '/', ':', ',', ' ', '\t', '\r',
	'\n', '{', '}', '[', ']', '#', '*', '+', '-', '?', ';', '0', '9', 'A',
	'z', '_', '~', 0x7f, 0x80, 0xbf, 0xc0, 0xc1, 0xe0, 0xed, 0xf0, 0xf4,
	0xf8, 0x01, 0x1f,
};

/* Tokens every target gets: escapes, bad UTF-8, numbers at the edges. */
static const char *const fz_dict_common[] = {
	"%00", "%", "%2", "%zz", "%2F", "%2f", "%2e", "%2E%2E", "%5C", "%3B",
	"%C3%A9", "%C0%AF", "%ED%A0%80", "%F4%90%80%80", "%FF", "%25",
	"\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
	"\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\xef\xbf\xbf", "\xe2\x82\xac",
	"\xc3", "\xe2\x82", "\\u0000", "\\ud800", "\\udc00\\ud800",
	"\\uD83D\\uDE00", "\\", "\"",
	"0", "-0", "-1", "00", "99999999999999999999", "9223372036854775807",
	"9223372036854775808", "-9223372036854775808", "-9223372036854775809",
	"18446744073709551616", "1099511627776", "1e308", "1e999", "-1e999",
	"0.5", "1.0", "NaN", "null", "true", "false", "[]", "{}", "\"\"",
	"==", "=", "&", "&&", "...", "..", "/../", "/./", "//", "**", "*",
	"\r\n", "\n\n", "#", ";", "?", ",,",
};

/* What a JSON member's value may be replaced with: other types. */
static const char *const fz_json_values[] = {
	"1", "-1", "0", "1.5", "1e400", "99999999999999999999", "4102444800", "null", "true",
	"[]", "{}", "[1]", "[\"admin\"]", "[null]", "\"\"", "\"x\"", "\"a\\u0000b\"",
	"\"\\u00e9\"", "\"\\ud800\"", "{\"a\":{\"b\":{\"c\":[[[[[[[[1]]]]]]]]}}}",
	"\"production\"", "\"sandbox\"", "\"at+jwt\"", "\"https://gh.test\"",
};

static const char *const fz_huge_numbers[] = {
	"99999999999999999999", "9223372036854775807", "9223372036854775808",
	"-9223372036854775808", "-9223372036854775809", "18446744073709551615",
	"1e308", "1e999", "0", "-1", "4294967296", "1099511627776",
	"0.000000000000000000001",
};

struct fz_target {
	const char		*name;
	const char *const	*seeds;
	size_t			 nseeds;
	const char *const	*dict;		/* this parser's words */
	size_t			 ndict;
	size_t			 iters;		/* mutated inputs (times GH_FUZZ_SCALE) */
	size_t			 max_len;	/* mutations stop growing here */
	int			 mutated_accepts_optional; /* signatures: mutants fail */
	int			(*run)(const uint8_t *d, size_t n); /* 1 accepted, 0 refused */
	void			(*after)(void);	/* checks over the whole run, or NULL */
};

/* Inserts src[0..n) at pos; what does not fit under cap is dropped. */
static size_t
fz_insert(uint8_t *b, size_t len, size_t cap, size_t pos, const void *src, size_t n)
{
	if (len >= cap)
		return len;
	if (n > cap - len)
		n = cap - len;
	memmove(b + pos + n, b + pos, len - pos);
	memcpy(b + pos, src, n);
	return len + n;
}

static size_t
fz_delete(uint8_t *b, size_t len, size_t pos, size_t n)
{
	if (n > len - pos)
		n = len - pos;
	memmove(b + pos, b + pos + n, len - pos - n);
	return len - n;
}

static const char *
fz_word(const struct fz_target *t)
{
	size_t n = GH_ARRAY_LEN(fz_dict_common) + t->ndict + t->nseeds;
	size_t k = test_rng_below(n);

	if (k < GH_ARRAY_LEN(fz_dict_common))
		return fz_dict_common[k];
	k -= GH_ARRAY_LEN(fz_dict_common);
	if (k < t->ndict)
		return t->dict[k];
	/* A slice of a seed: its structure, somewhere else. */
	return t->seeds[k - t->ndict];
}

static size_t
fz_mutate_once(uint8_t *b, size_t len, size_t cap, const struct fz_target *t)
{
	size_t pos = test_rng_below(len + 1), n;
	uint8_t c;

	switch (test_rng_below(18)) {
	case 0:		/* flip a bit */
		if (len > 0)
			b[test_rng_below(len)] ^= (uint8_t)(1u << test_rng_below(8));
		return len;
	case 1:		/* a random byte */
		if (len > 0)
			b[test_rng_below(len)] = (uint8_t)test_rng();
		return len;
	case 2:		/* a special byte */
		if (len > 0)
			b[test_rng_below(len)] = fz_special[test_rng_below(sizeof(fz_special))];
		return len;
	case 3:		/* insert special bytes */
		c = fz_special[test_rng_below(sizeof(fz_special))];
		n = 1 + test_rng_below(3);
		while (n-- > 0)
			len = fz_insert(b, len, cap, pos, &c, 1);
		return len;
	case 4:		/* delete a few bytes, or a large part */
		if (len == 0)
			return len;
		pos = test_rng_below(len);
		return fz_delete(b, len, pos, test_rng_below(4) == 0 ? test_rng_below(len) + 1 :
		    1 + test_rng_below(8));
	case 5:		/* truncate */
		return test_rng_below(len + 1);
	case 6: {	/* duplicate a section */
		uint8_t tmp[512];
		size_t from;
		if (len == 0)
			return len;
		from = test_rng_below(len);
		n = 1 + test_rng_below(len - from < sizeof(tmp) ? len - from : sizeof(tmp));
		memcpy(tmp, b + from, n);
		return fz_insert(b, len, cap, test_rng_below(len + 1), tmp, n);
	}
	case 7: {	/* splice: this prefix, another seed's suffix */
		const char *o = t->seeds[test_rng_below(t->nseeds)];
		size_t ol = strlen(o), from = test_rng_below(ol + 1);
		len = pos;
		return fz_insert(b, len, cap, len, o + from, ol - from);
	}
	case 8: {	/* insert a word; a line (header, config) at the next line start */
		const char *w = fz_word(t);
		size_t wl = strlen(w);
		if (wl > 0 && w[wl - 1] == '\n' && test_rng_below(2) == 0)
			while (pos < len && (pos == 0 || b[pos - 1] != '\n'))
				pos++;
		return fz_insert(b, len, cap, pos, w, wl);
	}
	case 9: {	/* overwrite with a word */
		const char *w = fz_word(t);
		len = fz_delete(b, len, pos, strlen(w));
		return fz_insert(b, len, cap, pos, w, strlen(w));
	}
	case 10: {	/* a number at the edge of a type, in place of one */
		const char *w = fz_huge_numbers[test_rng_below(GH_ARRAY_LEN(fz_huge_numbers))];
		size_t s;
		for (s = pos; s < len && !(b[s] >= '0' && b[s] <= '9'); s++)
			;
		if (s == len)
			s = pos;
		for (n = 0; s + n < len && b[s + n] >= '0' && b[s + n] <= '9'; n++)
			;
		len = fz_delete(b, len, s, n);
		return fz_insert(b, len, cap, s, w, strlen(w));
	}
	case 11: {	/* deep nesting, balanced or not */
		static const size_t depths[] = { 9, 33, 300, 3000 };
		size_t d = depths[test_rng_below(GH_ARRAY_LEN(depths))], i;
		int obj = test_rng_below(2) == 0, close = test_rng_below(3) != 0;
		for (i = 0; i < d && len < cap; i++)
			len = obj ? fz_insert(b, len, cap, pos + 5 * i, "{\"a\":", 5) :
			    fz_insert(b, len, cap, pos + i, "[", 1);
		if (close) {
			size_t at = pos + (obj ? 5 * i : i);
			if (at > len)
				at = len;
			len = fz_insert(b, len, cap, at, "1", 1);
			for (size_t k = 0; k < i && len < cap; k++)
				len = fz_insert(b, len, cap, at + 1 + k, obj ? "}" : "]", 1);
		}
		return len;
	}
	case 12: {	/* repeat the whole input: length limits */
		size_t orig = len, times = 2 + test_rng_below(test_rng_below(4) == 0 ? 64 : 4);
		for (size_t k = 1; k < times && orig > 0 && len < cap; k++)
			len = fz_insert(b, len, cap, len, b, orig < cap - len ? orig : cap - len);
		return len;
	}
	case 13: {	/* a long run of one byte */
		static const size_t runs[] = { 63, 64, 65, 128, 129, 512, 513, 4096, 4097, 12289 };
		uint8_t run[256];
		size_t r = runs[test_rng_below(GH_ARRAY_LEN(runs))];
		c = test_rng_below(2) ? (uint8_t)('a' + test_rng_below(26)) :
		    fz_special[test_rng_below(sizeof(fz_special))];
		memset(run, c, sizeof(run));
		while (r > 0 && len < cap) {
			n = r < sizeof(run) ? r : sizeof(run);
			len = fz_insert(b, len, cap, pos, run, n);
			r -= n;
		}
		return len;
	}
	case 14:	/* swap two bytes */
		if (len > 1) {
			size_t i = test_rng_below(len), j = test_rng_below(len);
			c = b[i];
			b[i] = b[j];
			b[j] = c;
		}
		return len;
	case 15:	/* change the case of a letter (headers, hex, names) */
		if (len > 0) {
			size_t i = test_rng_below(len);
			if ((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= 'A' && b[i] <= 'Z'))
				b[i] ^= 0x20;
		}
		return len;
	case 16: {	/* a JSON member's value replaced by one of another type */
		const char *v = fz_json_values[test_rng_below(GH_ARRAY_LEN(fz_json_values))];
		size_t at, end;
		uint8_t *colon = len > pos ? memchr(b + pos, ':', len - pos) : NULL;
		if (colon == NULL && (colon = memchr(b, ':', len)) == NULL)
			return len;
		at = (size_t)(colon - b) + 1;
		end = at;
		if (end < len && b[end] == '"') {	/* a string, escapes and all */
			for (end++; end < len && b[end] != '"'; end++)
				if (b[end] == '\\')
					end++;
			end = end < len ? end + 1 : len;
		} else
			while (end < len && b[end] != ',' && b[end] != '}' && b[end] != ']')
				end++;
		len = fz_delete(b, len, at, end - at);
		return fz_insert(b, len, cap, at, v, strlen(v));
	}
	default:	/* drop the rest after a special byte */
		for (size_t i = pos; i < len; i++)
			if (memchr("&=.\"\\/:,\n", b[i], 9) != NULL)
				return i + 1;
		return len;
	}
}

/* -- the harness -------------------------------------------------------- */

struct fz_stats {
	size_t	tried, accepted, refused, mut_accepted, mut_refused;
};

/* Runs one input from a buffer of exactly its length. */
static int
fz_one(const struct fz_target *t, const char *phase, size_t iter,
    const uint8_t *d, size_t n)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);
	int rc;

	assert_non_null(copy);
	memcpy(copy, d, n);
	fz_cur.phase = phase;
	fz_cur.iter = iter;
	fz_cur.data = copy;
	fz_cur.len = n;
	if (fz_trace) {
		fprintf(stderr, "fuzz: %s %s %zu\n", t->name, phase, iter);
		fz_print_input(stderr, copy, n);
	}
	rc = t->run(copy, n);
	FZ_CHECK(rc == 0 || rc == 1);
	fz_cur.data = NULL;
	free(copy);
	return rc;
}

/* Counts a prefix's or mutation's answer. */
static void
fz_count(struct fz_stats *st, int accepted)
{
	st->tried++;
	if (accepted) {
		st->accepted++;
		st->mut_accepted++;
	} else {
		st->refused++;
		st->mut_refused++;
	}
}

static uint64_t
fz_name_hash(const char *s)
{
	uint64_t h = UINT64_C(1469598103934665603);	/* FNV-1a */

	while (*s != '\0')
		h = (h ^ (uint8_t)*s++) * UINT64_C(1099511628211);
	return h;
}

static void
fz_run(const struct fz_target *t)
{
	struct fz_stats st = { 0, 0, 0, 0, 0 };
	uint8_t *b = fz_work;
	size_t iters = t->iters * (size_t)fz_scale, cap = t->max_len;
	uint64_t t0 = clock_mono_ns();

	if (cap == 0 || cap > FZ_BUF)
		cap = FZ_BUF;
	/* Each target has its own sequence: adding one changes no other. */
	test_rng_seed((fz_seed ^ fz_name_hash(t->name)) | 1);
	fz_cur.target = t->name;

	/* The seeds are valid and must stay so. */
	for (size_t s = 0; s < t->nseeds; s++) {
		int rc = fz_one(t, "seed", s, (const uint8_t *)t->seeds[s], strlen(t->seeds[s]));
		if (rc != 1) {
			fz_cur.data = (const uint8_t *)t->seeds[s];
			fz_cur.len = strlen(t->seeds[s]);
			fz_report();
			fail_msg("fuzz %s: seed %zu is refused", t->name, s);
		}
		st.tried++;
		st.accepted++;
	}
	/* Every proper prefix of every seed. */
	for (size_t s = 0; s < t->nseeds; s++) {
		size_t sl = strlen(t->seeds[s]);
		for (size_t k = 0; k < sl; k++)
			fz_count(&st, fz_one(t, "prefix", s * 100000 + k,
			    (const uint8_t *)t->seeds[s], k));
	}
	/* Stacked random mutations of a seed. */
	for (size_t i = 0; i < iters; i++) {
		const char *s = t->seeds[test_rng_below(t->nseeds)];
		size_t len = strlen(s), rounds;

		if (len > cap)
			len = cap;
		memcpy(b, s, len);
		rounds = 1 + test_rng_below(test_rng_below(8) == 0 ? 16 : 4);
		while (rounds-- > 0)
			len = fz_mutate_once(b, len, cap, t);
		fz_count(&st, fz_one(t, "mutation", i, b, len));
	}
	fz_cur.target = NULL;
	printf("fuzz: %-16s %6zu inputs (%zu seeds, %zu mutations): %6zu accepted, "
	    "%6zu refused, %5.2f s\n", t->name, st.tried, t->nseeds, iters, st.accepted,
	    st.refused, (double)(clock_mono_ns() - t0) / 1e9);
	fflush(stdout);
	/* A fuzzer that never reaches the error paths, or never gets past
	 * them, tests nothing. */
	if (st.mut_refused == 0)
		fail_msg("fuzz %s: no mutated input was refused", t->name);
	if (st.mut_accepted == 0 && !t->mutated_accepts_optional)
		fail_msg("fuzz %s: no mutated input was accepted", t->name);
	if (st.accepted == 0)
		fail_msg("fuzz %s: nothing was accepted", t->name);
}

#define FZ_FIELDS(nm, sd, dc, it, ml, fn)				\
	.name = (nm), .seeds = (const char *const *)(sd),		\
	.nseeds = GH_ARRAY_LEN(sd),					\
	.dict = (dc), .ndict = GH_ARRAY_LEN(dc), .iters = (it),	\
	.max_len = (ml), .run = (fn)
#define FZ_TARGET(...)	{ FZ_FIELDS(__VA_ARGS__) }

/* -- src/util: numbers, durations, UTF-8 -------------------------------- */

/* Seeds are tried with the widest bounds, mutations with random ones. */
static int
fz_is_seed(void)
{
	return strcmp(fz_cur.phase, "seed") == 0;
}

/* The reference for num_parse_i64: strtoll on a checked copy. */
static int
ref_parse_i64(const uint8_t *d, size_t n, int64_t min, int64_t max, int64_t *out)
{
	char buf[64], *end;
	size_t i = n > 0 && d[0] == '-';
	long long v;

	if (n == i || n >= sizeof(buf))
		return n >= sizeof(buf) ? -2 : -1;	/* -2: too long to compare */
	for (; i < n; i++)
		if (d[i] < '0' || d[i] > '9')
			return -1;
	memcpy(buf, d, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno == ERANGE || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
fz_num_i64(const uint8_t *d, size_t n)
{
	static const int64_t edges[] = { INT64_MIN, -1, 0, 1, 60, 256, 86400, INT64_MAX };
	int64_t min = fz_is_seed() ? INT64_MIN : edges[test_rng_below(4)];
	int64_t max = fz_is_seed() ? INT64_MAX : edges[4 + test_rng_below(4)], v = 77, rv = 0;
	const char *err = NULL;
	int rc = num_parse_i64((const char *)d, n, min, max, &v, &err);
	int ref = ref_parse_i64(d, n, min, max, &rv);

	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(err != NULL && err[0] != '\0');
		FZ_CHECK(v == 77);	/* *out is untouched on failure */
		/* Over-long digit strings are out of range, not "not a number"
		 * bugs: only compare what strtoll can answer. */
		FZ_CHECK(ref != 0);
		return 0;
	}
	FZ_CHECK(v >= min && v <= max);
	FZ_CHECK(ref == 0 || ref == -2);
	if (ref == 0)
		FZ_CHECK(v == rv);
	return 1;
}

static int
fz_duration(const uint8_t *d, size_t n)
{
	static const int64_t maxes[] = { 300, 86400, 31 * 86400, 3660 * 86400, INT64_MAX };
	char *s = fz_cstr(d, n);
	size_t sl = strlen(s);
	int64_t min = fz_is_seed() ? 0 : (int64_t)test_rng_below(2) * 60;
	int64_t max = fz_is_seed() ? INT64_MAX : maxes[test_rng_below(GH_ARRAY_LEN(maxes))];
	int64_t v = 77, num = 0, mult = 1;
	const char *err = NULL;
	int rc = num_parse_duration(s, min, max, &v, &err), ref = 0;

	/* Reference: digits, then an optional unit. */
	if (sl > 0 && strchr("smhd", s[sl - 1]) != NULL) {
		mult = s[sl - 1] == 's' ? 1 : s[sl - 1] == 'm' ? 60 : s[sl - 1] == 'h' ? 3600 : 86400;
		sl--;
	}
	ref = ref_parse_i64((const uint8_t *)s, sl, 0, INT64_MAX / 86400, &num);
	if (ref == 0 && (num * mult < min || num * mult > max))
		ref = -1;
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(err != NULL && v == 77);
		FZ_CHECK(ref != 0);
	} else {
		FZ_CHECK(v >= min && v <= max && v >= 0);
		FZ_CHECK(ref == -2 || (ref == 0 && v == num * mult));
	}
	free(s);
	return rc == 0;
}

/* Well-formed UTF-8 per Unicode Table 3-7, with no C0 control or DEL:
 * an independent reference for str_is_clean_utf8. */
static int
ref_clean_utf8(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		uint8_t lo = 0x80, hi = 0xbf;
		size_t k;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;
			if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (n - i <= k || p[i + 1] < lo || p[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (p[i + j] < 0x80 || p[i + j] > 0xbf)
				return 0;
		i += k + 1;
	}
	return 1;
}

static int
fz_utf8(const uint8_t *d, size_t n)
{
	int ok = str_is_clean_utf8((const char *)d, n);

	FZ_CHECK(ok == 0 || ok == 1);
	FZ_CHECK(ok == ref_clean_utf8(d, n));
	/* The other string checks of util.h on the same bytes. */
	if (str_is_ident((const char *)d, n, 64))
		FZ_CHECK(n >= 1 && n <= 64 && ok);
	if (scope_token_ok((const char *)d, n))
		FZ_CHECK(n > 0 && ok && memchr(d, ' ', n) == NULL && memchr(d, '"', n) == NULL);
	if (n % 2 == 0 && n <= 128) {
		uint8_t raw[64];
		char back[129];
		if (hex_decode((const char *)d, n, raw, n / 2) == 0) {
			hex_encode(raw, n / 2, back);
			FZ_CHECK(strncasecmp(back, (const char *)d, n) == 0);
		}
	}
	return ok;
}

static const char *const seeds_num[] = { "0", "3600", "-42", "9223372036854775807",
	"-9223372036854775808", "007" };
static const char *const dict_num[] = { "-", "--", "+1", " 1", "1 ", "0x10", "1e3" };
static const char *const seeds_duration[] = { "90d", "15m", "3600", "1h", "0s", "300" };
static const char *const dict_duration[] = { "s", "m", "h", "d", "w", "ms", "-", "106751991167300d" };
static const char *const seeds_utf8[] = { "client_credentials", "caf\xc3\xa9 \xe2\x82\xac",
	"\xf0\x9f\x98\x80 ok", "\xef\xbf\xbd\xed\x9f\xbf\xee\x80\x80", "0123456789abcdefABCDEF",
	"scope:read" };
static const char *const dict_utf8[] = { "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xf0\x90\x80\x80",
	"\xf4\x8f\xbf\xbf", "\xee\x80\x80", "\xed\x9f\xbf", "\xee\x80" };

/* -- src/jose/b64url ---------------------------------------------------- */

static int
fz_b64_one(int url, const uint8_t *d, size_t n)
{
	/* The decoded size, or a random capacity around it. */
	size_t need = n / 4 * 3 + 3;
	size_t cap = !fz_is_seed() && test_rng_below(4) == 0 ? test_rng_below(need + 1) : need;
	uint8_t *out = malloc(cap > 0 ? cap : 1);
	char *back;
	size_t outlen = (size_t)-1;
	int rc;

	assert_non_null(out);
	rc = url ? b64url_decode((const char *)d, n, out, cap, &outlen) :
	    b64std_decode((const char *)d, n, out, cap, &outlen);
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		FZ_CHECK(outlen <= cap);
		/* Strict decoding: each byte string has one spelling, so
		 * encoding gives the input back exactly. */
		back = malloc(4 * (outlen / 3 + 1) + 1);
		assert_non_null(back);
		if (url) {
			FZ_CHECK(b64url_encoded_len(outlen) == n);
			FZ_CHECK(b64url_encode(out, outlen, back) == n);
		} else
			FZ_CHECK(b64std_encode(out, outlen, back) == n);
		FZ_CHECK(memcmp(back, d, n) == 0);
		free(back);
	}
	free(out);
	return rc == 0;
}

static int
fz_b64url(const uint8_t *d, size_t n)
{
	return fz_b64_one(1, d, n);
}

static int
fz_b64std(const uint8_t *d, size_t n)
{
	return fz_b64_one(0, d, n);
}

static const char *const seeds_b64url[] = { "eyJhbGciOiJSUzI1NiJ9", "AQAB", "Zm9vYmFy",
	"Zm9vYg", "Zm9vYmE", "-_-_", "" };
static const char *const seeds_b64std[] = { "Zm9vYmFy", "Zm9vYg==", "Zm9vYmE=",
	"Y2xpZW50OnNlY3JldA==", "+/+/", "" };
static const char *const dict_b64[] = { "=", "==", "===", "+", "/", "-", "_", "A", "Q", "AA" };

/* -- src/http/params ---------------------------------------------------- */

static int
fz_urldecode(const uint8_t *d, size_t n)
{
	size_t pct = 0;
	int accepted = 0;

	for (size_t i = 0; i < n; i++)
		pct += d[i] == '%';
	for (int plus = 0; plus < 2; plus++) {
		char *out = NULL;
		size_t outlen = (size_t)-1;
		int rc = http_urldecode((const char *)d, n, plus, &out, &outlen);
		FZ_CHECK(rc == 0 || rc == -1);
		if (rc == -1) {
			FZ_CHECK(out == NULL);
			continue;
		}
		FZ_CHECK(out != NULL);
		FZ_CHECK(outlen == n - 2 * pct);	/* each escape is 3 bytes into 1 */
		FZ_CHECK(strlen(out) == outlen);	/* no NUL inside */
		FZ_CHECK(str_is_clean_utf8(out, outlen));
		free(out);
		accepted = 1;
	}
	return accepted;
}

static int
fz_form(const uint8_t *d, size_t n)
{
	struct http_params p;
	const char *err = NULL;
	char field[HTTP_MAX_FIELD_NAME];
	int rc;

	memset(field, 'x', sizeof(field));
	field[0] = '\0';	/* as the callers do */
	rc = http_form_parse((const char *)d, n, &p, &err, field);
	FZ_CHECK(rc == 0 || rc == -1);
	FZ_CHECK(memchr(field, '\0', sizeof(field)) != NULL);
	if (rc == -1) {
		FZ_CHECK(err != NULL && err[0] != '\0');
		FZ_CHECK(p.n == 0);	/* cleared: nothing to free */
		return 0;
	}
	FZ_CHECK(p.n <= HTTP_MAX_PARAMS);
	for (size_t i = 0; i < p.n; i++) {
		const struct http_param *a = &p.items[i];
		size_t nl;
		FZ_CHECK(a->name != NULL && a->value != NULL);
		nl = strlen(a->name);
		FZ_CHECK(nl >= 1 && nl < HTTP_MAX_FIELD_NAME);
		FZ_CHECK(str_is_clean_utf8(a->name, nl));
		FZ_CHECK(strlen(a->value) == a->value_len);
		FZ_CHECK(a->value_len <= HTTP_MAX_PARAM_LEN);
		FZ_CHECK(str_is_clean_utf8(a->value, a->value_len));
		for (size_t j = 0; j < i; j++)
			FZ_CHECK(strcmp(p.items[j].name, a->name) != 0);	/* RFC 6749 §3.2 */
		FZ_CHECK(http_params_get(&p, a->name) == a->value);
	}
	http_params_clear(&p);
	FZ_CHECK(p.n == 0);
	return 1;
}

static int
fz_json_depth(const json_t *v)
{
	const char *k;
	json_t *c;
	size_t i;
	int d = 0, cd;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, c)
			if ((cd = fz_json_depth(c)) > d)
				d = cd;
		return d + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, c)
			if ((cd = fz_json_depth(c)) > d)
				d = cd;
		return d + 1;
	}
	return 0;
}

static int
fz_json_body(const uint8_t *d, size_t n)
{
	json_t *o = NULL;
	const char *err = NULL;
	int rc = http_json_parse((const char *)d, n, &o, &err);

	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(err != NULL && err[0] != '\0' && strlen(err) < 200);
		FZ_CHECK(o == NULL);
		return 0;
	}
	FZ_CHECK(json_is_object(o));
	FZ_CHECK(json_object_size(o) <= HTTP_MAX_PARAMS);
	FZ_CHECK(fz_json_depth(o) <= HTTP_MAX_JSON_DEPTH);
	json_decref(o);
	return 1;
}

static int
fz_basic(const uint8_t *d, size_t n)
{
	char *h = fz_cstr(d, n), *id = (char *)1, *secret = (char *)1;
	const char *err = NULL;
	int rc = http_basic_parse(h, &id, &secret, &err);

	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(err != NULL && err[0] != '\0');
		FZ_CHECK(id == NULL && secret == NULL);
	} else {
		FZ_CHECK(strncasecmp(h, "Basic ", 6) == 0);
		FZ_CHECK(id != NULL && secret != NULL);
		FZ_CHECK(id[0] != '\0' && str_is_clean_utf8(id, strlen(id)));
		FZ_CHECK(str_is_clean_utf8(secret, strlen(secret)));
		free(id);
		free(secret);
	}
	free(h);
	return rc == 0;
}

static const char *const seeds_urldecode[] = { "client_credentials", "a+b%20c", "caf%C3%A9",
	"%E2%82%AC%7e~", "https%3A%2F%2Fapi.example.com%2Fv1", "" };
static const char *const seeds_form[] = {
	"grant_type=client_credentials&scope=a+b%20c&empty=",
	"grant_type=client_credentials&client_id=c-1&client_secret=s%2Bx%3D",
	"token=eyJ.eyJ.sig&token_type_hint=access_token",
	"audience=https%3A%2F%2Fapi&&resource=https%3A%2F%2Fapi&scope=cards%3Aread",
	"limit=50&after=0190a0b0-0000-7000-8000-000000000000&tenant=t1",
	/* HTTP_MAX_PARAMS of them: one more is refused. One seed in two
	 * literals: the parentheses say so to clang's -Wstring-concatenation. */
	("p0=0&p1=1&p2=2&p3=3&p4=4&p5=5&p6=6&p7=7&p8=8&p9=9&p10=&p11=&p12=&p13=&p14=&p15=&"
	"p16=&p17=&p18=&p19=&p20=&p21=&p22=&p23=&p24=&p25=&p26=&p27=&p28=&p29=&p30=&p31="),
};
static const char *const dict_form[] = { "grant_type=", "client_id=", "&a=1", "&a=2", "=&=",
	"scope=", "+", "%2B", "%26", "%3D", "&q=1", "&r=2&s=3" };
static const char *const seeds_json_body[] = {
	"{\"grant_type\":\"client_credentials\",\"client_id\":\"a\",\"client_secret\":\"b\"}",
	"{\"clientId\":\"x\",\"clientSecret\":\"y\",\"grantType\":\"client_credentials\"}",
	"{\"api_key\":\"k\",\"client_secret\":\"s\",\"expiration\":3600,\"token_name\":\"n\"}",
	"{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":true,\"e\":1.5,\"f\":\"\\u00e9\\n\"}",
	" { \"method\" : \"POST\", \"path\" : \"/v1/payouts\", \"body_sha256\" : null } ",
};
static const char *const dict_json[] = { "{", "}", "[", "]", ":", ",", "\"a\":1,", "\"a\":",
	"\"grant_type\":\"x\",", "\\u0000", "\\ud83d", "\"\\", "1.5", "-0.0", "1E400" };
/* "client-1:s3cret", "my%20client:p%40ss%3Aword", "x:", "c:s:t". */
static const char *const seeds_basic[] = {
	"Basic Y2xpZW50LTE6czNjcmV0",
	"Basic bXklMjBjbGllbnQ6cCU0MHNzJTNBd29yZA==",
	"basic   eDo=",
	"BASIC YzpzOnQ=",
};
static const char *const dict_basic[] = { "Basic ", "Bearer ", "Og==", "OjE=", "JTAw", "==", "=" };

/* -- src/oauth/normalize: every dialect --------------------------------- */

/*
 * The header fields the fuzzer wrote, which the real http_request_header()
 * (src/http/server.c) walks as it walks a request's: req->fields points at
 * c->field.
 */
#define FZ_MAX_HEADERS 16

struct fz_conn {
	size_t		 n;
	char		*name[FZ_MAX_HEADERS];
	char		*value[FZ_MAX_HEADERS];
	struct http_field field[FZ_MAX_HEADERS];
};

/*
 * Reads "Name: value" lines from d[i..n) up to an empty line into c
 * (header values are C strings, so a NUL ends one) and makes req a POST
 * whose body is the rest, NUL-terminated as the server's copy is.
 * fz_request_free releases both.
 */
static void
fz_request(const uint8_t *d, size_t n, size_t i, struct fz_conn *c,
    struct http_request *req)
{
	size_t body_at = n;

	memset(c, 0, sizeof(*c));
	while (i < n) {
		const uint8_t *nl = memchr(d + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - d) : n, colon, v;
		if (end == i) {
			body_at = i + 1;
			break;
		}
		for (colon = i; colon < end && d[colon] != ':'; colon++)
			;
		for (v = colon + 1; v < end && d[v] == ' '; v++)
			;
		if (c->n < FZ_MAX_HEADERS) {
			c->name[c->n] = xstrndup((const char *)d + i, colon - i);
			c->value[c->n] = v < end ? xstrndup((const char *)d + v, end - v) :
			    xstrndup("", 0);
			assert_true(c->name[c->n] != NULL && c->value[c->n] != NULL);
			c->field[c->n].name = c->name[c->n];
			c->field[c->n].value = c->value[c->n];
			c->field[c->n].name_len = colon - i;
			c->n++;
		}
		i = end + 1;
	}
	if (body_at > n)
		body_at = n;
	memset(req, 0, sizeof(*req));
	req->method = HTTP_POST;
	req->path = "/";
	req->query = "";
	req->body = fz_cstr(d + body_at, n - body_at);
	req->body_len = n - body_at;
	snprintf(req->peer_ip, sizeof(req->peer_ip), "192.0.2.1");
	req->fields = c->field;
	req->nfields = c->n;
}

/* Field i is the header name, as http_request_header() matches one: the
 * whole name, so that one with a NUL in it ("X-Forwarded-Proto\0\0", whose
 * C string alone would match) is another header. */
static int
fz_is_header(const struct fz_conn *c, size_t i, const char *name)
{
	return c->field[i].name_len == strlen(name) && strcasecmp(c->name[i], name) == 0;
}

static void
fz_request_free(struct fz_conn *c, struct http_request *req)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->name[i]);
		free(c->value[i]);
	}
	free((char *)req->body);
}

/* Accepted and refused requests per dialect: each must see both. */
static size_t fz_dialect_seen[DIALECT__MAX][2];

/* A request as bytes: a digit picks the dialect, then the headers, an
 * empty line, and the body (any bytes). */
static int
fz_dialect(const uint8_t *d, size_t n)
{
	struct fz_conn conn;
	struct http_request req;
	struct token_request r;
	struct oauth_error e;
	const struct dialect *dl;
	int rc;

	if (n == 0)
		return 0;
	dl = &dialect_table[(d[0] & 0x0f) % DIALECT__MAX];
	fz_request(d, n, 1, &conn, &req);
	req.path = dl->default_path;
	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));

	rc = dialect_parse(dl, &req, &r, &e);
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(e.status == 400 || e.status == 401 || e.status == 406 ||
		    e.status == 415 || e.status == 500);
		FZ_CHECK(e.code < OAUTH_CODE__MAX);
		FZ_CHECK(memchr(e.description, '\0', sizeof(e.description)) != NULL);
		FZ_CHECK(e.description[0] != '\0');
		FZ_CHECK(!e.basic_challenge || e.status == 401);
	} else {
		size_t l;
		FZ_CHECK(r.client_id != NULL && r.client_secret != NULL && r.grant_type != NULL);
		l = strlen(r.client_id);
		FZ_CHECK(l >= 1 && l <= 128 && str_is_clean_utf8(r.client_id, l));
		FZ_CHECK(strlen(r.client_secret) <= SECRET_MAX_INPUT);
		FZ_CHECK((r.auth == CLIENT_AUTH_BASIC && (dl->auth & DIALECT_AUTH_BASIC)) ||
		    (r.auth == CLIENT_AUTH_BODY && (dl->auth & DIALECT_AUTH_BODY)));
		FZ_CHECK(r.grant_type[0] != '\0');
		if (r.lifetime_explicit)
			FZ_CHECK(r.lifetime >= 1 && r.lifetime <= 10 * 366 * 86400LL);
		else
			FZ_CHECK(r.lifetime == dl->default_lifetime);
		FZ_CHECK(r.scope == NULL || (r.scope[0] != '\0' &&
		    str_is_clean_utf8(r.scope, strlen(r.scope))));
		FZ_CHECK(r.audience == NULL || r.audience[0] != '\0');
		FZ_CHECK(r.token_name == NULL || (strlen(r.token_name) >= 1 &&
		    strlen(r.token_name) <= 128));
		FZ_CHECK(r.tenant == NULL || str_is_ident(r.tenant, strlen(r.tenant), 64));
	}
	fz_dialect_seen[dl - dialect_table][rc == 0]++;
	token_request_clear(&r);
	fz_request_free(&conn, &req);
	return rc == 0;
}

/* 1 when out is, canonically, one element of a value of the X-Forwarded-For
 * lines of conn (net/forwarded.h). */
static int
fz_forwarded_has(const struct fz_conn *conn, const char *out)
{
	for (size_t i = 0; i < conn->n; i++) {
		const char *v = conn->value[i];

		if (!fz_is_header(conn, i, "X-Forwarded-For"))
			continue;
		for (;;) {
			size_t m = strcspn(v, ",");
			char e[FORWARDED_ADDR_MAX];

			if (forwarded_element(v, m, e) == 0 && strcmp(e, out) == 0)
				return 1;
			if (v[m] == '\0')
				break;
			v += m + 1;
		}
	}
	return 0;
}

/* X-Forwarded-For from a trusted proxy (src/server/context.c). */
static int
fz_client_address(const uint8_t *d, size_t n)
{
	static struct gh_ctx ctx;
	struct fz_conn conn;
	struct http_request req;
	const char *err, *bad, *proto = NULL;
	char out[46];
	int https = 7, protos = 0, rc;

	if (ctx.trusted_proxies.n == 0)
		assert_int_equal(cidr_parse_list("192.0.2.0/24 10.0.0.0/8 ::1",
		    &ctx.trusted_proxies, &err, &bad), 0);
	fz_request(d, n, 0, &conn, &req);
	memset(out, 'x', sizeof(out));
	rc = ctx_client_address(&ctx, &req, out, &https);
	FZ_CHECK(memchr(out, '\0', sizeof(out)) != NULL);
	FZ_CHECK(https == 0 || https == 1);
	FZ_CHECK(rc == 0 || rc == -1);
	/* Unknown only behind a trusted proxy, and then never named by it. */
	FZ_CHECK(rc == 0 || (cidr_match(&ctx.trusted_proxies, req.peer_ip) &&
	    strcmp(out, req.peer_ip) == 0));
	/* A forwarded address is one of the header's elements, canonical. */
	if (rc == 0 && strcmp(out, req.peer_ip) != 0)
		FZ_CHECK(fz_forwarded_has(&conn, out));
	for (size_t i = 0; i < conn.n; i++)
		if (fz_is_header(&conn, i, "X-Forwarded-Proto")) {
			proto = conn.value[i];
			protos++;
		}
	FZ_CHECK(https == (protos == 1 && strcmp(proto, "https") == 0));
	fz_request_free(&conn, &req);
	return strcmp(out, "192.0.2.1") != 0;
}

static const char *const seeds_dialect[] = {
	"0Content-Type: application/x-www-form-urlencoded\n"
	"Authorization: Basic Y2xpZW50LTE6czNjcmV0\n\n"
	"grant_type=client_credentials&scope=cards%3Aread+payouts%3Awrite&audience=https%3A%2F%2Fapi",
	"0Content-Type: application/json\nX-TENANT-ID: t-1\n\n"
	"{\"grant_type\":\"client_credentials\",\"client_id\":\"c1\",\"client_secret\":\"s1\","
	"\"resource\":\"https://api\"}",
	"1Content-Type: application/json\n\n"
	"{\"clientId\":\"c\",\"clientSecret\":\"s\",\"grantType\":\"client_credentials\"}",
	"2Content-Type: application/json; charset=utf-8\nAccept: application/json\n\n"
	"{\"grant_type\":\"client_credentials\",\"client_id\":\"c\",\"client_secret\":\"s\","
	"\"scope\":\"a b\"}",
	"3Content-Type: application/json\n\n"
	"{\"api_key\":\"k\",\"client_secret\":\"s\",\"expiration\":3600,\"token_name\":\"nightly\"}",
	"4Content-Type: application/x-www-form-urlencoded\n"
	"Authorization: Basic bXklMjBjbGllbnQ6cCU0MHNzJTNBd29yZA==\n\n"
	"grant_type=client_credentials&scope=x",
};
static const char *const dict_dialect[] = { "Content-Type: application/json\n",
	"Authorization: Basic Og==\n", "Authorization: Bearer x\n", "X-TENANT-ID: t\n",
	"Accept: text/html\n", "\n\n", "client_id", "client_secret", "\"expiration\":",
	"\"token_name\":", "\"audience\":\"a\",", "&resource=b", "&client_id=c&client_secret=d",
	"application/x-www-form-urlencoded", "0", "1", "2", "3", "4",
	"Content-Type: application/x-www-form-urlencoded\n", "Accept: application/*\n",
	"\"client_id\":1,", "\"clientSecret\":null,", "\"grant_type\":[],", "\"scope\":\"\",",
	"\"api_key\":\"a\\u0000b\",", "\"expiration\":\"3600\",", "\"expiration\":1.5,",
	"\"expiration\":0,", "\"expiration\":315360001,", "\"audience\":\"a\",\"resource\":\"b\",",
	"\"token_name\":\"" "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
	"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\",",
	"audience=a&resource=b&", "X-TENANT-ID: bad tenant\n",
	"Accept: Application/JSON;q=0.\n", "Accept: , \t;q=\n", "Accept: */*;Q=0.000, x/*;q\n" };
static const char *const seeds_client_address[] = {
	"X-Forwarded-For: 203.0.113.7, 10.0.0.2\nX-Forwarded-Proto: https\n",
	"X-Forwarded-For: 2001:db8::1\n",
	"X-Forwarded-For: [2001:db8::7]:443\nX-Forwarded-Proto: http",
	"X-Forwarded-For: unknown, 198.51.100.9:5555\n",
	"X-Forwarded-For: 10.1.1.1 ,10.0.0.3,, 192.0.2.77\n",
};
static const char *const dict_client_address[] = { "X-Forwarded-For: ", ":443", "[", "]", "unknown",
	"X-Forwarded-Proto: https\n", ", ", ",", "10.0.0.9", "::1", "::ffff:10.0.0.1",
	"2001:db8::", "255.255.255.255", "\n" };

/* -- src/gate/policy ---------------------------------------------------- */

static int
fz_is_pchar_or_pct(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    (c != '\0' && strchr("-._~!$&'()*+,=:@/%", c) != NULL);
}

/* The query of the target d[0..n), if any, as an approval takes it
 * (policy_check_query): accepted only when made of RFC 3986 §3.4's
 * characters and whole escapes, none of them %00. */
static void
fz_query(const char *d, size_t n)
{
	const char *q = memchr(d, '?', n), *why = NULL;
	size_t qn;

	if (q == NULL)
		return;
	q++;
	qn = n - (size_t)(q - d);
	if (policy_check_query(q, qn, &why) == -1) {
		FZ_CHECK(why != NULL && why[0] != '\0');
		return;
	}
	for (size_t i = 0; i < qn; i++) {
		FZ_CHECK(fz_is_pchar_or_pct((unsigned char)q[i]) || q[i] == '?' || q[i] == ';');
		if (q[i] == '%')
			FZ_CHECK(i + 2 < qn && hex_digit((unsigned char)q[i + 1]) >= 0 &&
			    hex_digit((unsigned char)q[i + 2]) >= 0 &&
			    (q[i + 1] != '0' || q[i + 2] != '0'));
	}
}

static int
fz_normalize(const uint8_t *d, size_t n)
{
	char *out = malloc(POLICY_MAX_PATH + 1), again[POLICY_MAX_PATH + 1];
	const char *why = NULL, *again_why = NULL;
	size_t path_len, ol;
	int rc;

	assert_non_null(out);
	fz_query((const char *)d, n);
	rc = policy_normalize_path((const char *)d, n, out, &why);
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(why != NULL && why[0] != '\0');
		free(out);
		return 0;
	}
	ol = strlen(out);
	FZ_CHECK(ol >= 1 && ol <= POLICY_MAX_PATH && out[0] == '/');
	for (size_t i = 0; i < ol; i++) {
		FZ_CHECK(fz_is_pchar_or_pct((unsigned char)out[i]));
		if (out[i] == '%')	/* escapes upper-cased, never of unreserved */
			FZ_CHECK(i + 2 < ol && strchr("0123456789ABCDEF", out[i + 1]) &&
			    out[i + 1] != '\0' && strchr("0123456789ABCDEF", out[i + 2]) &&
			    out[i + 2] != '\0');
	}
	FZ_CHECK(!fz_contains(out, ol, "/./") && !fz_contains(out, ol, "/../"));
	FZ_CHECK(strstr(out, "//") == NULL);
	/* Every byte of the path (before '?' or '#') is a visible ASCII
	 * character: RFC 3986 has no others, so anything else is refused. */
	for (path_len = 0; path_len < n && d[path_len] != '?' && d[path_len] != '#'; path_len++)
		FZ_CHECK(d[path_len] > 0x20 && d[path_len] < 0x7f);
	/* Canonical form is a fixed point. */
	FZ_CHECK(policy_normalize_path(out, ol, again, &again_why) == 0);
	FZ_CHECK(strcmp(again, out) == 0);
	free(out);
	return 1;
}

/* r's pattern as a path, into out (POLICY_MAX_PATH + 1 bytes): its
 * segments, with each {tenant} and {client} written as ids[kind] (NULL:
 * '*', as parsed). */
static void
fz_pattern_path(const struct policy_rule *r, const char *const ids[POLICY_BIND__MAX], char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < r->nsegs; i++) {
		const char *seg = r->binds[i] && ids != NULL ? ids[r->binds[i]] : r->segs[i];
		size_t n = strlen(seg);
		FZ_CHECK(o + 1 + n <= POLICY_MAX_PATH);
		out[o++] = '/';
		memcpy(out + o, seg, n);
		o += n;
	}
	out[o] = '\0';
}

static int
fz_policy(const uint8_t *d, size_t n)
{
	static const size_t errlens[] = { 0, 1, 40, 4096 };
	size_t errlen = errlens[test_rng_below(GH_ARRAY_LEN(errlens))];
	char *err = malloc(errlen > 0 ? errlen : 1);
	struct policy *p = (struct policy *)1;
	int rc;

	assert_non_null(err);
	rc = policy_parse((const char *)d, n, "fuzz.policy", &p, err, errlen);
	FZ_CHECK(rc == 0 || rc == -1);
	if (errlen > 0)
		FZ_CHECK(memchr(err, '\0', errlen) != NULL);
	if (rc == -1) {
		FZ_CHECK(p == NULL);
		if (errlen > 1)
			FZ_CHECK(err[0] != '\0');
		free(err);
		return 0;
	}
	FZ_CHECK(p != NULL && atomic_load(&p->refs) == 1 && p->n <= POLICY_MAX_RULES);
	for (size_t i = 0; i < p->n; i++) {
		const struct policy_rule *r = &p->rules[i];
		static const char *const ids[POLICY_BIND__MAX] = { "", "T", "C" };
		char norm[POLICY_MAX_PATH + 1], path[POLICY_MAX_PATH + 1], named[POLICY_MAX_PATH + 1];
		const char *why;
		enum http_method m = HTTP_GET;
		enum policy_bind which;
		FZ_CHECK(r->methods != 0 && (r->methods & ~((1u << HTTP_METHOD__MAX) - 1)) == 0);
		FZ_CHECK(r->pattern != NULL && r->nsegs >= 1 && r->nsegs <= POLICY_MAX_SEGMENTS);
		/* The pattern is canonical but for its placeholders, which
		 * bind whole segments parsed as '*'. */
		FZ_CHECK(r->bound == (strchr(r->pattern, '{') != NULL));
		fz_pattern_path(r, NULL, path);
		FZ_CHECK(policy_normalize_path(path, strlen(path), norm, &why) == 0 &&
		    strcmp(norm, path) == 0);
		FZ_CHECK(r->bound || strcmp(path, r->pattern) == 0);
		/* Bound segments naming the caller pass; naming another does not. */
		fz_pattern_path(r, ids, named);
		FZ_CHECK(policy_check_binds(r, named, "T", "C", &which) == 0);
		if (r->bound)
			FZ_CHECK(policy_check_binds(r, named, "U", "D", &which) == -1 &&
			    which > POLICY_BIND_NONE && which < POLICY_BIND__MAX);
		FZ_CHECK(r->nscopes <= POLICY_MAX_SCOPES);
		FZ_CHECK((r->nscopes == 0) == (r->scope_text == NULL));
		for (size_t k = 0; k < r->nscopes; k++)
			FZ_CHECK(scope_token_ok(r->scopes[k], strlen(r->scopes[k])));
		FZ_CHECK(r->role >= POLICY_ROLE_VIEWER && r->role <= POLICY_ROLE_ADMIN);
		FZ_CHECK(r->env < POLICY_ENV__MAX && r->style < POLICY_STYLE__MAX);
		FZ_CHECK(r->aud == NULL || strlen(r->aud) <= 512);
		FZ_CHECK(r->line >= 1);
		/* A rule's own pattern, read as a path, is matched by some rule. */
		while (!(r->methods & (1u << m)))
			m++;
		FZ_CHECK(policy_match(p, m, path) != NULL);
		/* Its readings agree, or it is refused with a reason; the rule
		 * that decides is the one policy_match finds. */
		{
			const struct policy_rule *got = NULL;
			const char *amb = NULL;
			if (policy_match_call(p, m, path, &got, &amb) == 0)
				FZ_CHECK(got == policy_match(p, m, path));
			else
				FZ_CHECK(amb != NULL && amb[0] != '\0');
		}
	}
	policy_unref(p);
	free(err);
	return 1;
}

static const char *const seeds_normalize[] = { "/v1/cards/123/balance", "/v1/payouts?x=1&y=%2F",
	"/a/%7euser/b%2d/%e2%82%ac", "/a/b/", "/", "/v2.01/clients/c-1/users?a=1#frag",
	"/internal/ledger/entries:batch@x" };
static const char *const dict_normalize[] = { "/", "//", "/.", "/..", "%2F", "%2f", "%5C",
	"%3B", "%3b", "%00", "%7E", "%41", ";", "?", "#", "%", "\\" };
static const char *const seeds_policy[] = {
	"# Catalogue\nGET            /v1/products/**              role=viewer   scopes=products:read\n"
	"\n"
	"GET            /v1/cards/*/balance          role=viewer   scopes=cards:read env=any\n"
	"POST           /v1/cards/*/load             role=operator scopes=cards:write\n"
	"DELETE         /v1/cards/*                  role=admin    scopes=cards:write critical\n",
	"POST /v1/payouts role=operator scopes=payouts:write,payouts:approve critical\r\n"
	"GET,POST\t/internal/ledger/**\trole=operator aud=https://ledger.internal env=any\r\n",
	"*              /v2.01/**                    role=viewer   errors=mangopay tenant=optional env=any",
	"GET /v1/tenants/{tenant}/cards/** role=viewer\n* /v2.01/{client}/{tenant}/x\nGET /v1/{tenant}\n",
	"PUT,PATCH /v1/users/*/ role=admin env=sandbox errors=rfc6750 tenant=required\n"
	"HEAD /healthz\nOPTIONS /**\n",
	"",
};
static const char *const dict_policy[] = { "GET ", "POST ", "*", "**", "/*", "/**", "role=",
	"/{tenant}", "/{client}", "{", "}",
	"admin", "scopes=", "a,b", ",", "env=", "any", "aud=", "critical", "critical=1",
	"errors=", "mangopay", "tenant=", "optional", "\n", "\r\n", "\t", "# ", " x=y",
	"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,", "scopes=,",
	"role=root", "env=test", "tenant=maybe", "errors=xml", "GET /v1/products/**\n" };

/* -- src/net/cidr ------------------------------------------------------- */

static int
fz_cidr(const uint8_t *d, size_t n)
{
	char *s = fz_cstr(d, n), text[CIDR_MAX_BLOCKS * 64];
	struct cidr_list l, again;
	const char *err = NULL, *bad = NULL;
	int rc = cidr_parse_list(s, &l, &err, &bad);

	FZ_CHECK(rc == 0 || rc == -1);
	/* The input as an address to match: 0 or 1, nothing else. */
	{
		struct cidr_list fixed;
		int m;
		assert_int_equal(cidr_parse_list("10.0.0.0/8 2001:db8::/32 fe80::/10", &fixed,
		    &err, &bad), 0);
		m = cidr_match(&fixed, s);
		FZ_CHECK(m == 0 || m == 1);
		m = rc == 0 ? cidr_match(&l, s) : 0;
		FZ_CHECK(m == 0 || m == 1);
	}
	if (rc == -1) {
		FZ_CHECK(err != NULL && err[0] != '\0');
		FZ_CHECK(bad != NULL && bad >= s && bad < s + strlen(s));
		free(s);
		return 0;
	}
	FZ_CHECK(l.n <= CIDR_MAX_BLOCKS);
	for (size_t i = 0; i < l.n; i++) {
		const struct cidr *b = &l.blocks[i];
		int max = b->family == 4 ? 32 : 128;
		char a[INET6_ADDRSTRLEN];
		struct cidr_list one;
		FZ_CHECK(b->family == 4 || b->family == 6);
		FZ_CHECK(b->bits >= 0 && b->bits <= max);
		for (int k = b->bits; k < max; k++)	/* host bits are zero */
			FZ_CHECK((b->addr[k / 8] & (0x80 >> (k % 8))) == 0);
		/* The block's own address is inside it. */
		FZ_CHECK(inet_ntop(b->family == 4 ? AF_INET : AF_INET6, b->addr, a, sizeof(a)) != NULL);
		one.n = 1;
		one.blocks[0] = *b;
		FZ_CHECK(cidr_match(&one, a) == 1);
	}
	/* The canonical text reads back as the same list. */
	cidr_format_list(&l, text, sizeof(text));
	FZ_CHECK(cidr_parse_list(text, &again, &err, &bad) == 0 && again.n == l.n);
	for (size_t i = 0; i < l.n; i++)
		FZ_CHECK(again.blocks[i].family == l.blocks[i].family &&
		    again.blocks[i].bits == l.blocks[i].bits &&
		    memcmp(again.blocks[i].addr, l.blocks[i].addr,
		    l.blocks[i].family == 4 ? 4 : 16) == 0);
	/* A short buffer is cut, never overrun. */
	{
		size_t sl = test_rng_below(24);
		char *small = malloc(sl > 0 ? sl : 1);
		assert_non_null(small);
		cidr_format_list(&l, small, sl);
		if (sl > 0)
			FZ_CHECK(memchr(small, '\0', sl) != NULL);
		free(small);
	}
	free(s);
	return 1;
}

static const char *const seeds_cidr[] = { "10.0.0.0/8 192.168.1.1", "::1, 2001:db8::/32",
	"::ffff:10.1.2.3", "0.0.0.0/0,::/0", "fe80::/10\t127.0.0.1/32", "" };
static const char *const dict_cidr[] = { "/", "/0", "/32", "/33", "/128", "/129", "/-1",
	"::", ":", "::ffff:", "1.2.3.4", "255.255.255.255", "256.0.0.0", " ", ",", "%eth0" };

/* -- src/config --------------------------------------------------------- */

static char fz_dir[TMPDIR_LEN];

static int
fz_config(const uint8_t *d, size_t n)
{
	static const size_t errlens[] = { 1, 17, 256, 4096 };
	size_t errlen = errlens[test_rng_below(GH_ARRAY_LEN(errlens))];
	char path[TMPDIR_LEN + 32], *err = malloc(errlen);
	struct config c;
	FILE *f;
	int rc;

	assert_non_null(err);
	snprintf(path, sizeof(path), "%s/fuzz.conf", fz_dir);
	/* A new file each time: ext4 flushes one truncated and rewritten
	 * (auto_da_alloc), which made this target wait on the disk. */
	(void)unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(d, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
	config_defaults(&c);
	rc = config_load(&c, path, err, errlen);
	FZ_CHECK(rc == 0 || rc == -1);
	FZ_CHECK(memchr(err, '\0', errlen) != NULL);
	if (rc == -1) {
		if (errlen > 1)
			FZ_CHECK(err[0] != '\0');
	} else {
		const char *const strs[] = { c.db, c.master_key, c.listen, c.issuer, c.tls_cert,
		    c.tls_key, c.trusted_proxies, c.audiences, c.signing_alg, c.policy,
		    c.platform_tenant, c.maker_checker, c.route[0], c.route[4] };
		char verr[256];
		/* A file is text: a NUL byte in it is never read past. */
		FZ_CHECK(memchr(d, '\0', n) == NULL);
		for (size_t i = 0; i < GH_ARRAY_LEN(strs); i++)
			FZ_CHECK(strs[i] != NULL && str_is_clean_utf8(strs[i], strlen(strs[i])));
		FZ_CHECK(c.threads >= 0 && c.threads <= 256);
		FZ_CHECK(c.log_requests == 0 || c.log_requests == 1);
		FZ_CHECK(c.require_https >= -1 && c.require_https <= 1);
		FZ_CHECK(c.ttl_sandbox >= 60 && c.ttl_sandbox <= 31 * 86400);
		FZ_CHECK(c.max_ttl >= 60 && c.max_ttl <= 366 * 86400);
		FZ_CHECK(c.leeway >= 0 && c.leeway <= 300);
		FZ_CHECK(c.lockout_pair_threshold >= 1 && c.lockout_pair_threshold <= 1000);
		FZ_CHECK(c.gate_cache_size >= 64 && c.gate_cache_size <= 10000000);
		FZ_CHECK(c.gate_refresh_ms >= 0 && c.gate_refresh_ms <= 1000);
		FZ_CHECK(c.approval_ttl >= 1 && c.approval_ttl <= 366 * 86400);
		rc = config_validate(&c, verr, sizeof(verr));
		FZ_CHECK(rc == 0 || (rc == -1 && verr[0] != '\0'));
		rc = 0;
	}
	config_clear(&c);
	free(err);
	return rc == 0;
}

static const char *const seeds_config[] = {
	"db = sqlite:/tmp/x.db\nlisten = 127.0.0.1:8080\nthreads = 4\n# comment\n"
	"ttl_sandbox = 20m\nrequire_https = auto\n",
	"route.oauth = /oauth/token\nroute.mangopay = off\nlockout_window = 15m\n"
	"maker_checker = always\nsecret_rotation_age = 90d\n",
	"log_requests = false\r\ngate_cache_size = 100000\r\n  leeway\t=\t30s  \r\n",
	"issuer = https://auth.example.com\ntrusted_proxies = 10.0.0.0/8 ::1\n"
	"audiences = https://api.example.com https://ledger\nsigning_alg = ES256",
	"",
};
static const char *const dict_config[] = { " = ", "=", "threads", "leeway", "max_ttl",
	"require_https", "auto", "yes", "off", "d", "h", "m", "s", "route.oauth", "db",
	"lockout-window", "\n#", "\n", "\r\n", "\t" };

/* -- src/util/json_flat ------------------------------------------------- */

static int
fz_json_flat(const uint8_t *d, size_t n)
{
	char *s = fz_cstr(d, n), *text;
	size_t sl = strlen(s), worst = 6 * sl + 2, cap, tl = 0;
	json_t *j, *valid = json_stringn(s, sl);	/* NULL: not UTF-8 */
	struct json_flat f;
	int w;

	/* The worst case fits exactly; a smaller buffer is refused or cut
	 * short, never overrun. */
	cap = !fz_is_seed() && test_rng_below(3) == 0 ? test_rng_below(worst + 1) : worst;
	text = malloc(cap > 0 ? cap : 1);
	assert_non_null(text);
	w = json_append_string(text, 0, cap, s);
	FZ_CHECK(w == -1 || (w >= 2 && (size_t)w <= cap && (size_t)w <= worst));
	if (cap == worst)
		FZ_CHECK(w != -1);
	if (w > 0 && valid != NULL) {
		char *z = xstrndup(text, (size_t)w);
		json_error_t je;
		assert_non_null(z);
		j = json_loads(z, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
		FZ_CHECK(j != NULL && json_is_string(j) && json_equal(j, valid));
		json_decref(j);
		free(z);
	}
	free(text);
	/* The flat object writer around it. */
	json_flat_begin(&f);
	json_flat_str(&f, "scope", s);
	json_flat_int(&f, "exp", (long long)(test_rng() >> 1) * (test_rng_below(2) ? 1 : -1));
	json_flat_str(&f, "jti", "x");
	text = json_flat_end(&f, &tl);
	FZ_CHECK(text != NULL && strlen(text) == tl);
	if (valid != NULL) {
		json_error_t je;
		j = json_loads(text, 0, &je);
		FZ_CHECK(j != NULL && json_equal(json_object_get(j, "scope"), valid));
		FZ_CHECK(json_is_integer(json_object_get(j, "exp")));
		json_decref(j);
	}
	free(text);
	json_decref(valid);
	free(s);
	return w != -1;
}

static const char *const seeds_json_flat[] = { "cards:read payouts:write", "caf\xc3\xa9 \"q\" \\",
	"tab\there\x01\x1f", "\xf0\x9f\x98\x80", "" };

/* -- src/jose: JWK, JWS; lib/verify: JWKS, tokens ------------------------ */

#define FZ_ISSUER	"https://gh.test"
#define FZ_EXP		"4102444800"	/* 2100-01-01: seeds stay valid */
#define FZ_PAST		"1700000000"

/*
 * Fixed keys (PKCS#8, base64), made for this test only and used nowhere
 * else, so that every run mutates the same bytes: fresh keys would change
 * the JWK and token seeds, and with them which mutations pass.
 */
static const char fz_rs_pkcs8[] =
	"MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQClCp24DBA+zoGKyMZjsjM0"
	"9Zb29U7doOL9flf7JKdWw4wzjwk/49CBDp8WaON/Qv6zCu4twYkqanoEYLhBcbtBGTqu8Fz7"
	"SHcoEJkcXo7C/YZltHV1jknrqiiSO+P4C8kx9/YiH05XtLaGaOrlKmva4kLJpYHeh+l3WAGw"
	"ojbuWBL1gcE4k3CDjJv2hFCWJ5tcnFhDN/uvLduh5Vtt3eRYUtkSTJBHCji951gtD4yddgRN"
	"tZudrX68cFkVo1GEEldQTQmLh+JqEmg0lvrQ9VgMtzsmEtQckeK/dwVeUFToeUzLAhc8q7vu"
	"aBESpDnjNWQDnU56bjX9R0vYVthRVnqfAgMBAAECggEAE2a/lWAJqtsg0bKk1m8fjkAOn/fE"
	"w9CteR+YnSPjw2iCe0R7Jwu+D5CAoCRIFhuckGnzsjpNnchdkVUuDozITAX4vDxHr0cyBr+I"
	"wukqFCm0hRE6kPgJ9Y5lGD0PzAbVVIPx5x9SA4UcGInjOc8Lqx6tEO0IFXkEYiyyKimvlm4L"
	"aDz6qlHO6AvXGIYeC1+MwRsIEJF+HTPec2188Pov6+WgmF6vnK8ovFI5SHQ0tzZuJVzFmSw2"
	"p0vPfqxtU9HH99+s7fdYK0vSp9+8jnLbMhCf5K6R46R1wc8hnGMJdYgpt5LJiNeVtB7/8rPM"
	"4wtVipyUd8Jd/vfnCbvrC5DFaQKBgQDV6IVU4eED2fwJ2OXUAFUKr2kXQMyKQum/jfYTUXwI"
	"qGhd1+/e+Z6mHLMdsOWGAVcjEYtpwVV/Myph0jFgXw1rjVFOj2o6GksJwHCMfjibYWhJ7ozL"
	"Q17AtWm8dbK+nWXCBojVvDDRtvGwz6C8dFF6OQYxBJFxI6s4boH7KdbhRwKBgQDFhHa/Pt9x"
	"Iu+KFwWJsykPmYqbUmqDGu8ESvashK7f7p9fntj9rt2bAnGe5X6D8ilj7kBqQHULwMWnhT2b"
	"S6Cgf7ZiCatsbFVpmG2uaOjG5SpnL3pXWZKyXAfunUlc4JAgBIngs8Dy1So5deDt2IGR4YOc"
	"2SZfjr46sNkvd9GH6QKBgGBBsPYAaxQjnIIF424h9CLJyl2XYDN7Zto3FJue2FTBC63nBN7u"
	"rxCK66MZvj8uDTsPow+k20dRC+pW/rciLtTOE99pM+EPgeLSgRMHnYt2KsrSGPNCzrmjKQCQ"
	"ai3SgD7uV9buR32neF0bIXaMVTnNvVaDertR1LOhLsaKDlLzAoGAKMlCsBkukLEzH6PDW/zo"
	"BLWi/pHVNr9wDcXhDBzV853VwSwPCMt8LU8i4TnolxyBWYZQPOCUitnCtuX3o8LJJ3tX0QTI"
	"Jjp0pLp6I6K8Np4J1IbkT3dKqJQCe051YL1qZYIqaoET3dEQyA7EZLjpgJM91zysBN14AKyW"
	"HIw0c0kCgYAJd+QbfMJarhU/fJyWPg+DjPhD6fd439Ialg4Zdi5nznPbBR167UcO61xp98W+"
	"ECbp6f4Xp/axT7RF+hE2BLye9WSiotGuZgFkcoMmNYZZHI0dcyBPZeNCF39UpJlIPVwKUeaZ"
	"VBPji6Djr7dh9qou67VnAhXziQI0bAECZdmsKg==";
static const char fz_es_pkcs8[] =
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgXNCnH9pa7VgJrHRDClvLYe2F"
	"kqlix9EE51n0lHIBb4OhRANCAATyyDIQxcMDGpD878ieT9IKr8hnO8kU/4/iT9tppwzlUJ2u"
	"A7ELY2dUO+aW6VY6XePz1NOmY2lOrH6vYZ/Xukok";
static const char fz_ed_pkcs8[] =
	"MC4CAQAwBQYDK2VwBCIEIFY1F2igrUojRA9d6uAgjyJPzFgfClO/q3iKAFDISB6x";

static struct jose_key *fz_keys[3];	/* rs1 (RS256), es1 (ES256), ed1 (EdDSA) */
static gh_verifier *fz_verifier;
static char *fz_jwk_seeds[5];
static char *fz_jwks_seeds[2];
static char *fz_jwks_many;	/* FZ_JWKS_MANY keys: more than a set once held */
#define FZ_JWKS_MANY	66
static char *fz_token_seeds[4];
static char *fz_signed_seeds[3];

static const struct jose_key *
fz_lookup(void *arg, const char *kid)
{
	(void)arg;
	for (size_t i = 0; i < GH_ARRAY_LEN(fz_keys); i++)
		if (strcmp(jose_key_kid(fz_keys[i]), kid) == 0)
			return fz_keys[i];
	return NULL;
}

static void
fz_claims_zero(const struct gh_verify_claims *c)
{
	FZ_CHECK(c->client_id == NULL && c->tenant_id == NULL && c->sub == NULL &&
	    c->jti == NULL && c->scope == NULL && c->env == NULL && c->roles == 0 &&
	    c->exp == 0 && c->nbf == 0 && c->iat == 0 && c->payload_json == NULL);
}

/* One token through jose_verify_compact, claims_check and the library's
 * gh_verify_token; 1 when the library accepts it. */
/* A key set installed by hand, as if just fetched with an hour's max-age:
 * one aged from the monotonic clock's zero is past any max_stale on a
 * machine up for more than an hour, and refused whole. */
static void
fz_keyset_fresh(struct keyset *s)
{
	s->fetched = mono_ms();
	s->max_age = 3600;
}

static int
fz_check_token(const char *tok, size_t n)
{
	static struct jose_jwt jwt;	/* ~22 KB; the fuzzer is one thread */
	const struct jose_key *k = (const struct jose_key *)1;
	const char *err = NULL, *tenant = test_rng_below(2) ? "t1" : NULL;
	struct gh_verify_claims vc;
	int rc, vr, jose_ok;

	memset(&jwt, 0x5a, sizeof(jwt));
	rc = jose_verify_compact(tok, n, fz_lookup, NULL, &jwt, &k, &err);
	FZ_CHECK(rc == 0 || rc == -1);
	jose_ok = rc == 0;
	if (rc == -1) {
		FZ_CHECK(err != NULL && err[0] != '\0');
		/* The key is set only on success; the views are left empty. */
		FZ_CHECK(k == (const struct jose_key *)1 && jwt.header.n == 0 && jwt.claims.n == 0);
	} else {
		struct claims_rules rules;
		struct claims cl;
		char desc[64] = "";
		enum claims_err ce;
		FZ_CHECK(jwt.header.n <= JOSE_MAX_HEADER_MEMBERS && jwt.claims.n <= JOSE_MAX_CLAIMS &&
		    k != NULL);
		FZ_CHECK(json_view_get(&jwt.header, "alg") != NULL && json_view_get(&jwt.header, "kid") != NULL);
		FZ_CHECK(n <= JOSE_MAX_TOKEN_LEN);
		memset(&rules, 0, sizeof(rules));
		rules.issuer = FZ_ISSUER;
		rules.audience = test_rng_below(2) ? "https://api.test" : NULL;
		rules.tenant = tenant;
		rules.now = (int64_t)time(NULL);
		rules.leeway = 30;
		rules.skip_time = test_rng_below(4) == 0;
		ce = claims_check(&jwt.header, &jwt.claims, &rules, &cl, desc, sizeof(desc));
		FZ_CHECK(ce < CLAIMS_ERR__MAX);
		FZ_CHECK(memchr(desc, '\0', sizeof(desc)) != NULL);
		if (ce == CLAIMS_OK) {
			FZ_CHECK(cl.client_id != NULL && cl.client_id[0] != '\0');
			FZ_CHECK(cl.tenant_id != NULL && cl.jti != NULL && cl.scope != NULL);
			FZ_CHECK(cl.exp >= 0 && cl.exp < (INT64_C(1) << 40));
			FZ_CHECK((cl.roles & ~7u) == 0);
			FZ_CHECK(tenant == NULL || strcmp(cl.tenant_id, tenant) == 0);
		}
	}
	memset(&vc, 0x5a, sizeof(vc));
	vr = gh_verify_token(fz_verifier, tok, n, tenant, &vc);
	FZ_CHECK(vr >= 0 && vr < GH_VERIFY__MAX && vr != GH_VERIFY_INVALID_ARGUMENT);
	FZ_CHECK(strcmp(gh_verify_strerror(vr), "unknown result") != 0);
	if (vr != GH_VERIFY_OK) {
		fz_claims_zero(&vc);	/* "on any error it is left zeroed" */
		return 0;
	}
	FZ_CHECK(jose_ok);	/* the library accepts nothing jose refuses */
	FZ_CHECK(vc.client_id != NULL && vc.client_id[0] != '\0' && vc.tenant_id != NULL &&
	    vc.jti != NULL && vc.scope != NULL && vc.env != NULL && vc.payload_json != NULL);
	FZ_CHECK(tenant == NULL || strcmp(vc.tenant_id, tenant) == 0);
	FZ_CHECK(strcmp(vc.env, "production") == 0 || strcmp(vc.env, "sandbox") == 0);
	FZ_CHECK((vc.roles & ~7u) == 0);
	if (gh_verify_has_scope(&vc, "cards:read"))
		FZ_CHECK(strstr(vc.scope, "cards:read") != NULL);
	gh_verify_claims_clear(&vc);
	fz_claims_zero(&vc);
	return 1;
}

static int
fz_token(const uint8_t *d, size_t n)
{
	return fz_check_token((const char *)d, n);
}

/* "HEADER\nPAYLOAD": both JSON texts, signed here with ed1 so that the
 * parsers behind the signature check see the mutations. */
static int
fz_signed(const uint8_t *d, size_t n)
{
	const uint8_t *nl = memchr(d, '\n', n);
	size_t hl = nl ? (size_t)(nl - d) : n, pl = nl ? n - hl - 1 : 0, o, siglen = 0;
	char *tok;
	uint8_t sig[JOSE_MAX_SIG_LEN];
	int rc;

	tok = malloc(b64url_encoded_len(hl) + b64url_encoded_len(pl) +
	    b64url_encoded_len(JOSE_MAX_SIG_LEN) + 3);
	assert_non_null(tok);
	o = b64url_encode(d, hl, tok);
	tok[o++] = '.';
	o += b64url_encode(nl ? nl + 1 : d + n, pl, tok + o);
	assert_int_equal(jose_sign_raw(fz_keys[2], (const uint8_t *)tok, o, sig, &siglen), 0);
	tok[o++] = '.';
	o += b64url_encode(sig, siglen, tok + o);
	rc = fz_check_token(tok, o);
	free(tok);
	return rc;
}

static int
fz_jwk(const uint8_t *d, size_t n)
{
	json_error_t je;
	json_t *j = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, &je), *pub;
	struct jose_key *k = NULL, *k2 = NULL;
	const char *err = NULL;
	int rc;

	if (j == NULL)
		return 0;
	rc = jose_key_from_jwk(j, &k, &err);
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(err != NULL && err[0] != '\0' && k == NULL);
		json_decref(j);
		return 0;
	}
	FZ_CHECK(k != NULL && !jose_key_can_sign(k));
	FZ_CHECK(jose_key_alg(k) < JOSE_ALG__MAX);
	FZ_CHECK(strlen(jose_key_kid(k)) >= 1 && strlen(jose_key_kid(k)) <= JOSE_MAX_KID_LEN);
	FZ_CHECK(strcmp(jose_key_kid(k), json_string_value(json_object_get(j, "kid"))) == 0);
	/* The key written back as a JWK reads in as the same key. */
	pub = jose_key_public_jwk(k);
	FZ_CHECK(pub != NULL);
	FZ_CHECK(jose_key_from_jwk(pub, &k2, &err) == 0);
	FZ_CHECK(jose_key_alg(k2) == jose_key_alg(k) && strcmp(jose_key_kid(k2), jose_key_kid(k)) == 0);
	FZ_CHECK(EVP_PKEY_eq(k->pkey, k2->pkey) == 1);
	json_decref(pub);
	jose_key_free(k2);
	jose_key_free(k);
	json_decref(j);
	return 1;
}

static int
fz_jwks(const uint8_t *d, size_t n)
{
	struct keyset *s = (struct keyset *)1, *old;
	int rc = keyset_from_jwks((const char *)d, n, &s), accepted;

	FZ_CHECK(rc == GH_VERIFY_OK || rc == GH_VERIFY_JWKS_UNAVAILABLE);
	if (rc != GH_VERIFY_OK) {
		FZ_CHECK(s == (struct keyset *)1);	/* *out untouched */
		return 0;
	}
	FZ_CHECK(s != NULL && s->n <= s->cap && atomic_load(&s->refs) == 1);
	for (size_t i = 0; i < s->n; i++) {
		FZ_CHECK(s->e[i].key != NULL);
		FZ_CHECK(memchr(s->e[i].env, '\0', sizeof(s->e[i].env)) != NULL);
		FZ_CHECK(strlen(jose_key_kid(s->e[i].key)) <= JOSE_MAX_KID_LEN);
	}
	accepted = s->n > 0;
	/* The verifier over this key set, with a token of each key. */
	fz_keyset_fresh(s);
	pthread_mutex_lock(&fz_verifier->lock);
	old = fz_verifier->set;
	fz_verifier->set = s;
	pthread_mutex_unlock(&fz_verifier->lock);
	for (size_t t = 0; t < 3; t++) {
		struct gh_verify_claims vc;
		int vr = gh_verify_token(fz_verifier, fz_token_seeds[t], strlen(fz_token_seeds[t]),
		    NULL, &vc);
		FZ_CHECK(vr >= 0 && vr < GH_VERIFY__MAX);
		if (vr == GH_VERIFY_OK)
			gh_verify_claims_clear(&vc);
		else
			fz_claims_zero(&vc);
	}
	pthread_mutex_lock(&fz_verifier->lock);
	fz_verifier->set = old;
	pthread_mutex_unlock(&fz_verifier->lock);
	keyset_unref(s);
	return accepted;
}

static const char *const dict_jose[] = { "\"kty\":", "\"RSA\"", "\"EC\"", "\"OKP\"", "\"alg\":",
	"\"RS256\"", "\"PS256\"", "\"ES256\"", "\"EdDSA\"", "\"none\"", "\"HS256\"", "\"crv\":",
	"\"P-256\"", "\"Ed25519\"", "\"X25519\"", "\"use\":\"enc\",", "\"kid\":", "\"e\":\"AQAB\",",
	"\"e\":\"Aw\",", "\"e\":\"AAEAAQ\",", "\"crit\":[\"exp\"],", "\"typ\":", "\"at+jwt\"", "\"JWT\"",
	"\"exp\":", "\"nbf\":", "\"aud\":[\"a\",1],", "\"roles\":[\"admin\",null],", "\"env\":",
	"\"sandbox\"", "\"keys\":", ".", "..", "eyJ", "AAAA", "\"tenant_id\":\"t2\",", "1e300",
	"\"e\":\"AQ\",", "\"e\":\"Ag\",", "\"alg\":\"RS256\",", "\"alg\":\"EdDSA\",",
	"\"alg\":\"ES256\",", "\"nbf\":4102444800,", "\"iat\":4102444800,", "\"aud\":1,",
	"\"roles\":\"admin\",", "\"roles\":[1],", "\"exp\":-1,", "\"exp\":1e20,",
	"\"iss\":\"https://other\",", "\"env\":\"production\",", "\"scope\":7," };

/* -- lib/verify/cachectl: the JWKS answer's Cache-Control and Age ------- */

/* Accepted: a well-formed field. Whatever it says, the lifetime is -1 or
 * in [0, 2^31], and a field line seen twice says the same as once. */
static int
fz_cachectl(const uint8_t *d, size_t n)
{
	struct cachectl once, twice;
	int64_t life, age;

	memset(&once, 0, sizeof(once));
	cachectl_add(&once, (const char *)d, n);
	life = cachectl_lifetime(&once);
	FZ_CHECK(life >= -1 && life <= CACHECTL_DELTA_MAX);
	FZ_CHECK(life != -1 || (!once.has_max_age && !once.stale && !once.invalid));
	twice = once;
	cachectl_add(&twice, (const char *)d, n);
	FZ_CHECK(cachectl_lifetime(&twice) == life);
	age = cachectl_age((const char *)d, n);
	FZ_CHECK(age >= -1 && age <= CACHECTL_DELTA_MAX);
	return !once.invalid;
}

static const char *const seeds_cachectl[] = { "public, max-age=300", "max-age=0", "no-store",
	"private, max-age=\"60\"", "no-cache=\"Set-Cookie, Age\", max-age=5",
	"max-age=99999999999999999999, ,public", "s-maxage=10,\tmax-age=10" };
static const char *const dict_cachectl[] = { ",", "=", "\"", "\\", " ", "\t", "max-age=",
	"MAX-AGE=", "no-cache", "no-store", "s-maxage", "-1", "\"\\\"\"", "\x7f", "\x80" };

/* -- lib/client: token answers and ISO 8601 ----------------------------- */

#define FZ_CLIENT_NOW	INT64_C(1720000000)	/* 2024-07-03 */
#define FZ_CLIENT_SECRET "s3cr3t-Zq9"

static int
fz_client_token(const uint8_t *d, size_t n)
{
	struct gh_client_error e;
	struct ghc_redactions r = { 0 };
	enum gh_client_dialect dl;
	char *token = (char *)1;
	int64_t life = -7, wall = -7;
	enum gh_client_err rc;

	if (n == 0)
		return 0;
	dl = (enum gh_client_dialect)((d[0] & 0x0f) % GH_CLIENT_DIALECT__MAX);
	memset(&e, 0, sizeof(e));
	ghc_redactions_add(&r, FZ_CLIENT_SECRET, strlen(FZ_CLIENT_SECRET));
	rc = ghc_token_parse(dl, (const char *)d + 1, n - 1, FZ_CLIENT_NOW, &r, &token, &life,
	    &wall, &e);
	if (rc != GH_CLIENT_OK) {
		FZ_CHECK(rc == GH_CLIENT_ERR_BAD_RESPONSE || rc == GH_CLIENT_ERR_BAD_LIFETIME);
		FZ_CHECK(token == NULL && life == -7);
		FZ_CHECK(e.code == rc && memchr(e.message, '\0', sizeof(e.message)) != NULL);
		/* What the server sent is echoed only with the secret cut out. */
		FZ_CHECK(strstr(e.message, FZ_CLIENT_SECRET) == NULL);
		return 0;
	}
	FZ_CHECK(token != NULL && token[0] != '\0');
	FZ_CHECK(strlen(token) <= GH_CLIENT_TOKEN_MAX && ghc_token_syntax_ok(token, strlen(token)));
	FZ_CHECK(life > 0 && life <= GHC_MAX_LIFETIME_S);
	FZ_CHECK(wall == FZ_CLIENT_NOW + life);
	free(token);
	return 1;
}

static int
fz_iso8601(const uint8_t *d, size_t n)
{
	char *s = fz_cstr(d, n);
	int64_t t = -7;
	int rc = ghc_parse_iso8601(s, &t);

	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1)
		FZ_CHECK(t == -7);
	else	/* years 0000..9999, offsets up to a day */
		FZ_CHECK(t >= INT64_C(-62167219200) - 86400 && t <= INT64_C(253402300799) + 86400);
	free(s);
	return rc == 0;
}

static const char *const seeds_client_token[] = {
	"0{\"access_token\":\"eyJ.eyJ.c2ln\",\"token_type\":\"Bearer\",\"expires_in\":3600,"
	"\"scope\":\"a b\"}",
	"3{\"access_token\":\"abc-_.~+/=\",\"token_type\":\"bearer\",\"expires_in\":1200.0}",
	"4{\"token\":\"eyJhbGciOi.x.y\",\"valid_until\":\"2024-07-11T07:48:05Z\","
	"\"token_name\":\"n\"}",
	"1{\"access_token\":\"t\",\"expires_in\":60,\"error\":\"" FZ_CLIENT_SECRET "\"}",
	"2{\"access_token\":\"m2p.tok\",\"token_type\":\"Bearer\",\"expires_in\":1200}",
	"5{\"access_token\":\"0123456789abcdef0123456789abcdef\",\"token_type\":\"bearer\","
	"\"expires_in\":3600}",
};
static const char *const dict_client_token[] = { "\"access_token\":", "\"token\":", "\"expires_in\":",
	"\"valid_until\":", "\"token_type\":", "\"" FZ_CLIENT_SECRET "\"", FZ_CLIENT_SECRET,
	"2024-07-11T07:48:05.123+05:30", "31622401", "-1", "\" \"", "\"a b\"" };
static const char *const seeds_iso8601[] = { "2024-07-11T07:48Z", "2024-07-11T07:48:05Z",
	"2024-07-11T07:48:05.123+00:00", "2024-02-29t23:59:60-05:30", "0000-01-01T00:00+2359",
	"9999-12-31T23:59:59z" };
static const char *const dict_iso8601[] = { "T", "Z", "+", "-", ":", ".", "60", "24", "00",
	"02-29", "02-30", "13", "+24:00", "-23:59" };

/*
 * ghc_sanitize (lib/client/extern.h): a server's text made fit for a
 * message. The input is "N|s1|s2...\nSRC": dst holds N bytes (taken modulo
 * 300, at least 1), s1.. are the strings to redact (none: r NULL), SRC the
 * server's bytes. What it promises, checked:
 *   - at most N - 1 bytes, NUL-terminated, printable ASCII only;
 *   - redacted before cut: the output into N bytes is the first bytes of
 *     the output into room for all of it;
 *   - no string to redact survives in that whole output, nor a prefix of
 *     one at its end at least GHC_REDACT_PREFIX long (the server cut it),
 *     for strings of printable bytes without '?' and '*' (which the
 *     output makes of other bytes and of redactions);
 *   - with nothing to redact in SRC, the output is SRC with every byte
 *     outside printable ASCII as '?'.
 * Refused: a header that does not parse.
 */
#define FZ_SANITIZE_DST	300

/* 1 when needle[0..nn) occurs in hay[0..hn) (memmem is not POSIX). */
static int
fz_has(const char *hay, size_t hn, const char *needle, size_t nn)
{
	for (size_t i = 0; nn <= hn && i <= hn - nn; i++)
		if (memcmp(hay + i, needle, nn) == 0)
			return 1;
	return 0;
}

/* 1 when s[0..n) is printable ASCII without '?' and '*'. */
static int
fz_plain(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '?' || s[i] == '*')
			return 0;
	return 1;
}

/* 1 when what is redacted in src is nothing: no string of r in it, and no
 * end that is a prefix of one, cut (ghc_sanitize's rules). */
static int
fz_nothing_to_redact(const struct ghc_redactions *r, const char *src, size_t n)
{
	for (size_t k = 0; r != NULL && k < r->count; k++) {
		size_t min = r->n[k] < GHC_REDACT_PREFIX ? r->n[k] : GHC_REDACT_PREFIX;
		if (fz_has(src, n, r->s[k], r->n[k]))
			return 0;
		for (size_t len = min; len < r->n[k] && len <= n; len++)
			if (memcmp(src + n - len, r->s[k], len) == 0)
				return 0;
	}
	return 1;
}

static int
fz_sanitize(const uint8_t *d, size_t n)
{
	const uint8_t *nl = memchr(d, '\n', n), *p, *end;
	struct ghc_redactions r = { 0 };
	size_t dstlen = 0, srclen, wlen, olen, i, k;
	char *src, *dst, *whole;
	int64_t v;
	const char *why;

	if (nl == NULL)
		return 0;
	/* The header: N, then each string after a '|'. */
	for (p = d; p < nl && *p != '|'; p++)
		;
	if (num_parse_i64((const char *)d, (size_t)(p - d), 0, INT64_MAX, &v, &why) == -1)
		return 0;
	dstlen = 1 + (size_t)(v % FZ_SANITIZE_DST);
	while (p < nl) {
		const uint8_t *s = ++p;
		for (end = s; end < nl && *end != '|'; end++)
			;
		ghc_redactions_add(&r, (const char *)s, (size_t)(end - s));
		p = end;
	}
	/* SRC in a buffer of its own length, dst and whole of exactly their
	 * sizes: a byte read or written past one is an ASan report. */
	srclen = n - (size_t)(nl + 1 - d);
	src = malloc(srclen > 0 ? srclen : 1);
	dst = malloc(dstlen);
	wlen = 3 * srclen + 1;
	whole = malloc(wlen);
	assert_true(src != NULL && dst != NULL && whole != NULL);
	memcpy(src, nl + 1, srclen);
	memset(dst, 'x', dstlen);
	ghc_sanitize(dst, dstlen, src, srclen, r.count > 0 ? &r : NULL);
	ghc_sanitize(whole, wlen, src, srclen, r.count > 0 ? &r : NULL);
	FZ_CHECK(memchr(dst, '\0', dstlen) != NULL);
	FZ_CHECK(memchr(whole, '\0', wlen) != NULL);
	olen = strlen(whole);
	for (i = 0; i < olen; i++)
		FZ_CHECK(whole[i] >= 0x20 && whole[i] < 0x7f);
	/* Redacted, then cut. */
	FZ_CHECK(strlen(dst) == (olen < dstlen - 1 ? olen : dstlen - 1));
	FZ_CHECK(memcmp(dst, whole, strlen(dst)) == 0);
	for (k = 0; k < r.count; k++) {
		size_t sn = r.n[k], min = sn < GHC_REDACT_PREFIX ? sn : GHC_REDACT_PREFIX;
		if (!fz_plain(r.s[k], sn))
			continue;
		FZ_CHECK(!fz_has(whole, olen, r.s[k], sn));
		for (size_t len = min; len < sn && len <= olen; len++)
			FZ_CHECK(memcmp(whole + olen - len, r.s[k], len) != 0);
	}
	if (fz_nothing_to_redact(r.count > 0 ? &r : NULL, src, srclen)) {
		FZ_CHECK(olen == srclen);
		for (i = 0; i < srclen; i++)
			FZ_CHECK(whole[i] == ((unsigned char)src[i] >= 0x20 &&
			    (unsigned char)src[i] < 0x7f ? src[i] : '?'));
	}
	free(src);
	free(dst);
	free(whole);
	return 1;
}

static const char *const seeds_sanitize[] = {
	"20|SECRETVALUE\n0123456789abcSECRETVALUE",
	"20|T1|SECRETVALUE\ntok=T1 s=SECRETVALUE\n",
	"64|SECRETVALUE\necho: SECRETVA",
	"12|SECRETVALUE\necho: SECRETVA",
	"64|SECRETVALUE\nSECRETVA and more",
	"64|abc\nxabcxab",
	"299\n{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}",
	"40|s3cr3t%2Fx|s3cr3t/x|s3cr3t\\/x|YzE6czM=\n{\"secret\":\"s3cr3t\\/x\",\"b\":\"YzE6czM=\"}",
	"7|aaaaaaaab|aab\naaaaaaaaab aab",
};
static const char *const dict_sanitize[] = { "|", "\n", "SECRETVALUE", "SECRETVA", "SECRE", "***",
	"?", "\x01", "\x7f", "\xff", "%2F", "\\/", "0|", "1|", "8|", "300|" };

/*
 * The audit chain verifier (src/audit/verify.c over store_audit_scan and
 * src/store/audit_chain.c): a trail written through the store, then
 * tampered with in the database file, as someone with the file but not
 * the master key would. The input is lines:
 *   ACTION|OUTCOME|ACTOR|TENANT|TARGET|DETAIL|REQUEST_ID|ADDRESS
 *           an event, appended (at 400 ms after the one before; events
 *           between two other lines share a group commit, and token events
 *           of one client there one row);
 *   !p K    a retention prune of the token events before event K's time;
 *   !e SEQ COLUMN POS X   after the rest, row SEQ's column changed:
 *           COLUMN 0 seq, 1 at (each plus X, not 0), 2..9 a text field
 *           (byte POS XOR X, not 0; an empty one gets a byte), 10
 *           prev_hash, 11 hash (byte POS % 32 XOR X, not 0), 12 chain;
 *   !d SEQ  after the rest, row SEQ deleted.
 * What verify promises, checked: the trail as written verifies (rows,
 * head seq and hash as in the file); a trail whose rows in sight (seq 1
 * on) are not those written up to some seq, unchanged, is refused, naming
 * a seq; verifying twice gives the same answer. Its newest rows cut off
 * (deleted, or moved below seq 1) it may pass: no chain can show that
 * (audit.h). Accepted: verified.
 */
#define FZ_AUDIT_LINES	48
#define FZ_AUDIT_AT0	INT64_C(1720000000000)

static struct store *fz_audit_st;
static sqlite3 *fz_audit_db;

/* The store, its audit key and a raw connection to its file (the
 * append-only trigger dropped: the tamperer's), made once. */
static void
fz_audit_open(void)
{
	uint8_t key[32];
	char path[TMPDIR_LEN + 32], url[TMPDIR_LEN + 64], err[256];

	if (fz_audit_st != NULL)
		return;
	snprintf(path, sizeof(path), "%s/audit.db", fz_dir);
	snprintf(url, sizeof(url), "sqlite:%s", path);
	if (store_open(url, &fz_audit_st, err, sizeof(err)) != STORE_OK)
		fail_msg("fuzz audit: %s", err);
	memset(key, 0x5a, sizeof(key));
	assert_int_equal(store_audit_set_key(fz_audit_st, key, NULL), STORE_OK);
	assert_int_equal(sqlite3_open(path, &fz_audit_db), SQLITE_OK);
	sqlite3_busy_timeout(fz_audit_db, 5000);
	assert_int_equal(sqlite3_exec(fz_audit_db, "PRAGMA synchronous=OFF;"
	    "DROP TRIGGER IF EXISTS audit_append_only", NULL, NULL, NULL), SQLITE_OK);
}

static void
fz_audit_close(void)
{
	if (fz_audit_db != NULL)
		sqlite3_close(fz_audit_db);
	fz_audit_db = NULL;
	store_close(fz_audit_st);
	fz_audit_st = NULL;
}

/* Up to max whole numbers in line[0..n) after its first two bytes (runs
 * of digits, with a '-' before: mutations seldom leave a line clean);
 * how many. */
static size_t
fz_audit_nums(const char *line, size_t n, int64_t *v, size_t max)
{
	size_t got = 0, i = 2;
	const char *why;

	while (i < n && got < max) {
		size_t j;
		if (line[i] < '0' || line[i] > '9') {
			i++;
			continue;
		}
		for (j = i; j < n && line[j] >= '0' && line[j] <= '9'; j++)
			;
		if (i > 2 && line[i - 1] == '-')
			i--;
		if (num_parse_i64(line + i, j - i, -(INT64_C(1) << 40), INT64_C(1) << 40, &v[got],
		    &why) == 0)
			got++;
		i = j;
	}
	return got;
}

/* An event line appended (fields as C strings: a NUL ends one). */
static void
fz_audit_event(const char *line, size_t n, int64_t at)
{
	char *f[8] = { 0 };
	struct store_audit a;
	size_t i = 0, k;

	for (k = 0; k < 8; k++) {
		size_t j = i;
		while (j < n && line[j] != '|')
			j++;
		f[k] = fz_cstr((const uint8_t *)line + (i < n ? i : n), i < n ? j - i : 0);
		i = j + 1;
	}
	/* A checkpoint is the store's to write: an event of that action
	 * would be taken for one. */
	if (f[0][0] == '\0' || strcmp(f[0], STORE_AUDIT_CHECKPOINT) == 0) {
		free(f[0]);
		f[0] = fz_cstr((const uint8_t *)"x.event", 7);
	}
	if (f[1][0] == '\0') {	/* required too */
		free(f[1]);
		f[1] = fz_cstr((const uint8_t *)"ok", 2);
	}
	memset(&a, 0, sizeof(a));
	a.at = at;
	a.action = f[0];
	a.outcome = f[1];
	a.actor = f[2];
	a.tenant = f[3];
	a.target = f[4];
	a.detail = f[5];
	a.request_id = f[6];
	a.address = f[7];
	if (store_audit_append(fz_audit_st, &a, NULL, NULL) != STORE_OK)
		fail_msg("fuzz audit: append: %s", store_last_error());
	for (k = 0; k < 8; k++)
		free(f[k]);
}

static const char *const fz_audit_cols[] = { "seq", "at", "request_id", "actor", "tenant",
	"address", "action", "target", "outcome", "detail", "prev_hash", "hash", "chain" };

/* b XOR x, not b and not NUL: a text read stops at a NUL, so that a byte
 * after one is no change anyone sees (nor the link, which hashes the
 * text as read). */
static uint8_t
fz_audit_flip(uint8_t b, int64_t x)
{
	uint8_t nb = (uint8_t)(b ^ (x & 0xff ? x : 1));

	return nb != 0 ? nb : b == 1 ? 2 : 1;
}

/* Row seq's column col changed (the !e line): 1 when the file changed. */
static int
fz_audit_edit(int64_t seq, int64_t col, int64_t pos, int64_t x)
{
	char sql[128];
	sqlite3_stmt *st = NULL;
	uint8_t buf[4096];
	int len = 0, changed = 0;

	if (col < 0 || col >= (int64_t)GH_ARRAY_LEN(fz_audit_cols))
		return 0;
	if (x == 0)
		x = 1;
	snprintf(sql, sizeof(sql), "SELECT %s FROM audit WHERE seq = ?", fz_audit_cols[col]);
	assert_int_equal(sqlite3_prepare_v2(fz_audit_db, sql, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, seq);
	if (sqlite3_step(st) == SQLITE_ROW && col >= 2 && col <= 11) {
		const void *b = sqlite3_column_blob(st, 0);
		len = sqlite3_column_bytes(st, 0);
		if (len > (int)sizeof(buf) - 1)
			len = (int)sizeof(buf) - 1;
		if (len > 0)
			memcpy(buf, b, (size_t)len);
		if (len == 0)
			buf[len++] = 0;
		buf[(size_t)pos % (size_t)len] = fz_audit_flip(buf[(size_t)pos % (size_t)len], x);
		changed = 1;
	} else if (sqlite3_column_type(st, 0) != SQLITE_NULL)
		changed = 1;
	sqlite3_finalize(st);
	if (!changed)
		return 0;
	if (col <= 1 || col == 12)
		snprintf(sql, sizeof(sql), "UPDATE audit SET %s = %s + ? WHERE seq = ?",
		    fz_audit_cols[col], fz_audit_cols[col]);
	else
		snprintf(sql, sizeof(sql), "UPDATE audit SET %s = ? WHERE seq = ?", fz_audit_cols[col]);
	assert_int_equal(sqlite3_prepare_v2(fz_audit_db, sql, -1, &st, NULL), SQLITE_OK);
	if (col <= 1 || col == 12)
		sqlite3_bind_int64(st, 1, x);
	else if (col <= 9)
		sqlite3_bind_text(st, 1, (const char *)buf, len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_blob(st, 1, buf, len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, seq);
	/* A seq moved onto another row's is refused by the table. */
	changed = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(fz_audit_db) == 1;
	sqlite3_finalize(st);
	return changed;
}

/* The file's row count, and its head's seq and hash (hex). */
static void
fz_audit_head(int64_t *rows, int64_t *seq, char hash[65])
{
	sqlite3_stmt *st = NULL;

	*rows = *seq = 0;
	hash[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(fz_audit_db, "SELECT count(*), max(seq) FROM audit",
	    -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*rows = sqlite3_column_int64(st, 0);
		*seq = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(fz_audit_db, "SELECT hash FROM audit WHERE seq = ?",
	    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, *seq);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32)
		hex_encode(sqlite3_column_blob(st, 0), 32, hash);
	sqlite3_finalize(st);
}

/*
 * 1 when the rows in sight now (seq 1 on) are those written, unchanged, up
 * to some seq (*last; 0 when none): the trail as written, or with its
 * newest rows cut off (which verify may or may not see, audit.h). 0 when
 * a row in sight was changed, or one written before the last is gone.
 */
static int
fz_audit_cut(int64_t *last)
{
	sqlite3_stmt *st = NULL;
	int64_t changed = -1, missing = -1;

	assert_int_equal(sqlite3_prepare_v2(fz_audit_db, "SELECT coalesce(max(seq), 0),"
	    " (SELECT count(*) FROM audit a WHERE seq >= 1 AND NOT EXISTS (SELECT 1 FROM"
	    " temp.written w WHERE w.seq = a.seq AND w.at IS a.at AND w.request_id IS a.request_id"
	    " AND w.actor IS a.actor AND w.tenant IS a.tenant AND w.address IS a.address"
	    " AND w.action IS a.action AND w.target IS a.target AND w.outcome IS a.outcome"
	    " AND w.detail IS a.detail AND w.prev_hash IS a.prev_hash AND w.hash IS a.hash"
	    " AND w.chain IS a.chain))"
	    " FROM audit WHERE seq >= 1", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	*last = sqlite3_column_int64(st, 0);
	changed = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(fz_audit_db, "SELECT count(*) FROM temp.written w"
	    " WHERE w.seq <= ? AND NOT EXISTS (SELECT 1 FROM audit a WHERE a.seq = w.seq)",
	    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, *last);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	missing = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return changed == 0 && missing == 0;
}

static int
fz_audit(const uint8_t *d, size_t n)
{
	struct audit_verify_result r1, r2;
	struct store_audit_key *k;
	int64_t ev_at[FZ_AUDIT_LINES], edits[FZ_AUDIT_LINES][4], dels[FZ_AUDIT_LINES];
	int64_t rows, head, pruned, v[4];
	size_t nev = 0, ned = 0, ndel = 0, lines = 0, i = 0;
	int64_t last = 0;
	int cut;
	char head_hash[65];
	uint8_t key[32];

	fz_audit_open();
	assert_int_equal(sqlite3_exec(fz_audit_db, "DELETE FROM audit", NULL, NULL, NULL),
	    SQLITE_OK);
	while (i < n && lines++ < FZ_AUDIT_LINES) {
		const char *line = (const char *)d + i;
		size_t len = 0;
		while (i + len < n && d[i + len] != '\n')
			len++;
		i += len + 1;
		if (len >= 2 && line[0] == '!' && line[1] == 'p' &&
		    fz_audit_nums(line, len, v, 1) == 1) {
			assert_int_equal(store_flush(fz_audit_st), STORE_OK);
			if (nev > 0)
				assert_int_equal(store_audit_prune(fz_audit_st,
				    v[0] >= 0 && (size_t)v[0] < nev ? ev_at[v[0]] : ev_at[nev - 1] + 1,
				    ev_at[nev - 1] + 1, &pruned), STORE_OK);
		} else if (len >= 2 && line[0] == '!' && line[1] == 'e' &&
		    fz_audit_nums(line, len, v, 4) == 4)
			memcpy(edits[ned++], v, sizeof(v));
		else if (len >= 2 && line[0] == '!' && line[1] == 'd' &&
		    fz_audit_nums(line, len, v, 1) == 1)
			dels[ndel++] = v[0];
		else if (len > 0 && line[0] != '!') {
			ev_at[nev] = FZ_AUDIT_AT0 + 400 * (int64_t)nev;
			fz_audit_event(line, len, ev_at[nev]);
			nev++;
		}
	}
	assert_int_equal(store_flush(fz_audit_st), STORE_OK);
	fz_audit_head(&rows, &head, head_hash);
	assert_int_equal(sqlite3_exec(fz_audit_db, "DROP TABLE IF EXISTS temp.written;"
	    "CREATE TEMP TABLE written AS SELECT * FROM audit", NULL, NULL, NULL), SQLITE_OK);
	for (i = 0; i < ned; i++)
		(void)fz_audit_edit(edits[i][0], edits[i][1], edits[i][2], edits[i][3]);
	for (i = 0; i < ndel; i++) {
		char sql[96];
		snprintf(sql, sizeof(sql), "DELETE FROM audit WHERE seq = %lld", (long long)dels[i]);
		assert_int_equal(sqlite3_exec(fz_audit_db, sql, NULL, NULL, NULL), SQLITE_OK);
	}
	cut = fz_audit_cut(&last);
	memset(key, 0x5a, sizeof(key));
	assert_non_null(k = store_audit_key_new(key));
	assert_int_equal(audit_verify(fz_audit_st, k, &r1), 0);
	assert_int_equal(audit_verify(fz_audit_st, k, &r2), 0);
	store_audit_key_free(k);
	/* The same answer twice. */
	FZ_CHECK(memcmp(&r1, &r2, sizeof(r1)) == 0);
	FZ_CHECK(memchr(r1.why, '\0', sizeof(r1.why)) != NULL);
	FZ_CHECK(!r1.key_mismatch);
	if ((!cut && (r1.ok || r1.first_bad == 0)) || (cut && last == head && !r1.ok))
		fprintf(stderr, "fuzz audit: verify said ok %d, first_bad %lld: %s\n", r1.ok,
		    (long long)r1.first_bad, r1.why);
	if (!cut) {
		/* Named by the seq it has now: a row moved below 1 too. */
		FZ_CHECK(!r1.ok && r1.why[0] != '\0');
		FZ_CHECK(r1.first_bad != 0);
	} else if (last == head) {
		FZ_CHECK(r1.ok);
		FZ_CHECK(r1.rows == rows && r1.head_seq == head);
		FZ_CHECK(strcmp(r1.head_hash, head_hash) == 0);
	}
	return r1.ok;
}

static const char *const seeds_audit[] = {
	("client.create|ok|cli:root|acme|c-1|{\"name\":\"a\"}|r-1|\n"
	"token.issued|ok|c-1|acme|tok-1||r-2|203.0.113.9\n"
	"token.issued|ok|c-1|acme|tok-2||r-3|203.0.113.9"),
	("token.issued|ok|c-1|acme|t1||r1|10.0.0.1\n!p 0\n"
	"token.refused|refused|c-2|acme|||r2|10.0.0.2\nkeys.revoke|ok|cli:root||kid-1\n"
	"token.issued|ok|c-1|acme|t2||r3|10.0.0.1\n!p 4\nlock.clear|ok|c-9"),
	("gate.refused|refused|c-1|acme|/v1/x|{\"reason\":\"scope\"}\n!p 1\n"
	"approval.approve|ok|c-3|acme|ap-1"),
	/* The head cut off, or moved out of sight: no chain can tell. */
	"a|ok\nb|ok\nc|ok\n!d 3",
	"a|ok\ntoken.issued|ok|c\n!p 2\nb|ok\n!e 4 0 0 -9",
	/* Rows that are not there: nothing changes. */
	"a|ok|x|t|g|d|r|1.2.3.4\nb|ok\nc|ok\n!e 8 2 0 1\n!e 9 11 3 7\n!d 7",
};
static const char *const dict_audit[] = { "\n", "|", "!e ", "!d ", "!p ", " 0", " 1", " 2",
	" 3", " 9", " 10", " 11", " 12", " -1", " 255", "token.issued|ok|c-1|acme|",
	"token.refused|refused|", "audit.checkpoint|ok|||||{\"through\":1}", "\\u0000", "\xff",
	"\n!e 1 2 0 1\n", "\n!e 2 11 5 7\n", "\n!e 1 12 0 -1\n", "\n!d 1\n", "\n!d 2\n" };

/* -- src/util/json_view: a JWT's header and claims, against jansson ------ */

#define FZ_VIEW_CAP	64	/* top-level members the view holds */

/* 1 when p lies inside buf[0..len). */
static int
fz_inside(const void *p, const char *buf, size_t len)
{
	const char *c = p;

	return c != NULL && c >= buf && c < buf + len;
}

/* json_view member m reads as jansson's val (json_view.h: "as jansson
 * reads it with JSON_REJECT_DUPLICATES"). */
static void
fz_view_member_is(const struct json_view_member *m, json_t *val, const char *vb, size_t len)
{
	switch (json_typeof(val)) {
	case JSON_STRING:
		FZ_CHECK(m->type == JSON_VIEW_STRING && fz_inside(m->str, vb, len));
		FZ_CHECK(m->len == json_string_length(val) && m->str[m->len] == '\0' &&
		    memcmp(m->str, json_string_value(val), m->len) == 0);
		break;
	case JSON_INTEGER:
		FZ_CHECK(m->type == JSON_VIEW_INTEGER && m->integer == json_integer_value(val));
		break;
	case JSON_REAL:
		FZ_CHECK(m->type == JSON_VIEW_REAL && m->real == json_real_value(val));
		break;
	case JSON_TRUE:
		FZ_CHECK(m->type == JSON_VIEW_TRUE);
		break;
	case JSON_FALSE:
		FZ_CHECK(m->type == JSON_VIEW_FALSE);
		break;
	case JSON_NULL:
		FZ_CHECK(m->type == JSON_VIEW_NULL);
		break;
	case JSON_OBJECT:
		FZ_CHECK(m->type == JSON_VIEW_OBJECT);
		break;
	case JSON_ARRAY: {
		size_t n = json_array_size(val), k;
		const char *s = m->strings;
		FZ_CHECK(m->type == JSON_VIEW_ARRAY && m->len == n);
		for (k = 0; k < n && json_is_string(json_array_get(val, k)); k++)
			;
		FZ_CHECK((s != NULL) == (k == n));
		for (k = 0; s != NULL && k < n; k++, s = json_view_next_string(s)) {
			json_t *e = json_array_get(val, k);
			FZ_CHECK(fz_inside(s, vb, len) && strlen(s) == json_string_length(e) &&
			    memcmp(s, json_string_value(e), strlen(s)) == 0);
		}
		break;
	}
	}
}

/* Accepted exactly when jansson takes the object and it is within
 * json_view's bounds, with the same members in the same order and the
 * same values; a refusal leaves no members and a static reason. */
static int
fz_json_view(const uint8_t *d, size_t n)
{
	struct json_view_member m[FZ_VIEW_CAP];
	struct json_view v = { m, 7777, FZ_VIEW_CAP };
	char *vb = malloc(n > 0 ? n : 1), *jb = malloc(n > 0 ? n : 1);
	const char *err = NULL, *key;
	json_error_t je;
	json_t *j, *val;
	size_t klen, i = 0;
	int rc, jok;

	assert_true(vb != NULL && jb != NULL);
	memcpy(vb, d, n);
	memcpy(jb, d, n);
	j = json_loadb(jb, n, JSON_REJECT_DUPLICATES, &je);
	jok = j != NULL && json_is_object(j) && memchr(d, '\0', n) == NULL &&
	    n <= JSON_VIEW_MAX_LEN && json_object_size(j) <= FZ_VIEW_CAP &&
	    fz_json_depth(j) <= JSON_VIEW_MAX_DEPTH;
	rc = json_view_parse(&v, vb, n, &err);
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(v.n == 0 && err != NULL && err[0] != '\0' && !fz_inside(err, vb, n));
		FZ_CHECK(!jok);	/* json_view refuses what jansson reads */
	} else {
		FZ_CHECK(jok);	/* json_view reads what jansson refuses */
		FZ_CHECK(v.n == json_object_size(j));
		json_object_keylen_foreach(j, key, klen, val) {
			FZ_CHECK(m[i].name_len == klen && memcmp(m[i].name, key, klen) == 0 &&
			    m[i].name[klen] == '\0' && fz_inside(m[i].name, vb, n));
			FZ_CHECK(json_view_get(&v, key) == &m[i]);
			fz_view_member_is(&m[i], val, vb, n);
			i++;
		}
	}
	json_decref(j);
	free(vb);
	free(jb);
	return rc == 0;
}

static const char *const seeds_json_view[] = {
	"{\"alg\":\"RS256\",\"typ\":\"at+jwt\",\"kid\":\"k-2024-01\"}",
	"{\"iss\":\"https://gh.test\",\"sub\":\"c1\",\"aud\":[\"https://api\",\"b\"],"
	"\"exp\":4102444800,\"nbf\":-1,\"iat\":1.5e9,\"jti\":\"j\\u00e9\\ud83d\\ude00\","
	"\"roles\":[\"admin\"],\"is_test\":false,\"x\":null,\"o\":{\"a\":[1,{\"b\":true}]},"
	"\"e\":[],\"m\":[\"a\",1]}",
	" {\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\":\"\\u0041\",\"\":0,\"n\":-0.0e-0} \n",
	"{}",
};
static const char *const dict_json_view[] = { "\\u", "\\ud800", "\\udfff", "\\u0000",
	"\\uD83D\\uDE00", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
	"1e308", "1e309", "-", "0.", ".5", "01", "1e", "1E+2", "true", "tru", "nul", "\"a\":1,",
	"\"a\":2,", "[[[[", "]]]]", "\x7f", "\xc3\xa9", "\xed\xa0\x80", "\xf4\x90\x80\x80" };

/* -- src/gate: the call the gate is asked about -------------------------- */

/*
 * A fixed policy whose patterns differ in case and trailing '/', for the
 * readings policy_match_call must weigh, parsed once.
 */
static struct policy *fz_gate_policy;
static const char fz_gate_policy_text[] =
	"GET    /v1/cards/*/balance   role=viewer\n"
	"GET    /v1/cards/            role=operator\n"
	"*      /v1/cards/**          role=admin\n"
	"POST   /v1/Payouts           role=operator critical\n"
	"POST   /v1/payouts/*         role=viewer\n"
	"GET    /v1/users/*/          role=viewer\n"
	"DELETE /v1/users/*           role=admin\n"
	"GET,HEAD /v2.01/**           role=viewer\n"
	"*      /                     role=viewer\n";

/* The reference reading: path's segments (after the leading '/', the
 * empty one after a trailing '/' included) against the pattern's, case
 * folded or not. Written from docs/policy.md, not from policy.c. */
static int
fz_ref_rule_matches(const struct policy_rule *r, const char *path, size_t len, int fold)
{
	const char *s = path + 1, *end = path + len;
	size_t i;

	for (i = 0; i < r->nsegs; i++) {
		const char *pat = r->segs[i], *e;
		size_t k, sl;
		if (strcmp(pat, "**") == 0)
			return 1;
		if (s > end)
			return 0;
		for (e = s; e < end && *e != '/'; e++)
			;
		sl = (size_t)(e - s);
		if (strcmp(pat, "*") == 0) {
			if (sl == 0)
				return 0;
		} else {
			if (strlen(pat) != sl)
				return 0;
			for (k = 0; k < sl; k++)
				if (fold ? tolower((unsigned char)pat[k]) != tolower((unsigned char)s[k]) :
				    pat[k] != s[k])
					return 0;
		}
		s = e + 1;
	}
	return s > end;
}

static const struct policy_rule *
fz_ref_first(const struct policy *p, enum http_method m, const char *path, size_t len, int fold)
{
	for (size_t k = 0; k < p->n; k++)
		if ((p->rules[k].methods & (1u << m)) && fz_ref_rule_matches(&p->rules[k], path, len, fold))
			return &p->rules[k];
	return NULL;
}

/*
 * Headers as the gate reads them: the bearer token of Authorization, and
 * the call of X-Original-Method and X-Original-URI, normalized and
 * matched. Accepted: a call some rule decides.
 */
static int
fz_gate_call(const uint8_t *d, size_t n)
{
	static const char *const mnames[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
	    "OPTIONS" };
	struct fz_conn conn;
	struct http_request req;
	const char *tok = (const char *)1, *om, *ouri, *why = NULL;
	char path[POLICY_MAX_PATH + 1];
	const struct policy_rule *rule = (const struct policy_rule *)1, *ref;
	size_t len = 77, nauth = 0, nm = 0, nu = 0, pl;
	enum http_method m = HTTP_METHOD__MAX;
	int b, rc, accepted = 0;

	if (fz_gate_policy == NULL) {
		char err[256];
		assert_int_equal(policy_parse(fz_gate_policy_text, strlen(fz_gate_policy_text),
		    "fuzz.policy", &fz_gate_policy, err, sizeof(err)), 0);
	}
	fz_request(d, n, 0, &conn, &req);
	for (size_t i = 0; i < conn.n; i++)
		nauth += fz_is_header(&conn, i, "Authorization");
	b = gate_bearer_token(&req, &tok, &len);
	FZ_CHECK(b == -1 || b == 0 || b == 1);
	FZ_CHECK((b == -1) == (nauth > 1));
	if (b == 1) {
		const char *a = http_request_header(&req, "Authorization", NULL);
		FZ_CHECK(strncasecmp(a, "Bearer", 6) == 0 && tok > a && tok <= a + strlen(a));
		FZ_CHECK(len == strlen(tok) && (len == 0 || tok[0] != ' '));
		if (gate_token_syntax_ok(tok, len)) {	/* RFC 6750 §2.1 b64token */
			size_t k = strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			    "0123456789-._~+/");
			FZ_CHECK(k >= 1 && strspn(tok + k, "=") == len - k);
		}
	} else
		FZ_CHECK(tok == (const char *)1 && len == 77);	/* untouched */

	om = http_request_header(&req, "X-Original-Method", &nm);
	ouri = http_request_header(&req, "X-Original-URI", &nu);
	if (om == NULL || ouri == NULL || nm != 1 || nu != 1)
		goto out;
	for (size_t i = 0; i < GH_ARRAY_LEN(mnames); i++)
		if (strcmp(om, mnames[i]) == 0)
			m = (enum http_method)i;
	FZ_CHECK(m == HTTP_METHOD__MAX || strcmp(http_method_names[m], om) == 0);
	if (m == HTTP_METHOD__MAX || policy_normalize_path(ouri, strlen(ouri), path, &why) == -1)
		goto out;
	pl = strlen(path);
	rc = policy_match_call(fz_gate_policy, m, path, &rule, &why);
	FZ_CHECK(rc == 0 || rc == -1);
	ref = fz_ref_first(fz_gate_policy, m, path, pl, 0);
	if (rc == -1) {
		/* Refused as ambiguous: some other reading is decided otherwise. */
		int slash = pl > 1 && path[pl - 1] == '/';
		FZ_CHECK(why != NULL && why[0] != '\0' && ref != NULL);
		FZ_CHECK((slash && fz_ref_first(fz_gate_policy, m, path, pl - 1, 0) != ref) ||
		    fz_ref_first(fz_gate_policy, m, path, pl, 1) != ref ||
		    (slash && fz_ref_first(fz_gate_policy, m, path, pl - 1, 1) != ref));
		goto out;
	}
	FZ_CHECK(rule == ref);
	FZ_CHECK(rule == policy_match(fz_gate_policy, m, path));
	if (rule != NULL) {
		/* Every reading a server may give it meets the same rule. */
		int slash = pl > 1 && path[pl - 1] == '/';
		FZ_CHECK(fz_ref_first(fz_gate_policy, m, path, pl, 1) == rule);
		if (slash)
			FZ_CHECK(fz_ref_first(fz_gate_policy, m, path, pl - 1, 0) == rule &&
			    fz_ref_first(fz_gate_policy, m, path, pl - 1, 1) == rule);
		accepted = 1;
	}
out:
	fz_request_free(&conn, &req);
	return accepted;
}

static const char *const seeds_gate_call[] = {
	"Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjIn0.c2ln\n"
	"X-Original-Method: GET\nX-Original-URI: /v1/cards/c-1/balance?x=1\n",
	"authorization: bearer    0123456789abcdef0123456789abcdef\nX-Original-Method: POST\n"
	"X-Original-URI: /v1/payouts/p-9\n",
	"X-Original-Method: DELETE\nX-Original-URI: /v1/users/u%2D1\nAuthorization: Bearer a==\n",
	"X-Original-Method: GET\nX-Original-URI: /v2.01/clients/C-1/users/\n",
	"X-Original-Method: PUT\nX-Original-URI: /\n",
};
static const char *const dict_gate_call[] = { "Authorization: Bearer ", "Authorization: Basic ",
	"X-Original-Method: ", "X-Original-URI: ", "GET", "POST", "DELETE", "/v1/cards/",
	"/v1/Cards/", "/V1/payouts", "/v1/users/", "/balance", "/", "%2F", "%41", "==", "\n" };

/* -- src/approvals: a request body of the approvals API ------------------ */

/* 1 when s is "sha256:" and 64 lower-case hex digits. */
static int
fz_digest_ok(const char *s)
{
	if (strlen(s) != 71 || strncmp(s, "sha256:", 7) != 0)
		return 0;
	for (size_t i = 7; i < 71; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return 0;
	return 1;
}

/*
 * The call a filed body names, as approvals_call_parse took it: within
 * the bounds approvals.h documents, and the same call the gate will see.
 * The method is one of seven, the one sent upper-cased. The target's path
 * is absolute, at most APPROVAL_PATH_MAX bytes, and as the gate's
 * normalization leaves it: the gate compares the normalized X-Original-URI
 * with it, so a path normalized to something else would be an approval no
 * call could ever use. The query is the one sent, byte for byte, and a
 * query the gate accepts; the digest the one sent, lower-cased.
 */
static void
fz_call_holds(const char *method, const char *path, const char *digest,
    const struct approval_call *c)
{
	static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
	    "OPTIONS" };
	char again[POLICY_MAX_PATH + 1];
	const char *q = strchr(c->target, '?'), *sent_q, *why = NULL;
	size_t plen = q != NULL ? (size_t)(q - c->target) : strlen(c->target), k;

	for (k = 0; k < GH_ARRAY_LEN(methods); k++)
		if (strcmp(c->method, methods[k]) == 0)
			break;
	FZ_CHECK(k < GH_ARRAY_LEN(methods));
	FZ_CHECK(method != NULL && strcasecmp(method, c->method) == 0);
	FZ_CHECK(path != NULL && c->target[0] == '/' && plen <= APPROVAL_PATH_MAX);
	FZ_CHECK(policy_normalize_path(c->target, plen, again, &why) == 0);
	FZ_CHECK(strlen(again) == plen && memcmp(again, c->target, plen) == 0);
	sent_q = path + strcspn(path, "?#");
	FZ_CHECK(sent_q[0] != '#');
	if (sent_q[0] == '?') {
		FZ_CHECK(q != NULL && strcmp(q + 1, sent_q + 1) == 0);
		FZ_CHECK(strlen(q + 1) <= APPROVAL_QUERY_MAX);
		FZ_CHECK(policy_check_query(q + 1, strlen(q + 1), &why) == 0);
	} else
		FZ_CHECK(q == NULL);
	if (digest == NULL || digest[0] == '\0')
		FZ_CHECK(c->digest[0] == '\0');
	else
		FZ_CHECK(fz_digest_ok(c->digest) && strcasecmp(c->digest, digest) == 0);
}

/*
 * A body as POST /approvals reads it (approvals_body_parse with its
 * fields), then its call as approvals_file_call checks it before filing
 * (approvals_call_parse); and the same bytes as a decision's body (no
 * fields). A parse that succeeds holds only allowed members, each a
 * string; a refusal says why and hands nothing back; a decision's body is
 * taken exactly when it is the empty object. Accepted: a call that would
 * be filed, within its bounds (fz_call_holds).
 */
static int
fz_approvals_body(const uint8_t *d, size_t n)
{
	static const char *const none[] = { NULL };
	struct approval_call *c = malloc(sizeof(*c));
	json_t *o = (json_t *)1, *o2 = (json_t *)1, *v;
	const char *k, *m, *p, *dg;
	char err[256] = "";
	int rc, rc2, accepted = 0;

	FZ_CHECK(c != NULL);
	rc = approvals_body_parse((const char *)d, n, approvals_file_fields, &o, err, sizeof(err));
	FZ_CHECK(rc == 0 || rc == 400);
	rc2 = approvals_body_parse((const char *)d, n, none, &o2, err, sizeof(err));
	FZ_CHECK(rc2 == 0 || rc2 == 400);
	FZ_CHECK((rc2 == 0) == (rc == 0 && json_object_size(o) == 0));
	FZ_CHECK(rc2 == 0 ? json_is_object(o2) : o2 == NULL);
	json_decref(o2);
	if (rc != 0) {
		FZ_CHECK(o == NULL && err[0] != '\0');
		goto out;
	}
	FZ_CHECK(json_is_object(o));
	json_object_foreach(o, k, v) {
		size_t i;
		for (i = 0; approvals_file_fields[i] != NULL; i++)
			if (strcmp(approvals_file_fields[i], k) == 0)
				break;
		FZ_CHECK(approvals_file_fields[i] != NULL && json_is_string(v));
	}
	m = json_string_value(json_object_get(o, "method"));
	p = json_string_value(json_object_get(o, "path"));
	dg = json_string_value(json_object_get(o, "body_digest"));
	err[0] = '\0';
	rc = approvals_call_parse(m, p, dg, c, err, sizeof(err));
	FZ_CHECK(rc == 0 || rc == 400);
	if (rc == 0) {
		fz_call_holds(m, p, dg, c);
		accepted = 1;
	} else
		FZ_CHECK(err[0] != '\0');
	json_decref(o);
out:
	free(c);
	return accepted;
}

static const char *const seeds_approvals_body[] = {
	"{\"method\":\"POST\",\"path\":\"/v1/payouts/p-1/approve\",\"reason\":\"payout\"}",
	("{\"tenant\":\"acme\",\"method\":\"delete\",\"path\":\"/v1/cards/c%2d1?force=1&x=%41\","
	"\"body_digest\":\"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\"}"),
	"{\"method\":\"PUT\",\"path\":\"/v1/users/u-1/\",\"body_digest\":\"\",\"reason\":\"caf\\u00e9\"}",
	"{\"method\":\"GET\",\"path\":\"/v1/%7Euser?\"}",
	"{\"method\":\"options\",\"path\":\"/\"}",
};
static const char *const dict_approvals_body[] = { "\"method\":", "\"path\":", "\"tenant\":",
	"\"body_digest\":", "\"reason\":", "\"sha256:", "\"POST\"", "\"options\"", "\"/", "/..",
	"/./", "//", "?", "#", "%2F", "%2e", "%41", "%00", ";", "\\u0000", "\\/", "null", "1",
	"[]", "{}", "," };

/* -- src/manage: a client's settings, as the admin API and CLI give them -- */

static struct config fz_manage_cfg;
static int fz_manage_cfg_set;

/* The JSON text jansson writes for string s, as manage measured it. */
static size_t
fz_jansson_len(const char *s)
{
	json_t *j = json_string(s);
	char *t = j != NULL ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	size_t l;

	assert_non_null(t);
	l = strlen(t);
	free(t);
	json_decref(j);
	return l;
}

/*
 * A JSON object of a client's fields (strings; allow_ips an array), as the
 * admin API's create hands them to manage_client_check. Accepted: the
 * client a token can be made for. Its extra claims are written into every
 * token (oauth/client_cache.c: names by json_append_string, values by
 * jansson) and manage bounds them by jansson's compact text: each name
 * must take no more in the token than in that text.
 */
static int
fz_client_spec(const uint8_t *d, size_t n)
{
	static const char *const fields[] = { "tenant", "name", "id", "env", "roles", "scopes",
	    "ttl", "max_ttl", "token_format", "claims", "rate_limit" };
	const char **slot[GH_ARRAY_LEN(fields)];
	struct client_spec s;
	json_error_t je;
	json_t *o = json_loadb((const char *)d, n, JSON_REJECT_DUPLICATES, &je), *ips, *e;
	char err[256];
	size_t i;
	int rc;

	if (!json_is_object(o)) {
		json_decref(o);
		return 0;
	}
	if (!fz_manage_cfg_set) {
		config_defaults(&fz_manage_cfg);
		fz_manage_cfg_set = 1;
	}
	memset(&s, 0, sizeof(s));
	slot[0] = &s.tenant, slot[1] = &s.name, slot[2] = &s.id, slot[3] = &s.env;
	slot[4] = &s.roles, slot[5] = &s.scopes, slot[6] = &s.ttl, slot[7] = &s.max_ttl;
	slot[8] = &s.format, slot[9] = &s.claims, slot[10] = &s.rate_limit;
	for (i = 0; i < GH_ARRAY_LEN(fields); i++)
		*slot[i] = json_string_value(json_object_get(o, fields[i]));
	ips = json_object_get(o, "allow_ips");
	json_array_foreach(ips, i, e)
		if (s.nallow < CIDR_MAX_BLOCKS && json_is_string(e))
			s.allow_ips[s.nallow++] = json_string_value(e);
	memset(err, 'x', sizeof(err));
	rc = manage_client_check(&fz_manage_cfg, &s, err, sizeof(err));
	FZ_CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		FZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
	} else {
		json_t *c = json_loads(s.claims != NULL ? s.claims : "{}", JSON_REJECT_DUPLICATES, &je);
		const char *k;
		json_t *v;
		unsigned roles;
		FZ_CHECK(s.tenant != NULL && s.name != NULL && s.name[0] != '\0');
		FZ_CHECK(s.roles == NULL || manage_parse_roles(s.roles, &roles, err, sizeof(err)) == 0);
		FZ_CHECK(s.scopes == NULL || strlen(s.scopes) <= 2048);
		FZ_CHECK(json_is_object(c));
		json_object_foreach(c, k, v) {
			size_t worst = 6 * strlen(k) + 3;
			char *w = malloc(worst);
			int wl;
			assert_non_null(w);
			FZ_CHECK(!claims_is_registered(k));
			wl = json_append_string(w, 0, worst, k);
			FZ_CHECK(wl > 0 && (size_t)wl <= fz_jansson_len(k));
			free(w);
		}
		json_decref(c);
	}
	json_decref(o);
	return rc == 0;
}

static const char *const seeds_client_spec[] = {
	"{\"tenant\":\"acme\",\"name\":\"acme backend\",\"env\":\"production\",\"roles\":\"operator\","
	"\"scopes\":\"payments:read payments:write\",\"allow_ips\":[\"203.0.113.0/24\"],"
	"\"claims\":\"{\\\"partner_id\\\":\\\"p-17\\\"}\"}",
	"{\"tenant\":\"t\",\"name\":\"n\",\"id\":\"c-1\",\"ttl\":\"20m\",\"max_ttl\":\"1h\","
	"\"token_format\":\"opaque\",\"rate_limit\":\"600\",\"roles\":\"viewer,admin\"}",
	"{\"tenant\":\"t\",\"name\":\"caf\\u00e9\",\"claims\":\"{\\\"owner\\\":{\\\"id\\\":[1,2,"
	"{\\\"k\\\\n\\\":null}]},\\\"user_id\\\":\\\"u\\\\t1\\\"}\"}",
	/* A name with control characters: written longer into tokens than
	 * manage measured it, the client could not be loaded. */
	"{\"tenant\":\"t\",\"name\":\"n\",\"claims\":\"{\\\"a\\\\n\\\\t\\\\r\\\\b\\\\f\\\":1}\"}",
};
static const char *const dict_client_spec[] = { "\"claims\":\"{\\\"a\\\":1}\",", "\\\\n",
	"\\\\t", "\\\\u0001", "\\\"iss\\\"", "\\\"aud\\\":", "\"roles\":\"root\",", "\"ttl\":\"0\",",
	"\"max_ttl\":\"367d\",", "\"allow_ips\":[\"::1\",\"10.0.0.0/33\"],", "\"id\":\"a:b\",",
	"\"env\":\"sandbox\",", "\"scopes\":\"a\\\"b\",", "\"rate_limit\":\"-1\"," };

/* -- fixtures ----------------------------------------------------------- */

static char *
fz_jwk_text(const struct jose_key *k, const char *alg, const char *env)
{
	json_t *j = jose_key_public_jwk(k);
	char *s;

	assert_non_null(j);
	if (alg != NULL)
		json_object_set_new(j, "alg", json_string(alg));
	if (env != NULL)
		json_object_set_new(j, "env", json_string(env));
	assert_non_null(s = json_dumps(j, JSON_COMPACT));
	json_decref(j);
	return s;
}

static struct jose_key *
fz_key(enum jose_alg alg, const char *kid, const char *b64)
{
	uint8_t der[2048];
	size_t len = 0;
	struct jose_key *k = NULL;
	const char *err = NULL;

	assert_int_equal(b64std_decode(b64, strlen(b64), der, sizeof(der), &len), 0);
	assert_int_equal(jose_key_from_private_der(alg, kid, der, len, &k, &err), 0);
	return k;
}

static char *
fz_sign(const struct jose_key *k, const char *payload)
{
	char *tok = NULL;
	size_t len = 0;
	const char *err = NULL;

	assert_int_equal(jose_sign_compact(k, "at+jwt", payload, strlen(payload), &tok, &len, &err), 0);
	return tok;
}

static char *
fz_strcat3(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

#define FZ_CLAIMS(env, aud, exp, extra)					\
	"{\"iss\":\"" FZ_ISSUER "\",\"sub\":\"c1\",\"aud\":" aud ","		\
	"\"exp\":" exp ",\"nbf\":" FZ_PAST ",\"iat\":" FZ_PAST ","		\
	"\"jti\":\"0190a0b0-0000-7000-8000-000000000001\",\"client_id\":\"c1\","	\
	"\"scope\":\"cards:read payouts:write\",\"tenant_id\":\"t1\","		\
	"\"env\":\"" env "\"" extra "}"

static int
fz_setup(void **state)
{
	static const char *const payloads[] = {
		FZ_CLAIMS("production", "\"https://api.test\"", FZ_EXP,
		    ",\"roles\":[\"operator\"],\"scopes\":[\"cards:read\"]"),
		FZ_CLAIMS("sandbox", "\"https://api.test\"", FZ_EXP,
		    ",\"roles\":[\"admin\",\"viewer\"],\"is_test\":true"),
		FZ_CLAIMS("production", "[\"https://api.test\",\"b\"]", FZ_EXP,
		    ",\"partner_id\":\"p\""),
	};
	struct keyset *s = NULL;
	struct gh_verify_options o;
	char err[128];
	const char *e = NULL;
	char *jwks_keys;
	int64_t v;

	(void)state;
	if ((e = getenv("GH_FUZZ_SEED")) != NULL &&
	    num_parse_i64(e, strlen(e), 1, INT64_MAX, &v, &e) == 0)
		fz_seed = (uint64_t)v;
	if ((e = getenv("GH_FUZZ_SCALE")) != NULL &&
	    num_parse_i64(e, strlen(e), 1, 10000, &v, &e) == 0)
		fz_scale = v;
	fz_trace = getenv("GH_FUZZ_TRACE") != NULL;
	printf("fuzz: seed %llu (GH_FUZZ_SEED), scale %lld (GH_FUZZ_SCALE)\n",
	    (unsigned long long)fz_seed, (long long)fz_scale);
#if defined(__SANITIZE_ADDRESS__)
	__sanitizer_set_death_callback(fz_report);
#endif
	if (tmpdir_make(fz_dir, sizeof(fz_dir), "gh-fuzz") == -1)
		return -1;

	fz_keys[0] = fz_key(JOSE_ALG_RS256, "rs1", fz_rs_pkcs8);
	fz_keys[1] = fz_key(JOSE_ALG_ES256, "es1", fz_es_pkcs8);
	fz_keys[2] = fz_key(JOSE_ALG_EDDSA, "ed1", fz_ed_pkcs8);
	fz_jwk_seeds[0] = fz_jwk_text(fz_keys[0], NULL, "production");
	fz_jwk_seeds[1] = fz_jwk_text(fz_keys[1], NULL, NULL);
	fz_jwk_seeds[2] = fz_jwk_text(fz_keys[2], NULL, "production");
	fz_jwk_seeds[3] = fz_jwk_text(fz_keys[0], "PS256", NULL);
	{
		json_t *j = jose_key_public_jwk(fz_keys[1]);
		json_object_del(j, "alg");
		json_object_del(j, "use");
		assert_non_null(fz_jwk_seeds[4] = json_dumps(j, JSON_COMPACT));
		json_decref(j);
	}
	{
		char *a = fz_jwk_text(fz_keys[1], NULL, "sandbox");
		char *b = fz_strcat3(fz_jwk_seeds[0], ",", a);
		jwks_keys = fz_strcat3(b, ",", fz_jwk_seeds[2]);
		free(a);
		free(b);
	}
	fz_jwks_seeds[0] = fz_strcat3("{\"keys\":[", jwks_keys, "]}");
	fz_jwks_seeds[1] = fz_strcat3("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"AAAA\"},",
	    fz_jwk_seeds[2], "]}");
	{
		/* More keys than a key set once held (64). */
		char *many = fz_strcat3("", "", fz_jwk_seeds[2]), *next;
		for (int i = 1; i < FZ_JWKS_MANY; i++) {
			next = fz_strcat3(many, ",", fz_jwk_seeds[2]);
			free(many);
			many = next;
		}
		fz_jwks_many = fz_strcat3("{\"keys\":[", many, "]}");
		free(many);
	}
	fz_token_seeds[0] = fz_sign(fz_keys[0], payloads[0]);
	fz_token_seeds[1] = fz_sign(fz_keys[1], payloads[1]);
	{
		/* ECDSA signs with a fresh random k each time: this signature,
		 * made once by es1 over the same header and payloads[1], keeps
		 * the seed the same in every run. */
		static const char sig[] = "HW2t3Po9cs8cMRXnvpj3s6hc8e16CSjkQ6sUV7mijqsuZj2YSqfua2TBN9mENxSP"
		    "hBYctybzzif6Ysg7nbmOBw";
		char *seed = fz_token_seeds[1];
		size_t n = strlen(seed), sl = strlen(sig);

		/* By offset, not strrchr: gcc 12 at -O3 takes a pointer
		 * into the returned token for one to fz_sign's local. */
		assert_true(n > sl && seed[n - sl - 1] == '.' &&
		    memchr(seed + n - sl, '.', sl) == NULL);
		memcpy(seed + n - sl, sig, sl);
	}
	fz_token_seeds[2] = fz_sign(fz_keys[2], payloads[2]);
	fz_token_seeds[3] = fz_sign(fz_keys[2], payloads[0]);
	fz_signed_seeds[0] = fz_strcat3("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"ed1\"}",
	    "\n", payloads[0]);
	fz_signed_seeds[1] = fz_strcat3("{\"typ\":\"application/at+JWT\",\"kid\":\"ed1\","
	    "\"alg\":\"EdDSA\",\"jku\":\"https://evil\"}", "\n", payloads[2]);
	fz_signed_seeds[2] = fz_strcat3("{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"ed1\"}",
	    "\n", FZ_CLAIMS("production", "\"x\"", "4102444800.5", ""));
	free(jwks_keys);

	/* A verifier whose key set is installed here: the JWKS URL is never
	 * fetched (an unknown kid would be, at most once an hour). */
	memset(&o, 0, sizeof(o));
	o.jwks_url = "http://127.0.0.1:9/jwks.json";
	o.issuer = FZ_ISSUER;
	o.audience = GH_VERIFY_ANY_AUDIENCE;	/* claims_check's aud is fuzzed above */
	o.required_env = "any";	/* the checks below take either */
	o.allow_http = 1;
	o.leeway = 30;
	o.min_refresh_interval = 3600;
	assert_int_equal(gh_verifier_new(&o, &fz_verifier, err, sizeof(err)), GH_VERIFY_OK);
	assert_int_equal(keyset_from_jwks(fz_jwks_seeds[0], strlen(fz_jwks_seeds[0]), &s),
	    GH_VERIFY_OK);
	assert_int_equal(s->n, 3);
	fz_verifier->last_fetch = mono_ms() > 0 ? mono_ms() : 1;
	fz_keyset_fresh(s);
	fz_verifier->set = s;
	return 0;
}

static int
fz_teardown(void **state)
{
	(void)state;
	gh_verifier_free(fz_verifier);
	for (size_t i = 0; i < GH_ARRAY_LEN(fz_keys); i++)
		jose_key_free(fz_keys[i]);
	for (size_t i = 0; i < GH_ARRAY_LEN(fz_jwk_seeds); i++)
		free(fz_jwk_seeds[i]);
	for (size_t i = 0; i < GH_ARRAY_LEN(fz_jwks_seeds); i++)
		free(fz_jwks_seeds[i]);
	free(fz_jwks_many);
	for (size_t i = 0; i < GH_ARRAY_LEN(fz_token_seeds); i++)
		free(fz_token_seeds[i]);
	for (size_t i = 0; i < GH_ARRAY_LEN(fz_signed_seeds); i++)
		free(fz_signed_seeds[i]);
	policy_unref(fz_gate_policy);
	fz_gate_policy = NULL;
	fz_audit_close();
	if (fz_manage_cfg_set)
		config_clear(&fz_manage_cfg);
	fz_manage_cfg_set = 0;
	return tmpdir_remove(fz_dir);
}

/* Every dialect was both accepted and refused along the run. */
static void
fz_dialect_after(void)
{
	for (size_t i = 0; i < DIALECT__MAX; i++) {
		printf("fuzz:   dialect %-9s %6zu accepted, %6zu refused\n", dialect_table[i].name,
		    fz_dialect_seen[i][1], fz_dialect_seen[i][0]);
		if (fz_dialect_seen[i][0] == 0 || fz_dialect_seen[i][1] == 0)
			fail_msg("fuzz dialect_parse: dialect %s was not both accepted and refused",
			    dialect_table[i].name);
	}
}

/* Every key of a long JWKS kept, once (as a seed its every prefix cost
 * seconds). */
static void
fz_jwks_after(void)
{
	struct keyset *s = NULL;

	fz_cur.phase = "bound";
	assert_int_equal(fz_jwks((const uint8_t *)fz_jwks_many, strlen(fz_jwks_many)), 1);
	assert_int_equal(keyset_from_jwks(fz_jwks_many, strlen(fz_jwks_many), &s), GH_VERIFY_OK);
	assert_int_equal(s->n, FZ_JWKS_MANY);
	keyset_unref(s);
}

/* -- the targets -------------------------------------------------------- */

/* Every target, at file scope so that tests/fuzz/libfuzzer.c drives the same
 * parsers and checks under coverage guidance (scripts/fuzz.sh). The JOSE
 * targets' seed tables are filled in by fz_setup (JWKs and tokens of the
 * fixed keys). */
static const struct fz_target fz_t_num_parse_i64 = FZ_TARGET("num_parse_i64", seeds_num,
    dict_num, 20000, 64, fz_num_i64);
static const struct fz_target fz_t_num_parse_duration = FZ_TARGET("num_parse_dur",
    seeds_duration, dict_duration, 20000, 64, fz_duration);
static const struct fz_target fz_t_str_is_clean_utf8 = FZ_TARGET("utf8", seeds_utf8, dict_utf8,
    20000, 256, fz_utf8);
static const struct fz_target fz_t_b64url_decode = FZ_TARGET("b64url_decode", seeds_b64url,
    dict_b64, 20000, 512, fz_b64url);
static const struct fz_target fz_t_b64std_decode = FZ_TARGET("b64std_decode", seeds_b64std,
    dict_b64, 20000, 512, fz_b64std);
static const struct fz_target fz_t_http_urldecode = FZ_TARGET("http_urldecode", seeds_urldecode,
    dict_form, 20000, 1024, fz_urldecode);
static const struct fz_target fz_t_http_form_parse = FZ_TARGET("http_form_parse", seeds_form,
    dict_form, 20000, 20000, fz_form);
static const struct fz_target fz_t_http_json_parse = FZ_TARGET("http_json_parse",
    seeds_json_body, dict_json, 20000, 8192, fz_json_body);
static const struct fz_target fz_t_http_basic_parse = FZ_TARGET("http_basic_parse", seeds_basic,
    dict_basic, 20000, 2048, fz_basic);
static const struct fz_target fz_t_client_address = FZ_TARGET("X-Forwarded-For",
    seeds_client_address, dict_client_address, 20000, 2048, fz_client_address);
static const struct fz_target fz_t_policy_normalize_path = FZ_TARGET("policy_normalize",
    seeds_normalize, dict_normalize, 20000, 6000, fz_normalize);
static const struct fz_target fz_t_policy_parse = FZ_TARGET("policy_parse", seeds_policy,
    dict_policy, 10000, 16384, fz_policy);
static const struct fz_target fz_t_cidr_parse_list = FZ_TARGET("cidr_parse_list", seeds_cidr,
    dict_cidr, 20000, 512, fz_cidr);
static const struct fz_target fz_t_config_load = FZ_TARGET("config_load", seeds_config,
    dict_config, 5000, 8192, fz_config);
static const struct fz_target fz_t_json_flat = FZ_TARGET("json_flat", seeds_json_flat,
    dict_utf8, 20000, 1024, fz_json_flat);
static const struct fz_target fz_t_client_token_parse = FZ_TARGET("ghc_token_parse",
    seeds_client_token, dict_client_token, 20000, 8192, fz_client_token);
static const struct fz_target fz_t_client_iso8601 = FZ_TARGET("ghc_parse_iso8601",
    seeds_iso8601, dict_iso8601, 20000, 128, fz_iso8601);
static const struct fz_target fz_t_client_sanitize = FZ_TARGET("ghc_sanitize", seeds_sanitize,
    dict_sanitize, 20000, 2048, fz_sanitize);
static const struct fz_target fz_t_audit_verify = FZ_TARGET("audit_verify", seeds_audit,
    dict_audit, 1000, 2048, fz_audit);
static const struct fz_target fz_t_cachectl = FZ_TARGET("verify Cache-Control",
    seeds_cachectl, dict_cachectl, 20000, 512, fz_cachectl);
static const struct fz_target fz_t_jose_jwk = FZ_TARGET("jose_key_from_jwk", fz_jwk_seeds,
    dict_jose, 3000, 8192, fz_jwk);
static const struct fz_target fz_t_jws_signed_claims = FZ_TARGET("jws signed claims",
    fz_signed_seeds, dict_jose, 3000, 6000, fz_signed);
static const struct fz_target fz_t_dialect_parse = { FZ_FIELDS("dialect_parse", seeds_dialect,
    dict_dialect, 20000, 8192, fz_dialect), .after = fz_dialect_after };
static const struct fz_target fz_t_verify_jwks = { FZ_FIELDS("verify JWKS", fz_jwks_seeds,
    dict_jose, 2000, 16384, fz_jwks), .after = fz_jwks_after };
/* A mutated signed token is refused: only the seeds need pass. */
static const struct fz_target fz_t_jws_token = { FZ_FIELDS("jws/verify token", fz_token_seeds,
    dict_jose, 5000, JOSE_MAX_TOKEN_LEN + 64, fz_token), .mutated_accepts_optional = 1 };

static const struct fz_target fz_t_json_view = FZ_TARGET("json_view", seeds_json_view,
    dict_json_view, 20000, JSON_VIEW_MAX_LEN + 64, fz_json_view);
static const struct fz_target fz_t_gate_call = FZ_TARGET("gate_call", seeds_gate_call,
    dict_gate_call, 20000, 4096, fz_gate_call);
static const struct fz_target fz_t_client_spec = FZ_TARGET("client_spec", seeds_client_spec,
    dict_client_spec, 5000, 8192, fz_client_spec);
static const struct fz_target fz_t_approvals_body = FZ_TARGET("approvals_body",
    seeds_approvals_body, dict_approvals_body, 20000, 16384, fz_approvals_body);

static const struct fz_target *const fz_targets[] = {
	&fz_t_num_parse_i64,
	&fz_t_num_parse_duration,
	&fz_t_str_is_clean_utf8,
	&fz_t_b64url_decode,
	&fz_t_b64std_decode,
	&fz_t_http_urldecode,
	&fz_t_http_form_parse,
	&fz_t_http_json_parse,
	&fz_t_http_basic_parse,
	&fz_t_client_address,
	&fz_t_policy_normalize_path,
	&fz_t_policy_parse,
	&fz_t_cidr_parse_list,
	&fz_t_config_load,
	&fz_t_json_flat,
	&fz_t_client_token_parse,
	&fz_t_client_iso8601,
	&fz_t_client_sanitize,
	&fz_t_audit_verify,
	&fz_t_jose_jwk,
	&fz_t_jws_signed_claims,
	&fz_t_dialect_parse,
	&fz_t_verify_jwks,
	&fz_t_cachectl,
	&fz_t_jws_token,
	&fz_t_json_view,
	&fz_t_gate_call,
	&fz_t_client_spec,
	&fz_t_approvals_body,
};

/* -- the tests ---------------------------------------------------------- */

#ifndef GH_FUZZ_NO_MAIN
/* One cmocka test a target, named after it: the run, then its own checks
 * over the run. */
static void
test_target(void **state)
{
	const struct fz_target *t = *state;

	fz_run(t);
	if (t->after != NULL) {
		fz_cur.target = t->name;
		t->after();
		fz_cur.target = NULL;
	}
}

int
main(void)
{
	struct CMUnitTest tests[GH_ARRAY_LEN(fz_targets)];

	for (size_t i = 0; i < GH_ARRAY_LEN(fz_targets); i++)
		tests[i] = (struct CMUnitTest){ .name = fz_targets[i]->name,
		    .test_func = test_target, .initial_state = (void *)fz_targets[i] };
	return _cmocka_run_group_tests("test_fuzz_parsers", tests, GH_ARRAY_LEN(tests), fz_setup,
	    fz_teardown);
}
#endif
