#include "sim_enc.h"

void cbor_head(struct sbuf *b, enum cbor_major major, uint64_t arg)
{
	uint8_t m = (uint8_t)(major << 5);
	uint8_t t[9];
	int n, i;

	if (arg < 24) {
		sbuf_addc(b, (uint8_t)(m | arg));
		return;
	}
	if (arg <= 0xff) {
		t[0] = m | 24;
		n = 1;
	} else if (arg <= 0xffff) {
		t[0] = m | 25;
		n = 2;
	} else if (arg <= 0xffffffffu) {
		t[0] = m | 26;
		n = 4;
	} else {
		t[0] = m | 27;
		n = 8;
	}
	for (i = 0; i < n; i++)
		t[1 + i] = (uint8_t)(arg >> (8 * (n - 1 - i)));
	sbuf_add(b, t, (size_t)n + 1);
}

void cbor_uint(struct sbuf *b, uint64_t v)
{
	cbor_head(b, CBOR_UINT, v);
}

void cbor_bstr(struct sbuf *b, const uint8_t *p, size_t n)
{
	cbor_head(b, CBOR_BSTR, n);
	sbuf_add(b, p, n);
}

void cbor_tstr(struct sbuf *b, const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	cbor_head(b, CBOR_TSTR, n);
	sbuf_add(b, s, n);
}

void cbor_null(struct sbuf *b)
{
	sbuf_addc(b, 0xf6);
}

void der_tlv(struct sbuf *b, uint8_t tag, const uint8_t *content, size_t n)
{
	uint8_t h[6];
	size_t hl = 0;

	h[hl++] = tag;
	if (n < 0x80) {
		h[hl++] = (uint8_t)n;
	} else if (n <= 0xff) {
		h[hl++] = 0x81;
		h[hl++] = (uint8_t)n;
	} else if (n <= 0xffff) {
		h[hl++] = 0x82;
		h[hl++] = (uint8_t)(n >> 8);
		h[hl++] = (uint8_t)n;
	} else if (n <= 0xffffff) {
		h[hl++] = 0x83;
		h[hl++] = (uint8_t)(n >> 16);
		h[hl++] = (uint8_t)(n >> 8);
		h[hl++] = (uint8_t)n;
	} else {
		b->failed = true;
		return;
	}
	sbuf_add(b, h, hl);
	sbuf_add(b, content, n);
}

void der_wrap(struct sbuf *b, uint8_t tag, const struct sbuf *content)
{
	if (content->failed) {
		b->failed = true;
		return;
	}
	der_tlv(b, tag, content->p, content->len);
}
