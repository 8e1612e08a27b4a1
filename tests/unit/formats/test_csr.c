/* Unit tests: CSR intake (DER and PEM), key descriptions, key usage. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "b64url.h"
#include "csr.h"
#include "vectors.h"
#include "x509util.h"

static const unsigned char explicit_null_alg[] = {
	0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00,
};

static int contains(const unsigned char *h, size_t hn, const unsigned char *n, size_t nn)
{
	size_t i;

	for (i = 0; i + nn <= hn; i++)
		if (memcmp(h + i, n, nn) == 0)
			return 1;
	return 0;
}

/* Part 1 of a vector, decoded (malloc'd). */
static unsigned char *vector_part1(const char *file, size_t *len)
{
	char *payload = vector_payload(file), *dot = strchr(payload, '.');
	size_t cap = (size_t)(dot - payload);
	unsigned char *der = malloc(cap);
	struct nrfca_err err = { 0 };

	assert_int_equal(nrfca_b64url_decode(NULL, payload, (size_t)(dot - payload), der, cap, len, &err), 0);
	free(payload);
	return der;
}

/* A certificate given the request's SubjectPublicKeyInfo with
 * nrfca_x509_set_spki carries exactly the key the request holds. */
static void assert_spki_carried(const struct nrfca_csr *c)
{
	const X509_ALGOR *alg;
	const ASN1_BIT_STRING *key;
	unsigned char *want = NULL, *got = NULL;
	int wn, gn;
	X509 *x = X509_new();

	nrfca_csr_spki(c, &alg, &key);
	assert_non_null(nrfca_csr_pubkey(c));
	assert_int_equal(nrfca_x509_set_spki(x, alg, key), 1);
	wn = i2d_PUBKEY(nrfca_csr_pubkey(c), &want);
	gn = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &got);
	assert_true(wn > 0);
	assert_int_equal(gn, wn);
	assert_memory_equal(got, want, (size_t)wn);
	OPENSSL_free(want);
	OPENSSL_free(got);
	X509_free(x);
}

static int csr_exact(const unsigned char *der, size_t len, struct nrfca_csr **c,
		     struct nrfca_err *err)
{
	unsigned char *copy = malloc(len ? len : 1);
	int rc;

	memcpy(copy, der, len);
	*c = NULL;
	rc = nrfca_csr_from_der(copy, len, c, err);
	free(copy);
	if (rc != 0) {
		assert_null(*c);
		assert_int_not_equal(err->msg[0], '\0');
	}
	return rc;
}

static void test_all_vectors(void **state)
{
	struct nrfca_csr *c = NULL, *c2 = NULL;
	struct nrfca_err err = { 0 };
	unsigned char *der, h[32], spki_h[32], *spki = NULL;
	const unsigned char *d;
	char hex[65], *pem = NULL;
	size_t i, len, dlen;
	int present = 0, spki_len;

	(void)state;
	for (i = 0; i < test_vectors_count; i++) {
		if (test_vectors[i].cn == NULL)
			continue;
		der = vector_part1(test_vectors[i].file, &len);
		/* The modem's quirk is really in the vectors. */
		assert_true(contains(der, len, explicit_null_alg, sizeof(explicit_null_alg)));
		if (csr_exact(der, len, &c, &err) != 0)
			fail_msg("%s: %s", test_vectors[i].file, err.msg);
		assert_string_equal(nrfca_csr_cn(c), test_vectors[i].cn);
		assert_string_equal(nrfca_csr_key_desc(c), "EC P-256");
		assert_int_equal(nrfca_csr_key_type(c), EVP_PKEY_EC);
		assert_int_equal(nrfca_csr_curve_nid(c), NID_X9_62_prime256v1);
		assert_int_equal(nrfca_csr_key_bits(c), 256);
		assert_int_equal(nrfca_csr_key_usage(c, &present), 0x17);
		assert_true(present);
		assert_non_null(nrfca_csr_subject(c));
		assert_int_equal(X509_NAME_entry_count(nrfca_csr_subject(c)), 1);
		assert_spki_carried(c);
		d = nrfca_csr_der(c, &dlen);
		assert_int_equal(dlen, len);
		assert_memory_equal(d, der, len);
		nrfca_csr_sha256(c, h);
		nrfca_hex_encode(h, 32, hex);
		assert_string_equal(hex, test_vectors[i].sha256);
		spki_len = i2d_PUBKEY(nrfca_csr_pubkey(c), &spki);
		assert_true(spki_len > 0);
		EVP_Digest(spki, (size_t)spki_len, h, NULL, EVP_sha256(), NULL);
		nrfca_csr_spki_sha256(c, spki_h);
		assert_memory_equal(h, spki_h, 32);
		OPENSSL_free(spki);
		spki = NULL;
		/* PEM out and back in: the same bytes, LF line endings. */
		assert_int_equal(nrfca_csr_to_pem(c, &pem, &err), 0);
		assert_null(strchr(pem, '\r'));
		assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE REQUEST-----\n"));
		assert_int_equal(nrfca_csr_from_pem(pem, strlen(pem), &c2, &err), 0);
		d = nrfca_csr_der(c2, &dlen);
		assert_int_equal(dlen, len);
		assert_memory_equal(d, der, len);
		nrfca_csr_free(c2);
		free(pem);
		pem = NULL;
		nrfca_csr_free(c);
		free(der);
	}
}

