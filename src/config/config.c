/* config.c — the typed table behind config.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "http/limits.h"
#include "util/secrecy.h"
#include "util/util.h"

enum config_type { CT_STR, CT_INT, CT_BOOL, CT_DURATION, CT_TRISTATE };

struct config_entry {
	const char	*key;
	enum config_type type;
	size_t		 offset;
	int64_t		 min, max;
	const char	*def;
	const char	*help;
};

#define KEY_ROTATION_MIN_S	3600

#define O(f) offsetof(struct config, f)
static const struct config_entry entries[] = {
	{ "db", CT_STR, O(db), 0, 0, "sqlite:var/gatehouse.db", "store URL: sqlite:PATH or postgresql://..." },
	{ "master_key", CT_STR, O(master_key), 0, 0, "var/master.key", "master key file (created 0600 on first run)" },
	{ "listen", CT_STR, O(listen), 0, 0, "127.0.0.1:8080", "address to serve on, ADDR:PORT or [ADDR]:PORT; port 0 takes a free one (logged in server.started)" },
	{ "issuer", CT_STR, O(issuer), 0, 0, "", "token issuer (iss), an http(s) URL with no query or fragment; default http(s)://LISTEN (required with a listen of 0.0.0.0 or [::])" },
	{ "tls_cert", CT_STR, O(tls_cert), 0, 0, "", "TLS certificate chain (PEM); serves HTTPS (TLS 1.2 and 1.3) when set" },
	{ "tls_key", CT_STR, O(tls_key), 0, 0, "", "TLS private key (PEM, mode 0600)" },
	{ "threads", CT_INT, O(threads), 0, 256, "0", "HTTP event-loop threads, each with a listening socket of its own; 0 = two per core" },
	{ "request_timeout", CT_DURATION, O(request_timeout), 1, 3600, "30", "a request must arrive whole within this of its connection's opening or the answer before it, else the connection is closed (slow clients); idle connections are closed after it too" },
	{ "connections_per_address", CT_INT, O(connections_per_address), 0, HTTP_MAX_CONNECTIONS, "256", "most connections one client address (an IPv6 /64) may hold open at once, so that one host cannot take all 4096; trusted_proxies are not limited; 0: no limit" },
	{ "log_requests", CT_BOOL, O(log_requests), 0, 1, "1", "one JSON log line per request" },
	{ "require_https", CT_TRISTATE, O(require_https), -1, 1, "auto", "refuse token requests over plain HTTP (auto: unless listening on loopback)" },
	{ "trusted_proxies", CT_STR, O(trusted_proxies), 0, 0, "", "CIDRs whose X-Forwarded-For/-Proto are believed (X-Real-IP is not read); a forwarded caller that is not an address is refused 400" },
	{ "ttl_sandbox", CT_DURATION, O(ttl_sandbox), 60, 31 * 86400, "1200", "default token lifetime of new sandbox clients" },
	{ "ttl_production", CT_DURATION, O(ttl_production), 60, 31 * 86400, "3600", "default token lifetime of new production clients" },
	/* 2 days: seed 002's own example asks 100001 s ("expiration"), more
	 * than a day, and must work unchanged on a client made with no
	 * settings; two days take it with room and keep a token asked for,
	 * and a rotated key published for it (keys_max_lifetime), short. */
	{ "max_ttl", CT_DURATION, O(max_ttl), 60, 366 * 86400, "2d", "the longest lifetime a token request may ask, for new clients without --max-ttl" },
	{ "audiences", CT_STR, O(audiences), 0, 0, "", "audiences a token request may name (space separated)" },
	{ "signing_alg", CT_STR, O(signing_alg), 0, 0, "RS256", "algorithm of new signing keys: RS256, PS256, ES256, EdDSA" },
	{ "require_allowlist", CT_BOOL, O(require_allowlist), 0, 1, "1", "production clients must have an IP allowlist" },
	{ "policy", CT_STR, O(policy), 0, 0, "", "gate route policy file" },
	{ "leeway", CT_DURATION, O(leeway), 0, 300, "30", "clock skew accepted on exp and nbf, and on locks other nodes made; past it a node logs clock.skew (PostgreSQL)" },
	{ "route.oauth", CT_STR, O(route[0]), 0, 0, "", "path of the RFC 6749 token route, or off" },
	{ "route.m2p", CT_STR, O(route[1]), 0, 0, "", "path of the seed 000 route (/auth/token), or off" },
	{ "route.partner", CT_STR, O(route[2]), 0, 0, "", "path of the seed 001 route (/api/oauth/token), or off" },
	{ "route.papaya", CT_STR, O(route[3]), 0, 0, "", "path of the seed 002 route (/token), or off" },
	{ "route.mangopay", CT_STR, O(route[4]), 0, 0, "", "path of the seed 003 route (/v2.01/oauth/token), or off" },
	{ "lockout", CT_BOOL, O(lockout), 0, 1, "1", "lock out callers after repeated bad credentials (off: no counting, for benchmarks only)" },
	{ "lockout_pair_threshold", CT_INT, O(lockout_pair_threshold), 1, 1000, "5", "bad credentials of one client id from one address that lock that pair" },
	{ "lockout_address_threshold", CT_INT, O(lockout_address_threshold), 1, 100000, "20", "bad credentials from one address that lock the address" },
	{ "lockout_window", CT_DURATION, O(lockout_window), 1, 86400, "15m", "how long failures are counted" },
	{ "lockout_duration", CT_DURATION, O(lockout_duration), 1, 86400, "15m", "how long a lock lasts" },
	{ "rate_limit", CT_INT, O(rate_limit), 0, 10000000, "600", "tokens a minute a client may take, unless the client says (0: unlimited)" },
	{ "secret_rotation_age", CT_DURATION, O(secret_rotation_age), 86400, 3660 * 86400, "90d", "a client secret older than this is reported as due for rotation" },
	{ "key_rotation_interval", CT_DURATION, O(key_rotation_interval), 0, 3660 * 86400, "0", "rotate signing keys this often (0: only by hand; else at least 1h)" },
	{ "key_publish_lead", CT_DURATION, O(key_publish_lead), 0, 30 * 86400, "10m", "a new key is in the JWKS this long before it signs (no longer than key_rotation_interval); the JWKS max-age is this, 5m at most" },
	{ "gate_cache", CT_BOOL, O(gate_cache), 0, 1, "1", "cache verified tokens at the gate (off: verify the signature on every call)" },
	{ "gate_cache_size", CT_INT, O(gate_cache_size), 64, 10000000, "100000", "most verified tokens the gate keeps in memory" },
	{ "revoked_set_max", CT_INT, O(revoked_set_max), 1, 100000, "100000", "most revoked, unexpired token ids the gate keeps in memory; past it, a token not among them is looked up in the store" },
	{ "gate_refresh_ms", CT_INT, O(gate_refresh_ms), 0, 1000, "1", "milliseconds the gate and the token endpoint may go without re-reading the store's generation (changes by other processes); 0: every call" },
	{ "audit", CT_BOOL, O(audit), 0, 1, "1", "keep the tamper-evident audit trail (off only for benchmarks, or a store without one)" },
	{ "audit_retention", CT_DURATION, O(audit_retention), 0, 3660 * 86400, "0", "prune token events (token.issued, token.refused) older than this from the audit trail, leaving a checkpoint (0: keep all)" },
	{ "token_retention", CT_DURATION, O(token_retention), 0, 3660 * 86400, "1d", "delete the records of tokens that expired longer ago than this (0: keep them all); an expired token is refused and reported inactive with or without its record" },
	{ "platform_tenant", CT_STR, O(platform_tenant), 0, 0, "platform", "admin API: principals of this tenant act across tenants" },
	{ "maker_checker", CT_STR, O(maker_checker), 0, 0, "production", "critical admin changes need approval: production (for production clients), always, never" },
	{ "approval_ttl", CT_DURATION, O(approval_ttl), 1, 366 * 86400, "24h", "a maker-checker approval request expires this long after it is filed (unused approved ones too)" },
	{ "offload_queue", CT_INT, O(offload_queue), 1, 65536, "4096", "shared stores: requests that wait for the database, queued for its threads (one per pooled connection); past this many more get 503 at once" },
	{ "stop_timeout", CT_DURATION, O(stop_timeout), 1, 3600, "30", "how long a stop (SIGTERM, SIGINT) may take: requests in flight and queued records get this long, then the server logs server.stop_timeout and exits 1" },
};
#undef O

