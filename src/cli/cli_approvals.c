/*
 * cli_approvals.c — gatehouse approvals list|show|approve|reject: the
 * maker-checker requests (approvals/approvals.h) on the store directly.
 *
 * Reading needs only the store (the operator of the store sees every
 * tenant). Deciding is done as a named principal, --as CLIENT_ID: an
 * existing, enabled client with the Admin role, under exactly the rules of
 * the HTTP API (not the maker; the approval's tenant or the platform
 * tenant), so that the audit trail names a real checker. An approved admin
 * change is applied by this process, with the master key.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin/critical.h"
#include "approvals/approvals.h"
#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "server/context.h"
#include "util/util.h"

/* Loads the configuration and opens the store into a context that holds
 * only those: whoever runs the CLI on the store reads as a platform viewer
 * (me). 0, or -1 after printing with nothing left open; on 0 the caller
 * closes ctx->store and clears cfg. */
static int
open_reader(const struct cli_args *a, struct config *cfg, struct gh_ctx *ctx,
    struct approval_actor *me)
{
	if (cli_load_config(a, cfg) == -1)
		return -1;
	memset(ctx, 0, sizeof(*ctx));
	ctx->cfg = cfg;
	if (cli_open_existing_store(a, &ctx->store) == -1) {
		config_clear(cfg);
		return -1;
	}
	memset(me, 0, sizeof(*me));
	snprintf(me->client_id, sizeof(me->client_id), "cli");
	snprintf(me->tenant_id, sizeof(me->tenant_id), "%s", cfg->platform_tenant);
	me->roles = STORE_ROLE_VIEWER;
	return 0;
}

static int
cmd_list(int argc, char **argv)
{
	static const struct cli_opt spec[] = {
		{ "tenant", 1, 0, "only this tenant's requests (default: every tenant)" },
		{ "state", 1, 0, "pending, approved, rejected, expired, used, applied or failed" },
		{ "limit", 1, 0, "at most this many, newest first (1-1000, default 100)" },
		{ "after", 1, 0, "the requests after this cursor (the one a previous list printed)" },
		CLI_STORE_OPTS,
	};
	struct cli_args a;
	struct config cfg;
	struct gh_ctx ctx;
	struct approval_actor me;
	struct store_approval *v = NULL;
	enum store_approval_state state = STORE_APPROVAL_STATE__MAX;
	const char *s, *why = NULL;
	char err[256], next[MANAGE_CURSOR_MAX + 1];
	int64_t limit = 100;
	size_t n = 0;
	json_t *arr;
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse approvals list [--tenant ID] [--state S] [--limit N] "
	    "[--after CURSOR]",
	    spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if ((s = cli_get(&a, "state")) != NULL && store_approval_state_from_name(s, &state) == -1)
		return cli_fail("approvals list: --state: one of pending, approved, rejected, expired, "
		    "used, applied, failed");
	if ((s = cli_get(&a, "limit")) != NULL &&
	    num_parse_i64(s, strlen(s), 1, 1000, &limit, &why) == -1)
		return cli_fail("approvals list: --limit: %s (1-1000)", why);
	if (open_reader(&a, &cfg, &ctx, &me) == -1)
		return 1;
	rc = approvals_list(&ctx, &me, cli_get(&a, "tenant") != NULL ? cli_get(&a, "tenant") : "*",
	    state, cli_get(&a, "after"), (size_t)limit, &v, &n, next, err, sizeof(err));
	if (rc != 0) {
		store_close(ctx.store);
		config_clear(&cfg);
		return cli_fail("approvals list: %s", err);
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, approvals_json(&v[i], clock_now()));
	store_approval_free(v, n);
	store_close(ctx.store);
	config_clear(&cfg);
	/* stdout stays the array; where to go on, on stderr (as token list). */
	if (next[0] != '\0')
		fprintf(stderr, "gatehouse: approvals list: more requests follow; --after %s\n", next);
	return cli_print(arr);
}

