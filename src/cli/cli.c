/* cli.c — the subcommand table (STYLE 4) and dispatch. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "obs/log.h"
#include "util/json_alloc.h"
#include "util/util.h"

static const struct command {
	const char	*group;
	const char	*verb;		/* NULL: the group is the command */
	int		(*fn)(int argc, char **argv);
	const char	*help;
} commands[] = {
	{ "serve", NULL, cmd_serve, "serve the token endpoints, JWKS, metadata and metrics" },
	{ "tenant", "create", cmd_tenant_create, "create a tenant: --id ID [--name NAME]" },
	{ "tenant", "list", cmd_tenant_list, "list tenants" },
	{ "client", "create", cmd_client_create, "create a client and print its secret once" },
	{ "client", "list", cmd_client_list, "list clients [--tenant ID]" },
	{ "client", "show", cmd_client_show, "show a client and its secrets' dates: ID" },
	{ "client", "disable", cmd_client_disable, "disable a client: ID" },
	{ "client", "enable", cmd_client_enable, "enable a client: ID" },
	{ "client", "rotate-secret", cmd_client_rotate_secret, "new secret; the old one works for --grace (7d)" },
	{ "client", "revoke-secret", cmd_client_revoke_secret, "end one secret now: ID --secret N [--revoke-tokens]" },
	{ "client", "revoke-tokens", cmd_client_revoke_tokens, "void every token the client holds: ID" },
	{ "token", "list", cmd_token_list, "list a client's tokens: --client ID [--limit N] [--after CURSOR]" },
	{ "token", "revoke", cmd_token_revoke, "revoke tokens: --name NAME [--client ID] | --id ID" },
	{ "token", "get", cmd_token_get, "fetch a token from a token endpoint (client library)" },
	{ "token", "inspect", cmd_token_inspect, "decode a JWT; with --jwks URL verify it: TOKEN|-" },
	{ "keys", "list", cmd_keys_list, "list signing keys with their state and dates" },
	{ "keys", "rotate", cmd_keys_rotate, "publish a new key that signs after --lead (10m)" },
	{ "keys", "revoke", cmd_keys_revoke, "remove a key from the JWKS now; a waiting successor signs: KID" },
	{ "policy", "check", cmd_policy_check, "read a gate policy file as serve would; --call \"METHOD /path\" shows its rule" },
	{ "lock", "list", cmd_lock_list, "list the lockout locks in force" },
	{ "lock", "clear", cmd_lock_clear, "end locks: [--address A] [--client ID] | --all" },
	{ "approvals", NULL, cmd_approvals, "maker-checker requests: list | show ID | approve|reject ID --as ADMIN_CLIENT" },
	{ "audit", "verify", cmd_audit_verify, "check the audit trail's chain with the master key; names the first broken seq" },
	{ "audit", "list", cmd_audit_list, "audit events, newest first: [--tenant T] [--client C] [--action A] [--since] [--until] [--limit]" },
	{ "migrate", NULL, cmd_migrate, "apply the store's schema migrations now (nodes also do at start)" },
	{ "store", "copy", cmd_store_copy, "copy every row: --from sqlite:PATH --to postgresql://... (empty)" },
	{ "audit", "prune", cmd_audit_prune, "drop token events older than audit_retention (or --older-than), keeping a checkpoint" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: gatehouse COMMAND [options]   (gatehouse COMMAND --help for its options)\n\n");
	for (size_t i = 0; i < GH_ARRAY_LEN(commands); i++) {
		char name[48];
		snprintf(name, sizeof(name), "%s%s%s", commands[i].group,
		    commands[i].verb ? " " : "", commands[i].verb ? commands[i].verb : "");
		fprintf(f, "  %-16s %s\n", name, commands[i].help);
	}
	fprintf(f, "\nEvery command on the store takes --db URL (or GATEHOUSE_DB) and --master-key FILE\n"
	    "(or GATEHOUSE_MASTER_KEY); defaults: sqlite:var/gatehouse.db, var/master.key.\n"
	    "token get, token inspect and policy check read no store; store copy names its\n"
	    "two with --from and --to.\n");
}

int
cli_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* A command's answer is its JSON on stdout and, on an error, one line
	 * on stderr (README): the info events the code it shares with serve
	 * logs (approval.approve, ...) are the server's log, and the trail
	 * records the command's action. Warnings and errors still show.
	 * serve sets its own level. */
	log_setup(LOG_WARN, 2);
	json_alloc_watch();
	for (size_t i = 0; i < GH_ARRAY_LEN(commands); i++) {
		const struct command *c = &commands[i];
		if (strcmp(c->group, argv[1]) != 0)
			continue;
		if (c->verb == NULL)
			return c->fn(argc - 2, argv + 2);
		if (argc >= 3 && strcmp(c->verb, argv[2]) == 0)
			return c->fn(argc - 3, argv + 3);
	}
	for (size_t i = 0; i < GH_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i].group, argv[1]) == 0) {
			/* "gatehouse GROUP --help" (README: "gatehouse CMD --help")
			 * asks for the group's commands: stdout, exit 0. Anything
			 * else is a usage error. */
			int asked = argc >= 3 && (strcmp(argv[2], "--help") == 0 ||
			    strcmp(argv[2], "-h") == 0);

			if (asked) {
				printf("usage: gatehouse %s COMMAND [options]   (gatehouse %s COMMAND --help "
				    "for its options)\n\n", argv[1], argv[1]);
				for (size_t k = 0; k < GH_ARRAY_LEN(commands); k++)
					if (strcmp(commands[k].group, argv[1]) == 0)
						printf("  %s %-14s %s\n", argv[1], commands[k].verb,
						    commands[k].help);
				return 0;
			}
			fprintf(stderr, "gatehouse: %s needs one of:", argv[1]);
			for (size_t k = 0; k < GH_ARRAY_LEN(commands); k++)
				if (strcmp(commands[k].group, argv[1]) == 0)
					fprintf(stderr, " %s", commands[k].verb);
			fputc('\n', stderr);
			return 2;
		}
	fprintf(stderr, "gatehouse: unknown command \"%.40s\" (see gatehouse --help)\n", argv[1]);
	return 2;
}
