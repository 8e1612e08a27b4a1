#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#define CONFIG_MAX (256 * 1024)

enum ftype { F_STR, F_PATH, F_INT, F_BOOL, F_DB, F_ENV };

struct field {
	const char *section;  /* NULL: top level */
	const char *key;
	enum ftype type;
	size_t off;
	long min, max;
};

#define O(f) offsetof(struct nrfca_config, f)
static const struct field fields[] = {
	{ "listen", "address", F_STR, O(listen_address), 0, 0 },
	{ "listen", "port", F_INT, O(listen_port), 0, 65535 },
	{ "listen", "allow_plain_http", F_BOOL, O(allow_plain_http), 0, 1 },
	{ "listen", "admin_address", F_STR, O(admin_address), 0, 0 },
	{ "listen", "admin_port", F_INT, O(admin_port), 0, 65535 },
	{ "tls", "certificate", F_PATH, O(tls_cert), 0, 0 },
	{ "tls", "key", F_PATH, O(tls_key), 0, 0 },
	{ "tls", "client_ca", F_PATH, O(tls_client_ca), 0, 0 },
	{ "tls", "client_crl", F_PATH, O(tls_client_crl), 0, 0 },
	{ "tls", "require_client_cert", F_BOOL, O(tls_require_client_cert), 0, 1 },
	{ "tls", "admin", F_BOOL, O(tls_admin), 0, 1 },
	{ "token", "uri", F_STR, O(token_uri), 0, 0 },
	{ "token", "pin_env", F_STR, O(token_pin_env), 0, 0 },
	{ "token", "pool_size", F_INT, O(token_pool_size), 1, 64 },
	{ "token", "allow_insecure_pin_file", F_BOOL, O(token_allow_insecure_pin_file), 0, 1 },
	{ "token", "session_copy", F_BOOL, O(token_session_copy), 0, 1 },
	{ "token", "env", F_ENV, O(token_env), 0, 0 },
	{ "ca", "chain", F_PATH, O(ca_chain), 0, 0 },
	{ NULL, "database", F_DB, O(database), 0, 0 },
	{ NULL, "database_password_file", F_PATH, O(database_password_file), 0, 0 },
	{ NULL, "database_pool", F_INT, O(database_pool), 1, 256 },
	{ NULL, "policy", F_PATH, O(policy), 0, 0 },
	{ "crl", "next_update_hours", F_INT, O(crl_next_update_hours), 1, 24 * 366 },
	{ "limits", "max_body", F_INT, O(max_body), 1024, 16 * 1024 * 1024 },
	{ "limits", "max_json_depth", F_INT, O(max_json_depth), 2, 64 },
	{ "limits", "max_connections", F_INT, O(max_connections), 1, 65536 },
	{ "limits", "max_connections_per_ip", F_INT, O(max_connections_per_ip), 0, 65536 },
	{ "limits", "request_timeout", F_INT, O(request_timeout), 1, 3600 },
	{ "limits", "receive_timeout", F_INT, O(receive_timeout), 1, 3600 },
	{ "limits", "threads", F_INT, O(threads), 1, 256 },
	{ "identity_service", "url", F_STR, O(identity_url), 0, 0 },
	{ "identity_service", "api_key_file", F_PATH, O(identity_api_key_file), 0, 0 },
	{ "identity_service", "allow_insecure_key_file", F_BOOL, O(identity_allow_insecure_key_file), 0, 1 },
	{ "identity_service", "ca_file", F_PATH, O(identity_ca_file), 0, 0 },
	{ "identity_service", "timeout_ms", F_INT, O(identity_timeout_ms), 100, 30000 },
	{ "identity_service", "cache_entries", F_INT, O(identity_cache_entries), 1, 1048576 },
	{ "identity_service", "cache_seconds", F_INT, O(identity_cache_seconds), 1, 7 * 86400 },
	{ "identity_service", "backoff_seconds", F_INT, O(identity_backoff_seconds), 1, 300 },
};

static const char *const sections[] = { "listen", "tls", "token", "ca", "crl", "limits",
					"identity_service" };

char *nrfca_path_resolve(const char *base_file, const char *p)
{
	const char *slash;
	char *out;
	size_t dl;

	if (p[0] == '/' || base_file == NULL || (slash = strrchr(base_file, '/')) == NULL)
		return strdup(p);
	dl = (size_t)(slash - base_file);
	out = malloc(dl + 1 + strlen(p) + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, base_file, dl);
	out[dl] = '/';
	strcpy(out + dl + 1, p);
	return out;
}

/* `p` resolved against the configuration's (absolute) folder. */
static char *resolve(const struct nrfca_config *c, const char *p)
{
	size_t n;
	char *out;

	if (p[0] == '/')
		return strdup(p);
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	n = strlen(c->dir) + strlen(p) + 2;
	out = malloc(n);
	if (out != NULL)
		snprintf(out, n, "%s/%s", c->dir, p);
	return out;
}

