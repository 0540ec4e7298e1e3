/*
 * store.c — the store's dispatch (store.h over store_backend.h). Picks the
 * backend by URL, checks arguments once for every backend, fills defaults
 * for optional strings, owns the group-commit writer and the per-thread
 * error message. Knows no SQL.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/audit_group.h"
#include "store/store_internal.h"
#include "store/writer.h"

const char *const store_env_names[STORE_ENV__MAX] = { "sandbox", "production" };
const char *const store_format_names[STORE_FORMAT__MAX] = { "jwt", "opaque" };

/* -- errors ------------------------------------------------------------------ */

static _Thread_local char last_error[256] = "no error";

int
store_set_error(int rc, const char *fmt, ...)
{
	char buf[sizeof(last_error)];
	va_list ap;

	/* Through a copy: an argument may be store_last_error() itself. */
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	memcpy(last_error, buf, sizeof(buf));
	return rc;
}

const char *
store_last_error(void)
{
	return last_error;
}

/* -- names ------------------------------------------------------------------- */

int
store_env_from_name(const char *s, enum store_env *out)
{
	for (int i = 0; s != NULL && i < STORE_ENV__MAX; i++)
		if (strcmp(s, store_env_names[i]) == 0) {
			*out = (enum store_env)i;
			return 0;
		}
	return -1;
}

int
store_format_from_name(const char *s, enum store_format *out)
{
	for (int i = 0; s != NULL && i < STORE_FORMAT__MAX; i++)
		if (strcmp(s, store_format_names[i]) == 0) {
			*out = (enum store_format)i;
			return 0;
		}
	return -1;
}

/* -- open and close ------------------------------------------------------------ */

/* URL scheme -> backend. strip: the backend gets what follows the prefix. */
static const struct scheme {
	const char		*prefix;
	int			 strip;
	const struct store_ops	*ops;
} schemes[] = {
	{ "sqlite:",		1, &store_sqlite_ops },
	{ "postgresql://",	0, &store_pgsql_ops },
	{ "postgres://",	0, &store_pgsql_ops },
};

int
store_open(const char *url, struct store **out, char *err, size_t errlen)
{
	const struct store_ops *ops = NULL;
	const char *target = url;
	struct store *s = NULL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (out == NULL || err == NULL || errlen == 0)
		return store_set_error(STORE_ERROR, "store_open: NULL argument");
	*out = NULL;
	if (url == NULL || url[0] == '\0') {
		snprintf(err, errlen, "no store URL (sqlite:PATH or postgresql://...)");
		return store_set_error(STORE_ERROR, "%s", err);
	}
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i].prefix, strlen(schemes[i].prefix)) == 0) {
			ops = schemes[i].ops;
			target = schemes[i].strip ? url + strlen(schemes[i].prefix) : url;
			break;
		}
	if (ops == NULL) {
		/* A bare path is SQLite; an unknown scheme is a mistake. */
		if (strstr(url, "://") != NULL) {
			snprintf(err, errlen, "\"%.60s\": unknown store scheme (sqlite:PATH or "
			    "postgresql://...)", url);
			return store_set_error(STORE_ERROR, "%s", err);
		}
		ops = &store_sqlite_ops;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return store_set_error(STORE_ERROR, "%s", err);
	}
	s->ops = ops;
	if (ops->open(target, &s->h, err, errlen) != STORE_OK) {
		if (err[0] == '\0')
			snprintf(err, errlen, "cannot open the %s store", ops->name);
		free(s);
		return store_set_error(STORE_ERROR, "%s", err);
	}
	if ((s->writer = writer_start(ops, s->h, WRITER_QUEUE_MAX, WRITER_BATCH_MAX,
	    err, errlen)) == NULL) {
		ops->close(s->h);
		free(s);
		return store_set_error(STORE_ERROR, "%s", err);
	}
	*out = s;
	return STORE_OK;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	writer_stop(s->writer);		/* commits what is queued first */
	s->ops->close(s->h);
	store_audit_key_free(s->audit_key);	/* wipes it */
	free(s);
}

const char *
store_backend(const struct store *s)
{
	return s != NULL ? s->ops->name : "none";
}

