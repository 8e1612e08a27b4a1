/*
 * signer_soft.h - a signer whose key is an EC key in memory, for tests and
 * the fuzz targets (no token needed).  It is the PKCS#11 signer of signer.h
 * with its session pool, statistics and OpenSSL glue, signing in software
 * where the token would sign (signer_int.h, struct signer_backend).
 *
 * Test-only by construction: pkcs11/signer_soft.c is built into the library
 * nrfca_signer_soft, which only test and fuzz programs link; nrfca-server and
 * nrfca-admin do not contain it (test signer_soft_not_shipped checks), and
 * no configuration or token URI can name it.
 */
#ifndef NRFCA_SIGNER_SOFT_H
#define NRFCA_SIGNER_SOFT_H

#include <openssl/evp.h>

#include "signer.h"

/* `key`: an EC private key (P-256 or P-384; a reference is taken).  The
 * signer is ready at once; free it with signer_free(). */
int signer_open_software(EVP_PKEY *key, unsigned pool_size, struct signer **out,
			 struct nrfca_err *err);

#endif
