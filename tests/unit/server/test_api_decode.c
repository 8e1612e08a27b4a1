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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(refusals),
		cmocka_unit_test(accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
