/*
 * csr.h - PKCS#10 certificate requests from untrusted sources.
 *
 * nrfca_csr_from_der parses a CSR, insists that the DER is consumed exactly,
 * and verifies the self-signature (proof of possession) before returning a
 * handle.  The DER is kept byte-exact as received: hashes are over those
 * bytes and nothing is re-encoded (real nRF91 CSRs carry an explicit NULL in
 * signatureAlgorithm, which OpenSSL 3 accepts; a re-encoding could differ).
 *
 * The public key is decoded once, when the request is parsed (OpenSSL 3.0
 * builds a decoder chain for every key it decodes, so nothing here parses a
 * key twice).  The handle owns the parsed request, its key and its copy of
 * the DER; every getter returns borrowed data that lives as long as the
 * handle.
 */
#ifndef NRFCA_CSR_H
#define NRFCA_CSR_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "error.h"

#define NRFCA_CSR_DER_MAX 8192   /* larger DER is refused */
#define NRFCA_CSR_PEM_MAX 16384  /* larger PEM text is refused */

/* Key usage bits as returned by nrfca_csr_key_usage: bit n is the RFC 5280
 * KeyUsage named bit n (the same order as %KEYGEN's nine-character string). */
#define NRFCA_KU_DIGITAL_SIGNATURE (1u << 0)
#define NRFCA_KU_NON_REPUDIATION   (1u << 1)
#define NRFCA_KU_KEY_ENCIPHERMENT  (1u << 2)
#define NRFCA_KU_DATA_ENCIPHERMENT (1u << 3)
#define NRFCA_KU_KEY_AGREEMENT     (1u << 4)
#define NRFCA_KU_KEY_CERT_SIGN     (1u << 5)
#define NRFCA_KU_CRL_SIGN          (1u << 6)
#define NRFCA_KU_ENCIPHER_ONLY     (1u << 7)
#define NRFCA_KU_DECIPHER_ONLY     (1u << 8)

struct nrfca_csr;  /* opaque */

/* Parse AND verify the self-signature.  0 ok (*out set, caller frees). */
int nrfca_csr_from_der(const unsigned char *der, size_t len, struct nrfca_csr **out,
		       struct nrfca_err *err);
/* One PEM block "CERTIFICATE REQUEST" (or "NEW CERTIFICATE REQUEST"), at most
 * NRFCA_CSR_PEM_MAX bytes, nothing but white space around it. */
int nrfca_csr_from_pem(const char *pem, size_t len, struct nrfca_csr **out,
		       struct nrfca_err *err);
void nrfca_csr_free(struct nrfca_csr *c);

const char *nrfca_csr_cn(const struct nrfca_csr *c);          /* NULL if no CN */
const char *nrfca_csr_key_desc(const struct nrfca_csr *c);    /* "EC P-256", "RSA 2048" */
int nrfca_csr_key_type(const struct nrfca_csr *c);            /* EVP_PKEY_EC, EVP_PKEY_RSA ... */
int nrfca_csr_curve_nid(const struct nrfca_csr *c);           /* NID or NID_undef */
int nrfca_csr_key_bits(const struct nrfca_csr *c);
/* Requested KeyUsage (NRFCA_KU_* bits); *present (may be NULL) says whether
 * the extensionRequest held a KeyUsage at all. */
unsigned nrfca_csr_key_usage(const struct nrfca_csr *c, int *present);
const X509_NAME *nrfca_csr_subject(const struct nrfca_csr *c);
EVP_PKEY *nrfca_csr_pubkey(const struct nrfca_csr *c);        /* borrowed */
/* The SubjectPublicKeyInfo's algorithm and key bits as received (borrowed):
 * what a certificate for this request carries (nrfca_x509_set_spki). */
void nrfca_csr_spki(const struct nrfca_csr *c, const X509_ALGOR **alg,
		    const ASN1_BIT_STRING **key);
const unsigned char *nrfca_csr_der(const struct nrfca_csr *c, size_t *len);
void nrfca_csr_sha256(const struct nrfca_csr *c, unsigned char out[32]);  /* over the DER as received */
void nrfca_csr_spki_sha256(const struct nrfca_csr *c, unsigned char out[32]);
/* The received DER wrapped as PEM ("CERTIFICATE REQUEST", LF line endings);
 * *pem is malloc'd, caller frees. */
int nrfca_csr_to_pem(const struct nrfca_csr *c, char **pem, struct nrfca_err *err);

/*
 * Public keys (the %KEYGEN response_content 1 case and identity keys).
 */
/* A SubjectPublicKeyInfo DER, consumed exactly.  Caller frees with EVP_PKEY_free. */
int nrfca_spki_from_der(const unsigned char *der, size_t len, EVP_PKEY **out,
			struct nrfca_err *err);
/* "EC P-256", "EC P-384", "RSA 2048", "ED25519" ... into buf. */
void nrfca_pkey_describe(const EVP_PKEY *pk, char *buf, size_t cap);
/* DER (e.g. SPKI, a certificate) of at most NRFCA_DER_PEM_MAX bytes wrapped as
 * PEM with the given label, LF line endings; malloc'd.  Nothing is parsed. */
#define NRFCA_DER_PEM_MAX (1 << 20)
int nrfca_der_to_pem(const char *label, const unsigned char *der, size_t len, char **pem,
		     struct nrfca_err *err);

#endif
