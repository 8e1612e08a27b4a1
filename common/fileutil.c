#define _POSIX_C_SOURCE 200809L
#include "fileutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nrfca_read_file(const char *path, size_t max, char **buf, size_t *len,
		    struct nrfca_err *err)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0;
	ssize_t r;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return nrfca_err_set(err, NRFCA_E_IO, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		nrfca_err_set(err, NRFCA_E_IO, "%s is not a regular file", path);
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		nrfca_err_set(err, NRFCA_E_TOO_LARGE, "%s is %lld bytes, more than the limit of %zu",
			      path, (long long)st.st_size, max);
		goto out;
	}
	b = malloc(max + 2);
	if (b == NULL) {
		nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory reading %s", path);
		goto out;
	}
	for (;;) {
		r = read(fd, b + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			nrfca_err_set(err, NRFCA_E_IO, "cannot read %s: %s", path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			nrfca_err_set(err, NRFCA_E_TOO_LARGE, "%s is more than the limit of %zu bytes",
				      path, max);
			goto out;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	b = NULL;
	rc = 0;
out:
	free(b);
	close(fd);
	return rc;
}
