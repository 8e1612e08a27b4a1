/*
 * nrf91-sim - an nRF91 modem on a pseudo-terminal, for tests.
 *
 * main: options, the identity key, the pty, and the single-threaded poll
 * loop that feeds host bytes to the modem and writes its answers back,
 * applying the timing faults (delay, chunk, close-after).
 */
#define _GNU_SOURCE /* ppoll, posix_openpt */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli.h"
#include "error.h"
#include "sim_crypto.h"
#include "sim_modem.h"
#include "sim_shell.h"

#define DEFAULT_FW "mfw_nrf91x1_2.0.2"
#define OUTQ_MAX (4u << 20)
#define CHUNK_PAUSE_MS 3
#define CLOSE_GRACE_MS 200

static const char usage_text[] =
	"usage: nrf91-sim [options]\n"
	"\n"
	"Opens a pseudo-terminal, prints its path on the first line of stdout and\n"
	"answers on it like an nRF91 modem until SIGTERM/SIGINT (exit 0, state written).\n"
	"\n"
	"  --fw VERSION           modem firmware (AT+CGMR), default " DEFAULT_FW "\n"
	"                         (nrf9160 -> nRF9160-SICA, nrf91x1 -> nRF9151-LACA;\n"
	"                         %KEYGEN needs 1.3.0 / 2.0.0, %CMNG hashes 1.3.2 on nRF9160,\n"
	"                         %DEVICEUUID needs nrf91x1 2.x)\n"
	"  --imei DIGITS          15-digit IMEI, default 352656109480783\n"
	"  --uuid UUID            device UUID 8-4-4-4-12, default random v4\n"
	"  --cfun N               initial CFUN (0, 1 or 4), default 1 (online)\n"
	"  --shell                the modem behind a Zephyr shell and nRF Connect SDK's\n"
	"                         `at` command: every CR or LF ends a command, arguments\n"
	"                         split and unquoted like the Zephyr shell, `at '<cmd>'`\n"
	"                         runs <cmd> (\\n becomes CR LF in AT%CMNG=0 only), other\n"
	"                         words answer `<word>: command not found`, input echoed,\n"
	"                         prompt `uart:~$ ` (see README.md for the sources)\n"
	"  --shell-buffer N       the shell's command buffer (CONFIG_SHELL_CMD_BUFF_SIZE),\n"
	"                         default 4096: at most N-1 characters; more are dropped\n"
	"  --echo                 plain AT: echo each command line before its answer\n"
	"                         (the shell echoes unless --no-echo)\n"
	"  --no-echo              shell: no echo (CONFIG_SHELL_ECHO_STATUS=n)\n"
	"  --urc                  interleave +CSCON/+CEREG/%MDMEV URCs and coloured log\n"
	"                         lines around every answer's information lines\n"
	"  --log FILE             append one JSON line per command received: {\"kind\":\n"
	"                         \"at\"|\"shell\", \"text\", \"len\", \"result\"} (the final\n"
	"                         line, or what the shell said)\n"
	"  --state FILE           credentials, keys (PEM), IMEI, UUID, CFUN as JSON,\n"
	"                         rewritten after each change and read at start\n"
	"  --identity-key FILE    identity private key (PEM P-256); created when absent\n"
	"  --identity-pub-out F   write the identity public key (PEM) to F\n"
	"  --faults SPEC          comma-separated faults:\n"
	"      close-after=N      answer N commands, then close the port (exit 0)\n"
	"      delay=MS           hold each answer MS milliseconds\n"
	"      chunk=N            write answers N bytes at a time, pausing 3 ms between\n"
	"      truncate-keygen    cut the %KEYGEN line to 2/3 of its length (a closing\n"
	"                         quote is added), still followed by OK\n"
	"      cme527-on=crlf|lf  answer +CME ERROR: 527 to a %CMNG write whose content\n"
	"                         has that line ending\n"
	"      max-cmd=N          answer ERROR to command lines longer than N bytes\n"
	"      cgsn=TEXT          answer AT+CGSN with TEXT (an IMEI of the wrong form)\n"
	"      keygen-wait=PATH   hold each %KEYGEN answer until PATH exists (tests that\n"
	"                         act while the key is being made)\n"
	"  --help                 this text\n"
	"  --version              the program's version\n"
	"\n"
	"Exit status: 0 stopped by signal or close-after, 1 cannot start, 2 usage.\n"
	"\n"
	"Errors: unknown commands ERROR; with AT+CMEE=1: 513 not found, 514 malformed or\n"
	"not allowed, 515 storage full, 518 write/delete/%KEYGEN while CFUN=1, 519 key\n"
	"exists, 523 key generation failed, 527 type 0/1 content that is not PEM\n"
	"certificates (or the cme527-on fault). Lines over 8192 bytes: ERROR.\n"
	"%CMNG list on firmware without hashes prints an empty hash: %CMNG: <tag>,<type>,\"\".\n";