const char *
store_engine(struct store *s, char *buf, size_t len)
{
	if (len == 0)
		return buf;
	if (s == NULL || s->ops->engine == NULL)
		snprintf(buf, len, "%s", store_backend(s));
	else
		s->ops->engine(s->h, buf, len);
	return buf;
}

/* -- schema and generation ------------------------------------------------------ */

int
store_schema_version(struct store *s, int *current, int *latest)
{
	REQUIRE(s != NULL && current != NULL && latest != NULL, "NULL argument");
	*current = *latest = 0;
	return s->ops->schema_version(s->h, current, latest);
}

int
store_generation(struct store *s, uint64_t *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	return s->ops->generation(s->h, out);
}

#define IDEM_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"idempotency records are not supported by this store backend")

int
store_idem_begin(struct store *s, const struct store_idem *rec, int64_t now,
    int64_t stale_before, struct store_idem *existing)
{
	REQUIRE(s != NULL && rec != NULL && existing != NULL, "NULL argument");
	REQUIRE(rec->client_id != NULL && rec->client_id[0] != '\0' &&
	    rec->key != NULL && rec->key[0] != '\0', "an idempotency record needs a client and a key");
	REQUIRE(strlen(rec->fingerprint) == 64, "an idempotency record needs a SHA-256 fingerprint");
	IDEM_REQUIRE_OPS(s, idem_begin);
	memset(existing, 0, sizeof(*existing));
	return s->ops->idem_begin(s->h, rec, now, stale_before, existing);
}

int
store_idem_finish(struct store *s, const char *client_id, const char *key, int status,
    const char *body)
{
	REQUIRE(s != NULL && client_id != NULL && key != NULL, "NULL argument");
	IDEM_REQUIRE_OPS(s, idem_finish);
	return s->ops->idem_finish(s->h, client_id, key, status, body != NULL ? body : "");
}

int
store_idem_release(struct store *s, const char *client_id, const char *key)
{
	REQUIRE(s != NULL && client_id != NULL && key != NULL, "NULL argument");
	IDEM_REQUIRE_OPS(s, idem_release);
	return s->ops->idem_release(s->h, client_id, key);
}

