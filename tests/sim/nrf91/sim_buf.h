/*
 * sim_buf.h - growable byte buffer of the nRF91 simulator.
 *
 * A buffer owns its bytes.  Appends never truncate: once an append would
 * pass the buffer's limit (or memory runs out) the buffer is marked failed,
 * later appends do nothing, and the caller checks `failed` once at the end.
 */
#ifndef SIM_BUF_H
#define SIM_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t limit; /* 0: SBUF_DEFAULT_LIMIT */
	bool failed;
};

#define SBUF_DEFAULT_LIMIT (1u << 20)

void sbuf_init(struct sbuf *b, size_t limit);
void sbuf_free(struct sbuf *b);      /* wipes the bytes, then frees */
void sbuf_reset(struct sbuf *b);     /* len = 0, keeps memory */
void sbuf_add(struct sbuf *b, const void *p, size_t n);
void sbuf_addc(struct sbuf *b, uint8_t c);
void sbuf_adds(struct sbuf *b, const char *s);
void sbuf_addf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_addhex(struct sbuf *b, const uint8_t *p, size_t n, bool upper);
/* base64url without padding */
void sbuf_addb64url(struct sbuf *b, const uint8_t *p, size_t n);

#endif
