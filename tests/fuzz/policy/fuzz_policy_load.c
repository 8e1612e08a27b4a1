/*
 * Fuzz the policy loader: any bytes are either refused with a message or
 * loaded into a policy that can be decided on and freed.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_policy *p = NULL;
	struct nrfca_policy_decision d;
	struct nrfca_policy_facts f;
	struct nrfca_err err = { 0 };
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
	for (i = 0; i < nrfca_policy_profile_count(p); i++) {
		f.profile = nrfca_profile_name(nrfca_policy_profile_at(p, i));
		nrfca_policy_decide(p, &f, &d, NULL);
	}
	nrfca_policy_unref(p);
	return 0;
}
