/*
 * fileutil.h - reading a whole file with a size limit.
 */
#ifndef NRFCA_FILEUTIL_H
#define NRFCA_FILEUTIL_H

#include <stddef.h>

#include "error.h"

/* Read the regular file `path`, at most `max` bytes, into *buf (malloc'd,
 * NUL-terminated; *len excludes the NUL).  NRFCA_E_IO when it cannot be
 * opened or read or is not a regular file, NRFCA_E_TOO_LARGE over `max`,
 * each naming the file. */
int nrfca_read_file(const char *path, size_t max, char **buf, size_t *len,
		    struct nrfca_err *err);

#endif
