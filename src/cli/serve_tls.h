/*
 * serve_tls.h — private to serve (cli_serve.c): the TLS certificate and
 * key it serves, read from tls_cert and tls_key at start and again on
 * SIGHUP.
 */
#ifndef GH_CLI_SERVE_TLS_H
#define GH_CLI_SERVE_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

/* What the logs say of a certificate: its subject and when it expires;
 * nothing of its key. */
struct serve_cert {
	char	 subject[256];	/* RFC 2253 */
	char	 not_after[32];	/* ISO 8601 UTC */
	int64_t	 expires_at;	/* Unix time; 0: unknown */
};

/*
 * Reads cfg->tls_cert (the leaf, then its intermediates) and cfg->tls_key:
 * each a regular file of at most 64 KB (a FIFO is refused, not waited
 * on), the key unreadable by group and others and without a passphrase,
 * the key the certificate's. 0 with *cert and *key (malloc'd PEM text;
 * the caller wipes the key's before freeing it) and *desc filled; -1 with
 * the reason in err and nothing allocated.
 */
int	serve_tls_read(const struct config *cfg, char **cert, char **key,
	    struct serve_cert *desc, char *err, size_t errlen);

/* Sets gatehouse_tls_certificate_expiry_timestamp_seconds to desc's end
 * (declared by serve): short-lived certificates are renewed and reloaded,
 * and an operator alerts on one that was not. */
void	serve_tls_metric(const struct serve_cert *desc);

#endif
