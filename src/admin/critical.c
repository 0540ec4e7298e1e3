/* critical.c — see critical.h. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "admin/critical.h"
#include "admin/internal.h"
#include "approvals/approvals.h"
#include "manage/views.h"
#include "security/secret.h"
#include "util/util.h"

static const struct admin_kind *
kind_find(const char *kind)
{
	for (size_t i = 0; i < admin_nclient_kinds; i++)
		if (strcmp(admin_client_kinds[i].kind, kind) == 0)
			return &admin_client_kinds[i];
	for (size_t i = 0; i < admin_nmisc_kinds; i++)
		if (strcmp(admin_misc_kinds[i].kind, kind) == 0)
			return &admin_misc_kinds[i];
	return NULL;
}

/* Applies payload now and answers with the result, and with secret (the
 * one whose hash the payload carries; wiped here) when there is one. */
static void
apply_now(struct admin_call *c, const char *kind, json_t *payload,
    char secret[SECRET_TEXT_LEN + 1])
{
	const struct admin_kind *k = kind_find(kind);
	json_t *result = NULL;
	char err[512];
	int status;

	if (k == NULL) {
		admin_error(c, 500, "server_error", "no applier for %s", kind);
		json_decref(payload);
		OPENSSL_cleanse(secret, SECRET_TEXT_LEN + 1);
		return;
	}
	status = k->apply(c->ctx, payload, &result, err, sizeof(err));
	json_decref(payload);
	if (status < 0)
		admin_manage_error(c, err);
	else {
		/* The only time the secret is shown. */
		if (secret[0] != '\0')
			json_object_set_new(result, "client_secret", json_string(secret));
		admin_answer(c, status, result);
	}
	OPENSSL_cleanse(secret, SECRET_TEXT_LEN + 1);
}

void
admin_apply_now(struct admin_call *c, const char *kind, json_t *payload)
{
	char none[SECRET_TEXT_LEN + 1] = "";

	apply_now(c, kind, payload, none);
}

int
admin_preset_hash(const json_t *payload, uint8_t hash[32], char *err, size_t errlen)
{
	const char *h = json_string_value(json_object_get(payload, "secret_hash"));

	if (json_object_get(payload, "secret_hash") == NULL)
		return 0;
	if (h == NULL || strlen(h) != 64 || hex_decode(h, 64, hash, 32) == -1) {
		snprintf(err, errlen, "secret_hash: must be 64 hex digits");
		return -1;
	}
	return 1;
}

int
admin_preset_holder(const json_t *payload, const char **holder, char *err, size_t errlen)
{
	const json_t *h = json_object_get(payload, "holder");
	const char *s = json_string_value(h);

	*holder = NULL;
	if (h == NULL)
		return 0;
	if (s == NULL || (s[0] != '\0' && !str_is_ident(s, strlen(s), 128))) {
		snprintf(err, errlen, "holder: must be a client id or \"\"");
		return -1;
	}
	*holder = s;
	return 0;
}

/* Kinds that make a secret: the admin API makes it itself and shows it
 * once, to the caller (the maker, when the change is filed); the change
 * installs only its hash. */
static int
makes_secret(const char *kind)
{
	return strcmp(kind, "client.create") == 0 || strcmp(kind, "secret.rotate") == 0;
}

static int
needs_approval(const struct admin_call *c, enum store_env env)
{
	const char *mode = c->ctx->cfg->maker_checker;

	return strcmp(mode, "always") == 0 ||
	    (strcmp(mode, "production") == 0 && env == STORE_ENV_PRODUCTION);
}

/* For a kind that makes a secret: the secret, made now into secret (for
 * the caller's eyes once), its keyed hash and whom it is shown to into
 * the payload: the caller (store.h struct store_secret holder), also when
 * it rotates its own secret, since whoever acted as it then was shown the
 * new one (approvals/held.h follows it through them). */
