/*
 * at.h - the AT engine: one command out, one classified answer back.
 *
 * Offers: send a command line and collect the answer until a final result
 * line (`OK`, `ERROR`, `+CME ERROR: n`, `+CMS ERROR: n`, matched as whole
 * lines only), skipping what a real port carries in between: the echo of
 * the command, unsolicited result codes, application log lines, ANSI colour
 * sequences, a Zephyr shell prompt.  Handles CR, LF and CRLF and answers
 * split across reads.  Every line is bounded (NRFCA_AT_MAX_LINE) and so is
 * the whole answer; an overlong line is an error naming the limit, never
 * truncated.  Knows the Zephyr shell of nRF Connect SDK firmware and can
 * detect it.  A trace hook sees every line sent and received; the content
 * of a command flagged NRFCA_AT_SECRET (and its echo) is redacted there.
 *
 * Through a Zephyr shell (nRF Connect SDK lib/at_shell) every command goes
 * out as one line `at '<command>'`: the shell ends a command at every raw CR
 * or LF and removes quotes, so the AT command is single-quoted and the line
 * breaks of an AT%CMNG=0 write are sent as the two characters \n, which the
 * firmware's `at` command turns into CR LF (CONFIG_AT_SHELL_UNESCAPE_LF).
 * Any other command with a line break, and any command holding ' or \, is
 * refused before it is sent, and so is a line longer than the shell's
 * command buffer (CONFIG_SHELL_CMD_BUFF_SIZE, opts.shell_buffer).  The
 * shell's own answers ("<word>: command not found", "not terminated: '",
 * "Sending AT command failed with error code N") end an exchange as
 * NRFCA_AT_FINAL_SHELL.  The echo may come back cut into lines at the
 * terminal width; every piece is recognised.
 *
 * Ownership: the engine borrows the serial port (the caller closes it after
 * nrfca_at_free).  A result owns its lines until nrfca_at_result_clear.
 */
#ifndef NRFCA_CLIENT_AT_H
#define NRFCA_CLIENT_AT_H

#include <stddef.h>

#include "error.h"
#include "serial.h"

#define NRFCA_AT_MAX_LINE     16384u   /* bytes in one received line */
#define NRFCA_AT_MAX_ANSWER   65536u   /* bytes of kept lines in one answer */
#define NRFCA_AT_MAX_LINES    512u     /* kept lines in one answer */
#define NRFCA_AT_MAX_CMD      16384u   /* bytes in one command (without prefix/EOL) */
#define NRFCA_AT_TIMEOUT_MS   5000
#define NRFCA_AT_SHELL_BUFFER 4096u    /* default CONFIG_SHELL_CMD_BUFF_SIZE: what Nordic's
					  nRF Cloud samples set for certificates */
#define NRFCA_AT_SHELL_BUFFER_MIN 64u
#define NRFCA_AT_KEYGEN_TIMEOUT_MS 30000

enum nrfca_at_final {
	NRFCA_AT_FINAL_NONE = 0,  /* no final line arrived (see status) */
	NRFCA_AT_FINAL_OK,
	NRFCA_AT_FINAL_ERROR,
	NRFCA_AT_FINAL_CME,       /* +CME ERROR: code */
	NRFCA_AT_FINAL_CMS,       /* +CMS ERROR: code */
	NRFCA_AT_FINAL_SHELL,     /* the Zephyr shell refused the line (see result.error):
				     the command never reached the modem */
	NRFCA_AT_FINAL_MAX
};

enum nrfca_at_status {
	NRFCA_AT_ANSWERED = 0,    /* a final line arrived */
	NRFCA_AT_TIMEOUT,         /* no final line within the timeout */
	NRFCA_AT_CLOSED,          /* the port closed before the final line */
	NRFCA_AT_TOO_LONG,        /* a line or the answer went over its limit */
	NRFCA_AT_IO,              /* write/read failure */
	NRFCA_AT_STATUS_MAX
};

enum nrfca_at_prefix {
	NRFCA_AT_PREFIX_AUTO = 0, /* detect on first use (nrfca_at_detect_prefix) */
	NRFCA_AT_PREFIX_NONE,     /* plain AT: at_client, serial_lte_modem */
	NRFCA_AT_PREFIX_SHELL,    /* Zephyr shell: `at AT+...` */
	NRFCA_AT_PREFIX_MAX
};