void
store_idem_clear(struct store_idem *r)
{
	if (r == NULL)
		return;
	free(r->client_id);
	free(r->key);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* -- lockout locks (issue 5) --------------------------------------------------- */

#define LOCK_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"lockout locks are not supported by this store backend")

/* A lock's fields as store_backend.h promises them; NULL when valid. */
static const char *
lock_invalid(const struct store_lock *lk)
{
	if ((unsigned)lk->kind >= STORE_LOCK_KIND__MAX)
		return "unknown lock kind";
	if (lk->address == NULL || lk->address[0] == '\0' ||
	    strlen(lk->address) > STORE_LOCK_ADDRESS_MAX)
		return "a lock needs an address (at most 45 bytes)";
	if (lk->kind == STORE_LOCK_PAIR && (lk->client_id == NULL || lk->client_id[0] == '\0' ||
	    strlen(lk->client_id) > STORE_LOCK_CLIENT_MAX))
		return "a pair lock needs a client id (at most 128 bytes)";
	if (lk->until <= lk->created_at)
		return "a lock must end after it starts";
	return NULL;
}

int
store_lock_put(struct store *s, const struct store_lock *locks, size_t n)
{
	struct store_lock *norm;
	int rc;

	REQUIRE(s != NULL && locks != NULL, "NULL argument");
	REQUIRE(n > 0 && n <= 100000, "1 to 100000 locks at once");
	for (size_t i = 0; i < n; i++) {
		const char *why = lock_invalid(&locks[i]);
		if (why != NULL)
			return store_set_error(STORE_ERROR, "%s: lock %zu: %s", __func__, i, why);
	}
	LOCK_REQUIRE_OPS(s, lock_put);
	if ((norm = malloc(n * sizeof(*norm))) == NULL)
		return store_set_error(STORE_ERROR, "%s: out of memory", __func__);
	/* An address lock's client id is "" whatever the caller left there:
	 * it is part of the row's key. */
	for (size_t i = 0; i < n; i++) {
		norm[i] = locks[i];
		if (norm[i].kind == STORE_LOCK_ADDRESS)
			norm[i].client_id = "";
	}
	rc = s->ops->lock_put(s->h, norm, n);
	free(norm);
	return rc;
}

int
store_lock_list(struct store *s, int64_t now, struct store_lock **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	LOCK_REQUIRE_OPS(s, lock_list);
	return s->ops->lock_list(s->h, now, out, n);
}

int
store_lock_clear(struct store *s, const char *address, const char *client_id, int64_t now,
    int *count)
{
	int dummy;

	if (count == NULL)
		count = &dummy;
	*count = 0;
	REQUIRE(s != NULL, "NULL argument");
	REQUIRE(address == NULL || (address[0] != '\0' && strlen(address) <= STORE_LOCK_ADDRESS_MAX),
	    "an address filter must be 1 to 45 bytes");
	REQUIRE(client_id == NULL || (client_id[0] != '\0' && strlen(client_id) <= STORE_LOCK_CLIENT_MAX),
	    "a client filter must be 1 to 128 bytes");
	LOCK_REQUIRE_OPS(s, lock_clear);
	return s->ops->lock_clear(s->h, address, client_id, now, count);
}

static const char *
failure_keys_invalid(const struct store_failure_key *k, size_t n)
{
	if (k == NULL || n == 0 || n > 4)
		return "1 to 4 keys at once";
	for (size_t i = 0; i < n; i++) {
		struct store_lock lk = { k[i].kind, (char *)k[i].client_id, (char *)k[i].address, 0, 1 };
		const char *why = lock_invalid(&lk);
		if (why != NULL)
			return why;
		if (k[i].kind == STORE_LOCK_ADDRESS && (k[i].client_id == NULL || k[i].client_id[0] != '\0'))
			return "an address key's client id is \"\"";
		for (size_t j = 0; j < i; j++)
			if (k[j].kind == k[i].kind && strcmp(k[j].address, k[i].address) == 0 &&
			    strcmp(k[j].client_id, k[i].client_id) == 0)
				return "a key is given twice";
	}
	return NULL;
}

int
store_failure_add(struct store *s, const struct store_failure_key *keys, size_t n,
    int64_t now, int64_t window, int64_t *counts)
{
	const char *why;

	REQUIRE(s != NULL && counts != NULL, "NULL argument");
	REQUIRE(window > 0, "the window must be positive");
	if ((why = failure_keys_invalid(keys, n)) != NULL)
		return store_set_error(STORE_ERROR, "%s: %s", __func__, why);
	LOCK_REQUIRE_OPS(s, failure_add);
	return s->ops->failure_add(s->h, keys, n, now, window, counts);
}

int
store_failure_reset(struct store *s, const struct store_failure_key *keys, size_t n)
{
	const char *why;

	REQUIRE(s != NULL, "NULL argument");
	if ((why = failure_keys_invalid(keys, n)) != NULL)
		return store_set_error(STORE_ERROR, "%s: %s", __func__, why);
	LOCK_REQUIRE_OPS(s, failure_reset);
	return s->ops->failure_reset(s->h, keys, n);
}

int
store_failure_pairs(struct store *s, int64_t now, int64_t window, size_t max,
    struct store_failure_row **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(window > 0, "the window must be positive");
	REQUIRE(max > 0 && max <= 10000, "1 to 10000 rows at once");
	LOCK_REQUIRE_OPS(s, failure_pairs);
	return s->ops->failure_pairs(s->h, now - window, max, out, n);
}

void
store_failure_free(struct store_failure_row *r, size_t n)
{
	for (size_t i = 0; r != NULL && i < n; i++)
		store_failure_clear_v(&r[i]);
	free(r);
}

int
store_rate_push(struct store *s, const char *node, const struct store_rate *rows, size_t n,
    int64_t now)
{
	REQUIRE(s != NULL && node != NULL && rows != NULL, "NULL argument");
	REQUIRE(node[0] != '\0' && strlen(node) <= STORE_RATE_NODE_MAX, "a node is 1 to 64 bytes");
	REQUIRE(n > 0 && n <= 10000, "1 to 10000 rows at once");
	for (size_t i = 0; i < n; i++)
		if (rows[i].client_id == NULL || rows[i].client_id[0] == '\0' ||
		    strlen(rows[i].client_id) > STORE_LOCK_CLIENT_MAX || rows[i].taken <= 0)
			return store_set_error(STORE_ERROR, "%s: row %zu: a client id of 1 to 128 "
			    "bytes and a positive count", __func__, i);
	LOCK_REQUIRE_OPS(s, rate_push);
	return s->ops->rate_push(s->h, node, rows, n, now);
}

int
store_rate_pull(struct store *s, const char *not_node, int64_t since, struct store_rate **out,
    size_t *n)
{
	REQUIRE(s != NULL && not_node != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	LOCK_REQUIRE_OPS(s, rate_pull);
	return s->ops->rate_pull(s->h, not_node, since, out, n);
}

void
store_rate_free(struct store_rate *r, size_t n)
{
	for (size_t i = 0; r != NULL && i < n; i++)
		store_rate_clear_v(&r[i]);
	free(r);
}

int
store_is_shared(const struct store *s)
{
	return s != NULL && s->ops->shared;
}

void
store_lock_free(struct store_lock *l, size_t n)
{
	for (size_t i = 0; l != NULL && i < n; i++)
		store_lock_clear_v(&l[i]);
	free(l);
}

/* -- maker-checker approvals (issue 6) ------------------------------------------ */

#define APPROVAL_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"approvals are not supported by this store backend")

const char *const store_approval_state_names[STORE_APPROVAL_STATE__MAX] = {
	"pending", "approved", "rejected", "expired", "used", "applied", "failed"
};

int
store_approval_state_from_name(const char *s, enum store_approval_state *out)
{
	for (int i = 0; s != NULL && i < STORE_APPROVAL_STATE__MAX; i++)
		if (strcmp(s, store_approval_state_names[i]) == 0) {
			*out = (enum store_approval_state)i;
			return 0;
		}
	return -1;
}

#define NONEMPTY(p) ((p) != NULL && (p)[0] != '\0')

int
store_approval_create(struct store *s, const struct store_approval *a)
{
	struct store_approval norm;

	REQUIRE(s != NULL && a != NULL, "NULL argument");
	REQUIRE(NONEMPTY(a->id) && NONEMPTY(a->tenant_id) && NONEMPTY(a->kind) &&
	    NONEMPTY(a->maker) && NONEMPTY(a->maker_tenant) && NONEMPTY(a->payload),
	    "an approval needs an id, a tenant, a kind, a maker and a payload");
	REQUIRE(a->state == STORE_APPROVAL_PENDING, "an approval is filed pending");
	REQUIRE(a->expires_at > a->created_at, "an approval must expire after it is filed");
	APPROVAL_REQUIRE_OPS(s, approval_create);
	norm = *a;
	norm.reason = OPT(a->reason, "");
	norm.conflict_key = OPT(a->conflict_key, "");
	norm.checker = "";
	norm.result = "";
	norm.decided_at = 0;
	norm.used_at = 0;
	return s->ops->approval_create(s->h, &norm);
}

int
store_approval_get(struct store *s, const char *id, struct store_approval *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	REQUIRE(NONEMPTY(id), "an approval id is required");
	APPROVAL_REQUIRE_OPS(s, approval_get);
	return s->ops->approval_get(s->h, id, out);
}

int
store_approval_list(struct store *s, const char *tenant_id, enum store_approval_state state,
    size_t limit, struct store_approval **out, size_t *n)
{
	REQUIRE(s != NULL && out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE((unsigned)state <= STORE_APPROVAL_STATE__MAX, "approval state out of range");
	REQUIRE(limit >= 1 && limit <= 1000, "limit must be 1 to 1000");
	APPROVAL_REQUIRE_OPS(s, approval_list);
	return s->ops->approval_list(s->h, tenant_id, state, limit, out, n);
}

int
store_approval_transition(struct store *s, const char *id, enum store_approval_state from,
    enum store_approval_state to, int check_expiry, int64_t now, const char *checker,
    int64_t used_at, const char *result)
{
	REQUIRE(s != NULL, "NULL argument");
	REQUIRE(NONEMPTY(id), "an approval id is required");
	REQUIRE((unsigned)from < STORE_APPROVAL_STATE__MAX &&
	    (unsigned)to < STORE_APPROVAL_STATE__MAX && from != to,
	    "approval states out of range");
	APPROVAL_REQUIRE_OPS(s, approval_transition);
	return s->ops->approval_transition(s->h, id, from, to, check_expiry, now, checker,
	    used_at, result);
}

void
store_approval_clear(struct store_approval *a)
{
	if (a == NULL)
		return;
	free(a->id);
	free(a->tenant_id);
	free(a->kind);
	free(a->maker);
	free(a->maker_tenant);
	free(a->payload);
	free(a->reason);
	free(a->conflict_key);
	free(a->checker);
	free(a->result);
	memset(a, 0, sizeof(*a));
}

void
store_approval_free(struct store_approval *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++)
		store_approval_clear(&a[i]);
	free(a);
}

int
store_approval_conflict(const char *id, enum store_approval_state from,
    enum store_approval_state cur)
{
	if (cur == from)
		return store_set_error(STORE_CONFLICT, "approval %.64s has expired", id);
	return store_set_error(STORE_CONFLICT, "approval %.64s is %s", id,
	    store_approval_state_names[cur]);
}

/* -- the audit trail (issue 6) ------------------------------------------------- */

#define AUDIT_REQUIRE_OPS(s, op) REQUIRE((s)->ops->op != NULL, \
	"the audit trail is not supported by this store backend")

int
store_audit_supported(const struct store *s)
{
	return s != NULL && s->ops->commit_batch != NULL && s->ops->audit_list != NULL &&
	    s->ops->audit_scan != NULL && s->ops->audit_prune != NULL &&
	    s->ops->audit_seal != NULL;
}

#define AUDIT_REQUIRE_KEY(s) REQUIRE((s)->audit_key != NULL, \
	"the audit trail's key is not set: load the master key first")

