/*
 * The expected-device file of a manufacturing order (ca-server/devlist.h):
 * both forms, normalisation, duplicates, and every mistake named with its
 * line number; nothing is returned when there is one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "devlist.h"

#define U1 "50363154-3931-44f0-8022-121b6401627d"
#define U2 "50363953-3234-4723-80b9-1503d88271bf"
#define IMEI "352656109480783"

static void parse_ok(const char *text, struct devlist *l)
{
	struct nrfca_err e = { 0 };
	char report[2048];

	if (devlist_parse(text, strlen(text), "order.txt", l, report, sizeof(report), NULL, NULL,
			  &e) != 0)
		fail_msg("refused: %s\n%s", e.msg, report);
}

static void parse_bad(const char *text, const char *first, const char *report_has)
{
	struct devlist l = { 0 };
	struct nrfca_err e = { 0 };
	char report[4096];

	if (devlist_parse(text, strlen(text), "order.txt", &l, report, sizeof(report), NULL, NULL,
			  &e) == 0)
		fail_msg("accepted, expected '%s'", first);
	assert_int_equal(l.n, 0);
	assert_null(l.ids);
	if (strstr(e.msg, first) == NULL)
		fail_msg("got '%s', expected '%s'", e.msg, first);
	if (report_has != NULL && strstr(report, report_has) == NULL)
		fail_msg("report '%s' lacks '%s'", report, report_has);
}

static void test_plain(void **state)
{
	struct devlist l;

	(void)state;
	parse_ok("# order 4711\n\n" U1 "\r\n  50363953-3234-4723-80B9-1503D88271BF  \n" IMEI "\n"
		 "nrf-" IMEI "\n" U1 "\n", &l);
	assert_int_equal(l.csv, 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.ids[0], U1);
	assert_string_equal(l.ids[1], U2);          /* lower case */
	assert_string_equal(l.ids[2], IMEI);
	assert_int_equal(l.duplicates, 2);          /* nrf-<IMEI> and U1 again */
	assert_int_equal(l.lines, 7);
	devlist_free(&l);
	/* no final line break */
	parse_ok(U1, &l);
	assert_int_equal(l.n, 1);
	devlist_free(&l);
}

static void test_csv(void **state)
{
	struct devlist l;

	(void)state;
	parse_ok("# order 4711\nserial,Device_ID,imei\nA17," U1 "," IMEI "\n\"A,18\",\"" U2 "\",\n", &l);
	assert_int_equal(l.csv, 1);
	assert_string_equal(l.column, "device_id");
	assert_int_equal(l.n, 2);
	assert_string_equal(l.ids[0], U1);
	assert_string_equal(l.ids[1], U2);
	devlist_free(&l);
	parse_ok("serial,imei\nA1,nrf-" IMEI "\n\"x\"\"y\",\"" IMEI "\"\n", &l);
	assert_string_equal(l.column, "imei");
	assert_int_equal(l.n, 1);
	assert_int_equal(l.duplicates, 1);
	devlist_free(&l);
}

static void test_mistakes(void **state)
{
	char *big;
	size_t i;

	(void)state;
	parse_bad("# nothing\n\n", "lists no device", NULL);
	parse_bad(U1 "\nnot-a-device\n" U2 "\n", "order.txt line 2: 'not-a-device' is not a device UUID",
		  "order.txt line 2:");
	parse_bad(U1 "\n355025930000000\n", "line 2: IMEI 355025930000000 fails the Luhn check", NULL);
	parse_bad(U1 "\n35265610948078\n", "line 2:", NULL);
	parse_bad("serial,model\nA1,x\n", "line 1: a CSV header must name a device_id, uuid or imei column",
		  NULL);
	parse_bad("serial,uuid\nA1\n", "line 2: 1 field, the uuid column is field 2", NULL);
	parse_bad("serial,uuid\n\"A1," U1 "\n", "line 2: a quote is not closed", NULL);
	parse_bad("serial,uuid\n\"A1\"x," U1 "\n", "line 2: a quote is not closed or is followed by text",
		  NULL);
	{
		struct devlist l = { 0 };
		struct nrfca_err e = { 0 };

		assert_int_equal(devlist_parse(U1 "\n\0\n", 39, "order.txt", &l, NULL, 0, NULL, NULL,
					       &e), -1);
		assert_non_null(strstr(e.msg, "NUL byte"));
	}
	/* every problem is reported, with its line, up to the limit */
	parse_bad("x1\n" U1 "\nx3\nx4\n", "line 1:", "order.txt line 4:");
	big = malloc(64 * 30 + 1);
	big[0] = '\0';
	for (i = 0; i < 30; i++)
		strcat(big, "bad\n");
	parse_bad(big, "line 1:", "stopped after 20 problems");
	free(big);
	/* a line longer than the limit */
	big = malloc(DEVLIST_LINE_MAX + 10);
	memset(big, 'a', DEVLIST_LINE_MAX + 5);
	big[DEVLIST_LINE_MAX + 5] = '\0';
	parse_bad(big, "line 1: the line is longer than 4096 characters", NULL);
	free(big);
}

static void test_normalise(void **state)
{
	char out[DEVLIST_ID_MAX + 1], why[160];

	(void)state;
	assert_int_equal(devlist_normalise("nrf-" IMEI, 19, out, why, sizeof(why)), 0);
	assert_string_equal(out, IMEI);
	assert_int_equal(devlist_normalise("NRF-" IMEI, 19, out, why, sizeof(why)), -1);
	assert_int_equal(devlist_normalise("", 0, out, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "empty"));
	assert_int_equal(devlist_normalise("\x01\x02", 2, out, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "'?" "?'"));
}

/* a big order: 200,000 devices parse quickly and the progress callback runs */
static void progress_cb(void *arg, size_t lines, size_t done, size_t total)
{
	size_t *calls = arg;

	assert_true(done <= total);
	assert_true(lines > 0);
	(*calls)++;
}

static void test_big(void **state)
{
	const size_t n = 200000;
	struct nrfca_err e = { 0 };
	struct devlist l;
	size_t i, calls = 0, len = 0;
	char *buf = malloc(n * 37 + 1);

	(void)state;
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(buf + len, "%08zx-0000-4000-8000-%012zx\n", i, i);
	assert_int_equal(devlist_parse(buf, len, "big.txt", &l, NULL, 0, progress_cb, &calls, &e), 0);
	assert_int_equal(l.n, n);
	assert_int_equal(l.duplicates, 0);
	assert_true(calls >= 20);
	devlist_free(&l);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_normalise),
		cmocka_unit_test(test_big),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
