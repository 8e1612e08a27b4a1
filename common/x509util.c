#include "x509util.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "b64url.h"

int nrfca_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;

	if (ext == NULL)
		return 0;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

int nrfca_x509_random_serial(X509 *x, char hex[33])
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	do {
		if (RAND_bytes(b, sizeof(b)) != 1)
			return 0;
		b[0] &= 0x7f;
	} while (b[0] == 0);
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	if (hex != NULL)
		nrfca_hex_encode(b, sizeof(b), hex);
	return ok;
}

int nrfca_x509_set_spki(X509 *x, const X509_ALGOR *alg, const ASN1_BIT_STRING *key)
{
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(x);
	const ASN1_OBJECT *obj;
	const void *pval;
	void *param = NULL;
	ASN1_OBJECT *aobj = NULL;
	unsigned char *bits = NULL;
	int ptype;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	switch (ptype) {
	case V_ASN1_UNDEF:
	case V_ASN1_NULL:
		break;
	case V_ASN1_OBJECT:
		if ((param = OBJ_dup(pval)) == NULL)
			return 0;
		break;
	case V_ASN1_SEQUENCE:
		if ((param = ASN1_STRING_dup(pval)) == NULL)
			return 0;
		break;
	default:
		return 0;    /* no key algorithm has other parameters */
	}
	if (pub == NULL || key->length <= 0 || (aobj = OBJ_dup(obj)) == NULL ||
	    (bits = OPENSSL_memdup(key->data, (size_t)key->length)) == NULL)
		goto fail;
	if (X509_PUBKEY_set0_param(pub, aobj, ptype, param, bits, key->length) != 1)
		goto fail;
	return 1;
fail:
	ASN1_OBJECT_free(aobj);
	OPENSSL_free(bits);
	if (ptype == V_ASN1_OBJECT)
		ASN1_OBJECT_free(param);
	else
		ASN1_STRING_free(param);
	return 0;
}