static void test_der_damage(void **state)
{
	struct nrfca_csr *c = NULL;
	struct nrfca_err err = { 0 };
	unsigned char *der, *longer;
	size_t len, n, pos;
	int bit;

	(void)state;
	der = vector_part1("keygen-csr-sectag17.txt", &len);
	/* Every truncation fails. */
	for (n = 0; n < len; n++)
		assert_int_equal(csr_exact(der, n, &c, &err), -1);
	/* A byte after the DER fails. */
	longer = malloc(len + 1);
	memcpy(longer, der, len);
	longer[len] = 0;
	assert_int_equal(csr_exact(longer, len + 1, &c, &err), -1);
	assert_non_null(strstr(err.msg, "followed by 1 unexpected"));
	free(longer);
	/* Every single-bit flip fails, or (outside the signed part: the algorithm
	 * parameters) yields the same request. */
	for (pos = 0; pos < len; pos++) {
		for (bit = 0; bit < 8; bit++) {
			der[pos] ^= (unsigned char)(1 << bit);
			if (csr_exact(der, len, &c, &err) == 0) {
				assert_string_equal(nrfca_csr_cn(c), "50363154-3931-44f0-8022-121b6401627d");
				assert_string_equal(nrfca_csr_key_desc(c), "EC P-256");
				assert_int_equal(nrfca_csr_key_usage(c, NULL), 0x17);
				nrfca_csr_free(c);
			}
			der[pos] ^= (unsigned char)(1 << bit);
		}
	}
	/* A flipped bit in the signature value: a signature error. */
	der[len - 1] ^= 1;
	assert_int_equal(csr_exact(der, len, &c, &err), -1);
	assert_int_equal(err.code, NRFCA_E_CRYPTO);
	assert_non_null(strstr(err.msg, "self-signature does not verify"));
	free(der);
	/* Not a CSR at all: the public-key vector. */
	der = vector_part1("keygen-pubkey-sectag16.txt", &len);
	assert_int_equal(csr_exact(der, len, &c, &err), -1);
	assert_int_equal(csr_exact(der, 0, &c, &err), -1);
	free(der);
}

static void test_pem_intake(void **state)
{
	struct nrfca_csr *c = NULL, *ref = NULL;
	struct nrfca_err err = { 0 };
	unsigned char *der;
	char *pem = NULL, *text, *big;
	size_t len;

	(void)state;
	der = vector_part1("keygen-line-custom-cn.txt", &len);
	assert_int_equal(csr_exact(der, len, &ref, &err), 0);
	assert_int_equal(nrfca_csr_to_pem(ref, &pem, &err), 0);
	text = malloc(strlen(pem) * 2 + 64);
	/* CRLF line endings and surrounding white space are fine. */
	{
		const char *s;
		char *o = text;

		*o++ = '\n';
		for (s = pem; *s; s++) {
			if (*s == '\n')
				*o++ = '\r';
			*o++ = *s;
		}
		*o++ = ' ';
		*o = '\0';
	}
	assert_int_equal(nrfca_csr_from_pem(text, strlen(text), &c, &err), 0);
	assert_string_equal(nrfca_csr_cn(c), "nrf-355025930000000");
	nrfca_csr_free(c);
	c = NULL;
	/* Two blocks. */
	sprintf(text, "%s%s", pem, pem);
	assert_int_equal(nrfca_csr_from_pem(text, strlen(text), &c, &err), -1);
	assert_non_null(strstr(err.msg, "after the PEM CSR"));
	/* Text before the block. */
	sprintf(text, "hello\n%s", pem);
	assert_int_equal(nrfca_csr_from_pem(text, strlen(text), &c, &err), -1);
	/* Another label. */
	strcpy(text, pem);
	memcpy(strstr(text, "CERTIFICATE REQUEST"), "CERTIFICATE REQUESX", 19);
	assert_int_equal(nrfca_csr_from_pem(text, strlen(text), &c, &err), -1);
	/* Truncated. */
	assert_int_equal(nrfca_csr_from_pem(pem, strlen(pem) - 30, &c, &err), -1);
	/* Too large: refused before decoding. */
	big = malloc(NRFCA_CSR_PEM_MAX + 100);
	memset(big, '\n', NRFCA_CSR_PEM_MAX + 100);
	memcpy(big, pem, strlen(pem));
	assert_int_equal(nrfca_csr_from_pem(big, NRFCA_CSR_PEM_MAX + 100, &c, &err), -1);
	assert_int_equal(err.code, NRFCA_E_TOO_LARGE);
	assert_int_equal(nrfca_csr_from_pem(big, NRFCA_CSR_PEM_MAX, &c, &err), 0);
	nrfca_csr_free(c);
	free(big);
	free(text);
	free(pem);
	nrfca_csr_free(ref);
	free(der);
}

