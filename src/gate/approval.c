/*
 * approval.c — the gate's check of a critical route (policy `critical`):
 * the call passes only with X-Approval-ID naming an approved, unexpired,
 * unused "call" approval of the caller's tenant for this method, path and
 * query (the query byte for byte), and the check consumes it
 * (approvals_consume: one guarded update, so of two concurrent uses exactly
 * one passes). Never cached: the token cache holds who the caller is, not
 * this.
 *
 * The body digest: an approval filed with body_digest binds the body. The
 * gate learns the body's digest from X-Original-Body-Digest
 * ("sha256:<hex>"), or, for a direct POST /gate carrying the original body,
 * hashes that body; both given and different is refused as ambiguous.
 * nginx's auth_request subrequest carries no body, so behind nginx the
 * caller sends the digest and nginx forwards it (see docs/policy.md). The
 * gate's 200 then names the approval and the digest it binds
 * (X-Gatehouse-Approval, X-Gatehouse-Body-Digest), which nginx sets on the
 * call to the upstream, replacing anything the caller sent: the upstream
 * must check that the body it receives hashes to it, since the digest came
 * from the caller.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "approvals/approvals.h"
#include "gate/internal.h"
#include "server/context.h"
#include "util/util.h"

int
gate_approval_check(struct gh_ctx *ctx, const struct http_request *req,
    const struct gate_principal *p, const char *method, const char *path,
    char bound[APPROVALS_DIGEST_MAX], struct gate_refusal *r)
{
	struct approval_actor caller;
	const char *id, *hdr, *uri;
	char body_digest[72], err[256], addr[46];
	size_t n = 0, nh = 0;
	int https = 0, rc;

	id = http_request_header(req, "X-Approval-ID", &n);
	if (n > 1)
		return gate_refuse(r, 400, "invalid_request", "approval_header",
		    "the X-Approval-ID header is repeated");
	if (id == NULL)
		return gate_refuse(r, 403, "access_denied", "approval_required",
		    "this route is critical: it needs X-Approval-ID naming an approved "
		    "maker-checker request for this call");
	if (!approvals_id_ok(id))
		return gate_refuse(r, 400, "invalid_request", "approval_header",
		    "X-Approval-ID must be %d lower-case hex digits", APPROVAL_ID_LEN);
	hdr = http_request_header(req, "X-Original-Body-Digest", &nh);
	if (nh > 1)
		return gate_refuse(r, 400, "invalid_request", "body_digest",
		    "the X-Original-Body-Digest header is repeated");
	body_digest[0] = '\0';
	if (req->body_len > 0) {
		uint8_t md[32];
		char hex[65];

		if (EVP_Digest(req->body, req->body_len, md, NULL, EVP_sha256(), NULL) != 1)
			return gate_refuse(r, 500, "server_error", "digest",
			    "cannot hash the request body");
		hex_encode(md, sizeof(md), hex);
		snprintf(body_digest, sizeof(body_digest), "sha256:%s", hex);
		if (hdr != NULL && strcasecmp(hdr, body_digest) != 0)
			return gate_refuse(r, 400, "invalid_request", "body_digest",
			    "X-Original-Body-Digest does not match the body sent to the gate");
	} else if (hdr != NULL) {
		/* Too long for a digest: refused whole, never cut to the length
		 * of one (a good digest and junk read as the good digest). */
		if (strlen(hdr) >= sizeof(body_digest))
			return gate_refuse(r, 400, "invalid_request", "body_digest",
			    "X-Original-Body-Digest must be 'sha256:' and 64 hex digits");
		snprintf(body_digest, sizeof(body_digest), "%s", hdr);
	}
	(void)ctx_client_address(ctx, req, addr, &https);	/* checked by the gate before */
	approvals_origin(req->request_id, addr);
	memset(&caller, 0, sizeof(caller));
	snprintf(caller.client_id, sizeof(caller.client_id), "%s", p->client_id);
	snprintf(caller.tenant_id, sizeof(caller.tenant_id), "%s", p->tenant_id);
	caller.roles = p->roles;
	/* The approval binds the query too: what follows the path in
	 * X-Original-URI (present once: original_call checked), raw, is
	 * compared byte for byte ("" when there is none). */
	uri = http_request_header(req, "X-Original-URI", NULL);
	rc = approvals_consume(ctx, id, &caller, method, path,
	    uri != NULL ? uri + strcspn(uri, "?#") : "",
	    body_digest[0] != '\0' ? body_digest : NULL, bound, err, sizeof(err));
	approvals_origin(NULL, NULL);
	switch (rc) {
	case 0:
		return 0;
	case 400:
		return gate_refuse(r, 400, "invalid_request", "approval_invalid", "%s", err);
	case 503:
		return gate_refuse(r, 503, "temporarily_unavailable", "store", "%s", err);
	case 500:
		return gate_refuse(r, 500, "server_error", "approval_error", "%s", err);
	default:
		/* 403 mismatch, 404 unknown (or another tenant's), 409 not
		 * approved, expired or used: the call is not approved. */
		return gate_refuse(r, 403, "access_denied", "approval_invalid", "%s", err);
	}
}