static const struct config_entry *
entry_find(const char *key)
{
	for (size_t i = 0; i < GH_ARRAY_LEN(entries); i++) {
		const char *a = entries[i].key, *b = key;
		/* Flags spell '_' as '-'. */
		while (*a != '\0' && (*a == *b || (*a == '_' && *b == '-'))) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0')
			return &entries[i];
	}
	return NULL;
}

static int
set_entry(struct config *c, const struct config_entry *e, const char *value,
    char *err, size_t errlen)
{
	void *field = (char *)c + e->offset;
	const char *why;
	int64_t v = 0;

	switch (e->type) {
	case CT_STR: {
		char *dup;
		if (!str_is_clean_utf8(value, strlen(value))) {
			snprintf(err, errlen, "%s: value has control characters or invalid UTF-8", e->key);
			return -1;
		}
		if ((dup = strdup(value)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", e->key);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = dup;
		return 0;
	}
	case CT_INT:
		if (num_parse_i64(value, strlen(value), e->min, e->max, &v, &why) == -1) {
			snprintf(err, errlen, "%s: \"%.40s\" %s (%lld..%lld)", e->key,
			    value, why, (long long)e->min, (long long)e->max);
			return -1;
		}
		break;
	case CT_DURATION:
		if (num_parse_duration(value, e->min, e->max, &v, &why) == -1) {
			snprintf(err, errlen, "%s: \"%.40s\" %s (%llds..%llds; units s, m, h, d)",
			    e->key, value, why, (long long)e->min, (long long)e->max);
			return -1;
		}
		break;
	case CT_BOOL:
	case CT_TRISTATE:
		if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "on"))
			v = 1;
		else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "off"))
			v = 0;
		else if (e->type == CT_TRISTATE && !strcmp(value, "auto"))
			v = -1;
		else {
			snprintf(err, errlen, "%s: \"%.40s\" is not a boolean (true or false%s)",
			    e->key, value, e->type == CT_TRISTATE ? " or auto" : "");
			return -1;
		}
		break;
	}
	*(int64_t *)field = v;
	return 0;
}

