/*
 * digest.h - message digests fetched once per process.
 *
 * OpenSSL 3 resolves EVP_sha256() (a legacy placeholder) by name in the
 * provider store on every EVP_Digest* call, under a process-wide lock; the
 * digests here are fetched once (EVP_MD_fetch) and shared by all threads,
 * which is safe: a fetched EVP_MD is immutable.  They live until exit.
 */
#ifndef NRFCA_DIGEST_H
#define NRFCA_DIGEST_H

#include <stddef.h>

#include <openssl/evp.h>

/* The fetched digests (never NULL: OpenSSL without SHA-2 aborts the process). */
const EVP_MD *nrfca_md_sha256(void);
const EVP_MD *nrfca_md_sha384(void);

/* SHA-256 of n bytes into out; 0, or -1 when OpenSSL fails. */
int nrfca_sha256(const void *p, size_t n, unsigned char out[32]);

#endif
