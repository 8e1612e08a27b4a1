#include "cbor.h"

#include <inttypes.h>
#include <stdio.h>

void nrfca_cbor_init(struct nrfca_cbor *c, const void *buf, size_t len)
{
	c->base = buf;
	c->p = buf;
	c->end = c->p + len;
}

size_t nrfca_cbor_remaining(const struct nrfca_cbor *c)
{
	return (size_t)(c->end - c->p);
}

int nrfca_cbor_at_end(const struct nrfca_cbor *c)
{
	return c->p == c->end;
}

static size_t offset(const struct nrfca_cbor *c, const uint8_t *q)
{
	return (size_t)(q - c->base);
}

/* Decode the head at c->p without moving; *hlen gets its size. */
static int decode_head(const struct nrfca_cbor *c, struct nrfca_cbor_item *it, size_t *hlen,
		       struct nrfca_err *err)
{
	const uint8_t *q = c->p;
	size_t avail = nrfca_cbor_remaining(c);
	unsigned major, ai, n, i;
	uint64_t v;

	if (avail == 0)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "CBOR ends early at byte %zu (the data is truncated)",
				     offset(c, q));
	major = q[0] >> 5;
	ai = q[0] & 31;
	it->start = q;
	it->data = NULL;
	it->len = 0;
	if (ai < 24) {
		v = ai;
		n = 0;
	} else if (ai <= 27) {
		n = 1u << (ai - 24);
		if (avail - 1 < n)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "CBOR ends early inside the item at byte %zu "
					     "(the data is truncated)", offset(c, q));
		v = 0;
		for (i = 0; i < n; i++)
			v = v << 8 | q[1 + i];
	} else if (ai == 31) {
		if (major == 7)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "CBOR: unexpected 'break' byte 0xff at byte %zu",
					     offset(c, q));
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "CBOR: indefinite-length item at byte %zu is not supported",
				     offset(c, q));
	} else {
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "CBOR: reserved value 0x%02x at byte %zu", q[0], offset(c, q));
	}
	*hlen = 1 + n;
	avail -= 1 + n;
	it->u = v;
	switch (major) {
	case 0:
		it->type = NRFCA_CBOR_UINT;
		break;
	case 1:
		it->type = NRFCA_CBOR_NINT;
		break;
	case 2:
	case 3:
		it->type = major == 2 ? NRFCA_CBOR_BSTR : NRFCA_CBOR_TSTR;
		if (v > avail)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "CBOR: a string at byte %zu declares %" PRIu64
					     " bytes but only %zu remain (the data is truncated)",
					     offset(c, q), v, avail);
		it->data = q + *hlen;
		it->len = (size_t)v;
		break;
	case 4:
		it->type = NRFCA_CBOR_ARRAY;
		if (v > avail)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "CBOR: an array at byte %zu declares %" PRIu64
					     " items but only %zu bytes remain", offset(c, q), v, avail);
		break;
	case 5:
		it->type = NRFCA_CBOR_MAP;
		if (v > avail / 2)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "CBOR: a map at byte %zu declares %" PRIu64
					     " pairs but only %zu bytes remain", offset(c, q), v, avail);
		break;
	case 6:
		it->type = NRFCA_CBOR_TAG;
		if (avail == 0)
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "CBOR: tag %" PRIu64 " at byte %zu has no content "
					     "(the data is truncated)", v, offset(c, q));
		break;
	default:
		if (ai <= 24) {
			if (ai == 24 && v < 32)
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "CBOR: badly encoded simple value at byte %zu",
						     offset(c, q));
			it->type = NRFCA_CBOR_SIMPLE;
		} else {
			it->type = NRFCA_CBOR_FLOAT;
		}
		break;
	}
	return 0;
}

int nrfca_cbor_peek(const struct nrfca_cbor *c, struct nrfca_cbor_item *it, struct nrfca_err *err)
{
	size_t hlen;

	return decode_head(c, it, &hlen, err);
}

