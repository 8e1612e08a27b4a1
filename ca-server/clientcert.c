#define _GNU_SOURCE
#include "clientcert.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/x509.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "ceremony.h"
#include "fileutil.h"
#include "log.h"

#define CERT_FILE_MAX (64 * 1024)

/* ---- naming ---- */

static int name_rfc2253(const X509_NAME *name, char *out, size_t outlen, struct nrfca_err *err)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *mem;
	long n;
	int rc = -1;

	if (b == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
		nrfca_err_ssl(err, NRFCA_E_INPUT, "the subject cannot be printed");
		goto out;
	}
	n = BIO_get_mem_data(b, &mem);
	if (n <= 0) {
		nrfca_err_set(err, NRFCA_E_INPUT, "the subject is empty");
		goto out;
	}
	if ((size_t)n >= outlen) {
		nrfca_err_set(err, NRFCA_E_INPUT, "the subject is longer than %zu characters",
			      outlen - 1);
		goto out;
	}
	memcpy(out, mem, (size_t)n);
	out[n] = '\0';
	rc = 0;
out:
	BIO_free(b);
	return rc;
}

int clientcert_id_from_der(const unsigned char *der, size_t len, struct clientcert_id *out,
			   struct nrfca_err *err)
{
	const unsigned char *p = der;
	X509 *x;
	int rc;

	if (len == 0 || len > CERT_FILE_MAX)
		return nrfca_err_set(err, NRFCA_E_INPUT, "the certificate is %zu bytes", len);
	x = d2i_X509(NULL, &p, (long)len);
	if (x == NULL || p != der + len) {
		X509_free(x);
		return nrfca_err_ssl(err, NRFCA_E_INPUT, "not a DER X.509 certificate");
	}
	rc = name_rfc2253(X509_get_subject_name(x), out->subject, sizeof(out->subject), err);
	X509_free(x);
	if (rc != 0)
		return -1;
	if (EVP_Digest(der, len, out->sha256, NULL, EVP_sha256(), NULL) != 1)
		return nrfca_err_ssl(err, NRFCA_E_CRYPTO, "SHA-256 failed");
	return 0;
}

int clientcert_id_from_file(const char *path, struct clientcert_id *out, struct nrfca_err *err)
{
	unsigned char *der = NULL;
	char *buf = NULL;
	size_t len = 0;
	int n, rc = -1;

	if (nrfca_read_file(path, CERT_FILE_MAX, &buf, &len, err) != 0)
		return -1;
	if (len >= 10 && memmem(buf, len, "-----BEGIN", 10) != NULL) {
		BIO *b = BIO_new_mem_buf(buf, (int)len);
		X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;

		BIO_free(b);
		if (x == NULL) {
			nrfca_err_ssl(err, NRFCA_E_INPUT, "%s holds no PEM certificate", path);
			goto out;
		}
		n = i2d_X509(x, &der);
		X509_free(x);
		if (n <= 0) {
			nrfca_err_ssl(err, NRFCA_E_INPUT, "%s: cannot encode the certificate", path);
			goto out;
		}
		rc = clientcert_id_from_der(der, (size_t)n, out, err);
	} else {
		rc = clientcert_id_from_der((unsigned char *)buf, len, out, err);
	}
	if (rc != 0)
		nrfca_err_prefix(err, "%s", path);
out:
	OPENSSL_free(der);
	free(buf);
	return rc;
}

int clientcert_subject_canonical(const char *text, char *out, size_t outlen,
				 struct nrfca_err *err)
{
	X509_NAME *typed, *name = NULL;
	int i, rc = -1;

