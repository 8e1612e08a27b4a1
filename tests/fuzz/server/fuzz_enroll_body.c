/* libFuzzer target: the HTTP request bodies of nrfca-server (JSON object
 * parsing with the depth limit, the enroll and revoke decoders). */
#include <stddef.h>
#include <stdint.h>

#include "api_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[320];
	struct enroll_req er;
	const char *reason;
	json_t *j = NULL;

	if (size > 65536)
		return 0;
	if (api_parse_object((const char *)data, size, 8, &j, why, sizeof(why)) != API_OK)
		return 0;
	(void)api_decode_enroll(j, &er, why, sizeof(why));
	(void)api_decode_revoke(j, &reason, why, sizeof(why));
	json_decref(j);
	return 0;
}