int nrfca_cbor_read(struct nrfca_cbor *c, struct nrfca_cbor_item *it, struct nrfca_err *err)
{
	size_t hlen;

	if (decode_head(c, it, &hlen, err) != 0)
		return -1;
	c->p += hlen + it->len;
	return 0;
}

static int skip_depth(struct nrfca_cbor *c, unsigned depth, struct nrfca_err *err)
{
	struct nrfca_cbor_item it;
	uint64_t n, i;

	if (depth > NRFCA_CBOR_MAX_DEPTH)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "CBOR: items nested deeper than %d levels at byte %zu",
				     NRFCA_CBOR_MAX_DEPTH, offset(c, c->p));
	if (nrfca_cbor_read(c, &it, err) != 0)
		return -1;
	switch (it.type) {
	case NRFCA_CBOR_ARRAY:
	case NRFCA_CBOR_MAP:
		/* Each item takes at least one byte and the head checked that the
		 * count fits in what remains, so this loop is bounded by the input. */
		n = it.type == NRFCA_CBOR_MAP ? 2 * it.u : it.u;
		for (i = 0; i < n; i++)
			if (skip_depth(c, depth + 1, err) != 0)
				return -1;
		return 0;
	case NRFCA_CBOR_TAG:
		return skip_depth(c, depth + 1, err);
	default:
		return 0;
	}
}

int nrfca_cbor_skip(struct nrfca_cbor *c, struct nrfca_err *err)
{
	return skip_depth(c, 1, err);
}

int nrfca_cbor_validate(const void *buf, size_t len, struct nrfca_err *err)
{
	struct nrfca_cbor c;

	nrfca_cbor_init(&c, buf, len);
	if (nrfca_cbor_skip(&c, err) != 0)
		return -1;
	if (!nrfca_cbor_at_end(&c))
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "CBOR: %zu unexpected bytes after the item",
				     nrfca_cbor_remaining(&c));
	return 0;
}

void nrfca_cbor_describe(const struct nrfca_cbor_item *it, char *buf, size_t cap)
{
	switch (it->type) {
	case NRFCA_CBOR_UINT:
		snprintf(buf, cap, "unsigned integer %" PRIu64, it->u);
		break;
	case NRFCA_CBOR_NINT:
		if (it->u <= INT64_MAX)
			snprintf(buf, cap, "negative integer %" PRId64, -1 - (int64_t)it->u);
		else
			snprintf(buf, cap, "a large negative integer");
		break;
	case NRFCA_CBOR_BSTR:
		snprintf(buf, cap, "a byte string of %zu bytes", it->len);
		break;
	case NRFCA_CBOR_TSTR:
		snprintf(buf, cap, "a text string of %zu bytes", it->len);
		break;
	case NRFCA_CBOR_ARRAY:
		snprintf(buf, cap, "an array of %" PRIu64, it->u);
		break;
	case NRFCA_CBOR_MAP:
		snprintf(buf, cap, "a map of %" PRIu64 " pairs", it->u);
		break;
	case NRFCA_CBOR_TAG:
		snprintf(buf, cap, "tag %" PRIu64, it->u);
		break;
	case NRFCA_CBOR_SIMPLE:
		switch (it->u) {
		case NRFCA_CBOR_SIMPLE_FALSE:
			snprintf(buf, cap, "false");
			break;
		case NRFCA_CBOR_SIMPLE_TRUE:
			snprintf(buf, cap, "true");
			break;
		case NRFCA_CBOR_SIMPLE_NULL:
			snprintf(buf, cap, "null");
			break;
		case NRFCA_CBOR_SIMPLE_UNDEFINED:
			snprintf(buf, cap, "undefined");
			break;
		default:
			snprintf(buf, cap, "simple value %" PRIu64, it->u);
			break;
		}
		break;
	default:
		snprintf(buf, cap, "a floating-point number");
		break;
	}
}

