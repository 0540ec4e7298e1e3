/*
 * gatehouse/client.h — the gatehouse client library: obtains, caches and
 * refreshes OAuth 2.0 client-credentials tokens (RFC 6749 §4.4) against
 * gatehouse or any of the dialects below, and signs API requests with them.
 *
 * A client (struct gh_client) holds one endpoint, one dialect and one set of
 * credentials; it caches one token per (scope, tenant) it is asked for, so
 * the cache key is (endpoint, client, scope, tenant). A token is refreshed
 * ahead of expiry: when refresh_before seconds remain (default 300), or at
 * 80% of its lifetime when the lifetime is short. The lifetime always comes
 * from the answer (expires_in, counted from when the request was sent, or
 * valid_until for "papaya"); an answer without a usable lifetime is an
 * error, never a default: GH_CLIENT_ERR_BAD_LIFETIME for an expires_in that
 * is missing, not a whole number, <= 0 or above 366 days, and for a
 * valid_until that is unparseable, without a time zone, not in the future
 * or more than 366 days away. Nothing is clamped.
 *
 * Clock skew: a server whose clock runs ahead of the client's ends a token
 * before the client would. So a token is handed out only until a margin
 * before it expires, and is refreshed before that: the margin is 10% of
 * the lifetime, at least 30 s, at most 60 s, and never more than half the
 * refresh window (with the defaults: 10% of a lifetime up to 300 s, 30 s to
 * 60 s above; 60 s for the usual 3600 s). When refreshing fails, the token
 * is used until then, never later; a caller is never handed an expired
 * token. gh_client_token_expires_at still reports the server's expiry.
 *
 * Thread safety: every function taking a struct gh_client may be called from
 * any number of threads at once, except gh_client_free. Concurrent callers
 * that need a token at the same moment cause exactly one token request
 * (single flight); while a token is in its refresh window but still valid,
 * one caller (or the background thread, see background_refresh) refreshes it
 * and every other caller keeps getting the current token without waiting.
 * The cached-token path takes a read lock and an atomic reference, nothing
 * else.
 *
 * Secrets in memory: what the library allocates that held the secret or a
 * token is wiped (OPENSSL_cleanse) before it is freed: its copy of the
 * secret, request bodies, Authorization headers, token answers and every
 * string parsed from them or from a refused request's answer, token
 * snapshots (when the last reference is released), and API answers
 * (gh_client_response_free). libcurl and jansson also hold copies, in
 * buffers they free themselves (libcurl's send and receive buffers,
 * jansson's parser buffer); their allocators are global to the program, so
 * the library leaves them alone. An application that needs those wiped too
 * installs wiping allocators itself (curl_global_init_mem before its first
 * gh_client_new, json_set_alloc_funcs).
 *
 * Errors: every function returns enum gh_client_err; when given a
 * struct gh_client_error it also fills in a message naming the cause.
 * Messages never contain the client secret, in any form it is sent in (as
 * is, form-encoded, JSON-escaped, inside the Basic credentials), and never
 * the token: what a server echoes is redacted before it is cut to length,
 * and a text (ours or the server's) that ends in 8 or more characters of
 * one of them, cut short, has those redacted too. The library never
 * prints, never logs and never exits.
 *
 * TLS: certificates and host names are always verified (libcurl's defaults,
 * set explicitly); ca_file / ca_path choose the trust anchors. There is no
 * option that turns verification off. Plain http:// is accepted only for a
 * loopback host (127.0.0.0/8, ::1, localhost) or when allow_http is set.
 * A loopback host is always reached directly, never through a proxy named
 * in the environment (http_proxy, ALL_PROXY, ...).
 * Redirects are never followed: a 3xx answer is GH_CLIENT_ERR_REDIRECT.
 *
 * libcurl: gh_client_new calls curl_global_init once (under pthread_once);
 * a program that also uses libcurl itself should call curl_global_init
 * before starting threads.
 *
 * Link with `pkg-config --cflags --libs gatehouse-client`.
 */