void
config_defaults(struct config *c)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < GH_ARRAY_LEN(entries); i++)
		if (set_entry(c, &entries[i], entries[i].def, err, sizeof(err)) == -1)
			abort();	/* a default outside its own bounds is a bug */
}

void
config_clear(struct config *c)
{
	for (size_t i = 0; i < GH_ARRAY_LEN(entries); i++)
		if (entries[i].type == CT_STR) {
			free(*(char **)((char *)c + entries[i].offset));
			*(char **)((char *)c + entries[i].offset) = NULL;
		}
	free(c->file_db);
	c->file_db = NULL;
}

int
config_set(struct config *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	const struct config_entry *e = entry_find(key);

	if (e == NULL) {
		snprintf(err, errlen, "unknown setting \"%.60s\"", key);
		return -1;
	}
	return set_entry(c, e, value, err, errlen);
}

static char *
trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* Reads the next line of f into line (size bytes) and counts it in
 * *lineno.  1: a line; 0: end of file; -1: a line refused, with the
 * message in one and the rest of the line skipped. */
static int
config_read_line(FILE *f, const char *path, int *lineno, char *line,
    size_t size, char *one, size_t onelen)
{
	size_t len;
	int nul;

	/* fgets() gives no length, so a NUL byte would cut a line short
	 * unseen ("threads = 4\0..." read as "threads = 4", a file of
	 * NULs as empty; found by tests/unit/test_fuzz_parsers.c). With
	 * the buffer filled first, its last NUL is the one fgets() wrote. */
	memset(line, '\n', size);
	if (fgets(line, (int)size, f) == NULL)
		return 0;
	for (len = size - 1; line[len] != '\0'; len--)
		;
	(*lineno)++;
	nul = memchr(line, '\0', len) != NULL;
	if (nul || (line[len - 1] != '\n' && !feof(f))) {
		if (nul)
			snprintf(one, onelen, "%.100s:%d: NUL byte in the line",
			    path, *lineno);
		else
			snprintf(one, onelen, "%.100s:%d: line longer than %zu bytes",
			    path, *lineno, size - 1);
		/* Skip the rest of the line. */
		int ch;
		if (line[len - 1] != '\n')
			while ((ch = fgetc(f)) != EOF && ch != '\n')
				;
		return -1;
	}
	return 1;
}

