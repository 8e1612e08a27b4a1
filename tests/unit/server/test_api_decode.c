/* Unit tests of the request-body decoders (what a station or tool sends). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api_decode.h"

struct row {
	const char *body;
	enum api_status want;
	const char *msg;    /* substring of the reason */
};

static const struct row rows[] = {
	{ "", API_EMPTY_BODY, "empty" },
	{ "not json", API_INVALID_JSON, "not valid JSON" },
	{ "[1,2]", API_INVALID_REQUEST, "must be a JSON object" },
	{ "{\"keygen\": 5}", API_INVALID_REQUEST, "\"keygen\" must be a string" },
	{ "{\"csr\": null}", API_INVALID_REQUEST, "\"csr\" must be a string" },
	{ "{}", API_INVALID_REQUEST, "exactly one of" },
	{ "{\"keygen\": \"a\", \"csr\": \"b\"}", API_INVALID_REQUEST, "exactly one of" },
	{ "{\"keygen\": \"a\", \"keygen\": \"b\"}", API_INVALID_JSON, "duplicate" },
	{ "{\"keygen\": \"a\", \"colour\": 1}", API_INVALID_REQUEST, "unknown field \"colour\"" },
	{ "{\"keygen\": \"a\", \"profile\": \"\"}", API_INVALID_REQUEST, "\"profile\" must be" },
	{ "{\"keygen\": \"a\", \"profile\": \"a b\"}", API_INVALID_REQUEST, "printable" },
	{ "{\"keygen\": \"a\", \"profile\": \"a\\u0000b\"}", API_INVALID_JSON, "u0000 is not allowed" },
	{ "{\"keygen\": \"a\", \"request_id\": "
	  "\"0123456789012345678901234567890123456789012345678901234567890123456789\"}",
	  API_INVALID_REQUEST, "1 to 64" },
	{ "{\"keygen\": \"a\", \"imei\": \"35265610948078\"}", API_INVALID_REQUEST, "15 digits" },
	{ "{\"keygen\": \"a\", \"imei\": \"35265610948078x\"}", API_INVALID_REQUEST, "15 digits" },
	{ "{\"keygen\": \"a\", \"imei\": 352656109480783}", API_INVALID_REQUEST, "\"imei\" must be" },
	{ "{\"keygen\": \"a\", \"validity_days\": 0}", API_INVALID_REQUEST, "1 to 36500" },
	{ "{\"keygen\": \"a\", \"validity_days\": \"30\"}", API_INVALID_REQUEST, "integer" },
	{ "{\"keygen\": \"a\", \"x\": [[[[[[[[[1]]]]]]]]]}", API_INVALID_JSON, "deeper than 8" },
};

static void refusals(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char why[320] = "";
		struct enroll_req er;
		enum api_status st;
		json_t *j = NULL;

		st = api_parse_object(rows[i].body, strlen(rows[i].body), 8, &j, why, sizeof(why));
		if (st == API_OK) {
			st = api_decode_enroll(j, &er, why, sizeof(why));
			json_decref(j);
		}
		if (st != rows[i].want)
			fail_msg("row %zu '%s': status %s, want %s (%s)", i, rows[i].body,
				 api_status_code(st), api_status_code(rows[i].want), why);
		if (strstr(why, rows[i].msg) == NULL)
			fail_msg("row %zu '%s': reason '%s' lacks '%s'", i, rows[i].body, why,
				 rows[i].msg);
	}
}

