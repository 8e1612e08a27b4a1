/*
 * Fuzz the policy loader: any bytes are either refused with a message or
 * loaded into a policy that can be decided on and freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static enum nrfca_identity_verdict fake_identity(void *ctx, char *detail, size_t len,
						 unsigned *retry_after)
{
	(void)ctx;
	snprintf(detail, len, "fuzz");
	*retry_after = 1;
	return NRFCA_IDENTITY_UNAVAILABLE;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_policy *p = NULL;
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_err err = { 0 };
	static const char *const groups[] = { "hall-a", "fuzz" };
	char warn[1024];
	size_t i;

	if (nrfca_policy_load_buffer(data, size, "fuzz.json", NRFCA_POLICY_DIR, &p, &err) != 0) {
		if (err.msg[0] == '\0' || memchr(err.msg, '\0', sizeof(err.msg)) == NULL)
			__builtin_trap();  /* every refusal carries a message */
		return 0;
	}
	memset(&f, 0, sizeof(f));
	f.station = "fuzz";
	f.cn = "50363953-3234-4723-80b9-1503d88271bf";
	f.attested_uuid = f.cn;
	f.key_type = EVP_PKEY_EC;
	f.curve_nid = NID_X9_62_prime256v1;
	f.has_attestation = 1;
	f.binding_ok = 1;
	f.payload_id = 9;
	f.groups = groups;
	f.n_groups = 2;
	f.known_device = NRFCA_KNOWN_YES;
	f.identity = fake_identity;
	for (i = 0; i < nrfca_policy_profile_count(p); i++) {
		f.profile = nrfca_profile_name(nrfca_policy_profile_at(p, i));
		f.existing = NRFCA_EXISTING_NONE;
		nrfca_policy_decide(p, &f, &d, NULL);
		f.existing = NRFCA_EXISTING_OTHER_KEY;
		f.existing_station = "other";
		f.existing_groups = groups;
		f.n_existing_groups = 1;
		nrfca_policy_decide(p, &f, &d, NULL);
		nrfca_profile_trust_warning(nrfca_policy_profile_at(p, i), warn, sizeof(warn));
	}
	nrfca_policy_unref(p);
	return 0;
}