/* Applies one line of the file; blank lines and comments are skipped.
 * first[] holds the line each setting was first given on (0: not yet): a
 * setting given twice is refused, as an operator who edits the first of
 * two lines sees nothing change (STYLE 10: ambiguity is an error). 0, or
 * -1 with the message in one. */
static int
config_apply_line(struct config *c, char *line, const char *path, int lineno,
    int first[], char *one, size_t onelen)
{
	const struct config_entry *e;
	char *eq, *key, *value;
	char why[384];

	key = trim(line);
	if (*key == '\0' || *key == '#')
		return 0;
	if ((eq = strchr(key, '=')) == NULL) {
		snprintf(one, onelen, "%.100s:%d: expected \"key = value\"", path, lineno);
		return -1;
	}
	*eq = '\0';
	key = trim(key);
	value = trim(eq + 1);
	if ((e = entry_find(key)) != NULL && first[e - entries] != 0) {
		snprintf(one, onelen, "%.100s:%d: \"%.60s\" is set again (first on line %d)",
		    path, lineno, key, first[e - entries]);
		return -1;
	}
	if (config_set(c, key, value, why, sizeof(why)) == 0) {
		first[e - entries] = lineno;	/* e: config_set found it */
		/* What the file holds, whatever a flag makes of it: a
		 * password in it must not be open to others. */
		if (strcmp(e->key, "db") == 0 && (c->file_db = strdup(value)) == NULL) {
			snprintf(one, onelen, "%.100s:%d: out of memory", path, lineno);
			return -1;
		}
		return 0;
	}
	snprintf(one, onelen, "%.100s:%d: %s", path, lineno, why);
	return -1;
}

int
config_load_stream(struct config *c, FILE *f, const char *name, char *err, size_t errlen)
{
	char line[4096], one[512];
	int first[GH_ARRAY_LEN(entries)] = { 0 };
	size_t used = 0;
	int lineno = 0, bad = 0, rc;

	err[0] = '\0';
	/* Every bad line is reported, not just the first (STYLE 5). */
	while ((rc = config_read_line(f, name, &lineno, line, sizeof(line), one,
	    sizeof(one))) != 0) {
		if (rc == 1 && config_apply_line(c, line, name, lineno, first, one,
		    sizeof(one)) == 0)
			continue;
		bad = 1;
		if (used < errlen)
			used += (size_t)snprintf(err + used, errlen - used, "%s%s",
			    used ? "\n" : "", one);
	}
	return bad ? -1 : 0;
}

