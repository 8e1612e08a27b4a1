/*
 * clientcert.h - stations' client certificates (mutual TLS): how nrfca
 * names them and how it checks them.
 *
 * A client certificate is named by the SHA-256 of its DER and by its
 * subject in RFC 2253 form, exactly as `openssl x509 -noout -subject
 * -nameopt RFC2253` prints it ("CN=line-3,O=Example").  A credential is
 * bound to either (nrfca-admin token bind); a certificate bound to no
 * credential identifies nobody.
 *
 * The verifier holds the stations' CA (tls.client_ca) and an optional CRL
 * for it (tls.client_crl, PEM or DER, signed by that CA).  It checks a
 * presented chain itself (libmicrohttpd only requests the certificate):
 * issued by the CA, valid now, not revoked by the CRL.  clientcert_reload
 * re-reads both files (on SIGHUP); a failed reload keeps the previous ones.
 * Thread-safe.
 */
#ifndef NRFCA_CLIENTCERT_H
#define NRFCA_CLIENTCERT_H

#include <stddef.h>

#include <gnutls/gnutls.h>

#include "error.h"
#include "ledger.h"

#define CLIENTCERT_FILE_MAX (4 * 1024 * 1024) /* bytes of the CA or CRL file */

struct clientcert_id {
	unsigned char sha256[32];                      /* of the certificate's DER */
	char subject[LEDGER_CERT_SUBJECT_MAX + 1];     /* RFC 2253 */
};

/* Name a certificate (DER).  NRFCA_E_INPUT when it does not parse or its
 * subject is longer than LEDGER_CERT_SUBJECT_MAX. */
int clientcert_id_from_der(const unsigned char *der, size_t len, struct clientcert_id *out,
			   struct nrfca_err *err);
/* The same from a file holding one certificate, PEM or DER. */
int clientcert_id_from_file(const char *path, struct clientcert_id *out, struct nrfca_err *err);
/* An operator's subject ("CN=line-3, O=Example", most specific first, as
 * RFC 2253 writes it) in the canonical form above.  NRFCA_E_INPUT with the
 * reason when it is not a distinguished name. */
int clientcert_subject_canonical(const char *text, char *out, size_t outlen,
				 struct nrfca_err *err);

struct clientcert_verifier;

/* ca_path required, crl_path may be NULL.  NRFCA_E_CONFIG naming the file
 * when a file is missing, too large, not a certificate / CRL, or the CRL is
 * not signed by the CA.  A CRL past its nextUpdate is accepted and logged. */
int clientcert_verifier_open(const char *ca_path, const char *crl_path,
			     struct clientcert_verifier **out, struct nrfca_err *err);
int clientcert_verifier_reload(struct clientcert_verifier *v, struct nrfca_err *err);
void clientcert_verifier_free(struct clientcert_verifier *v);

/* Verify a peer chain (DER certificates, leaf first) as libmicrohttpd's
 * GnuTLS session gives it: 0 valid (id names the leaf), -1 with `why`
 * saying what is wrong (revoked, expired, unknown issuer ...). */
int clientcert_verify(struct clientcert_verifier *v, const gnutls_datum_t *chain, unsigned n,
		      struct clientcert_id *id, char *why, size_t whylen);

#endif