static void free_env(char **env)
{
	char **e;

	for (e = env; e != NULL && *e != NULL; e++)
		free(*e);
	free(env);
}

/* token.env: {"NAME": "value", ...}; ./ and ../ values are paths. */
static int set_env(struct nrfca_config *c, json_t *v, struct nrfca_err *err)
{
	const char *k;
	json_t *x;
	size_t i = 0, n;

	if (!json_is_object(v))
		return nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.token.env must be an object of "
				     "environment variables, e.g. {\"SOFTHSM2_CONF\": "
				     "\"./softhsm2.conf\"}", c->path);
	n = json_object_size(v);
	if (n > NRFCA_CONFIG_ENV_MAX)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.token.env has %zu entries; at most "
				     "%d", c->path, n, NRFCA_CONFIG_ENV_MAX);
	free_env(c->token_env);
	c->token_env = calloc(n + 1, sizeof(char *));
	if (c->token_env == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	json_object_foreach(v, k, x) {
		const char *val, *p;
		char *res;
		size_t len;

		for (p = k; *p != '\0'; p++)
			if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			      (p > k && *p >= '0' && *p <= '9')))
				break;
		if (k[0] == '\0' || *p != '\0' || strlen(k) > 100)
			return nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.token.env: '%.40s' is not an "
					     "environment variable name (letters, digits, _)",
					     c->path, k);
		if (!json_is_string(x) || (len = strlen(val = json_string_value(x))) > 4096 ||
		    len != json_string_length(x))
			return nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.token.env.%s must be a string "
					     "of at most 4096 characters", c->path, k);
		res = strncmp(val, "./", 2) == 0 || strncmp(val, "../", 3) == 0 ?
		      resolve(c, val) : strdup(val);
		if (res == NULL)
			return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		c->token_env[i] = malloc(strlen(k) + strlen(res) + 2);
		if (c->token_env[i] != NULL)
			sprintf(c->token_env[i], "%s=%s", k, res);
		free(res);
		if (c->token_env[i++] == NULL)
			return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	}
	return 0;
}

static int set_field(struct nrfca_config *c, const struct field *fd, json_t *v,
		     struct nrfca_err *err)
{
	char *base = (char *)c;
	const char *where = fd->section ? fd->section : "";
	const char *dot = fd->section ? "." : "";

	switch (fd->type) {
	case F_STR:
	case F_PATH:
	case F_DB: {
		const char *s;
		char **slot = (char **)(base + fd->off);

		if (!json_is_string(v))
			return nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.%s%s%s must be a string",
					     c->path, where, dot, fd->key);
		s = json_string_value(v);
		if (strlen(s) == 0 || strlen(s) > 4096)
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "%s: $.%s%s%s must be 1 to 4096 characters", c->path,
					     where, dot, fd->key);
		free(*slot);
		if (fd->type == F_PATH) {
			*slot = resolve(c, s);
		} else if (fd->type == F_DB) {
			if (strncmp(s, "postgresql:", 11) == 0 || strncmp(s, "postgres:", 9) == 0 ||
			    (strncmp(s, "sqlite:", 7) != 0 && strchr(s, '=') != NULL)) {
				*slot = strdup(s);   /* PostgreSQL: libpq URI or keywords */
			} else if (strncmp(s, "sqlite:", 7) != 0) {
				return nrfca_err_set(err, NRFCA_E_CONFIG,
						     "%s: $.database must be sqlite:PATH, postgresql://... or "
						     "libpq keywords (host=... dbname=...) (got '%.40s')",
						     c->path, s);
			} else {
				char *p = resolve(c, s + 7);

				if (p == NULL)
					return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
				*slot = malloc(strlen(p) + 8);
				if (*slot != NULL)
					sprintf(*slot, "sqlite:%s", p);
				free(p);
			}
		} else {
			*slot = strdup(s);
		}
		if (*slot == NULL)
			return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
		return 0;
	}
	case F_INT: {
		json_int_t i;

		if (!json_is_integer(v))
			return nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.%s%s%s must be an integer",
					     c->path, where, dot, fd->key);
		i = json_integer_value(v);
		if (i < fd->min || i > fd->max)
			return nrfca_err_set(err, NRFCA_E_CONFIG,
					     "%s: $.%s%s%s is %lld; it must be %ld to %ld", c->path,
					     where, dot, fd->key, (long long)i, fd->min, fd->max);
		if (fd->off == O(max_body))
			c->max_body = (long)i;
		else
			*(int *)(base + fd->off) = (int)i;
		return 0;
	}
	case F_ENV:
		return set_env(c, v, err);
	case F_BOOL:
		if (!json_is_boolean(v))
			return nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.%s%s%s must be true or false",
					     c->path, where, dot, fd->key);
		*(int *)(base + fd->off) = json_is_true(v);
		return 0;
	}
	return 0;
}

