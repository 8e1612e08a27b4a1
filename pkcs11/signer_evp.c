/*
 * signer_evp.c - an OpenSSL key object whose private operations run in the
 * token.  OpenSSL 3 treats an EC_KEY/RSA with a non-default method as a
 * "foreign" legacy key and routes EVP_DigestSign (and so X509_sign,
 * X509_CRL_sign, OCSP_basic_sign) to that method.  The method APIs are
 * deprecated in OpenSSL 3, so they are confined to this one file, which is
 * compiled without OPENSSL_NO_DEPRECATED (see pkcs11/CMakeLists.txt).
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <pthread.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>

#include "signer_int.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static EC_KEY_METHOD *ec_meth;
static RSA_METHOD *rsa_meth;
static int ec_idx = -1, rsa_idx = -1;

static ECDSA_SIG *ec_sign_sig(const unsigned char *dgst, int dlen, const BIGNUM *kinv,
			      const BIGNUM *r, EC_KEY *ec)
{
	struct signer *s = EC_KEY_get_ex_data(ec, ec_idx);
	unsigned char raw[2 * 66];
	ECDSA_SIG *sig = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	int n;

	(void)kinv;
	(void)r;
	if (s == NULL || dlen < 0)
		return NULL;
	n = signer_token_op(s, SIGNER_MECH_ECDSA, dgst, (size_t)dlen, raw, sizeof(raw));
	if (n <= 0 || (n & 1) != 0)
		return NULL;
	br = BN_bin2bn(raw, n / 2, NULL);
	bs = BN_bin2bn(raw + n / 2, n / 2, NULL);
	sig = ECDSA_SIG_new();
	if (br == NULL || bs == NULL || sig == NULL || ECDSA_SIG_set0(sig, br, bs) != 1) {
		BN_free(br);
		BN_free(bs);
		ECDSA_SIG_free(sig);
		return NULL;
	}
	return sig;
}

static int ec_sign(int type, const unsigned char *dgst, int dlen, unsigned char *sig,
		   unsigned int *siglen, const BIGNUM *kinv, const BIGNUM *r, EC_KEY *ec)
{
	ECDSA_SIG *s = ec_sign_sig(dgst, dlen, kinv, r, ec);
	unsigned char *p = sig;
	int n;

	(void)type;
	if (s == NULL)
		return 0;
	n = i2d_ECDSA_SIG(s, &p);
	ECDSA_SIG_free(s);
	if (n <= 0)
		return 0;
	*siglen = (unsigned int)n;
	return 1;
}

static int rsa_priv_enc(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
			int padding)
{
	struct signer *s = RSA_get_ex_data(rsa, rsa_idx);
	enum signer_mech m;

	if (s == NULL || flen < 0)
		return -1;
	if (padding == RSA_PKCS1_PADDING)
		m = SIGNER_MECH_RSA_PKCS;
	else if (padding == RSA_NO_PADDING)
		m = SIGNER_MECH_RSA_X509;
	else
		return -1;
	return signer_token_op(s, m, from, (size_t)flen, to, (size_t)RSA_size(rsa));
}

static int rsa_priv_dec(int flen, const unsigned char *from, unsigned char *to, RSA *rsa,
			int padding)
{
	(void)flen; (void)from; (void)to; (void)rsa; (void)padding;
	return -1;   /* the CA key signs; it never decrypts */
}

static void init_methods(void)
{
	ec_idx = EC_KEY_get_ex_new_index(0, "nrfca signer", NULL, NULL, NULL);
	rsa_idx = RSA_get_ex_new_index(0, "nrfca signer", NULL, NULL, NULL);
	ec_meth = EC_KEY_METHOD_new(EC_KEY_get_default_method());
	if (ec_meth != NULL)
		EC_KEY_METHOD_set_sign(ec_meth, ec_sign, NULL, ec_sign_sig);
	rsa_meth = RSA_meth_dup(RSA_PKCS1_OpenSSL());
	if (rsa_meth != NULL) {
		RSA_meth_set1_name(rsa_meth, "nrfca PKCS#11 signer");
		RSA_meth_set_priv_enc(rsa_meth, rsa_priv_enc);
		RSA_meth_set_priv_dec(rsa_meth, rsa_priv_dec);
	}
}

EVP_PKEY *signer_evp_wrap(struct signer *s, const EVP_PKEY *pub, struct nrfca_err *err)
{
	EVP_PKEY *pk = NULL;

	pthread_once(&once, init_methods);
	if (ec_meth == NULL || rsa_meth == NULL || ec_idx < 0 || rsa_idx < 0) {
		nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot set up the OpenSSL key methods");
		return NULL;
	}
	pk = EVP_PKEY_new();
	if (pk == NULL)
		goto fail;
	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC) {
		EC_KEY *ec = EVP_PKEY_get1_EC_KEY((EVP_PKEY *)pub);

		if (ec == NULL || EC_KEY_set_method(ec, ec_meth) != 1 ||
		    EC_KEY_set_ex_data(ec, ec_idx, s) != 1 || EVP_PKEY_assign_EC_KEY(pk, ec) != 1) {
			EC_KEY_free(ec);
			goto fail;
		}
	} else if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA) {
		RSA *rsa = EVP_PKEY_get1_RSA((EVP_PKEY *)pub);

		if (rsa == NULL || RSA_set_method(rsa, rsa_meth) != 1 ||
		    RSA_set_ex_data(rsa, rsa_idx, s) != 1 || EVP_PKEY_assign_RSA(pk, rsa) != 1) {
			RSA_free(rsa);
			goto fail;
		}
	} else {
		nrfca_err_set(err, NRFCA_E_CONFIG, "the token key is neither EC nor RSA");
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
fail:
	EVP_PKEY_free(pk);
	nrfca_err_ssl(err, NRFCA_E_INTERNAL, "cannot build the OpenSSL key object for the token key");
	return NULL;
}

void signer_evp_cleanup(void)
{
	/* The methods live for the process: keys may outlive any one signer. */
}
