/*
 * fuzz_csr - CSR intake: DER (parse + self-signature), PEM when the input
 * looks like PEM, and SubjectPublicKeyInfo DER.  An accepted CSR must
 * survive PEM out and back in byte for byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "csr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_csr *c = NULL, *c2 = NULL;
	EVP_PKEY *pk = NULL;
	char *pem = NULL, desc[48];
	const unsigned char *der, *der2;
	size_t len, len2;
	unsigned char h[32];
	int present;

	if (nrfca_csr_from_der(data, size, &c, NULL) == 0) {
		(void)nrfca_csr_cn(c);
		(void)nrfca_csr_key_desc(c);
		(void)nrfca_csr_key_usage(c, &present);
		nrfca_csr_sha256(c, h);
		nrfca_csr_spki_sha256(c, h);
		der = nrfca_csr_der(c, &len);
		if (len != size || memcmp(der, data, size) != 0)
			abort();
		if (nrfca_csr_to_pem(c, &pem, NULL) != 0)
			abort();
		if (nrfca_csr_from_pem(pem, strlen(pem), &c2, NULL) != 0)
			abort();
		der2 = nrfca_csr_der(c2, &len2);
		if (len2 != len || memcmp(der, der2, len) != 0)
			abort();
		free(pem);
		nrfca_csr_free(c2);
		nrfca_csr_free(c);
	}
	if (size > 0 && (data[0] == '-' || data[0] == ' ' || data[0] == '\n')) {
		if (nrfca_csr_from_pem((const char *)data, size, &c, NULL) == 0)
			nrfca_csr_free(c);
	}
	if (nrfca_spki_from_der(data, size, &pk, NULL) == 0) {
		nrfca_pkey_describe(pk, desc, sizeof(desc));
		EVP_PKEY_free(pk);
	}
	return 0;
}