static int
secret_for_payload(struct admin_call *c, const char *kind, json_t *payload,
    char secret[SECRET_TEXT_LEN + 1])
{
	uint8_t h[32];
	char hex[65];

	secret[0] = '\0';
	if (!makes_secret(kind))
		return 0;
	json_object_set_new(payload, "holder", json_string(c->p->client_id));
	if (secret_generate(secret) == -1 ||
	    secret_hash(c->ctx->secret_key, secret, SECRET_TEXT_LEN, h) == -1)
		return -1;
	hex_encode(h, 32, hex);
	OPENSSL_cleanse(h, sizeof(h));
	json_object_set_new(payload, "secret_hash", json_string(hex));
	return 0;
}

/* The 202 for a change filed as approval a, with its secret (wiped here),
 * if it made one. */
static void
answer_filed(struct admin_call *c, const char *kind, const char *tenant, const char *target,
    const struct store_approval *a, char secret[SECRET_TEXT_LEN + 1])
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "approval_id", a->id,
	    "state", "pending", "kind", kind, "tenant_id", tenant, "target", target,
	    "expires_at", views_time(a->expires_at));

	if (secret[0] != '\0') {
		/* Shown once, now; it works from when the approval applies. */
		json_object_set_new(o, "client_secret", json_string(secret));
		json_object_set_new(o, "client_secret_active", json_string("once approved"));
		OPENSSL_cleanse(secret, SECRET_TEXT_LEN + 1);
	}
	admin_answer(c, 202, o);
}

/*
 * Two pending changes of one client (or one key environment) conflict: the
 * key names the tenant and the target, "client:<tenant>/<id>" or
 * "key:<tenant>/<env>". Client ids are chosen by whoever files a creation,
 * so without the tenant one tenant's pending change could hold up
 * another's (and the 409 would name an approval the caller cannot see).
 * A tenant id has no '/' (str_is_ident): no two pairs give one key.
 */
static void
conflict_key(const char *tenant, const char *target, char key[APPROVAL_CONFLICT_MAX])
{
	int keys = strncmp(target, "keys:", 5) == 0;

	snprintf(key, APPROVAL_CONFLICT_MAX, "%s:%s/%s", keys ? "key" : "client", tenant,
	    keys ? target + 5 : target);
}

void
admin_critical(struct admin_call *c, const char *kind, const char *tenant, enum store_env env,
    const char *target, json_t *payload)
{
	struct approval_actor maker;
	struct approval_request req;
	struct store_approval a;
	char err[512], conflict[APPROVAL_CONFLICT_MAX], *text, secret[SECRET_TEXT_LEN + 1];
	int status;

	snprintf(c->tenant, sizeof(c->tenant), "%s", tenant);
	admin_audit_restage(c);
	if (!needs_approval(c, env)) {
		if (c->level < ADMIN_ADMIN) {
			admin_error(c, 403, "forbidden", "%s is a critical change: applied directly it needs the "
			    "admin role (maker-checker is off for it: maker_checker = %s)", kind,
			    c->ctx->cfg->maker_checker);
			json_decref(payload);
			return;
		}
		if (secret_for_payload(c, kind, payload, secret) == -1) {
			OPENSSL_cleanse(secret, sizeof(secret));
			admin_error(c, 500, "server_error", "cannot make a secret");
			json_decref(payload);
			return;
		}
		apply_now(c, kind, payload, secret);
		return;
	}
	memset(&maker, 0, sizeof(maker));
	snprintf(maker.client_id, sizeof(maker.client_id), "%s", c->p->client_id);
	snprintf(maker.tenant_id, sizeof(maker.tenant_id), "%s", c->p->tenant_id);
	maker.roles = c->p->roles;
	maker.env = c->p->env;
	conflict_key(tenant, target, conflict);
	if (secret_for_payload(c, kind, payload, secret) == -1) {
		OPENSSL_cleanse(secret, sizeof(secret));
		admin_error(c, 500, "server_error", "cannot make a secret");
		json_decref(payload);
		return;
	}
	if ((text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS)) == NULL) {
		OPENSSL_cleanse(secret, sizeof(secret));
		admin_error(c, 500, "server_error", "out of memory");
		json_decref(payload);
		return;
	}
	memset(&req, 0, sizeof(req));
	req.tenant_id = tenant;
	req.kind = kind;
	req.payload = text;
	req.reason = http_request_header(&c->x->req, "X-Approval-Reason", NULL);
	req.conflict_key = conflict;
	memset(&a, 0, sizeof(a));
	/* Filed, not made: the filing is not the change (its row, pending,
	 * is written after, as the approval's own rows are). */
	admin_audit_unstage(c);
	status = approvals_file(c->ctx, &maker, &req, &a, err, sizeof(err));
	free(text);
	if (status != 0) {
		json_decref(payload);
		OPENSSL_cleanse(secret, sizeof(secret));
		admin_error(c, status, status == 409 ? "conflict" : status == 403 ? "forbidden" :
		    status == 404 ? "not_found" : status >= 500 ? "temporarily_unavailable" : "invalid_request",
		    "%s", err);
		return;
	}
	answer_filed(c, kind, tenant, target, &a, secret);
	/* tenant and target may point into payload: freed last. */
	json_decref(payload);
	store_approval_clear(&a);
}

