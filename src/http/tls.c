/* tls.c — see tls.h. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/tls.h"

/* Certificates a chain may hold: a leaf and a few intermediates, with
 * room to spare; a longer one is refused rather than cut short. */
#define TLS_MAX_CHAIN	16

struct tls_pair {
	_Atomic unsigned	 refs;
	unsigned		 n;
	gnutls_pcert_st		 pcert[TLS_MAX_CHAIN];
	gnutls_privkey_t	 key;
};

struct tls_certs {
	pthread_mutex_t		 mu;	/* over cur: a swap and a take */
	struct tls_pair		*cur;	/* holds a reference of its own */
};

static void
pair_free(struct tls_pair *p)
{
	for (unsigned i = 0; i < p->n; i++)
		gnutls_pcert_deinit(&p->pcert[i]);
	if (p->key != NULL)
		gnutls_privkey_deinit(p->key);	/* GnuTLS wipes its key material */
	free(p);
}

/* A pair with one reference, or NULL with the reason in err. */
static struct tls_pair *
pair_load(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	gnutls_datum_t cert = { (unsigned char *)(uintptr_t)cert_pem, (unsigned)strlen(cert_pem) };
	gnutls_datum_t key = { (unsigned char *)(uintptr_t)key_pem, (unsigned)strlen(key_pem) };
	struct tls_pair *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->n = TLS_MAX_CHAIN;
	if ((rc = gnutls_pcert_list_import_x509_raw(p->pcert, &p->n, &cert, GNUTLS_X509_FMT_PEM,
	    0)) < 0) {
		p->n = 0;
		snprintf(err, errlen, "the certificate chain: %s", gnutls_strerror(rc));
		goto fail;
	}
	if ((rc = gnutls_privkey_init(&p->key)) < 0 ||
	    (rc = gnutls_privkey_import_x509_raw(p->key, &key, GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		snprintf(err, errlen, "the key: %s", gnutls_strerror(rc));
		goto fail;
	}
	atomic_init(&p->refs, 1);
	return p;
fail:
	pair_free(p);
	return NULL;
}

void
tls_release(struct tls_pair *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		pair_free(p);
}

struct tls_certs *
tls_certs_new(const char *cert_pem, const char *key_pem, char *err, size_t errlen)
{
	struct tls_certs *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((c->cur = pair_load(cert_pem, key_pem, err, errlen)) == NULL) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->mu, NULL);
	return c;
}

int
tls_certs_replace(struct tls_certs *c, const char *cert_pem, const char *key_pem, char *err,
    size_t errlen)
{
	struct tls_pair *p, *old;

	if ((p = pair_load(cert_pem, key_pem, err, errlen)) == NULL)
		return -1;
	pthread_mutex_lock(&c->mu);
	old = c->cur;
	c->cur = p;
	pthread_mutex_unlock(&c->mu);
	tls_release(old);	/* freed here unless a connection still holds it */
	return 0;
}

void
tls_certs_free(struct tls_certs *c)
{
	if (c == NULL)
		return;
	tls_release(c->cur);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/*
 * The pair rides in the session's database pointer: libmicrohttpd keeps
 * the session's own pointer (gnutls_session_set_ptr) for itself, and
 * neither it nor we set GnuTLS's session database functions, the only
 * user of this one.
 */
struct tls_pair *
tls_hold(struct tls_certs *c, gnutls_session_t session)
{
	struct tls_pair *p;

	pthread_mutex_lock(&c->mu);
	p = c->cur;
	atomic_fetch_add(&p->refs, 1);
	pthread_mutex_unlock(&c->mu);
	gnutls_db_set_ptr(session, p);
	return p;
}

int
tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
    const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length, gnutls_pcert_st **pcert,
    unsigned int *pcert_length, gnutls_privkey_t *privkey)
{
	struct tls_pair *p = gnutls_db_get_ptr(session);

	(void)req_ca_rdn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;
	if (p == NULL)
		return -1;
	*pcert = p->pcert;
	*pcert_length = p->n;
	*privkey = p->key;
	return 0;
}
