/*
 * extern.h — the client library's private interface between its files.
 * Nothing here is installed; the public interface is gatehouse/client.h.
 */
#ifndef GH_CLIENT_EXTERN_H
#define GH_CLIENT_EXTERN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "gatehouse/client.h"

/* Limits, in one place. */
#define GHC_MAX_LIFETIME_S	(366L * 86400L)	/* a longer expires_in is refused */
#define GHC_MAX_ENTRIES		1024		/* distinct (scope, tenant) per client */
#define GHC_MAX_FIELD		4096		/* id, secret, scope, tenant, path */
#define GHC_DEFAULT_RESPONSE_MAX (1024 * 1024)
/*
 * The longest duration option (timeouts, backoff, Retry-After limits) and
 * the longest Retry-After: one day. Larger values count as one day, so that
 * every duration fits a 32-bit long in milliseconds and an int64_t in
 * nanoseconds with room to add it to a clock reading.
 */
#define GHC_MAX_MS		(86400L * 1000L)
#define GHC_MAX_RETRIES_CAP	10		/* max_retries above this count as this */
/* The clock-skew margin: 10% of a token's lifetime within these (see dialect.c). */
#define GHC_SKEW_MIN_NS		(30LL * 1000000000)
#define GHC_SKEW_MAX_NS		(60LL * 1000000000)

/* The size of struct gh_client_options in 0.1.0, which ended with
 * user_agent: what the function gh_client_new (the 0.1.0 symbol) reads. */
#define GHC_OPTIONS_V0_SIZE	(offsetof(struct gh_client_options, user_agent) + \
	sizeof(((struct gh_client_options *)0)->user_agent))
/* The size of struct gh_client_stats in 0.1.0, which ended with
 * api_calls: what the function gh_client_stats_get (the 0.1.0 symbol)
 * writes. */
#define GHC_STATS_V0_SIZE	(offsetof(struct gh_client_stats, api_calls) + \
	sizeof(((struct gh_client_stats *)0)->api_calls))

/* A growable byte buffer that refuses to grow past max (0: no limit). */
struct ghc_buf {
	char		*p;
	size_t		 len;
	size_t		 cap;
	size_t		 max;
	int		 overflow;	/* an append was refused by max */
};

int	 ghc_buf_append(struct ghc_buf *, const void *, size_t);
int	 ghc_buf_append_str(struct ghc_buf *, const char *);
void	 ghc_buf_free(struct ghc_buf *);	/* wipes, frees, zeroes */

/* An immutable token snapshot; refs counts the cache's and callers' references. */
struct gh_client_token {
	atomic_long	 refs;
	int64_t		 expires_wall;	/* seconds since the epoch */
	int64_t		 expires_ns;	/* on ghc_now_ns()'s clock */
	int64_t		 usable_ns;	/* handed out until then: expires_ns less
					 * the clock-skew margin */
	int64_t		 refresh_ns;	/* refresh from then on (< usable_ns) */
	int		 forced;	/* fetched because the API refused the one before
					 * (set before the token is published) */
	int		 refused;	/* under the client's mu: the API refused it too,
					 * and that started the 401 hold-off */
	size_t		 len;
	char		 value[];
};

/* One cache entry; never freed before the client. */
struct ghc_entry {
	struct ghc_entry *next;
	char		*scope;		/* NULL: none */
	char		*tenant;	/* NULL: none */
	struct gh_client_token *tok;	/* written under mu + rw(write) */
	/* The rest under mu. */
	int		 inflight;	/* a fetch for this entry is running */
	int		 forcing;	/* ... and a 401 forced it */
	int		 force_next;	/* the next fetch is forced (token_invalidate) */
	uint64_t	 gen;		/* fetches completed */
	enum gh_client_err last_rc;	/* of the last completed fetch */
	struct gh_client_error last_err;
	int64_t		 next_ahead_ns;	/* no refresh-ahead before (after a failure) */
	int64_t		 refused_until_ns; /* no fetch before: the endpoint refused
					    * (refusal_holdoff_ms); last_rc says how */
	/* With a background thread only (see background_idle_ms): */
	_Atomic int64_t	 last_used_ns;	/* when a caller last asked for it (roughly) */
	atomic_int	 bg_idle;	/* unused: the thread leaves it to the callers */
};