/* Whether one of client cid's secrets is the one payload p made (its
 * preset hash): 0 when not, or when the store cannot say. */
static int
has_preset_secret(struct gh_ctx *ctx, const char *cid, const json_t *p)
{
	struct store_secret *ss = NULL;
	size_t n = 0;
	uint8_t h[32];
	char err[128];
	int found = 0;

	if (cid == NULL || admin_preset_hash(p, h, err, sizeof(err)) != 1 ||
	    store_secret_list(ctx->store, cid, &ss, &n) != STORE_OK)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (secret_equal(h, ss[i].hash))
			found = 1;
	store_secret_free(ss, n);
	return found;
}

/* Whether the client payload p creates exists: its id, in its tenant,
 * with the secret it made. A client of that id that is not it (another
 * tenant's, made while this creation waited) leaves the creation to be
 * applied, and refused as a conflict, rather than called done. */
static int
created(struct gh_ctx *ctx, const json_t *p)
{
	const char *id = json_string_value(json_object_get(p, "id"));
	const char *tenant = json_string_value(json_object_get(p, "tenant"));
	struct store_client c;
	int ours;

	if (id == NULL || tenant == NULL)
		return 0;
	memset(&c, 0, sizeof(c));
	if (store_client_get(ctx->store, id, &c) != STORE_OK)
		return 0;
	ours = strcmp(c.tenant_id, tenant) == 0;
	store_client_clear(&c);
	return ours && has_preset_secret(ctx, id, p);
}

/* 1 when client cid exists and is disabled (disabled 1) or enabled (0). */
static int
disabled_is(struct gh_ctx *ctx, const char *cid, int disabled)
{
	struct store_client c;
	int is;

	memset(&c, 0, sizeof(c));
	if (cid == NULL || store_client_get(ctx->store, cid, &c) != STORE_OK)
		return 0;
	is = (c.disabled != 0) == (disabled != 0);
	store_client_clear(&c);
	return is;
}

/*
 * Recovery (approvals_recover: the approval is APPROVED because its decider
 * stopped before recording the outcome, maybe after applying it): 1 when
 * the change is already in effect, so that it is not applied twice. A
 * created client exists (created); a deleted one does not, or another
 * client of its id was made after the deletion was filed; a rotated
 * secret's hash is among the client's secrets; a key for the environment
 * was made at or after the decision; a client updated, disabled or enabled
 * has the values the change sets. The last must be asked of the client
 * itself: its own change, made a second after the decision and not
 * recorded, moves the client's updated_at as a later change would
 * (superseded), and was recorded failed although it was in effect.
 */
