/* sim_shell.c - the Zephyr shell and nRF Connect SDK `at` command (see sim_shell.h). */
#include "sim_shell.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_buf.h"

#define PROMPT "uart:~$ "
#define TERMINAL_WIDTH 80u           /* the shell's default until told otherwise */
#define ARGC_MAX 20u                 /* CONFIG_SHELL_ARGC_MAX default */
#define AT_RESPONSE_MAX 2700u        /* CONFIG_AT_SHELL_CMD_RESPONSE_MAX_LEN default */
#define UNESCAPE_PREFIX "AT%CMNG=0"  /* at_shell.c: only these commands are unescaped */
/* VT100 colours of the shell (CONFIG_SHELL_VT100_COLORS, on by default) */
#define COL_INFO "\x1b[1;32m"
#define COL_ERROR "\x1b[1;31m"
#define COL_OFF "\x1b[0m"

enum rx_state { RX_DEFAULT, RX_ESC, RX_ESC_SEQ, RX_TILDE };

struct sim_shell {
	struct sim_shell_opts o;
	struct sim_modem *m;
	char *buf;            /* the command buffer, buff_size bytes */
	size_t len;
	uint8_t last_nl;      /* the line end character that ended the last line */
	enum rx_state rx;
};

static const char usage_text[] =
	"Usage: at <subcommand>\n"
	"\n"
	"Subcommands:\n"
	"  events_enable     Enable AT event handler which prints AT notifications\n"
	"  events_disable    Disable AT event handler\n"
	"\n"
	"Any other subcommand is interpreted as AT command and sent to the modem.\n";

struct sim_shell *sim_shell_create(const struct sim_shell_opts *o, struct sim_modem *m)
{
	struct sim_shell *sh = calloc(1, sizeof(*sh));

	if (sh == NULL)
		return NULL;
	sh->o = *o;
	if (sh->o.buff_size == 0)
		sh->o.buff_size = SIM_SHELL_BUFF_DEFAULT;
	sh->buf = malloc(sh->o.buff_size);
	if (sh->buf == NULL) {
		free(sh);
		return NULL;
	}
	sh->m = m;
	return sh;
}

void sim_shell_free(struct sim_shell *sh)
{
	if (sh == NULL)
		return;
	free(sh->buf);
	free(sh);
}

/* Output of the shell: every LF goes out as CR LF (SHELL_FLAG_OLF_CRLF). */
static void put(struct sbuf *out, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '\n')
			sbuf_addc(out, '\r');
		sbuf_addc(out, (uint8_t)p[i]);
	}
}

static void puts_(struct sbuf *out, const char *s)
{
	put(out, s, strlen(s));
}

/* shell_error(): red text and a line end, the colour switched off after it. */
static void put_error(struct sbuf *out, const char *a, const char *b)
{
	sbuf_adds(out, COL_ERROR);
	puts_(out, a);
	puts_(out, b);
	puts_(out, "\n");
	sbuf_adds(out, COL_OFF);
}

static void put_prompt(struct sbuf *out)
{
	sbuf_adds(out, COL_INFO PROMPT COL_OFF);
}

/* One argument starting at p, unquoted and unescaped in place.  *next is
 * where the following argument may start; returns the quote left open. */
static char take_arg(char *p, char **next)
{
	char *r = p, *w = p, q = 0;

	while (*r != '\0') {
		char c = *r;

		if (q == 0) {
			if (c == '\\') {         /* escapes the next character */
				r++;
				if (*r != '\0')
					*w++ = *r++;
				continue;
			}
			if (c == '\'' || c == '"') {
				q = c;
				r++;
				continue;
			}
			if (isspace((unsigned char)c))
				break;
			*w++ = *r++;
			continue;
		}
		if (c == q) {
			q = 0;
			r++;
			continue;
		}
		if (c == '\\') {
			char t = r[1];
			unsigned v = 0, nd = 0;

			if (t == q) {
				*w++ = q;
				r += 2;
				continue;
			}
			if (t == '0') {          /* \0 and up to three octal digits */
				while (nd < 3 && r[2 + nd] >= '0' && r[2 + nd] <= '7')
					v = v * 8 + (unsigned)(r[2 + nd++] - '0');
			} else if (t == 'x') {   /* \x and up to two hex digits */
				while (nd < 2 && isxdigit((unsigned char)r[2 + nd])) {
					char h = (char)tolower((unsigned char)r[2 + nd++]);

					v = v * 16 + (unsigned)(h <= '9' ? h - '0' : h - 'a' + 10);
				}
			}
			if (nd > 0) {
				*w++ = (char)(v & 0xff);
				r += 2 + nd;
				continue;
			}
		}
		*w++ = *r++;
	}
	*next = *r != '\0' ? r + 1 : r;
	*w = '\0';
	return q;
}