/* A CSR made here: key from `keyspec` ("P-384", "RSA"), optional CN and KU. */
static unsigned char *make_csr(EVP_PKEY *key, const char *cn, const char *ku, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	STACK_OF(X509_EXTENSION) *exts = NULL;
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	int n;

	X509_REQ_set_version(req, X509_REQ_VERSION_1);
	if (cn != NULL)
		X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)"Acme", -1, -1, 0);
	X509_REQ_set_subject_name(req, name);
	X509_REQ_set_pubkey(req, key);
	if (ku != NULL) {
		exts = sk_X509_EXTENSION_new_null();
		ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, ku);
		assert_non_null(ext);
		sk_X509_EXTENSION_push(exts, ext);
		X509_REQ_add_extensions(req, exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	n = i2d_X509_REQ(req, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	X509_NAME_free(name);
	X509_REQ_free(req);
	return der;
}

static void test_other_keys(void **state)
{
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	struct nrfca_csr *c = NULL;
	struct nrfca_err err = { 0 };
	unsigned char *der;
	size_t len;
	int present = 1;

	(void)state;
	der = make_csr(p384, "dev-1", "critical,keyCertSign,cRLSign", &len);
	assert_int_equal(csr_exact(der, len, &c, &err), 0);
	assert_string_equal(nrfca_csr_key_desc(c), "EC P-384");
	assert_int_equal(nrfca_csr_curve_nid(c), NID_secp384r1);
	assert_int_equal(nrfca_csr_key_usage(c, &present), NRFCA_KU_KEY_CERT_SIGN | NRFCA_KU_CRL_SIGN);
	assert_true(present);
	assert_int_equal(X509_NAME_entry_count(nrfca_csr_subject(c)), 2);
	assert_spki_carried(c);
	nrfca_csr_free(c);
	OPENSSL_free(der);

	der = make_csr(rsa, NULL, NULL, &len);
	assert_int_equal(csr_exact(der, len, &c, &err), 0);
	assert_string_equal(nrfca_csr_key_desc(c), "RSA 2048");
	assert_int_equal(nrfca_csr_key_type(c), EVP_PKEY_RSA);
	assert_int_equal(nrfca_csr_curve_nid(c), NID_undef);
	assert_int_equal(nrfca_csr_key_bits(c), 2048);
	assert_null(nrfca_csr_cn(c));
	assert_int_equal(nrfca_csr_key_usage(c, &present), 0);
	assert_false(present);
	assert_spki_carried(c);
	nrfca_csr_free(c);
	OPENSSL_free(der);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa);
}

static void test_spki(void **state)
{
	EVP_PKEY *pk = NULL;
	struct nrfca_err err = { 0 };
	unsigned char *der, *longer;
	char desc[48], *pem = NULL;
	size_t len, n;

	(void)state;
	der = vector_part1("keygen-pubkey-sectag16.txt", &len);
	assert_int_equal(nrfca_spki_from_der(der, len, &pk, &err), 0);
	nrfca_pkey_describe(pk, desc, sizeof(desc));
	assert_string_equal(desc, "EC P-256");
	EVP_PKEY_free(pk);
	pk = NULL;
	for (n = 0; n < len; n++)
		assert_int_equal(nrfca_spki_from_der(der, n, &pk, &err), -1);
	longer = malloc(len + 2);
	memcpy(longer, der, len);
	longer[len] = longer[len + 1] = 0;
	assert_int_equal(nrfca_spki_from_der(longer, len + 2, &pk, &err), -1);
	assert_non_null(strstr(err.msg, "followed by 2"));
	assert_int_equal(nrfca_der_to_pem("PUBLIC KEY", der, len, &pem, &err), 0);
	assert_non_null(strstr(pem, "-----BEGIN PUBLIC KEY-----\n"));
	free(pem);
	free(longer);
	free(der);
}

