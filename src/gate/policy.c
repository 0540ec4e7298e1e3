/* policy.c — the route policy's parser and matcher; see policy.h and
 * docs/policy.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gate/policy.h"
#include "util/util.h"

const char *const policy_role_names[4] = { "", "viewer", "operator", "admin" };
const char *const policy_env_names[POLICY_ENV__MAX] = { "production", "sandbox", "any" };
const char *const policy_style_names[POLICY_STYLE__MAX] = { "rfc6750", "mangopay" };
const char *const policy_bind_names[POLICY_BIND__MAX] = { "", "tenant", "client" };

/* Method names as the policy spells them (not the HTTP layer's table: the
 * policy must parse the same whatever the server's method set). */
static const struct {
	const char	*name;
	unsigned	 bits;
} methods[] = {
	/* RFC 9110 §9.3.2: HEAD is GET without the body, so GET covers it. */
	{ "GET", (1u << HTTP_GET) | (1u << HTTP_HEAD) },
	{ "HEAD", 1u << HTTP_HEAD },
	{ "POST", 1u << HTTP_POST },
	{ "PUT", 1u << HTTP_PUT },
	{ "PATCH", 1u << HTTP_PATCH },
	{ "DELETE", 1u << HTTP_DELETE },
	{ "OPTIONS", 1u << HTTP_OPTIONS },
};
#define ALL_METHODS ((1u << HTTP_METHOD__MAX) - 1)

static int
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':', '@'.
 * NUL is excluded first: strchr() finds it as the string's terminator, and
 * a NUL let through ended the checked path early ("/a\0/../b" passed as
 * "/a"; found by tests/unit/test_fuzz_parsers.c). */
static int
is_pchar(unsigned char c)
{
	return is_unreserved(c) || (c != '\0' && strchr("!$&'()*+,;=:@", c) != NULL);
}

/* Copies the escape at uri[*i] ('%' and two hex digits) to out at *o,
 * decoded when unreserved (RFC 3986 §6.2.2.2), else with upper-case hex;
 * *i is left on its last digit.  0, or -1 with a static reason in *why. */
static int
path_copy_pct(const char *uri, size_t len, size_t *i, char *out, size_t *o,
    const char **why)
{
	static const char hex[] = "0123456789ABCDEF";
	int hi = *i + 2 < len ? hex_digit((unsigned char)uri[*i + 1]) : -1;
	int lo = *i + 2 < len ? hex_digit((unsigned char)uri[*i + 2]) : -1;
	unsigned char v;

	if (hi < 0 || lo < 0) {
		*why = "the path has a '%' that is not followed by two hex digits";
		return -1;
	}
	v = (unsigned char)(hi * 16 + lo);
	*i += 2;
	if (is_unreserved(v)) {
		out[(*o)++] = (char)v;
		return 0;
	}
	if (v == '/' || v == '\\' || v == ';' || v < 0x20 || v == 0x7f) {
		*why = "the path has an encoded '/', '\\', ';' or control character";
		return -1;
	}
	out[(*o)++] = '%';
	out[(*o)++] = hex[v >> 4];
	out[(*o)++] = hex[v & 15];
	return 0;
}

/* Segments of the copied path: no "." or "..", no empty one except a
 * trailing slash.  0, or -1 with a static reason in *why. */
static int
path_check_segments(const char *path, const char **why)
{
	const char *seg;

	for (seg = path + 1;;) {
		size_t n = strcspn(seg, "/");
		int last = seg[n] == '\0';
		if (n == 0 && !last) {
			*why = "the path has an empty segment ('//')";
			return -1;
		}
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
			*why = "the path has a '.' or '..' segment";
			return -1;
		}
		if (last)
			break;
		seg += n + 1;
	}
	return 0;
}