#ifndef GATEHOUSE_CLIENT_H
#define GATEHOUSE_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define GH_CLIENT_API __attribute__((visibility("default")))
#else
#define GH_CLIENT_API
#endif

#define GH_CLIENT_VERSION "0.2.0"

/* The longest token the library accepts from a token endpoint. */
#define GH_CLIENT_TOKEN_MAX	16384
/* Room for a UUID string and its NUL. */
#define GH_CLIENT_REQUEST_ID_LEN 37

enum gh_client_err {
	GH_CLIENT_OK = 0,
	GH_CLIENT_ERR_INVALID_ARGUMENT,	/* a bad option or argument */
	GH_CLIENT_ERR_NO_MEMORY,
	GH_CLIENT_ERR_CREDENTIALS,	/* credentials missing or unreadable */
	GH_CLIENT_ERR_INSECURE_FILE,	/* secret file readable by group or others */
	GH_CLIENT_ERR_NETWORK,		/* DNS, connect, reset (after retries) */
	GH_CLIENT_ERR_TIMEOUT,		/* an attempt timed out (after retries), or
					 * the call's deadline passed */
	GH_CLIENT_ERR_TLS,		/* handshake or certificate verification */
	GH_CLIENT_ERR_REDIRECT,		/* a 3xx answer; redirects are not followed */
	GH_CLIENT_ERR_UNAUTHORIZED,	/* 401: credentials refused, or the API
					 * refused a freshly fetched token */
	GH_CLIENT_ERR_REJECTED,		/* any other 4xx (400, 403, 404, ...) */
	GH_CLIENT_ERR_RATE_LIMITED,	/* 429 after retries, or Retry-After too long */
	GH_CLIENT_ERR_SERVER,		/* 5xx after retries */
	GH_CLIENT_ERR_BAD_RESPONSE,	/* not JSON, no token, bad token, too large */
	GH_CLIENT_ERR_BAD_LIFETIME,	/* expires_in / valid_until missing or unusable */
	GH_CLIENT_ERR_BUFFER_TOO_SMALL,	/* the caller's buffer cannot hold the token */
	GH_CLIENT_ERR__MAX
};

/*
 * Details of a failure, filled in by the functions that take one (the
 * pointer may be NULL). http_status is the last HTTP status seen (0: none).
 */
struct gh_client_error {
	enum gh_client_err code;
	long		 http_status;
	char		 message[512];
};

/* "ok", "invalid_argument", ...: a static string; "unknown" when out of range. */
GH_CLIENT_API const char *gh_client_err_name(enum gh_client_err);

enum gh_client_dialect {
	GH_CLIENT_DIALECT_OAUTH_BASIC = 0, /* "oauth-basic": RFC 6749 client_secret_basic,
					    * POST /oauth/token, form body */
	GH_CLIENT_DIALECT_OAUTH_POST,	/* "oauth-post": RFC 6749 client_secret_post,
					 * POST /oauth/token, form body */
	GH_CLIENT_DIALECT_M2P,		/* "m2p" / "000": POST /auth/token, JSON
					 * {clientId, clientSecret, grantType} */
	GH_CLIENT_DIALECT_PARTNER,	/* "partner" / "001": POST /api/oauth/token,
					 * JSON {grant_type, client_id, client_secret} */
	GH_CLIENT_DIALECT_PAPAYA,	/* "papaya" / "002": POST /token, JSON {api_key,
					 * client_secret, expiration, token_name};
					 * answer {valid_until, token, token_name} */
	GH_CLIENT_DIALECT_MANGOPAY,	/* "mangopay" / "003": POST /v2.01/oauth/token,
					 * Basic base64(ClientId:ApiKey), form body */
	GH_CLIENT_DIALECT__MAX
};