	/* typed most specific first (RFC 2253); X.509 stores the reverse */
	typed = ceremony_parse_subject(text, err);
	if (typed == NULL)
		return -1;
	name = X509_NAME_new();
	if (name == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	for (i = X509_NAME_entry_count(typed) - 1; i >= 0; i--)
		if (X509_NAME_add_entry(name, X509_NAME_get_entry(typed, i), -1, 0) != 1) {
			nrfca_err_ssl(err, NRFCA_E_INPUT, "the subject '%.80s' cannot be built", text);
			goto out;
		}
	rc = name_rfc2253(name, out, outlen, err);
out:
	X509_NAME_free(typed);
	X509_NAME_free(name);
	return rc;
}

/* ---- verification ---- */

struct clientcert_verifier {
	char *ca_path, *crl_path;
	int lock_ready;
	pthread_rwlock_t lock;
	gnutls_x509_trust_list_t tl;   /* CAs and verified CRLs; under lock */
};

static int import_file(const char *path, const char *what, int crl, void **list, unsigned *n,
		       struct nrfca_err *err)
{
	gnutls_datum_t d;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (nrfca_read_file(path, CLIENTCERT_FILE_MAX, &buf, &len, err) != 0) {
		err->code = NRFCA_E_CONFIG;
		nrfca_err_prefix(err, "%s", what);
		return -1;
	}
	d.data = (unsigned char *)buf;
	d.size = (unsigned)len;
	if (crl) {
		r = gnutls_x509_crl_list_import2((gnutls_x509_crl_t **)list, n, &d,
						 GNUTLS_X509_FMT_PEM, 0);
		if (r < 0)
			r = gnutls_x509_crl_list_import2((gnutls_x509_crl_t **)list, n, &d,
							 GNUTLS_X509_FMT_DER, 0);
	} else {
		r = gnutls_x509_crt_list_import2((gnutls_x509_crt_t **)list, n, &d,
						 GNUTLS_X509_FMT_PEM, 0);
		if (r < 0)
			r = gnutls_x509_crt_list_import2((gnutls_x509_crt_t **)list, n, &d,
							 GNUTLS_X509_FMT_DER, 0);
	}
	free(buf);
	if (r < 0 || *n == 0)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "%s %s holds no %s (%s)", what, path,
				     crl ? "CRL" : "certificate", gnutls_strerror(r < 0 ? r : 0));
	return 0;
}

/* A trust list with the CA file's certificates and the CRL file's CRLs,
 * each CRL checked against those CAs first. */
static int build_list(const char *ca_path, const char *crl_path, gnutls_x509_trust_list_t *out,
		      struct nrfca_err *err)
{
	gnutls_x509_crt_t *cas = NULL;
	gnutls_x509_crl_t *crls = NULL;
	gnutls_x509_trust_list_t tl = NULL;
	unsigned ncas = 0, ncrls = 0, i, status;
	int rc = -1;

	if (import_file(ca_path, "tls.client_ca", 0, (void **)&cas, &ncas, err) != 0)
		goto out;
	if (crl_path && import_file(crl_path, "tls.client_crl", 1, (void **)&crls, &ncrls, err) != 0)
		goto out;
	for (i = 0; i < ncrls; i++) {
		time_t next = gnutls_x509_crl_get_next_update(crls[i]);

		if (gnutls_x509_crl_verify(crls[i], cas, ncas, 0, &status) < 0 || status != 0) {
			nrfca_err_set(err, NRFCA_E_CONFIG,
				      "tls.client_crl %s: CRL %u is not signed by a certificate of "
				      "tls.client_ca %s", crl_path, i + 1, ca_path);
			goto out;
		}
		if (next != (time_t)-1 && next < time(NULL))
			nlog(NLOG_WARN, "client_crl_stale", "file", crl_path, "detail",
			     "the stations' CRL is past its nextUpdate: publish a new one", NULL);
	}
	if (gnutls_x509_trust_list_init(&tl, 0) < 0) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	/* from here the list owns the certificates and CRLs */
	if (gnutls_x509_trust_list_add_cas(tl, cas, ncas, 0) < 0) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "tls.client_ca %s cannot be used", ca_path);
		ncas = 0;
		goto out;
	}
	ncas = 0;
	if (ncrls > 0 && gnutls_x509_trust_list_add_crls(tl, crls, ncrls, 0, 0) < 0) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "tls.client_crl %s cannot be used", crl_path);
		ncrls = 0;
		goto out;
	}
	ncrls = 0;
	*out = tl;
	tl = NULL;
	rc = 0;
out:
	for (i = 0; i < ncas; i++)
		gnutls_x509_crt_deinit(cas[i]);
	for (i = 0; i < ncrls; i++)
		gnutls_x509_crl_deinit(crls[i]);
	gnutls_free(cas);
	gnutls_free(crls);
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	return rc;
}

int clientcert_verifier_open(const char *ca_path, const char *crl_path,
			     struct clientcert_verifier **out, struct nrfca_err *err)
{
	struct clientcert_verifier *v = calloc(1, sizeof(*v));

