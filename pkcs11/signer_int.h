/*
 * signer_int.h - shared between signer.c (token and sessions) and
 * signer_evp.c (the OpenSSL key object).  Not for use outside pkcs11/.
 */
#ifndef NRFCA_SIGNER_INT_H
#define NRFCA_SIGNER_INT_H

#include <stddef.h>

#include <openssl/evp.h>

#include "signer.h"

enum signer_mech { SIGNER_MECH_ECDSA, SIGNER_MECH_RSA_PKCS, SIGNER_MECH_RSA_X509 };

/* One raw private-key operation in the token through the session pool.
 * Returns the output length, or -1 with the thread error set. */
int signer_token_op(struct signer *s, enum signer_mech mech, const unsigned char *in,
		    size_t inlen, unsigned char *out, size_t outmax);

/* Build the EVP_PKEY that signs through signer_token_op().  `pub` is a
 * public key of the same key (provider-based); returns a new reference. */
EVP_PKEY *signer_evp_wrap(struct signer *s, const EVP_PKEY *pub, struct nrfca_err *err);
void signer_evp_cleanup(void);

void signer_set_thread_error(enum nrfca_errc code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