int
policy_normalize_path(const char *uri, size_t len, char out[POLICY_MAX_PATH + 1],
    const char **why)
{
	size_t o = 0, i;

	if (len == 0 || uri[0] != '/') {
		*why = "the path must start with '/' (origin-form, RFC 9112 §3.2.1)";
		return -1;
	}
	for (i = 0; i < len && uri[i] != '?'; i++) {
		unsigned char c = (unsigned char)uri[i];
		if (c == '#') {
			/* A request target has none (RFC 9112 §3.2); a server
			 * may cut the path there or keep it. */
			*why = "the path has a '#' (a fragment is no part of a request target)";
			return -1;
		}
		if (o + 3 > POLICY_MAX_PATH) {
			*why = "the path is too long";
			return -1;
		}
		if (c == '%') {
			if (path_copy_pct(uri, len, &i, out, &o, why) == -1)
				return -1;
			continue;
		}
		if (c == ';') {
			/* Path parameters (";jsessionid=") are cut off by some
			 * servers before routing: the gate would match another path. */
			*why = "the path has a ';' (path parameters are ambiguous)";
			return -1;
		}
		if (c != '/' && !is_pchar(c)) {
			*why = "the path has a character outside RFC 3986";
			return -1;
		}
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return path_check_segments(out, why);
}

int
policy_check_query(const char *q, size_t len, const char **why)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)q[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_digit((unsigned char)q[i + 1]) : -1;
			int lo = i + 2 < len ? hex_digit((unsigned char)q[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				*why = "the query has a '%' that is not followed by two hex digits";
				return -1;
			}
			if (hi == 0 && lo == 0) {
				/* A service in C may end the string there, and
				 * read a shorter query than the one approved. */
				*why = "the query has an encoded NUL (%00)";
				return -1;
			}
			i += 2;
			continue;
		}
		if (c != '/' && c != '?' && !is_pchar(c)) {
			*why = "the query has a character outside RFC 3986 (§3.4)";
			return -1;
		}
	}
	return 0;
}

static unsigned char
ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* 1 when pattern segment pat is the n bytes at s: exactly, or with fold
 * ASCII case-insensitively (both sides folded; escapes are upper-cased in
 * both by normalization, so only letters differ). */
static int
seg_equal(const char *pat, const char *s, size_t n, int fold)
{
	if (strlen(pat) != n)
		return 0;
	if (!fold)
		return memcmp(pat, s, n) == 0;
	for (size_t i = 0; i < n; i++)
		if (ascii_lower((unsigned char)pat[i]) != ascii_lower((unsigned char)s[i]))
			return 0;
	return 1;
}

/* 1 when r's pattern matches the normalized path[0..len) (len: the path
 * may be read without its last byte, a trailing '/'). */
static int
rule_matches(const struct policy_rule *r, const char *path, size_t len, int fold)
{
	const char *s = path + 1, *end = path + len;

	for (size_t i = 0; i < r->nsegs; i++) {
		const char *pat = r->segs[i], *slash;
		size_t n;

		if (pat[0] == '*' && pat[1] == '*')
			return 1;	/* the rest, zero or more segments */
		if (s == NULL)
			return 0;
		slash = memchr(s, '/', (size_t)(end - s));
		n = slash != NULL ? (size_t)(slash - s) : (size_t)(end - s);
		if (pat[0] == '*' && pat[1] == '\0') {
			if (n == 0)
				return 0;	/* '*' is one non-empty segment */
		} else if (!seg_equal(pat, s, n, fold))
			return 0;
		s = slash != NULL ? slash + 1 : NULL;
	}
	return s == NULL;
}

/* 1 when the path segment s[0..n) is id, its escapes decoded: ids are
 * compared as the server behind the gate reads the segment. */
static int
seg_is_id(const char *s, size_t n, const char *id)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++, k++) {
		int c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
			c = hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]);
			i += 2;
		}
		if (id[k] == '\0' || (unsigned char)id[k] != c)
			return 0;
	}
	return id[k] == '\0';
}

int
policy_check_binds(const struct policy_rule *r, const char *path, const char *tenant,
    const char *client, enum policy_bind *which)
{
	const char *s = path + 1;

	for (size_t i = 0; i < r->nsegs && s != NULL; i++) {
		size_t n = strcspn(s, "/");
		const char *id = r->binds[i] == POLICY_BIND_TENANT ? tenant :
		    r->binds[i] == POLICY_BIND_CLIENT ? client : NULL;

		if (r->segs[i][0] == '*' && r->segs[i][1] == '*')
			break;
		if (id != NULL && !seg_is_id(s, n, id)) {
			*which = (enum policy_bind)r->binds[i];
			return -1;
		}
		s = s[n] == '/' ? s + n + 1 : NULL;
	}
	return 0;
}

