/* policy_describe.c - the parts of a profile a station checks before it
 * asks (GET /v1/profiles): CN rule, sec_tags, inputs.  See policy.h. */
#include <string.h>

#include "policy_int.h"

const char *nrfca_profile_cn_source(const struct nrfca_profile *pr)
{
	switch (pr->cn_source) {
	case POL_CN_ATTESTED_UUID:
		return "attested_uuid";
	case POL_CN_IMEI:
		return "imei";
	case POL_CN_PATTERN:
		return "pattern";
	default:
		return "any";
	}
}

int nrfca_profile_imei_form(const struct nrfca_profile *pr, const char *form)
{
	if (pr->cn_source != POL_CN_IMEI)
		return 0;
	if (strcmp(form, "nrf-imei") == 0)
		return (pr->imei_forms & POL_IMEI_FORM_NRF) != 0;
	if (strcmp(form, "imei") == 0)
		return (pr->imei_forms & POL_IMEI_FORM_BARE) != 0;
	return 0;
}

const char *nrfca_profile_cn_pattern(const struct nrfca_profile *pr)
{
	return pr->has_re ? pr->pattern : NULL;
}

int nrfca_profile_cn_max(const struct nrfca_profile *pr)
{
	return pr->cn_max;
}

size_t nrfca_profile_sec_tag_range(const struct nrfca_profile *pr, size_t i, uint64_t *lo,
				   uint64_t *hi)
{
	if (!pr->has_sec_tags)
		return 0;
	if (i < pr->n_sec_tags) {
		*lo = pr->sec_tags[i].lo;
		*hi = pr->sec_tags[i].hi;
	}
	return pr->n_sec_tags;
}

int nrfca_profile_accepts(const struct nrfca_profile *pr, enum nrfca_policy_input in)
{
	return (unsigned)in < NRFCA_INPUT_MAX && (pr->inputs & (1u << in)) != 0;
}
