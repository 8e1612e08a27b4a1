/*
 * The published CRL (schema 3): one CRL for every process and instance
 * sharing the ledger.  Publishing keeps the highest number (a slower signer
 * cannot go back), the state read is one row without the DER, the DER comes
 * back byte for byte, and a v2 ledger gains the columns with nothing
 * published.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ledger_test.h"

static void test_crl_publish_highest_wins(void **state)
{
	struct nrfca_err err = { 0 };
	struct ledger *l = open_fresh("crl.db", NULL), *other;
	struct ledger_crl c = { 0 }, got;
	unsigned char der1[300], der2[40], *der = NULL;
	size_t len = 0;
	long long mark = -1;
	int published = -1;

	(void)state;
	memset(der1, 0xa1, sizeof(der1));
	memset(der2, 0xb2, sizeof(der2));
	/* nothing published yet */
	assert_int_equal(ledger_crl_state(l, &got, &err), 0);
	assert_int_equal(got.number, 0);
	assert_int_equal(ledger_crl_get(l, &got, &der, &len, &err), 1);
	assert_null(der);

	c.number = 1000;
	c.this_update = 1700000000;
	c.next_update = 1700086400;
	c.mark = 0;
	assert_int_equal(ledger_crl_publish(l, &c, der1, sizeof(der1), &published, &err), 0);
	assert_int_equal(published, 1);
	/* a second handle (another process or instance) sees it */
	other = open_again("crl.db", NULL);
	assert_int_equal(ledger_crl_state(other, &got, &err), 0);
	assert_int_equal(got.number, 1000);
	assert_int_equal(got.this_update, 1700000000);
	assert_int_equal(got.next_update, 1700086400);
	assert_int_equal(got.mark, 0);
	assert_int_equal(got.revocation_mark, 0);
	assert_int_equal(ledger_crl_get(other, &got, &der, &len, &err), 0);
	assert_int_equal(len, sizeof(der1));
	assert_memory_equal(der, der1, sizeof(der1));
	free(der);
	der = NULL;

	/* a lower or equal number does not replace it */
	c.number = 999;
	assert_int_equal(ledger_crl_publish(other, &c, der2, sizeof(der2), &published, &err), 0);
	assert_int_equal(published, 0);
	c.number = 1000;
	assert_int_equal(ledger_crl_publish(other, &c, der2, sizeof(der2), &published, &err), 0);
	assert_int_equal(published, 0);
	assert_int_equal(ledger_crl_get(l, &got, &der, &len, &err), 0);
	assert_memory_equal(der, der1, sizeof(der1));
	free(der);
	der = NULL;

	/* a revocation moves the ledger's mark past the published CRL's */
	{
		struct cert_record r;

		make_rec(&r, 7, 1, "dev-crl", "p", "s", 100);
		issue(l, &r);
		assert_int_equal(ledger_revoke(l, r.serial, CRL_REASON_KEY_COMPROMISE, "op", NULL, &err), 0);
		cert_record_clear(&r);
	}
	assert_int_equal(ledger_revocation_mark(other, &mark, &err), 0);
	assert_int_equal(ledger_crl_state(other, &got, &err), 0);
	assert_int_equal(got.revocation_mark, mark);
	assert_true(got.revocation_mark != got.mark);
	c.number = 1001;
	c.mark = mark;
	assert_int_equal(ledger_crl_publish(other, &c, der2, sizeof(der2), &published, &err), 0);
	assert_int_equal(published, 1);
	assert_int_equal(ledger_crl_get(l, &got, &der, &len, &err), 0);
	assert_int_equal(got.number, 1001);
	assert_int_equal(got.mark, got.revocation_mark);
	assert_int_equal(len, sizeof(der2));
	assert_memory_equal(der, der2, sizeof(der2));
	free(der);

	/* refused input */
	c.number = 0;
	assert_int_equal(ledger_crl_publish(l, &c, der2, sizeof(der2), NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	c.number = 2000;
	assert_int_equal(ledger_crl_publish(l, &c, der2, 0, NULL, &err), -1);
	assert_int_equal(err.code, NRFCA_E_INPUT);
	assert_int_equal(verify_ok(l) > 0, 1);
	ledger_close(other);
	ledger_close(l);
	db_remove("crl.db");
}

const struct CMUnitTest ledger_crl_tests[] = {
	cmocka_unit_test(test_crl_publish_highest_wins),
};
const size_t ledger_crl_n = sizeof(ledger_crl_tests) / sizeof(ledger_crl_tests[0]);
