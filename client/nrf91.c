/* nrf91.c - nRF91 modem operations as a table of steps (see nrf91.h). */
#include "nrf91.h"
#include "exitcodes.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

struct nrf91 {
	struct nrfca_serial *port;  /* owned when opened by nrf91_open */
	struct nrfca_at *at;
	int owns_at;
	enum nrf91_fail fail;
	enum nrfca_at_final last_final;
	int last_code;
	int forced;          /* the prefix was given, not detected */
	unsigned ncmds;      /* commands sent so far (the first one tells the mode) */
};

/* ---------------------------------------------------------------- steps */

enum step_id {
	ST_CMEE, ST_CGMR, ST_CGSN, ST_DEVICEUUID, ST_CGMM, ST_CFUN_GET, ST_CFUN_SET,
	ST_CMNG_LIST, ST_CMNG_WRITE, ST_CMNG_DELETE, ST_KEYGEN, ST_ATTESTTOKEN,
	ST_MAX
};

enum extract {
	EX_NONE,   /* only the final line matters */
	EX_ONE,    /* the first line that `take` accepts; missing = wrong answer */
	EX_EACH,   /* every line with the prefix (possibly none) */
};

/* What a CME code means for one step (the general text is nrfca_at_cme_text). */
struct cme_note {
	int code;
	const char *advice;
};

/* Arguments a template may use:
 *   {tag} sec_tag, {type} credential type, {n} a small number,
 *   {s1} a required quoted string, {,s1} {,s2} optional `,"..."`. */
struct step_args {
	uint32_t tag;
	int type;
	int n;
	const char *s1;
	const char *s2;
	unsigned flags;   /* NRFCA_AT_SECRET for PSK content */
};

/* take: called with the whole line and the text after the prefix; returns
 * 1 when it took the line, 0 when the line is not the one (bare lines), -1
 * with e set when it is the line but malformed. */
typedef int (*take_fn)(const char *line, const char *value, void *out, struct nrfca_err *e);

struct step {
	const char *what;        /* for messages: "read the IMEI" */
	const char *tmpl;
	int timeout_ms;
	const char *prefix;      /* prefix of the answer line; NULL = bare line */
	enum extract extract;
	take_fn take;
	const char *expect;      /* for messages: "a 15-digit IMEI line" */
	const struct cme_note *notes;
};

static int take_fw(const char *, const char *, void *, struct nrfca_err *);
static int take_imei(const char *, const char *, void *, struct nrfca_err *);
static int take_uuid(const char *, const char *, void *, struct nrfca_err *);
static int take_model(const char *, const char *, void *, struct nrfca_err *);
static int take_int(const char *, const char *, void *, struct nrfca_err *);
static int take_cmng(const char *, const char *, void *, struct nrfca_err *);
static int take_quoted(const char *, const char *, void *, struct nrfca_err *);

static const struct cme_note offline_notes[] = {
	{ 518, "switch the modem offline first (AT+CFUN=4)" },
	{ 528, "a power-off warning is active: check the supply voltage and restart the modem" },
	{ 0, NULL },
};

static const struct cme_note write_notes[] = {
	{ 514, "the sec_tag may be protected or in use by the application" },
	{ 515, "the modem's credential storage is full: delete unused credentials" },
	{ 518, "switch the modem offline first (AT+CFUN=4)" },
	{ 528, "a power-off warning is active: check the supply voltage and restart the modem" },
	{ 0, NULL },
};

static const struct cme_note delete_notes[] = {
	{ 513, "there is no credential of that type at that sec_tag" },
	{ 514, "the sec_tag may be protected or in use by the application" },
	{ 518, "switch the modem offline first (AT+CFUN=4)" },
	{ 0, NULL },
};

static const struct cme_note keygen_notes[] = {
	{ 514, "the sec_tag may be protected or in use by the application" },
	{ 515, "the modem's credential storage is full: delete unused credentials" },
	{ 518, "switch the modem offline first (AT+CFUN=4)" },
	{ 519, "a key already exists at this sec_tag: delete it first" },
	{ 523, "retry; if it keeps failing the modem may be damaged" },
	{ 0, NULL },
};

static const struct step steps[ST_MAX] = {
	[ST_CMEE] = { "switch on numeric error codes", "AT+CMEE=1", 0,
		      NULL, EX_NONE, NULL, NULL, NULL },
	[ST_CGMR] = { "read the modem firmware version", "AT+CGMR", 0,
		      NULL, EX_ONE, take_fw, "a firmware version line (e.g. mfw_nrf9160_1.3.5)", NULL },
	[ST_CGSN] = { "read the IMEI", "AT+CGSN", 0,
		      NULL, EX_ONE, take_imei, "a 15-digit IMEI line", NULL },
	[ST_DEVICEUUID] = { "read the device UUID", "AT%DEVICEUUID", 0,
			    "%DEVICEUUID:", EX_ONE, take_uuid, "a %DEVICEUUID: line", NULL },
	[ST_CGMM] = { "read the modem model", "AT+CGMM", 0,
		      NULL, EX_ONE, take_model, "a model line (e.g. nRF9151-LACA)", NULL },
	[ST_CFUN_GET] = { "read the functional mode", "AT+CFUN?", 0,
			  "+CFUN:", EX_ONE, take_int, "a +CFUN: line", NULL },
	[ST_CFUN_SET] = { "set the functional mode", "AT+CFUN={n}", 15000,
			  NULL, EX_NONE, NULL, NULL, offline_notes },
	[ST_CMNG_LIST] = { "list credentials", "AT%CMNG=1", 10000,
			   "%CMNG:", EX_EACH, take_cmng, NULL, NULL },
	[ST_CMNG_WRITE] = { "write the credential", "AT%CMNG=0,{tag},{type},{s1}", 15000,
			    NULL, EX_NONE, NULL, NULL, write_notes },
	[ST_CMNG_DELETE] = { "delete the credential", "AT%CMNG=3,{tag},{type}", 10000,
			     NULL, EX_NONE, NULL, NULL, delete_notes },
	[ST_KEYGEN] = { "generate a key", "AT%KEYGEN={tag},2,{n}{,s1}{,s2}",
			NRFCA_AT_KEYGEN_TIMEOUT_MS,
			"%KEYGEN:", EX_ONE, take_quoted, "a %KEYGEN: \"...\" line", keygen_notes },
	[ST_ATTESTTOKEN] = { "read the attestation token", "AT%ATTESTTOKEN", 10000,
			     "%ATTESTTOKEN:", EX_ONE, take_quoted, "an %ATTESTTOKEN: \"...\" line",
			     offline_notes },
};