static int
in_effect(struct gh_ctx *ctx, const struct store_approval *a, const json_t *p)
{
	const char *cid = json_string_value(json_object_get(p, "client_id"));
	int found = 0;

	if (strcmp(a->kind, "client.create") == 0)
		return created(ctx, p);
	if (strcmp(a->kind, "client.delete") == 0) {
		struct store_client c;
		int rc, made_since = 0;
		if (cid == NULL)
			return 0;
		memset(&c, 0, sizeof(c));
		rc = store_client_get(ctx->store, cid, &c);
		if (rc == STORE_OK) {
			/* Made after the deletion was filed: another client
			 * of the id (README), so the one filed for is gone. */
			made_since = c.created_at > a->created_at;
			store_client_clear(&c);
		}
		return rc == STORE_NOTFOUND || made_since;
	}
	if (strcmp(a->kind, "client.update") == 0)
		return admin_client_update_in_effect(ctx, p);
	if (strcmp(a->kind, "client.disable") == 0 || strcmp(a->kind, "client.enable") == 0)
		return disabled_is(ctx, cid, strcmp(a->kind, "client.disable") == 0);
	if (strcmp(a->kind, "secret.rotate") == 0)
		return has_preset_secret(ctx, cid, p);
	if (strcmp(a->kind, "key.rotate") == 0) {
		struct store_key *ks = NULL;
		size_t n = 0;
		enum store_env env;
		const char *envs = json_string_value(json_object_get(p, "env"));
		if (envs == NULL || store_env_from_name(envs, &env) == -1 ||
		    store_key_list(ctx->store, &ks, &n) != STORE_OK)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (ks[i].env == env && ks[i].created_at >= a->decided_at)
				found = 1;
		store_key_free(ks, n);
		return found;
	}
	return 0;
}

/*
 * Recovery only (a decision whose decider stopped before applying it): 1
 * when the change would overwrite a later one. An update, disable or
 * enable is applied whole, so applied now over a change made since the
 * decision (by the CLI, or another approval), it would undo that one: a
 * client re-enabled after a stuck disable was disabled again half a
 * minute later. The client's updated_at after decided_at says so. Asked
 * after in_effect: this approval's own change, made before the stop, also
 * moves updated_at, and is found in effect there.
 */
static int
superseded(struct gh_ctx *ctx, const struct store_approval *a, const json_t *p)
{
	const char *cid = json_string_value(json_object_get(p, "client_id"));
	struct store_client c;
	int later;

	if (strcmp(a->kind, "client.update") != 0 && strcmp(a->kind, "client.disable") != 0 &&
	    strcmp(a->kind, "client.enable") != 0)
		return 0;
	memset(&c, 0, sizeof(c));
	if (cid == NULL || store_client_get(ctx->store, cid, &c) != STORE_OK)
		return 0;	/* gone: the applier says so */
	later = c.updated_at > a->decided_at;
	store_client_clear(&c);
	return later;
}

/*
 * 1 when the client a change names (its client_id) was made after the
 * change was filed: the client filed for was deleted and its id given
 * again (README), and the change, approved for that one, must not reach
 * this one: a secret rotation would give the maker, shown the secret at
 * filing, a working secret of a client it never held. 0 otherwise (no
 * client_id, none of that id: the applier says so).
 */
static int
made_again(struct gh_ctx *ctx, const struct store_approval *a, const json_t *p)
{
	const char *cid = json_string_value(json_object_get(p, "client_id"));
	struct store_client c;
	int later;

	memset(&c, 0, sizeof(c));
	if (cid == NULL || store_client_get(ctx->store, cid, &c) != STORE_OK)
		return 0;
	later = c.created_at > a->created_at;
	store_client_clear(&c);
	return later;
}

/*
 * A filed change that makes a secret showed it to its holder (the maker)
 * when filed. Applied once that client is disabled or deleted (someone let
 * go, a client found compromised), it would give whoever held that client
 * a working secret. 0 when the holder is active (or none), else -1 with
 * err.
 */
