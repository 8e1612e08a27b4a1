/* Unit tests of the AT engine against a scripted modem on a pty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "at.h"
#include "fake_peer.h"

#define IMEI "352656109480783"

struct fx {
	struct peer *peer;
	struct nrfca_serial *port;
	struct nrfca_at *at;
	struct nrfca_at_result r;
	struct nrfca_err e;
	char trace[8192];
};

static void tracer(void *ctx, enum nrfca_at_dir dir, const char *line)
{
	struct fx *f = ctx;
	size_t n = strlen(f->trace);

	snprintf(f->trace + n, sizeof(f->trace) - n, "%s %s\n", dir == NRFCA_AT_SENT ? ">" : "<",
		 line);
}

static struct fx *start(const struct peer_step *steps, size_t n, enum nrfca_at_prefix prefix)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct nrfca_at_opts o = { prefix, NULL, tracer, NULL, 0 };

	assert_non_null(f);
	o.trace_ctx = f;
	f->peer = peer_start(steps, n, &f->port);
	assert_non_null(f->peer);
	assert_int_equal(nrfca_at_create(f->port, &o, &f->at, &f->e), 0);
	return f;
}

static void stop(struct fx *f)
{
	int mm = peer_finish(f->peer);

	nrfca_at_result_clear(&f->r);
	nrfca_at_free(f->at);
	nrfca_serial_close(f->port);
	peer_free(f->peer);
	free(f);
	assert_int_equal(mm, 0);
}

static int cmd(struct fx *f, const char *c, int timeout_ms, const char *expect)
{
	struct nrfca_at_call call = { timeout_ms, expect, 0 };

	return nrfca_at_cmd(f->at, c, &call, &f->r, &f->e);
}

static void test_ok_with_info_line(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+CGSN\r\n", "\r\n" IMEI "\r\nOK\r\n", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 1, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT+CGSN", 2000, NULL), 0);
	assert_int_equal(f->r.status, NRFCA_AT_ANSWERED);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], IMEI);
	stop(f);
}

static void test_final_kinds(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+X\r\n", "ERROR\r\n", 0, 0, 0, 0 },
		{ "AT+Y\r\n", "+CME ERROR: 513\r\n", 0, 0, 0, 0 },
		{ "AT+Z\r\n", "+CMS ERROR: 500\r\n", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 3, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT+X", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_ERROR);
	assert_int_equal(cmd(f, "AT+Y", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_CME);
	assert_int_equal(f->r.code, 513);
	assert_string_equal(nrfca_at_cme_text(513), "not found");
	assert_int_equal(cmd(f, "AT+Z", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_CMS);
	assert_int_equal(f->r.code, 500);
	stop(f);
}

/* OK inside base64 (and lines that merely start or end with OK) are not final. */
static void test_ok_inside_base64(void **state)
{
	static const struct peer_step s[] = {
		{ "AT%KEYGEN=16,2,0\r\n",
		  "%KEYGEN: \"MIIBOKAwgZ0OK.0oRDoQEmoQRBIVhMOK\"\r\nOK \r\nOKAY\r\n OK\r\nOK\r\n",
		  0, 1, 0, 0 },
	};
	struct fx *f = start(s, 1, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT%KEYGEN=16,2,0", 2000, "%KEYGEN:"), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	/* "OK " has trailing blanks trimmed and IS a final line: the fourth
	 * line must therefore never be reached; check what was kept. */
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], "%KEYGEN: \"MIIBOKAwgZ0OK.0oRDoQEmoQRBIVhMOK\"");
	stop(f);
}

static void test_ok_prefix_lines_not_final(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+CGMR\r\n", "OKAY\r\n OK\r\nxOK\r\nOK\r\n", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 1, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT+CGMR", 2000, NULL), 0);
	assert_int_equal(f->r.nlines, 3);
	assert_string_equal(f->r.lines[0], "OKAY");
	assert_string_equal(f->r.lines[1], " OK");
	assert_string_equal(f->r.lines[2], "xOK");
	stop(f);
}

