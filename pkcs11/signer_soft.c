/*
 * signer_soft.c - the software EC key behind the signer (signer_soft.h).
 * Test and fuzz builds only: see pkcs11/CMakeLists.txt.
 */
#include "signer_soft.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/x509.h>

#include "signer_int.h"

/* CKM_ECDSA's answer: r || s, each as long as the group order. */
static int soft_sign(void *ctx, enum signer_mech mech, const unsigned char *in, size_t inlen,
		     unsigned char *out, size_t outmax)
{
	EVP_PKEY *key = ctx;
	EVP_PKEY_CTX *pc = NULL;
	unsigned char der[160];
	const unsigned char *p = der;
	size_t dl = sizeof(der);
	ECDSA_SIG *sig = NULL;
	int half = (EVP_PKEY_get_bits(key) + 7) / 8, rc = -1;

	if (mech != SIGNER_MECH_ECDSA) {
		signer_set_thread_error(NRFCA_E_CRYPTO, "the software key signs with ECDSA only");
		return -1;
	}
	if ((size_t)half * 2 > outmax) {
		signer_set_thread_error(NRFCA_E_CRYPTO, "signature buffer too small");
		return -1;
	}
	pc = EVP_PKEY_CTX_new(key, NULL);
	if (pc == NULL || EVP_PKEY_sign_init(pc) != 1 ||
	    EVP_PKEY_sign(pc, der, &dl, in, inlen) != 1 ||
	    (sig = d2i_ECDSA_SIG(NULL, &p, (long)dl)) == NULL ||
	    BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, half) != half ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + half, half) != half)
		signer_set_thread_error(NRFCA_E_CRYPTO, "software ECDSA signature failed");
	else
		rc = 2 * half;
	ECDSA_SIG_free(sig);
	EVP_PKEY_CTX_free(pc);
	return rc;
}

static void soft_free(void *ctx)
{
	EVP_PKEY_free(ctx);
}

static const struct signer_backend soft_backend = {
	.name = "software key, tests only",
	.sign = soft_sign,
	.free = soft_free,
};

int signer_open_software(EVP_PKEY *key, unsigned pool_size, struct signer **out,
			 struct nrfca_err *err)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	EVP_PKEY *pub = NULL;
	int n, rc;

	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "the software signer needs an EC key");
	/* the public half on its own, as a token would give it */
	n = i2d_PUBKEY(key, &der);
	p = der;
	if (n <= 0 || (pub = d2i_PUBKEY(NULL, &p, n)) == NULL || EVP_PKEY_up_ref(key) != 1) {
		OPENSSL_free(der);
		EVP_PKEY_free(pub);
		return nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot copy the software key");
	}
	OPENSSL_free(der);
	rc = signer_open_backend(&soft_backend, key, pub, pool_size, out, err);
	EVP_PKEY_free(pub);
	return rc;
}
