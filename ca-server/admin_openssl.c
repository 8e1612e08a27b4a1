/* nrfca-admin openssl-env: the CA key for OpenSSL's command line (libp11's engine). */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "signer.h"

const char admin_openssl_env_help[] =
	"usage: nrfca-admin [--config FILE] openssl-env\n\n"
	"Prints shell lines that let OpenSSL's command line use the CA key through\n"
	"libp11's pkcs11 engine (Debian: libengine-pkcs11-openssl):\n"
	"  PKCS11_MODULE_PATH  the module of the configuration's token URI\n"
	"  NRFCA_KEY_URI       that URI without module-path (libp11 0.4.12 refuses it),\n"
	"                      with type=private and an absolute pin-source file\n"
	"  NRFCA_CA_CHAIN      the configured CA chain\n"
	"and the variables of token.env.  Use them with\n"
	"  eval \"$(nrfca-admin --config FILE openssl-env)\"\n"
	"  openssl ... -engine pkcs11 -keyform engine -keyfile \"$NRFCA_KEY_URI\"\n"
	"The PIN is never printed.\n";

/* VALUE in single quotes for a POSIX shell */
static void sh_quoted(const char *v)
{
	putchar('\'');
	for (; *v != '\0'; v++) {
		if (*v == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*v);
	}
	putchar('\'');
}

static void export_line(const char *name, size_t nlen, const char *value)
{
	printf("export %.*s=", (int)nlen, name);
	sh_quoted(value);
	putchar('\n');
}

int admin_openssl_env(struct admin *a, int argc, char **argv)
{
	struct signer_config sc = { 0 };
	struct nrfca_err e = { 0 };
	struct nrfca_config *c;
	char *module = NULL, *uri = NULL, **env;
	int newline = 0;

	if (admin_positional(a, argc, argv, 0) != 0)
		return 2;
	if ((c = admin_config(a)) == NULL)
		return 1;
	sc.uri = c->token_uri;
	sc.pin_env = c->token_pin_env;
	sc.base_dir = c->dir;
	sc.env = (const char *const *)c->token_env;
	if (signer_engine_form(&sc, &module, &uri, &newline, &e) != 0)
		return admin_fail(a, "%s", e.msg);
	printf("# the CA key of %s for openssl -engine pkcs11 (libp11)\n", c->path);
	export_line("PKCS11_MODULE_PATH", strlen("PKCS11_MODULE_PATH"), module);
	for (env = c->token_env; env != NULL && *env != NULL; env++)
		export_line(*env, strcspn(*env, "="), strchr(*env, '=') + 1);
	export_line("NRFCA_KEY_URI", strlen("NRFCA_KEY_URI"), uri);
	export_line("NRFCA_CA_CHAIN", strlen("NRFCA_CA_CHAIN"), c->ca_chain);
	if (strstr(uri, "pin-source=") == NULL)
		fprintf(stderr, "%s: the URI has no pin-source: give openssl the PIN with "
			"-passin env:%s (or type it when asked)\n", admin_cmd(a),
			c->token_pin_env ? c->token_pin_env : "VARIABLE");
	if (newline)
		fprintf(stderr, "%s: warning: the PIN file ends with a line break, which "
			"libp11 0.4.12 sends as part of the PIN (nrfca ignores it); remove it "
			"(e.g. truncate -s -1 FILE) before using the engine\n", admin_cmd(a));
	free(module);
	free(uri);
	return 0;
}
