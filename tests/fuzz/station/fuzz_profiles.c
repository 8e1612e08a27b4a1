/* libFuzzer target: the CA's answer to GET /v1/profiles as the station
 * parses it (nrfca_preflight_pick), then the checks against the picked
 * profile.  The answer comes from the network: malformed JSON, huge lists,
 * hostile patterns and ranges must fail cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "preflight.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { NULL, "imei", "nrf-cloud-mqtt" };
	struct nrfca_station_profile p;
	struct nrfca_err e;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (nrfca_preflight_pick((const char *)data, size, names[i], &p, &e) != 0)
			continue;
		(void)nrfca_preflight_request(&p, 0, 16842753, NULL, &e);
		(void)nrfca_preflight_request(&p, 1, 7, "nrf-imei", &e);
		(void)nrfca_preflight_request(&p, 0, 4294967295u, "nrf-352656109480783", &e);
		(void)nrfca_preflight_cn(&p, "nrf-352656109480783", "352656109480783",
					 "50345053-3639-49c0-80fe-172000f3296d", &e);
		(void)nrfca_preflight_cn(&p, NULL, "352656109480783", "", &e);
		nrfca_station_profile_clear(&p);
	}
	return 0;
}
