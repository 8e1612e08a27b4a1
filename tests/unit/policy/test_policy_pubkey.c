/*
 * Profiles with "input": "public-key" (the JWT path): what the loader refuses,
 * what the engine allows (a registration under the attested UUID) and which
 * rule refuses the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/obj_mac.h>

#include "pol_helpers.h"
#include "policy.h"

#define UUID_UPPER "50363154-3931-44F0-8022-121B6401627D"
#define UUID_LOWER "50363154-3931-44f0-8022-121b6401627d"

static struct nrfca_policy *load(const char *const *overrides, struct nrfca_err *e)
{
	char *text = profile_policy(overrides);
	struct nrfca_policy *p = NULL;
	const char *path = scratch_write("p.json", text);

	free(text);
	if (nrfca_policy_load_file(path, &p, e) != 0)
		return NULL;
	return p;
}

static void refused(const char *const *overrides, const char *what)
{
	struct nrfca_err e = { 0 };
	struct nrfca_policy *p = load(overrides, &e);

	assert_null(p);
	if (strstr(e.msg, what) == NULL)
		fail_msg("'%s' does not say '%s'", e.msg, what);
}

static void load_rules(void **state)
{
	static const char *const ok[] = { "input", "\"public-key\"", NULL };
	static const char *const no_att[] = { "input", "\"public-key\"", "attestation",
					      "{\"required\": false}", "cn",
					      "{\"source\": \"any\"}", "on_existing", "\"reject\"",
					      NULL };
	static const char *const imei[] = { "input", "\"public-key\"", "cn",
					    "{\"source\": \"imei\"}", NULL };
	static const char *const csr_payload[] = { "input", "\"public-key\"", "attestation",
						   "{\"required\": true, \"payload\": \"csr\"}",
						   NULL };
	static const char *const ext[] = { "input", "\"public-key\"", "extensions",
					   "{\"subject_key_identifier\": true}", NULL };
	struct nrfca_err e = { 0 };
	struct nrfca_policy *p;

	(void)state;
	p = load(ok, &e);
	if (p == NULL)
		fail_msg("%s", e.msg);
	assert_string_equal(nrfca_profile_input_name(nrfca_policy_profile_find(p, "p")),
			    "public-key");
	nrfca_policy_unref(p);
	refused(no_att, "must require the attestation");
	refused(imei, "attested UUID only");
	refused(csr_payload, "contradicts");
	refused(ext, "makes no certificate");
}

static void shipped_profile(void **state)
{
	struct nrfca_err e = { 0 };
	struct nrfca_policy *p = NULL;
	const struct nrfca_profile *pr;

	(void)state;
	assert_int_equal(nrfca_policy_load_file(policy_dir_file("default.json"), &p, &e), 0);
	pr = nrfca_policy_profile_find(p, "nrf-cloud-jwt");
	assert_non_null(pr);
	assert_false(nrfca_profile_enabled(pr));   /* disabled by default, see the README */
	assert_string_equal(nrfca_profile_input_name(pr), "public-key");
	assert_string_equal(nrfca_profile_input_name(nrfca_policy_profile_find(p, "nrf-cloud-mqtt")),
			    "keygen");
	nrfca_policy_unref(p);
}

static void key_facts(struct nrfca_policy_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->profile = "p";
	f->station = "line-1";
	f->input = NRFCA_INPUT_PUBLIC_KEY;
	f->key_type = EVP_PKEY_EC;
	f->curve_nid = NID_X9_62_prime256v1;
	f->key_bits = 256;
	f->has_attestation = 1;
	f->binding_ok = 1;
	f->attested_uuid = UUID_UPPER;
	f->has_sec_tag = 1;
	f->sec_tag = 16;
	f->payload_id = 8;
	f->existing = NRFCA_EXISTING_NONE;
}

static void decide(void **state)
{
	static const char *const ok[] = { "input", "\"public-key\"", NULL };
	static const char *const keygen[] = { "input", "\"keygen\"", NULL };
	static const char *const anyp[] = { "input", "\"keygen\"", "attestation",
					    "{\"required\": true, \"payload\": \"any\"}", NULL };
	struct nrfca_err e = { 0 };
	struct nrfca_policy *p = load(ok, &e), *pk, *pa;
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;

	(void)state;
	assert_non_null(p);
	/* allowed: a registration under the attested UUID in lower case */
	key_facts(&f);
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), 0);
	assert_true(d.registration);
	assert_string_equal(d.device_id, UUID_LOWER);
	assert_int_equal(d.action, NRFCA_ACTION_ISSUE);
	/* a key the device already registered through this station: superseded */
	f.existing = NRFCA_EXISTING_OTHER_KEY;
	f.existing_station = "line-1";
	f.existing_serial = "01";
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), 0);
	assert_int_equal(d.action, NRFCA_ACTION_SUPERSEDE);
	/* station authority as for certificates: another station's registration
	 * is not replaced (supersede_from same_station by default) */
	f.existing_station = "line-2";
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "supersede_scope");
	assert_non_null(strstr(d.detail, "public-key registration 01"));
	/* refusals */
	key_facts(&f);
	f.input = NRFCA_INPUT_KEYGEN;
	f.payload_id = 9;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "input");
	assert_non_null(strstr(d.detail, "AT%KEYGEN=<sec_tag>,2,1"));
	key_facts(&f);
	f.payload_id = 9;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "payload_id");
	key_facts(&f);
	f.binding_ok = 0;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "attestation_binding");
	key_facts(&f);
	f.has_attestation = 0;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "attestation_required");
	key_facts(&f);
	f.curve_nid = NID_secp384r1;
	assert_int_equal(nrfca_policy_decide(p, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "key_curve");
	/* a certificate profile never registers a key: the payload rule, or no CN */
	pk = load(keygen, &e);
	assert_non_null(pk);
	key_facts(&f);
	assert_int_equal(nrfca_policy_decide(pk, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "payload_id");
	assert_false(d.registration);
	nrfca_policy_unref(pk);
	pa = load(anyp, &e);
	assert_non_null(pa);
	assert_int_equal(nrfca_policy_decide(pa, &f, &d, &e), -1);
	assert_string_equal(d.rule_name, "cn_missing");
	nrfca_policy_unref(pa);
	nrfca_policy_unref(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load_rules),
		cmocka_unit_test(shipped_profile),
		cmocka_unit_test(decide),
	};

	return cmocka_run_group_tests(tests, scratch_group_setup, scratch_group_teardown);
}
