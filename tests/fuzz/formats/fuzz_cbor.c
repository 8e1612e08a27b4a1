/*
 * fuzz_cbor - the bounded CBOR reader walking arbitrary bytes: validate,
 * a flat pull loop over every head, and the typed readers.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nrfca_cbor c;
	struct nrfca_cbor_item it;
	struct nrfca_err err;
	char desc[64];
	size_t steps = 0, before;
	uint64_t u;
	int64_t v;
	const uint8_t *d;
	size_t n;

	(void)nrfca_cbor_validate(data, size, &err);

	/* Pull every head in order: each read moves forward and stays inside. */
	nrfca_cbor_init(&c, data, size);
	while (!nrfca_cbor_at_end(&c)) {
		before = nrfca_cbor_remaining(&c);
		if (nrfca_cbor_read(&c, &it, &err) != 0)
			break;
		if (nrfca_cbor_remaining(&c) >= before || nrfca_cbor_remaining(&c) > size)
			abort();
		if ((it.type == NRFCA_CBOR_BSTR || it.type == NRFCA_CBOR_TSTR) &&
		    (it.data < data || it.data + it.len > data + size))
			abort();
		nrfca_cbor_describe(&it, desc, sizeof(desc));
		if (++steps > size)
			abort();
	}

	/* Skip items one after another. */
	nrfca_cbor_init(&c, data, size);
	while (!nrfca_cbor_at_end(&c) && nrfca_cbor_skip(&c, &err) == 0)
		if (nrfca_cbor_remaining(&c) > size)
			abort();

	/* Typed readers on the first item. */
	nrfca_cbor_init(&c, data, size);
	(void)nrfca_cbor_expect_int(&c, &v, "x", &err);
	nrfca_cbor_init(&c, data, size);
	(void)nrfca_cbor_expect_uint(&c, &u, "x", &err);
	nrfca_cbor_init(&c, data, size);
	if (nrfca_cbor_expect_bstr(&c, &d, &n, "x", &err) == 0 && d + n > data + size)
		abort();
	nrfca_cbor_init(&c, data, size);
	(void)nrfca_cbor_expect_tag(&c, 18, "x", &err);
	nrfca_cbor_init(&c, data, size);
	(void)nrfca_cbor_expect_array(&c, &u, "x", &err);
	nrfca_cbor_init(&c, data, size);
	(void)nrfca_cbor_expect_map(&c, &u, "x", &err);
	return 0;
}
