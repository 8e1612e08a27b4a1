/*
 * fake_peer.h - a scripted modem on the master side of a pty, for unit
 * tests of the AT engine.  Each step waits for one command (compared with
 * what the test expected), then answers with canned bytes, optionally in
 * small chunks, after a delay, or by closing the port.
 */
#ifndef NRFCA_TEST_FAKE_PEER_H
#define NRFCA_TEST_FAKE_PEER_H

#include <stddef.h>

#include "serial.h"

#define PEER_MAX_STEPS 16

struct peer_step {
	const char *expect;   /* the exact bytes the host must send (with terminator); NULL = any line */
	const char *reply;    /* bytes to answer with; NULL = none */
	size_t reply_len;     /* 0 = strlen(reply) */
	size_t chunk;         /* 0 = all at once */
	int delay_ms;
	int close;            /* close the port after replying */
};

struct peer;

/* Start a peer on a fresh pty; *host receives the engine's side (raw mode). */
struct peer *peer_start(const struct peer_step *steps, size_t n, struct nrfca_serial **host);
/* Wait for the script to finish (or the host to stop talking) and return
 * the number of steps whose command did not match (0 = all good). */
int peer_finish(struct peer *p);
/* What the host sent for step i (after peer_finish). */
const char *peer_received(struct peer *p, size_t i);
void peer_free(struct peer *p);

#endif