static const struct field *find_field(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if ((section == NULL) != (fields[i].section == NULL))
			continue;
		if (section && strcmp(section, fields[i].section) != 0)
			continue;
		if (strcmp(key, fields[i].key) == 0)
			return &fields[i];
	}
	return NULL;
}

static int is_section(const char *k)
{
	size_t i;

	for (i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (strcmp(k, sections[i]) == 0)
			return 1;
	return 0;
}

int nrfca_config_load(const char *path, struct nrfca_config **out, struct nrfca_err *err)
{
	struct nrfca_config *c = NULL;
	json_error_t je;
	json_t *root = NULL, *v, *v2;
	const char *k, *k2;
	struct stat st;
	const char *env;
	int rc = -1;

	if (stat(path, &st) != 0)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "cannot read configuration %s: %s", path,
				     strerror(errno));
	if (st.st_size > CONFIG_MAX)
		return nrfca_err_set(err, NRFCA_E_CONFIG, "configuration %s is larger than %d bytes",
				     path, CONFIG_MAX);
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->path = strdup(path)) == NULL)
		goto nomem;
	{
		char *abs = realpath(path, NULL), *slash;

		if (abs == NULL) {
			nrfca_err_set(err, NRFCA_E_CONFIG, "cannot resolve the folder of %s: %s",
				      path, strerror(errno));
			goto out;
		}
		slash = strrchr(abs, '/');
		if (slash == abs)
			slash[1] = '\0';
		else
			*slash = '\0';
		c->dir = abs;
	}
	c->listen_address = strdup("127.0.0.1");
	c->listen_port = 8080;
	c->token_pool_size = 4;
	c->token_session_copy = 1;
	c->crl_next_update_hours = 24;
	c->max_body = 65536;
	c->max_json_depth = 8;
	c->max_connections = 256;
	c->max_connections_per_ip = 64;
	c->request_timeout = 30;
	c->receive_timeout = 10;
	c->threads = 4;
	if (c->listen_address == NULL)
		goto nomem;
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s: line %d: %s", path, je.line, je.text);
		goto out;
	}
	if (!json_is_object(root)) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s: the configuration must be a JSON object", path);
		goto out;
	}
	json_object_foreach(root, k, v) {
		const struct field *fd;

		if (is_section(k)) {
			if (!json_is_object(v)) {
				nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.%s must be an object", path, k);
				goto out;
			}
			json_object_foreach(v, k2, v2) {
				fd = find_field(k, k2);
				if (fd == NULL) {
					nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.%s.%s: unknown key",
						      path, k, k2);
					goto out;
				}
				if (set_field(c, fd, v2, err) != 0)
					goto out;
			}
			continue;
		}
		fd = find_field(NULL, k);
		if (fd == NULL) {
			nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.%s: unknown key", path, k);
			goto out;
		}
		if (set_field(c, fd, v, err) != 0)
			goto out;
	}
	env = getenv("NRFCA_PORT");
	if (env != NULL && env[0] != '\0') {
		char *end;
		long p = strtol(env, &end, 10);

		if (*end != '\0' || p < 0 || p > 65535) {
			nrfca_err_set(err, NRFCA_E_CONFIG, "NRFCA_PORT='%s' is not a port number", env);
			goto out;
		}
		c->listen_port = (int)p;
	}
	if (c->token_uri == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.token.uri is required", path);
		goto out;
	}
	if (c->ca_chain == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.ca.chain is required", path);
		goto out;
	}
	if ((c->tls_cert == NULL) != (c->tls_key == NULL)) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "%s: $.tls needs both certificate and key, or neither", path);
		goto out;
	}
	if (c->tls_client_ca != NULL && c->tls_cert == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "%s: $.tls.client_ca (mutual TLS) needs $.tls.certificate and key", path);
		goto out;
	}
	if ((c->tls_client_crl != NULL || c->tls_require_client_cert) && c->tls_client_ca == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG, "%s: $.tls.%s needs $.tls.client_ca (the stations' CA)",
			      path, c->tls_client_crl ? "client_crl" : "require_client_cert");
		goto out;
	}
	if (c->tls_admin && c->tls_cert == NULL) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "%s: $.tls.admin (HTTPS on the admin listener) needs $.tls.certificate and key",
			      path);
		goto out;
	}
	if ((c->identity_url == NULL) != (c->identity_api_key_file == NULL)) {
		nrfca_err_set(err, NRFCA_E_CONFIG,
			      "%s: $.identity_service needs both url and api_key_file", path);
		goto out;
	}
	rc = 0;
	*out = c;
	c = NULL;
	goto out;
nomem:
	nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
out:
	json_decref(root);
	nrfca_config_free(c);
	return rc;
}

void nrfca_config_free(struct nrfca_config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i].type == F_STR || fields[i].type == F_PATH || fields[i].type == F_DB)
			free(*(char **)((char *)c + fields[i].off));
	free_env(c->token_env);
	free(c->path);
	free(c->dir);
	free(c);
}