struct faults {
	long close_after;
	long delay_ms;
	size_t chunk;
	bool truncate_keygen;
	enum sim_lending cme527_on;
	size_t max_cmd;
	const char *cgsn;
	const char *keygen_wait;
};

struct seg {
	struct seg *next;
	int64_t not_before;
	bool gated;           /* waits for the keygen-wait file */
	size_t n, off;
	uint8_t p[];
};

struct loop {
	const struct faults *f;
	struct sim_modem *m;
	struct seg *head, *tail;
	size_t queued;
	int64_t last_nb;
	int64_t next_write;
	long answered;
	bool closing;
	int64_t close_at;
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_faults(char *spec, struct faults *f, struct nrfca_err *e)
{
	char *save = NULL, *tok;
	long v;

	for (tok = strtok_r(spec, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char *val = strchr(tok, '=');

		if (val != NULL)
			*val++ = '\0';
		if (strcmp(tok, "truncate-keygen") == 0 && val == NULL) {
			f->truncate_keygen = true;
		} else if (val == NULL) {
			return nrfca_err_set(e, NRFCA_E_CONFIG, "fault %s needs a value or is unknown",
					     tok);
		} else if (strcmp(tok, "close-after") == 0 && parse_long(val, 1, 1000000, &v) == 0) {
			f->close_after = v;
		} else if (strcmp(tok, "delay") == 0 && parse_long(val, 0, 600000, &v) == 0) {
			f->delay_ms = v;
		} else if (strcmp(tok, "chunk") == 0 && parse_long(val, 1, 65536, &v) == 0) {
			f->chunk = (size_t)v;
		} else if (strcmp(tok, "max-cmd") == 0 && parse_long(val, 1, 1 << 20, &v) == 0) {
			f->max_cmd = (size_t)v;
		} else if (strcmp(tok, "keygen-wait") == 0 && val[0] != '\0') {
			f->keygen_wait = val;
		} else if (strcmp(tok, "cgsn") == 0 && val[0] != '\0' && strlen(val) <= 64) {
			f->cgsn = val;
		} else if (strcmp(tok, "cme527-on") == 0 && strcmp(val, "crlf") == 0) {
			f->cme527_on = SIM_LE_CRLF;
		} else if (strcmp(tok, "cme527-on") == 0 && strcmp(val, "lf") == 0) {
			f->cme527_on = SIM_LE_LF;
		} else {
			return nrfca_err_set(e, NRFCA_E_CONFIG,
					     "fault %s=%s is unknown or out of range (see --help)",
					     tok, val);
		}
	}
	return 0;
}

static void enqueue(struct loop *l, const uint8_t *p, size_t n, int64_t not_before,
		    bool gated)
{
	struct seg *s;

	if (n == 0)
		return;
	if (l->queued + n > OUTQ_MAX) {
		fprintf(stderr, "nrf91-sim: nobody reads the port; %zu bytes of output dropped\n", n);
		return;
	}
	s = malloc(sizeof(*s) + n);
	if (s == NULL) {
		fprintf(stderr, "nrf91-sim: out of memory; %zu bytes of output dropped\n", n);
		return;
	}
	memcpy(s->p, p, n);
	s->n = n;
	s->off = 0;
	if (not_before < l->last_nb)
		not_before = l->last_nb;
	s->not_before = l->last_nb = not_before;
	s->gated = gated;
	s->next = NULL;
	if (l->tail != NULL)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	l->queued += n;
}

static bool emit(void *ctx, enum sim_out_kind kind, const uint8_t *p, size_t n)
{
	struct loop *l = ctx;
	int64_t now = now_ms();

	if (kind == SIM_OUT_ECHO) {
		enqueue(l, p, n, now, false);
		return true;
	}
	enqueue(l, p, n, now + l->f->delay_ms, kind == SIM_OUT_ANSWER && sim_modem_held(l->m));
	if (kind != SIM_OUT_ANSWER)
		return true;
	l->answered++;
	if (l->f->close_after > 0 && l->answered >= l->f->close_after) {
		l->closing = true;
		return false;
	}
	return true;
}

static void drop_queue(struct loop *l)
{
	while (l->head != NULL) {
		struct seg *s = l->head;

		l->head = s->next;
		free(s);
	}
	l->tail = NULL;
	l->queued = 0;
}

/* Write what is due; returns -1 when the port would block. */
static int flush_some(struct loop *l, int fd)
{
	int64_t now = now_ms();

	if (l->head != NULL && l->head->gated && access(l->f->keygen_wait, F_OK) == 0)
		l->head->gated = false;
	while (l->head != NULL && !l->head->gated && now >= l->head->not_before &&
	       now >= l->next_write) {
		struct seg *s = l->head;
		size_t want = s->n - s->off;
		ssize_t w;

		if (l->f->chunk > 0 && want > l->f->chunk)
			want = l->f->chunk;
		w = write(fd, s->p + s->off, want);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1; /* EAGAIN or EIO: wait for POLLOUT */
		}
		s->off += (size_t)w;
		l->queued -= (size_t)w;
		if (s->off == s->n) {
			l->head = s->next;
			if (l->head == NULL)
				l->tail = NULL;
			free(s);
		}
		if (l->f->chunk > 0) {
			l->next_write = now + CHUNK_PAUSE_MS;
			break;
		}
	}
	if (l->closing && l->head == NULL && l->close_at == 0)
		l->close_at = now + CLOSE_GRACE_MS;
	return 0;
}

static int open_pty(int *mfd_out, int *sfd_out, char *path, size_t pathlen, struct nrfca_err *e)
{
	struct termios t;
	int mfd, sfd = -1;
	const char *name;

	mfd = posix_openpt(O_RDWR | O_NOCTTY);
	if (mfd < 0 || grantpt(mfd) != 0 || unlockpt(mfd) != 0 || (name = ptsname(mfd)) == NULL) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot create a pseudo-terminal: %s%s", strerror(errno),
			      errno == ENODEV || errno == ENOENT ?
			      " (no devpts: mount -t devpts devpts /dev/pts)" : "");
		goto fail;
	}
	if (strlen(name) >= pathlen) {
		nrfca_err_set(e, NRFCA_E_IO, "pseudo-terminal path too long");
		goto fail;
	}
	strcpy(path, name);
	/* Our own slave descriptor keeps the pty alive while the host has it closed. */
	sfd = open(path, O_RDWR | O_NOCTTY);
	if (sfd < 0 || tcgetattr(sfd, &t) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	cfmakeraw(&t);
	cfsetispeed(&t, B115200);
	cfsetospeed(&t, B115200);
	t.c_cflag |= CRTSCTS | CLOCAL | CREAD;
	if (tcsetattr(sfd, TCSANOW, &t) != 0 ||
	    fcntl(mfd, F_SETFL, fcntl(mfd, F_GETFL) | O_NONBLOCK) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot set raw mode on %s: %s", path, strerror(errno));
		goto fail;
	}
	*mfd_out = mfd;
	*sfd_out = sfd;
	return 0;
fail:
	if (sfd >= 0)
		close(sfd);
	if (mfd >= 0)
		close(mfd);
	return -1;
}

