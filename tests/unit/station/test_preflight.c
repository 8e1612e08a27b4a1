/* Unit tests of the station's preflight: the CA's profile list and the
 * checks of --id, sec_tag and CN against a profile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "preflight.h"

static const char profiles[] =
	"{\"profiles\": ["
	"{\"name\": \"nrf-cloud-mqtt\", \"default\": true, \"trust_bundle\": \"PEM\","
	" \"cn\": {\"source\": \"attested_uuid\", \"max_length\": 64}, \"input\": [\"keygen\"]},"
	"{\"name\": \"imei\", \"default\": false, \"trust_bundle\": null,"
	" \"cn\": {\"source\": \"imei\", \"imei_forms\": [\"nrf-imei\"], \"max_length\": 64},"
	" \"sec_tags\": [16842753, \"100-200\"], \"input\": [\"keygen\"]},"
	"{\"name\": \"lab\", \"default\": false,"
	" \"cn\": {\"source\": \"pattern\", \"pattern\": \"^lab-[0-9]+$\", \"max_length\": 10},"
	" \"input\": [\"keygen\", \"csr\"]},"
	"{\"name\": \"old-server\"}"
	"]}";

static void pick(const char *name, struct nrfca_station_profile *p)
{
	struct nrfca_err e = { 0 };

	if (nrfca_preflight_pick(profiles, strlen(profiles), name, p, &e) != 0)
		fail_msg("%s: %s", name ? name : "(default)", e.msg);
}

static void test_pick(void **state)
{
	struct nrfca_station_profile p;
	struct nrfca_err e = { 0 };

	pick(NULL, &p);
	assert_string_equal(p.name, "nrf-cloud-mqtt");
	assert_string_equal(p.cn_source, "attested_uuid");
	assert_string_equal(p.trust_bundle, "PEM");
	nrfca_station_profile_clear(&p);
	pick("imei", &p);
	assert_int_equal(p.n_ranges, 2);
	assert_true(p.imei_nrf && !p.imei_bare);
	assert_null(p.trust_bundle);
	nrfca_station_profile_clear(&p);
	assert_int_equal(nrfca_preflight_pick(profiles, strlen(profiles), "nope", &p, &e), -1);
	assert_int_equal(e.code, NRFCA_E_NOTFOUND);
	assert_non_null(strstr(e.msg, "nrf-cloud-mqtt, imei, lab, old-server"));
	assert_int_equal(nrfca_preflight_pick("{\"profiles\": 3}", 15, NULL, &p, &e), -1);
	assert_int_equal(e.code, NRFCA_E_INPUT);
	{
		static const char badre[] = "{\"profiles\": [{\"name\": \"x\", \"cn\": "
					    "{\"source\": \"imei\", \"pattern\": \"(\"}}]}";

		assert_int_equal(nrfca_preflight_pick(badre, strlen(badre), "x", &p, &e), -1);
	}
	assert_non_null(strstr(e.msg, "regular expression"));
}

static void test_request(void **state)
{
	struct nrfca_station_profile p;
	struct nrfca_err e = { 0 };

	pick(NULL, &p);   /* attested UUID */
	assert_int_equal(nrfca_preflight_request(&p, 0, 16842753, NULL, &e), 0);
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "uuid", &e), 0);
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "nrf-imei", &e), -1);
	assert_non_null(strstr(e.msg, "[rule cn_uuid]"));
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "dev1", &e), -1);
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "50345053-3639-49c0-80fe-172000f3296d",
						 &e), 0);
	assert_int_equal(nrfca_preflight_request(&p, 1, 7, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "[rule input]"));
	nrfca_station_profile_clear(&p);

	pick("imei", &p);
	assert_int_equal(nrfca_preflight_request(&p, 0, 16842753, "nrf-imei", &e), 0);
	assert_int_equal(nrfca_preflight_request(&p, 0, 150, "nrf-imei", &e), 0);
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "nrf-imei", &e), -1);
	assert_non_null(strstr(e.msg, "[rule sec_tag]"));
	assert_int_equal(nrfca_preflight_request(&p, 0, 16842753, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "[rule cn_imei_form]"));
	assert_int_equal(nrfca_preflight_request(&p, 0, 16842753, "imei", &e), -1);
	assert_int_equal(nrfca_preflight_request(&p, 0, 16842753, "nrf-352656109480783", &e), 0);
	assert_int_equal(nrfca_preflight_request(&p, 0, 16842753, "nrf-352656109480784", &e), -1);
	assert_non_null(strstr(e.msg, "[rule luhn]"));
	/* the device check: the CN must name the modem's own IMEI */
	assert_int_equal(nrfca_preflight_cn(&p, "nrf-352656109480783", "352656109480783", "", &e), 0);
	assert_int_equal(nrfca_preflight_cn(&p, "nrf-490154203237518", "352656109480783", "", &e),
			 -1);
	assert_non_null(strstr(e.msg, "[rule imei_mismatch]"));
	nrfca_station_profile_clear(&p);

	pick("lab", &p);
	assert_int_equal(nrfca_preflight_request(&p, 1, 7, "lab-1", &e), 0);
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "lab-x", &e), -1);
	assert_non_null(strstr(e.msg, "[rule cn_pattern]"));
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "lab-1234567890", &e), -1);
	assert_non_null(strstr(e.msg, "[rule cn_length]"));
	/* --id nrf-imei passes the request check; the device check catches it */
	assert_int_equal(nrfca_preflight_request(&p, 0, 7, "nrf-imei", &e), 0);
	assert_int_equal(nrfca_preflight_cn(&p, "nrf-352656109480783", "352656109480783", "", &e),
			 -1);
	nrfca_station_profile_clear(&p);

	pick("old-server", &p);   /* no rules described: nothing second-guessed */
	assert_int_equal(nrfca_preflight_request(&p, 1, 7, "anything", &e), 0);
	assert_int_equal(nrfca_preflight_cn(&p, "x", "352656109480783", "", &e), 0);
	nrfca_station_profile_clear(&p);

	pick(NULL, &p);
	assert_int_equal(nrfca_preflight_cn(&p, NULL, "352656109480783",
					    "50345053-3639-49c0-80fe-172000f3296d", &e), 0);
	assert_int_equal(nrfca_preflight_cn(&p, "50345053-3639-49c0-80fe-172000f3296e",
					    "352656109480783",
					    "50345053-3639-49c0-80fe-172000f3296d", &e), -1);
	nrfca_station_profile_clear(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