	if (v == NULL || (v->ca_path = strdup(ca_path)) == NULL ||
	    (crl_path && (v->crl_path = strdup(crl_path)) == NULL)) {
		clientcert_verifier_free(v);
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	}
	pthread_rwlock_init(&v->lock, NULL);
	v->lock_ready = 1;
	if (build_list(v->ca_path, v->crl_path, &v->tl, err) != 0) {
		clientcert_verifier_free(v);
		return -1;
	}
	*out = v;
	return 0;
}

int clientcert_verifier_reload(struct clientcert_verifier *v, struct nrfca_err *err)
{
	gnutls_x509_trust_list_t tl = NULL, old;

	if (build_list(v->ca_path, v->crl_path, &tl, err) != 0)
		return -1;
	pthread_rwlock_wrlock(&v->lock);
	old = v->tl;
	v->tl = tl;
	pthread_rwlock_unlock(&v->lock);
	gnutls_x509_trust_list_deinit(old, 1);
	return 0;
}

void clientcert_verifier_free(struct clientcert_verifier *v)
{
	if (v == NULL)
		return;
	if (v->tl != NULL)
		gnutls_x509_trust_list_deinit(v->tl, 1);
	if (v->lock_ready)
		pthread_rwlock_destroy(&v->lock);
	free(v->ca_path);
	free(v->crl_path);
	free(v);
}

static void describe_status(unsigned status, char *why, size_t whylen)
{
	if (status & GNUTLS_CERT_REVOKED)
		snprintf(why, whylen, "the client certificate is revoked (tls.client_crl)");
	else if (status & GNUTLS_CERT_EXPIRED)
		snprintf(why, whylen, "the client certificate has expired");
	else if (status & GNUTLS_CERT_NOT_ACTIVATED)
		snprintf(why, whylen, "the client certificate is not valid yet");
	else if (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA))
		snprintf(why, whylen,
			 "the client certificate is not issued by the stations' CA (tls.client_ca)");
	else if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		snprintf(why, whylen,
			 "the client certificate is not for client authentication (extended key usage)");
	else if (status & GNUTLS_CERT_INSECURE_ALGORITHM)
		snprintf(why, whylen, "the client certificate is signed with an insecure algorithm");
	else
		snprintf(why, whylen,
			 "the client certificate does not verify against the stations' CA "
			 "(status 0x%x)", status);
}

int clientcert_verify(struct clientcert_verifier *v, const gnutls_datum_t *chain, unsigned n,
		      struct clientcert_id *id, char *why, size_t whylen)
{
	gnutls_x509_crt_t certs[16];
	gnutls_typed_vdata_st purpose = { GNUTLS_DT_KEY_PURPOSE_OID,
					  (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT, 0 };
	unsigned i, k = 0, status = 0;
	struct nrfca_err e = { 0 };
	int rc = -1;

	if (n == 0 || n > sizeof(certs) / sizeof(certs[0])) {
		snprintf(why, whylen, "the client sent %u certificates (1 to %zu are accepted)", n,
			 sizeof(certs) / sizeof(certs[0]));
		return -1;
	}
	for (k = 0; k < n;) {
		if (gnutls_x509_crt_init(&certs[k]) < 0) {
			snprintf(why, whylen, "out of memory");
			goto out;
		}
		k++;
		if (gnutls_x509_crt_import(certs[k - 1], &chain[k - 1], GNUTLS_X509_FMT_DER) < 0) {
			snprintf(why, whylen, "the client certificate cannot be decoded");
			goto out;
		}
	}
	pthread_rwlock_rdlock(&v->lock);
	i = (unsigned)gnutls_x509_trust_list_verify_crt2(v->tl, certs, n, &purpose, 1, 0, &status,
							  NULL);
	pthread_rwlock_unlock(&v->lock);
	if ((int)i < 0) {
		snprintf(why, whylen, "the client certificate cannot be verified: %s",
			 gnutls_strerror((int)i));
		goto out;
	}
	if (status != 0) {
		describe_status(status, why, whylen);
		goto out;
	}
	if (clientcert_id_from_der(chain[0].data, chain[0].size, id, &e) != 0) {
		snprintf(why, whylen, "the client certificate: %s", e.msg);
		goto out;
	}
	rc = 0;
out:
	for (i = 0; i < k; i++)
		gnutls_x509_crt_deinit(certs[i]);
	return rc;
}
