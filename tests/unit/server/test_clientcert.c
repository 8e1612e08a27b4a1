/* Unit tests of clientcert.c: how a client certificate is named (SHA-256 of
 * the DER, RFC 2253 subject as openssl prints it) and how an operator's
 * subject is made canonical, so `token bind --subject` matches the server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "clientcert.h"

static void canonical_subjects(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "CN=line-3,O=Example", "CN=line-3,O=Example" },
		{ "CN=line-3, O=Example", "CN=line-3,O=Example" },
		{ "CN=a\\,b,O=Example,C=NO", "CN=a\\,b,O=Example,C=NO" },
		{ "CN=line-3", "CN=line-3" },
	};
	static const char *const bad[] = { "", "line-3", "XX=1", "CN=", "=x" };
	char out[LEDGER_CERT_SUBJECT_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct nrfca_err e = { 0 };

		if (clientcert_subject_canonical(ok[i].in, out, sizeof(out), &e) != 0)
			fail_msg("'%s' refused: %s", ok[i].in, e.msg);
		assert_string_equal(out, ok[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct nrfca_err e = { 0 };

		if (clientcert_subject_canonical(bad[i], out, sizeof(out), &e) == 0)
			fail_msg("'%s' accepted as '%s'", bad[i], out);
		assert_int_not_equal(e.msg[0], '\0');
	}
}

/* A certificate made as `openssl req -subj "/O=Example/CN=line-3"` does:
 * its name is the one `token bind --subject "CN=line-3,O=Example"` stores. */
static void certificate_names(void **state)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n = X509_get_subject_name(x);
	struct clientcert_id id;
	struct nrfca_err e = { 0 };
	unsigned char *der = NULL, want[32];
	char canon[LEDGER_CERT_SUBJECT_MAX + 1];
	int len;

	(void)state;
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_UTF8, (const unsigned char *)"Example", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)"line-3", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, k);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	len = i2d_X509(x, &der);
	assert_true(len > 0);
	assert_int_equal(clientcert_id_from_der(der, (size_t)len, &id, &e), 0);
	assert_int_equal(clientcert_subject_canonical("CN=line-3,O=Example", canon, sizeof(canon), &e), 0);
	assert_string_equal(id.subject, canon);
	EVP_Digest(der, (size_t)len, want, NULL, EVP_sha256(), NULL);
	assert_memory_equal(id.sha256, want, 32);
	assert_int_equal(clientcert_id_from_der(der, (size_t)len - 1, &id, &e), -1);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(canonical_subjects),
		cmocka_unit_test(certificate_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
