#include "p11pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

static int finish(struct p11pin *out, struct nrfca_err *err, const char *what)
{
	if (out->len > 0 && out->buf[out->len - 1] == '\n')
		out->len--;
	if (out->len > 0 && out->buf[out->len - 1] == '\r')
		out->len--;
	out->buf[out->len] = '\0';
	if (out->len == 0) {
		p11pin_wipe(out);
		return nrfca_err_set(err, NRFCA_E_CONFIG, "%s is empty", what);
	}
	if (memchr(out->buf, '\0', out->len) != NULL || memchr(out->buf, '\n', out->len) != NULL) {
		p11pin_wipe(out);
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "%s holds more than one line or a NUL byte", what);
	}
	return 0;
}

static int read_file(const char *path, int allow_insecure, struct p11pin *out,
		     struct nrfca_err *err)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, rc = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0)
		return nrfca_err_set(err, errno == ENOENT ? NRFCA_E_NOTFOUND : NRFCA_E_IO,
				     "cannot open PIN file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		nrfca_err_set(err, NRFCA_E_IO, "cannot stat PIN file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "PIN file %s is not a regular file", path);
		goto out;
	}
	if ((st.st_mode & 077) != 0 && !allow_insecure) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "PIN file %s is accessible by group or others (mode %04o); "
			      "run 'chmod 600 %s' or allow it explicitly",
			      path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	if (st.st_size > NRFCA_PIN_MAX + 2) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "PIN file %s is larger than %d bytes", path,
			      NRFCA_PIN_MAX);
		goto out;
	}
	for (;;) {
		n = read(fd, out->buf + got, sizeof(out->buf) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			nrfca_err_set(err, NRFCA_E_IO, "cannot read PIN file %s: %s", path,
				      strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof(out->buf) - 1) {
			nrfca_err_set(err, NRFCA_E_CONFIG, "PIN file %s is larger than %d bytes",
				      path, NRFCA_PIN_MAX);
			goto out;
		}
	}
	out->len = got;
	rc = finish(out, err, "PIN file");
out:
	if (rc != 0)
		p11pin_wipe(out);
	close(fd);
	return rc;
}

int p11pin_read(const char *pin_source, const char *base_dir, const char *pin_env,
		int allow_insecure_file, struct p11pin *out, struct nrfca_err *err)
{
	memset(out, 0, sizeof(*out));
	if (pin_source != NULL) {
		const char *path = pin_source;
		char full[4096];

		if (strncmp(path, "file:", 5) == 0)
			path += 5;
		if (strncmp(path, "//", 2) == 0)   /* file:///path */
			path += 2;
		if (path[0] == '\0')
			return nrfca_err_set(err, NRFCA_E_CONFIG, "pin-source '%s' names no file",
					     pin_source);
		if (path[0] != '/') {
			if (base_dir == NULL)
				return nrfca_err_set(err, NRFCA_E_CONFIG,
						     "pin-source '%s' is relative and there is no "
						     "configuration folder to resolve it against: use "
						     "file:/absolute/path", pin_source);
			if ((size_t)snprintf(full, sizeof(full), "%s/%s", base_dir, path) >=
			    sizeof(full))
				return nrfca_err_set(err, NRFCA_E_CONFIG,
						     "pin-source path is too long");
			path = full;
		}
		return read_file(path, allow_insecure_file, out, err);
	}
	if (pin_env != NULL && pin_env[0] != '\0') {
		const char *v = getenv(pin_env);
		size_t n;

		if (v == NULL)
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "the PIN environment variable %s is not set", pin_env);
		n = strlen(v);
		if (n > NRFCA_PIN_MAX)
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "the PIN in %s is longer than %d bytes", pin_env,
					     NRFCA_PIN_MAX);
		memcpy(out->buf, v, n);
		out->len = n;
		return finish(out, err, "the PIN environment variable");
	}
	return nrfca_err_set(err, NRFCA_E_CONFIG,
			     "no PIN source: add pin-source=file:PATH to the token URI or name "
			     "a PIN environment variable in the configuration");
}

void p11pin_wipe(struct p11pin *pin)
{
	OPENSSL_cleanse(pin->buf, sizeof(pin->buf));
	pin->len = 0;
}