/* Read one item and check its type; on a mismatch say what was found. */
static int expect(struct nrfca_cbor *c, struct nrfca_cbor_item *it, enum nrfca_cbor_type t,
		  const char *want, const char *what, struct nrfca_err *err)
{
	char found[64];

	if (nrfca_cbor_read(c, it, err) != 0) {
		nrfca_err_prefix(err, "%s", what);
		return -1;
	}
	if (it->type != t) {
		nrfca_cbor_describe(it, found, sizeof(found));
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s: expected %s, found %s",
				     what, want, found);
	}
	return 0;
}

int nrfca_cbor_expect_tag(struct nrfca_cbor *c, uint64_t tag, const char *what,
			  struct nrfca_err *err)
{
	struct nrfca_cbor_item it;
	char found[64];

	if (nrfca_cbor_read(c, &it, err) != 0) {
		nrfca_err_prefix(err, "%s", what);
		return -1;
	}
	if (it.type != NRFCA_CBOR_TAG || it.u != tag) {
		nrfca_cbor_describe(&it, found, sizeof(found));
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s: expected tag %" PRIu64
				     ", found %s", what, tag, found);
	}
	return 0;
}

int nrfca_cbor_expect_array(struct nrfca_cbor *c, uint64_t *count, const char *what,
			    struct nrfca_err *err)
{
	struct nrfca_cbor_item it;

	if (expect(c, &it, NRFCA_CBOR_ARRAY, "an array", what, err) != 0)
		return -1;
	*count = it.u;
	return 0;
}

int nrfca_cbor_expect_map(struct nrfca_cbor *c, uint64_t *count, const char *what,
			  struct nrfca_err *err)
{
	struct nrfca_cbor_item it;

	if (expect(c, &it, NRFCA_CBOR_MAP, "a map", what, err) != 0)
		return -1;
	*count = it.u;
	return 0;
}

int nrfca_cbor_expect_bstr(struct nrfca_cbor *c, const uint8_t **data, size_t *len,
			   const char *what, struct nrfca_err *err)
{
	struct nrfca_cbor_item it;

	if (expect(c, &it, NRFCA_CBOR_BSTR, "a byte string", what, err) != 0)
		return -1;
	*data = it.data;
	*len = it.len;
	return 0;
}

int nrfca_cbor_expect_uint(struct nrfca_cbor *c, uint64_t *v, const char *what,
			   struct nrfca_err *err)
{
	struct nrfca_cbor_item it;

	if (expect(c, &it, NRFCA_CBOR_UINT, "an unsigned integer", what, err) != 0)
		return -1;
	*v = it.u;
	return 0;
}

int nrfca_cbor_expect_int(struct nrfca_cbor *c, int64_t *v, const char *what,
			  struct nrfca_err *err)
{
	struct nrfca_cbor_item it;
	char found[64];

	if (nrfca_cbor_read(c, &it, err) != 0) {
		nrfca_err_prefix(err, "%s", what);
		return -1;
	}
	if ((it.type != NRFCA_CBOR_UINT && it.type != NRFCA_CBOR_NINT) || it.u > INT64_MAX) {
		nrfca_cbor_describe(&it, found, sizeof(found));
		return nrfca_err_set(err, NRFCA_E_INPUT, "%s: expected an integer, found %s",
				     what, found);
	}
	*v = it.type == NRFCA_CBOR_UINT ? (int64_t)it.u : -1 - (int64_t)it.u;
	return 0;
}

size_t nrfca_cbor_put_head(uint8_t *out, unsigned major, uint64_t v)
{
	uint8_t mt = (uint8_t)((major & 7) << 5);
	unsigned n, i;

	if (v < 24) {
		out[0] = (uint8_t)(mt | v);
		return 1;
	}
	if (v <= 0xff) {
		out[0] = mt | 24;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = mt | 25;
		n = 2;
	} else if (v <= 0xffffffffu) {
		out[0] = mt | 26;
		n = 4;
	} else {
		out[0] = mt | 27;
		n = 8;
	}
	for (i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return 1 + n;
}
