/*
 * Fuzz the expected-device file parser (devlist_parse): any bytes are either
 * refused with a message (and a report of at most 20 lines) or give unique,
 * normalised device ids.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "devlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_err err = { 0 };
	struct devlist l;
	char report[2048];
	char *buf = malloc(size ? size : 1);   /* exact size: ASan sees over-reads */
	size_t i, k;

	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if (devlist_parse(buf, size, "fuzz.txt", &l, report, sizeof(report), NULL, NULL, &err) != 0) {
		if (err.msg[0] == '\0')
			__builtin_trap();
	} else {
		for (i = 0; i < l.n; i++) {
			k = strlen(l.ids[i]);
			if (k != 36 && k != 15)
				__builtin_trap();
		}
		devlist_free(&l);
	}
	free(buf);
	return 0;
}