int
store_audit_set_key(struct store *s, const uint8_t key[32], int64_t *keyed_after)
{
	struct store_audit_seal seal;
	struct store_audit_key *k;
	int rc, wrote = 0;

	if (keyed_after != NULL)
		*keyed_after = -1;
	REQUIRE(s != NULL && key != NULL, "NULL argument");
	AUDIT_REQUIRE_OPS(s, audit_seal);
	if ((k = store_audit_key_new(key)) == NULL)
		return store_set_error(STORE_ERROR, "audit: cannot make the chain key");
	if (s->audit_key != NULL) {
		/* The writer may be linking with the first: it stays. */
		rc = store_audit_key_matches(s->audit_key, store_audit_key_check(k)) ? STORE_OK :
		    store_set_error(STORE_CONFLICT, "audit: another key is set on this store");
		store_audit_key_free(k);
		return rc;
	}
	rc = s->ops->audit_seal(s->h, k, &seal, &wrote);
	if (rc == STORE_OK && !store_audit_key_matches(k, seal.check))
		rc = store_set_error(STORE_CONFLICT, "the master key does not match the key this "
		    "audit trail was written with");
	else if (rc == STORE_NOTFOUND)
		rc = STORE_OK;	/* the record was deleted: verification reports it */
	if (rc != STORE_OK) {
		store_audit_key_free(k);
		return rc;
	}
	s->audit_key = k;
	writer_set_audit_key(s->writer, k);
	if (wrote && keyed_after != NULL)
		*keyed_after = seal.through;
	return STORE_OK;
}

