/*
 * tls.h — private to src/http: the certificate chain and key the server's
 * TLS handshakes present, which a reload (SIGHUP) may replace while the
 * server runs.
 *
 * Why not libmicrohttpd's MHD_OPTION_HTTPS_MEM_CERT/KEY: those are read
 * once, when a daemon starts, and a renewed certificate (ACME's 90 days,
 * an internal CA's few) then needed a restart. Here each daemon is given
 * tls_retrieve (MHD_OPTION_HTTPS_CERT_CALLBACK, GnuTLS's retrieve
 * function) and each connection, as it opens, a reference on the pair
 * current then (tls_hold): its handshake presents that pair however late
 * it runs, and a pair replaced is freed when the last connection holding
 * it has closed, never under a handshake.
 *
 * tls_certs_replace runs on any thread; tls_hold and tls_release on the
 * daemons' loops (or the thread stopping the server).
 */
#ifndef GH_HTTP_TLS_H
#define GH_HTTP_TLS_H

#include <stddef.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

struct tls_certs;		/* the current pair */
struct tls_pair;		/* one chain and its key, reference counted */

/* The pair from PEM text: cert_pem holds the leaf then its intermediates,
 * key_pem its unencrypted key; the caller has checked that the key is the
 * leaf's (cli_serve's tls_pair_check). NULL with the reason in err when
 * GnuTLS cannot take either. The PEM text is not kept. */
struct tls_certs	*tls_certs_new(const char *cert_pem, const char *key_pem,
			    char *err, size_t errlen);

/* Makes the pair from cert_pem and key_pem the one new connections get;
 * connections already open keep theirs. 0, or -1 with the reason in err
 * and the current pair left in service. */
int			 tls_certs_replace(struct tls_certs *, const char *cert_pem,
			    const char *key_pem, char *err, size_t errlen);

/* Frees the certs once no connection holds a pair (the daemons stopped).
 * NULL is a no-op. */
void			 tls_certs_free(struct tls_certs *);

/* Gives the connection whose TLS session is session a reference on the
 * current pair, which its handshake will present. Returns the reference,
 * for tls_release when the connection closes. */
struct tls_pair		*tls_hold(struct tls_certs *, gnutls_session_t session);

/* Drops a reference of tls_hold. NULL is a no-op. */
void			 tls_release(struct tls_pair *);

/* GnuTLS's gnutls_certificate_retrieve_function2: the pair tls_hold gave
 * the session; a session given none fails its handshake. */
int			 tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn,
			    int nreqs, const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			    gnutls_pcert_st **pcert, unsigned int *pcert_length,
			    gnutls_privkey_t *privkey);

#endif