/* --------------------------------------------------------- interpreter */

static int append(char **buf, size_t *len, size_t cap, const char *s, size_t n)
{
	if (*len + n + 1 > cap)
		return -1;
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

static int build_cmd(const struct step *st, const struct step_args *a, char **out,
		     struct nrfca_err *e)
{
	size_t cap = strlen(st->tmpl) + 64 + (a->s1 ? strlen(a->s1) : 0) +
		     (a->s2 ? strlen(a->s2) : 0);
	size_t len = 0;
	const char *p = st->tmpl;
	char *buf = malloc(cap), num[24];

	if (buf == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	buf[0] = '\0';
	while (*p) {
		const char *q = NULL, *tok;
		size_t tl;
		int opt = 0, r = 0;

		if (*p != '{') {
			size_t n = strcspn(p, "{");

			r = append(&buf, &len, cap, p, n);
			p += n;
			if (r != 0)
				goto overflow;
			continue;
		}
		tok = p + 1;
		tl = strcspn(tok, "}");
		p = tok + tl + (tok[tl] == '}');
		if (tl == 3 && strncmp(tok, "tag", 3) == 0) {
			snprintf(num, sizeof(num), "%u", (unsigned)a->tag);
			r = append(&buf, &len, cap, num, strlen(num));
		} else if (tl == 4 && strncmp(tok, "type", 4) == 0) {
			snprintf(num, sizeof(num), "%d", a->type);
			r = append(&buf, &len, cap, num, strlen(num));
		} else if (tl == 1 && tok[0] == 'n') {
			snprintf(num, sizeof(num), "%d", a->n);
			r = append(&buf, &len, cap, num, strlen(num));
		} else {
			if (tok[0] == ',') {
				opt = 1;
				tok++;
				tl--;
			}
			if (tl == 2 && strncmp(tok, "s1", 2) == 0)
				q = a->s1;
			else if (tl == 2 && strncmp(tok, "s2", 2) == 0)
				q = a->s2;
			else {
				free(buf);
				return nrfca_err_set(e, NRFCA_E_INTERNAL, "bad template %s", st->tmpl);
			}
			if (q == NULL && !opt) {
				free(buf);
				return nrfca_err_set(e, NRFCA_E_INTERNAL, "%s needs an argument",
						     st->tmpl);
			}
			if (q != NULL) {
				if (strchr(q, '"') != NULL) {
					free(buf);
					return nrfca_err_set(e, NRFCA_E_INPUT,
							     "cannot %s: an argument contains a "
							     "double quote, which AT strings cannot hold",
							     st->what);
				}
				const char *open = opt ? ",\"" : "\"";

				r = append(&buf, &len, cap, open, strlen(open)) ||
				    append(&buf, &len, cap, q, strlen(q)) ||
				    append(&buf, &len, cap, "\"", 1);
			}
		}
		if (r != 0)
			goto overflow;
	}
	*out = buf;
	return 0;
overflow:
	free(buf);
	return nrfca_err_set(e, NRFCA_E_INTERNAL, "command for %s does not fit", st->what);
}

static const char *note_for(const struct step *st, int code)
{
	const struct cme_note *n;

	for (n = st->notes; n != NULL && n->advice != NULL; n++)
		if (n->code == code)
			return n->advice;
	return NULL;
}

/* Shown form of a command in messages: short and never secret. */
static void shown_cmd(const char *cmd, unsigned flags, char *out, size_t cap)
{
	if (!(flags & NRFCA_AT_SECRET) && strlen(cmd) <= 48 && strpbrk(cmd, "\r\n") == NULL) {
		snprintf(out, cap, "%s", cmd);
		return;
	}
	snprintf(out, cap, "%.*s", (int)strcspn(cmd, "=?"), cmd);
}

static int run_step(struct nrf91 *m, enum step_id id, const struct step_args *a, void *out,
		    struct nrfca_err *e)
{
	static const struct step_args none;
	const struct step *st = &steps[id];
	struct nrfca_at_call call;
	struct nrfca_at_result r;
	char *cmd = NULL, shown[64];
	size_t i, found = 0;
	int rc = -1, t, first, shell;

	memset(&r, 0, sizeof(r));
	if (a == NULL)
		a = &none;
	m->fail = NRF91_FAIL_NONE;
	m->last_final = NRFCA_AT_FINAL_NONE;
	m->last_code = 0;
	if (build_cmd(st, a, &cmd, e) != 0) {
		m->fail = NRF91_FAIL_INPUT;
		goto out;
	}
	shown_cmd(cmd, a->flags, shown, sizeof(shown));
	call.timeout_ms = st->timeout_ms;
	call.expect = st->prefix;
	call.flags = a->flags;
	first = m->ncmds++ == 0;
	shell = nrfca_at_prefix_mode(m->at) == NRFCA_AT_PREFIX_SHELL;
	if (nrfca_at_cmd(m->at, cmd, &call, &r, e) != 0) {
		if (r.status == NRFCA_AT_TOO_LONG && r.lines == NULL && r.necho == 0 &&
		    shell && strstr(r.error, "shell's command buffer") != NULL)
			m->fail = NRF91_FAIL_TOO_LONG;       /* refused before sending */
		else if (r.status == NRFCA_AT_IO && r.necho == 0 && r.nlines == 0 &&
			 e != NULL && e->code == NRFCA_E_INPUT)
			m->fail = NRF91_FAIL_INPUT;          /* cannot pass the shell */
		else
			m->fail = r.status == NRFCA_AT_TOO_LONG ? NRF91_FAIL_ANSWER : NRF91_FAIL_PORT;
		if (first && m->forced && m->fail == NRF91_FAIL_PORT && e != NULL) {
			char was[NRFCA_ERR_MSG_MAX];

			snprintf(was, sizeof(was), "%s", e->msg);
			nrfca_err_set(e, e->code, "%.200s (if the firmware takes %s, try "
				      "--at-prefix auto)", was, shell ? "plain AT commands" :
				      "AT commands through a Zephyr shell");
		}
		goto out;
	}
	m->last_final = r.final;
	m->last_code = r.code;
	if (r.final == NRFCA_AT_FINAL_SHELL) {
		if (strstr(r.error, ": command not found") != NULL) {
			m->fail = NRF91_FAIL_WRONG_MODE;
			if (shell)
				nrfca_err_set(e, NRFCA_E_CONFIG, "the port runs a Zephyr shell without "
					      "the `at` command (\"%s\"): the firmware needs nRF Connect "
					      "SDK's AT shell (CONFIG_AT_SHELL), or a plain AT host "
					      "(--at-prefix none)", r.error);
			else
				nrfca_err_set(e, NRFCA_E_CONFIG, "the port answers like a Zephyr shell "
					      "(\"%.80s\"), not a plain AT modem: use --at-prefix "
					      "shell (or auto)", r.error);
		} else {
			m->fail = NRF91_FAIL_REFUSED;
			nrfca_err_set(e, NRFCA_E_INPUT, "the Zephyr shell did not pass %s to the "
				      "modem: %s", shown, r.error);
		}
		goto out;
	}
	if (first && m->forced && shell && r.final == NRFCA_AT_FINAL_ERROR) {
		/* a plain AT modem answers ERROR to `at '...'` */
		m->fail = NRF91_FAIL_WRONG_MODE;
		nrfca_err_set(e, NRFCA_E_CONFIG, "the modem answered ERROR to `at '%s'`, the "
			      "first command sent through a Zephyr shell: the firmware probably "
			      "takes plain AT commands; try --at-prefix none (or auto)", shown);
		goto out;
	}
	if (r.final != NRFCA_AT_FINAL_OK) {
		const char *text = r.final == NRFCA_AT_FINAL_CME ? nrfca_at_cme_text(r.code) : NULL;
		const char *advice = r.final == NRFCA_AT_FINAL_CME ? note_for(st, r.code) : NULL;

		m->fail = NRF91_FAIL_REFUSED;
		if (r.final == NRFCA_AT_FINAL_ERROR)
			nrfca_err_set(e, NRFCA_E_INPUT, "modem refused to %s (%s): ERROR", st->what,
				      shown);
		else
			nrfca_err_set(e, NRFCA_E_INPUT, "modem refused to %s (%s): %s: %d%s%s%s%s",
				      st->what, shown, nrfca_at_final_name(r.final), r.code,
				      text ? " " : "", text ? text : "", advice ? "; " : "",
				      advice ? advice : "");
		goto out;
	}
	if (st->extract != EX_NONE) {
		for (i = 0; i < r.nlines; i++) {
			const char *v = r.lines[i];

			if (st->prefix != NULL) {
				if (strncmp(v, st->prefix, strlen(st->prefix)) != 0)
					continue;
				v += strlen(st->prefix);
				while (*v == ' ')
					v++;
			}
			t = st->take(r.lines[i], v, out, e);
			if (t < 0) {
				m->fail = id == ST_CGSN ? NRF91_FAIL_IDENTITY : NRF91_FAIL_ANSWER;
				nrfca_err_prefix(e, "cannot %s (%s)", st->what, shown);
				goto out;
			}
			if (t > 0) {
				found++;
				if (st->extract == EX_ONE)
					break;
			}
		}
		if (st->extract == EX_ONE && found == 0) {
			m->fail = NRF91_FAIL_ANSWER;
			nrfca_err_set(e, NRFCA_E_INPUT,
				      "modem answered OK to %s but without %s%s%.60s%s", shown,
				      st->expect, r.nlines ? " (first line: \"" : "",
				      r.nlines ? r.lines[0] : "", r.nlines ? "\")" : "");
			goto out;
		}
	}
	rc = 0;
out:
	if (cmd != NULL) {
		OPENSSL_cleanse(cmd, strlen(cmd));
		free(cmd);
	}
	nrfca_at_result_clear(&r);
	return rc;
}

/* --------------------------------------------------------------- takers */

static int take_fw(const char *line, const char *v, void *out, struct nrfca_err *e)
{
	struct nrf91_fw fw;

	if (nrf91_fw_parse(v, &fw, NULL) != 0)
		return 0;
	*(struct nrf91_fw *)out = fw;
	return 1;
}

static int take_imei(const char *line, const char *v, void *out, struct nrfca_err *e)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (!isdigit((unsigned char)v[i]))
			return 0;       /* not the IMEI line */
	if (i != 15)
		return nrfca_err_set(e, NRFCA_E_INPUT, "the modem reports IMEI \"%.40s\" (%zu "
				     "digits): an IMEI has 15 digits; this modem cannot be "
				     "provisioned by IMEI until that is fixed", v, i);
	if (!nrf91_imei_valid(v))
		return nrfca_err_set(e, NRFCA_E_INPUT, "the modem reports IMEI %s, which fails its "
				     "Luhn check digit", v);
	memcpy(out, v, 16);
	return 1;
}

static int take_uuid(const char *line, const char *v, void *out, struct nrfca_err *e)
{
	static const int dash[] = { 8, 13, 18, 23 };
	char *u = out;
	size_t i, d = 0;

	if (strlen(v) != 36)
		return nrfca_err_set(e, NRFCA_E_INPUT, "device UUID \"%.40s\" is not 36 characters", v);
	for (i = 0; i < 36; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (v[i] != '-')
				return nrfca_err_set(e, NRFCA_E_INPUT, "device UUID \"%s\" is not in "
						     "8-4-4-4-12 form", v);
			d++;
			u[i] = '-';
		} else if (isxdigit((unsigned char)v[i])) {
			u[i] = (char)tolower((unsigned char)v[i]);
		} else {
			return nrfca_err_set(e, NRFCA_E_INPUT, "device UUID \"%s\" holds a character "
					     "that is not hexadecimal", v);
		}
	}
	u[36] = '\0';
	return 1;
}