struct gh_client {
	/* Options, copied and defaulted; read-only after gh_client_new. */
	char		*base_url;
	char		*token_url;	/* base_url + path, or the path if a URL */
	enum gh_client_dialect dialect;
	char		*client_id;
	char		*client_secret;	/* wiped on free */
	size_t		 secret_len;
	/* The secret as it may be echoed besides as is (form-encoded, JSON-escaped,
	 * either with "\/", inside the Basic credentials): what messages redact.
	 * Wiped on free. */
#define GHC_FORMS_MAX	5
	char		*forms[GHC_FORMS_MAX];
	size_t		 forms_len[GHC_FORMS_MAX];
	size_t		 nforms;
	char		*scope;
	char		*tenant;
	char		*token_name;
	long		 token_expiration;
	int64_t		 refresh_before_ns;
	int		 background_refresh;
	long		 connect_timeout_ms;
	long		 timeout_ms;
	int64_t		 deadline_ns;	/* of one token_get/token_copy/call */
	int64_t		 holdoff_401_ns; /* see refresh_401_holdoff_ms */
	int64_t		 refusal_holdoff_ns; /* see refusal_holdoff_ms */
	int64_t		 idle_ns;	/* see background_idle_ms */
	int64_t		 touch_ns;	/* last_used_ns is written at most this often */
	int		 max_retries;
	long		 backoff_base_ms;
	long		 backoff_max_ms;
	long		 retry_after_max_ms;
	size_t		 max_response_bytes;
	char		*ca_file;
	char		*ca_path;
	int		 allow_http;
	char		*user_agent;

	/* The cache. */
	pthread_rwlock_t rw;		/* entries list and each entry's tok */
	pthread_mutex_t	 mu;		/* single flight; see struct ghc_entry */
	pthread_cond_t	 cv;		/* a fetch completed */
	struct ghc_entry *entries;	/* the first is the default (scope, tenant) */
	size_t		 nentries;
	int64_t		 hold401_until_ns; /* under mu: no 401-forced fetch before */
	enum gh_client_err hold401_cause; /* under mu: GH_CLIENT_OK when a fresh
					   * token was refused too, else the
					   * failed fetch's error */

	/* The background refresher. */
	int		 bg_started;
	int		 bg_stop;	/* under mu */
	atomic_int	 closing;	/* gh_client_free: transfers and waits end now */
	pthread_cond_t	 bg_cv;		/* wake the refresher */
	pthread_t	 bg_thread;

	atomic_uint_fast64_t st_token_requests;
	atomic_uint_fast64_t st_token_fetches;
	atomic_uint_fast64_t st_token_failures;
	atomic_uint_fast64_t st_api_calls;
};

