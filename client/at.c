/* at.c - the AT engine (see at.h). */
#include "at.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#define RX_CHUNK 1024
#define CSI_MAX 64                 /* bytes of one escape sequence we swallow */
#define PROBE_TIMEOUT_MS 2000
#define SETTLE_QUIET_MS 150
#define SETTLE_MAX_MS 1500
#define SHELL_UNESCAPED "AT%CMNG=0"   /* lib/at_shell turns \n into CR LF only here */

enum esc_state { ESC_NONE, ESC_SEEN, ESC_CSI, ESC_OSC };

struct nrfca_at {
	struct nrfca_serial *port;
	enum nrfca_at_prefix mode;
	char eol[4];
	size_t shell_buffer;
	nrfca_at_trace_fn trace;
	void *trace_ctx;
	/* receive state, kept across commands (a prompt or URC may be pending) */
	unsigned char rx[RX_CHUNK];
	size_t rx_off, rx_len;
	char *line;                 /* NRFCA_AT_MAX_LINE + 1 */
	size_t len;
	enum esc_state esc;
	size_t esc_len;
	int skip_line;              /* dropping the rest of an overlong line */
};

/* What one command is waiting for while lines arrive. */
struct exchange {
	const char *name;           /* "AT+CGSN", for messages */
	const struct nrfca_at_call *call;
	char **echo;                /* the lines we sent, for echo matching */
	size_t necho, echo_at;
	size_t echo_off;            /* shell: bytes of echo[echo_at] already seen in pieces */
	int shell;
	size_t kept_bytes;
	struct nrfca_at_result *r;
	int done;
};

static const char *const final_names[NRFCA_AT_FINAL_MAX] = {
	[NRFCA_AT_FINAL_NONE] = "none",
	[NRFCA_AT_FINAL_OK] = "OK",
	[NRFCA_AT_FINAL_ERROR] = "ERROR",
	[NRFCA_AT_FINAL_CME] = "+CME ERROR",
	[NRFCA_AT_FINAL_CMS] = "+CMS ERROR",
	[NRFCA_AT_FINAL_SHELL] = "shell error",
};

static const char *const prefix_names[NRFCA_AT_PREFIX_MAX] = {
	[NRFCA_AT_PREFIX_AUTO] = "auto",
	[NRFCA_AT_PREFIX_NONE] = "none",
	[NRFCA_AT_PREFIX_SHELL] = "shell",
};

/* +CME ERROR codes of the nRF91 (FORMATS.md). */
static const struct {
	int code;
	const char *text;
} cme_table[] = {
	{ 513, "not found" },
	{ 514, "not allowed / no access" },
	{ 515, "memory full" },
	{ 518, "not allowed while the modem is active" },
	{ 519, "already exists" },
	{ 520, "out of memory" },
	{ 523, "key generation failed" },
	{ 527, "invalid certificate content" },
	{ 528, "blocked by an active power-off warning" },
};

/* Unsolicited result codes an nRF91 and its applications send. */
static const char *const urc_prefixes[] = {
	"+CEREG:", "+CSCON:", "+CGEV:", "+CNEC_", "+CIREPH:", "+CIREPI:", "+CEDRXP:",
	"+CMT:", "+CDS:", "%MDMEV:", "%XPOFWARN", "%CESQ:", "%XSIM:", "%XTIME:",
	"%NCELLMEAS:", "%XMODEMSLEEP:", "%XT3412:", "%XVBATLOWLVL:", "%XDATAPRFL:",
	"%REL14FEAT:", "#XDFUINIT", "Ready",
};

/* Zephyr log levels as they appear in log lines. */
static const char *const log_markers[] = { "<inf>", "<wrn>", "<err>", "<dbg>", "*** Booting" };

const char *nrfca_at_final_name(enum nrfca_at_final f)
{
	return (unsigned)f < NRFCA_AT_FINAL_MAX ? final_names[f] : "unknown";
}

const char *nrfca_at_prefix_name(enum nrfca_at_prefix p)
{
	return (unsigned)p < NRFCA_AT_PREFIX_MAX ? prefix_names[p] : "unknown";
}