static void test_echo_urc_log_ansi(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+CFUN=4\r\n",
		  "AT+CFUN=4\r\n+CSCON: 1\r\n"
		  "\x1b[0m[00:00:28.460,540] <inf> asset_tracker: RRC mode: Connected\x1b[0m\r\n"
		  "+CEREG: 0\r\n%XPOFWARN\r\n%MDMEV: SEARCH STATUS 2\r\n"
		  "I: minimal log line\r\n+CSCON: 0\r\n\x1b[1;32mOK\x1b[0m\r\n", 0, 0, 0, 0 },
		{ "AT+CEREG?\r\n", "+CEREG: 5,1\r\n+CSCON: 0\r\nOK\r\n", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 2, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT+CFUN=4", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	assert_int_equal(f->r.nlines, 0);
	assert_int_equal(f->r.necho, 1);
	assert_int_equal(f->r.nurc, 7);
	/* a line that looks like a URC is kept when the command asked for it */
	assert_int_equal(cmd(f, "AT+CEREG?", 2000, "+CEREG:"), 0);
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], "+CEREG: 5,1");
	assert_non_null(strstr(f->trace, "< [00:00:28.460,540] <inf>"));
	assert_null(strchr(f->trace, '\x1b'));
	stop(f);
}

/* One byte per read, CR, LF and CRLF line ends mixed, colour split. */
static void test_split_reads(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+CGSN\r\n", "\r" IMEI "\n\x1b[1;3" "2m+CEREG: 1\r\r\nO" "K\r", 0, 1, 0, 0 },
		{ "AT+CGMM\r\n", "nRF9151-LACA\nOK\n", 0, 1, 0, 0 },
	};
	struct fx *f = start(s, 2, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT+CGSN", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], IMEI);
	assert_int_equal(f->r.nurc, 1);
	assert_int_equal(cmd(f, "AT+CGMM", 2000, NULL), 0);
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], "nRF9151-LACA");
	stop(f);
}

static void test_timeout_message(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+CGSN\r\n", "+CEREG: 0\r\n", 0, 0, 0, 0 },   /* never a final line */
	};
	struct fx *f = start(s, 1, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT+CGSN", 1000, NULL), -1);
	assert_int_equal(f->r.status, NRFCA_AT_TIMEOUT);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_NONE);
	assert_string_equal(f->r.error, "modem did not answer AT+CGSN within 1 s");
	assert_string_equal(f->e.msg, "modem did not answer AT+CGSN within 1 s");
	assert_int_equal(f->e.code, NRFCA_E_IO);
	stop(f);
}

static void test_port_closed(void **state)
{
	static const struct peer_step s[] = {
		{ "AT%KEYGEN=16,2,0\r\n", "%KEYGEN: \"abc", 0, 0, 50, 1 },
	};
	struct fx *f = start(s, 1, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT%KEYGEN=16,2,0", 5000, "%KEYGEN:"), -1);
	assert_int_equal(f->r.status, NRFCA_AT_CLOSED);
	assert_string_equal(f->r.error, "port closed while waiting for the answer to AT%KEYGEN");
	stop(f);
}

static void test_long_line_refused(void **state)
{
	static struct peer_step s[] = {
		{ "AT%ATTESTTOKEN\r\n", NULL, 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", IMEI "\r\nOK\r\n", 0, 0, 0, 0 },
	};
	size_t n = NRFCA_AT_MAX_LINE + 100;
	char *big = malloc(n + 16);
	struct fx *f;

	assert_non_null(big);
	memset(big, 'A', n);
	memcpy(big + n, "\r\nOK\r\n", 7);
	s[0].reply = big;
	f = start(s, 2, NRFCA_AT_PREFIX_NONE);
	assert_int_equal(cmd(f, "AT%ATTESTTOKEN", 3000, NULL), -1);
	assert_int_equal(f->r.status, NRFCA_AT_TOO_LONG);
	assert_int_equal(f->e.code, NRFCA_E_TOO_LARGE);
	assert_non_null(strstr(f->r.error, "16384"));
	/* the engine recovers: the rest of the overlong line and its OK are
	 * dropped before the next command (give them time to arrive) */
	usleep(200 * 1000);
	assert_int_equal(cmd(f, "AT+CGSN", 2000, NULL), 0);
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], IMEI);
	stop(f);
	free(big);
}