/* The dialect's canonical name ("oauth-basic", ...), or NULL when out of range. */
GH_CLIENT_API const char *gh_client_dialect_name(enum gh_client_dialect);
/* The dialect's default token path ("/oauth/token", ...), or NULL. */
GH_CLIENT_API const char *gh_client_dialect_path(enum gh_client_dialect);
/* Parse a name or alias ("000".."003"); GH_CLIENT_ERR_INVALID_ARGUMENT if unknown. */
GH_CLIENT_API enum gh_client_err gh_client_dialect_parse(const char *name,
    enum gh_client_dialect *out);

/*
 * Options for gh_client_new. Zero-initialise, then set what you need; a
 * zero numeric field means its default. Strings are copied; the secret copy
 * is wiped when the client is freed.
 *
 * Compatibility: fields are only ever appended, and gh_client_new passes
 * sizeof the caller's struct to the library (see gh_client_new below), so a
 * program built against an older header keeps working with a newer library
 * (the fields it does not know take their defaults). Do not set a field by
 * its offset or copy the struct with a hard-coded size.
 */
struct gh_client_options {
	const char	*base_url;	/* required: "https://host[:port][/prefix]" */
	enum gh_client_dialect dialect;
	const char	*token_path;	/* NULL: the dialect's path; may be a full URL */
	const char	*client_id;	/* required (api_key for papaya) */
	const char	*client_secret;	/* required (ApiKey for mangopay) */
	const char	*scope;		/* default scope; NULL: none sent */
	const char	*tenant;	/* default X-TENANT-ID; NULL: none sent */
	const char	*token_name;	/* papaya: token_name; NULL: not sent */
	long		 token_expiration; /* papaya: expiration in seconds; 0: not sent */

	/*
	 * Durations. A negative one is GH_CLIENT_ERR_INVALID_ARGUMENT; one
	 * above a day (86400000 ms) counts as a day, and refresh_before_* above
	 * 366 days (the longest lifetime accepted) as 366 days, so that no
	 * value overflows when the library turns it into nanoseconds.
	 */
	long		 refresh_before_s; /* refresh when this much remains; 0: 300.
					    * Below twice the clock-skew margin
					    * it shrinks the margin with it. */
	long		 refresh_before_ms; /* if > 0, overrides refresh_before_s (tests) */
	int		 background_refresh; /* 1: a thread refreshes ahead, callers never
					      * wait while a token is valid; it stops
					      * for unused tokens: background_idle_ms */

	long		 connect_timeout_ms; /* 0: 5000 */
	long		 timeout_ms;	/* one HTTP attempt, 0: 20000; see deadline_ms */
	int		 max_retries;	/* on network errors, 5xx, 429; 0: 3; < 0: none */
	long		 backoff_base_ms; /* first retry delay; 0: 200 */
	long		 backoff_max_ms;  /* cap on one delay; 0: 5000 */
	long		 retry_after_max_ms; /* longest Retry-After honoured; 0: 30000.
					      * A longer one fails at once. A
					      * Retry-After above a day counts
					      * as a day. */
	size_t		 max_response_bytes; /* token and API answers; 0: 1 MiB */

	const char	*ca_file;	/* PEM CA bundle; NULL: the system's */
	const char	*ca_path;	/* directory of CA certificates; NULL: system's */
	int		 allow_http;	/* 1: accept http:// for non-loopback hosts too */
	const char	*user_agent;	/* NULL: "gatehouse-client/VERSION" */
	/* Fields after this point were added after 0.1.0 (sized options). */

