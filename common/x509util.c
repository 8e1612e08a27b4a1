#include "x509util.h"

#include <openssl/bn.h>
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

int nrfca_random_serial(unsigned char b[16], char hex[33])
{
	do {
		if (RAND_bytes(b, 16) != 1)
			return 0;
		b[0] &= 0x7f;
	} while (b[0] == 0);
	if (hex != NULL)
		nrfca_hex_encode(b, 16, hex);
	return 1;
}

int nrfca_x509_random_serial(X509 *x, char hex[33])
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	if (!nrfca_random_serial(b, NULL))
		return 0;
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	if (hex != NULL)
		nrfca_hex_encode(b, sizeof(b), hex);
	return ok;
}
