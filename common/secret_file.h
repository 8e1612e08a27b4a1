/*
 * secret_file.h - read a one-line secret (a token PIN, a cloud API key)
 * from a file, the way a CA must: a regular file, opened without following
 * a symbolic link, not accessible by group or others unless the operator
 * explicitly allows it, of bounded size, holding one line.
 *
 * The secret lands in the caller's buffer (the caller owns it and wipes it
 * with OPENSSL_cleanse when done); on failure the buffer is wiped here.
 * Messages name the file and what it is for, never its content.
 */
#ifndef NRFCA_SECRET_FILE_H
#define NRFCA_SECRET_FILE_H

#include <stddef.h>

#include "error.h"

/*
 * Read `path` into buf (cap bytes, NUL-terminated; the file may hold at
 * most cap - 1 bytes).  One trailing LF or CR LF is removed; an empty
 * secret, a second line or a NUL byte is refused.  `what` names the file in
 * messages ("PIN file", "identity_service.api_key_file").  Returns 0 with
 * *len set, or -1 (NRFCA_E_NOTFOUND when the file does not exist,
 * NRFCA_E_IO, NRFCA_E_CONFIG).
 */
int nrfca_secret_file_read(const char *path, const char *what, int allow_insecure, char *buf,
			   size_t cap, size_t *len, struct nrfca_err *err);

/* The same checks for a secret already in buf (e.g. from the environment):
 * trailing LF / CR LF removed, NUL-terminated, refused when empty or holding
 * a line break or NUL byte (buf wiped then). */
int nrfca_secret_finish(char *buf, size_t *len, const char *what, struct nrfca_err *err);

#endif