static int take_model(const char *line, const char *v, void *out, struct nrfca_err *e)
{
	size_t n = strlen(v), i;

	if (n == 0 || n >= 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)v[i]))
			return 0;
	memcpy(out, v, n + 1);
	return 1;
}

static int take_int(const char *line, const char *v, void *out, struct nrfca_err *e)
{
	int val = 0, nd = 0;

	while (isdigit((unsigned char)*v) && nd < 4) {
		val = val * 10 + (*v++ - '0');
		nd++;
	}
	if (nd == 0 || nd > 3 || *v != '\0')
		return nrfca_err_set(e, NRFCA_E_INPUT, "\"%.60s\" does not end in a small number",
				     line);
	*(int *)out = val;
	return 1;
}

struct cred_list {
	struct nrf91_cred *v;
	size_t n;
	int bad;
};

static int take_cmng(const char *line, const char *v, void *out, struct nrfca_err *e)
{
	struct cred_list *l = out;
	struct nrf91_cred c;
	int r = nrf91_cmng_parse_line(line, &c, e);

	if (r < 0)
		return -1;
	if (r == 1)
		return 1;       /* the modem's own sec_tag */
	if (l->n >= NRF91_MAX_CREDS)
		return nrfca_err_set(e, NRFCA_E_TOO_LARGE, "more than %u credentials listed (limit)",
				     NRF91_MAX_CREDS);
	if (l->v == NULL) {
		l->v = calloc(NRF91_MAX_CREDS, sizeof(*l->v));
		if (l->v == NULL)
			return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	l->v[l->n++] = c;
	return 1;
}

/* `"<payload>"` -> payload (base64url and dots only). */
static int take_quoted(const char *line, const char *v, void *out, struct nrfca_err *e)
{
	size_t n = strlen(v), i;
	char *p;

	if (n < 2 || v[0] != '"' || v[n - 1] != '"')
		return nrfca_err_set(e, NRFCA_E_INPUT, "answer line is not of the form "
				     "PREFIX: \"...\" (is it truncated?)");
	for (i = 1; i + 1 < n; i++)
		if (!isalnum((unsigned char)v[i]) && strchr("-_.=+/", v[i]) == NULL)
			return nrfca_err_set(e, NRFCA_E_INPUT, "answer holds a character (0x%02x) that "
					     "is not base64url at offset %zu", (unsigned char)v[i], i);
	p = strndup(v + 1, n - 2);
	if (p == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	*(char **)out = p;
	return 1;
}

/* --------------------------------------------------------------- public */

static const char *const family_names[NRF91_FAMILY_MAX] = {
	[NRF91_FAMILY_UNKNOWN] = "unknown",
	[NRF91_FAMILY_9160] = "nrf9160",
	[NRF91_FAMILY_91X1] = "nrf91x1",
};

static const char *const cred_type_names[NRF91_CRED_MAX] = {
	[NRF91_CRED_CA_CERT] = "ca-cert",
	[NRF91_CRED_CLIENT_CERT] = "client-cert",
	[NRF91_CRED_CLIENT_KEY] = "client-key",
	[NRF91_CRED_PSK] = "psk",
	[NRF91_CRED_PSK_ID] = "psk-identity",
	[NRF91_CRED_PUBLIC_KEY] = "public-key",
	[NRF91_CRED_IDENTITY_KEY] = "identity-public-key",
};

static const char *const eol_names[NRF91_EOL_MAX] = {
	[NRF91_EOL_CRLF] = "crlf",
	[NRF91_EOL_LF] = "lf",
};

const char *nrf91_family_name(enum nrf91_family f)
{
	return (unsigned)f < NRF91_FAMILY_MAX ? family_names[f] : "unknown";
}

const char *nrf91_cred_type_name(int type)
{
	return type >= 0 && type < NRF91_CRED_MAX ? cred_type_names[type] : "unknown";
}

const char *nrf91_eol_name(enum nrf91_eol eol)
{
	return (unsigned)eol < NRF91_EOL_MAX ? eol_names[eol] : "unknown";
}

int nrf91_cred_type_parse(const char *s)
{
	int i;

	if (s[0] >= '0' && s[0] <= '9' && s[1] == '\0')
		return s[0] - '0' < NRF91_CRED_MAX ? s[0] - '0' : -1;
	for (i = 0; i < NRF91_CRED_MAX; i++)
		if (strcmp(s, cred_type_names[i]) == 0)
			return i;
	return -1;
}

int nrf91_attach(struct nrfca_at *at, struct nrf91 **out, struct nrfca_err *e)
{
	struct nrf91 *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	m->at = at;
	m->forced = nrfca_at_prefix_mode(at) != NRFCA_AT_PREFIX_AUTO;
	*out = m;
	return 0;
}

int nrf91_open(const struct nrf91_opts *o, struct nrf91 **out, struct nrfca_err *e)
{
	struct nrfca_serial *port = NULL;
	struct nrfca_at *at = NULL;
	struct nrf91 *m = NULL;

	if (nrfca_serial_open(&o->port, &port, e) != 0)
		goto fail;
	if (nrfca_at_create(port, &o->at, &at, e) != 0)
		goto fail;
	if (nrf91_attach(at, &m, e) != 0)
		goto fail;
	m->port = port;
	m->owns_at = 1;
	port = NULL;
	at = NULL;
	if (nrf91_cmee_enable(m, e) != 0)
		goto fail;
	*out = m;
	return 0;
fail:
	nrf91_close(m);
	nrfca_at_free(at);
	nrfca_serial_close(port);
	return -1;
}

void nrf91_close(struct nrf91 *m)
{
	if (m == NULL)
		return;
	if (m->owns_at)
		nrfca_at_free(m->at);
	nrfca_serial_close(m->port);
	free(m);
}

enum nrf91_fail nrf91_last_failure(const struct nrf91 *m)
{
	return m->fail;
}

int nrf91_failure_exit(const struct nrf91 *m)
{
	switch (nrf91_last_failure(m)) {
	case NRF91_FAIL_REFUSED:
	case NRF91_FAIL_TOO_LONG:
		return NRFCA_EXIT_MODEM_REFUSED;
	case NRF91_FAIL_INPUT:
	case NRF91_FAIL_WRONG_MODE:
		return NRFCA_EXIT_USAGE;
	case NRF91_FAIL_IDENTITY:
		return NRFCA_EXIT_VERIFY_FAILED;
	case NRF91_FAIL_PORT:
	case NRF91_FAIL_ANSWER:
		return NRFCA_EXIT_MODEM_SILENT;
	default:
		return NRFCA_EXIT_FAILURE;
	}
}

enum nrfca_at_final nrf91_last_final(const struct nrf91 *m, int *code)
{
	if (code != NULL)
		*code = m->last_code;
	return m->last_final;
}

struct nrfca_at *nrf91_engine(struct nrf91 *m)
{
	return m->at;
}

int nrf91_cmee_enable(struct nrf91 *m, struct nrfca_err *e)
{
	return run_step(m, ST_CMEE, NULL, NULL, e);
}

int nrf91_read_fw(struct nrf91 *m, struct nrf91_fw *fw, struct nrfca_err *e)
{
	return run_step(m, ST_CGMR, NULL, fw, e);
}

int nrf91_read_imei(struct nrf91 *m, char imei[16], struct nrfca_err *e)
{
	return run_step(m, ST_CGSN, NULL, imei, e);
}

int nrf91_read_uuid(struct nrf91 *m, char uuid[37], struct nrfca_err *e)
{
	return run_step(m, ST_DEVICEUUID, NULL, uuid, e);
}

int nrf91_read_model(struct nrf91 *m, char model[64], struct nrfca_err *e)
{
	return run_step(m, ST_CGMM, NULL, model, e);
}

int nrf91_cfun_get(struct nrf91 *m, int *mode, struct nrfca_err *e)
{
	return run_step(m, ST_CFUN_GET, NULL, mode, e);
}

int nrf91_cfun_set(struct nrf91 *m, int mode, struct nrfca_err *e)
{
	struct step_args a = { .n = mode };

	if (mode < 0 || mode > 127) {
		m->fail = NRF91_FAIL_INPUT;
		return nrfca_err_set(e, NRFCA_E_INPUT, "functional mode %d is out of range", mode);
	}
	return run_step(m, ST_CFUN_SET, &a, NULL, e);
}

int nrf91_cmng_list(struct nrf91 *m, struct nrf91_cred **list, size_t *n, struct nrfca_err *e)
{
	struct cred_list l = { NULL, 0, 0 };

	if (run_step(m, ST_CMNG_LIST, NULL, &l, e) != 0) {
		free(l.v);
		return -1;
	}
	*list = l.v;
	*n = l.n;
	return 0;
}

static void hex_upper(const unsigned char *b, size_t n, char *out)
{
	static const char hx[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[b[i] >> 4];
		out[2 * i + 1] = hx[b[i] & 15];
	}
	out[2 * n] = '\0';
}

enum nrf91_eol nrf91_stored_eol(const struct nrf91 *m, enum nrf91_eol eol)
{
	/* lib/at_shell turns each \n into CR LF: the modem stores CR LF */
	return nrfca_at_prefix_mode(m->at) == NRFCA_AT_PREFIX_SHELL ? NRF91_EOL_CRLF : eol;
}

/* The %CMNG write command for content already prepared (malloc'd). */
static int cmng_write_cmd(struct nrf91 *m, uint32_t sec_tag, int type, const char *body,
			  char **cmd, struct nrfca_err *e)
{
	struct step_args a = { .tag = sec_tag, .type = type, .s1 = body };

	return build_cmd(&steps[ST_CMNG_WRITE], &a, cmd, e);
}

int nrf91_cmng_fits(struct nrf91 *m, uint32_t sec_tag, int type, const char *content,
		    size_t len, enum nrf91_eol eol, struct nrfca_err *e)
{
	char *body = NULL, *cmd = NULL;
	size_t blen = 0;
	int rc = -1;

	m->fail = NRF91_FAIL_INPUT;
	if (nrf91_cmng_prepare(type, content, len, nrf91_stored_eol(m, eol), &body, &blen, e) != 0)
		return -1;
	if (cmng_write_cmd(m, sec_tag, type, body, &cmd, e) != 0)
		goto out;
	if (nrfca_at_wire_len(m->at, cmd, e) == 0) {
		m->fail = e != NULL && e->code == NRFCA_E_TOO_LARGE ? NRF91_FAIL_TOO_LONG :
			  NRF91_FAIL_INPUT;
		nrfca_err_prefix(e, "cannot write type %d (%s) at sec_tag %u", type,
				 nrf91_cred_type_name(type), (unsigned)sec_tag);
		goto out;
	}
	m->fail = NRF91_FAIL_NONE;
	rc = 0;
out:
	if (cmd != NULL) {
		OPENSSL_cleanse(cmd, strlen(cmd));
		free(cmd);
	}
	OPENSSL_cleanse(body, blen);
	free(body);
	return rc;
}

int nrf91_cmng_write(struct nrf91 *m, uint32_t sec_tag, int type, const char *content,
		     size_t len, enum nrf91_eol eol, char sha256_hex[65], struct nrfca_err *e)
{
	struct step_args a = { .tag = sec_tag, .type = type };
	enum nrf91_eol stored = nrf91_stored_eol(m, eol);
	int shell = nrfca_at_prefix_mode(m->at) == NRFCA_AT_PREFIX_SHELL;
	unsigned char md[32];
	unsigned int mdlen = 0;
	char *body = NULL;
	size_t blen = 0;
	int rc = -1, code = 0;

	if (sec_tag > NRF91_SEC_TAG_MAX) {
		m->fail = NRF91_FAIL_INPUT;
		return nrfca_err_set(e, NRFCA_E_INPUT, "sec_tag %u is above %u (reserved for the "
				     "modem)", (unsigned)sec_tag, NRF91_SEC_TAG_MAX);
	}
	if (nrf91_cmng_prepare(type, content, len, stored, &body, &blen, e) != 0) {
		m->fail = NRF91_FAIL_INPUT;
		return -1;
	}
	if (EVP_Digest(body, blen, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		m->fail = NRF91_FAIL_INPUT;
		nrfca_err_ssl(e, NRFCA_E_CRYPTO, "cannot hash the credential");
		goto out;
	}
	a.s1 = body;
	if (type == NRF91_CRED_PSK || type == NRF91_CRED_CLIENT_KEY)
		a.flags = NRFCA_AT_SECRET;
	if (run_step(m, ST_CMNG_WRITE, &a, NULL, e) != 0) {
		enum nrfca_at_final f = nrf91_last_final(m, &code);
		size_t cmdlen = blen + (size_t)snprintf(NULL, 0, "AT%%CMNG=0,%u,%d,\"\"",
							 (unsigned)sec_tag, type);

		if (m->fail == NRF91_FAIL_TOO_LONG)
			nrfca_err_prefix(e, "cannot write type %d (%s) at sec_tag %u", type,
					 nrf91_cred_type_name(type), (unsigned)sec_tag);
		else if (f == NRFCA_AT_FINAL_CME && code == 527 && shell)
			nrfca_err_set(e, NRFCA_E_INPUT,
				      "modem refused the content for sec_tag %u type %d: +CME ERROR: "
				      "527 invalid certificate content; through the Zephyr shell it "
				      "is always stored with CR LF line endings, so changing the line "
				      "ending does not help: check that the content is a valid PEM "
				      "certificate", (unsigned)sec_tag, type);
		else if (f == NRFCA_AT_FINAL_CME && code == 527)
			nrfca_err_set(e, NRFCA_E_INPUT,
				      "modem refused the content for sec_tag %u type %d: +CME ERROR: "
				      "527 invalid certificate content; it was sent with %s line "
				      "endings: try --line-ending %s", (unsigned)sec_tag, type,
				      nrf91_eol_name(eol),
				      eol == NRF91_EOL_CRLF ? "lf" : "crlf");
		else if (f == NRFCA_AT_FINAL_ERROR && cmdlen > 512)
			nrfca_err_set(e, NRFCA_E_INPUT,
				      "modem answered ERROR to the %zu-byte AT%%CMNG write for sec_tag "
				      "%u: the command may be longer than the modem's AT input "
				      "buffer (write fewer certificates in one entry, or raise the "
				      "buffer in the device firmware)", cmdlen, (unsigned)sec_tag);
		goto out;
	}
	hex_upper(md, 32, sha256_hex);
	rc = 0;
out:
	OPENSSL_cleanse(body, blen);
	free(body);
	return rc;
}

int nrf91_cmng_delete(struct nrf91 *m, uint32_t sec_tag, int type, struct nrfca_err *e)
{
	struct step_args a = { .tag = sec_tag, .type = type };

	if (sec_tag > NRF91_SEC_TAG_MAX || type < 0 || type >= NRF91_CRED_MAX) {
		m->fail = NRF91_FAIL_INPUT;
		return nrfca_err_set(e, NRFCA_E_INPUT, "sec_tag must be 0..%u and type 0..%d",
				     NRF91_SEC_TAG_MAX, NRF91_CRED_MAX - 1);
	}
	return run_step(m, ST_CMNG_DELETE, &a, NULL, e);
}

int nrf91_keygen(struct nrf91 *m, const struct nrf91_keygen_req *req, char **payload,
		 struct nrfca_err *e)
{
	struct step_args a = { .tag = req->sec_tag, .n = req->content,
			       .s1 = req->attributes, .s2 = req->key_usage };
	char *p = NULL;
	size_t i;

	m->fail = NRF91_FAIL_INPUT;
	if (req->sec_tag > NRF91_SEC_TAG_MAX)
		return nrfca_err_set(e, NRFCA_E_INPUT, "sec_tag %u is above %u",
				     (unsigned)req->sec_tag, NRF91_SEC_TAG_MAX);
	if (req->content != 0 && req->content != 1)
		return nrfca_err_set(e, NRFCA_E_INPUT, "%%KEYGEN answer content must be 0 (CSR) "
				     "or 1 (public key)");
	if (req->key_usage != NULL) {
		if (req->attributes == NULL)
			return nrfca_err_set(e, NRFCA_E_INPUT, "a %%KEYGEN key usage needs subject "
					     "attributes too (the modem takes them in that order)");
		for (i = 0; req->key_usage[i]; i++)
			if (req->key_usage[i] != '0' && req->key_usage[i] != '1')
				break;
		if (i != 9 || req->key_usage[i] != '\0')
			return nrfca_err_set(e, NRFCA_E_INPUT, "key usage must be nine 0/1 "
					     "characters (X.509 KeyUsage bits 0..8)");
	}
	if (req->attributes != NULL) {
		if (strlen(req->attributes) == 0 || strlen(req->attributes) > 256)
			return nrfca_err_set(e, NRFCA_E_INPUT, "subject attributes must be 1..256 "
					     "characters");
		for (i = 0; req->attributes[i]; i++)
			if (!isprint((unsigned char)req->attributes[i]) ||
			    req->attributes[i] == '"' || req->attributes[i] == '\'')
				return nrfca_err_set(e, NRFCA_E_INPUT, "subject attributes may hold "
						     "only printable characters without quotes");
	}
	if (run_step(m, ST_KEYGEN, &a, &p, e) != 0)
		return -1;
	*payload = p;
	return 0;
}

int nrf91_attesttoken(struct nrf91 *m, char **payload, struct nrfca_err *e)
{
	char *p = NULL;

	if (run_step(m, ST_ATTESTTOKEN, NULL, &p, e) != 0)
		return -1;
	*payload = p;
	return 0;
}

/* ------------------------------------------------------ pure helpers */

static int is_version(const char *s, size_t n, unsigned v[3])
{
	size_t i = 0;
	int part;

	for (part = 0; part < 3; part++) {
		unsigned val = 0, nd = 0;

		while (i < n && isdigit((unsigned char)s[i]) && nd < 4) {
			val = val * 10 + (unsigned)(s[i] - '0');
			i++;
			nd++;
		}
		if (nd == 0 || nd > 3)
			return 0;
		v[part] = val;
		if (part < 2) {
			if (i >= n || s[i] != '.')
				return 0;
			i++;
		}
	}
	return i == n;
}

int nrf91_fw_parse(const char *s, struct nrf91_fw *fw, struct nrfca_err *e)
{
	struct nrf91_fw f;
	const char *p = s;
	unsigned v[3] = { 0, 0, 0 };
	int found = 0;
	size_t i, n = strlen(s);

	memset(&f, 0, sizeof(f));
	if (n == 0 || n >= sizeof(f.raw))
		return nrfca_err_set(e, NRFCA_E_INPUT, "firmware version \"%.64s\" is empty or "
				     "longer than %zu characters", s, sizeof(f.raw) - 1);
	for (i = 0; i < n; i++)
		if (!isgraph((unsigned char)s[i]))
			return nrfca_err_set(e, NRFCA_E_INPUT, "firmware version \"%s\" holds a space "
					     "or control character", s);
	memcpy(f.raw, s, n + 1);
	while (*p) {
		size_t tl = strcspn(p, "_-");
		unsigned w[3];

		if (is_version(p, tl, w)) {
			found++;
			memcpy(v, w, sizeof(v));
		}
		if (tl == 7 && strncasecmp(p, "nrf9160", 7) == 0)
			f.family = NRF91_FAMILY_9160;
		else if (tl == 7 && (strncasecmp(p, "nrf91x1", 7) == 0 ||
				     strncasecmp(p, "nrf9161", 7) == 0 ||
				     strncasecmp(p, "nrf9151", 7) == 0 ||
				     strncasecmp(p, "nrf9131", 7) == 0))
			f.family = NRF91_FAMILY_91X1;
		if (tl == 3 && strncasecmp(p, "ntn", 3) == 0)
			f.ntn = 1;
		p += tl;
		if (*p)
			p++;
	}
	for (i = 0; i + 3 <= n; i++)
		if (strncasecmp(s + i, "ntn", 3) == 0)
			f.ntn = 1;
	if (found != 1)
		return nrfca_err_set(e, NRFCA_E_INPUT, "firmware version \"%s\" holds %s N.N.N "
				     "version group", s, found ? "more than one" : "no");
	f.major = v[0];
	f.minor = v[1];
	f.patch = v[2];
	*fw = f;
	return 0;
}

static int ver_ge(const struct nrf91_fw *fw, unsigned a, unsigned b, unsigned c)
{
	if (fw->major != a)
		return fw->major > a;
	if (fw->minor != b)
		return fw->minor > b;
	return fw->patch >= c;
}

int nrf91_fw_supports_keygen(const struct nrf91_fw *fw)
{
	switch (fw->family) {
	case NRF91_FAMILY_9160:
		return ver_ge(fw, 1, 3, 0);
	case NRF91_FAMILY_91X1:
		/* NTN builds are numbered from 1.0.0 but descend from the 2.x line
		 * (uncertain: FORMATS.md only says they contain "ntn"). */
		return fw->ntn || ver_ge(fw, 2, 0, 0);
	default:
		return 0;
	}
}

int nrf91_fw_shows_hashes(const struct nrf91_fw *fw)
{
	switch (fw->family) {
	case NRF91_FAMILY_9160:
		return ver_ge(fw, 1, 3, 2);
	case NRF91_FAMILY_91X1:
		return 1;
	default:
		return 0;
	}
}

int nrf91_imei_valid(const char *imei)
{
	int sum = 0, i;

	for (i = 0; i < 15; i++)
		if (!isdigit((unsigned char)imei[i]))
			return 0;
	if (imei[15] != '\0')
		return 0;
	/* Luhn: from the right, double every second digit (not the check digit). */
	for (i = 14; i >= 0; i--) {
		int d = imei[i] - '0';

		if ((14 - i) % 2 == 1) {
			d *= 2;
			if (d > 9)
				d -= 9;
		}
		sum += d;
	}
	return sum % 10 == 0;
}

int nrf91_cmng_parse_line(const char *line, struct nrf91_cred *cred, struct nrfca_err *e)
{
	struct nrf91_cred c;
	const char *p = line;
	unsigned long long tag = 0;
	int nd = 0, type = 0, i;

	memset(&c, 0, sizeof(c));
	if (strncmp(p, "%CMNG:", 6) != 0)
		return nrfca_err_set(e, NRFCA_E_INPUT, "\"%.60s\" is not a %%CMNG line", line);
	p += 6;
	while (*p == ' ')
		p++;
	while (isdigit((unsigned char)*p) && nd < 11) {
		tag = tag * 10 + (unsigned)(*p++ - '0');
		nd++;
	}
	if (nd == 0 || nd > 10 || tag > 4294967295ull || *p != ',')
		goto bad;
	p++;
	nd = 0;
	while (isdigit((unsigned char)*p) && nd < 4) {
		type = type * 10 + (*p++ - '0');
		nd++;
	}
	if (nd == 0 || nd > 3)
		goto bad;
	if (*p == ',') {
		p++;
		if (*p++ != '"')
			goto bad;
		if (*p == '"') {
			p++;          /* empty hash: older firmware */
		} else {
			for (i = 0; i < 64; i++) {
				if (!isxdigit((unsigned char)p[i]))
					goto bad;
				c.sha256[i] = (char)toupper((unsigned char)p[i]);
			}
			c.sha256[64] = '\0';
			c.has_hash = 1;
			p += 64;
			if (*p++ != '"')
				goto bad;
		}
	}
	if (*p != '\0')
		goto bad;
	c.sec_tag = (uint32_t)tag;
	c.type = type;
	if (tag > NRF91_SEC_TAG_MAX)
		return 1;
	*cred = c;
	return 0;
bad:
	return nrfca_err_set(e, NRFCA_E_INPUT, "unexpected %%CMNG list line \"%.80s\" (expected "
			     "%%CMNG: <sec_tag>,<type>[,\"<64 hex digits>\"])", line);
}

/* Offset of needle in hay[0..n), or n. */
static size_t find(const char *hay, size_t n, const char *needle)
{
	size_t l = strlen(needle), i;

	for (i = 0; i + l <= n; i++)
		if (memcmp(hay + i, needle, l) == 0)
			return i;
	return n;
}

int nrf91_cmng_prepare(int type, const char *content, size_t len, enum nrf91_eol eol,
		       char **out, size_t *outlen, struct nrfca_err *e)
{
	const char *le = eol == NRF91_EOL_LF ? "\n" : "\r\n";
	int pem = type == NRF91_CRED_CA_CERT || type == NRF91_CRED_CLIENT_CERT ||
		  type == NRF91_CRED_PUBLIC_KEY;
	size_t i, o = 0, cap;
	char *buf;

	if (type == NRF91_CRED_CLIENT_KEY)
		pem = 1;        /* only the host-key path writes one; secret */
	if (!pem && type != NRF91_CRED_PSK && type != NRF91_CRED_PSK_ID)
		return nrfca_err_set(e, NRFCA_E_INPUT, "credential type %d cannot be written (use "
				     "0, 1, 2, 3, 4 or 5)", type);
	if (eol != NRF91_EOL_CRLF && eol != NRF91_EOL_LF)
		return nrfca_err_set(e, NRFCA_E_INPUT, "line ending must be crlf or lf");
	if (len > NRF91_CRED_SIZE_MAX)
		return nrfca_err_set(e, NRFCA_E_TOO_LARGE, "credential is %zu bytes, over the limit "
				     "of %u", len, NRF91_CRED_SIZE_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)content[i];

		if (c == '"')
			return nrfca_err_set(e, NRFCA_E_INPUT, "credential holds a double quote at "
					     "byte %zu, which an AT string cannot carry", i);
		if ((c < 0x20 && c != '\r' && c != '\n') || c >= 0x7f)
			return nrfca_err_set(e, NRFCA_E_INPUT, "credential holds a byte 0x%02x at "
					     "offset %zu that is not printable ASCII", c, i);
	}
	if (!pem) {
		while (len > 0 && (content[len - 1] == '\n' || content[len - 1] == '\r'))
			len--;
		if (len == 0)
			return nrfca_err_set(e, NRFCA_E_INPUT, "credential is empty");
		if (memchr(content, '\n', len) || memchr(content, '\r', len))
			return nrfca_err_set(e, NRFCA_E_INPUT, "a %s must be one line",
					     nrf91_cred_type_name(type));
		if (type == NRF91_CRED_PSK)
			for (i = 0; i < len; i++)
				if (!isxdigit((unsigned char)content[i]))
					return nrfca_err_set(e, NRFCA_E_INPUT, "a PSK is written as "
							     "hexadecimal digits");
	} else {
		size_t b = find(content, len, "-----BEGIN ");

		if (b == len || find(content + b, len - b, "-----END ") == len - b)
			return nrfca_err_set(e, NRFCA_E_INPUT, "credential of type %d (%s) must be "
					     "PEM (-----BEGIN ... -----END ...)", type,
					     nrf91_cred_type_name(type));
	}
	cap = 2 * len + 1;
	buf = malloc(cap);
	if (buf == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	for (i = 0; i < len; i++) {
		if (pem && (content[i] == '\r' || content[i] == '\n')) {
			if (content[i] == '\r' && i + 1 < len && content[i + 1] == '\n')
				i++;
			memcpy(buf + o, le, strlen(le));
			o += strlen(le);
		} else {
			buf[o++] = content[i];
		}
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
}
