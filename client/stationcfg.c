/* stationcfg.c - key = value station config, strict. */
#include "stationcfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "nrf91.h"

enum cfg_kind { K_STR, K_PATH, K_SECTAG, K_EOL, K_SHELLBUF };

struct cfg_key {
	const char *name;
	enum cfg_kind kind;
	size_t off;
};

#define O(f) offsetof(struct nrfca_stationcfg, f)
static const struct cfg_key keys[] = {
	{ "server", K_STR, O(server) },
	{ "token_file", K_PATH, O(token_file) },
	{ "ca_bundle", K_PATH, O(ca_bundle) },
	{ "client_cert", K_PATH, O(client_cert) },
	{ "client_key", K_PATH, O(client_key) },
	{ "profile", K_STR, O(profile) },
	{ "sec_tag", K_SECTAG, O(sec_tag) },
	{ "line_ending", K_EOL, O(line_ending) },
	{ "shell_buffer", K_SHELLBUF, O(shell_buffer) },
	{ "journal", K_PATH, O(journal) },
};
#undef O

void nrfca_stationcfg_init(struct nrfca_stationcfg *c)
{
	memset(c, 0, sizeof(*c));
	c->sec_tag = -1;
	c->line_ending = -1;
	c->shell_buffer = -1;
}

void nrfca_stationcfg_clear(struct nrfca_stationcfg *c)
{
	free(c->server);
	free(c->token_file);
	free(c->ca_bundle);
	free(c->client_cert);
	free(c->client_key);
	free(c->profile);
	free(c->journal);
	free(c->dir);
	nrfca_stationcfg_init(c);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

int nrfca_stationcfg_parse(const char *name, const char *text, size_t len, const char *base,
			   struct nrfca_stationcfg *c, struct nrfca_err *e)
{
	char *copy, *line, *next;
	unsigned seen = 0, lineno = 0;
	size_t i;
	int rc = -1;

	if (len > NRFCA_STATIONCFG_MAX)
		return nrfca_err_set(e, NRFCA_E_TOO_LARGE, "%s is over %u bytes", name,
				     NRFCA_STATIONCFG_MAX);
	if (memchr(text, '\0', len) != NULL)
		return nrfca_err_set(e, NRFCA_E_INPUT, "%s holds a NUL byte", name);
	copy = strndup(text, len);
	if (copy == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	for (line = copy; line != NULL; line = next) {
		char *eq, *k, *v;
		const struct cfg_key *key = NULL;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		eq = strchr(k, '=');
		if (eq == NULL) {
			nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: expected key = value", name,
				      lineno);
			goto out;
		}
		*eq = '\0';
		k = trim(k);
		v = trim(eq + 1);
		if (v[0] == '"') {
			size_t vl = strlen(v);

			if (vl < 2 || v[vl - 1] != '"') {
				nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: unterminated quote",
					      name, lineno);
				goto out;
			}
			v[vl - 1] = '\0';
			v++;
		}
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(keys[i].name, k) == 0)
				key = &keys[i];
		if (key == NULL) {
			nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: unknown key '%.40s' (known: "
				      "server, token_file, ca_bundle, client_cert, client_key, profile, "
				      "sec_tag, line_ending, shell_buffer, journal)", name, lineno, k);
			goto out;
		}
		if (seen & (1u << (key - keys))) {
			nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: '%s' given twice", name,
				      lineno, k);
			goto out;
		}
		seen |= 1u << (key - keys);
		if (*v == '\0') {
			nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: '%s' has no value", name,
				      lineno, k);
			goto out;
		}
		for (i = 0; v[i]; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
				nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: control character in "
					      "the value of '%s'", name, lineno, k);
				goto out;
			}
		switch (key->kind) {
		case K_STR:
		case K_PATH: {
			char **dst = (char **)((char *)c + key->off);
			char *val;

			if (key->kind == K_PATH && v[0] != '/' && base != NULL) {
				size_t n = strlen(base) + strlen(v) + 2;

				val = malloc(n);
				if (val != NULL)
					snprintf(val, n, "%s/%s", base, v);
			} else {
				val = strdup(v);
			}
			if (val == NULL) {
				nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
				goto out;
			}
			free(*dst);
			*dst = val;
			break;
		}
		case K_SECTAG: {
			char *end;
			long long t;

			errno = 0;
			t = strtoll(v, &end, 10);
			if (errno || *end || t < 0 || t > NRF91_SEC_TAG_MAX) {
				nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: sec_tag must be "
					      "0..%u", name, lineno, NRF91_SEC_TAG_MAX);
				goto out;
			}
			c->sec_tag = t;
			break;
		}
		case K_SHELLBUF: {
			char *end;
			long long t;

			errno = 0;
			t = strtoll(v, &end, 10);
			if (errno || *end || t < NRFCA_AT_SHELL_BUFFER_MIN || t > 1048576) {
				nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: shell_buffer must be "
					      "%u..1048576 bytes", name, lineno,
					      NRFCA_AT_SHELL_BUFFER_MIN);
				goto out;
			}
			c->shell_buffer = t;
			break;
		}
		case K_EOL:
			if (strcmp(v, "crlf") == 0)
				c->line_ending = NRF91_EOL_CRLF;
			else if (strcmp(v, "lf") == 0)
				c->line_ending = NRF91_EOL_LF;
			else {
				nrfca_err_set(e, NRFCA_E_CONFIG, "%s line %u: line_ending must be "
					      "crlf or lf", name, lineno);
				goto out;
			}
			break;
		}
	}
	rc = 0;
out:
	free(copy);
	return rc;
}

int nrfca_stationcfg_load(const char *path, struct nrfca_stationcfg *c, struct nrfca_err *e)
{
	char *text = NULL, *slash;
	size_t len = 0;
	int rc;

	if (nrfca_read_small(path, NRFCA_STATIONCFG_MAX, &text, &len, NULL, e) != 0)
		return -1;
	c->dir = strdup(path);
	if (c->dir == NULL) {
		free(text);
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	slash = strrchr(c->dir, '/');
	if (slash == NULL)
		strcpy(c->dir, ".");
	else if (slash == c->dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	rc = nrfca_stationcfg_parse(path, text, len, c->dir, c, e);
	free(text);
	return rc;
}
