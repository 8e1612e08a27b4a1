/*
 * libFuzzer target for what nRF Cloud answers and what onboarding files hold:
 * the first byte picks the parser (0 the 202 answer, 1 a bulk operation
 * status, 2 an error summary, 3..5 an onboarding CSV / public-key CSV /
 * queue), the rest is its input.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nrfcloud.h"
#include "obcsv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_err e = { 0 };
	const char *p = (const char *)data + 1;
	size_t n = size - 1;

	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0: {
		char id[NRFCLOUD_ID_MAX + 1];

		if (nrfcloud_parse_accepted(p, n, id, &e) == 0 && strlen(id) > NRFCLOUD_ID_MAX)
			abort();
		break;
	}
	case 1: {
		struct nrfcloud_bulk b;

		if (nrfcloud_parse_bulk(p, n, &b, &e) == 0) {
			if (b.status >= NRFCLOUD_STATUS_MAX)
				abort();
			nrfcloud_bulk_clear(&b);
		}
		break;
	}
	case 2: {
		struct nrfcloud_row_error *v;
		size_t k, i;

		if (nrfcloud_parse_error_summary(p, n, 1000, &v, &k, &e) == 0) {
			for (i = 0; i < k; i++)
				if (v[i].row >= 1000 || v[i].row < -1 || strlen(v[i].message) >
				    NRFCLOUD_MAX_MESSAGE)
					abort();
			nrfcloud_row_errors_free(v, k);
		}
		break;
	}
	default: {
		struct nrfca_ob_set s;
		int kind = data[0] % 6 == 3 ? NRFCLOUD_ONBOARD_DEVICES :
			   data[0] % 6 == 4 ? NRFCLOUD_REGISTER_PUBLIC_KEYS : -1;

		if (nrfca_ob_parse("fuzz.csv", p, n, kind, &s, &e) == 0)
			nrfca_ob_set_clear(&s);
		break;
	}
	}
	return 0;
}