static void test_answer_limit(void **state)
{
	static struct peer_step s[] = { { "AT%CMNG=1\r\n", NULL, 0, 0, 0, 0 } };
	size_t i, cap = (NRFCA_AT_MAX_LINES + 10) * 12 + 8;
	char *big = malloc(cap), *p;
	struct fx *f;

	assert_non_null(big);
	p = big;
	for (i = 0; i < NRFCA_AT_MAX_LINES + 10; i++)
		p += sprintf(p, "%%CMNG: %zu,0\r\n", i % 10);
	strcpy(p, "OK\r\n");
	s[0].reply = big;
	f = start(s, 1, NRFCA_AT_PREFIX_NONE);
	assert_int_equal(cmd(f, "AT%CMNG=1", 3000, "%CMNG:"), -1);
	assert_int_equal(f->r.status, NRFCA_AT_TOO_LONG);
	assert_non_null(strstr(f->e.msg, "512 lines"));
	stop(f);
	free(big);
}

/* A Zephyr shell: `at AT+CGSN` answers, the prompt sits before the echo. */
static void test_detect_shell(void **state)
{
	static const struct peer_step s[] = {
		{ "at 'AT+CGSN'\r\n", "at 'AT+CGSN'\r\n" IMEI "\r\nOK\r\nuart:~$ ", 0, 0, 0, 0 },
		{ "at 'AT+CGMR'\r\n",
		  "at 'AT+CGMR'\r\nmfw_nrf91x1_2.0.2\r\r\nOK\r\r\n\r\n\x1b[1;32muart:~$ \x1b[m",
		  0, 3, 0, 0 },
		{ "at 'AT%KEYGEN=16,2,0,\"CN=x\"'\r\n",
		  "at 'AT%KEYGEN=16,2,0,\"CN=x\"'\r\n%KEYGEN: \"ab.cd\"\r\nOK\r\nuart:~$ ", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 3, NRFCA_AT_PREFIX_AUTO);

	assert_int_equal(cmd(f, "AT+CGMR", 2000, NULL), 0);
	assert_int_equal(nrfca_at_prefix_mode(f->at), NRFCA_AT_PREFIX_SHELL);
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], "mfw_nrf91x1_2.0.2");
	assert_int_equal(f->r.necho, 1);
	assert_int_equal(cmd(f, "AT%KEYGEN=16,2,0,\"CN=x\"", 2000, "%KEYGEN:"), 0);
	assert_int_equal(f->r.nlines, 1);
	assert_int_equal(f->r.necho, 1);
	stop(f);
}