	/*
	 * The longest one gh_client_token_get, gh_client_token_copy or
	 * gh_client_call may take, its token request, retries, backoff and
	 * Retry-After waits included; 0: timeout_ms × (max_retries + 1) (with
	 * the defaults 80 s). No attempt starts after it, no wait is begun that
	 * would end after it (the call ends at once instead), a running
	 * attempt's timeout is cut to what remains, and a caller waiting for
	 * another caller's token request stops waiting at it. Reaching it is
	 * GH_CLIENT_ERR_TIMEOUT, or the last answer's error when the answer was
	 * retryable (e.g. GH_CLIENT_ERR_SERVER for a 503); the message says so.
	 */
	long		 deadline_ms;
	/*
	 * The 401 hold-off. When the API refuses (401) a token that was
	 * fetched because it had refused the one before, a new token will not
	 * help (the API or the credentials are at fault): for this long no
	 * 401 makes the library fetch a token, and 401s reach the caller as
	 * they are; so a misbehaving API, or a revoked client, cannot make it
	 * spend the client's issuance rate limit. A refresh after a 401 that
	 * the token endpoint refuses (401, 4xx, 429, a bad answer) starts it
	 * too; one that fails for a reason that may pass (the network, a
	 * timeout, a 5xx) holds the next off for backoff_max_ms only. Per
	 * client (one set of credentials); 0: 60000 (60 s, as MSAL holds its
	 * throttling state after server errors).
	 */
	long		 refresh_401_holdoff_ms;
	/*
	 * With background_refresh: a (scope, tenant) that no caller asked a
	 * token for in this long is no longer refreshed by the background
	 * thread, and its token is dropped (wiped) once it may no longer be
	 * handed out; the next caller fetches one as if none had been cached,
	 * and the thread refreshes it again from then on. 0: 3600000 (1 h).
	 */
	long		 background_idle_ms;
	/*
	 * The refusal hold-off (a negative cache). When the token endpoint
	 * refuses a request in a way the next request would meet again (401
	 * or another 4xx, 429, or a 2xx without a usable token), callers with
	 * no valid token for that scope and tenant get that refusal back at
	 * once for this long, marked as held off, instead of each sending the
	 * refused credentials again: a loop of calls with a revoked secret
	 * must not earn its address a lockout or spend the rate limit. A 429
	 * holds off for its Retry-After instead when it has one. Failures
	 * that may pass (the network, a timeout, a 5xx) are not held. A token
	 * still valid is handed out as usual, and refreshing it ahead waits
	 * for the hold-off too. 0: 10000 (10 s).
	 */
	long		 refusal_holdoff_ms;
};

struct gh_client;
struct gh_client_token;

/*
 * Create a client. On success *out is a new client the caller frees with
 * gh_client_free. No network traffic happens here.
 *
 * gh_client_new is a macro that passes sizeof(*opts) to
 * gh_client_new_sized, so opts must point to a struct gh_client_options.
 * gh_client_new_sized reads options_size bytes: fewer than the 0.1.0 struct
 * is GH_CLIENT_ERR_INVALID_ARGUMENT; fields past the end take their
 * defaults; bytes beyond the struct this library knows (a program built
 * against a newer header) must be zero, else GH_CLIENT_ERR_INVALID_ARGUMENT
 * (the rule of Linux's openat2 and clone3 for extensible structs). The
 * function gh_client_new itself (called as (gh_client_new)(...), or through
 * a pointer, or by a binary built against 0.1.0) reads the 0.1.0 struct.
 */
GH_CLIENT_API enum gh_client_err gh_client_new_sized(const struct gh_client_options *opts,
    size_t options_size, struct gh_client **out, struct gh_client_error *);
GH_CLIENT_API enum gh_client_err (gh_client_new)(const struct gh_client_options *opts,
    struct gh_client **out, struct gh_client_error *);
#define gh_client_new(opts, out, err) \
	gh_client_new_sized((opts), sizeof(*(opts)), (out), (err))

/*
 * Free a client: stops the background thread (a refresh under way is cut
 * off within about a second, not waited for), wipes the secret and drops
 * the cached tokens (tokens still held by callers stay valid until they
 * release them). No other thread may be using the client. NULL is a no-op.
 */
GH_CLIENT_API void gh_client_free(struct gh_client *);

/*
 * Get a valid token for (scope, tenant) — NULL means the options' default.
 * Returns the cached token when it is outside its refresh window, refreshes
 * it (once, for all callers) when in the window, and fetches one (once, all
 * callers waiting on that one request) when there is none or it expired.
 * It returns by the options' deadline_ms (GH_CLIENT_ERR_TIMEOUT if no token
 * came by then). On success *out holds a reference the caller releases with
 * gh_client_token_release; the token stays readable until then.
 */
