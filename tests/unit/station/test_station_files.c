/* Unit tests of the station's own inputs and outputs: the station config
 * file, the onboarding CSV row and scan, and Retry-After parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caclient.h"
#include "nrf91.h"
#include "provision.h"
#include "stationcfg.h"

static int parse(const char *text, struct nrfca_stationcfg *c, struct nrfca_err *e)
{
	nrfca_stationcfg_init(c);
	return nrfca_stationcfg_parse("station.conf", text, strlen(text), "/etc/nrfca", c, e);
}

static void station_config(void **state)
{
	struct nrfca_stationcfg c;
	struct nrfca_err e = { 0 };

	(void)state;
	assert_int_equal(parse("# line 3\nserver = https://ca.example:8443\n"
			       "token_file = station.token\nsec_tag=16842753\n"
			       "line_ending = lf\nprofile = imei\n", &c, &e), 0);
	assert_string_equal(c.server, "https://ca.example:8443");
	assert_string_equal(c.token_file, "/etc/nrfca/station.token");
	assert_int_equal(c.sec_tag, 16842753);
	assert_int_equal(c.line_ending, NRF91_EOL_LF);
	assert_string_equal(c.profile, "imei");
	nrfca_stationcfg_clear(&c);

	assert_int_equal(parse("servr = x\n", &c, &e), -1);
	assert_non_null(strstr(e.msg, "servr"));
	assert_non_null(strstr(e.msg, "station.conf"));
	nrfca_stationcfg_clear(&c);
	assert_int_equal(parse("server = a\nserver = b\n", &c, &e), -1);
	nrfca_stationcfg_clear(&c);
	assert_int_equal(parse("sec_tag = -1\n", &c, &e), -1);
	nrfca_stationcfg_clear(&c);
	assert_int_equal(parse("line_ending = cr\n", &c, &e), -1);
	nrfca_stationcfg_clear(&c);
	assert_int_equal(parse("just a line\n", &c, &e), -1);
	nrfca_stationcfg_clear(&c);
}

static const char pem[] = "-----BEGIN CERTIFICATE-----\r\nMIIB\r\n-----END CERTIFICATE-----\r\n";

static void onboarding_row(void **state)
{
	struct nrfca_err e = { 0 };
	char *row = NULL;
	size_t rows = 0;
	int has = 0;

	(void)state;
	assert_int_equal(nrfca_onboard_row("50363154-3931-44f0-8022-121b6401627d", "", "line3|eu",
					   "APP|MODEM", pem, &row, &e), 0);
	assert_string_equal(row, "50363154-3931-44f0-8022-121b6401627d,,line3|eu,APP|MODEM,"
				 "\"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\"\n");
	/* the scanner counts the multi-line record once and finds the device */
	assert_int_equal(nrfca_csv_scan(row, strlen(row), "50363154-3931-44f0-8022-121b6401627d",
					&rows, &has, &e), 0);
	assert_int_equal(rows, 1);
	assert_int_equal(has, 1);
	assert_int_equal(nrfca_csv_scan(row, strlen(row), "other", &rows, &has, &e), 0);
	assert_int_equal(has, 0);
	free(row);
	/* fields that would break the CSV are refused */
	assert_int_equal(nrfca_onboard_row("a,b", "", "", "APP|MODEM", pem, &row, &e), -1);
	assert_int_equal(nrfca_onboard_row("a", "", "t\"x", "APP|MODEM", pem, &row, &e), -1);
	/* an unterminated quote is malformed */
	assert_int_equal(nrfca_csv_scan("a,,,,\"open\n", 11, "a", &rows, &has, &e), -1);
}

static void retry_after(void **state)
{
	(void)state;
	assert_int_equal(nrfca_ca_parse_retry_after("2"), 2);
	assert_int_equal(nrfca_ca_parse_retry_after("120"), 120);
	assert_int_equal(nrfca_ca_parse_retry_after(NULL), -1);
	assert_int_equal(nrfca_ca_parse_retry_after(""), -1);
	assert_int_equal(nrfca_ca_parse_retry_after("soon"), -1);
	assert_int_equal(nrfca_ca_parse_retry_after("-5"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(station_config),
		cmocka_unit_test(onboarding_row),
		cmocka_unit_test(retry_after),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