int
config_read_file(const char *path, char **text, size_t *len, char exposed[160], char *err,
    size_t errlen)
{
	FILE *f;
	struct stat st;
	char *buf = NULL;
	size_t n;
	int rc = -1;

	*text = NULL;
	*len = 0;
	exposed[0] = '\0';
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* Of the file read, not of its name; a pipe is nobody's to read. */
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		(void)file_secrecy_check(&st, geteuid(), exposed, 160);
	/* Read whole, at most CONFIG_MAX_FILE: line by line, fgets() took a
	 * read error (EISDIR: --config naming a directory) for the end of an
	 * empty file, and serve started on the defaults; and a file of 100
	 * MB was parsed for a minute, with SIGTERM held until start-up went
	 * on. Read, not fstat: a pipe has no size. */
	if ((buf = malloc(CONFIG_MAX_FILE + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fread(buf, 1, CONFIG_MAX_FILE + 1, f);
	if (ferror(f) || n > CONFIG_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ? strerror(errno) :
		    "larger than 1 MB; not a configuration file");
		goto out;
	}
	if (n > 0) {
		char *fit = realloc(buf, n + 1);	/* not the whole 1 MB for life */

		if (fit != NULL)
			buf = fit;
		buf[n] = '\0';
		*text = buf;
		*len = n;
		buf = NULL;
	}
	rc = 0;
out:
	free(buf);
	fclose(f);
	return rc;
}

int
config_load_text(struct config *c, const char *text, size_t len, const char *name,
    const char *exposed, char *err, size_t errlen)
{
	FILE *mem;
	int rc;

	err[0] = '\0';
	free(c->file_db);
	c->file_db = NULL;
	snprintf(c->file_exposed, sizeof(c->file_exposed), "%s", exposed);
	/* A byte-order mark (an editor's) is no part of the first key. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
		text += 3;
		len -= 3;
	}
	if (len == 0)
		return 0;	/* fmemopen refuses an empty buffer */
	if ((mem = fmemopen((void *)text, len, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	rc = config_load_stream(c, mem, name, err, errlen);
	fclose(mem);
	return rc;
}

int
config_load(struct config *c, const char *path, char *err, size_t errlen)
{
	char exposed[160], *text = NULL;
	size_t len = 0;
	int rc;

	err[0] = '\0';
	if (config_read_file(path, &text, &len, exposed, err, errlen) == -1)
		return -1;
	rc = config_load_text(c, text, len, path, exposed, err, errlen);
	free(text);
	return rc;
}

/*
 * RFC 8414 §2: the issuer is a URL with the https scheme and no query or
 * fragment; it is every token's iss and the base of the metadata's URLs,
 * so a bad one is refused before serving, not served. http is allowed
 * too, for a server on loopback or behind a proxy that adds TLS (§2's
 * https is for the issuer as clients see it). A URL holds no spaces (RFC
 * 3986 §2); set_entry refused control characters already.
 */
/*
 * The authority of an issuer URL, a[0..len): a host, or an IPv6 address in
 * brackets (RFC 3986 §3.2.2), then an optional :PORT of 1 to 65535 (user
 * information is refused before). 0, or -1 with *why.
 */
static int
authority_check(const char *a, size_t len, const char **why)
{
	const char *end = a + len, *port;
	char v6[INET6_ADDRSTRLEN];
	uint8_t tmp[16];
	int64_t p;

	if (a[0] == '[') {
		const char *close = memchr(a, ']', len);
		if (close == NULL || (size_t)(close - a - 1) >= sizeof(v6)) {
			*why = "has no closing ']' after its IPv6 address";
			return -1;
		}
		memcpy(v6, a + 1, (size_t)(close - a - 1));
		v6[close - a - 1] = '\0';
		if (inet_pton(AF_INET6, v6, tmp) != 1) {
			*why = "has no IPv6 address in its brackets";
			return -1;
		}
		port = close + 1;
	} else if ((port = memchr(a, ':', len)) == NULL)
		port = end;
	if (port == a) {
		*why = "names no host";
		return -1;
	}
	if (port < end && (*port != ':' || num_parse_i64(port + 1, (size_t)(end - port - 1),
	    1, 65535, &p, why) == -1)) {
		*why = "has a port that is not a number from 1 to 65535";
		return -1;
	}
	return 0;
}

static int
issuer_check(const char *iss, char *err, size_t errlen)
{
	const char *rest, *why = NULL;
	size_t host;

	if (strncasecmp(iss, "https://", 8) == 0)
		rest = iss + 8;
	else if (strncasecmp(iss, "http://", 7) == 0)
		rest = iss + 7;
	else {
		snprintf(err, errlen, "issuer: \"%.60s\" is not an http or https URL (RFC 8414 section 2)", iss);
		return -1;
	}
	host = strcspn(rest, "/?#");
	if (memchr(rest, '@', host) != NULL) {
		/* Not quoted: what precedes the '@' may be a password. */
		snprintf(err, errlen, "issuer: has user information (user@host), which an "
		    "http(s) URL given out may not (RFC 9110 section 4.2.4)");
		return -1;
	}
	if (host == 0 || authority_check(rest, host, &why) == -1) {
		snprintf(err, errlen, "issuer: \"%.60s\" %s", iss, host == 0 ? "names no host" : why);
		return -1;
	}
	if (strpbrk(iss, "?#") != NULL) {
		snprintf(err, errlen, "issuer: \"%.60s\" has a query or fragment, which an issuer may not (RFC 8414 section 2)", iss);
		return -1;
	}
	if (strpbrk(iss, " \t") != NULL) {
		snprintf(err, errlen, "issuer: \"%.60s\" contains a space", iss);
		return -1;
	}
	if (strlen(iss) > CONFIG_MAX_ISSUER) {
		snprintf(err, errlen, "issuer: longer than %d bytes", CONFIG_MAX_ISSUER);
		return -1;
	}
	return 0;
}

/* The errors config_validate finds, a line each, cut at len bytes. */
struct errors {
	char	*s;
	size_t	 len, used;
	int	 n;
};

static void
add_error(struct errors *e, const char *fmt, ...)
{
	va_list ap;
	int w;

	e->n++;
	if (e->used + 1 >= e->len)
		return;
	if (e->used > 0)
		e->s[e->used++] = '\n';
	va_start(ap, fmt);
	w = vsnprintf(e->s + e->used, e->len - e->used, fmt, ap);
	va_end(ap);
	if (w > 0)
		e->used += (size_t)w < e->len - e->used ? (size_t)w : e->len - e->used - 1;
}

int
config_validate(const struct config *c, char *err, size_t errlen)
{
	struct errors e = { err, errlen, 0, 0 };
	char one[256];

	/* Every relation that does not hold is reported, not just the first
	 * (STYLE 5). */
	if (errlen > 0)
		err[0] = '\0';
	if (c->issuer[0] != '\0' && issuer_check(c->issuer, one, sizeof(one)) == -1)
		add_error(&e, "%s", one);
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0'))
		add_error(&e, "tls_cert and tls_key go together: set both or neither");
	if (c->max_ttl < c->ttl_sandbox || c->max_ttl < c->ttl_production)
		add_error(&e, "max_ttl (%llds) is below a default lifetime", (long long)c->max_ttl);
	if (strcmp(c->maker_checker, "production") != 0 && strcmp(c->maker_checker, "always") != 0 &&
	    strcmp(c->maker_checker, "never") != 0)
		add_error(&e, "maker_checker: \"%.40s\" is not production, always or never",
		    c->maker_checker);
	/* A token is taken until leeway past its exp, and its revocation
	 * lives in its record: one pruned sooner would let it pass again. */
	if (c->token_retention != 0 && c->token_retention < c->leeway)
		add_error(&e, "token_retention (%llds) is below leeway (%llds): a revoked token "
		    "would pass again once its record is pruned", (long long)c->token_retention,
		    (long long)c->leeway);
	/* Each rotation leaves the key before it published while its tokens
	 * live (max_ttl, two days by default): rotating every few minutes
	 * piled hundreds of keys into the JWKS, past what verifiers read
	 * (lib/verify takes 1 MiB). */
	if (c->key_rotation_interval != 0 && c->key_rotation_interval < KEY_ROTATION_MIN_S)
		add_error(&e, "key_rotation_interval (%llds): 0 (rotate by hand) or at least 1h; each "
		    "rotation keeps the key before it published while its tokens live",
		    (long long)c->key_rotation_interval);
	/* The schedule publishes each key key_publish_lead before it signs,
	 * and only once the one before it signs: a lead past the interval
	 * made every key sign for the lead instead, the interval unheeded. */
	if (c->key_rotation_interval != 0 && c->key_publish_lead > c->key_rotation_interval)
		add_error(&e, "key_publish_lead (%llds) exceeds key_rotation_interval (%llds): keys "
		    "would be rotated only every %llds", (long long)c->key_publish_lead,
		    (long long)c->key_rotation_interval, (long long)c->key_publish_lead);
	if (c->platform_tenant[0] == '\0')
		add_error(&e, "platform_tenant: must name a tenant");
	for (size_t i = 0; i < CONFIG_MAX_ROUTES; i++) {
		const char *r = c->route[i];
		if (r != NULL && r[0] != '\0' && strcmp(r, "off") != 0 && r[0] != '/')
			add_error(&e, "route paths start with '/' (or are \"off\"): \"%.60s\"", r);
		/* A request's path is matched decoded and without its query: a
		 * route with these was never reached, yet the metadata
		 * advertised it as a token endpoint. */
		else if (r != NULL && strpbrk(r, "?#% ") != NULL)
			add_error(&e, "route paths hold no '?', '#', '%%' or space (no request reaches "
			    "one): \"%.60s\"", r);
	}
	return e.n > 0 ? -1 : 0;
}

void
config_usage(FILE *f)
{
	for (size_t i = 0; i < GH_ARRAY_LEN(entries); i++) {
		const struct config_entry *e = &entries[i];
		char bounds[64] = "";

		/* The range config_set enforces, so that a value can be chosen
		 * from the help alone (README: "with bounds and defaults"). */
		if (e->type == CT_INT || e->type == CT_DURATION)
			snprintf(bounds, sizeof(bounds), "%lld..%lld%s; ", (long long)e->min,
			    (long long)e->max, e->type == CT_DURATION ? " s" : "");
		fprintf(f, "  --%-18s %s (%sdefault: %s)\n", e->key, e->help, bounds,
		    e->def[0] ? e->def : "none");
	}
}