/* Plain AT: `at AT+CGSN` is an unknown command, plain AT+CGSN answers. */
static void test_detect_plain(void **state)
{
	static const struct peer_step s[] = {
		{ "at 'AT+CGSN'\r\n", "ERROR\r\n", 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", IMEI "\r\nOK\r\n", 0, 0, 0, 0 },
		{ "AT+CMEE=1\r\n", "OK\r\n", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 3, NRFCA_AT_PREFIX_AUTO);

	assert_int_equal(cmd(f, "AT+CMEE=1", 2000, NULL), 0);
	assert_int_equal(nrfca_at_prefix_mode(f->at), NRFCA_AT_PREFIX_NONE);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	stop(f);
}

static void test_detect_nothing(void **state)
{
	static const struct peer_step s[] = {
		{ "at 'AT+CGSN'\r\n", NULL, 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", NULL, 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 2, NRFCA_AT_PREFIX_AUTO);

	assert_int_equal(nrfca_at_detect_prefix(f->at, &f->e), -1);
	assert_non_null(strstr(f->e.msg, "answered neither"));
	stop(f);
}

/* Secret content (a PSK) never reaches the trace, not even through echo. */
static void test_secret_redacted(void **state)
{
	static const struct peer_step s[] = {
		{ "AT%CMNG=0,7,3,\"0011223344556677\"\r\n",
		  "AT%CMNG=0,7,3,\"0011223344556677\"\r\nOK\r\n", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 1, NRFCA_AT_PREFIX_NONE);
	struct nrfca_at_call call = { 2000, NULL, NRFCA_AT_SECRET };

	assert_int_equal(nrfca_at_cmd(f->at, "AT%CMNG=0,7,3,\"0011223344556677\"", &call, &f->r,
				      &f->e), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	assert_null(strstr(f->trace, "0011223344556677"));
	assert_non_null(strstr(f->trace, "> AT%CMNG=0,7,3,\"<18 bytes redacted>\""));
	assert_non_null(strstr(f->trace, "< OK"));
	stop(f);
}

/* Multi-line command: every echoed content line is recognised as echo. */
static void test_multiline_echo(void **state)
{
	static const struct peer_step s[] = {
		{ "AT%CMNG=0,9,0,\"-----BEGIN X-----\r\nOK\r\n-----END X-----\r\n\"\r\n",
		  "AT%CMNG=0,9,0,\"-----BEGIN X-----\r\nOK\r\n-----END X-----\r\n\"\r\nOK\r\n",
		  0, 0, 0, 0 },
	};
	struct fx *f = start(s, 1, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT%CMNG=0,9,0,\"-----BEGIN X-----\r\nOK\r\n-----END X-----\r\n\"",
			     2000, NULL), 0);
	assert_int_equal(f->r.necho, 4);
	assert_int_equal(f->r.nlines, 0);
	stop(f);
}

#define CERT_LF "-----BEGIN CERTIFICATE-----\nMIIB\nOK\n-----END CERTIFICATE-----\n"
#define CERT_ESC "-----BEGIN CERTIFICATE-----\\nMIIB\\nOK\\n-----END CERTIFICATE-----\\n"

/* Through the shell: one line per command, single-quoted, line breaks of an
 * AT%CMNG=0 write as \n; anything else with a line break, ' or \ refused
 * before a byte is sent. */
static void test_shell_wire_form(void **state)
{
	static const struct peer_step s[] = {
		{ "at 'AT+CGSN'\r\n", "at 'AT+CGSN'\r\n" IMEI "\r\r\nOK\r\r\n\r\nuart:~$ ", 0, 0, 0, 0 },
		{ "at 'AT%CMNG=0,9,0,\"" CERT_ESC "\"'\r\n",
		  "at 'AT%CMNG=0,9,0,\"" CERT_ESC "\"'\r\nOK\r\r\n\r\nuart:~$ ", 0, 0, 0, 0 },
		{ "at 'AT%CMNG=0,9,1,\"" CERT_ESC "\"'\r\n", "OK\r\r\n\r\nuart:~$ ", 0, 0, 0, 0 },
	};
	struct fx *f = start(s, 3, NRFCA_AT_PREFIX_SHELL);

	assert_int_equal(cmd(f, "AT+CGSN", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	assert_int_equal(f->r.nlines, 1);
	assert_string_equal(f->r.lines[0], IMEI);
	assert_int_equal(cmd(f, "AT%CMNG=0,9,0,\"" CERT_LF "\"", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	assert_int_equal(f->r.necho, 1);
	assert_int_equal(f->r.nlines, 0);
	/* CR LF in the content: the same \n escapes (the firmware stores CR LF) */
	assert_int_equal(cmd(f, "AT%CMNG=0,9,1,\"-----BEGIN CERTIFICATE-----\r\nMIIB\r\nOK\r\n"
			     "-----END CERTIFICATE-----\r\n\"", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	/* refused without sending: the peer sees nothing more */
	assert_int_equal(cmd(f, "AT%KEYGEN=1,2,0,\"CN=a\nb\"", 2000, NULL), -1);
	assert_non_null(strstr(f->e.msg, "line break"));
	assert_int_equal(cmd(f, "AT%CMNG=0,9,4,\"it's\"", 2000, NULL), -1);
	assert_non_null(strstr(f->e.msg, "'"));
	assert_int_equal(cmd(f, "AT%CMNG=0,9,4,\"a\\b\"", 2000, NULL), -1);
	stop(f);
}

/* The shell echoes a long line cut at the terminal width, after the prompt. */
static void test_shell_echo_wrapped(void **state)
{
	static char cmdline[400], echo[700], wire[420];
	static struct peer_step s[1];
	struct fx *f;
	size_t i, o = 0, wl, col;

	strcpy(cmdline, "AT%CMNG=0,16842753,4,\"");
	for (i = strlen(cmdline); i < 300; i++)
		cmdline[i] = (char)('a' + i % 26);
	strcpy(cmdline + 300, "\"");
	snprintf(wire, sizeof(wire), "at '%s'\r\n", cmdline);
	wl = strlen(wire) - 2;
	/* "uart:~$ " (8 columns) then the echo, CR LF whenever 80 are full */
	o += (size_t)sprintf(echo, "uart:~$ ");
	for (i = 0, col = 8; i < wl; i++) {
		echo[o++] = wire[i];
		if (++col % 80 == 0)
			o += (size_t)sprintf(echo + o, "\r\n");
	}
	o += (size_t)sprintf(echo + o, "\r\nOK\r\r\n\r\nuart:~$ ");
	s[0] = (struct peer_step){ wire, echo, 0, 0, 0, 0 };
	f = start(s, 1, NRFCA_AT_PREFIX_SHELL);
	assert_int_equal(cmd(f, cmdline, 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	assert_int_equal(f->r.nlines, 0);
	assert_int_equal(f->r.necho, 4);   /* 72 + 80 + 80 + 74 characters */
	stop(f);
}

/* A line longer than the shell's command buffer is refused unsent. */
static void test_shell_buffer(void **state)
{
	static const struct peer_step s[] = {
		{ "at 'AT+CGMR'\r\n", "mfw_nrf91x1_2.0.2\r\r\nOK\r\r\n\r\nuart:~$ ", 0, 0, 0, 0 },
	};
	struct fx *f = calloc(1, sizeof(*f));
	struct nrfca_at_opts o = { NRFCA_AT_PREFIX_SHELL, NULL, tracer, NULL, 100 };
	char big[200];

	assert_non_null(f);
	o.trace_ctx = f;
	f->peer = peer_start(s, 1, &f->port);
	assert_non_null(f->peer);
	assert_int_equal(nrfca_at_create(f->port, &o, &f->at, &f->e), 0);
	assert_int_equal(nrfca_at_shell_max(f->at), 99);
	snprintf(big, sizeof(big), "AT%%CMNG=0,1,4,\"%0*d\"", 80, 0);
	assert_int_equal(nrfca_at_wire_len(f->at, "AT+CGMR", &f->e), strlen("at 'AT+CGMR'"));
	assert_int_equal(nrfca_at_wire_len(f->at, big, &f->e), 0);
	assert_non_null(strstr(f->e.msg, "101 bytes"));
	assert_int_equal(cmd(f, big, 2000, NULL), -1);
	assert_int_equal(f->r.status, NRFCA_AT_TOO_LONG);
	assert_non_null(strstr(f->e.msg, "shell"));
	assert_non_null(strstr(f->e.msg, "99"));
	assert_int_equal(cmd(f, "AT+CGMR", 2000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_OK);
	stop(f);
}

/* The shell's own refusals end the exchange at once. */
static void test_shell_refusals(void **state)
{
	static const struct peer_step s[] = {
		{ "AT+CMEE=1\r\n", "AT+CMEE=1\r\n\x1b[1;31mAT+CMEE=1: command not found\r\n\x1b[0m"
		  "\x1b[1;32muart:~$ \x1b[0m", 0, 0, 0, 0 },
		{ "AT+CGSN\r\n", "\x1b[1;31mnot terminated: '\r\n\x1b[0muart:~$ ", 0, 0, 0, 0 },
		{ "AT%CMNG=1\r\n", "Sending AT command failed with error code -7\r\n\r\nuart:~$ ",
		  0, 0, 0, 0 },
	};
	struct fx *f = start(s, 3, NRFCA_AT_PREFIX_NONE);

	assert_int_equal(cmd(f, "AT+CMEE=1", 4000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_SHELL);
	assert_string_equal(f->r.error, "AT+CMEE=1: command not found");
	assert_int_equal(cmd(f, "AT+CGSN", 4000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_SHELL);
	assert_int_equal(cmd(f, "AT%CMNG=1", 4000, NULL), 0);
	assert_int_equal(f->r.final, NRFCA_AT_FINAL_SHELL);
	assert_non_null(strstr(f->r.error, "error code -7"));
	stop(f);
}

static void test_classify(void **state)
{
	int code = 0;

	assert_int_equal(nrfca_at_classify_final("OK", &code), NRFCA_AT_FINAL_OK);
	assert_int_equal(nrfca_at_classify_final("ERROR", &code), NRFCA_AT_FINAL_ERROR);
	assert_int_equal(nrfca_at_classify_final("+CME ERROR: 527", &code), NRFCA_AT_FINAL_CME);
	assert_int_equal(code, 527);
	assert_int_equal(nrfca_at_classify_final("+CME ERROR: 52x", &code), NRFCA_AT_FINAL_NONE);
	assert_int_equal(nrfca_at_classify_final("+CME ERROR: 1234567", &code), NRFCA_AT_FINAL_NONE);
	assert_int_equal(nrfca_at_classify_final("OKOK", &code), NRFCA_AT_FINAL_NONE);
	assert_int_equal(nrfca_at_classify_final("ok", &code), NRFCA_AT_FINAL_NONE);
	assert_string_equal(nrfca_at_cme_text(514), "not allowed / no access");
	assert_string_equal(nrfca_at_cme_text(515), "memory full");
	assert_string_equal(nrfca_at_cme_text(518), "not allowed while the modem is active");
	assert_string_equal(nrfca_at_cme_text(519), "already exists");
	assert_string_equal(nrfca_at_cme_text(523), "key generation failed");
	assert_string_equal(nrfca_at_cme_text(527), "invalid certificate content");
	assert_string_equal(nrfca_at_cme_text(528), "blocked by an active power-off warning");
	assert_null(nrfca_at_cme_text(1));
	assert_true(nrfca_at_is_noise("+CEREG: 0"));
	assert_true(nrfca_at_is_noise("[00:00:29.778,564] <inf> asset_tracker: RRC mode: Idle"));
	assert_false(nrfca_at_is_noise("%CMNG: 16842753,0"));
	assert_false(nrfca_at_is_noise(IMEI));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_with_info_line),
		cmocka_unit_test(test_final_kinds),
		cmocka_unit_test(test_ok_inside_base64),
		cmocka_unit_test(test_ok_prefix_lines_not_final),
		cmocka_unit_test(test_echo_urc_log_ansi),
		cmocka_unit_test(test_split_reads),
		cmocka_unit_test(test_timeout_message),
		cmocka_unit_test(test_port_closed),
		cmocka_unit_test(test_long_line_refused),
		cmocka_unit_test(test_answer_limit),
		cmocka_unit_test(test_detect_shell),
		cmocka_unit_test(test_detect_plain),
		cmocka_unit_test(test_detect_nothing),
		cmocka_unit_test(test_secret_redacted),
		cmocka_unit_test(test_multiline_echo),
		cmocka_unit_test(test_shell_wire_form),
		cmocka_unit_test(test_shell_echo_wrapped),
		cmocka_unit_test(test_shell_buffer),
		cmocka_unit_test(test_shell_refusals),
		cmocka_unit_test(test_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
