/*
 * CRL distribution point and caIssuers URLs of a profile
 * (extensions.crl_distribution_points, extensions.authority_info_access):
 * loaded in file order, and each mistake refused with its JSON path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pol_helpers.h"
#include "policy.h"

#define OV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static struct nrfca_policy *load(const char *const *ov, struct nrfca_err *err)
{
	struct nrfca_policy *p = NULL;
	char *json = profile_policy(ov);

	if (nrfca_policy_load_file(scratch_write("p.json", json), &p, err) != 0)
		p = NULL;
	free(json);
	return p;
}

static void expect_refusal(const char *ext, const char *path, const char *reason)
{
	struct nrfca_err err = { 0 };
	struct nrfca_policy *p = load(OV("extensions", ext), &err);
	const char *at;

	if (p != NULL) {
		nrfca_policy_unref(p);
		fail_msg("accepted %s", ext);
	}
	at = strstr(err.msg, ": $.");
	if (at == NULL || strncmp(at + 2, path, strlen(path)) != 0 ||
	    strstr(at, reason) == NULL)
		fail_msg("got  '%s'\nwant '%s: ...%s...'", err.msg, path, reason);
	assert_int_equal(err.code, NRFCA_E_CONFIG);
}

static void test_urls_loaded(void **state)
{
	struct nrfca_err err = { 0 };
	struct nrfca_policy *p;
	const struct nrfca_policy_ext *x;

	(void)state;
	p = load(OV("extensions",
		    "{\"crl_distribution_points\": [\"http://ca.example.com/v1/crl\", "
		    "\"ldap://dir.example.com/cn=CA?certificateRevocationList\"], "
		    "\"authority_info_access\": {\"ca_issuers\": [\"https://ca.example.com/v1/ca.der\"]}}"),
		 &err);
	if (p == NULL)
		fail_msg("%s", err.msg);
	x = nrfca_profile_extensions(nrfca_policy_profile_find(p, "p"));
	assert_int_equal(x->n_crl_dp, 2);
	assert_string_equal(x->crl_dp[0], "http://ca.example.com/v1/crl");
	assert_string_equal(x->crl_dp[1], "ldap://dir.example.com/cn=CA?certificateRevocationList");
	assert_int_equal(x->n_ca_issuers, 1);
	assert_string_equal(x->ca_issuers[0], "https://ca.example.com/v1/ca.der");
	/* the other extensions keep their defaults */
	assert_true(x->subject_key_id && x->authority_key_id && x->n_eku == 1);
	nrfca_policy_unref(p);

	/* absent: no extension */
	p = load(NULL, &err);
	if (p == NULL)
		fail_msg("%s", err.msg);
	x = nrfca_profile_extensions(nrfca_policy_profile_find(p, "p"));
	assert_int_equal(x->n_crl_dp, 0);
	assert_int_equal(x->n_ca_issuers, 0);
	nrfca_policy_unref(p);
}

static void test_url_mistakes(void **state)
{
	(void)state;
	expect_refusal("{\"crl_distribution_points\": \"http://ca.example.com/crl\"}",
		       "$.profiles[\"p\"].extensions.crl_distribution_points",
		       "must be an array of strings");
	expect_refusal("{\"crl_distribution_points\": []}",
		       "$.profiles[\"p\"].extensions.crl_distribution_points", "must not be empty");
	expect_refusal("{\"crl_distribution_points\": [\"ftp://ca.example.com/crl\"]}",
		       "$.profiles[\"p\"].extensions.crl_distribution_points[0]",
		       "is not an http://, https:// or ldap:// URL");
	expect_refusal("{\"crl_distribution_points\": [\"http://ok.example.com/crl\", \"http:///crl\"]}",
		       "$.profiles[\"p\"].extensions.crl_distribution_points[1]", "names no host");
	expect_refusal("{\"crl_distribution_points\": [\"http://ca.example.com/my crl\"]}",
		       "$.profiles[\"p\"].extensions.crl_distribution_points[0]",
		       "holds a space");
	expect_refusal("{\"crl_distribution_points\": [\"http://a/1\", \"http://a/2\", \"http://a/3\", "
		       "\"http://a/4\", \"http://a/5\"]}",
		       "$.profiles[\"p\"].extensions.crl_distribution_points", "more than 4 entries");
	expect_refusal("{\"authority_info_access\": {\"ocsp\": [\"http://ca.example.com/ocsp\"]}}",
		       "$.profiles[\"p\"].extensions.authority_info_access.ocsp", "unknown key");
	expect_refusal("{\"authority_info_access\": [\"http://ca.example.com/ca.der\"]}",
		       "$.profiles[\"p\"].extensions.authority_info_access", "must be an object");
	expect_refusal("{\"authority_info_access\": {\"ca_issuers\": [\"ca.example.com/ca.der\"]}}",
		       "$.profiles[\"p\"].extensions.authority_info_access.ca_issuers[0]",
		       "is not an http://");
}

static void test_check_report_names_urls(void **state)
{
	struct nrfca_err err = { 0 };
	char *json = profile_policy(OV("extensions",
				       "{\"crl_distribution_points\": [\"http://ca.example.com/v1/crl\"]}"));
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	assert_non_null(f);
	if (policy_check_file(scratch_write("r.json", json), f, &err) != 0)
		fail_msg("%s", err.msg);
	fclose(f);
	assert_non_null(strstr(buf, "CRL distribution point http://ca.example.com/v1/crl"));
	free(buf);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls_loaded),
		cmocka_unit_test(test_url_mistakes),
		cmocka_unit_test(test_check_report_names_urls),
	};

	return cmocka_run_group_tests(tests, scratch_group_setup, scratch_group_teardown);
}
