/*
 * stationcfg.h - the station config file of `nrfca provision`.
 *
 * Format: key = value lines; `#` starts a comment line; blank lines are
 * ignored; white space around key and value is dropped; a value may be
 * wrapped in double quotes.  Keys:
 *   server       CA base URL (https://...)
 *   token_file   file holding the station's bearer secret
 *   ca_bundle    PEM bundle to verify the CA server's TLS certificate
 *   client_cert  PEM client certificate of the station (mutual TLS)
 *   client_key   its PEM private key (default: in client_cert's file)
 *   profile      certificate profile to ask for
 *   sec_tag      0..2147483647
 *   line_ending  crlf | lf
 *   shell_buffer the firmware shell's command buffer (64..1048576)
 *   journal      journal directory
 * Unknown keys, repeated keys, malformed lines and files over
 * NRFCA_STATIONCFG_MAX bytes are refused with the file and line.  Relative
 * paths are taken relative to the config file's directory.  Flags given on
 * the command line win over the file.
 *
 * Ownership: the struct owns its strings (nrfca_stationcfg_clear).
 */
#ifndef NRFCA_CLIENT_STATIONCFG_H
#define NRFCA_CLIENT_STATIONCFG_H

#include "error.h"

#define NRFCA_STATIONCFG_MAX 16384u

struct nrfca_stationcfg {
	char *server, *token_file, *ca_bundle, *profile, *journal;
	char *client_cert, *client_key;
	long long sec_tag;     /* -1 = not set */
	int line_ending;       /* enum nrf91_eol, -1 = not set */
	long long shell_buffer;/* -1 = not set */
	char *dir;             /* directory of the file (for the default journal) */
};

void nrfca_stationcfg_init(struct nrfca_stationcfg *c);
int nrfca_stationcfg_load(const char *path, struct nrfca_stationcfg *c, struct nrfca_err *e);
/* Parse text (tests); base = directory for relative paths (NULL: keep). */
int nrfca_stationcfg_parse(const char *name, const char *text, size_t len, const char *base,
			   struct nrfca_stationcfg *c, struct nrfca_err *e);
void nrfca_stationcfg_clear(struct nrfca_stationcfg *c);

#endif
