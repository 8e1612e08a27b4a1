/* libFuzzer: p11uri_parse on arbitrary bytes (a configuration's token.uri). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "p11uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_err e = { 0 };
	struct p11uri u;
	char *s;

	if (size > NRFCA_P11URI_MAX + 16)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	memset(&u, 0, sizeof(u));
	if (p11uri_parse(s, &u, &e) == 0) {
		/* what came out is within the documented limits */
		if ((u.token && strlen(u.token) > 32) || (u.serial && strlen(u.serial) > 16) ||
		    u.id_len > NRFCA_P11URI_ID_MAX)
			abort();
		p11uri_clear(&u);
	}
	free(s);
	return 0;
}
