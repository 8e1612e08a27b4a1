#include "b64url.h"

#include <stdint.h>
#include <stdlib.h>

static const char b64url_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63 for an alphabet character, -1 otherwise. */
static int b64url_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t nrfca_b64url_decoded_max(size_t len)
{
	return len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
}

size_t nrfca_b64url_encoded_len(size_t len)
{
	return len / 3 * 4 + (len % 3 == 0 ? 0 : len % 3 + 1);
}

/* Why character `c` is not allowed, for the error message. */
static const char *bad_char_reason(unsigned char c)
{
	switch (c) {
	case '=':
		return "base64url output has no padding";
	case '+':
	case '/':
		return "that is standard base64, base64url uses '-' and '_'";
	case ' ':
	case '\t':
	case '\r':
	case '\n':
		return "white space inside the string: it was probably split or wrapped";
	case '"':
		return "a quote inside the string";
	default:
		return "not a base64url character";
	}
}

int nrfca_b64url_decode(const char *what, const char *in, size_t len, unsigned char *out,
			size_t cap, size_t *out_len, struct nrfca_err *err)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	unsigned nbits = 0;
	int v;

	if (what == NULL)
		what = "the input";
	if (nrfca_b64url_decoded_max(len) > cap)
		return nrfca_err_set(err, NRFCA_E_TOO_LARGE,
				     "%s is too long: %zu characters decode to more than %zu bytes",
				     what, len, cap);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		v = b64url_value(c);
		if (v < 0) {
			if (c >= 0x21 && c < 0x7f)
				return nrfca_err_set(err, NRFCA_E_INPUT,
						     "%s is not valid base64url at character %zu: '%c' (%s)",
						     what, i + 1, c, bad_char_reason(c));
			return nrfca_err_set(err, NRFCA_E_INPUT,
					     "%s is not valid base64url at character %zu: byte 0x%02x (%s)",
					     what, i + 1, c, bad_char_reason(c));
		}
		acc = (acc << 6) | (uint32_t)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			out[o++] = (unsigned char)(acc >> nbits);
			acc &= (1u << nbits) - 1;
		}
	}
	if (len % 4 == 1)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "%s is not valid base64url: %zu characters is an impossible length "
				     "(the string is probably truncated)", what, len);
	/* Left-over bits (2 or 4) must be zero in a canonical encoding. */
	if (nbits > 0 && acc != 0)
		return nrfca_err_set(err, NRFCA_E_INPUT,
				     "%s is not valid base64url at character %zu: its unused low bits "
				     "are not zero (the string is probably truncated or altered)", what, len);
	*out_len = o;
	return 0;
}

int nrfca_b64url_encode(const unsigned char *in, size_t len, char *out, size_t cap)
{
	size_t i, o = 0;
	uint32_t w;

	if (nrfca_b64url_encoded_len(len) + 1 > cap)
		return -1;
	for (i = 0; i + 3 <= len; i += 3) {
		w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url_alphabet[w >> 18];
		out[o++] = b64url_alphabet[(w >> 12) & 63];
		out[o++] = b64url_alphabet[(w >> 6) & 63];
		out[o++] = b64url_alphabet[w & 63];
	}
	if (len - i == 1) {
		w = (uint32_t)in[i] << 16;
		out[o++] = b64url_alphabet[w >> 18];
		out[o++] = b64url_alphabet[(w >> 12) & 63];
	} else if (len - i == 2) {
		w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url_alphabet[w >> 18];
		out[o++] = b64url_alphabet[(w >> 12) & 63];
		out[o++] = b64url_alphabet[(w >> 6) & 63];
	}
	out[o] = '\0';
	return 0;
}

char *nrfca_b64url_encode_alloc(const unsigned char *in, size_t len)
{
	size_t cap = nrfca_b64url_encoded_len(len) + 1;
	char *s = malloc(cap);

	if (s == NULL)
		return NULL;
	(void)nrfca_b64url_encode(in, len, s, cap);
	return s;
}

void nrfca_hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int nrfca_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nrfca_hex_decode(const char *in, size_t len, unsigned char *out, size_t out_len)
{
	size_t i;
	int hi, lo;

	if (len != 2 * out_len)
		return -1;
	for (i = 0; i < out_len; i++) {
		hi = nrfca_hex_value(in[2 * i]);
		lo = nrfca_hex_value(in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
