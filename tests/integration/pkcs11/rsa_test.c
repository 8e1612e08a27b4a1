/*
 * rsa_test - the signer with an RSA key (made by pkcs11-tool in signer.sh):
 * PKCS#1 v1.5 and PSS signatures made in the token verify with the public key,
 * and a certificate signed with X509_sign verifies.
 *
 * usage: rsa_test URI
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "signer.h"

static int sign_verify(struct signer *s, int pss)
{
	unsigned char msg[] = "nrfca rsa test", sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *mc = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pc = NULL;
	int ok = 0;

	if (EVP_DigestSignInit(mc, &pc, EVP_sha256(), NULL, signer_pkey(s)) != 1 ||
	    (pss && (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) != 1)) ||
	    EVP_DigestSign(mc, sig, &siglen, msg, sizeof(msg)) != 1)
		goto out;
	EVP_MD_CTX_free(mc);
	mc = EVP_MD_CTX_new();
	if (EVP_DigestVerifyInit(mc, &pc, EVP_sha256(), NULL, signer_pkey(s)) != 1 ||
	    (pss && (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) != 1 ||
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, 32) != 1)) ||
	    EVP_DigestVerify(mc, sig, siglen, msg, sizeof(msg)) != 1)
		goto out;
	ok = 1;
out:
	if (!ok)
		ERR_print_errors_fp(stderr);
	ERR_clear_error();
	EVP_MD_CTX_free(mc);
	return ok;
}

int main(int argc, char **argv)
{
	struct signer_config sc = { 0 };
	struct nrfca_err e = { 0 };
	struct signer *s = NULL;
	X509 *x = NULL;
	X509_NAME *n = NULL;
	int rc = 1;

	if (argc != 2)
		return 2;
	sc.uri = argv[1];
	if (signer_open(&sc, &s, &e) != 0) {
		fprintf(stderr, "FAIL open: %s\n", e.msg);
		return 1;
	}
	if (strncmp(signer_key_desc(s), "RSA ", 4) != 0) {
		fprintf(stderr, "FAIL key is %s\n", signer_key_desc(s));
		goto out;
	}
	if (!sign_verify(s, 0)) {
		fprintf(stderr, "FAIL PKCS#1 v1.5 signature\n");
		goto out;
	}
	if (!sign_verify(s, 1)) {
		fprintf(stderr, "FAIL PSS signature\n");
		goto out;
	}
	x = X509_new();
	n = X509_NAME_new();
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"rsa", -1, -1, 0);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, signer_pkey(s));
	if (X509_sign(x, signer_pkey(s), EVP_sha256()) <= 0 || X509_verify(x, signer_pkey(s)) != 1) {
		fprintf(stderr, "FAIL X509_sign with the RSA token key\n");
		goto out;
	}
	printf("rsa_test: %s key signs PKCS#1 v1.5, PSS and certificates in the token\n",
	       signer_key_desc(s));
	rc = 0;
out:
	X509_NAME_free(n);
	X509_free(x);
	signer_free(s);
	return rc;
}
