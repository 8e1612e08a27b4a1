/*
 * ceremony.h - the CA certificate side of the key ceremony: a self-signed
 * root for the token key, a CSR for an external root, and the checks that
 * a chain belongs to the token key and is valid now.
 */
#ifndef NRFCA_CEREMONY_H
#define NRFCA_CEREMONY_H

#include <openssl/x509.h>

#include "error.h"
#include "signer.h"

struct ceremony_root {
	const char *subject;   /* "CN=nrfca root,O=Example" (comma-separated RDNs) */
	int days;              /* validity from now */
	int pathlen;           /* -1: no pathLenConstraint */
};

/* Parse "CN=a,O=b,C=no" (commas may be escaped as "\,"). */
X509_NAME *ceremony_parse_subject(const char *text, struct nrfca_err *err);

/* Self-signed root: basicConstraints CA:TRUE critical (+pathLen), keyUsage
 * keyCertSign+cRLSign critical, SKI; signed in the token. */
X509 *ceremony_self_signed(struct signer *s, const struct ceremony_root *r, struct nrfca_err *err);

/* A CSR for an external root to sign (requests the same CA extensions). */
X509_REQ *ceremony_csr(struct signer *s, const struct ceremony_root *r, struct nrfca_err *err);

/* Read a PEM chain (leaf first, at most 8 certificates, at most 64 KiB). */
STACK_OF(X509) *ceremony_read_chain(const char *path, struct nrfca_err *err);

/* The chain's first certificate holds the token key, every link is signed by
 * the next, the last is self-signed or the issuer is absent (then only its
 * own links are checked), each is a CA certificate and valid at `now`. */
int ceremony_check_chain(struct signer *s, STACK_OF(X509) *chain, time_t now,
			 struct nrfca_err *err);

/* Write certificates as PEM to `path` atomically (temp file + rename);
 * with exclusive != 0 refuse to replace an existing file. */
int ceremony_write_chain(const char *path, STACK_OF(X509) *chain, int exclusive,
			 struct nrfca_err *err);

#endif
