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
/* The same 16 bytes and hex digits without a certificate (ledger records
 * that are not certificates: public-key registrations).  1 on success. */
int nrfca_random_serial(unsigned char b[16], char hex[33]);

/* Add a non-critical cRLDistributionPoints (one distribution point per URL,
 * RFC 5280 4.2.1.13) or authorityInfoAccess with one caIssuers access
 * description per URL (4.2.2.1).  The URLs are used as given (validated by
 * the caller); n = 0 adds nothing.  1 on success. */
int nrfca_x509_add_crl_dp(X509 *x, const char *const *urls, size_t n);
int nrfca_x509_add_ca_issuers(X509 *x, const char *const *urls, size_t n);

/* The extensions of an end-entity certificate, built as structures and
 * encoded once (X509_add1_ext_i2d) instead of parsed from configuration
 * text (nrfca_x509_add_ext): the same DER as "CA:FALSE", "digitalSignature,
 * ...", "clientAuth,...", "hash" and "keyid:always" (tests/unit/formats/
 * test_x509util.c holds each to its configuration form).  That text parser
 * was a third of building a certificate.  1 on success.
 *
 * ku is a mask of X509v3_KU_* bits; eku holds names or dotted OIDs as the
 * configuration syntax takes them; add_ski hashes the key x already holds;
 * add_aki names the issuer's subjectKeyIdentifier and fails (as "always"
 * does) when the issuer has none. */
int nrfca_x509_add_basic_constraints_ee(X509 *x, int critical);
int nrfca_x509_add_key_usage(X509 *x, unsigned ku, int critical);
int nrfca_x509_add_eku(X509 *x, const char *const *eku, size_t n, int critical);
int nrfca_x509_add_ski(X509 *x);
int nrfca_x509_add_aki(X509 *x, const X509 *issuer);

/* Give x the SubjectPublicKeyInfo (algorithm, parameters and key bits) of a
 * request as received, copied: no EVP_PKEY is made (X509_set_pubkey would
 * encode a key and decode it again).  1 on success. */
int nrfca_x509_set_spki(X509 *x, const X509_ALGOR *alg, const ASN1_BIT_STRING *key);

#endif