size_t sim_shell_split(char *line, char **argv, size_t max, char *quote, bool *more)
{
	size_t argc = 0;
	char *p = line, *next;

	*quote = 0;
	*more = false;
	for (;;) {
		while (*p != '\0' && isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (argc == max) {
			*more = true;
			break;
		}
		argv[argc++] = p;
		*quote = take_arg(p, &next);
		if (*quote != 0)
			break;
		p = next;
	}
	return argc;
}

/* `at ...`: the at_shell command handler. */
static void run_at(struct sim_shell *sh, size_t argc, char **argv, struct sbuf *out,
		   bool *is_answer)
{
	struct sbuf ans;
	char *cmd, *c;

	if (argc < 2) {
		puts_(out, usage_text);
		puts_(out, "\n");
		return;
	}
	cmd = argv[1];
	if (strcmp(cmd, "events_enable") == 0 || strcmp(cmd, "events_disable") == 0) {
		sh->o.events = cmd[7] == 'e';
		puts_(out, sh->o.events ? "AT command event handler enabled\n" :
		      "AT command event handler disabled\n");
		return;
	}
	if (strncmp(cmd, UNESCAPE_PREFIX, strlen(UNESCAPE_PREFIX)) == 0)
		for (c = cmd; (c = strstr(c, "\\n")) != NULL; c += 2) {
			c[0] = '\r';
			c[1] = '\n';
		}
	sbuf_init(&ans, 0);
	sim_modem_exec(sh->m, cmd, strlen(cmd), &ans);
	*is_answer = true;
	if (ans.failed || ans.len + 1 > AT_RESPONSE_MAX) {
		/* nrf_modem_at_cmd: the answer does not fit the shell's buffer */
		puts_(out, "Sending AT command failed with error code -7\n");
	} else {
		put(out, (const char *)ans.p, ans.len);
		puts_(out, "\n");
	}
	sbuf_free(&ans);
}

/* A complete command in the buffer (execute() of the Zephyr shell). */
static bool execute(struct sim_shell *sh, sim_emit_fn emit, void *ctx)
{
	char *argv[ARGC_MAX + 1], *line, quote, q[2];
	const char *result = NULL;
	struct sbuf out;
	bool more, answer = false, go;
	size_t argc, a = 0, b = sh->len;

	sbuf_init(&out, 0);
	while (a < b && isspace((unsigned char)sh->buf[a]))
		a++;
	while (b > a && isspace((unsigned char)sh->buf[b - 1]))
		b--;
	sh->buf[b] = '\0';
	line = strndup(sh->buf + a, b - a);    /* for the command log: split works in place */
	argc = sim_shell_split(sh->buf + a, argv, ARGC_MAX, &quote, &more);
	q[0] = quote;
	q[1] = '\0';
	if (argc == 0) {
		result = "empty";
	} else if (argc == 1 && quote != 0) {
		put_error(&out, "not terminated: ", q);
		result = "not terminated";
	} else if (strcmp(argv[0], "at") != 0) {
		put_error(&out, argv[0], ": command not found");
		if (quote != 0)
			put_error(&out, "not terminated: ", q);
		else if (more)
			put_error(&out, "Too many arguments in the command.\n", "");
		result = "command not found";
	} else if (quote != 0) {
		put_error(&out, "not terminated: ", q);
		result = "not terminated";
	} else if (more) {
		put_error(&out, "Too many arguments in the command.\n", "");
		result = "too many arguments";
	} else {
		enum sim_noise_style ns = sh->o.events ? SIM_NOISE_SHELL_EVENTS : SIM_NOISE_SHELL;

		sim_modem_noise(sh->m, SIM_NOISE_BEFORE, ns, &out);
		run_at(sh, argc, argv, &out, &answer);
		if (answer)
			sim_modem_noise(sh->m, SIM_NOISE_AFTER, ns, &out);
		else
			result = "at usage or events";
	}
	if (result != NULL && line != NULL)
		sim_modem_log(sh->m, "shell", line, strlen(line), result);
	free(line);
	put_prompt(&out);
	if (out.failed) {
		sbuf_reset(&out);
		put_prompt(&out);
	}
	go = emit(ctx, answer ? SIM_OUT_ANSWER : SIM_OUT_PROMPT, out.p, out.len);
	sbuf_free(&out);
	return go;
}

/* True when prompt + command fill whole lines of the terminal. */
static bool full_line(const struct sim_shell *sh)
{
	return (strlen(PROMPT) + (sh->o.echo ? sh->len : 0)) % TERMINAL_WIDTH == 0;
}

static void echo(struct sim_shell *sh, const char *s, size_t n, sim_emit_fn emit, void *ctx)
{
	if (sh->o.echo)
		emit(ctx, SIM_OUT_ECHO, (const uint8_t *)s, n);
}

/* A CR or LF.  Returns false when the caller must stop feeding. */
static bool newline(struct sim_shell *sh, uint8_t c, sim_emit_fn emit, void *ctx)
{
	struct sbuf out;
	bool go;

	/* CR LF and LF CR count once; CR CR is two line ends */
	if (sh->last_nl != 0 && c != sh->last_nl)
		return true;
	sh->last_nl = c;
	if (sh->len == 0) {
		sbuf_init(&out, 0);
		puts_(&out, "\n");
		put_prompt(&out);
		go = emit(ctx, SIM_OUT_PROMPT, out.p, out.len);
		sbuf_free(&out);
		return go;
	}
	/* the cursor goes to a new line unless the echo just wrapped */
	if (!(sh->o.echo && full_line(sh)))
		emit(ctx, SIM_OUT_ECHO, (const uint8_t *)"\r\n", 2);
	go = execute(sh, emit, ctx);
	sh->len = 0;
	return go;
}

void sim_shell_feed(struct sim_shell *sh, const uint8_t *in, size_t n, sim_emit_fn emit,
		    void *ctx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint8_t c = in[i];

		if (c > 127)
			continue;
		switch (sh->rx) {
		case RX_ESC:
			sh->rx = c == '[' ? RX_ESC_SEQ : RX_DEFAULT;
			continue;
		case RX_ESC_SEQ:
			sh->rx = (c == '1' || c == '4') ? RX_TILDE : RX_DEFAULT;
			continue;
		case RX_TILDE:
			sh->rx = RX_DEFAULT;
			if (c == '~')
				continue;
			break;
		case RX_DEFAULT:
			break;
		}
		if (c == '\r' || c == '\n') {
			if (!newline(sh, c, emit, ctx))
				return;
			continue;
		}
		sh->last_nl = 0;
		if (c == 0x1b) {
			sh->rx = RX_ESC;
		} else if (c == 0x08 || c == 0x7f) {      /* backspace, delete */
			if (sh->o.echo && sh->len > 0) {
				sh->len--;
				echo(sh, "\b \b", 3, emit, ctx);
			}
		} else if (c == 0x03 && sh->o.echo) {     /* Ctrl+C: a fresh line */
			struct sbuf out;

			sh->len = 0;
			sbuf_init(&out, 0);
			puts_(&out, "\n");
			put_prompt(&out);
			emit(ctx, SIM_OUT_PROMPT, out.p, out.len);
			sbuf_free(&out);
		} else if (c == 0x15 && sh->o.echo) {     /* Ctrl+U: clear the line */
			sh->len = 0;
		} else if (isprint(c)) {
			if (sh->len + 1 >= sh->o.buff_size)
				continue;                 /* buffer full: dropped, not echoed */
			sh->buf[sh->len++] = (char)c;
			echo(sh, (const char *)&c, 1, emit, ctx);
			if (sh->o.echo && full_line(sh))
				echo(sh, "\r\n", 2, emit, ctx);
		}
		/* NUL, TAB and other control characters: nothing */
	}
}
