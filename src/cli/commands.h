/* commands.h — one function per subcommand, grouped by file in src/cli/. */
#ifndef GH_COMMANDS_H
#define GH_COMMANDS_H

int	cmd_serve(int argc, char **argv);		/* cli_serve.c */
int	cmd_tenant_create(int argc, char **argv);	/* cli_tenant.c */
int	cmd_tenant_list(int argc, char **argv);
int	cmd_client_create(int argc, char **argv);	/* cli_client.c */
int	cmd_client_list(int argc, char **argv);
int	cmd_client_show(int argc, char **argv);
int	cmd_client_disable(int argc, char **argv);
int	cmd_client_enable(int argc, char **argv);
int	cmd_client_rotate_secret(int argc, char **argv);
int	cmd_client_revoke_secret(int argc, char **argv);
int	cmd_client_revoke_tokens(int argc, char **argv);
int	cmd_token_list(int argc, char **argv);		/* cli_token.c */
int	cmd_token_revoke(int argc, char **argv);
int	cmd_token_get(int argc, char **argv);
int	cmd_token_inspect(int argc, char **argv);	/* cli_token_inspect.c */
int	cmd_keys_list(int argc, char **argv);		/* cli_keys.c */
int	cmd_keys_rotate(int argc, char **argv);
int	cmd_keys_revoke(int argc, char **argv);
int	cmd_lock_list(int argc, char **argv);		/* cli_lock.c */
int	cmd_lock_clear(int argc, char **argv);
int	cmd_audit_verify(int argc, char **argv);	/* cli_audit.c */
int	cmd_audit_list(int argc, char **argv);
int	cmd_audit_prune(int argc, char **argv);

int	cmd_policy_check(int argc, char **argv);	/* cli_policy.c */
int	cmd_approvals(int argc, char **argv);		/* cli_approvals.c */
int	cmd_migrate(int argc, char **argv);		/* cli_store.c */
int	cmd_store_copy(int argc, char **argv);
#endif