GH_CLIENT_API enum gh_client_err gh_client_token_get(struct gh_client *,
    const char *scope, const char *tenant, struct gh_client_token **out,
    struct gh_client_error *);

/* The token string (NUL-terminated, owned by the token object). */
GH_CLIENT_API const char *gh_client_token_value(const struct gh_client_token *);
/* The token's length in bytes. */
GH_CLIENT_API size_t gh_client_token_length(const struct gh_client_token *);
/* When the token expires, in seconds since the epoch (wall clock). */
GH_CLIENT_API int64_t gh_client_token_expires_at(const struct gh_client_token *);
/* Release a reference from gh_client_token_get. NULL is a no-op. */
GH_CLIENT_API void gh_client_token_release(struct gh_client_token *);

/*
 * Like gh_client_token_get, but copies the token into buf (NUL-terminated).
 * GH_CLIENT_ERR_BUFFER_TOO_SMALL if len <= the token's length. *needed (may
 * be NULL) receives the token's length without its NUL when a token was
 * found (a buffer of *needed + 1 bytes holds it), else 0; buf NULL with len
 * 0 asks for just that. Nothing is ever written past buf[len - 1]; on any
 * error buf (when len > 0) holds the empty string, never a cut token.
 */
GH_CLIENT_API enum gh_client_err gh_client_token_copy(struct gh_client *,
    const char *scope, const char *tenant, char *buf, size_t len, size_t *needed,
    struct gh_client_error *);

/*
 * Forget the cached token for (scope, tenant) so that the next caller
 * fetches a new one (e.g. after the API answered 401). Only the given token
 * is dropped, so that many callers reporting the same stale token cause one
 * fetch; token NULL drops whatever is cached. A given token counts as a
 * 401, under gh_client_call's rule: during the 401 hold-off (see
 * refresh_401_holdoff_ms) it is kept, since a new one would be refused too,
 * and a token fetched after such a drop that is itself invalidated starts
 * the hold-off. token NULL always drops.
 */
GH_CLIENT_API void gh_client_token_invalidate(struct gh_client *, const char *scope,
    const char *tenant, const struct gh_client_token *token);

/* An API request for gh_client_call. */
struct gh_client_request {
	const char	*method;	/* "GET", "POST", ...; NULL: GET */
	const char	*url;		/* absolute URL of the API */
	const void	*body;		/* NULL: none */
	size_t		 body_len;
	const char	*content_type;	/* NULL with a body: application/json */
	const char *const *headers;	/* extra "Name: value" lines, NULL-terminated;
					 * may be NULL. Authorization, X-TENANT-ID and
					 * X-Request-ID are set by the library. */
	const char	*scope;		/* NULL: the options' scope */
	const char	*tenant;	/* NULL: the options' tenant */
	const char	*request_id;	/* NULL: a fresh UUID v4 */
	/* Nonzero: the API treats a repeat of this request (same
	 * X-Request-ID) as the first, so it may be sent again after a timeout
	 * or a 5xx. GET, HEAD, PUT, DELETE and OPTIONS are so anyway (RFC 9110
	 * §9.2.2); a POST or PATCH is not unless this says so. */
	int		 idempotent;
};

/* The answer; free with gh_client_response_free. */
struct gh_client_response {
	long		 status;	/* HTTP status, 0 if none was received */
	char		*body;		/* NUL-terminated, may hold NULs; malloc'd */
	size_t		 body_len;
	char		*content_type;	/* malloc'd or NULL */
	char		 request_id[GH_CLIENT_REQUEST_ID_LEN]; /* the X-Request-ID sent */
	int		 attempts;	/* HTTP requests made for this call */
};