static int
cmd_show(int argc, char **argv)
{
	static const struct cli_opt spec[] = { CLI_STORE_OPTS };
	struct cli_args a;
	struct config cfg;
	struct gh_ctx ctx;
	struct approval_actor me;
	struct store_approval ap;
	char err[256];
	int rc;

	if ((rc = cli_parse(argc, argv, "gatehouse approvals show ID", spec, GH_ARRAY_LEN(spec),
	    &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("approvals show: give one approval id");
	if (open_reader(&a, &cfg, &ctx, &me) == -1)
		return 1;
	rc = approvals_get(&ctx, &me, a.pos[0], &ap, err, sizeof(err));
	store_close(ctx.store);
	config_clear(&cfg);
	if (rc != 0)
		return cli_fail("approvals show: %s", err);
	{
		json_t *o = approvals_json(&ap, clock_now());
		store_approval_clear(&ap);
		return cli_print(o);
	}
}

/* The checker named by --as: an enabled client of the store, as the
 * actor deciding. -1 after a one-line message. */
static int
checker_of(struct store *st, const char *id, const char *verb, struct approval_actor *me)
{
	struct store_client c;
	int rc = -1;

	memset(&c, 0, sizeof(c));
	if (store_client_get(st, id, &c) != STORE_OK) {
		cli_fail("approvals %s: --as: client %.128s does not exist", verb, id);
		goto out;
	}
	if (c.disabled) {
		cli_fail("approvals %s: --as: client %s is disabled", verb, c.id);
		goto out;
	}
	memset(me, 0, sizeof(*me));
	snprintf(me->client_id, sizeof(me->client_id), "%s", c.id);
	snprintf(me->tenant_id, sizeof(me->tenant_id), "%s", c.tenant_id);
	me->roles = c.roles;
	me->env = c.env;
	rc = 0;
out:
	store_client_clear(&c);
	return rc;
}

static int
decide(int argc, char **argv, int approve)
{
	static const struct cli_opt spec[] = {
		{ "as", 1, 0, "the checker: an enabled Admin client (required; not the maker)" },
		CLI_STORE_OPTS,
	};
	const char *verb = approve ? "approve" : "reject";
	char usage[96], err[512];
	struct cli_args a;
	struct config cfg;
	struct gh_ctx ctx;
	struct store *st = NULL;
	struct approval_actor me;
	struct store_approval ap;
	uint8_t master[32];
	int rc, ctx_ok = 0;

	snprintf(usage, sizeof(usage), "gatehouse approvals %s ID --as CLIENT_ID", verb);
	if ((rc = cli_parse(argc, argv, usage, spec, GH_ARRAY_LEN(spec), &a)) != 0)
		return rc < 0 ? 2 : 0;
	if (a.npos != 1)
		return cli_fail("approvals %s: give one approval id", verb);
	if (cli_get(&a, "as") == NULL)
		return cli_fail("approvals %s: --as CLIENT_ID names the Admin client deciding", verb);
	if (cli_load_config(&a, &cfg) == -1)
		return 1;
	/* The decision is a row of the trail: its key set (and a trail with
	 * no key record keyed, said on stderr) before anything is decided. */
	if (cli_open_store_audited(&a, &st, approve ? "approvals.approve" :
	    "approvals.reject") == -1) {
		config_clear(&cfg);
		return 1;
	}
	rc = 1;
	if (checker_of(st, cli_get(&a, "as"), verb, &me) == -1 ||
	    cli_master_key(&a, 0, master, NULL) == -1)
		goto out;
	/* A full context: an approved admin change is applied here. */
	if (ctx_init(&ctx, &cfg, st, master, cfg.issuer, err, sizeof(err)) == -1) {
		cli_fail("approvals %s: %s", verb, err);
		goto out;
	}
	ctx_ok = 1;
	if (admin_register_appliers() == -1) {
		cli_fail("approvals %s: cannot register the admin appliers", verb);
		goto out;
	}
	if (approvals_decide(&ctx, &me, a.pos[0], approve, &ap, err, sizeof(err)) != 0) {
		cli_fail("approvals %s: %s", verb, err);
		goto out;
	}
	rc = cli_print(approvals_json(&ap, clock_now()));
	store_approval_clear(&ap);
out:
	OPENSSL_cleanse(master, sizeof(master));
	if (ctx_ok)
		ctx_clear(&ctx);
	store_close(st);	/* flushes the audit events */
	config_clear(&cfg);
	return rc;
}

int
cmd_approvals(int argc, char **argv)
{
	static const struct {
		const char *verb;
		int (*fn)(int, char **);
		const char *help;
	} verbs[] = {
		{ "list", cmd_list, "list requests: [--tenant ID] [--state S] [--limit N] [--after CURSOR]" },
		{ "show", cmd_show, "show one request: ID" },
		{ "approve", NULL, "approve a pending request: ID --as ADMIN_CLIENT_ID" },
		{ "reject", NULL, "reject a pending request: ID --as ADMIN_CLIENT_ID" },
	};

	if (argc >= 1) {
		if (strcmp(argv[0], "approve") == 0)
			return decide(argc - 1, argv + 1, 1);
		if (strcmp(argv[0], "reject") == 0)
			return decide(argc - 1, argv + 1, 0);
		for (size_t i = 0; i < GH_ARRAY_LEN(verbs); i++)
			if (verbs[i].fn != NULL && strcmp(argv[0], verbs[i].verb) == 0)
				return verbs[i].fn(argc - 1, argv + 1);
	}
	/* Asked for (README: "gatehouse CMD --help"), the list is the answer:
	 * stdout, exit 0. Otherwise it explains a usage error. */
	int asked = argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0);
	FILE *f = asked ? stdout : stderr;

	fputs(asked ? "usage: gatehouse approvals COMMAND [options]   (gatehouse approvals COMMAND "
	    "--help for its options)\n\n" : "gatehouse: approvals needs one of:\n", f);
	for (size_t i = 0; i < GH_ARRAY_LEN(verbs); i++)
		fprintf(f, "  approvals %-8s %s\n", verbs[i].verb, verbs[i].help);
	return asked ? 0 : 2;
}
