/*
 * fuzz_audit_archive: the audit archive verifier over arbitrary bytes, and
 * the RFC 3339 parser over the first line.  Neither may crash, leak or read
 * out of bounds; an intact verdict must describe what it read.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit_archive.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_archive_result r;
	char line[NRFCA_TIME_INPUT_MAX + 8];
	long long t;
	size_t n;

	if (audit_archive_verify_buf((const char *)data, size, &r) == 0 &&
	    (r.line != 0 || (r.entries > 0 && r.last_id != r.first_id + r.entries - 1)))
		abort();
	n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	memcpy(line, data, n);
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (nrfca_time_parse(line, &t) == 0 && t < 0)
		abort();
	return 0;
}
