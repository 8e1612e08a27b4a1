/*
 * config.h - the JSON configuration shared by nrfca-server and nrfca-admin.
 *
 * Relative paths are resolved against the configuration file's folder
 * (`dir`, absolute): file names, sqlite:PATH, the token URI's pin-source
 * file and module-path (by the signer, given `dir`), and token.env values
 * that start with ./ or ../.  Unknown keys and wrong types are refused with
 * the JSON path.  The file is at most 256 KiB.  The token PIN is never in
 * this file: the token URI has pin-source=file:PATH, or token.pin_env names
 * an environment variable.
 */
#ifndef NRFCA_CONFIG_H
#define NRFCA_CONFIG_H

#include "error.h"

struct nrfca_config {
	char *path;                /* the file itself, as given */
	char *dir;                 /* its folder, absolute: relative paths resolve here */
	/* listen */
	char *listen_address;      /* default 127.0.0.1 */
	int listen_port;           /* default 8080; NRFCA_PORT overrides */
	int allow_plain_http;      /* plain HTTP on a non-loopback address */
	char *admin_address;       /* /metrics listener; NULL: /metrics on the main
	                              listener for loopback clients only */
	int admin_port;
	/* tls */
	char *tls_cert, *tls_key, *tls_client_ca;
	char *tls_client_crl;      /* CRL of the stations' CA, re-read on SIGHUP */
	int tls_require_client_cert;
	int tls_admin;             /* the admin listener serves HTTPS too */
	/* token */
	char *token_uri;
	char *token_pin_env;
	int token_pool_size;
	int token_allow_insecure_pin_file;
	int token_session_copy;
	char **token_env;          /* token.env as "NAME=VALUE", NULL-terminated (or NULL):
	                              the module's environment, set before it is loaded */
	/* ca */
	char *ca_chain;            /* PEM, CA certificate first */
	/* database / policy */
	char *database;            /* sqlite:PATH, postgresql://... or libpq keywords */
	char *database_password_file; /* PostgreSQL password, mode 0600; NULL: libpq's own */
	int database_pool;         /* connections besides the writer's; 0: default (8) */
	char *policy;
	/* crl */
	int crl_next_update_hours; /* default 24 */
	/* limits */
	long max_body;             /* default 65536 */
	int max_json_depth;        /* default 8 */
	int max_connections;       /* default 256 */
	int max_connections_per_ip; /* default 64; 0: no per-address limit */
	int request_timeout;       /* idle seconds, default 30 */
	int receive_timeout;       /* seconds for a request's headers and body, default 10 */
	int threads;               /* default 4 */
	/* identity_service: nRF Cloud's Identity Service (ca-server/identity.h),
	 * for profiles with attestation.verify_with; NULL url = not configured */
	char *identity_url;
	char *identity_api_key_file;   /* mode 0600 */
	int identity_allow_insecure_key_file;
	char *identity_ca_file;
	int identity_timeout_ms;       /* 0 = the module's default */
	int identity_cache_entries;
	int identity_cache_seconds;
	int identity_backoff_seconds;
};

int nrfca_config_load(const char *path, struct nrfca_config **out, struct nrfca_err *err);
void nrfca_config_free(struct nrfca_config *c);

#define NRFCA_CONFIG_ENV_MAX 32  /* entries of token.env */

/* Resolve `p` against the folder of `base_file` (returns a new string). */
char *nrfca_path_resolve(const char *base_file, const char *p);

#endif
