/*
 * sim_crypto.h - the simulated modem's cryptography: P-256 keys, the
 * %KEYGEN CSR with the real modem's explicit-NULL signatureAlgorithm quirk,
 * and COSE_Sign1 (ES256) made with the simulated device identity key.
 *
 * Keys are EVP_PKEY owned by the caller (EVP_PKEY_free).  Outputs go into a
 * caller-owned struct sbuf.  Every function returns 0 or -1 with `e` set.
 */
#ifndef SIM_CRYPTO_H
#define SIM_CRYPTO_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "error.h"
#include "sim_buf.h"

/* The AlgorithmIdentifier real modems put in their CSRs:
 * SEQUENCE { ecdsa-with-SHA256, NULL }. */
extern const uint8_t simc_sigalg_ecdsa_sha256_null[14];

EVP_PKEY *simc_p256_generate(struct nrfca_err *e);

/* Load the identity private key (PEM, P-256) from `path`; when the file
 * does not exist, generate one and save it there (mode 0600).  path NULL:
 * generate in memory only. */
int simc_identity_load_or_create(const char *path, EVP_PKEY **out, struct nrfca_err *e);
int simc_write_pub_pem(EVP_PKEY *k, const char *path, struct nrfca_err *e);
/* PEM texts into `out` (NUL-terminated, out->len excludes the NUL). */
int simc_pub_pem(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e);
int simc_priv_pem(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e);
EVP_PKEY *simc_priv_from_pem(const uint8_t *pem, size_t n);
int simc_priv_der(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e);

int simc_spki_der(EVP_PKEY *k, struct sbuf *out, struct nrfca_err *e);

/* The number of X.509 certificates in p[0..n) when it is nothing but PEM
 * CERTIFICATE blocks (white space between them allowed, CR LF or LF) that
 * each decode; 0 otherwise. */
int simc_pem_certs(const uint8_t *p, size_t n);

/* One relative distinguished name of the CSR subject. */
enum simc_attr {
	SIMC_ATTR_C,
	SIMC_ATTR_ST,
	SIMC_ATTR_L,
	SIMC_ATTR_O,
	SIMC_ATTR_OU,
	SIMC_ATTR_CN,
	SIMC_ATTR_MAX
};
struct simc_rdn {
	enum simc_attr attr;
	const char *value;
	size_t len;
};
/* Name of an attribute as in the %KEYGEN attributes string; -1 if unknown. */
int simc_attr_from_name(const char *name, size_t n);

/* PKCS#10 CSR DER.  key_usage: bit i = X.509 KeyUsage bit i (0..8); must
 * not be 0. */
int simc_build_csr(EVP_PKEY *k, const struct simc_rdn *rdn, size_t nrdn,
		   uint16_t key_usage, struct sbuf *out, struct nrfca_err *e);

/* COSE_Sign1 (tag 18) with protected {1:-7}, unprotected {4: h'21'}.
 * detached: the payload field is nil and `payload` is signed as the
 * external payload (what %ATTESTTOKEN does). */
int simc_cose_sign1(EVP_PKEY *id, const uint8_t *payload, size_t n, bool detached,
		    struct sbuf *out, struct nrfca_err *e);

/* The attestation of a %KEYGEN answer: COSE_Sign1 by `id` over the payload
 * 55799([csr ? 9 : 8, uuid, bstr(cbor(sec_tag)), SHA-256(part1), nonce]) with
 * a fresh random nonce; part1 is the CSR (csr) or the public key DER. */
int simc_keygen_cose(EVP_PKEY *id, const uint8_t uuid[16], uint64_t sec_tag, bool csr,
		     const uint8_t *part1, size_t n, struct sbuf *out, struct nrfca_err *e);

#endif
