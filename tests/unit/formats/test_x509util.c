/*
 * The end-entity extensions built as structures (x509util.c) must encode
 * exactly as OpenSSL's configuration syntax made them before ("CA:FALSE",
 * key usage names, extended key usage names and OIDs, "hash",
 * "keyid:always"): every key usage mask, critical or not, and the EKU lists
 * a policy may hold; SKI of EC and RSA keys; AKI from an issuer with and
 * without a subjectKeyIdentifier.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "x509util.h"

static EVP_PKEY *ec_key, *rsa_key;

static X509 *cert_with(EVP_PKEY *k)
{
	X509 *x = X509_new();

	assert_non_null(x);
	assert_int_equal(X509_set_pubkey(x, k), 1);
	return x;
}

/* the DER of x's only extension */
static int ext_der(X509 *x, unsigned char **der)
{
	assert_int_equal(X509_get_ext_count(x), 1);
	return i2d_X509_EXTENSION(X509_get_ext(x, 0), der);
}

/* one extension made from configuration text on a, directly on b: same DER */
static void same_as_conf(X509 *a, X509 *b, const X509 *issuer, int nid, const char *conf)
{
	X509V3_CTX ctx;
	unsigned char *da = NULL, *db = NULL;
	int la, lb;

	X509V3_set_ctx(&ctx, (X509 *)issuer, a, NULL, NULL, 0);
	assert_int_equal(nrfca_x509_add_ext(a, &ctx, nid, conf), 1);
	la = ext_der(a, &da);
	lb = ext_der(b, &db);
	assert_true(la > 0);
	assert_int_equal(lb, la);
	assert_memory_equal(db, da, (size_t)la);
	OPENSSL_free(da);
	OPENSSL_free(db);
	X509_free(a);
	X509_free(b);
}

static void basic_constraints(void **state)
{
	X509 *b;
	int crit;

	(void)state;
	for (crit = 0; crit <= 1; crit++) {
		b = cert_with(ec_key);
		assert_int_equal(nrfca_x509_add_basic_constraints_ee(b, crit), 1);
		same_as_conf(cert_with(ec_key), b, NULL, NID_basic_constraints,
			     crit ? "critical,CA:FALSE" : "CA:FALSE");
	}
}

static void key_usage(void **state)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ X509v3_KU_DIGITAL_SIGNATURE, "digitalSignature" },
		{ X509v3_KU_NON_REPUDIATION, "nonRepudiation" },
		{ X509v3_KU_KEY_ENCIPHERMENT, "keyEncipherment" },
		{ X509v3_KU_DATA_ENCIPHERMENT, "dataEncipherment" },
		{ X509v3_KU_KEY_AGREEMENT, "keyAgreement" },
		{ X509v3_KU_KEY_CERT_SIGN, "keyCertSign" },
		{ X509v3_KU_CRL_SIGN, "cRLSign" },
		{ X509v3_KU_ENCIPHER_ONLY, "encipherOnly" },
		{ X509v3_KU_DECIPHER_ONLY, "decipherOnly" },
	};
	unsigned combo, ku;
	size_t i, n;
	char conf[256];
	X509 *b;
	int crit;

	(void)state;
	for (combo = 1; combo < 512; combo++) {
		for (crit = 0; crit <= 1; crit++) {
			n = (size_t)snprintf(conf, sizeof(conf), "%s", crit ? "critical" : "");
			ku = 0;
			for (i = 0; i < 9; i++) {
				if (!(combo & (1u << i)))
					continue;
				ku |= names[i].bit;
				n += (size_t)snprintf(conf + n, sizeof(conf) - n, "%s%s",
						      n ? "," : "", names[i].name);
			}
			b = cert_with(ec_key);
			assert_int_equal(nrfca_x509_add_key_usage(b, ku, crit), 1);
			same_as_conf(cert_with(ec_key), b, NULL, NID_key_usage, conf);
		}
	}
}

static void eku(void **state)
{
	static const char *const lists[][4] = {
		{ "clientAuth" }, { "serverAuth", "clientAuth" },
		{ "1.3.6.1.5.5.7.3.2", "codeSigning", "1.2.3.4.5" },
		{ "emailProtection", "timeStamping", "OCSPSigning", "1.3.6.1.4.1.311.10.3.3" },
	};
	static const size_t len[] = { 1, 2, 3, 4 };
	char conf[256];
	size_t i, k, n;
	X509 *b;
	int crit;

	(void)state;
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		for (crit = 0; crit <= 1; crit++) {
			n = (size_t)snprintf(conf, sizeof(conf), "%s", crit ? "critical" : "");
			for (k = 0; k < len[i]; k++)
				n += (size_t)snprintf(conf + n, sizeof(conf) - n, "%s%s", n ? "," : "",
						      lists[i][k]);
			b = cert_with(ec_key);
			assert_int_equal(nrfca_x509_add_eku(b, lists[i], len[i], crit), 1);
			same_as_conf(cert_with(ec_key), b, NULL, NID_ext_key_usage, conf);
		}
	}
	b = cert_with(ec_key);
	assert_int_equal(nrfca_x509_add_eku(b, (const char *const[]){ "no such usage" }, 1, 0), 0);
	X509_free(b);
}

static void key_ids(void **state)
{
	X509 *issuer = cert_with(rsa_key), *bare = cert_with(ec_key), *b;
	EVP_PKEY *keys[2] = { ec_key, rsa_key };
	X509V3_CTX ctx;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		b = cert_with(keys[i]);
		assert_int_equal(nrfca_x509_add_ski(b), 1);
		same_as_conf(cert_with(keys[i]), b, NULL, NID_subject_key_identifier, "hash");
	}
	/* the issuer's own subjectKeyIdentifier names it */
	X509V3_set_ctx(&ctx, NULL, issuer, NULL, NULL, 0);
	assert_int_equal(nrfca_x509_add_ext(issuer, &ctx, NID_subject_key_identifier, "hash"), 1);
	b = cert_with(ec_key);
	assert_int_equal(nrfca_x509_add_aki(b, issuer), 1);
	same_as_conf(cert_with(ec_key), b, issuer, NID_authority_key_identifier, "keyid:always");
	/* an issuer without one: both refuse */
	b = cert_with(ec_key);
	assert_int_equal(nrfca_x509_add_aki(b, bare), 0);
	X509V3_set_ctx(&ctx, bare, b, NULL, NULL, 0);
	assert_int_equal(nrfca_x509_add_ext(b, &ctx, NID_authority_key_identifier, "keyid:always"), 0);
	X509_free(b);
	X509_free(issuer);
	X509_free(bare);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(basic_constraints),
		cmocka_unit_test(key_usage),
		cmocka_unit_test(eku),
		cmocka_unit_test(key_ids),
	};
	int rc;

	ec_key = EVP_EC_gen("P-256");
	rsa_key = EVP_RSA_gen(2048);
	if (ec_key == NULL || rsa_key == NULL)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	EVP_PKEY_free(ec_key);
	EVP_PKEY_free(rsa_key);
	return rc;
}
