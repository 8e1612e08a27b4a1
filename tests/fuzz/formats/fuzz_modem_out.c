/*
 * fuzz_modem_out - the whole %KEYGEN / %ATTESTTOKEN parser.
 *
 * Input is either the text as pasted, or (first byte 0xff) raw parts:
 * byte 1 is the length of part 1, the rest after part 1 is part 2; both are
 * base64url-encoded and joined with '.', so the fuzzer reaches the COSE
 * and CBOR layers directly.  Accepted output must satisfy the binding.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64url.h"
#include "csr.h"
#include "modem_out.h"

static EVP_PKEY *identity;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	identity = EVP_EC_gen("P-256");
	return 0;
}

static void check(const struct nrfca_modem_out *m)
{
	struct nrfca_csr *csr = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char h[32];
	char *pem = NULL;

	if (EVP_Digest(m->part1, m->part1_len, h, NULL, EVP_sha256(), NULL) != 1 ||
	    memcmp(h, m->part1_sha256, 32) != 0 || !m->binding_ok)
		abort();
	if (m->kind != NRFCA_MODEM_ATTEST_TOKEN && memcmp(m->digest, h, 32) != 0)
		abort();
	if (m->kind == NRFCA_MODEM_CSR && nrfca_csr_from_der(m->part1, m->part1_len, &csr, NULL) == 0) {
		if (nrfca_csr_to_pem(csr, &pem, NULL) != 0)
			abort();
		free(pem);
		nrfca_csr_free(csr);
	}
	if (m->kind == NRFCA_MODEM_PUBLIC_KEY && nrfca_spki_from_der(m->part1, m->part1_len, &pk, NULL) == 0)
		EVP_PKEY_free(pk);
	if (identity != NULL)
		(void)nrfca_modem_out_verify_signature(m, identity, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_modem_out *m = NULL;
	struct nrfca_err err;
	char *text = NULL, *b1 = NULL, *b2 = NULL;
	size_t n1, len;

	if (size >= 2 && data[0] == 0xff) {
		n1 = data[1];
		if (n1 > size - 2)
			n1 = size - 2;
		b1 = nrfca_b64url_encode_alloc(data + 2, n1);
		b2 = nrfca_b64url_encode_alloc(data + 2 + n1, size - 2 - n1);
		if (b1 == NULL || b2 == NULL)
			goto out;
		len = strlen(b1) + 1 + strlen(b2);
		text = malloc(len);
		if (text == NULL)
			goto out;
		memcpy(text, b1, strlen(b1));
		text[strlen(b1)] = '.';
		memcpy(text + strlen(b1) + 1, b2, strlen(b2));
	} else {
		len = size;
		text = malloc(size ? size : 1);
		if (text == NULL)
			goto out;
		memcpy(text, data, size);
	}
	if (nrfca_modem_out_parse(text, len, &m, &err) == 0) {
		check(m);
		nrfca_modem_out_free(m);
	} else if (m != NULL || err.msg[0] == '\0') {
		abort();
	}
out:
	free(text);
	free(b1);
	free(b2);
	return 0;
}
