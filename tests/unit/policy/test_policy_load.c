/*
 * Policy files with mistakes: each is refused with the file, the exact JSON
 * path and the reason.  Also size and nesting limits and list files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pol_helpers.h"
#include "policy.h"

/* Load text as <scratch>/bad.json; expect refusal "<file>: <path>: <reason...>". */
static void expect_refusal(const char *text, enum nrfca_errc code, const char *path,
			   const char *reason)
{
	struct nrfca_policy *p = NULL;
	struct nrfca_err err = { 0 };
	char want[2048], file[512];

	if ((size_t)snprintf(file, sizeof(file), "%s", scratch_write("bad.json", text)) >= sizeof(file))
		fail_msg("scratch path too long");
	if (nrfca_policy_load_file(file, &p, &err) == 0) {
		nrfca_policy_unref(p);
		fail_msg("accepted, expected refusal at %s", path);
	}
	assert_null(p);
	if ((size_t)snprintf(want, sizeof(want), "%s: %s: %s", file, path, reason) >= sizeof(want))
		fail_msg("expected message too long");
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("got  '%s'\nwant '%s...'", err.msg, want);
	assert_int_equal(err.code, code);
}

static void expect_profile_refusal(const char *const *ov, const char *path, const char *reason)
{
	char *json = profile_policy(ov);

	expect_refusal(json, NRFCA_E_CONFIG, path, reason);
	free(json);
}

#define OV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void test_base_profile_loads(void **state)
{
	struct nrfca_policy *p = NULL;
	struct nrfca_err err = { 0 };
	char *json = profile_policy(NULL);

	(void)state;
	if (nrfca_policy_load_file(scratch_write("ok.json", json), &p, &err) != 0)
		fail_msg("%s", err.msg);
	nrfca_policy_unref(p);
	free(json);
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_profile_refusal(OV("cnn", "{}"), "$.profiles[\"p\"].cnn", "unknown key");
	expect_profile_refusal(OV("cn", "{\"source\": \"imei\", \"forms\": []}"),
			       "$.profiles[\"p\"].cn.forms", "unknown key");
	expect_profile_refusal(OV("extensions", "{\"key_usage\": {\"bits\": [\"digitalSignature\"], \"crit\": true}}"),
			       "$.profiles[\"p\"].extensions.key_usage.crit", "unknown key");
	expect_refusal("{\"version\": 1, \"default_profile\": \"p\", \"profile\": {}}", NRFCA_E_CONFIG,
		       "$.profile", "unknown key");
}

