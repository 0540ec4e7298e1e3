/* idempotency.c — see idempotency.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "admin/idempotency.h"
#include "obs/log.h"
#include "util/util.h"

/* SHA-256 over owner and "\n" (when not NULL), then "METHOD\nPATH?QUERY\n"
 * and the body, as 64 hex digits. */
static int
fingerprint(const char *owner, const struct http_request *req, char out[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	const char *m = http_method_names[req->method];
	uint8_t d[32];
	unsigned dl = 0;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    (owner == NULL || (EVP_DigestUpdate(md, owner, strlen(owner)) == 1 &&
	    EVP_DigestUpdate(md, "\n", 1) == 1)) &&
	    EVP_DigestUpdate(md, m, strlen(m)) == 1 && EVP_DigestUpdate(md, "\n", 1) == 1 &&
	    EVP_DigestUpdate(md, req->path, strlen(req->path)) == 1 &&
	    EVP_DigestUpdate(md, "?", 1) == 1 &&
	    EVP_DigestUpdate(md, req->query, strlen(req->query)) == 1 &&
	    EVP_DigestUpdate(md, "\n", 1) == 1 &&
	    EVP_DigestUpdate(md, req->body, req->body_len) == 1 &&
	    EVP_DigestFinal_ex(md, d, &dl) == 1 && dl == 32;
	EVP_MD_CTX_free(md);
	if (!ok)
		return -1;
	hex_encode(d, 32, out);
	return 0;
}

/*
 * Whether a record found under the caller's id and key is this request of
 * this caller. Records are keyed by client id, and the id of a deleted
 * client may be given again, in any tenant (README): a record is the
 * caller's only if its fingerprint names the caller as made (its tenant and
 * creation time: mine). One kept from before fingerprints named the client
 * (legacy: the request alone) counts when begun after the caller was made.
 */
static int
same_request(const struct store_idem *old, const char *mine, const char *legacy,
    const struct store_client *caller)
{
	return strcmp(old->fingerprint, mine) == 0 ||
	    (strcmp(old->fingerprint, legacy) == 0 && old->created_at >= caller->created_at);
}

static void
refuse(struct http_response *r, int status, const char *code, const char *reason, const char *desc)
{
	http_response_json(r, status, json_pack("{s:s, s:s}", "error", code, "error_description", desc));
	http_response_header(r, "Cache-Control", "no-store");
	r->reason = reason;
}

enum idem_result
idem_begin(struct store *st, const struct store_client *caller, const struct http_request *req,
    struct idem_claim *claim, struct http_response *resp)
{
	struct store_idem rec, old;
	const char *client_id = caller->id;
	char owner[128 + 64 + 24 + 3], legacy[65];
	int64_t now = clock_now();
	int rc;

	memset(claim, 0, sizeof(*claim));
	/* server.c validated the header (or answered 400 already); without
	 * one, req->request_id is our own and is no key. */
	if (http_request_header(req, "X-Request-ID", NULL) == NULL)
		return IDEM_PROCEED;
	memset(&rec, 0, sizeof(rec));
	snprintf(owner, sizeof(owner), "%.128s\n%.64s\n%lld", caller->id, caller->tenant_id,
	    (long long)caller->created_at);
	if (fingerprint(owner, req, rec.fingerprint) == -1 || fingerprint(NULL, req, legacy) == -1) {
		refuse(resp, 500, "server_error", "idempotency", "cannot hash the request");
		return IDEM_ANSWERED;
	}
	rec.client_id = (char *)client_id;
	rec.key = (char *)req->request_id;
	rec.created_at = now;
	rec.expires_at = now + IDEM_KEEP_SECONDS;
	/* A RUNNING record of this request begun IDEM_STALE_SECONDS ago never
	 * acted (its first change would have marked it ACTED): its process
	 * stopped, and this retry takes the key over and acts. An ACTED one
	 * is never taken over (below: 409). */
	rc = store_idem_begin(st, &rec, now, now - IDEM_STALE_SECONDS, &old);
	if (rc == STORE_OK) {
		snprintf(claim->client_id, sizeof(claim->client_id), "%s", client_id);
		snprintf(claim->key, sizeof(claim->key), "%s", req->request_id);
		claim->created_at = now;
		/* The call's first change marks the record ACTED, in its own
		 * transaction: a retry can then tell "never acted" from "may
		 * have acted", and this call cannot act once a retry took over. */
		if (store_idem_mark_acted(st, claim->client_id, claim->key, now) != STORE_OK) {
			log_event(LOG_ERROR, "admin.idempotency_unavailable",
			    json_pack("{s:s}", "reason", store_last_error()));
			(void)store_idem_release(st, claim->client_id, claim->key, now);
			refuse(resp, 503, "temporarily_unavailable", "store_unavailable",
			    "the idempotency record cannot be kept now; retry");
			return IDEM_ANSWERED;
		}
		claim->active = 1;
		test_fault_point("idempotency-after-claim");
		return IDEM_PROCEED;
	}
	if (rc != STORE_CONFLICT) {
		log_event(LOG_ERROR, "admin.idempotency_unavailable", json_pack("{s:s}", "reason", store_last_error()));
		refuse(resp, 503, "temporarily_unavailable", "store_unavailable",
		    "the idempotency record cannot be read or written now; retry");
		return IDEM_ANSWERED;
	}
	if (!same_request(&old, rec.fingerprint, legacy, caller))
		refuse(resp, 422, "invalid_request", "idempotency_mismatch",
		    "X-Request-ID was already used for a different request (method, path or body); "
		    "use a new X-Request-ID for a new request");
	else if (old.state != STORE_IDEM_DONE && old.created_at < now - IDEM_STALE_SECONDS)
		refuse(resp, 409, "invalid_request", "idempotency_unknown",
		    "a request with this X-Request-ID began long ago and its answer was never "
		    "recorded (the server stopped while it ran): it may have taken effect; check, "
		    "then repeat it with a new X-Request-ID if it did not");
	else if (old.state != STORE_IDEM_DONE)
		refuse(resp, 409, "invalid_request", "idempotency_running",
		    "a request with this X-Request-ID is still running; retry later for its answer");
	else {
		free(resp->body);
		resp->status = old.status;
		resp->content_type = "application/json";
		resp->body = old.body;
		resp->body_len = strlen(old.body);
		old.body = NULL;
		resp->reason = old.status >= 400 ? "idempotent_replay" : NULL;
		http_response_header(resp, "Idempotent-Replayed", "true");
		http_response_header(resp, "Cache-Control", "no-store");
	}
	store_idem_clear(&old);
	return IDEM_ANSWERED;
}

void
idem_finish(struct store *st, struct idem_claim *claim, const struct http_response *resp)
{
	json_t *o;
	char *kept = NULL;
	int rc, acted;

	if (!claim->active)
		return;
	claim->active = 0;
	/* Ended first: recording the answer is not the call's change. */
	acted = store_idem_unmark(st);
	test_fault_point("idempotency-before-finish");
	/* A call that changed the store and then failed (a client made, its
	 * read back failing) must not be run again by its retry: its record
	 * stays ACTED, as after a crash past the change (409). */
	if ((resp->status >= 500 || resp->status == 0) && acted) {
		log_event(LOG_WARN, "admin.idempotency_acted_failed", json_pack("{s:i}",
		    "status", resp->status));
		return;
	}
	if (resp->status >= 500 || resp->status == 0) {
		if (store_idem_release(st, claim->client_id, claim->key, claim->created_at) != STORE_OK)
			log_event(LOG_WARN, "admin.idempotency_release_failed",
			    json_pack("{s:s}", "reason", store_last_error()));
		return;
	}
	/* A secret is shown once: the kept copy says it was left out. */
	o = resp->body != NULL ? json_loadb(resp->body, resp->body_len, 0, NULL) : NULL;
	if (json_is_object(o) && json_object_get(o, "client_secret") != NULL) {
		json_object_del(o, "client_secret");
		json_object_set_new(o, "client_secret_omitted", json_true());
		kept = json_dumps(o, JSON_COMPACT);
	}
	json_decref(o);
	rc = store_idem_finish(st, claim->client_id, claim->key, claim->created_at, resp->status,
	    kept != NULL ? kept : (resp->body != NULL ? resp->body : ""));
	free(kept);
	if (rc != STORE_OK)
		log_event(LOG_WARN, "admin.idempotency_finish_failed", json_pack("{s:s}", "reason", store_last_error()));
}