static int
holder_active(struct gh_ctx *ctx, const json_t *payload, char *err, size_t errlen)
{
	const char *holder = NULL;
	struct store_client c;
	int rc, disabled;

	if (admin_preset_holder(payload, &holder, err, errlen) == -1)
		return -1;
	if (holder == NULL || holder[0] == '\0')
		return 0;
	memset(&c, 0, sizeof(c));
	if ((rc = store_client_get(ctx->store, holder, &c)) != STORE_OK) {
		if (rc == STORE_NOTFOUND)
			snprintf(err, errlen, "the secret this change makes was shown to %.128s, "
			    "deleted since: it is not applied; file the change again", holder);
		else
			snprintf(err, errlen, "store: %s", store_last_error());
		return -1;
	}
	disabled = c.disabled;
	store_client_clear(&c);
	if (!disabled)
		return 0;
	snprintf(err, errlen, "the secret this change makes was shown to %.128s, disabled "
	    "since: it is not applied; file the change again", holder);
	return -1;
}

/* Test hook: GATEHOUSE_TEST_APPLY_PAUSE (milliseconds, at most a minute)
 * holds an applier between its checks of what is in effect and the change,
 * so that the tests can make two nodes' recoveries of one approval meet
 * there. Unset in production. */
static void
test_pause(void)
{
	const char *v = getenv("GATEHOUSE_TEST_APPLY_PAUSE"), *why;
	int64_t ms;

	if (v != NULL && num_parse_i64(v, strlen(v), 1, 60000, &ms, &why) == 0) {
		struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
}

/* The engine's applier for every admin kind: the payload as filed. */
static int
apply_approved(struct gh_ctx *ctx, const struct store_approval *a, char **result_json,
    char *err, size_t errlen)
{
	const struct admin_kind *k = kind_find(a->kind);
	json_t *payload, *result = NULL;
	json_error_t je;
	int status;

	if (k == NULL) {
		snprintf(err, errlen, "no applier for %.64s", a->kind);
		return -1;
	}
	if ((payload = json_loads(a->payload, 0, &je)) == NULL || !json_is_object(payload)) {
		json_decref(payload);
		snprintf(err, errlen, "the approval's payload is not a JSON object");
		return -1;
	}
	/* Filed before secrets recorded their holder: the maker was shown it. */
	if (makes_secret(a->kind) && json_object_get(payload, "holder") == NULL)
		json_object_set_new(payload, "holder", json_string(a->maker));
	if (a->state == STORE_APPROVAL_APPROVED && in_effect(ctx, a, payload)) {
		json_decref(payload);
		*result_json = strdup("{\"recovered\":true,\"note\":\"the change was already in effect\"}");
		return 0;
	}
	if (made_again(ctx, a, payload)) {
		json_decref(payload);
		snprintf(err, errlen, "the client was deleted and made again since this change was "
		    "filed; not applied to the new client (file it again if it is still wanted)");
		return -1;
	}
	if (a->state == STORE_APPROVAL_APPROVED && superseded(ctx, a, payload)) {
		json_decref(payload);
		snprintf(err, errlen, "the client changed after this approval was decided; not "
		    "applied over that change (file it again if it is still wanted)");
		return -1;
	}
	if (makes_secret(a->kind) && holder_active(ctx, payload, err, errlen) == -1) {
		json_decref(payload);
		return -1;
	}
	test_pause();
	status = k->apply(ctx, payload, &result, err, errlen);
	json_decref(payload);
	if (status < 0)
		return -1;
	/* Filed secrets come as a hash: a result never holds a secret. Be
	 * sure anyway: the result is recorded in the approval. */
	json_object_del(result, "client_secret");
	*result_json = json_dumps(result, JSON_COMPACT);
	json_decref(result);
	return 0;
}

static pthread_once_t register_once = PTHREAD_ONCE_INIT;
static int register_rc;

static void
register_all(void)
{
	for (size_t i = 0; i < admin_nclient_kinds; i++)
		if (approvals_applier(admin_client_kinds[i].kind) == NULL &&
		    approvals_register(admin_client_kinds[i].kind, apply_approved) == -1)
			register_rc = -1;
	for (size_t i = 0; i < admin_nmisc_kinds; i++)
		if (approvals_applier(admin_misc_kinds[i].kind) == NULL &&
		    approvals_register(admin_misc_kinds[i].kind, apply_approved) == -1)
			register_rc = -1;
}

int
admin_register_appliers(void)
{
	pthread_once(&register_once, register_all);
	return register_rc;
}