int nrfca_at_prefix_parse(const char *s, enum nrfca_at_prefix *out)
{
	int i;

	for (i = 0; i < NRFCA_AT_PREFIX_MAX; i++)
		if (strcmp(s, prefix_names[i]) == 0) {
			*out = (enum nrfca_at_prefix)i;
			return 0;
		}
	return -1;
}

const char *nrfca_at_cme_text(int code)
{
	size_t i;

	for (i = 0; i < sizeof(cme_table) / sizeof(cme_table[0]); i++)
		if (cme_table[i].code == code)
			return cme_table[i].text;
	return NULL;
}

static int starts_with(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* "+CME ERROR: 513" -> 513; digits only, at most 5 of them. */
static int parse_err_code(const char *p, int *code)
{
	int v = 0, n = 0;

	while (*p == ' ')
		p++;
	while (isdigit((unsigned char)*p) && n < 6) {
		v = v * 10 + (*p - '0');
		p++;
		n++;
	}
	if (n == 0 || n > 5 || *p != '\0')
		return -1;
	*code = v;
	return 0;
}

enum nrfca_at_final nrfca_at_classify_final(const char *line, int *code)
{
	int c;

	if (strcmp(line, "OK") == 0)
		return NRFCA_AT_FINAL_OK;
	if (strcmp(line, "ERROR") == 0)
		return NRFCA_AT_FINAL_ERROR;
	if (starts_with(line, "+CME ERROR:") && parse_err_code(line + 11, &c) == 0) {
		*code = c;
		return NRFCA_AT_FINAL_CME;
	}
	if (starts_with(line, "+CMS ERROR:") && parse_err_code(line + 11, &c) == 0) {
		*code = c;
		return NRFCA_AT_FINAL_CMS;
	}
	return NRFCA_AT_FINAL_NONE;
}

/* The Zephyr shell's own answers to a line it did not run (shell.c,
 * lib/at_shell): 1 when the line is one of them. */
static int is_shell_refusal(const char *line)
{
	static const char nf[] = ": command not found";
	size_t n = strlen(line);

	return (n > sizeof(nf) - 1 && strcmp(line + n - (sizeof(nf) - 1), nf) == 0) ||
	       starts_with(line, "not terminated: ") ||
	       strcmp(line, "Too many arguments in the command.") == 0 ||
	       starts_with(line, "Sending AT command failed with error code ");
}

int nrfca_at_is_noise(const char *line)
{
	size_t i;

	for (i = 0; i < sizeof(urc_prefixes) / sizeof(urc_prefixes[0]); i++)
		if (starts_with(line, urc_prefixes[i]))
			return 1;
	/* lib/at_shell prints URCs after `at events_enable` under this heading */
	if (strcmp(line, "AT event handler:") == 0)
		return 1;
	/* Zephyr log: "[00:00:28.460,540] <inf> ..." or minimal "I: ..." */
	if (line[0] == '[' && isdigit((unsigned char)line[1]))
		return 1;
	if (strchr("IWED", line[0]) != NULL && line[0] != '\0' && line[1] == ':' &&
	    line[2] == ' ')
		return 1;
	for (i = 0; i < sizeof(log_markers) / sizeof(log_markers[0]); i++)
		if (strstr(line, log_markers[i]) != NULL)
			return 1;
	return 0;
}

/* Length of a Zephyr shell prompt at the start of line ("uart:~$ "), or 0. */
static size_t prompt_len(const char *line)
{
	size_t i = 0;

	while (isalnum((unsigned char)line[i]) || line[i] == '_' || line[i] == '-' ||
	       line[i] == '.')
		i++;
	if (i == 0 || strncmp(line + i, ":~$", 3) != 0)
		return 0;
	i += 3;
	while (line[i] == ' ')
		i++;
	return i;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void trace(struct nrfca_at *at, enum nrfca_at_dir dir, const char *line)
{
	if (at->trace != NULL)
		at->trace(at->trace_ctx, dir, line);
}

int nrfca_at_create(struct nrfca_serial *port, const struct nrfca_at_opts *o,
		    struct nrfca_at **out, struct nrfca_err *e)
{
	struct nrfca_at *at = calloc(1, sizeof(*at));
	const char *eol = (o && o->eol) ? o->eol : "\r\n";

	if (at == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	if (strlen(eol) == 0 || strlen(eol) >= sizeof(at->eol) || strspn(eol, "\r\n") != strlen(eol)) {
		free(at);
		return nrfca_err_set(e, NRFCA_E_CONFIG, "command terminator must be CR, LF or CRLF");
	}
	at->line = malloc(NRFCA_AT_MAX_LINE + 1);
	if (at->line == NULL) {
		free(at);
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	at->port = port;
	at->mode = o ? o->prefix : NRFCA_AT_PREFIX_AUTO;
	at->shell_buffer = o && o->shell_buffer ? o->shell_buffer : NRFCA_AT_SHELL_BUFFER;
	if (at->shell_buffer < NRFCA_AT_SHELL_BUFFER_MIN) {
		free(at->line);
		free(at);
		return nrfca_err_set(e, NRFCA_E_CONFIG, "the shell buffer must be at least %u bytes",
				     NRFCA_AT_SHELL_BUFFER_MIN);
	}
	strcpy(at->eol, eol);
	at->trace = o ? o->trace : NULL;
	at->trace_ctx = o ? o->trace_ctx : NULL;
	*out = at;
	return 0;
}

void nrfca_at_free(struct nrfca_at *at)
{
	if (at == NULL)
		return;
	free(at->line);
	free(at);
}

enum nrfca_at_prefix nrfca_at_prefix_mode(const struct nrfca_at *at)
{
	return at->mode;
}

void nrfca_at_result_clear(struct nrfca_at_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nlines; i++)
		free(r->lines[i]);
	free(r->lines);
	memset(r, 0, sizeof(*r));
}

static int result_fail(struct nrfca_at_result *r, enum nrfca_at_status st, struct nrfca_err *e,
		       enum nrfca_errc code, const char *msg)
{
	r->status = st;
	snprintf(r->error, sizeof(r->error), "%s", msg);
	return nrfca_err_set(e, code, "%s", msg);
}

/* 1 when line is (the next piece of) the echo of what we sent. */
static int is_echo(struct exchange *x, const char *line)
{
	size_t k, n = strlen(line);

	for (k = x->echo_at; k < x->necho; k++) {
		const char *want = x->echo[k] + (k == x->echo_at ? x->echo_off : 0);

		if (strcmp(line, want) == 0) {
			x->echo_at = k + 1;
			x->echo_off = 0;
			return 1;
		}
		/* the shell cuts a long echo at the terminal width */
		if (x->shell && k == x->echo_at && n > 0 && strncmp(want, line, n) == 0) {
			x->echo_off += n;
			return 1;
		}
	}
	return 0;
}

/* One complete received line (ANSI removed).  Decides what it is. */
static int on_line(struct nrfca_at *at, struct exchange *x, char *line, struct nrfca_err *e)
{
	struct nrfca_at_result *r = x->r;
	int secret = (x->call->flags & NRFCA_AT_SECRET) != 0;
	size_t n = strlen(line), p;
	enum nrfca_at_final f;
	int code = 0;
	char msg[NRFCA_ERR_MSG_MAX];

	while ((p = prompt_len(line)) > 0) {
		memmove(line, line + p, n - p + 1);
		n -= p;
	}
	/* echo of what we sent (in order; URCs may sit between echoed lines) */
	if (n > 0 && is_echo(x, line)) {
		r->necho++;
		trace(at, NRFCA_AT_RECEIVED, secret ? "<echo of secret command redacted>" : line);
		return 0;
	}
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	if (n == 0)
		return 0;
	f = nrfca_at_classify_final(line, &code);
	if (f == NRFCA_AT_FINAL_NONE && is_shell_refusal(line)) {
		f = NRFCA_AT_FINAL_SHELL;
		snprintf(r->error, sizeof(r->error), "%s", line);
	}
	if (f != NRFCA_AT_FINAL_NONE) {
		trace(at, NRFCA_AT_RECEIVED, line);
		r->final = f;
		r->code = code;
		r->status = NRFCA_AT_ANSWERED;
		x->done = 1;
		return 0;
	}
	if (secret)
		trace(at, NRFCA_AT_RECEIVED, "<line during secret command redacted>");
	else
		trace(at, NRFCA_AT_RECEIVED, line);
	if (!(x->call->expect && starts_with(line, x->call->expect)) && nrfca_at_is_noise(line)) {
		r->nurc++;
		return 0;
	}
	if (r->nlines >= NRFCA_AT_MAX_LINES || x->kept_bytes + n > NRFCA_AT_MAX_ANSWER) {
		snprintf(msg, sizeof(msg),
			 "the answer to %s is longer than %u lines or %u bytes (limit); it was not read",
			 x->name, NRFCA_AT_MAX_LINES, NRFCA_AT_MAX_ANSWER);
		return result_fail(r, NRFCA_AT_TOO_LONG, e, NRFCA_E_TOO_LARGE, msg);
	}
	if (r->lines == NULL) {
		r->lines = calloc(NRFCA_AT_MAX_LINES, sizeof(char *));
		if (r->lines == NULL)
			return result_fail(r, NRFCA_AT_IO, e, NRFCA_E_NOMEM, "out of memory");
	}
	r->lines[r->nlines] = strdup(line);
	if (r->lines[r->nlines] == NULL)
		return result_fail(r, NRFCA_AT_IO, e, NRFCA_E_NOMEM, "out of memory");
	r->nlines++;
	x->kept_bytes += n;
	return 0;
}

/* Feed buffered bytes until a line completes the exchange or they run out. */
static int feed(struct nrfca_at *at, struct exchange *x, struct nrfca_err *e)
{
	char msg[NRFCA_ERR_MSG_MAX];

	while (at->rx_off < at->rx_len && !x->done) {
		unsigned char c = at->rx[at->rx_off++];

		switch (at->esc) {
		case ESC_SEEN:
			at->esc = c == '[' ? ESC_CSI : c == ']' ? ESC_OSC : ESC_NONE;
			at->esc_len = 0;
			continue;
		case ESC_CSI:
			if ((c >= 0x40 && c <= 0x7e) || ++at->esc_len > CSI_MAX)
				at->esc = ESC_NONE;
			continue;
		case ESC_OSC:
			if (c == 0x07 || c == 0x1b || ++at->esc_len > CSI_MAX)
				at->esc = c == 0x1b ? ESC_SEEN : ESC_NONE;
			continue;
		case ESC_NONE:
			break;
		}
		if (c == 0x1b) {
			at->esc = ESC_SEEN;
			continue;
		}
		if (c == '\r' || c == '\n') {
			if (at->skip_line) {
				at->skip_line = 0;
				continue;
			}
			at->line[at->len] = '\0';
			at->len = 0;
			if (on_line(at, x, at->line, e) != 0)
				return -1;
			continue;
		}
		if ((c < 0x20 && c != '\t') || at->skip_line)
			continue;       /* BEL, backspace and other controls */
		if (at->len >= NRFCA_AT_MAX_LINE) {
			at->len = 0;
			at->skip_line = 1;
			snprintf(msg, sizeof(msg),
				 "a line in the answer to %s is longer than %u bytes (limit); "
				 "the answer was not read", x->name, NRFCA_AT_MAX_LINE);
			return result_fail(x->r, NRFCA_AT_TOO_LONG, e, NRFCA_E_TOO_LARGE, msg);
		}
		at->line[at->len++] = (char)c;
	}
	return 0;
}

/* Drop what arrived before the command (stale answers, URCs), traced. */
static void drain(struct nrfca_at *at)
{
	static const struct nrfca_at_call quiet = { 0, NULL, 0 };
	struct nrfca_at_result r;
	struct exchange x;
	size_t got;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	x.name = "(before command)";
	x.call = &quiet;
	x.r = &r;
	for (;;) {
		if (at->rx_off >= at->rx_len) {
			if (nrfca_serial_read(at->port, at->rx, sizeof(at->rx), 0, &got, NULL) !=
			    NRFCA_SERIAL_DATA)
				break;
			at->rx_off = 0;
			at->rx_len = got;
		}
		x.done = 0;
		if (feed(at, &x, NULL) != 0)
			break;
	}
	nrfca_at_result_clear(&r);
}

/* "AT%CMNG=0,16,3,\"...\"" -> "AT%CMNG" */
static void cmd_name(const char *cmd, char *out, size_t cap)
{
	size_t n = strcspn(cmd, "=?\r\n");

	if (n >= cap)
		n = cap - 1;
	memcpy(out, cmd, n);
	out[n] = '\0';
}

static void fmt_seconds(int ms, char *out, size_t cap)
{
	if (ms % 1000 == 0)
		snprintf(out, cap, "%d s", ms / 1000);
	else
		snprintf(out, cap, "%.1f s", ms / 1000.0);
}

/* Split the wire form of the command into lines (for echo matching). */
static int split_lines(const char *wire, char ***lines, size_t *n)
{
	size_t cap = 1, i = 0;
	const char *p;
	char **v;

	for (p = wire; *p; p++)
		if (*p == '\n' || *p == '\r')
			cap++;
	v = calloc(cap, sizeof(char *));
	if (v == NULL)
		return -1;
	p = wire;
	while (*p) {
		size_t l = strcspn(p, "\r\n");

		if (l > 0) {
			v[i] = strndup(p, l);
			if (v[i] == NULL)
				goto fail;
			i++;
		}
		p += l;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	*lines = v;
	*n = i;
	return 0;
fail:
	while (i > 0)
		free(v[--i]);
	free(v);
	return -1;
}

/* The trace form of a secret command: up to the first quote, then a count. */
static void redact(const char *cmd, char *out, size_t cap)
{
	size_t q = strcspn(cmd, "\"");

	if (cmd[q] == '\0') {
		snprintf(out, cap, "<secret command redacted>");
		return;
	}
	snprintf(out, cap, "%.*s\"<%zu bytes redacted>\"", (int)q, cmd, strlen(cmd) - q);
}

/* The line cmd goes out as in the current mode, without terminator
 * (malloc'd).  NULL with msg set when it cannot be sent that way; *too_long
 * tells the shell buffer was the reason. */
static char *wire_of(const struct nrfca_at *at, const char *cmd, const char *name, char *msg,
		     size_t cap, int *too_long)
{
	size_t i, o = 0, n = strlen(cmd);
	int multi = starts_with(cmd, SHELL_UNESCAPED);
	char *w;

	*too_long = 0;
	if (at->mode != NRFCA_AT_PREFIX_SHELL) {
		w = strdup(cmd);
		if (w == NULL)
			snprintf(msg, cap, "out of memory");
		return w;
	}
	for (i = 0; i < n; i++) {
		if (cmd[i] == '\'' || cmd[i] == '\\') {
			snprintf(msg, cap, "command %s holds %s, which the Zephyr shell's `at` command "
				 "cannot pass on (if the firmware takes plain AT, use --at-prefix none)",
				 name, cmd[i] == '\'' ? "a single quote (')" : "a backslash (\\)");
			return NULL;
		}
		if ((cmd[i] == '\r' || cmd[i] == '\n') && !multi) {
			snprintf(msg, cap, "command %s holds a line break, which the Zephyr shell takes "
				 "as the end of the command (only %s writes are sent with \\n escapes)",
				 name, SHELL_UNESCAPED);
			return NULL;
		}
	}
	w = malloc(2 * n + 8);
	if (w == NULL) {
		snprintf(msg, cap, "out of memory");
		return NULL;
	}
	o = (size_t)sprintf(w, "at '");
	for (i = 0; i < n; i++) {
		if (cmd[i] == '\r' || cmd[i] == '\n') {
			if (cmd[i] == '\r' && cmd[i + 1] == '\n')
				i++;
			w[o++] = '\\';
			w[o++] = 'n';
		} else {
			w[o++] = cmd[i];
		}
	}
	w[o++] = '\'';
	w[o] = '\0';
	if (o > nrfca_at_shell_max(at)) {
		*too_long = 1;
		snprintf(msg, cap, "command %s is %zu bytes as a shell line, over the %zu the shell's "
			 "command buffer holds (CONFIG_SHELL_CMD_BUFF_SIZE %zu; see --shell-buffer); "
			 "nothing was sent", name, o, nrfca_at_shell_max(at), at->shell_buffer);
		free(w);
		return NULL;
	}
	return w;
}

size_t nrfca_at_shell_max(const struct nrfca_at *at)
{
	return at->shell_buffer - 1;
}

size_t nrfca_at_wire_len(const struct nrfca_at *at, const char *cmd, struct nrfca_err *e)
{
	char name[48], msg[NRFCA_ERR_MSG_MAX], *w;
	int too_long;
	size_t n;

	cmd_name(cmd, name, sizeof(name));
	w = wire_of(at, cmd, name, msg, sizeof(msg), &too_long);
	if (w == NULL) {
		nrfca_err_set(e, too_long ? NRFCA_E_TOO_LARGE : NRFCA_E_INPUT, "%s", msg);
		return 0;
	}
	n = strlen(w);
	free(w);
	return n;
}

static int run(struct nrfca_at *at, const char *cmd, const struct nrfca_at_call *call,
	       struct nrfca_at_result *r, struct nrfca_err *e)
{
	struct exchange x;
	char name[48], secs[24], msg[NRFCA_ERR_MSG_MAX], *wire = NULL, *shown = NULL, *line;
	size_t clen = strlen(cmd), got, wl;
	int timeout = call->timeout_ms > 0 ? call->timeout_ms : NRFCA_AT_TIMEOUT_MS;
	int too_long, rc = -1;
	long long deadline;

	nrfca_at_result_clear(r);
	memset(&x, 0, sizeof(x));
	cmd_name(cmd, name, sizeof(name));
	fmt_seconds(timeout, secs, sizeof(secs));
	x.name = name;
	x.call = call;
	x.r = r;
	x.shell = at->mode == NRFCA_AT_PREFIX_SHELL;
	if (clen > NRFCA_AT_MAX_CMD) {
		snprintf(msg, sizeof(msg), "command %s is %zu bytes, over the limit of %u", name,
			 clen, NRFCA_AT_MAX_CMD);
		return result_fail(r, NRFCA_AT_TOO_LONG, e, NRFCA_E_TOO_LARGE, msg);
	}
	line = wire_of(at, cmd, name, msg, sizeof(msg), &too_long);
	if (line == NULL)
		return result_fail(r, too_long ? NRFCA_AT_TOO_LONG : NRFCA_AT_IO, e,
				   too_long ? NRFCA_E_TOO_LARGE : NRFCA_E_INPUT, msg);
	wl = strlen(line);
	wire = malloc(wl + strlen(at->eol) + 1);
	shown = malloc(wl + 64);
	if (wire == NULL || shown == NULL) {
		free(line);
		result_fail(r, NRFCA_AT_IO, e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	memcpy(wire, line, wl + 1);
	OPENSSL_cleanse(line, wl);
	free(line);
	if (split_lines(wire, &x.echo, &x.necho) != 0) {
		result_fail(r, NRFCA_AT_IO, e, NRFCA_E_NOMEM, "out of memory");
		goto out;
	}
	if (call->flags & NRFCA_AT_SECRET)
		redact(wire, shown, wl + 64);
	else
		snprintf(shown, wl + 64, "%s", wire);
	strcat(wire, at->eol);

	drain(at);
	trace(at, NRFCA_AT_SENT, shown);
	if (nrfca_serial_write(at->port, wire, strlen(wire), timeout, e) != 0) {
		r->status = NRFCA_AT_IO;
		snprintf(r->error, sizeof(r->error), "%s", e ? e->msg : "write failed");
		goto out;
	}
	deadline = now_ms() + timeout;
	while (!x.done) {
		long long left;
		enum nrfca_serial_rd rd;

		if (at->rx_off < at->rx_len) {
			if (feed(at, &x, e) != 0)
				goto out;
			continue;
		}
		left = deadline - now_ms();
		if (left <= 0) {
			snprintf(msg, sizeof(msg), "modem did not answer %s within %s", name, secs);
			result_fail(r, NRFCA_AT_TIMEOUT, e, NRFCA_E_IO, msg);
			goto out;
		}
		rd = nrfca_serial_read(at->port, at->rx, sizeof(at->rx), (int)left, &got, e);
		switch (rd) {
		case NRFCA_SERIAL_DATA:
			at->rx_off = 0;
			at->rx_len = got;
			break;
		case NRFCA_SERIAL_TIMEOUT:
			break;
		case NRFCA_SERIAL_CLOSED:
			snprintf(msg, sizeof(msg), "port closed while waiting for the answer to %s",
				 name);
			result_fail(r, NRFCA_AT_CLOSED, e, NRFCA_E_IO, msg);
			goto out;
		default:
			r->status = NRFCA_AT_IO;
			snprintf(r->error, sizeof(r->error), "%s", e ? e->msg : "read failed");
			goto out;
		}
	}
	rc = 0;
out:
	if (x.echo != NULL) {
		while (x.necho > 0) {
			x.necho--;
			OPENSSL_cleanse(x.echo[x.necho], strlen(x.echo[x.necho]));
			free(x.echo[x.necho]);
		}
		free(x.echo);
	}
	if (wire != NULL) {
		/* the wire form of a secret command holds the secret */
		memset(wire, 0, strlen(wire));
		free(wire);
	}
	free(shown);
	return rc;
}

static int is_imei_line(const char *s)
{
	size_t i;

	for (i = 0; i < 15; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return s[15] == '\0';
}

static int probe(struct nrfca_at *at, enum nrfca_at_prefix mode, int timeout_ms)
{
	struct nrfca_at_call call = { timeout_ms, NULL, 0 };
	struct nrfca_at_result r;
	size_t i;
	int found = 0;

	memset(&r, 0, sizeof(r));
	at->mode = mode;
	/* OK tells the mode (a plain modem answers ERROR to `at '...'`, a shell
	 * "command not found" to plain AT); an IMEI of the wrong form is for the
	 * caller to name, not a reason to call the modem silent */
	if (run(at, "AT+CGSN", &call, &r, NULL) == 0 && r.final == NRFCA_AT_FINAL_OK)
		for (i = 0; i < r.nlines; i++)
			if (is_imei_line(r.lines[i]) ||
			    (r.nlines == 1 && r.lines[i][0] != '%' && r.lines[i][0] != '+'))
				found = 1;
	nrfca_at_result_clear(&r);
	return found;
}

/* Read and drop what the modem still sends until it has been quiet for
 * SETTLE_QUIET_MS (at most SETTLE_MAX_MS): the answer to a command of a
 * station that stopped while the modem worked (a %KEYGEN released after the
 * process died) or to a probe of the other form would otherwise be taken
 * as the answer to the next probe. */
static void settle(struct nrfca_at *at)
{
	long long until = now_ms() + SETTLE_MAX_MS;
	size_t got;

	drain(at);
	while (now_ms() < until &&
	       nrfca_serial_read(at->port, at->rx, sizeof(at->rx), SETTLE_QUIET_MS, &got, NULL) ==
		       NRFCA_SERIAL_DATA) {
		at->rx_off = 0;
		at->rx_len = got;
		drain(at);
	}
}

int nrfca_at_detect_prefix(struct nrfca_at *at, struct nrfca_err *e)
{
	int attempt;

	/* a probe that meets another command's answer (a line starting with
	 * '%' or '+') finds nothing; the modem is then let settle and both
	 * forms are tried again once */
	for (attempt = 0; attempt < 2; attempt++) {
		if (probe(at, NRFCA_AT_PREFIX_SHELL, PROBE_TIMEOUT_MS)) {
			at->mode = NRFCA_AT_PREFIX_SHELL;
			return 0;
		}
		settle(at);
		if (probe(at, NRFCA_AT_PREFIX_NONE, NRFCA_AT_TIMEOUT_MS)) {
			at->mode = NRFCA_AT_PREFIX_NONE;
			return 0;
		}
		settle(at);
	}
	at->mode = NRFCA_AT_PREFIX_AUTO;
	return nrfca_err_set(e, NRFCA_E_IO,
			     "modem on %s answered neither `at AT+CGSN` (Zephyr shell) nor "
			     "`AT+CGSN` (plain AT) with an IMEI; check the port, baud rate and "
			     "that the firmware accepts AT commands", nrfca_serial_name(at->port));
}

int nrfca_at_cmd(struct nrfca_at *at, const char *cmd, const struct nrfca_at_call *call,
		 struct nrfca_at_result *r, struct nrfca_err *e)
{
	static const struct nrfca_at_call dflt = { 0, NULL, 0 };

	if (call == NULL)
		call = &dflt;
	if (at->mode == NRFCA_AT_PREFIX_AUTO && nrfca_at_detect_prefix(at, e) != 0) {
		nrfca_at_result_clear(r);
		r->status = NRFCA_AT_TIMEOUT;
		snprintf(r->error, sizeof(r->error), "%s", e ? e->msg : "prefix detection failed");
		return -1;
	}
	return run(at, cmd, call, r, e);
}