/* util.c: fill an error (e may be NULL) and return code. */
enum gh_client_err ghc_fail(struct gh_client_error *e, enum gh_client_err code,
    long http_status, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * What no message may show: the secret in each form it is sent in, and a
 * token. A text that ends in a prefix of one of them at least
 * GHC_REDACT_PREFIX long (or the whole string, if shorter) was cut in the
 * middle of it, by us or by the server: that prefix is redacted too.
 */
#define GHC_REDACT_MAX		7	/* the secret, its forms, a token */
_Static_assert(GHC_REDACT_MAX >= 1 + GHC_FORMS_MAX + 1, "room to redact every form");
#define GHC_REDACT_PREFIX	8
struct ghc_redactions {
	const char	*s[GHC_REDACT_MAX];
	size_t		 n[GHC_REDACT_MAX];
	size_t		 count;
};
/* Add s (NULL or n 0: nothing; beyond GHC_REDACT_MAX: ignored, see GHC_FORMS_MAX). */
void	 ghc_redactions_add(struct ghc_redactions *, const char *s, size_t n);
/* The client's secret in every form (see ghc_secret_forms), and t's value if not NULL. */
void	 ghc_client_redactions(const struct gh_client *, const struct gh_client_token *t,
    struct ghc_redactions *);
/* In e->message, replace each occurrence of each string of r, and a cut one at the end, by "***". */
void	 ghc_redact(struct gh_client_error *e, const struct ghc_redactions *r);
/* ghc_redact of the client's secret in every form it is sent in. */
void	 ghc_redact_secret(const struct gh_client *, struct gh_client_error *e);
/*
 * Copy a server-provided string for a message: printable ASCII, at most
 * dstlen - 1 bytes, with every occurrence of each string of r (may be NULL),
 * and a cut one at the end of src, replaced by "***" BEFORE it is cut to
 * dstlen, so that an echoed secret cannot survive as a truncated prefix.
 */
void	 ghc_sanitize(char *dst, size_t dstlen, const char *src, size_t srclen,
    const struct ghc_redactions *r);

/* util.c */
int64_t	 ghc_now_ns(void);		/* CLOCK_BOOTTIME (suspend counts) */
void	 ghc_sleep_ms(long ms);
/* Sleeps ms, or less when c->closing is set meanwhile (checked every 50 ms). */
void	 ghc_pause_ms(struct gh_client *c, long ms);
uint64_t ghc_rand64(void);		/* not for secrets: jitter only */
char	*ghc_base64(const void *, size_t);	/* standard alphabet, padded */
/* application/x-www-form-urlencoded (RFC 6749 Appendix B): appends to b. */
int	 ghc_form_encode(struct ghc_buf *b, const char *s);
/*
 * "2024-07-11T07:48Z", "...:48:05Z", "...:48:05.123+00:00", "-05:30" offsets:
 * seconds since the epoch in *out; -1 if unparseable.
 */
int	 ghc_parse_iso8601(const char *s, int64_t *out);
/* RFC 6750 §2.1 b64token: what may follow "Bearer ". */
int	 ghc_token_syntax_ok(const char *s, size_t len);
int	 ghc_host_is_loopback(const char *url);
char	*ghc_strdup_opt(const char *);	/* NULL stays NULL */

/* http.c */
struct ghc_http_req {
	const char	*method;
	const char	*url;
	struct curl_slist *headers;
	const void	*body;
	size_t		 body_len;
	/* May be sent again after it may have arrived (a timeout, a 5xx); if
	 * not, only what provably never reached the server is retried (no
	 * address, no connection) and what it declined (429, 503 with
	 * Retry-After). */
	int		 idempotent;
};

struct ghc_http_resp {
	long		 status;
	struct ghc_buf	 body;
	char		*content_type;
	char		*location;
	long		 retry_after_ms;	/* -1: none */
	int		 attempts;
	int		 out_of_time;	/* a retry was due, but the deadline left no time */
};

/*
 * Send req, retrying network errors, 5xx and 429 as the client's options
 * say, all before deadline_ns (on ghc_now_ns()'s clock): no attempt or wait
 * begins that would end after it, and an attempt's timeout is cut to what
 * remains. GH_CLIENT_OK when an HTTP answer was received (any status: the
 * caller judges it), else the transport error (message in e). counter, if
 * not NULL, counts each HTTP attempt.
 */
enum gh_client_err ghc_http_do(struct gh_client *, const struct ghc_http_req *,
    struct ghc_http_resp *, struct gh_client_error *, atomic_uint_fast64_t *counter,
    int64_t deadline_ns);
/* " (the call's deadline of N ms left no time for another attempt)" or "". */
const char *ghc_deadline_note(const struct gh_client *, const struct ghc_http_resp *,
    char *buf, size_t len);
void	 ghc_http_resp_free(struct ghc_http_resp *);
/* The error class of an HTTP status (2xx: GH_CLIENT_OK). */
enum gh_client_err ghc_status_err(long status);
/* Check a URL's scheme against the client's rules. */
enum gh_client_err ghc_check_url(const struct gh_client *, const char *url,
    struct gh_client_error *);

/* dialect.c: compute c->forms from c->client_secret (-1: out of memory); wipe and free them. */
int	 ghc_secret_forms(struct gh_client *);
void	 ghc_secret_forms_free(struct gh_client *);
/* dialect.c: fetch a new token from the token endpoint before deadline_ns.
 * *retry_after_ms: the Retry-After of a final 429, in ms; else -1. */
enum gh_client_err ghc_token_fetch(struct gh_client *, const char *scope,
    const char *tenant, struct gh_client_token **out, struct gh_client_error *,
    int64_t deadline_ns, long *retry_after_ms);
/* Parse a token endpoint's 2xx body (exposed for unit tests). now: wall clock. */
enum gh_client_err ghc_token_parse(enum gh_client_dialect, const char *body, size_t len,
    int64_t now_wall, const struct ghc_redactions *, char **token, int64_t *lifetime_s,
    int64_t *expires_wall, struct gh_client_error *);

/* options.c: a value that goes into a header or a body: no controls, at most max bytes. */
int	 ghc_field_ok(const char *s, size_t max);

/* client.c */
/*
 * Start the cache of c, whose settings are filled in: the default entry,
 * the locks and, if background_refresh, the refresher thread. On failure
 * what it made is undone, and c's settings are the caller's to free.
 */
enum gh_client_err ghc_cache_init(struct gh_client *, struct gh_client_error *);
/* Stop the refresher, release every entry and its token, destroy the locks. */
void	 ghc_cache_free(struct gh_client *);
void	 ghc_token_ref(struct gh_client_token *);
/* gh_client_token_get with the caller's deadline (on ghc_now_ns()'s clock). */
enum gh_client_err ghc_token_get(struct gh_client *, const char *scope, const char *tenant,
    struct gh_client_token **out, struct gh_client_error *, int64_t deadline_ns);
/*
 * The API answered 401 to t, the token ghc_token_get gave for (scope,
 * tenant). GH_CLIENT_OK: *out is a token to send the request again with (a
 * new one, fetched once for every caller reporting t, or the one another
 * caller's fetch installed). GH_CLIENT_ERR_UNAUTHORIZED: the 401 hold-off
 * is on, nothing was fetched, err says until when. Else the fetch's error.
 */
enum gh_client_err ghc_token_refused(struct gh_client *, const char *scope, const char *tenant,
    struct gh_client_token *t, struct gh_client_token **out, struct gh_client_error *,
    int64_t deadline_ns);
/* The API answered 401 to t, a token fetched after an earlier 401: record it. */
void	 ghc_token_refused_again(struct gh_client *, const char *scope, const char *tenant,
    struct gh_client_token *t);

#endif /* GH_CLIENT_EXTERN_H */