/*
 * Perform an API request with Authorization: Bearer, X-TENANT-ID (when a
 * tenant is set) and X-Request-ID (one per call, the same on its retries so
 * the server can recognise them). On a 401 a new token is fetched (one
 * request for all the callers refused the same token) and the request is
 * retried once with it; the old token stays cached until the new one is in,
 * so a failed fetch leaves the callers the API's 401. Within the 401
 * hold-off (refresh_401_holdoff_ms) a 401 is returned at once with no token
 * fetched, and the message says until when. 429, and 503 with Retry-After,
 * are retried after it (the server did not take the request), and so is a
 * request that never reached the server (no address, no connection). A
 * timeout, a broken connection or another 5xx may come after the API acted,
 * so only an idempotent request (see gh_client_request.idempotent) is sent
 * again then, with bounded exponential backoff and jitter. Other 4xx are
 * never retried. The whole call, its token request and 401 refresh
 * included, ends by the options' deadline_ms.
 *
 * Returns GH_CLIENT_OK when the API answered 2xx; otherwise the error (e.g.
 * GH_CLIENT_ERR_REJECTED for a 404). Whenever an answer was received, resp
 * holds it (status, body) even on error; the caller always calls
 * gh_client_response_free(resp).
 */
GH_CLIENT_API enum gh_client_err gh_client_call(struct gh_client *,
    const struct gh_client_request *, struct gh_client_response *resp,
    struct gh_client_error *);

/* Wipe and free what a response holds, and zero it. */
GH_CLIENT_API void gh_client_response_free(struct gh_client_response *);

/* Statistics, for tests and metrics. Counters only: later versions add
 * fields at the end. */
struct gh_client_stats {
	uint64_t	 token_requests;  /* token endpoint HTTP requests made */
	uint64_t	 token_fetches;   /* successful token fetches */
	uint64_t	 token_failures;  /* failed token fetches (after retries) */
	uint64_t	 api_calls;       /* gh_client_call invocations */
};
/*
 * Fill *stats. gh_client_stats_get is a macro that passes sizeof(*stats)
 * to gh_client_stats_get_sized, which writes stats_size bytes at most:
 * the counters a program's header knows, so that a newer library never
 * writes past an older program's struct; counters this library does not
 * have are zeroed. The function gh_client_stats_get itself (called as
 * (gh_client_stats_get)(...), or by a binary built against 0.1.0) writes
 * the 0.1.0 struct, the four counters above.
 */
GH_CLIENT_API void gh_client_stats_get_sized(struct gh_client *, struct gh_client_stats *stats,
    size_t stats_size);
GH_CLIENT_API void (gh_client_stats_get)(struct gh_client *, struct gh_client_stats *);
#define gh_client_stats_get(c, stats) \
	gh_client_stats_get_sized((c), (stats), sizeof(*(stats)))

/*
 * Credentials. Load a client id and secret for the options:
 *  - id: id_value if not NULL, else the environment variable id_env (e.g.
 *    "GATEHOUSE_CLIENT_ID");
 *  - secret: the file secret_file if not NULL (the first line, without its
 *    line ending; the file must be a regular file not readable or writable
 *    by group or others, else GH_CLIENT_ERR_INSECURE_FILE), else the
 *    environment variable secret_env (e.g. "GATEHOUSE_CLIENT_SECRET").
 * On success *id and *secret are malloc'd strings the caller frees with
 * gh_client_credentials_free (which wipes the secret).
 */
GH_CLIENT_API enum gh_client_err gh_client_credentials_load(const char *id_value,
    const char *id_env, const char *secret_file, const char *secret_env,
    char **id, char **secret, struct gh_client_error *);
GH_CLIENT_API void gh_client_credentials_free(char *id, char *secret);

/*
 * A fresh UUID v4 (RFC 9562 §5.4) from the system's CSPRNG, as 36 characters
 * and a NUL in out.
 */
GH_CLIENT_API enum gh_client_err gh_client_uuid4(char out[GH_CLIENT_REQUEST_ID_LEN]);

/*
 * The `gatehouse token get` command: argv holds the arguments after
 * "token get". Prints the token and a newline on stdout, errors on stderr;
 * returns 0, 1 on failure, 2 on a usage error. Run it with --help for the
 * options.
 */
GH_CLIENT_API int gh_client_cli_token_get(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* GATEHOUSE_CLIENT_H */