static const struct policy_rule *
match_first(const struct policy *p, unsigned bit, const char *path, size_t len, int fold)
{
	for (size_t k = 0; k < p->n; k++)
		if ((p->rules[k].methods & bit) && rule_matches(&p->rules[k], path, len, fold))
			return &p->rules[k];
	return NULL;
}

/* 1 when the pattern has a letter A-Z outside the hex digits of an escape
 * (upper-case in every normalized path, so they fold alike). */
static int
pattern_has_upper(const char *s)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '%' && s[i + 1] != '\0' && s[i + 2] != '\0')
			i += 2;
		else if (s[i] >= 'A' && s[i] <= 'Z')
			return 1;
	}
	return 0;
}

/* 1 when the path has a byte A-Z, escapes' hex digits too (they only
 * cost a second match); its length into *len. On every call: one pass
 * without branches but the loop's. */
static int
path_has_upper(const char *s, size_t *len)
{
	size_t i;
	unsigned upper = 0;

	for (i = 0; s[i] != '\0'; i++)
		upper |= (unsigned char)(s[i] - 'A') < 26u;
	*len = i;
	return upper != 0;
}

const struct policy_rule *
policy_match(const struct policy *p, enum http_method method, const char *path)
{
	return match_first(p, 1u << method, path, strlen(path), 0);
}

int
policy_match_call(const struct policy *p, enum http_method method, const char *path,
    const struct policy_rule **out, const char **why)
{
	unsigned bit = 1u << method;
	size_t len;
	int fold, slash;

	/* A lower-case path against lower-case patterns reads the same
	 * folded: most calls have that and no trailing '/', and are matched
	 * once. */
	fold = path_has_upper(path, &len) || p->folds;
	slash = len > 1 && path[len - 1] == '/';
	*out = match_first(p, bit, path, len, 0);
	/* No rule: refused whatever the other readings meet. */
	if (*out == NULL || (!slash && !fold))
		return 0;
	/* Express (by default) and Spring before 6 route "/a/" as "/a", and
	 * Express "/A" as "/a": a reading decided by another rule, or by
	 * none, would let a call past the rule meant for it. */
	if (slash && match_first(p, bit, path, len - 1, 0) != *out) {
		*why = "the path without its trailing '/' is decided by another rule of "
		    "the policy, and servers may route both alike";
		return -1;
	}
	if (fold && (match_first(p, bit, path, len, 1) != *out ||
	    (slash && match_first(p, bit, path, len - 1, 1) != *out))) {
		*why = "the path read without regard to case is decided by another rule "
		    "of the policy, and servers may route both alike";
		return -1;
	}
	return 0;
}

