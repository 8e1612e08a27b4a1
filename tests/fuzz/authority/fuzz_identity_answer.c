/*
 * Fuzz the Identity Service answer mapping (identity_parse_answer): the
 * first byte picks the HTTP status, the second the Retry-After header, the
 * rest is the body.  Every answer maps to a verdict with a one-line,
 * printable detail; nothing crashes, leaks or reads past the body.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 404, 400, 422, 401, 403, 429, 500, 503, 302, 0, 204 };
	static const char *const retries[] = { NULL, "5", "300", "99999", "abc", " 12 ", "" };
	enum nrfca_identity_verdict v;
	char detail[256];
	unsigned retry = 0;
	size_t i;
	char *body;

	if (size < 2)
		return 0;
	body = malloc(size - 2 ? size - 2 : 1);   /* exact size: ASan sees over-reads */
	if (body == NULL)
		return 0;
	memcpy(body, data + 2, size - 2);
	detail[0] = '\0';
	v = identity_parse_answer(statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))],
				  body, size - 2, retries[data[1] % (sizeof(retries) / sizeof(retries[0]))],
				  "50363953-3234-4723-80b9-1503d88271bf", detail, sizeof(detail), &retry);
	if (v == NRFCA_IDENTITY_NOT_ASKED || v >= NRFCA_IDENTITY_MAX || detail[0] == '\0' ||
	    retry > 300)
		__builtin_trap();
	for (i = 0; detail[i] != '\0'; i++)
		if ((unsigned char)detail[i] < 0x20 || (unsigned char)detail[i] > 0x7e)
			__builtin_trap();
	free(body);
	return 0;
}