static void test_wrong_types(void **state)
{
	(void)state;
	expect_profile_refusal(OV("enabled", "\"yes\""), "$.profiles[\"p\"].enabled",
			       "must be true or false");
	expect_profile_refusal(OV("validity", "{\"default_days\": \"365\", \"max_days\": 730}"),
			       "$.profiles[\"p\"].validity.default_days", "must be an integer");
	expect_profile_refusal(OV("validity", "{\"default_days\": 0, \"max_days\": 730}"),
			       "$.profiles[\"p\"].validity.default_days", "0 is out of range 1..36500");
	expect_profile_refusal(OV("stations", "[\"line-1\", 7]"), "$.profiles[\"p\"].stations[1]",
			       "must be a string");
	expect_profile_refusal(OV("cn", "[]"), "$.profiles[\"p\"].cn", "must be an object");
	expect_profile_refusal(OV("on_existing", "\"overwrite\""), "$.profiles[\"p\"].on_existing",
			       "\"overwrite\" is not one of \"reject\", \"replay\", \"supersede\"");
	expect_profile_refusal(OV("key", "{\"types\": [\"ec\"], \"curves\": [\"P-257\"]}"),
			       "$.profiles[\"p\"].key.curves[0]", "unknown curve \"P-257\"");
	expect_profile_refusal(OV("key", "{\"types\": [\"dsa\"]}"), "$.profiles[\"p\"].key.types[0]",
			       "unknown key type \"dsa\"");
	expect_profile_refusal(OV("sec_tags", "[16842753, \"9-3\"]"), "$.profiles[\"p\"].sec_tags[1]",
			       "range \"9-3\" is empty");
	expect_profile_refusal(OV("sec_tags", "[-1]"), "$.profiles[\"p\"].sec_tags[0]",
			       "-1 is outside the modem's sec_tag range 0..2147483647");
	expect_profile_refusal(OV("sec_tags", "[2147483648]"), "$.profiles[\"p\"].sec_tags[0]",
			       "2147483648 is outside the modem's sec_tag range 0..2147483647");
	expect_profile_refusal(OV("sec_tags", "[9223372036854775807]"), "$.profiles[\"p\"].sec_tags[0]",
			       "9223372036854775807 is outside the modem's sec_tag range 0..2147483647");
	expect_profile_refusal(OV("sec_tags", "[17, \"16842753-2147483648\"]"),
			       "$.profiles[\"p\"].sec_tags[1]",
			       "range \"16842753-2147483648\" is empty or beyond 2147483647");
	expect_profile_refusal(OV("sec_tags", "[\"1-99999999999999999999\"]"),
			       "$.profiles[\"p\"].sec_tags[0]",
			       "must be a sec_tag (integer) or a range \"FIRST-LAST\"");
	expect_profile_refusal(OV("supersede_from", "\"group\""), "$.profiles[\"p\"].supersede_from",
			       "\"group\" is not one of \"same_station\", \"station_group\", \"any\"");
	expect_profile_refusal(OV("groups", "[\"line 1\"]"), "$.profiles[\"p\"].groups[0]",
			       "\"line 1\" is not a group name");
	expect_profile_refusal(OV("groups", "\"hall-a\""), "$.profiles[\"p\"].groups",
			       "must be an array of strings");
	expect_profile_refusal(OV("require_known_device", "1"),
			       "$.profiles[\"p\"].require_known_device", "must be true or false");
	expect_profile_refusal(OV("attestation", "{\"required\": true, \"verify_with\": \"nordic\"}"),
			       "$.profiles[\"p\"].attestation.verify_with",
			       "\"nordic\" is not one of \"none\", \"nrf-cloud-identity\"");
	expect_profile_refusal(OV("attestation", "{\"required\": true, \"verify_with\": \"nrf-cloud-identity\", "
				  "\"on_unavailable\": \"allow\"}"),
			       "$.profiles[\"p\"].attestation.on_unavailable",
			       "\"allow\" is not one of \"refuse\", \"issue\"");
	expect_profile_refusal(OV("rate_limit", "{\"supersedes_per_station_per_hour\": -1}"),
			       "$.profiles[\"p\"].rate_limit.supersedes_per_station_per_hour",
			       "-1 is out of range 0..1000000");
	expect_profile_refusal(OV("extensions",
				  "{\"extended_key_usage\": {\"purposes\": [\"clientAuth\", \"clientAuthh\"]}}"),
			       "$.profiles[\"p\"].extensions.extended_key_usage.purposes[1]",
			       "\"clientAuthh\" is not a known purpose name or an OID");
	expect_profile_refusal(OV("subject", "{\"add\": {\"C\": \"Norway\"}}"),
			       "$.profiles[\"p\"].subject.add.C", "a country is two letters");
	expect_profile_refusal(OV("subject", "{\"add\": {\"CN\": \"x\"}}"),
			       "$.profiles[\"p\"].subject.add.CN", "CN is governed by \"cn\"");
	expect_profile_refusal(OV("subject", "{\"refuse\": [\"OU\"], \"ignore\": [\"OU\"]}"),
			       "$.profiles[\"p\"].subject.refuse[0]", "OU is listed in both");
	expect_refusal("{\"version\": 2, \"default_profile\": \"p\", \"profiles\": {}}", NRFCA_E_CONFIG,
		       "$.version", "2 is out of range 1..1");
	expect_refusal("{\"version\": 1, \"default_profile\": \"p\", \"profiles\": {\"a b\": {}}}",
		       NRFCA_E_CONFIG, "$.profiles[\"a b\"]", "a profile name is");
}

static void test_patterns(void **state)
{
	(void)state;
	expect_profile_refusal(OV("cn", "{\"source\": \"pattern\", \"pattern\": \"^dev-[0-9$\"}"),
			       "$.profiles[\"p\"].cn.pattern", "invalid regular expression: ");
	expect_profile_refusal(OV("cn", "{\"source\": \"pattern\", \"pattern\": \"dev-[0-9]+$\"}"),
			       "$.profiles[\"p\"].cn.pattern", "must be anchored");
	expect_profile_refusal(OV("cn", "{\"source\": \"pattern\", \"pattern\": \"^dev-[0-9]+\\\\$\"}"),
			       "$.profiles[\"p\"].cn.pattern", "must be anchored");
	expect_profile_refusal(OV("cn", "{\"source\": \"pattern\", \"pattern\": \"^(a)\\\\1$\"}"),
			       "$.profiles[\"p\"].cn.pattern", "back-references are not supported");
	expect_profile_refusal(OV("cn", "{\"source\": \"pattern\"}"),
			       "$.profiles[\"p\"].cn.pattern", "missing");
}