static void accepted(void **state)
{
	const char *body = "{\"keygen\": \"%KEYGEN: \\\"abc.def\\\"\", \"profile\": \"imei\", "
			   "\"imei\": \"352656109480783\", \"request_id\": \"line3-0001\", "
			   "\"validity_days\": 365}";
	char why[320];
	struct enroll_req er;
	const char *reason;
	json_t *j = NULL;

	(void)state;
	assert_int_equal(api_parse_object(body, strlen(body), 8, &j, why, sizeof(why)), API_OK);
	assert_int_equal(api_decode_enroll(j, &er, why, sizeof(why)), API_OK);
	assert_string_equal(er.keygen, "%KEYGEN: \"abc.def\"");
	assert_int_equal(er.keygen_len, strlen("%KEYGEN: \"abc.def\""));
	assert_null(er.csr_pem);
	assert_string_equal(er.profile, "imei");
	assert_string_equal(er.imei, "352656109480783");
	assert_string_equal(er.request_id, "line3-0001");
	assert_int_equal(er.validity_days, 365);
	json_decref(j);

	assert_int_equal(api_parse_object("{\"reason\": \"keyCompromise\"}", 27, 8, &j, why,
					  sizeof(why)), API_OK);
	assert_int_equal(api_decode_revoke(j, &reason, why, sizeof(why)), API_OK);
	assert_string_equal(reason, "keyCompromise");
	json_decref(j);
	assert_int_equal(api_parse_object("{\"why\": 1}", 10, 8, &j, why, sizeof(why)), API_OK);
	assert_int_equal(api_decode_revoke(j, &reason, why, sizeof(why)), API_INVALID_REQUEST);
	assert_non_null(strstr(why, "unknown field \"why\""));
	json_decref(j);
}

/* Serials as people copy them: openssl x509 -serial (upper case),
 * -text (colons), with or without a leading zero. */
static void serials(void **state)
{
	static const struct {
		const char *in, *out;
	} ok[] = {
		{ "1a2b3c4d5e6f708192a3b4c5d6e7f801", "1a2b3c4d5e6f708192a3b4c5d6e7f801" },
		{ "1A2B3C4D5E6F708192A3B4C5D6E7F801", "1a2b3c4d5e6f708192a3b4c5d6e7f801" },
		{ "1a:2b:3c:4d:5e:6f:70:81:92:a3:b4:c5:d6:e7:f8:01", "1a2b3c4d5e6f708192a3b4c5d6e7f801" },
		{ "0A:2B", "0a2b" },
		{ "A2B", "0a2b" },
		{ "00ff", "ff" },
	};
	static const char *const bad[] = { "", ":", "xyz", "1a2b3c4d5e6f708192a3b4c5d6e7f8011",
					   "1a 2b", "0x1a", "1a::2b", ":1a", "1a:", "000" };
	char out[LEDGER_SERIAL_MAX + 1], why[200];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (api_serial(ok[i].in, out, why, sizeof(why)) != API_OK)
			fail_msg("'%s' refused: %s", ok[i].in, why);
		assert_string_equal(out, ok[i].out);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (api_serial(bad[i], out, why, sizeof(why)) == API_OK)
			fail_msg("'%s' accepted as '%s'", bad[i], out);
		assert_non_null(strstr(why, "hex"));
	}
}

/* issued_after: RFC 3339 dates and date-times, unix seconds. */
static void times(void **state)
{
	static const struct {
		const char *in;
		long long want;
	} ok[] = {
		{ "2026-01-01", 1767225600 },
		{ "2026-01-01T00:00:00Z", 1767225600 },
		{ "2026-01-01t00:00:00z", 1767225600 },
		{ "2026-01-01 00:00:00Z", 1767225600 },
		{ "2026-01-01T02:00:00+02:00", 1767225600 },
		{ "2025-12-31T19:30:00-04:30", 1767225600 },
		{ "2026-01-01T00:00:00.999Z", 1767225600 },
		{ "1767225600", 1767225600 },
		{ "2024-02-29", 1709164800 },
	};
	static const char *const bad[] = { "", "2026", "2026-13-01", "2026-02-30", "2025-02-29",
					   "2026-01-01T24:00:00Z", "2026-01-01T00:00:00",
					   "2026-01-01T00:00Z", "2026-01-01T00:00:00+2:00",
					   "2026-01-01T00:00:00+24:00", "26-01-01", "-5", "yesterday",
					   "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00.Z" };
	char why[200];
	long long t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (api_time(ok[i].in, &t, why, sizeof(why)) != API_OK)
			fail_msg("'%s' refused: %s", ok[i].in, why);
		if (t != ok[i].want)
			fail_msg("'%s' is %lld, want %lld", ok[i].in, t, ok[i].want);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (api_time(bad[i], &t, why, sizeof(why)) == API_OK)
			fail_msg("'%s' accepted as %lld", bad[i], t);
		assert_non_null(strstr(why, "RFC 3339"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refusals),
		cmocka_unit_test(accepted),
		cmocka_unit_test(serials),
		cmocka_unit_test(times),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
