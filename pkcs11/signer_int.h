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

/*
 * A key outside any token, for tests and the fuzz targets only: the signer
 * keeps its session pool, statistics and OpenSSL glue (signer_evp.c) and
 * calls `sign` where it would call C_Sign.  signer.c knows no such key: the
 * only backend, pkcs11/signer_soft.c, is linked into test and fuzz programs
 * and never into nrfca-server or nrfca-admin (see signer_soft.h).
 */
struct signer_backend {
	const char *name;          /* for messages: "software EC key" */
	/* The raw operation of `mech` (CKM_ECDSA: r || s, each the size of
	 * the group order).  Returns the output length, or -1 with the thread
	 * error set. */
	int (*sign)(void *ctx, enum signer_mech mech, const unsigned char *in, size_t inlen,
		    unsigned char *out, size_t outmax);
	void (*free)(void *ctx);
};

/* A ready signer over `backend` (ctx is owned from here on, also on
 * failure); `pub` is the key's public half (a reference is taken). */
int signer_open_backend(const struct signer_backend *backend, void *ctx, EVP_PKEY *pub,
			unsigned pool_size, struct signer **out, struct nrfca_err *err);

#endif