const struct store_audit_key *
store_audit_get_key(const struct store *s)
{
	return s != NULL ? s->audit_key : NULL;
}

int
store_audit_seal_get(struct store *s, struct store_audit_seal *out)
{
	REQUIRE(s != NULL && out != NULL, "NULL argument");
	memset(out, 0, sizeof(*out));
	AUDIT_REQUIRE_OPS(s, audit_seal);
	return s->ops->audit_seal(s->h, NULL, out, &(int){ 0 });
}

int
store_audit_append(struct store *s, const struct store_audit *a, store_done_fn done, void *arg)
{
	REQUIRE(s != NULL && a != NULL, "NULL argument");
	REQUIRE(a->action != NULL && a->action[0] != '\0' && a->outcome != NULL &&
	    a->outcome[0] != '\0', "an audit row needs an action and an outcome");
	AUDIT_REQUIRE_OPS(s, commit_batch);
	AUDIT_REQUIRE_KEY(s);
	return writer_enqueue_audit(s->writer, a, done, arg);
}

int
store_audit_list(struct store *s, const struct store_audit_filter *f,
    struct store_audit **out, size_t *n)
{
	struct store_audit_filter g;
	struct store_audit *rows = NULL;
	size_t nrows = 0;
	int rc;

	REQUIRE(out != NULL && n != NULL, "NULL argument");
	*out = NULL;
	*n = 0;
	REQUIRE(s != NULL && f != NULL, "NULL argument");
	REQUIRE(f->limit >= 1 && f->limit <= 10000, "an audit list limit must be 1..10000");
	AUDIT_REQUIRE_OPS(s, audit_list);
	g = *f;
	/* The backend sees "" for "no filter". */
	if (g.tenant == NULL)
		g.tenant = "";
	if (g.client == NULL)
		g.client = "";
	if (g.action == NULL)
		g.action = "";
	/* A grouped row's time is its earliest event's; its events lie within
	 * AUDIT_GROUP_SPAN_MS after. The expansion applies the exact window. */
	g.since = g.since > AUDIT_GROUP_SPAN_MS ? g.since - AUDIT_GROUP_SPAN_MS : 0;
	if ((rc = s->ops->audit_list(s->h, &g, &rows, &nrows)) != STORE_OK)
		return rc;
	return audit_group_expand(rows, nrows, f, out, n);
}

