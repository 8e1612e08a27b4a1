/*
 * b64url.h - strict base64url (RFC 4648 section 5, no padding) and hex.
 *
 * The modem prints both parts of %KEYGEN / %ATTESTTOKEN output as base64url
 * without padding.  The decoder is strict so that one text has exactly one
 * meaning: it rejects '=', '+', '/', whitespace and any other character,
 * lengths that no encoder produces (len % 4 == 1) and non-zero unused bits
 * in the last character.  Nothing here allocates except nrfca_b64url_encode_alloc.
 */
#ifndef NRFCA_B64URL_H
#define NRFCA_B64URL_H

#include <stddef.h>

#include "error.h"

/* Bytes needed to decode `len` characters (an upper bound, exact for valid input). */
size_t nrfca_b64url_decoded_max(size_t len);

/* Characters produced by encoding `len` bytes (no padding, no terminator). */
size_t nrfca_b64url_encoded_len(size_t len);

/*
 * Decode `len` characters of `in` into `out` (capacity `cap`).  On success
 * returns 0 and sets *out_len.  On failure returns -1 with a message naming
 * `what` (e.g. "part 2"; NULL means "the input"), such as "part 2 is not valid
 * base64url at character 37: '=' (base64url output has no padding)".  Character positions
 * in messages count from 1.  `out` is left unspecified on failure.
 */
int nrfca_b64url_decode(const char *what, const char *in, size_t len, unsigned char *out,
			size_t cap, size_t *out_len, struct nrfca_err *err);

/* Encode into `out` (capacity `cap`, needs encoded_len + 1 for the NUL).
 * Returns 0, or -1 when `cap` is too small. */
int nrfca_b64url_encode(const unsigned char *in, size_t len, char *out, size_t cap);

/* Encode into a new NUL-terminated string; caller frees.  NULL when out of memory. */
char *nrfca_b64url_encode_alloc(const unsigned char *in, size_t len);

/* Lower-case hex of `len` bytes into `out`, which holds 2 * len + 1 characters. */
/* Value of one hex digit (either case), or -1. */
int nrfca_hex_value(int c);
void nrfca_hex_encode(const unsigned char *in, size_t len, char *out);

/* Decode exactly 2 * out_len hex digits (either case) into `out`.
 * Returns 0, or -1 on a wrong length or a non-hex character. */
int nrfca_hex_decode(const char *in, size_t len, unsigned char *out, size_t out_len);

#endif
