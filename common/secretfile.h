/*
 * secretfile.h - reading a one-line secret (a PIN, a database password) from
 * a file an operator protects.
 *
 * The file must be a regular file (not followed through a symbolic link),
 * at most cap - 1 bytes, and not readable or writable by group or others
 * unless the caller allows it.  One trailing LF or CRLF is removed; an empty
 * file, more than one line or a NUL byte is refused.  Messages name the file
 * as "<what> <path>" and never hold the secret.  On failure the buffer is
 * wiped; on success the caller wipes it (OPENSSL_cleanse) after use.
 */
#ifndef NRFCA_SECRETFILE_H
#define NRFCA_SECRETFILE_H

#include <stddef.h>

#include "error.h"

/* hint: appended to the permission refusal (e.g. " or allow it explicitly"),
 * NULL for none.  *len gets the secret's length; buf is NUL-terminated. */
int nrfca_secret_file_read(const char *path, const char *what, int allow_insecure, const char *hint,
			   char *buf, size_t cap, size_t *len, struct nrfca_err *err);
/* The line checks alone, for a secret from elsewhere (an environment
 * variable): trims one LF or CRLF, refuses empty, multi-line, NUL. */
int nrfca_secret_line(char *buf, size_t *len, const char *what, struct nrfca_err *err);

#endif