struct policy *
policy_ref(struct policy *p)
{
	if (p != NULL)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

static void
rule_clear(struct policy_rule *r)
{
	free(r->pattern);
	for (size_t i = 0; i < r->nsegs; i++)
		free(r->segs[i]);
	for (size_t i = 0; i < r->nscopes; i++)
		free(r->scopes[i]);
	free(r->scope_text);
	free(r->aud);
}

void
policy_unref(struct policy *p)
{
	if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
		return;
	for (size_t i = 0; i < p->n; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	free(p->source);
	free(p);
}

/* One line's parse state: its words, split in place. */
#define MAX_WORDS 16

static int
parse_methods(const char *w, unsigned *out, char *why, size_t whylen)
{
	*out = 0;
	if (strcmp(w, "*") == 0) {
		*out = ALL_METHODS;
		return 0;
	}
	while (*w != '\0') {
		size_t n = strcspn(w, ","), i;
		for (i = 0; i < GH_ARRAY_LEN(methods); i++)
			if (strlen(methods[i].name) == n && memcmp(methods[i].name, w, n) == 0)
				break;
		if (n == 0 || i == GH_ARRAY_LEN(methods)) {
			snprintf(why, whylen, "unknown method \"%.*s\" (GET, HEAD, POST, PUT, "
			    "PATCH, DELETE, OPTIONS, or * for any)", (int)(n > 20 ? 20 : n), w);
			return -1;
		}
		*out |= methods[i].bits;
		w += n + (w[n] == ',');
	}
	return 0;
}

/* The kind of the placeholder segment seg[0..n) ("{tenant}"), or -1. */
static int
bind_kind(const char *seg, size_t n)
{
	for (int k = 1; k < POLICY_BIND__MAX; k++)
		if (n == strlen(policy_bind_names[k]) + 2 &&
		    memcmp(seg + 1, policy_bind_names[k], n - 2) == 0)
			return k;
	return -1;
}

/*
 * The pattern w with its {tenant} and {client} segments written "*", into
 * out (POLICY_MAX_PATH + 1 bytes), their kinds into r->binds. 0, or -1
 * with why for a brace anywhere else or an unknown placeholder.
 */
static int
pattern_unbind(const char *w, struct policy_rule *r, char *out, char *why, size_t whylen)
{
	size_t o = 0, idx = 0;

	if (strlen(w) > POLICY_MAX_PATH) {
		snprintf(why, whylen, "pattern longer than %d bytes", POLICY_MAX_PATH);
		return -1;
	}
	if (w[0] != '/' || strpbrk(w, "{}") == NULL) {
		memcpy(out, w, strlen(w) + 1);	/* normalization says what is wrong */
		return 0;
	}
	for (const char *seg = w + 1;; idx++) {
		size_t n = strcspn(seg, "/");
		int kind = n >= 2 && seg[0] == '{' && seg[n - 1] == '}' ? bind_kind(seg, n) : 0;

		if (kind == -1 || (kind == 0 && (memchr(seg, '{', n) || memchr(seg, '}', n)))) {
			snprintf(why, whylen, "pattern \"%.60s\": a placeholder is a whole segment, "
			    "{tenant} or {client}", w);
			return -1;
		}
		if (kind > 0 && idx < POLICY_MAX_SEGMENTS) {
			r->binds[idx] = (unsigned char)kind;
			r->bound = 1;
		}
		out[o++] = '/';
		memcpy(out + o, kind > 0 ? "*" : seg, kind > 0 ? 1 : n);
		o += kind > 0 ? 1 : n;
		if (seg[n] == '\0')
			break;
		seg += n + 1;
	}
	out[o] = '\0';
	return 0;
}

/* The canonical pattern norm with r's placeholders written back, into
 * out: what a pattern not in canonical form should have been. */
static void
pattern_rebind(const char *norm, const struct policy_rule *r, char *out, size_t len)
{
	size_t o = 0, idx = 0;

	out[0] = '\0';
	for (const char *seg = norm + 1; o + 1 < len; idx++) {
		size_t n = strcspn(seg, "/");
		int k = idx < POLICY_MAX_SEGMENTS ? r->binds[idx] : 0;
		int put = k > 0 ? snprintf(out + o, len - o, "/{%s}", policy_bind_names[k]) :
		    snprintf(out + o, len - o, "/%.*s", (int)n, seg);

		o = put < 0 || (size_t)put >= len - o ? len - 1 : o + (size_t)put;
		if (seg[n] == '\0')
			break;
		seg += n + 1;
	}
}

static int
parse_pattern(const char *w, struct policy_rule *r, char *why, size_t whylen)
{
	char unbound[POLICY_MAX_PATH + 1], norm[POLICY_MAX_PATH + 1], canon[POLICY_MAX_PATH + 1];
	const char *reason, *s;

	if (pattern_unbind(w, r, unbound, why, whylen) == -1)
		return -1;
	if (policy_normalize_path(unbound, strlen(unbound), norm, &reason) == -1) {
		snprintf(why, whylen, "pattern \"%.60s\": %s", w, reason);
		return -1;
	}
	if (strcmp(norm, unbound) != 0 || strchr(w, '?') != NULL || strchr(w, '#') != NULL) {
		pattern_rebind(norm, r, canon, sizeof(canon));
		snprintf(why, whylen, "pattern \"%.60s\" is not in canonical form; write \"%.60s\"",
		    w, canon);
		return -1;
	}
	if ((r->pattern = strdup(w)) == NULL)
		goto oom;
	for (s = norm + 1;;) {
		size_t n = strcspn(s, "/");
		if (r->nsegs == POLICY_MAX_SEGMENTS) {
			snprintf(why, whylen, "pattern has more than %d segments", POLICY_MAX_SEGMENTS);
			return -1;
		}
		if (memchr(s, '*', n) != NULL && !(n == 1 || (n == 2 && s[0] == '*' && s[1] == '*'))) {
			snprintf(why, whylen, "pattern \"%.60s\": '*' and '**' stand for whole segments", w);
			return -1;
		}
		if (n == 2 && s[0] == '*' && s[1] == '*' && s[n] != '\0') {
			snprintf(why, whylen, "pattern \"%.60s\": '**' may only be the last segment", w);
			return -1;
		}
		if ((r->segs[r->nsegs] = xstrndup(s, n)) == NULL)
			goto oom;
		r->nsegs++;
		if (s[n] == '\0')
			break;
		s += n + 1;
	}
	return 0;
oom:
	snprintf(why, whylen, "out of memory");
	return -1;
}

static int
parse_scopes(const char *v, struct policy_rule *r, char *why, size_t whylen)
{
	size_t total = 0;

	while (*v != '\0') {
		size_t n = strcspn(v, ",");
		if (!scope_token_ok(v, n)) {
			snprintf(why, whylen, "scopes: \"%.*s\" is not a scope (RFC 6749 §3.3; "
			    "separate scopes with ',')", (int)(n > 40 ? 40 : n), v);
			return -1;
		}
		if (r->nscopes == POLICY_MAX_SCOPES) {
			snprintf(why, whylen, "scopes: more than %d", POLICY_MAX_SCOPES);
			return -1;
		}
		if ((r->scopes[r->nscopes++] = xstrndup(v, n)) == NULL)
			goto oom;
		total += n + 1;
		v += n + (v[n] == ',');
		if (v[-1] == ',' && *v == '\0') {
			snprintf(why, whylen, "scopes: a trailing ','");
			return -1;
		}
	}
	if (r->nscopes == 0) {
		snprintf(why, whylen, "scopes: empty (leave the option out to require none)");
		return -1;
	}
	if ((r->scope_text = malloc(total)) == NULL)
		goto oom;
	r->scope_text[0] = '\0';
	for (size_t i = 0; i < r->nscopes; i++) {
		if (i > 0)
			strcat(r->scope_text, " ");
		strcat(r->scope_text, r->scopes[i]);
	}
	return 0;
oom:
	snprintf(why, whylen, "out of memory");
	return -1;
}

static int
pick(const char *v, const char *const *names, size_t n, int from, int *out)
{
	for (size_t i = (size_t)from; i < n; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = (int)i;
			return 0;
		}
	return -1;
}

static int
opt_role(const char *v, struct policy_rule *r, char *why, size_t whylen)
{
	int x;

	if (pick(v, policy_role_names, 4, 1, &x) == -1) {
		snprintf(why, whylen, "role: \"%.20s\" is not viewer, operator or admin", v);
		return -1;
	}
	r->role = (enum policy_role)x;
	return 0;
}

static int
opt_env(const char *v, struct policy_rule *r, char *why, size_t whylen)
{
	int x;

	if (pick(v, policy_env_names, POLICY_ENV__MAX, 0, &x) == -1) {
		snprintf(why, whylen, "env: \"%.20s\" is not production, sandbox or any", v);
		return -1;
	}
	r->env = (enum policy_env)x;
	return 0;
}

static int
opt_aud(const char *v, struct policy_rule *r, char *why, size_t whylen)
{
	if (strcmp(v, "any") == 0) {
		r->aud_any = 1;
		return 0;
	}
	if (strlen(v) > 512 || !str_is_clean_utf8(v, strlen(v))) {
		snprintf(why, whylen, "aud: at most 512 printable characters");
		return -1;
	}
	if ((r->aud = strdup(v)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

static int
opt_errors(const char *v, struct policy_rule *r, char *why, size_t whylen)
{
	int x;

	if (pick(v, policy_style_names, POLICY_STYLE__MAX, 0, &x) == -1) {
		snprintf(why, whylen, "errors: \"%.20s\" is not rfc6750 or mangopay", v);
		return -1;
	}
	r->style = (enum policy_style)x;
	return 0;
}

static int
opt_tenant(const char *v, struct policy_rule *r, char *why, size_t whylen)
{
	if (strcmp(v, "required") == 0)
		r->tenant_optional = 0;
	else if (strcmp(v, "optional") == 0)
		r->tenant_optional = 1;
	else {
		snprintf(why, whylen, "tenant: \"%.20s\" is not required or optional", v);
		return -1;
	}
	return 0;
}

/* A rule's options: name=value, but critical, which takes none. */
static const struct {
	const char *name;
	int (*parse)(const char *v, struct policy_rule *r, char *why, size_t whylen);
} options[] = {
	{ "role", opt_role },
	{ "scopes", parse_scopes },
	{ "env", opt_env },
	{ "aud", opt_aud },
	{ "critical", NULL },
	{ "errors", opt_errors },
	{ "tenant", opt_tenant },
};

static int
parse_option(const char *w, struct policy_rule *r, unsigned *seen, char *why,
    size_t whylen)
{
	const char *eq = strchr(w, '='), *v = eq ? eq + 1 : NULL;
	size_t klen = eq ? (size_t)(eq - w) : strlen(w), k;

	for (k = 0; k < GH_ARRAY_LEN(options); k++)
		if (strlen(options[k].name) == klen && memcmp(options[k].name, w, klen) == 0)
			break;
	if (k == GH_ARRAY_LEN(options)) {
		snprintf(why, whylen, "unknown option \"%.*s\" (role, scopes, env, aud, "
		    "critical, errors, tenant)", (int)(klen > 30 ? 30 : klen), w);
		return -1;
	}
	if (*seen & (1u << k)) {
		snprintf(why, whylen, "option %s is given twice", options[k].name);
		return -1;
	}
	*seen |= 1u << k;
	if (options[k].parse == NULL) {	/* critical */
		if (v != NULL) {
			snprintf(why, whylen, "critical takes no value");
			return -1;
		}
		r->critical = 1;
		return 0;
	}
	if (v == NULL || *v == '\0') {
		snprintf(why, whylen, "option %s needs a value (%s=...)", options[k].name,
		    options[k].name);
		return -1;
	}
	return options[k].parse(v, r, why, whylen);
}

/* Parses one line (NUL-terminated, modified in place) into r. 1 when the
 * line holds a rule, 0 when blank or a comment, -1 with why. */
static int
parse_line(char *line, struct policy_rule *r, char *why, size_t whylen)
{
	char *words[MAX_WORDS];
	size_t nw = 0;
	unsigned seen = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (*p == '\0' || *p == '#')
			break;
		if (nw == MAX_WORDS) {
			snprintf(why, whylen, "more than %d words", MAX_WORDS);
			return -1;
		}
		words[nw++] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		if (*p != '\0')
			*p++ = '\0';
	}
	if (nw == 0)
		return 0;
	if (nw < 2) {
		snprintf(why, whylen, "expected \"METHOD PATH [option...]\"");
		return -1;
	}
	r->role = POLICY_ROLE_VIEWER;
	r->env = POLICY_ENV_PRODUCTION;
	r->style = POLICY_STYLE_RFC6750;
	if (parse_methods(words[0], &r->methods, why, whylen) == -1 ||
	    parse_pattern(words[1], r, why, whylen) == -1)
		return -1;
	for (size_t i = 2; i < nw; i++)
		if (parse_option(words[i], r, &seen, why, whylen) == -1)
			return -1;
	return 1;
}

static void
report(char *err, size_t errlen, size_t *used, const char *name, int line,
    const char *why)
{
	size_t from;

	if (*used + 1 >= errlen)
		return;
	if (*used > 0) {
		err[(*used)++] = '\n';
		err[*used] = '\0';
	}
	from = *used;
	*used += (size_t)snprintf(err + *used, errlen - *used, "%.200s:%d: %s", name, line, why);
	if (*used >= errlen)
		*used = errlen - 1;
	/* A quote of the line cut short (%.60s), or the message cut at
	 * errlen, may end inside a UTF-8 character: the log would then
	 * drop the whole reason (jansson refuses the line's JSON). */
	str_scrub_utf8(err + from);
}

/* A parsed rule r added to p, unless it is one too many or one an earlier
 * rule already decides: 0, or -1 with why (r is then the caller's). */
static int
rule_add(struct policy *p, struct policy_rule *r, size_t *cap, char *why, size_t whylen)
{
	if (p->n == POLICY_MAX_RULES) {
		snprintf(why, whylen, "more than %d rules", POLICY_MAX_RULES);
		return -1;
	}
	/* A rule identical in method and pattern to an earlier one could
	 * never match: it is a mistake, not a refinement. */
	for (size_t i = 0; i < p->n; i++)
		if ((p->rules[i].methods & r->methods) == r->methods &&
		    strcmp(p->rules[i].pattern, r->pattern) == 0) {
			snprintf(why, whylen, "\"%.60s\" is already decided by line %d for "
			    "these methods; this rule would never apply", r->pattern,
			    p->rules[i].line);
			return -1;
		}
	if (p->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct policy_rule *nr = realloc(p->rules, ncap * sizeof(*nr));
		if (nr == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		p->rules = nr;
		*cap = ncap;
	}
	p->rules[p->n++] = *r;
	/* A pattern with an upper-case letter meets lower-case paths when
	 * read folded: then every call is matched folded too. */
	p->folds |= pattern_has_upper(r->pattern);
	return 0;
}

/* One line of n bytes copied into line (POLICY_MAX_LINE + 1 bytes), tabs
 * and CRs made spaces: -1 with why when it is too long or has a control
 * character, a NUL or invalid UTF-8. */
static int
line_take(const char *text, size_t n, char *line, const char **why)
{
	if (n > POLICY_MAX_LINE) {
		*why = "line longer than 4096 bytes";
		return -1;
	}
	memcpy(line, text, n);
	line[n] = '\0';
	/* Tabs and CR count as spaces; no other control character, NUL
	 * or invalid UTF-8 may appear. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '\t' || line[i] == '\r')
			line[i] = ' ';
	if (memchr(line, '\0', n) != NULL || !str_is_clean_utf8(line, n)) {
		*why = "control character, NUL or invalid UTF-8 in the line";
		return -1;
	}
	return 0;
}

int
policy_parse(const char *text, size_t len, const char *name, struct policy **out,
    char *err, size_t errlen)
{
	struct policy *p = NULL;
	size_t used = 0, cap = 0, off = 0;
	int lineno = 0, bad = 0;
	char line[POLICY_MAX_LINE + 1], why[512];

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((p = calloc(1, sizeof(*p))) == NULL || (p->source = strdup(name)) == NULL) {
		free(p);
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	atomic_init(&p->refs, 1);
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off), *bad_line = NULL;
		size_t n = nl ? (size_t)(nl - (text + off)) : len - off;
		struct policy_rule r;
		int rc;

		lineno++;
		rc = line_take(text + off, n, line, &bad_line);
		off += n + 1;
		if (rc == -1) {
			report(err, errlen, &used, name, lineno, bad_line);
			bad = 1;
			continue;
		}
		memset(&r, 0, sizeof(r));
		r.line = lineno;
		rc = parse_line(line, &r, why, sizeof(why));
		if (rc == 0)
			continue;
		if (rc == -1 || rule_add(p, &r, &cap, why, sizeof(why)) == -1) {
			rule_clear(&r);
			report(err, errlen, &used, name, lineno, why);
			bad = 1;
		}
	}
	if (bad) {
		policy_unref(p);
		return -1;
	}
	*out = p;
	return 0;
}

int
policy_load(const char *path, struct policy **out, char *err, size_t errlen)
{
	struct stat sb;
	char *buf = NULL;
	size_t used = 0;
	int fd, rc = -1;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) || sb.st_size > POLICY_MAX_FILE) {
		snprintf(err, errlen, "%s: not a regular file of at most %d bytes", path,
		    POLICY_MAX_FILE);
		goto out;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	while (used < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + used, (size_t)sb.st_size - used);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path, n == 0 ? "short read" : strerror(errno));
			goto out;
		}
		used += (size_t)n;
	}
	rc = policy_parse(buf, used, path, out, err, errlen);
out:
	free(buf);
	close(fd);
	return rc;
}