enum nrfca_at_dir { NRFCA_AT_SENT, NRFCA_AT_RECEIVED, NRFCA_AT_DIR_MAX };

/* Called for every line sent and received (already redacted for secrets
 * and with ANSI sequences removed). */
typedef void (*nrfca_at_trace_fn)(void *ctx, enum nrfca_at_dir dir, const char *line);

struct nrfca_at_opts {
	enum nrfca_at_prefix prefix;
	const char *eol;          /* command terminator; NULL = "\r\n" */
	nrfca_at_trace_fn trace;  /* may be NULL */
	void *trace_ctx;
	size_t shell_buffer;      /* the shell's command buffer in bytes (a line holds one
				     less); 0 = NRFCA_AT_SHELL_BUFFER */
};

/* Flags for one command. */
#define NRFCA_AT_SECRET 0x1u      /* redact the quoted content in the trace */

struct nrfca_at_call {
	int timeout_ms;           /* 0 = NRFCA_AT_TIMEOUT_MS */
	const char *expect;       /* answer prefix this command produces (e.g. "+CEREG:"),
				     kept even when it looks like a URC; may be NULL */
	unsigned flags;
};

struct nrfca_at_result {
	enum nrfca_at_status status;
	enum nrfca_at_final final;
	int code;                 /* CME/CMS error number */
	char **lines;             /* informational lines, without echo, URC, logs */
	size_t nlines;
	size_t nurc;              /* URC / log lines skipped (for tests and traces) */
	size_t necho;
	char error[NRFCA_ERR_MSG_MAX]; /* why there is no final line, or the shell's message */
};

struct nrfca_at;

int nrfca_at_create(struct nrfca_serial *port, const struct nrfca_at_opts *o,
		    struct nrfca_at **out, struct nrfca_err *e);
void nrfca_at_free(struct nrfca_at *at);

/* Send `cmd` (e.g. "AT+CGSN", no terminator; the shell prefix is added when
 * in shell mode) and collect the answer into r (cleared first).  Returns 0
 * when a final line arrived, whatever it was; -1 with e set and r->error
 * filled when it timed out ("modem did not answer AT+CGSN within 5 s"), the
 * port closed, or a limit was hit.  In AUTO mode the prefix is detected on
 * the first call. */
int nrfca_at_cmd(struct nrfca_at *at, const char *cmd, const struct nrfca_at_call *call,
		 struct nrfca_at_result *r, struct nrfca_err *e);

/* Detect plain AT versus a Zephyr shell: send `at 'AT+CGSN'`, and if it does
 * not give a 15-digit line and OK, plain `AT+CGSN`.  Remembers the result.
 * -1 when neither answers. */
int nrfca_at_detect_prefix(struct nrfca_at *at, struct nrfca_err *e);
enum nrfca_at_prefix nrfca_at_prefix_mode(const struct nrfca_at *at);

void nrfca_at_result_clear(struct nrfca_at_result *r);

/* Bytes of the line cmd becomes in the current mode (without the line
 * terminator), or 0 when it cannot be sent in that mode (e set: a line
 * break outside AT%CMNG=0, ' or \ through the shell).  Through the shell
 * a line longer than the shell buffer allows is also refused (-1 from
 * nrfca_at_cmd); callers check with this before changing anything. */
size_t nrfca_at_wire_len(const struct nrfca_at *at, const char *cmd, struct nrfca_err *e);
/* The longest line the shell takes (shell buffer - 1). */
size_t nrfca_at_shell_max(const struct nrfca_at *at);

/* Meaning of a +CME ERROR code on nRF91 (FORMATS.md), or NULL if unknown. */
const char *nrfca_at_cme_text(int code);
const char *nrfca_at_final_name(enum nrfca_at_final f);
const char *nrfca_at_prefix_name(enum nrfca_at_prefix p);
/* Parse "auto" / "none" / "shell"; -1 if not one of them. */
int nrfca_at_prefix_parse(const char *s, enum nrfca_at_prefix *out);

/* Classify one received line (ANSI already removed, prompt stripped):
 * exposed for tests and the fuzz target.  Returns the final kind (NONE for
 * a non-final line) and sets *code for CME/CMS. */
enum nrfca_at_final nrfca_at_classify_final(const char *line, int *code);
/* 1 when the line is an unsolicited result code or an application log line. */
int nrfca_at_is_noise(const char *line);

#endif