static void run(struct sim_modem *m, struct sim_shell *sh, int mfd, struct loop *l,
		const sigset_t *waitmask)
{
	uint8_t buf[4096];

	while (!stop_flag) {
		struct pollfd p = { .fd = mfd, .events = 0 };
		struct timespec ts, *tsp = NULL;
		int64_t now, wake = -1;
		int r;

		if (flush_some(l, mfd) < 0)
			p.events |= POLLOUT;
		now = now_ms();
		if (l->closing && l->head == NULL && now >= l->close_at)
			return;
		if (!l->closing)
			p.events |= POLLIN;
		if (l->head != NULL && l->head->gated) {
			wake = now + 50;      /* look for the keygen-wait file again */
		} else if (l->head != NULL && !(p.events & POLLOUT)) {
			wake = l->head->not_before > l->next_write ? l->head->not_before
								  : l->next_write;
		} else if (l->closing && l->head == NULL) {
			wake = l->close_at;
		}
		if (wake >= 0) {
			int64_t d = wake > now ? wake - now : 0;

			ts.tv_sec = d / 1000;
			ts.tv_nsec = (long)(d % 1000) * 1000000;
			tsp = &ts;
		}
		r = ppoll(&p, 1, tsp, waitmask);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "nrf91-sim: poll failed: %s\n", strerror(errno));
			return;
		}
		if (r == 0)
			continue;
		if (p.revents & POLLIN) {
			ssize_t n = read(mfd, buf, sizeof(buf));

			if (n > 0) {
				if (sh != NULL)
					sim_shell_feed(sh, buf, (size_t)n, emit, l);
				else
					sim_modem_feed(m, buf, (size_t)n, emit, l);
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
		}
		if (p.revents & (POLLHUP | POLLERR)) {
			/* no one holds the other side: wait for the host to come back */
			struct timespec pause = { 0, 50 * 1000000L };

			nanosleep(&pause, NULL);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "fw", required_argument, NULL, 'f' },
		{ "imei", required_argument, NULL, 'i' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "cfun", required_argument, NULL, 'c' },
		{ "shell", no_argument, NULL, 's' },
		{ "echo", no_argument, NULL, 'e' },
		{ "no-echo", no_argument, NULL, 'E' },
		{ "shell-buffer", required_argument, NULL, 'b' },
		{ "log", required_argument, NULL, 'L' },
		{ "urc", no_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 'S' },
		{ "faults", required_argument, NULL, 'F' },
		{ "identity-key", required_argument, NULL, 'k' },
		{ "identity-pub-out", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct nrfca_err e = { 0 };
	struct sim_opts o = { .fw = DEFAULT_FW, .cfun = 1 };
	struct faults f = { 0 };
	struct loop l = { 0 };
	const char *idkey_path = NULL, *idpub_path = NULL;
	EVP_PKEY *identity = NULL;
	struct sim_modem *m = NULL;
	struct sim_shell *sh = NULL;
	struct sim_shell_opts so = { .echo = true };
	bool shell = false;
	char path[256];
	int mfd = -1, sfd = -1, opt, rc = 1;
	long v;
	struct sigaction sa;
	sigset_t block, waitmask;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': o.fw = optarg; break;
		case 'i': o.imei = optarg; break;
		case 'u': o.uuid = optarg; break;
		case 'c':
			if (parse_long(optarg, 0, 4, &v) != 0) {
				fprintf(stderr, "nrf91-sim: --cfun takes 0, 1 or 4\n");
				return 2;
			}
			o.cfun = (int)v;
			break;
		case 's': shell = true; break;
		case 'e': o.echo = true; break;
		case 'E': so.echo = false; break;
		case 'b':
			if (parse_long(optarg, SIM_SHELL_BUFF_MIN, SIM_SHELL_BUFF_MAX, &v) != 0) {
				fprintf(stderr, "nrf91-sim: --shell-buffer takes %u..%u\n",
					SIM_SHELL_BUFF_MIN, SIM_SHELL_BUFF_MAX);
				return 2;
			}
			so.buff_size = (size_t)v;
			break;
		case 'L': o.log_path = optarg; break;
		case 'r': o.urc = true; break;
		case 'S': o.state_path = optarg; break;
		case 'F':
			if (parse_faults(optarg, &f, &e) < 0) {
				fprintf(stderr, "nrf91-sim: %s\n", e.msg);
				return 2;
			}
			break;
		case 'k': idkey_path = optarg; break;
		case 'p': idpub_path = optarg; break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			return nrfca_cli_version("nrf91-sim");
		default:
			return nrfca_cli_bad_option("nrf91-sim", argv, opt);
		}
	}
	if (optind != argc)
		return nrfca_cli_usage_error("nrf91-sim", "unexpected argument '%s'", argv[optind]);
	o.truncate_keygen = f.truncate_keygen;
	o.cme527_on = f.cme527_on;
	o.max_cmd = f.max_cmd;
	o.cgsn = f.cgsn;
	o.hold_keygen = f.keygen_wait != NULL;
	l.f = &f;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	sigdelset(&waitmask, SIGINT);
	sigdelset(&waitmask, SIGTERM);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);

	if (simc_identity_load_or_create(idkey_path, &identity, &e) < 0)
		goto out;
	if (idpub_path != NULL && simc_write_pub_pem(identity, idpub_path, &e) < 0)
		goto out;
	o.identity = identity;
	m = sim_modem_create(&o, &e);
	if (m == NULL)
		goto out;
	l.m = m;
	if (shell) {
		/* --urc: as if `at events_enable` had been typed at boot */
		so.events = o.urc;
		sh = sim_shell_create(&so, m);
		if (sh == NULL) {
			nrfca_err_set(&e, NRFCA_E_NOMEM, "out of memory creating the shell");
			goto out;
		}
	}
	if (open_pty(&mfd, &sfd, path, sizeof(path), &e) < 0)
		goto out;
	printf("%s\n", path);
	fflush(stdout);
	run(m, sh, mfd, &l, &waitmask);
	if (sim_modem_save(m, &e) < 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		fprintf(stderr, "nrf91-sim: %s\n", e.msg);
		if (e.code == NRFCA_E_CONFIG)
			rc = 2;
	}
	drop_queue(&l);
	if (mfd >= 0)
		close(mfd);
	if (sfd >= 0)
		close(sfd);
	sim_shell_free(sh);
	sim_modem_free(m);
	EVP_PKEY_free(identity);
	return rc;
}
