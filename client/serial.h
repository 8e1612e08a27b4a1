/*
 * serial.h - the station's serial port to one modem.
 *
 * Offers: open a tty exclusively (O_NOCTTY, TIOCEXCL and an advisory
 * flock so that a second nrfca on the same port is told so), raw 8N1 mode,
 * a chosen baud rate and RTS/CTS flow control, and reads/writes bounded by
 * a timeout (poll).  The handle owns its file descriptor; nrfca_serial_close
 * releases it.  Nothing here interprets the bytes: see at.h.
 */
#ifndef NRFCA_CLIENT_SERIAL_H
#define NRFCA_CLIENT_SERIAL_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

#define NRFCA_SERIAL_DEFAULT_BAUD 115200u

struct nrfca_serial;

struct nrfca_serial_opts {
	const char *path;  /* e.g. /dev/ttyACM0 */
	unsigned baud;     /* 0 = 115200; must be one of the rates nrfca_serial_baud_ok accepts */
	int rtscts;        /* 1 = hardware flow control (the nRF91 DK default) */
};

/* Outcome of a read. */
enum nrfca_serial_rd {
	NRFCA_SERIAL_DATA = 0,   /* *got > 0 bytes were read */
	NRFCA_SERIAL_TIMEOUT,    /* nothing arrived within the timeout */
	NRFCA_SERIAL_CLOSED,     /* the other side hung up (EOF, POLLHUP, EIO) */
	NRFCA_SERIAL_ERROR,      /* any other failure; e is set */
	NRFCA_SERIAL_RD_MAX
};

/* 1 when `baud` is a rate the port can be set to, else 0. */
int nrfca_serial_baud_ok(unsigned baud);

/* Open and configure the port.  On failure returns -1 with e set (IO);
 * a port held by another nrfca gives "port DEV is in use by another process". */
int nrfca_serial_open(const struct nrfca_serial_opts *o, struct nrfca_serial **out,
		      struct nrfca_err *e);

/* Wrap an already open descriptor (tests: one end of openpty or a
 * socketpair).  Takes ownership of fd, even on failure.  The descriptor is
 * set non-blocking; its terminal settings are not touched. */
int nrfca_serial_from_fd(int fd, const char *name, struct nrfca_serial **out,
			 struct nrfca_err *e);

void nrfca_serial_close(struct nrfca_serial *s);

/* The path or name given at open, for messages. */
const char *nrfca_serial_name(const struct nrfca_serial *s);

/* Write all of buf within timeout_ms.  -1 with e set on failure or timeout. */
int nrfca_serial_write(struct nrfca_serial *s, const void *buf, size_t len, int timeout_ms,
		       struct nrfca_err *e);

/* Wait up to timeout_ms (0 = do not wait) for bytes and read at most cap
 * of them.  Sets *got on NRFCA_SERIAL_DATA. */
enum nrfca_serial_rd nrfca_serial_read(struct nrfca_serial *s, void *buf, size_t cap,
				       int timeout_ms, size_t *got, struct nrfca_err *e);

#endif
