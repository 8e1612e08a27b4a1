#include "secretfile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

int nrfca_secret_line(char *buf, size_t *len, const char *what, struct nrfca_err *err)
{
	size_t n = *len;

	if (n > 0 && buf[n - 1] == '\n')
		n--;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	buf[n] = '\0';
	*len = n;
	if (n == 0)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "%s is empty", what);
	if (memchr(buf, '\0', n) != NULL || memchr(buf, '\n', n) != NULL)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "%s holds more than one line or a NUL byte", what);
	return 0;
}

int nrfca_secret_file_read(const char *path, const char *what, int allow_insecure, const char *hint,
			   char *buf, size_t cap, size_t *len, struct nrfca_err *err)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return nrfca_err_set(err, errno == ENOENT ? NRFCA_E_NOTFOUND : NRFCA_E_IO,
				     "cannot open %s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		nrfca_err_set(err, NRFCA_E_IO, "cannot stat %s %s: %s", what, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s %s is not a regular file", what, path);
		goto out;
	}
	if ((st.st_mode & 077) != 0 && !allow_insecure) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "%s %s is accessible by group or others (mode %04o); run 'chmod 600 %s'%s",
			      what, path, (unsigned)(st.st_mode & 07777), path, hint ? hint : "");
		goto out;
	}
	if (st.st_size > (off_t)cap + 1) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s %s is larger than %zu bytes", what, path, cap - 1);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + got, cap - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nrfca_err_set(err, NRFCA_E_IO, "cannot read %s %s: %s", what, path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == cap - 1) {
			nrfca_err_set(err, NRFCA_E_CONFIG, "%s %s is larger than %zu bytes", what, path, cap - 1);
			goto out;
		}
	}
	*len = got;
	rc = nrfca_secret_line(buf, len, what, err);
out:
	if (rc != 0) {
		OPENSSL_cleanse(buf, cap);
		*len = 0;
	}
	close(fd);
	return rc;
}