static void test_missing_files(void **state)
{
	char *json;
	(void)state;
	expect_profile_refusal(OV("trust_bundle", "[\"trust/none.pem\"]"),
			       "$.profiles[\"p\"].trust_bundle[0]", "cannot open ");
	scratch_write("notpem.pem", "hello\n");
	expect_profile_refusal(OV("trust_bundle", "[\"notpem.pem\"]"),
			       "$.profiles[\"p\"].trust_bundle[0]", "");
	expect_profile_refusal(OV("devices", "{\"deny_list\": \"lists/none.txt\"}"),
			       "$.profiles[\"p\"].devices.deny_list", "cannot open ");
	expect_profile_refusal(OV("attestation", "{\"required\": true, \"identity_keys\": [\"keys/\"]}"),
			       "$.profiles[\"p\"].attestation.identity_keys[0]", "cannot open ");
	scratch_write("keys/readme.txt", "no pem here\n");
	expect_profile_refusal(OV("attestation", "{\"required\": true, \"identity_keys\": [\"keys\"]}"),
			       "$.profiles[\"p\"].attestation.identity_keys[0]", "directory ");
	scratch_write("keys/bad.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
	expect_profile_refusal(OV("attestation", "{\"required\": true, \"identity_keys\": [\"keys\"]}"),
			       "$.profiles[\"p\"].attestation.identity_keys[0]", "");
	(void)json;
}

static void test_lists(void **state)
{
	struct nrfca_policy *p = NULL;
	struct nrfca_err err = { 0 };
	char *json;
	FILE *f;

	(void)state;
	scratch_write("deny.txt", "# comment\n50363154-3931-44f0-8022-121b6401627d\nnrf-352656109480783\n");
	expect_profile_refusal(OV("devices", "{\"deny_list\": \"deny.txt\"}"),
			       "$.profiles[\"p\"].devices.deny_list", "");
	json = profile_policy(OV("devices", "{\"deny_list\": \"deny.txt\"}"));
	scratch_write("bad.json", json);
	assert_int_equal(nrfca_policy_load_file(scratch_write("bad.json", json), &p, &err), -1);
	assert_non_null(strstr(err.msg, "deny.txt line 3: not a device UUID"));
	free(json);

	/* a list over 16 MiB is refused (sparse file) */
	f = fopen(scratch_write("huge.txt", ""), "w");
	assert_non_null(f);
	assert_int_equal(ftruncate(fileno(f), (off_t)NRFCA_POLICY_LIST_MAX + 1), 0);
	fclose(f);
	json = profile_policy(OV("devices", "{\"allow_list\": \"huge.txt\"}"));
	expect_refusal(json, NRFCA_E_TOO_LARGE, "$.profiles[\"p\"].devices.allow_list", "");
	free(json);
}

static void test_contradictions(void **state)
{
	(void)state;
	/* replay or supersede without a CN rule that identifies the device */
	expect_profile_refusal(OV("cn", "{\"source\": \"any\"}", "attestation", "{\"required\": true}",
				  "on_existing", "\"replay\""),
			       "$.profiles[\"p\"].on_existing", "\"replay\" needs a CN rule");
	expect_profile_refusal(OV("cn", "{\"source\": \"any\"}", "on_existing", "\"supersede\""),
			       "$.profiles[\"p\"].on_existing", "\"supersede\" needs a CN rule");
	/* validity default over max */
	expect_profile_refusal(OV("validity", "{\"default_days\": 800, \"max_days\": 730}"),
			       "$.profiles[\"p\"].validity.default_days", "800 is more than max_days 730");
	/* host-key profile that requires attestation */
	expect_profile_refusal(OV("input", "\"csr\"", "cn", "{\"source\": \"any\"}",
				  "on_existing", "\"reject\""),
			       "$.profiles[\"p\"].attestation.required",
			       "a profile with \"input\": \"csr\" (host-generated key) never sees");
	expect_profile_refusal(OV("input", "\"csr\"", "cn", "{\"source\": \"any\"}",
				  "attestation", NULL, "on_existing", "\"reject\"",
				  "sec_tags", "[16]"),
			       "$.profiles[\"p\"].sec_tags", "a profile with \"input\": \"csr\"");
	/* CN from the attestation that is optional */
	expect_profile_refusal(OV("attestation", "{\"required\": false}"),
			       "$.profiles[\"p\"].cn.source", "\"attested_uuid\" needs");
	/* end-entity with keyCertSign */
	expect_profile_refusal(OV("extensions", "{\"key_usage\": {\"bits\": [\"digitalSignature\", \"keyCertSign\"]}}"),
			       "$.profiles[\"p\"].extensions.key_usage.bits[1]",
			       "keyCertSign contradicts basicConstraints CA:FALSE");
	expect_profile_refusal(OV("key", "{\"types\": [\"rsa\"], \"curves\": [\"P-256\"], \"rsa_min_bits\": 2048}"),
			       "$.profiles[\"p\"].key.curves", "curves are given but");
	expect_profile_refusal(OV("cn", "{\"source\": \"attested_uuid\", \"imei_forms\": [\"imei\"]}"),
			       "$.profiles[\"p\"].cn.imei_forms", "only meaningful");
	expect_profile_refusal(OV("trust_bundle", NULL), "$.profiles[\"p\"].trust_bundle", "missing");
	/* the identity service would be skipped by a request without attestation */
	expect_profile_refusal(OV("cn", "{\"source\": \"imei\"}",
				  "attestation", "{\"verify_with\": \"nrf-cloud-identity\"}"),
			       "$.profiles[\"p\"].attestation.verify_with",
			       "asking the identity service needs \"required\": true");
	expect_profile_refusal(OV("attestation", "{\"required\": true, \"on_unavailable\": \"issue\"}"),
			       "$.profiles[\"p\"].attestation.on_unavailable",
			       "only meaningful with \"verify_with\": \"nrf-cloud-identity\"");

	/* default profile */
	expect_refusal("{\"version\": 1, \"profiles\": {\"p\": {\"enabled\": false, \"input\": \"keygen\"}}}",
		       NRFCA_E_CONFIG, "$.profiles[\"p\"].cn", "missing");
	{
		char *json = profile_policy(OV("enabled", "false"));
		expect_refusal(json, NRFCA_E_CONFIG, "$.default_profile", "profile \"p\" is disabled");
		free(json);
	}
}

static void test_syntax_and_limits(void **state)
{
	char *big, *deep;
	size_t i, n;

	(void)state;
	/* invalid JSON names the line */
	{
		struct nrfca_policy *p = NULL;
		struct nrfca_err err = { 0 };
		const char *f = scratch_write("syntax.json", "{\n \"version\": 1,\n \"profiles\": {,}\n}\n");

		assert_int_equal(nrfca_policy_load_file(f, &p, &err), -1);
		assert_non_null(strstr(err.msg, ": line 3, column"));
		assert_non_null(strstr(err.msg, "invalid JSON"));
		f = scratch_write("dup.json", "{\"version\": 1, \"version\": 1}");
		assert_int_equal(nrfca_policy_load_file(f, &p, &err), -1);
		assert_non_null(strstr(err.msg, "duplicate"));
	}
	/* over 1 MiB */
	n = NRFCA_POLICY_FILE_MAX + 10;
	big = malloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"version\": 1}", 14);
	big[n] = '\0';
	{
		struct nrfca_policy *p = NULL;
		struct nrfca_err err = { 0 };

		assert_int_equal(nrfca_policy_load_file(scratch_write("big.json", big), &p, &err), -1);
		assert_int_equal(err.code, NRFCA_E_TOO_LARGE);
		assert_int_equal(nrfca_policy_load_buffer(big, n, "mem", ".", &p, &err), -1);
		assert_int_equal(err.code, NRFCA_E_TOO_LARGE);
	}
	free(big);
	/* nesting deeper than allowed */
	deep = malloc(4096);
	n = (size_t)sprintf(deep, "{\"version\": 1, \"description\": \"x\", \"profiles\": {\"p\": {\"cn\": ");
	for (i = 0; i < 20; i++)
		deep[n++] = '[';
	for (i = 0; i < 20; i++)
		deep[n++] = ']';
	strcpy(deep + n, "}}}");
	expect_refusal(deep, NRFCA_E_CONFIG, "$.profiles[\"p\"].cn[0][0][0][0][0]",
		       "nested deeper than 8 levels");
	free(deep);
}

static void test_check_file_report(void **state)
{
	char *json = profile_policy(OV("cn", "{\"source\": \"imei\", \"pattern\": \"^nrf-[0-9+$\"}"));
	char *report = NULL;
	size_t rl = 0;
	FILE *rep;
	struct nrfca_err err = { 0 };
	const char *f;

	(void)state;
	f = scratch_write("check.json", json);
	free(json);
	rep = open_memstream(&report, &rl);
	assert_int_equal(policy_check_file(f, rep, &err), -1);
	fclose(rep);
	assert_non_null(strstr(report, "$.profiles[\"p\"].cn.pattern: invalid regular expression: "));
	assert_non_null(strstr(report, f));
	free(report);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_profile_loads),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_patterns),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_contradictions),
		cmocka_unit_test(test_syntax_and_limits),
		cmocka_unit_test(test_check_file_report),
	};

	return cmocka_run_group_tests(tests, scratch_group_setup, scratch_group_teardown);
}
