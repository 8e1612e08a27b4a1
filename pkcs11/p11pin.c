#include "p11pin.h"

#include "secretfile.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

static int read_file(const char *path, int allow_insecure, struct p11pin *out, struct nrfca_err *err)
{
	return nrfca_secret_file_read(path, "PIN file", allow_insecure, " or allow it explicitly", out->buf,
				      sizeof(out->buf), &out->len, err);
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
		if (nrfca_secret_line(out->buf, &out->len, "the PIN environment variable", err) != 0) {
			p11pin_wipe(out);
			return -1;
		}
		return 0;
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
