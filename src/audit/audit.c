/*
 * audit.c — the emitting side of the audit trail (audit.h). Events become
 * store rows (store.h store_audit_*) queued on the group-commit writer; the
 * store chains and commits them. Here: the on/off switch, the field limits,
 * and text that cannot break the JSON the trail is listed as.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "config/config.h"
#include "obs/log.h"
#include "security/masterkey.h"
#include "server/context.h"
#include "util/util.h"

int64_t
audit_now_ms(void)
{
	/* One reading: time()'s seconds (the kernel's coarse clock, a tick
	 * behind) with CLOCK_REALTIME's milliseconds put a row written just
	 * after a second began a whole second early, before rows written
	 * just before it, and moved audit retention's cut back by a second. */
	return clock_now_ms();
}

int
audit_key_derive(const uint8_t master[32], uint8_t out[32])
{
	return masterkey_derive(master, AUDIT_KEY_INFO, out);
}

int
audit_key_use(struct store *st, const uint8_t master[32], int64_t *keyed_after, char *err,
    size_t errlen)
{
	uint8_t key[32];
	int rc = -1;

	if (keyed_after != NULL)
		*keyed_after = -1;
	if (audit_key_derive(master, key) == -1)
		snprintf(err, errlen, "cannot derive the audit key from the master key");
	else if (store_audit_set_key(st, key, keyed_after) != STORE_OK)
		snprintf(err, errlen, "%s", store_last_error());
	else
		rc = 0;
	OPENSSL_cleanse(key, sizeof(key));
	return rc;
}

struct store_audit_key *
audit_key_new(const uint8_t master[32])
{
	struct store_audit_key *k = NULL;
	uint8_t key[32];

	if (audit_key_derive(master, key) == 0)
		k = store_audit_key_new(key);
	OPENSSL_cleanse(key, sizeof(key));
	return k;
}

/* 1 when s can be stored as it is: short enough, clean UTF-8 (the common
 * case, with no copy). */
static int
field_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 1;
	n = strnlen(s, AUDIT_FIELD_MAX + 1);
	return n <= AUDIT_FIELD_MAX && str_is_clean_utf8(s, n);
}

/*
 * Copies s into out (AUDIT_FIELD_MAX + 1 bytes): cut at a UTF-8 boundary,
 * and when the text is not clean UTF-8 (a client's bytes), every byte that
 * is not printable ASCII becomes '?': the trail stays valid JSON text.
 */
static const char *
field_fix(const char *s, char *out)
{
	size_t n;

	if (s == NULL)
		return "";
	n = strnlen(s, AUDIT_FIELD_MAX + 1);
	if (n > AUDIT_FIELD_MAX) {
		n = AUDIT_FIELD_MAX;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;	/* s[n] continues a character: cut before it */
	}
	memcpy(out, s, n);
	out[n] = '\0';
	if (!str_is_clean_utf8(out, n))
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
				out[i] = '?';
	return out;
}

/* The event as a row, queued for the writer (done, arg), or staged for
 * the change this thread commits next when stage (store.h
 * store_audit_stage). */
static int
queue(struct store *st, const struct audit_event *ev, store_done_fn done, void *arg, int stage)
{
	const char *in[8] = { ev != NULL ? ev->request_id : NULL, ev != NULL ? ev->actor : NULL,
	    ev != NULL ? ev->tenant : NULL, ev != NULL ? ev->address : NULL,
	    ev != NULL ? ev->action : NULL, ev != NULL ? ev->target : NULL,
	    ev != NULL ? ev->outcome : NULL, ev != NULL ? ev->detail : NULL };
	char (*fix)[AUDIT_FIELD_MAX + 1] = NULL;
	struct store_audit a;
	int rc;

	if (ev == NULL || ev->action == NULL || ev->outcome == NULL)
		return -1;
	for (int i = 0; i < 8; i++) {
		if (field_ok(in[i]))
			continue;
		/* Rare: 8 KiB off the stack of server threads. */
		if (fix == NULL && (fix = malloc(8 * sizeof(*fix))) == NULL)
			return -1;
		in[i] = field_fix(in[i], fix[i]);
	}
	memset(&a, 0, sizeof(a));
	a.at = audit_now_ms();
	a.request_id = (char *)in[0];
	a.actor = (char *)in[1];
	a.tenant = (char *)in[2];
	a.address = (char *)in[3];
	a.action = (char *)in[4];
	a.target = (char *)in[5];
	a.outcome = (char *)in[6];
	a.detail = (char *)in[7];
	rc = stage ? store_audit_stage(st, &a) : store_audit_append(st, &a, done, arg); /* copy a */
	free(fix);
	if (rc != STORE_OK) {
		log_event(LOG_ERROR, stage ? "audit.stage_failed" : "audit.queue_failed",
		    json_pack("{s:s, s:s}",
		    "action", ev->action, "error", store_last_error()));
		return -1;
	}
	return 0;
}

int
audit_emit(struct gh_ctx *ctx, const struct audit_event *ev)
{
	if (!ctx->cfg->audit)
		return 0;
	return queue(ctx->store, ev, NULL, NULL, 0);
}

int
audit_emit_async(struct gh_ctx *ctx, const struct audit_event *ev, store_done_fn done,
    void *arg)
{
	if (!ctx->cfg->audit)
		return 1;
	return queue(ctx->store, ev, done, arg, 0);
}

struct wait {
	int	err;
};

static void
write_done(void *arg, int err)
{
	((struct wait *)arg)->err = err;
}

int
audit_write(struct store *st, const struct config *cfg, const struct audit_event *ev)
{
	struct wait w = { STORE_ERROR };

	if (!cfg->audit)
		return 0;
	if (queue(st, ev, write_done, &w, 0) == -1)
		return -1;
	/* store_flush returns once done has run: w.err is this row's outcome
	 * (the flush's own is that of every record queued before it). */
	(void)store_flush(st);
	return w.err == STORE_OK ? 0 : -1;
}

int
audit_stage(struct store *st, const struct config *cfg, const struct audit_event *ev)
{
	if (!cfg->audit)
		return 1;
	return queue(st, ev, NULL, NULL, 1);
}

int
audit_prune(struct store *st, const struct config *cfg, int64_t *pruned)
{
	int64_t now = audit_now_ms();

	*pruned = 0;
	if (!cfg->audit || cfg->audit_retention <= 0)
		return 0;
	if (store_audit_prune(st, now - cfg->audit_retention * 1000, now, pruned) != STORE_OK)
		return -1;
	return 0;
}

const char *
audit_chain_name(int chain)
{
	return chain == STORE_AUDIT_CHAIN_V2 ? "v2" : chain == STORE_AUDIT_CHAIN_V1 ? "v1" :
	    "unknown";
}