int
store_audit_scan(struct store *s, int64_t from_seq, store_audit_fn fn, void *arg)
{
	REQUIRE(s != NULL && fn != NULL, "NULL argument");
	AUDIT_REQUIRE_OPS(s, audit_scan);
	return s->ops->audit_scan(s->h, from_seq, fn, arg);
}

int
store_audit_prune(struct store *s, int64_t before, int64_t now, int64_t *pruned)
{
	int64_t dummy;

	if (pruned == NULL)
		pruned = &dummy;
	*pruned = 0;
	REQUIRE(s != NULL, "NULL argument");
	AUDIT_REQUIRE_OPS(s, audit_prune);
	AUDIT_REQUIRE_KEY(s);
	return s->ops->audit_prune(s->h, s->audit_key, before, now, pruned);
}

void
store_audit_clear(struct store_audit *a)
{
	if (a == NULL)
		return;
	free(a->request_id);
	free(a->actor);
	free(a->tenant);
	free(a->address);
	free(a->action);
	free(a->target);
	free(a->outcome);
	free(a->detail);
	memset(a, 0, sizeof(*a));
}

void
store_audit_free(struct store_audit *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++)
		store_audit_clear(&a[i]);
	free(a);
}

/* -- for the backends' row collectors (store_backend.h) ------------------------- */

void store_tenant_clear_v(void *p) { store_tenant_clear(p); }
void store_client_clear_v(void *p) { store_client_clear(p); }
void store_secret_clear_v(void *p) { store_secret_clear(p); }
void store_key_clear_v(void *p) { store_key_clear(p); }
void store_token_clear_v(void *p) { store_token_clear(p); }
void store_approval_clear_v(void *p) { store_approval_clear(p); }
void store_audit_clear_v(void *p) { store_audit_clear(p); }

void
store_lock_clear_v(void *p)
{
	struct store_lock *l = p;

	free(l->client_id);
	free(l->address);
}

void
store_failure_clear_v(void *p)
{
	struct store_failure_row *r = p;

	free(r->address);
	free(r->client_id);
}

void
store_rate_clear_v(void *p)
{
	struct store_rate *r = p;

	free(r->client_id);
	free(r->node);
}
