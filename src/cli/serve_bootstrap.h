/*
 * serve_bootstrap.h — private to serve (cli_serve.c): the first run.
 */
#ifndef GH_CLI_SERVE_BOOTSTRAP_H
#define GH_CLI_SERVE_BOOTSTRAP_H

#include "config/config.h"

struct gh_ctx;

/*
 * On a store with no tenant, makes the platform tenant and its admin
 * client, each with its audit row in its own transaction, and shows the
 * client's secret once on stdout with a curl command for a token at base.
 * A first run that ended between the two (a crash after the tenant) is
 * finished: the admin client is made then. Another node's first run under
 * way on the same store is left to it. 0, or -1 with the reason on stderr.
 */
int	serve_bootstrap(struct gh_ctx *, const struct config *, const char *base);

#endif
