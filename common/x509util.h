/*
 * x509util.h - small certificate-building helpers shared by the key
 * ceremony (pkcs11/) and the issuer (ca-server/).
 */
#ifndef NRFCA_X509UTIL_H
#define NRFCA_X509UTIL_H

#include <openssl/x509v3.h>

/* Add one extension written in OpenSSL's configuration syntax
 * ("critical,CA:FALSE").  1 on success. */
int nrfca_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value);

/* Set a serial of 16 bytes from the CSPRNG with the top bit cleared and the
 * first byte non-zero (so never zero and always 16 bytes: at least 126
 * random bits).  hex (may be NULL) gets the 32 lower-case hex digits.
 * 1 on success. */
int nrfca_x509_random_serial(X509 *x, char hex[33]);

/* Add a non-critical cRLDistributionPoints (one distribution point per URL,
 * RFC 5280 4.2.1.13) or authorityInfoAccess with one caIssuers access
 * description per URL (4.2.2.1).  The URLs are used as given (validated by
 * the caller); n = 0 adds nothing.  1 on success. */
int nrfca_x509_add_crl_dp(X509 *x, const char *const *urls, size_t n);
int nrfca_x509_add_ca_issuers(X509 *x, const char *const *urls, size_t n);

/* Give x the SubjectPublicKeyInfo (algorithm, parameters and key bits) of a
 * request as received, copied: no EVP_PKEY is made (X509_set_pubkey would
 * encode a key and decode it again).  1 on success. */
int nrfca_x509_set_spki(X509 *x, const X509_ALGOR *alg, const ASN1_BIT_STRING *key);

#endif
