/*
 * serve_bootstrap.c — serve's first run (see serve_bootstrap.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "audit/audit.h"
#include "cli/serve_bootstrap.h"
#include "manage/manage.h"
#include "security/secret.h"
#include "server/context.h"
#include "util/util.h"

/*
 * The first run's own changes in the audit trail, durable before the
 * secret is shown: an Admin client must not exist with no row saying who
 * made it. bootstrap_stage stages the row before the change, whose
 * transaction then commits it (audit.h audit_stage); bootstrap_audit,
 * after the change, writes it on its own only when it did not go in (a
 * stage that failed), and says on stderr when it cannot (the change is
 * made by then). After a failed change: store_audit_unstage.
 */
static void
bootstrap_event(struct audit_event *ev, const char *action, const char *target)
{
	memset(ev, 0, sizeof(*ev));
	ev->actor = "gatehouse";
	ev->tenant = "platform";
	ev->action = action;
	ev->target = target;
	ev->outcome = "ok";
	ev->detail = "first run";
}

static void
bootstrap_stage(struct gh_ctx *ctx, const struct config *cfg, const char *action,
    const char *target)
{
	struct audit_event ev;

	bootstrap_event(&ev, action, target);
	(void)audit_stage(ctx->store, cfg, &ev);	/* logs its own failure */
}

static void
bootstrap_audit(struct gh_ctx *ctx, const struct config *cfg, const char *action,
    const char *target)
{
	struct audit_event ev;

	if (store_audit_unstage(ctx->store))
		return;
	bootstrap_event(&ev, action, target);
	if (audit_write(ctx->store, cfg, &ev) == -1)
		fprintf(stderr, "gatehouse: bootstrap: %s %s: done, but the audit trail could not "
		    "record it\n", action, target);
}

/* Whether the bootstrap's tenant is in the store. */
static int
platform_made(struct store *st)
{
	struct store_tenant t;

	memset(&t, 0, sizeof(t));
	if (store_tenant_get(st, "platform", &t) != STORE_OK)
		return 0;
	store_tenant_clear(&t);
	return 1;
}

/* How long after the platform tenant was made another node may still be
 * in its first run, between the tenant and the admin client (ms apart). */
#define BOOTSTRAP_SETTLE_S	10

/* Whether the store has no client at all (0 also when it cannot say). */
static int
no_client(struct store *st)
{
	struct store_client_page pg = { NULL, 0, NULL, 1 };
	struct store_client *cs = NULL;
	size_t nc = 0;

	if (store_client_list_page(st, &pg, &cs, &nc) != STORE_OK)
		return 0;
	store_client_free(cs, nc);
	return nc == 0;
}

/*
 * Whether the first run ended between its two commits (a crash, a kill
 * after the tenant, before the admin client): the store's only tenant is
 * the platform's and it has no client at all. The start after it makes
 * the admin client: else the store stays without one, and nothing says so.
 * A tenant made less than BOOTSTRAP_SETTLE_S ago may be another node's
 * first run under way: asked again once that has passed, so that the two
 * do not make two admin clients.
 */
static int
first_run_interrupted(struct store *st, const struct store_tenant *ts, size_t n)
{
	int64_t wait;

	if (n != 1 || strcmp(ts[0].id, "platform") != 0 || !no_client(st))
		return 0;
	/* At most the settling time, however the wall clock was set (a
	 * clock behind the tenant's would otherwise wait for it). */
	wait = ts[0].created_at + BOOTSTRAP_SETTLE_S - clock_now();
	if (wait > 0)
		nanosleep(&(struct timespec){ wait < BOOTSTRAP_SETTLE_S ? (time_t)wait :
		    BOOTSTRAP_SETTLE_S, 0 }, NULL);
	return no_client(st);
}

int
serve_bootstrap(struct gh_ctx *ctx, const struct config *cfg, const char *base)
{
	struct store_tenant *ts = NULL;
	struct store_client c;
	struct client_spec s;
	char secret[SECRET_TEXT_LEN + 1], err[512], *token_url = NULL, id[37];
	size_t n = 0;
	int rc = -1, finish;

	if (store_tenant_list(ctx->store, &ts, &n) != STORE_OK) {
		fprintf(stderr, "gatehouse: store: %s\n", store_last_error());
		return -1;
	}
	finish = first_run_interrupted(ctx->store, ts, n);
	store_tenant_free(ts, n);
	if (n > 0 && !finish)
		return 0;
	/* Joined as the metadata joins it (an issuer may end in '/'), and
	 * before the client is made, whose secret is shown only below. */
	if ((token_url = str_url_join(base, "/oauth/token")) == NULL) {
		fprintf(stderr, "gatehouse: bootstrap: out of memory\n");
		return -1;
	}
	if (finish)
		fprintf(stderr, "gatehouse: bootstrap: the first run ended before it made the admin "
		    "client: making it now\n");
	else {
		bootstrap_stage(ctx, cfg, "tenant.create", "platform");
		if (manage_tenant_create(ctx->store, "platform", "Platform operator", NULL, err,
		    sizeof(err)) == -1) {
			(void)store_audit_unstage(ctx->store);
			/* Another node starting on the same fresh store made it
			 * since the list above: that node makes the admin client
			 * and shows its secret; this one serves. */
			if (platform_made(ctx->store))
				rc = 0;
			else
				fprintf(stderr, "gatehouse: bootstrap: %s\n", err);
			goto out;
		}
		bootstrap_audit(ctx, cfg, "tenant.create", "platform");
	}
	test_fault_point("bootstrap-after-tenant");
	memset(&s, 0, sizeof(s));
	s.tenant = "platform";
	s.name = "bootstrap admin";
	s.env = "production";
	s.roles = "admin,operator,viewer";
	s.scopes = "admin";
	s.allow_ips[s.nallow++] = "127.0.0.0/8 ::1";
	/* The id made here, so that the row staged before the change names it. */
	if (uuid_v4(id) == -1) {
		fprintf(stderr, "gatehouse: bootstrap: no randomness\n");
		goto out;
	}
	s.id = id;
	bootstrap_stage(ctx, cfg, "client.create", id);
	if (manage_client_create(ctx->store, ctx->secret_key, cfg, &s, &c, secret, err, sizeof(err)) == -1) {
		(void)store_audit_unstage(ctx->store);
		fprintf(stderr, "gatehouse: bootstrap: %s\n", err);
		goto out;
	}
	bootstrap_audit(ctx, cfg, "client.create", c.id);
	printf("\ngatehouse: first run. Created tenant \"platform\" and an admin client.\n"
	    "  client_id:     %s\n"
	    "  client_secret: %s\n"
	    "  (the secret is shown only now: keep it in your secret store)\n\n"
	    "Get a token:\n"
	    "  curl -s -u '%s:%s' -d grant_type=client_credentials %s\n\n",
	    c.id, secret, c.id, secret, token_url);
	fflush(stdout);
	OPENSSL_cleanse(secret, sizeof(secret));
	store_client_clear(&c);
	rc = 0;
out:
	free(token_url);
	return rc;
}
