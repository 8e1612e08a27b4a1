/*
 * RFC 3339 in and out: dates and date-times with any offset are read to the
 * same unix second `date -d` gives; everything else is refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "timefmt.h"

static void expect_time(const char *s, long long want)
{
	long long got = -1;

	if (nrfca_time_parse(s, &got) != 0)
		fail_msg("'%s' refused, want %lld", s, want);
	if (got != want)
		fail_msg("'%s' -> %lld, want %lld", s, got, want);
}

static void expect_refused(const char *s)
{
	long long got = 12345;

	if (nrfca_time_parse(s, &got) == 0)
		fail_msg("'%s' accepted as %lld", s, got);
	assert_int_equal(got, 12345);
}

static void test_accepted(void **state)
{
	(void)state;
	expect_time("1970-01-01", 0);
	expect_time("2026-01-01", 1767225600);
	expect_time("2024-02-29", 1709164800);
	expect_time("2000-03-01T00:00:00Z", 951868800);
	expect_time("2026-03-02T10:15:04Z", 1772446504);
	expect_time("2026-03-02t10:15:04z", 1772446504);
	expect_time("2026-03-02 10:15:04Z", 1772446504);
	expect_time("2026-03-02T10:15:04.999Z", 1772446504);
	expect_time("2026-03-02T11:15:04+01:00", 1772446504);
	expect_time("2026-03-02T05:45:04-04:30", 1772446504);
	expect_time("2016-12-31T23:59:60Z", 1483228799);
	expect_time("9999-12-31T23:59:59Z", 253402300799LL);
}

static void test_refused(void **state)
{
	(void)state;
	expect_refused("");
	expect_refused("2026");
	expect_refused("2026-1-01");
	expect_refused("2026-13-01");
	expect_refused("2026-00-10");
	expect_refused("2026-02-29");
	expect_refused("1900-02-29");
	expect_refused("2026-04-31");
	expect_refused("1969-12-31");
	expect_refused("2026-01-01T");
	expect_refused("2026-01-01T10:00Z");
	expect_refused("2026-01-01T10:00:00");
	expect_refused("2026-01-01T24:00:00Z");
	expect_refused("2026-01-01T10:60:00Z");
	expect_refused("2026-01-01T10:00:61Z");
	expect_refused("2026-01-01T10:00:00.Z");
	expect_refused("2026-01-01T10:00:00+0100");
	expect_refused("2026-01-01T10:00:00+24:00");
	expect_refused("2026-01-01T10:00:00Zjunk");
	expect_refused("2026-01-01junk");
	expect_refused(" 2026-01-01");
	expect_refused("1767225600");
	expect_refused("2026-01-01T10:00:00.0000000000000000000000000Z");
	expect_refused(NULL);
}

static void test_iso_round_trip(void **state)
{
	char buf[NRFCA_TIME_ISO_LEN];
	long long t;

	(void)state;
	nrfca_time_iso(1772446504, buf);
	assert_string_equal(buf, "2026-03-02T10:15:04Z");
	assert_int_equal(nrfca_time_parse(buf, &t), 0);
	assert_int_equal(t, 1772446504);
	nrfca_time_iso(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_iso_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