/* A modem's CSR whose P-256 point is moved off the curve (its last byte
 * changed) is refused at the key, before its signature: the point must be
 * checked wherever the key is imported (ec_pkey: the P-256 template copy,
 * or EVP_PKEY_fromdata for other curves).  The same CSR intact is read. */
static void test_point_off_curve(void **state)
{
	struct nrfca_err err = { 0 };
	struct nrfca_csr *c = NULL;
	unsigned char *der;
	size_t len, i, at = 0;

	(void)state;
	der = vector_part1("keygen-csr-sectag17.txt", &len);
	assert_int_equal(nrfca_csr_from_der(der, len, &c, &err), 0);
	nrfca_csr_free(c);
	c = NULL;
	/* the point: BIT STRING of 66 bytes (03 42 00 04 X Y) */
	for (i = 0; i + 4 + 64 < len; i++)
		if (der[i] == 0x03 && der[i + 1] == 0x42 && der[i + 2] == 0x00 && der[i + 3] == 0x04) {
			at = i + 4 + 63;
			break;
		}
	assert_true(at != 0);
	for (i = 1; i < 4; i++) {
		der[at] ^= (unsigned char)i;
		assert_int_equal(nrfca_csr_from_der(der, len, &c, &err), -1);
		assert_null(c);
		assert_non_null(strstr(err.msg, "public key cannot be decoded"));
		der[at] ^= (unsigned char)i;
	}
	free(der);
}

/* A CSR over `key` signed with `md` (RSA-PSS padding when pss). */
static unsigned char *make_csr_md(EVP_PKEY *key, const EVP_MD *md, int pss, size_t *len)
{
	X509_REQ *req = X509_REQ_new();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *der = NULL;
	int n;

	X509_REQ_set_version(req, X509_REQ_VERSION_1);
	X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_UTF8,
				   (const unsigned char *)"dev-md", -1, -1, 0);
	X509_REQ_set_pubkey(req, key);
	assert_int_equal(EVP_DigestSignInit(ctx, &pctx, md, NULL, key), 1);
	if (pss)
		assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0);
	assert_true(X509_REQ_sign_ctx(req, ctx) > 0);
	n = i2d_X509_REQ(req, &der);
	assert_true(n > 0);
	*len = (size_t)n;
	EVP_MD_CTX_free(ctx);
	X509_REQ_free(req);
	return der;
}

/* Proof of possession needs a collision-resistant digest: MD5, SHA-1 and
 * SHA-224 signatures are refused with the algorithm named; SHA-256 and
 * stronger, RSA-PSS over them, Ed25519 are accepted. */
static void test_weak_signatures(void **state)
{
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	EVP_PKEY *rsa = EVP_RSA_gen(2048);
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	struct {
		EVP_PKEY *key;
		const EVP_MD *md;
		int pss;
		const char *refused; /* NULL: accepted; else the name in the message */
	} cases[] = {
		{ ec, EVP_sha1(), 0, "ecdsa-with-SHA1" },
		{ ec, EVP_sha224(), 0, "ecdsa-with-SHA224" },
		{ ec, EVP_sha256(), 0, NULL },
		{ ec, EVP_sha384(), 0, NULL },
		{ ec, EVP_sha512(), 0, NULL },
		{ rsa, EVP_md5(), 0, "md5WithRSAEncryption" },
		{ rsa, EVP_sha1(), 0, "sha1WithRSAEncryption" },
		{ rsa, EVP_sha1(), 1, "RSASSA-PSS with SHA1" },
		{ rsa, EVP_sha256(), 1, NULL },
		{ rsa, EVP_sha256(), 0, NULL },
		{ ed, NULL, 0, NULL },
	};
	size_t i, len;

	(void)state;
	assert_non_null(ed);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nrfca_csr *c = NULL;
		struct nrfca_err err = { 0 };
		unsigned char *der = make_csr_md(cases[i].key, cases[i].md, cases[i].pss, &len);
		int rc = csr_exact(der, len, &c, &err);

		if (cases[i].refused == NULL) {
			if (rc != 0)
				fail_msg("case %zu refused: %s", i, err.msg);
		} else {
			if (rc == 0)
				fail_msg("case %zu (%s) accepted", i, cases[i].refused);
			if (strstr(err.msg, cases[i].refused) == NULL || err.code != NRFCA_E_INPUT)
				fail_msg("case %zu: '%s' does not name %s", i, err.msg, cases[i].refused);
		}
		nrfca_csr_free(c);
		OPENSSL_free(der);
	}
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_vectors),
		cmocka_unit_test(test_der_damage),
		cmocka_unit_test(test_pem_intake),
		cmocka_unit_test(test_other_keys),
		cmocka_unit_test(test_spki),
		cmocka_unit_test(test_point_off_curve),
		cmocka_unit_test(test_weak_signatures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
