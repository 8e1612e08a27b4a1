/*
 * sim_test - drives nrf91-sim over its pseudo-terminal like a host would
 * and checks every behaviour it promises.
 *
 * usage: sim_test <path of nrf91-sim> <scenario>
 * env:   NRFCA_TEST_DATA (tests/data), NRFCA_TRUST_DIR (policies/trust)
 *
 * Each scenario runs in ./work-<scenario> (created and removed), starts its
 * own simulators and kills them on every exit path.  Checks stop the
 * scenario at the first failure with file:line and what was seen.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#define CHECK(cond, ...)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
			fprintf(stderr, __VA_ARGS__);                                        \
			fputc('\n', stderr);                                                 \
			return -1;                                                           \
		}                                                                            \
	} while (0)
#define TRY(expr)                                                                            \
	do {                                                                                 \
		if ((expr) != 0) {                                                           \
			fprintf(stderr, "  from %s:%d\n", __FILE__, __LINE__);               \
			return -1;                                                           \
		}                                                                            \
	} while (0)

#define MAX_SIMS 4
#define ANS_MAX 65536
#define LINES_MAX 128
#define TIMEOUT_MS 5000

static const char *sim_bin;
static char workdir[512];
static pid_t sims[MAX_SIMS];

/* ---- simulator process ---- */

struct sim {
	pid_t pid;
	int fd;
	char path[256];
};

struct ans {
	char raw[ANS_MAX + 1];   /* as received */
	char split[ANS_MAX + 1]; /* copy cut into lines */
	size_t len;
	char *line[LINES_MAX];
	int nline;
	const char *final;
	int reads;        /* read() calls that returned data */
	size_t max_read;  /* largest single read */
	bool shell;       /* lines have the shell's ANSI colour codes removed */
};

static void kill_all(void)
{
	int i;

	for (i = 0; i < MAX_SIMS; i++) {
		if (sims[i] > 0) {
			kill(sims[i], SIGKILL);
			waitpid(sims[i], NULL, 0);
			sims[i] = 0;
		}
	}
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "FAIL: scenario timed out\n";
	ssize_t r = write(2, msg, sizeof(msg) - 1);

	(void)r;
	kill_all();
	_exit(1);
}

static int64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int set_raw(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t) != 0)
		return -1;
	cfmakeraw(&t);
	return tcsetattr(fd, TCSANOW, &t);
}

static int open_port(struct sim *s)
{
	s->fd = open(s->path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	CHECK(s->fd >= 0, "cannot open %s: %s", s->path, strerror(errno));
	CHECK(set_raw(s->fd) == 0, "cannot set raw mode on %s", s->path);
	return 0;
}

/* Start nrf91-sim with the given NULL-terminated extra arguments. */
static int sim_start(struct sim *s, const char *const *args)
{
	const char *argv[32];
	int pfd[2], n = 0, slot;
	size_t len = 0;
	pid_t pid;

	for (slot = 0; slot < MAX_SIMS && sims[slot] != 0; slot++)
		;
	CHECK(slot < MAX_SIMS, "too many simulators");
	argv[n++] = sim_bin;
	while (args != NULL && *args != NULL && n < 30)
		argv[n++] = *args++;
	argv[n] = NULL;
	CHECK(pipe(pfd) == 0, "pipe: %s", strerror(errno));
	pid = fork();
	CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		execv(sim_bin, (char *const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	sims[slot] = pid;
	s->pid = pid;
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		char c;

		CHECK(poll(&p, 1, TIMEOUT_MS) == 1, "simulator printed no pty path");
		CHECK(read(pfd[0], &c, 1) == 1, "simulator exited before printing its pty path");
		if (c == '\n')
			break;
		CHECK(len + 1 < sizeof(s->path), "pty path too long");
		s->path[len++] = c;
	}
	s->path[len] = '\0';
	close(pfd[0]);
	return open_port(s);
}

/* SIGTERM, wait, expect exit status 0. */
static int sim_stop(struct sim *s)
{
	int st = -1, i;
	int64_t until = now_ms() + TIMEOUT_MS;

	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	kill(s->pid, SIGTERM);
	while (waitpid(s->pid, &st, WNOHANG) == 0) {
		CHECK(now_ms() < until, "simulator ignores SIGTERM");
		usleep(10000);
	}
	for (i = 0; i < MAX_SIMS; i++)
		if (sims[i] == s->pid)
			sims[i] = 0;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "simulator exit status 0x%x", st);
	return 0;
}

static int send_raw(struct sim *s, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(s->fd, b, n);

		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = s->fd, .events = POLLOUT };

			poll(&pf, 1, 100);
			continue;
		}
		CHECK(w > 0, "write to the port: %s", strerror(errno));
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static bool is_final(const char *l)
{
	return strcmp(l, "OK") == 0 || strcmp(l, "ERROR") == 0 ||
	       strncmp(l, "+CME ERROR: ", 12) == 0 || strncmp(l, "+CMS ERROR: ", 12) == 0;
}

/* Remove ESC [ ... letter sequences in place. */
static void strip_ansi(char *s)
{
	char *r = s, *w = s;

	while (*r != '\0') {
		if (r[0] == '\x1b' && r[1] == '[') {
			r += 2;
			while (*r != '\0' && !((*r >= 'A' && *r <= 'Z') || (*r >= 'a' && *r <= 'z')))
				r++;
			if (*r != '\0')
				r++;
			continue;
		}
		*w++ = *r++;
	}
	*w = '\0';
}

/* Number of shell prompts in the answer so far. */
static int count_prompts(const char *raw)
{
	static char copy[ANS_MAX + 1];
	const char *p;
	int n = 0;

	snprintf(copy, sizeof(copy), "%s", raw);
	strip_ansi(copy);
	for (p = copy; (p = strstr(p, "uart:~$ ")) != NULL; p += 8)
		n++;
	return n;
}

static void split_lines(struct ans *a)
{
	char *p = a->split, *nl;

	memcpy(a->split, a->raw, a->len + 1);
	if (a->shell)
		strip_ansi(a->split);
	a->nline = 0;
	a->final = NULL;
	while ((nl = strchr(p, '\n')) != NULL && a->nline < LINES_MAX) {
		*nl = '\0';
		{
			char *e = nl;

			if (e > p && e[-1] == '\r')
				*--e = '\0';
			while (a->shell && e > p && e[-1] == '\r')  /* the shell's CR CR LF */
				*--e = '\0';
		}
		a->line[a->nline++] = p;
		if (is_final(p))
			a->final = p;
		p = nl + 1;
	}
}

/* Read until a final line (or, in shell mode, until `prompts` prompts
 * arrived).  Returns 0, -1 on timeout, -2 when the port reports EOF or EIO. */
static int read_prompts(struct sim *s, struct ans *a, bool shell, int prompts, int timeout_ms)
{
	int64_t until = now_ms() + timeout_ms;
	char copy[ANS_MAX + 1];

	memset(a, 0, sizeof(*a));
	for (;;) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int64_t left = until - now_ms();
		ssize_t n;

		if (left <= 0)
			return -1;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(s->fd, a->raw + a->len, ANS_MAX - a->len);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return -2;
		a->reads++;
		if ((size_t)n > a->max_read)
			a->max_read = (size_t)n;
		a->len += (size_t)n;
		a->raw[a->len] = '\0';
		if (a->len == ANS_MAX)
			return -1;
		if (shell) {
			if (count_prompts(a->raw) >= prompts)
				break;
			continue;
		}
		memcpy(copy, a->raw, a->len + 1);
		{
			/* a final line is complete when followed by '\n' */
			char *q = copy, *nl;
			bool done = false;

			while ((nl = strchr(q, '\n')) != NULL) {
				*nl = '\0';
				if (nl > q && nl[-1] == '\r')
					nl[-1] = '\0';
				if (is_final(q))
					done = true;
				q = nl + 1;
			}
			if (done)
				break;
		}
	}
	a->shell = shell;
	split_lines(a);
	return 0;
}

static int read_answer(struct sim *s, struct ans *a, bool shell, int timeout_ms)
{
	return read_prompts(s, a, shell, 1, timeout_ms);
}

/* Send `cmd` + CRLF and read the answer. */
static int at(struct sim *s, const char *cmd, struct ans *a)
{
	TRY(send_raw(s, cmd, strlen(cmd)));
	TRY(send_raw(s, "\r\n", 2));
	CHECK(read_answer(s, a, false, TIMEOUT_MS) == 0, "no final line for %s; got [%s]", cmd,
	      a->raw);
	return 0;
}

/* Send and expect the final line exactly. */
static int at_expect(struct sim *s, const char *cmd, const char *final, struct ans *a)
{
	TRY(at(s, cmd, a));
	CHECK(a->final != NULL && strcmp(a->final, final) == 0, "%s answered %s, expected %s", cmd,
	      a->final ? a->final : "(no final line)", final);
	return 0;
}

/* The information line starting with prefix, or NULL. */
static const char *find_line(const struct ans *a, const char *prefix)
{
	int i;

	for (i = 0; i < a->nline; i++)
		if (strncmp(a->line[i], prefix, strlen(prefix)) == 0)
			return a->line[i];
	return NULL;
}

/* ---- decoding helpers (independent of the simulator's code) ---- */

static int b64url_dec(const char *s, size_t n, uint8_t *out, size_t cap, size_t *outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		int v;
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = o;
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t n, off;
};

static int rd_head(struct rd *r, int *major, uint64_t *arg)
{
	uint8_t ib, ai;
	int k, len;

	if (r->off >= r->n)
		return -1;
	ib = r->p[r->off++];
	*major = ib >> 5;
	ai = ib & 31;
	if (ai < 24) {
		*arg = ai;
		return 0;
	}
	if (ai > 27)
		return -1;
	len = 1 << (ai - 24);
	if (r->n - r->off < (size_t)len)
		return -1;
	*arg = 0;
	for (k = 0; k < len; k++)
		*arg = *arg << 8 | r->p[r->off++];
	return 0;
}

static int rd_expect(struct rd *r, int major, uint64_t arg)
{
	int m;
	uint64_t a;

	if (rd_head(r, &m, &a) != 0 || m != major || a != arg)
		return -1;
	return 0;
}

static int rd_bstr(struct rd *r, const uint8_t **p, size_t *n)
{
	int m;
	uint64_t a;

	if (rd_head(r, &m, &a) != 0 || m != 2 || a > r->n - r->off)
		return -1;
	*p = r->p + r->off;
	*n = (size_t)a;
	r->off += (size_t)a;
	return 0;
}

static void head(uint8_t *out, size_t *o, int major, uint64_t arg)
{
	if (arg < 24) {
		out[(*o)++] = (uint8_t)(major << 5 | arg);
	} else if (arg < 256) {
		out[(*o)++] = (uint8_t)(major << 5 | 24);
		out[(*o)++] = (uint8_t)arg;
	} else {
		out[(*o)++] = (uint8_t)(major << 5 | 25);
		out[(*o)++] = (uint8_t)(arg >> 8);
		out[(*o)++] = (uint8_t)arg;
	}
}

static EVP_PKEY *load_pub(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k;

	if (f == NULL)
		return NULL;
	k = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	return k;
}

/* Verify a COSE ES256 raw r||s signature over Sig_structure. */
static int cose_verify(EVP_PKEY *pub, const uint8_t *prot, size_t protlen,
		       const uint8_t *payload, size_t plen, const uint8_t *rs)
{
	uint8_t tbs[2048], *der = NULL;
	size_t o = 0;
	ECDSA_SIG *sig = ECDSA_SIG_new();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	BIGNUM *r = BN_bin2bn(rs, 32, NULL), *sv = BN_bin2bn(rs + 32, 32, NULL);
	int dl, ok = 0;

	if (plen + protlen + 32 > sizeof(tbs) || sig == NULL || ctx == NULL || r == NULL ||
	    sv == NULL)
		goto out;
	head(tbs, &o, 4, 4);
	head(tbs, &o, 3, 10);
	memcpy(tbs + o, "Signature1", 10);
	o += 10;
	head(tbs, &o, 2, protlen);
	memcpy(tbs + o, prot, protlen);
	o += protlen;
	head(tbs, &o, 2, 0);
	head(tbs, &o, 2, plen);
	memcpy(tbs + o, payload, plen);
	o += plen;
	if (ECDSA_SIG_set0(sig, r, sv) != 1)
		goto out;
	r = sv = NULL;
	dl = i2d_ECDSA_SIG(sig, &der);
	if (dl <= 0)
		goto out;
	ok = EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, pub, NULL) == 1 &&
	     EVP_DigestVerify(ctx, der, (size_t)dl, tbs, o) == 1;
out:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(sv);
	ECDSA_SIG_free(sig);
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* A decoded %KEYGEN answer. */
struct keygen {
	uint8_t p1[2048], p2[1024];
	size_t p1len, p2len;
	/* fields of part 2 */
	const uint8_t *prot, *payload, *sig, *uuid, *tagb, *digest, *nonce;
	size_t protlen, payloadlen, siglen, tagblen;
	uint64_t payload_id;
	char p2b64[1024];
};

/* Decode `%KEYGEN: "<p1>.<p2>"`; returns -1 with a reason on stderr. */
static int decode_keygen(const char *line, struct keygen *k)
{
	const char *q, *dot, *end;
	struct rd r, pr;
	int m;
	uint64_t a;

	memset(k, 0, sizeof(*k));
	CHECK(strncmp(line, "%KEYGEN: \"", 10) == 0, "not a %%KEYGEN line: %s", line);
	q = line + 10;
	end = strchr(q, '"');
	CHECK(end != NULL && end[1] == '\0', "no closing quote at the end of %s", line);
	dot = memchr(q, '.', (size_t)(end - q));
	CHECK(dot != NULL, "no '.' between the parts");
	CHECK(b64url_dec(q, (size_t)(dot - q), k->p1, sizeof(k->p1), &k->p1len) == 0,
	      "part 1 is not base64url");
	CHECK(b64url_dec(dot + 1, (size_t)(end - dot - 1), k->p2, sizeof(k->p2), &k->p2len) == 0,
	      "part 2 is not base64url");
	CHECK((size_t)(end - dot - 1) < sizeof(k->p2b64), "part 2 too long");
	memcpy(k->p2b64, dot + 1, (size_t)(end - dot - 1));
	r = (struct rd){ k->p2, k->p2len, 0 };
	CHECK(rd_expect(&r, 6, 18) == 0 && rd_expect(&r, 4, 4) == 0,
	      "part 2 is not tag 18 + array(4)");
	CHECK(rd_bstr(&r, &k->prot, &k->protlen) == 0 && k->protlen == 3 &&
		      memcmp(k->prot, "\xa1\x01\x26", 3) == 0,
	      "protected header is not {1:-7}");
	CHECK(r.n - r.off >= 4 && memcmp(r.p + r.off, "\xa1\x04\x41\x21", 4) == 0,
	      "unprotected header is not {4: h'21'}");
	r.off += 4;
	CHECK(rd_bstr(&r, &k->payload, &k->payloadlen) == 0, "payload is not a bstr");
	CHECK(rd_bstr(&r, &k->sig, &k->siglen) == 0 && k->siglen == 64,
	      "signature is not a 64-byte bstr");
	CHECK(r.off == r.n, "%zu bytes after the COSE_Sign1", r.n - r.off);
	pr = (struct rd){ k->payload, k->payloadlen, 0 };
	CHECK(rd_expect(&pr, 6, 55799) == 0 && rd_expect(&pr, 4, 5) == 0,
	      "payload is not tag 55799 + array(5)");
	CHECK(rd_head(&pr, &m, &k->payload_id) == 0 && m == 0, "payload id is not a uint");
	{
		size_t ul, dl, nl;

		CHECK(rd_bstr(&pr, &k->uuid, &ul) == 0 && ul == 16, "uuid is not bstr16");
		CHECK(rd_bstr(&pr, &k->tagb, &k->tagblen) == 0, "sec_tag is not a bstr");
		CHECK(rd_bstr(&pr, &k->digest, &dl) == 0 && dl == 32, "digest is not bstr32");
		CHECK(rd_bstr(&pr, &k->nonce, &nl) == 0 && nl == 16, "nonce is not bstr16");
	}
	CHECK(pr.off == pr.n, "bytes after the payload array");
	(void)a;
	return 0;
}

static int uuid_bin(const char *s, uint8_t out[16])
{
	size_t i, j = 0;
	unsigned v;

	for (i = 0; s[i] != '\0' && j < 16; i++) {
		if (s[i] == '-')
			continue;
		if (sscanf(s + i, "%2x", &v) != 1)
			return -1;
		out[j++] = (uint8_t)v;
		i++;
	}
	return j == 16 ? 0 : -1;
}

static json_t *load_state(const char *path)
{
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);

	if (j == NULL)
		fprintf(stderr, "state %s: %s\n", path, je.text);
	return j;
}

static json_t *state_cred(json_t *st, long tag, int type)
{
	size_t i;
	json_t *c;

	json_array_foreach(json_object_get(st, "credentials"), i, c) {
		if (json_integer_value(json_object_get(c, "sec_tag")) == tag &&
		    json_integer_value(json_object_get(c, "type")) == type)
			return c;
	}
	return NULL;
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");

	CHECK(f != NULL, "cannot open %s: %s", path, strerror(errno));
	*len = fread(buf, 1, cap, f);
	fclose(f);
	CHECK(*len < cap, "%s is too large", path);
	return 0;
}

static void hex_upper(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02X", p[i]);
}

/* ---- scenarios ---- */

static int t_basic(void)
{
	struct sim s;
	struct ans a;
	static const char *const args[] = { "--imei", "356789012345675", "--uuid",
					    "50363154-3931-44F0-8022-121B6401627D", NULL };

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT", "OK", &a));
	TRY(at_expect(&s, "AT+CGSN", "OK", &a));
	CHECK(a.nline == 2 && strcmp(a.line[0], "356789012345675") == 0, "IMEI line: %s",
	      a.line[0]);
	TRY(at_expect(&s, "AT+CGSN=1", "OK", &a));
	CHECK(strcmp(a.line[0], "+CGSN: \"356789012345675\"") == 0, "CGSN=1: %s", a.line[0]);
	TRY(at_expect(&s, "AT+CGMR", "OK", &a));
	CHECK(strcmp(a.line[0], "mfw_nrf91x1_2.0.2") == 0, "CGMR: %s", a.line[0]);
	TRY(at_expect(&s, "at+cgmm", "OK", &a));
	CHECK(strcmp(a.line[0], "nRF9151-LACA") == 0, "CGMM: %s", a.line[0]);
	TRY(at_expect(&s, "AT%DEVICEUUID", "OK", &a));
	CHECK(strcmp(a.line[0], "%DEVICEUUID: 50363154-3931-44f0-8022-121b6401627d") == 0,
	      "DEVICEUUID (lower case expected): %s", a.line[0]);
	TRY(at_expect(&s, "AT%XMODEMUUID", "OK", &a));
	CHECK(strncmp(a.line[0], "%XMODEMUUID: ", 13) == 0 && strlen(a.line[0]) == 13 + 36,
	      "XMODEMUUID: %s", a.line[0]);
	TRY(at_expect(&s, "AT+CFUN?", "OK", &a));
	CHECK(strcmp(a.line[0], "+CFUN: 1") == 0, "initial CFUN: %s", a.line[0]);
	TRY(at_expect(&s, "AT+CFUN=4", "OK", &a));
	TRY(at_expect(&s, "AT+CFUN?", "OK", &a));
	CHECK(strcmp(a.line[0], "+CFUN: 4") == 0, "CFUN after =4: %s", a.line[0]);
	TRY(at_expect(&s, "AT+CMEE?", "OK", &a));
	CHECK(strcmp(a.line[0], "+CMEE: 0") == 0, "CMEE: %s", a.line[0]);
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	TRY(at_expect(&s, "AT+CMEE?", "OK", &a));
	CHECK(strcmp(a.line[0], "+CMEE: 1") == 0, "CMEE: %s", a.line[0]);
	/* unknown commands: plain ERROR even with CMEE=1 */
	TRY(at_expect(&s, "AT+FOO", "ERROR", &a));
	TRY(at_expect(&s, "HELLO", "ERROR", &a));
	TRY(at_expect(&s, "AT+CFUN=2", "+CME ERROR: 514", &a));
	TRY(sim_stop(&s));
	return 0;
}

static int t_lines(void)
{
	struct sim s;
	struct ans a;
	char *big;

	TRY(sim_start(&s, NULL));
	/* CR only, LF only, CRLF, and empty lines are ignored */
	TRY(send_raw(&s, "AT+CGMM\r", 8));
	CHECK(read_answer(&s, &a, false, TIMEOUT_MS) == 0 && strcmp(a.final, "OK") == 0 &&
		      strcmp(a.line[0], "nRF9151-LACA") == 0,
	      "CR-terminated command: [%s]", a.raw);
	TRY(send_raw(&s, "\n\nAT+CGMM\n", 10));
	CHECK(read_answer(&s, &a, false, TIMEOUT_MS) == 0 && a.nline == 2,
	      "LF-terminated command after empty lines: [%s]", a.raw);
	/* two commands in one write: two answers, and the LF of each CRLF is
	 * not taken for an empty command */
	TRY(send_raw(&s, "AT\r\nAT+CGMR\r\n", 13));
	{
		int finals = 0, tries = 0, i;
		bool fw = false;

		while (finals < 2 && tries++ < 2) {
			CHECK(read_answer(&s, &a, false, TIMEOUT_MS) == 0, "two commands: [%s]",
			      a.raw);
			for (i = 0; i < a.nline; i++) {
				finals += is_final(a.line[i]);
				fw |= strcmp(a.line[i], "mfw_nrf91x1_2.0.2") == 0;
			}
		}
		CHECK(finals == 2 && fw, "two commands gave %d final lines", finals);
	}
	TRY(at_expect(&s, "AT", "OK", &a));
	CHECK(a.nline == 1, "stray output before OK: [%s]", a.raw);
	/* over 8 KiB: ERROR, no crash, next command works */
	big = malloc(10000);
	CHECK(big != NULL, "malloc");
	memcpy(big, "AT%CMNG=0,1,0,\"", 15);
	memset(big + 15, 'A', 10000 - 15 - 3);
	memcpy(big + 10000 - 3, "\"\r\n", 3);
	if (send_raw(&s, big, 10000) != 0) {
		free(big);
		return -1;
	}
	free(big);
	CHECK(read_answer(&s, &a, false, TIMEOUT_MS) == 0 && strcmp(a.final, "ERROR") == 0,
	      "10000-byte line: [%.200s]", a.raw);
	TRY(at_expect(&s, "AT", "OK", &a));
	TRY(sim_stop(&s));
	return 0;
}

/* Mask the public key point and compare the CSR's structure with the real one. */
static int compare_with_vector(const struct keygen *k)
{
	char path[600];
	char txt[4096];
	uint8_t vec[2048], a[2048], b[2048];
	size_t tl, vl, i;
	const char *d = getenv("NRFCA_TEST_DATA");
	char *dot;

	CHECK(d != NULL, "NRFCA_TEST_DATA is not set");
	snprintf(path, sizeof(path), "%s/vectors/keygen-csr-sectag17.txt", d);
	TRY(read_file(path, (uint8_t *)txt, sizeof(txt) - 1, &tl));
	txt[tl] = '\0';
	dot = strchr(txt, '.');
	CHECK(dot != NULL, "vector has no '.'");
	CHECK(b64url_dec(txt, (size_t)(dot - txt), vec, sizeof(vec), &vl) == 0, "vector b64");
	/* CertificationRequestInfo: same length and bytes, except the 65-byte
	 * public key point (offset 85 in both) and the 36 CN characters */
	CHECK(k->p1[4] == 0x30 && vec[4] == 0x30 && k->p1[5] == vec[5] && k->p1[6] == vec[6],
	      "CRI header differs: %02x%02x vs %02x%02x", k->p1[5], k->p1[6], vec[5], vec[6]);
	memcpy(a, k->p1, 4 + 3 + 0xaf);
	memcpy(b, vec, 4 + 3 + 0xaf);
	memset(a + 23, 0, 36);
	memset(b + 23, 0, 36);
	memset(a + 85, 0, 65);
	memset(b + 85, 0, 65);
	for (i = 4; i < 4 + 3 + 0xaf; i++)
		CHECK(a[i] == b[i], "CSR byte %zu is %02x, the real modem's is %02x", i, a[i], b[i]);
	/* then the same AlgorithmIdentifier with explicit NULL */
	CHECK(memcmp(k->p1 + 182, vec + 182, 14) == 0 &&
		      memcmp(k->p1 + 182, "\x30\x0c\x06\x08\x2a\x86\x48\xce\x3d\x04\x03\x02\x05\x00",
			     14) == 0,
	      "signatureAlgorithm is not SEQUENCE { ecdsa-with-SHA256, NULL }");
	/* part 2 starts like the real one: tag 18 [bstr{1:-7}, {4:h'21'}, ... */
	CHECK(strncmp(k->p2b64, "0oRDoQEmoQRBIV", 14) == 0, "part 2 starts %.14s", k->p2b64);
	CHECK(strncmp(dot + 1, "0oRDoQEmoQRBIV", 14) == 0, "vector sanity");
	return 0;
}

static int check_keygen_binding(const struct keygen *k, const uint8_t uuid[16], uint64_t tag,
				uint64_t id, EVP_PKEY *idpub)
{
	uint8_t d[32], tb[9];
	size_t tbl = 0;

	SHA256(k->p1, k->p1len, d);
	CHECK(memcmp(d, k->digest, 32) == 0, "attested digest != SHA-256(part 1)");
	CHECK(memcmp(k->uuid, uuid, 16) == 0, "attested UUID differs");
	CHECK(k->payload_id == id, "payload id %llu, expected %llu",
	      (unsigned long long)k->payload_id, (unsigned long long)id);
	if (tag < 24) {
		tb[tbl++] = (uint8_t)tag;
	} else if (tag < 256) {
		tb[tbl++] = 0x18;
		tb[tbl++] = (uint8_t)tag;
	} else if (tag < 65536) {
		tb[tbl++] = 0x19;
		tb[tbl++] = (uint8_t)(tag >> 8);
		tb[tbl++] = (uint8_t)tag;
	} else {
		tb[tbl++] = 0x1a;
		tb[tbl++] = (uint8_t)(tag >> 24);
		tb[tbl++] = (uint8_t)(tag >> 16);
		tb[tbl++] = (uint8_t)(tag >> 8);
		tb[tbl++] = (uint8_t)tag;
	}
	CHECK(k->tagblen == tbl && memcmp(k->tagb, tb, tbl) == 0, "sec_tag bstr wrong for %llu",
	      (unsigned long long)tag);
	CHECK(cose_verify(idpub, k->prot, k->protlen, k->payload, k->payloadlen, k->sig) == 0,
	      "COSE signature does not verify with the identity public key");
	return 0;
}

static int t_keygen_csr(void)
{
	static const char uuid_s[] = "50363154-3931-44f0-8022-121b6401627d";
	static const char *const args[] = { "--uuid", uuid_s, "--cfun", "4",
					    "--identity-key", "id.pem", "--identity-pub-out",
					    "idpub.pem", "--state", "state.json", NULL };
	struct sim s;
	struct ans a;
	struct keygen k;
	uint8_t uuid[16];
	EVP_PKEY *idpub = NULL, *statepub = NULL, *csrpub;
	X509_REQ *req = NULL;
	const unsigned char *p;
	X509_NAME *name;
	char cn[128];
	json_t *st = NULL, *c;
	BIO *bio;
	int rc = -1;

	TRY(uuid_bin(uuid_s, uuid));
	TRY(sim_start(&s, args));
	idpub = load_pub("idpub.pem");
	CHECK(idpub != NULL, "--identity-pub-out wrote no PEM public key");
	if (at_expect(&s, "AT%KEYGEN=17,2,0", "OK", &a) != 0 || decode_keygen(a.line[0], &k) != 0)
		goto out;
	if (compare_with_vector(&k) != 0 || check_keygen_binding(&k, uuid, 17, 9, idpub) != 0)
		goto out;
	p = k.p1;
	req = d2i_X509_REQ(NULL, &p, (long)k.p1len);
	if (req == NULL || p != k.p1 + k.p1len) {
		fprintf(stderr, "FAIL: OpenSSL cannot parse the CSR DER\n");
		goto out;
	}
	if (X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) != 1) {
		fprintf(stderr, "FAIL: CSR self-signature does not verify\n");
		goto out;
	}
	name = X509_REQ_get_subject_name(req);
	if (X509_NAME_entry_count(name) != 1 ||
	    X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn)) < 0 ||
	    strcmp(cn, uuid_s) != 0) {
		fprintf(stderr, "FAIL: CSR subject is not CN=<uuid>\n");
		goto out;
	}
	/* KeyUsage: exactly the real modem's 03 02 03 e8 */
	if (memmem(k.p1, k.p1len, "\x06\x03\x55\x1d\x0f\x04\x04\x03\x02\x03\xe8", 11) == NULL) {
		fprintf(stderr, "FAIL: default KeyUsage is not 03 02 03 e8\n");
		goto out;
	}
	/* the key at sec_tag 17 in the state file is the CSR's key */
	st = load_state("state.json");
	c = st ? state_cred(st, 17, 2) : NULL;
	if (c == NULL || !json_is_true(json_object_get(c, "generated"))) {
		fprintf(stderr, "FAIL: state has no generated key at 17\n");
		goto out;
	}
	bio = BIO_new_mem_buf(json_string_value(json_object_get(c, "public_key_pem")), -1);
	statepub = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	csrpub = X509_REQ_get0_pubkey(req);
	if (statepub == NULL || EVP_PKEY_eq(statepub, csrpub) != 1) {
		fprintf(stderr, "FAIL: state public key differs from the CSR key\n");
		goto out;
	}
	/* the nRF Cloud default sec_tag: h'1a01010001' */
	if (at_expect(&s, "AT%KEYGEN=16842753,2,0", "OK", &a) != 0 ||
	    decode_keygen(a.line[0], &k) != 0 ||
	    check_keygen_binding(&k, uuid, 16842753, 9, idpub) != 0)
		goto out;
	if (at_expect(&s, "AT%KEYGEN=0,2", "OK", &a) != 0 || decode_keygen(a.line[0], &k) != 0 ||
	    check_keygen_binding(&k, uuid, 0, 9, idpub) != 0)
		goto out;
	if (sim_stop(&s) != 0)
		goto out;
	rc = 0;
out:
	json_decref(st);
	X509_REQ_free(req);
	EVP_PKEY_free(idpub);
	EVP_PKEY_free(statepub);
	return rc;
}

static int t_keygen_pubkey(void)
{
	static const char *const args[] = { "--cfun", "0", "--identity-pub-out", "idpub.pem",
					    NULL };
	struct sim s;
	struct ans a;
	struct keygen k;
	uint8_t uuid[16];
	EVP_PKEY *idpub = NULL, *pk = NULL;
	const unsigned char *p;
	int rc = -1;

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT%DEVICEUUID", "OK", &a));
	TRY(uuid_bin(a.line[0] + 13, uuid));
	idpub = load_pub("idpub.pem");
	CHECK(idpub != NULL, "no identity public key");
	if (at_expect(&s, "AT%KEYGEN=16,2,1", "OK", &a) != 0 || decode_keygen(a.line[0], &k) != 0 ||
	    check_keygen_binding(&k, uuid, 16, 8, idpub) != 0)
		goto out;
	p = k.p1;
	pk = d2i_PUBKEY(NULL, &p, (long)k.p1len);
	if (pk == NULL || p != k.p1 + k.p1len || !EVP_PKEY_is_a(pk, "EC") ||
	    k.p1len != 91) {
		fprintf(stderr, "FAIL: part 1 is not a P-256 SubjectPublicKeyInfo\n");
		goto out;
	}
	if (sim_stop(&s) != 0)
		goto out;
	rc = 0;
out:
	EVP_PKEY_free(pk);
	EVP_PKEY_free(idpub);
	return rc;
}

static int t_keygen_attrs(void)
{
	static const char *const args[] = { "--cfun", "4", NULL };
	struct sim s;
	struct ans a;
	struct keygen k;
	X509_REQ *req;
	const unsigned char *p;
	char *txt = NULL;
	BIO *bio;
	long n;
	int ok;

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT%KEYGEN=52,2,0,\"O=Acme,L=Trondheim,C=no,CN=dev1\",\"101000001\"",
		      "OK", &a));
	TRY(decode_keygen(a.line[0], &k));
	p = k.p1;
	req = d2i_X509_REQ(NULL, &p, (long)k.p1len);
	CHECK(req != NULL && X509_REQ_verify(req, X509_REQ_get0_pubkey(req)) == 1,
	      "CSR with attributes does not parse or verify");
	bio = BIO_new(BIO_s_mem());
	X509_NAME_print_ex(bio, X509_REQ_get_subject_name(req), 0, XN_FLAG_RFC2253);
	n = BIO_get_mem_data(bio, &txt);
	/* RFC 2253 prints the last RDN first */
	ok = n == (long)strlen("CN=dev1,C=no,L=Trondheim,O=Acme") &&
	     memcmp(txt, "CN=dev1,C=no,L=Trondheim,O=Acme", (size_t)n) == 0;
	BIO_free(bio);
	X509_REQ_free(req);
	CHECK(ok, "subject is not O=Acme,L=Trondheim,C=no,CN=dev1 in that order");
	/* bits 0, 2, 8: 03 03 07 a0 80 */
	CHECK(memmem(k.p1, k.p1len, "\x04\x05\x03\x03\x07\xa0\x80", 7) != NULL,
	      "KeyUsage for 101000001 is not 03 03 07 a0 80");
	/* an empty attributes string keeps the default subject */
	TRY(at_expect(&s, "AT%KEYGEN=53,2,0,\"\"", "OK", &a));
	TRY(decode_keygen(a.line[0], &k));
	CHECK(k.p1[21] == 0x0c && k.p1[22] == 36, "empty attributes: CN is not the 36-char UUID");
	TRY(sim_stop(&s));
	return 0;
}

static int t_attesttoken(void)
{
	static const char *const args[] = { "--identity-pub-out", "idpub.pem", NULL };
	struct sim s;
	struct ans a;
	uint8_t body[256], cose[256], uuid[16], fwuuid[16];
	size_t bl, cl, l;
	const char *line, *q, *dot, *end;
	const uint8_t *b, *prot, *sig;
	size_t protlen, siglen;
	struct rd r;
	EVP_PKEY *idpub;
	int rc;

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT%DEVICEUUID", "OK", &a));
	TRY(uuid_bin(a.line[0] + 13, uuid));
	TRY(at_expect(&s, "AT%XMODEMUUID", "OK", &a));
	TRY(uuid_bin(a.line[0] + 13, fwuuid));
	TRY(at_expect(&s, "AT%ATTESTTOKEN", "OK", &a));
	line = a.line[0];
	CHECK(strncmp(line, "%ATTESTTOKEN: \"", 15) == 0, "not an %%ATTESTTOKEN line: %s", line);
	q = line + 15;
	end = strchr(q, '"');
	dot = strchr(q, '.');
	CHECK(end != NULL && dot != NULL && dot < end, "no body.cose in %s", line);
	CHECK(b64url_dec(q, (size_t)(dot - q), body, sizeof(body), &bl) == 0 &&
		      b64url_dec(dot + 1, (size_t)(end - dot - 1), cose, sizeof(cose), &cl) == 0,
	      "token parts are not base64url");
	r = (struct rd){ body, bl, 0 };
	CHECK(rd_expect(&r, 6, 55799) == 0 && rd_expect(&r, 4, 5) == 0 && rd_expect(&r, 0, 1) == 0,
	      "body is not tag 55799 [1, ...");
	CHECK(rd_bstr(&r, &b, &l) == 0 && l == 16 && memcmp(b, uuid, 16) == 0,
	      "body UUID is not %%DEVICEUUID");
	CHECK(rd_expect(&r, 0, 6) == 0, "device type is not 6 (nRF9151)");
	CHECK(rd_bstr(&r, &b, &l) == 0 && l == 16 && memcmp(b, fwuuid, 16) == 0,
	      "firmware UUID is not %%XMODEMUUID");
	CHECK(rd_bstr(&r, &b, &l) == 0 && l == 16 && r.off == r.n, "nonce is not bstr16 at the end");
	r = (struct rd){ cose, cl, 0 };
	CHECK(rd_expect(&r, 6, 18) == 0 && rd_expect(&r, 4, 4) == 0 &&
		      rd_bstr(&r, &prot, &protlen) == 0 && protlen == 3,
	      "COSE head");
	CHECK(cl - r.off == 4 + 1 + 2 + 64 && memcmp(cose + r.off, "\xa1\x04\x41\x21\xf6", 5) == 0,
	      "unprotected header + nil payload expected");
	r.off += 5;
	CHECK(rd_bstr(&r, &sig, &siglen) == 0 && siglen == 64, "signature");
	idpub = load_pub("idpub.pem");
	CHECK(idpub != NULL, "no identity public key");
	rc = cose_verify(idpub, prot, protlen, body, bl, sig);
	EVP_PKEY_free(idpub);
	CHECK(rc == 0, "attestation token signature (detached body) does not verify");
	TRY(sim_stop(&s));
	return 0;
}

static int t_fw9160(void)
{
	static const char *const a131[] = { "--fw", "mfw_nrf9160_1.3.1", "--cfun", "4", NULL };
	static const char *const a135[] = { "--fw", "mfw_nrf9160_1.3.5-FOTA-TEST", "--cfun", "4",
					    NULL };
	static const char *const a123[] = { "--fw", "mfw_nrf9160_1.2.3", "--cfun", "4", NULL };
	struct sim s;
	struct ans a;

	TRY(sim_start(&s, a131));
	TRY(at_expect(&s, "AT+CGMM", "OK", &a));
	CHECK(strcmp(a.line[0], "nRF9160-SICA") == 0, "CGMM: %s", a.line[0]);
	TRY(at_expect(&s, "AT%DEVICEUUID", "ERROR", &a));
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	TRY(at_expect(&s, "AT%DEVICEUUID", "+CME ERROR: 514", &a));
	TRY(at_expect(&s, "AT%CMNG=0,7,4,\"abc\"", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1,7", "OK", &a));
	CHECK(a.nline == 2 && strcmp(a.line[0], "%CMNG: 7,4,\"\"") == 0,
	      "1.3.1 list (no hash) line: %s", a.line[0]);
	TRY(at_expect(&s, "AT%KEYGEN=7,2,0", "OK", &a));
	TRY(sim_stop(&s));

	TRY(sim_start(&s, a135));
	TRY(at_expect(&s, "AT%CMNG=0,7,4,\"abc\"", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1,7", "OK", &a));
	CHECK(strcmp(a.line[0],
		     "%CMNG: 7,4,\"BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\"") == 0,
	      "1.3.5 list line: %s", a.line[0]);
	TRY(at_expect(&s, "AT%ATTESTTOKEN", "OK", &a));
	{
		/* device type 3 after the UUID: d9d9f7 85 01 50 <16> 03 */
		uint8_t body[128];
		size_t bl;
		const char *q = a.line[0] + 15;

		CHECK(b64url_dec(q, (size_t)(strchr(q, '.') - q), body, sizeof(body), &bl) == 0 &&
			      bl > 22 && body[22] == 3,
		      "nRF9160 device type is not 3");
	}
	TRY(sim_stop(&s));

	TRY(sim_start(&s, a123));
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	TRY(at_expect(&s, "AT%KEYGEN=7,2,0", "ERROR", &a));
	TRY(sim_stop(&s));
	return 0;
}

static int t_cme(void)
{
	static const char *const bad[] = {
		"AT%CMNG=4,1,0,\"x\"",        /* bad opcode */
		"AT%CMNG=0,1,7,\"x\"",        /* bad type */
		"AT%CMNG=0,2147483648,0,\"x\"", /* sec_tag out of range */
		"AT%CMNG=0,abc,0,\"x\"",      /* non-numeric */
		"AT%CMNG=0,1,0,x",            /* missing quotes */
		"AT%CMNG=0,1,0",              /* content absent */
		"AT%CMNG=1,\"1\"",             /* quoted number */
		"AT%KEYGEN=1,2,0,\"CN=a",     /* unbalanced quote */
		"AT%CMNG=3,1",                /* delete without type */
		"AT%CMNG=2,1,2",              /* private key not readable */
		"AT%CMNG=2,1,3",              /* PSK not readable */
		"AT%KEYGEN=1,2,0,\"CN=a\",\"11101000\"",   /* key_usage too short */
		"AT%KEYGEN=1,2,0,\"CN=a\",\"11101000x\"",  /* not 0/1 */
		"AT%KEYGEN=1,2,0,\"CN=a\",111010000",      /* key_usage not quoted */
		"AT%KEYGEN=1,3,0",            /* key type */
		"AT%KEYGEN=1,2,2",            /* response_content */
		"AT%KEYGEN=1,2,0,\"XX=a\"",   /* unknown attribute */
		"AT%KEYGEN=2147483648,2,0",   /* sec_tag */
		"AT%KEYGEN=-1,2,0",
		NULL,
	};
	struct sim s;
	struct ans a;
	int i;

	TRY(sim_start(&s, NULL));
	TRY(at_expect(&s, "AT%CMNG=0,10,0,\"x\"", "ERROR", &a)); /* CMEE=0: bare ERROR */
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	/* 518 while online */
	TRY(at_expect(&s, "AT%CMNG=0,10,0,\"x\"", "+CME ERROR: 518", &a));
	TRY(at_expect(&s, "AT%CMNG=3,10,0", "+CME ERROR: 518", &a));
	TRY(at_expect(&s, "AT%KEYGEN=10,2,0", "+CME ERROR: 518", &a));
	TRY(at_expect(&s, "AT%CMNG=1", "OK", &a)); /* listing is fine online */
	TRY(at_expect(&s, "AT+CFUN=4", "OK", &a));
	for (i = 0; bad[i] != NULL; i++)
		TRY(at_expect(&s, bad[i], "+CME ERROR: 514", &a));
	/* 519: a second key at the same sec_tag, also via %CMNG type 2 */
	TRY(at_expect(&s, "AT%KEYGEN=10,2,0", "OK", &a));
	TRY(at_expect(&s, "AT%KEYGEN=10,2,1", "+CME ERROR: 519", &a));
	TRY(at_expect(&s, "AT%CMNG=0,10,2,\"x\"", "+CME ERROR: 519", &a));
	TRY(at_expect(&s, "AT%CMNG=3,10,2", "OK", &a));
	TRY(at_expect(&s, "AT%KEYGEN=10,2,0", "OK", &a));
	/* 513: delete or read of an absent entry */
	TRY(at_expect(&s, "AT%CMNG=3,11,0", "+CME ERROR: 513", &a));
	TRY(at_expect(&s, "AT%CMNG=2,11,0", "+CME ERROR: 513", &a));
	/* the modem's own entries cannot be deleted */
	TRY(at_expect(&s, "AT%CMNG=3,4294967292,0", "+CME ERROR: 514", &a));
	/* CMEE=0 again: every error is ERROR */
	TRY(at_expect(&s, "AT+CMEE=0", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=3,11,0", "ERROR", &a));
	TRY(at_expect(&s, "AT%KEYGEN=10,2,0", "ERROR", &a));
	TRY(at_expect(&s, bad[0], "ERROR", &a));
	TRY(sim_stop(&s));
	return 0;
}

static int t_cmng(void)
{
	static const char *const args[] = { "--cfun", "0", "--state", "state.json", NULL };
	static const char aws_sha[] =
		"2C43952EE9E000FF2ACC4E2ED0897C0A72AD5FA72C3D934E81741CBD54F05BD1";
	struct sim s;
	struct ans a;
	char path[600], hex[65], *cmd, *crlf;
	uint8_t pem[4096], d[32];
	size_t pl, i, cl = 0;
	const char *t = getenv("NRFCA_TRUST_DIR");
	static char line[128];
	json_t *st, *c;
	EVP_PKEY *k;
	BIO *bio;
	int ok;

	CHECK(t != NULL, "NRFCA_TRUST_DIR is not set");
	snprintf(path, sizeof(path), "%s/aws-root-ca1.pem", t);
	TRY(read_file(path, pem, sizeof(pem), &pl));
	cmd = malloc(2 * pl + 64);
	crlf = malloc(2 * pl + 1);
	CHECK(cmd != NULL && crlf != NULL, "malloc");
	TRY(sim_start(&s, args));
	/* LF, as in the file: the real modem's hash */
	sprintf(cmd, "AT%%CMNG=0,16842753,0,\"%.*s\"", (int)pl, (const char *)pem);
	TRY(at_expect(&s, cmd, "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1,16842753,0", "OK", &a));
	snprintf(line, sizeof(line), "%%CMNG: 16842753,0,\"%s\"", aws_sha);
	CHECK(a.nline == 2 && strcmp(a.line[0], line) == 0, "list: %s", a.line[0]);
	/* read gives the exact bytes back */
	TRY(at_expect(&s, "AT%CMNG=2,16842753,0", "OK", &a));
	snprintf(line, sizeof(line), "%%CMNG: 16842753,0,\"%s\",\"", aws_sha);
	CHECK(strncmp(a.raw, line, strlen(line)) == 0 &&
		      memcmp(a.raw + strlen(line), pem, pl) == 0 &&
		      strcmp(a.raw + strlen(line) + pl, "\"\r\nOK\r\n") == 0,
	      "read did not return the stored bytes: [%.120s]", a.raw);
	/* CRLF: the hash of the CRLF bytes */
	for (i = 0; i < pl; i++) {
		if (pem[i] == '\n')
			crlf[cl++] = '\r';
		crlf[cl++] = (char)pem[i];
	}
	sprintf(cmd, "AT%%CMNG=0,5,1,\"%.*s\"", (int)cl, crlf);
	TRY(at_expect(&s, cmd, "OK", &a));
	SHA256((const uint8_t *)crlf, cl, d);
	hex_upper(d, 32, hex);
	/* text that is not a certificate: 527 (ERROR while CMEE=0) */
	TRY(at_expect(&s, "AT%CMNG=0,5,0,\"root\"", "ERROR", &a));
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=0,5,0,\"root\"", "+CME ERROR: 527", &a));
	sprintf(cmd, "AT%%CMNG=0,5,0,\"%.*s\"", (int)pl, (const char *)pem);
	TRY(at_expect(&s, cmd, "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=0,5,4,\"identity\",\"pw\"", "OK", &a));
	TRY(at_expect(&s, "AT%KEYGEN=5,2,0", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1", "OK", &a));
	{
		static const char *const want[] = { "%CMNG: 5,0,", "%CMNG: 5,1,", "%CMNG: 5,2,",
						    "%CMNG: 5,4,", "%CMNG: 16842753,0,",
						    "%CMNG: 4294967292,0,", "%CMNG: 4294967294,5,",
						    "OK" };
		CHECK(a.nline == 8, "list has %d lines: [%s]", a.nline, a.raw);
		for (i = 0; i < 8; i++)
			CHECK(strncmp(a.line[i], want[i], strlen(want[i])) == 0,
			      "list line %zu is %s, expected %s...", i, a.line[i], want[i]);
		snprintf(line, sizeof(line), "%%CMNG: 5,1,\"%s\"", hex);
		CHECK(strcmp(a.line[1], line) == 0, "CRLF hash: %s, expected %s", a.line[1], line);
		for (i = 0; i < 7; i++) {
			const char *q = strchr(a.line[i], '"');

			CHECK(q != NULL && strlen(q) == 66, "hash is not 64 hex: %s", a.line[i]);
			for (q++; *q != '"'; q++)
				CHECK((*q >= '0' && *q <= '9') || (*q >= 'A' && *q <= 'F'),
				      "hash not upper-case hex: %s", a.line[i]);
		}
	}
	/* overwrite type 0 (the LF bundle by the CR LF one) */
	sprintf(cmd, "AT%%CMNG=0,5,0,\"%.*s\"", (int)cl, crlf);
	TRY(at_expect(&s, cmd, "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1,5,0", "OK", &a));
	snprintf(line, sizeof(line), "%%CMNG: 5,0,\"%s\"", hex);
	CHECK(strcmp(a.line[0], line) == 0, "overwrite: %s", a.line[0]);
	/* delete */
	TRY(at_expect(&s, "AT%CMNG=3,5,0", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1,5,0", "OK", &a));
	CHECK(a.nline == 1, "deleted entry still listed");
	/* a client key written as PEM: its public key appears in the state */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	bio = BIO_new(BIO_s_mem());
	CHECK(k != NULL && bio != NULL && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL),
	      "test key");
	{
		char *kp;
		long kl = BIO_get_mem_data(bio, &kp);

		sprintf(cmd, "AT%%CMNG=0,6,2,\"%.*s\"", (int)kl, kp);
	}
	BIO_free(bio);
	ok = at_expect(&s, cmd, "OK", &a);
	TRY(sim_stop(&s));
	st = load_state("state.json");
	c = st ? state_cred(st, 16842753, 0) : NULL;
	CHECK(ok == 0 && c != NULL, "state lacks 16842753/0");
	CHECK(strcmp(json_string_value(json_object_get(c, "sha256")), aws_sha) == 0 &&
		      strlen(json_string_value(json_object_get(c, "content"))) == pl,
	      "state entry for the AWS root is wrong");
	c = state_cred(st, 6, 2);
	CHECK(c != NULL, "state lacks 6/2");
	bio = BIO_new_mem_buf(json_string_value(json_object_get(c, "public_key_pem")), -1);
	{
		EVP_PKEY *pub = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

		ok = pub != NULL && EVP_PKEY_eq(pub, k) == 1;
		EVP_PKEY_free(pub);
	}
	BIO_free(bio);
	EVP_PKEY_free(k);
	CHECK(ok, "state public key of 6/2 does not match the written key");
	CHECK(json_integer_value(json_object_get(st, "cfun")) == 0 &&
		      strlen(json_string_value(json_object_get(st, "uuid"))) == 36 &&
		      strlen(json_string_value(json_object_get(st, "imei"))) == 15,
	      "state lacks cfun/uuid/imei");
	json_decref(st);
	free(cmd);
	free(crlf);
	return 0;
}

/* The answer without colour codes, line ends shown as |, for messages. */
static const char *dump(const struct ans *a)
{
	static char out[ANS_MAX + 1];
	char *p;

	snprintf(out, sizeof(out), "%s", a->raw);
	strip_ansi(out);
	for (p = out; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = '|';
	return out;
}

/* 1 when some line holds both needles. */
static bool line_has(const struct ans *a, const char *n1, const char *n2)
{
	int i;

	for (i = 0; i < a->nline; i++)
		if (strstr(a->line[i], n1) != NULL && strstr(a->line[i], n2) != NULL)
			return true;
	return false;
}

/* Send one line (CR LF) to a shell and read until `prompts` prompts. */
static int sh_line(struct sim *s, const char *line, int prompts, struct ans *a)
{
	TRY(send_raw(s, line, strlen(line)));
	TRY(send_raw(s, "\r\n", 2));
	CHECK(read_prompts(s, a, true, prompts, TIMEOUT_MS) == 0, "no prompt after [%.80s]: [%s]",
	      line, a->raw);
	return 0;
}

/* Index of the line equal to want, or -1. */
static int line_index(const struct ans *a, const char *want)
{
	int i;

	for (i = 0; i < a->nline; i++)
		if (strcmp(a->line[i], want) == 0)
			return i;
	return -1;
}

static int read_trust(const char *name, uint8_t *pem, size_t cap, size_t *pl)
{
	const char *t = getenv("NRFCA_TRUST_DIR");
	char path[600];

	CHECK(t != NULL, "NRFCA_TRUST_DIR is not set");
	snprintf(path, sizeof(path), "%s/%s", t, name);
	TRY(read_file(path, pem, cap, pl));
	pem[*pl] = '\0';
	return 0;
}

/* The answer to one `at` command, as the Zephyr shell prints it. */
static int t_shell(void)
{
	static const char *const args[] = { "--shell", NULL };
	struct sim s;
	struct ans a;

	TRY(sim_start(&s, args));
	TRY(sh_line(&s, "at 'AT+CGSN'", 1, &a));
	/* echo, the modem's text, a blank line (shell_print's \n), the prompt */
	CHECK(a.nline == 4 && strcmp(a.line[0], "at 'AT+CGSN'") == 0 &&
		      strcmp(a.line[1], "352656109480783") == 0 && strcmp(a.line[2], "OK") == 0 &&
		      strcmp(a.line[3], "") == 0,
	      "shell answer: [%s]", dump(&a));
	CHECK(strstr(a.raw, "352656109480783\r\r\nOK\r\r\n\r\n") != NULL,
	      "line ends are not the shell's CR CR LF: [%s]", dump(&a));
	CHECK(strstr(a.raw, "\x1b[1;32muart:~$ ") != NULL, "prompt without its colour: [%s]",
	      dump(&a));
	/* unquoted, double-quoted: the shell removes quotes; extra words ignored */
	TRY(sh_line(&s, "at AT+CGMR", 1, &a));
	CHECK(line_index(&a, "mfw_nrf91x1_2.0.2") == 1 && line_index(&a, "OK") == 2,
	      "unquoted: [%s]", dump(&a));
	TRY(sh_line(&s, "at \"AT+CGMR\" ignored words", 1, &a));
	CHECK(line_index(&a, "mfw_nrf91x1_2.0.2") == 1, "double-quoted: [%s]", dump(&a));
	/* a stray line: the shell's error, no final line, the modem not asked */
	TRY(sh_line(&s, "AT+CGSN", 1, &a));
	CHECK(a.nline == 2 && strcmp(a.line[1], "AT+CGSN: command not found") == 0 &&
		      a.final == NULL,
	      "plain AT in shell mode: [%s]", dump(&a));
	/* double quotes inside an unquoted argument are removed before the modem
	 * sees them: the string parameter arrives bare and is refused */
	TRY(sh_line(&s, "at AT+CMEE=1", 1, &a));
	TRY(sh_line(&s, "at AT+CFUN=4", 1, &a));
	TRY(sh_line(&s, "at AT%KEYGEN=3,2,0,\"CN=x\"", 1, &a));
	CHECK(line_index(&a, "+CME ERROR: 514") >= 0, "quotes not removed: [%s]", dump(&a));
	TRY(sh_line(&s, "at 'AT%KEYGEN=3,2,0'", 1, &a));
	CHECK(a.nline >= 3 && strncmp(a.line[1], "%KEYGEN: \"", 10) == 0 &&
		      line_index(&a, "OK") == 2,
	      "KEYGEN in shell: [%.100s]", dump(&a));
	/* an unterminated quote: the shell refuses, the modem is not asked */
	TRY(sh_line(&s, "at 'AT+CGSN", 1, &a));
	CHECK(line_index(&a, "not terminated: '") >= 0 && a.final == NULL, "unterminated: [%s]",
	      dump(&a));
	/* `at` alone prints its usage */
	TRY(sh_line(&s, "at", 1, &a));
	CHECK(line_index(&a, "Usage: at <subcommand>") >= 0, "at usage: [%s]", dump(&a));
	/* empty line: a new prompt; CR LF is one line end, CR CR two */
	TRY(send_raw(&s, "\r\n", 2));
	CHECK(read_prompts(&s, &a, true, 1, TIMEOUT_MS) == 0 && count_prompts(dump(&a)) == 1,
	      "empty line: [%s]", dump(&a));
	TRY(send_raw(&s, "\r\r", 2));
	CHECK(read_prompts(&s, &a, true, 2, TIMEOUT_MS) == 0, "CR CR: two prompts expected: [%s]",
	      dump(&a));
	TRY(sim_stop(&s));
	return 0;
}

/* Certificates through the shell: raw line breaks cut the command; the \n
 * form is stored as CR LF; only AT%CMNG=0 is unescaped; 527 for content that
 * is not a certificate. */
static int t_shell_pem(void)
{
	static const char *const args[] = { "--shell", "--cfun", "4", "--state", "state.json",
					    "--log", "log.jsonl", NULL };
	struct sim s;
	struct ans a;
	uint8_t pem[4096], d[32];
	char *cmd, *crlf, hex[65], want[128];
	size_t pl, i, cl = 0, o = 0, lines = 0;
	json_t *st, *c;
	FILE *f;
	char logline[1024];
	int n_at = 0;

	TRY(read_trust("aws-root-ca1.pem", pem, sizeof(pem) - 1, &pl));
	cmd = malloc(3 * pl + 128);
	crlf = malloc(2 * pl + 1);
	CHECK(cmd != NULL && crlf != NULL, "malloc");
	for (i = 0; i < pl; i++) {
		if (pem[i] == '\n') {
			crlf[cl++] = '\r';
			lines++;
		}
		crlf[cl++] = (char)pem[i];
	}
	crlf[cl] = '\0';
	TRY(sim_start(&s, args));
	TRY(sh_line(&s, "at AT+CMEE=1", 1, &a));
	/* raw line breaks inside at '...': cut at the first; every other line is
	 * a shell command of its own */
	o = (size_t)sprintf(cmd, "at 'AT%%CMNG=0,16842753,0,\"%.*s\"'", (int)pl, (const char *)pem);
	TRY(send_raw(&s, cmd, o));
	TRY(send_raw(&s, "\r\n", 2));
	CHECK(read_prompts(&s, &a, true, (int)lines + 1, TIMEOUT_MS) == 0,
	      "expected %zu prompts: [%.300s]", lines + 1, dump(&a));
	CHECK(line_index(&a, "not terminated: '") >= 0, "first line not refused: [%.300s]", dump(&a));
	CHECK(line_has(&a, "MII", ": command not found"),
	      "base64 lines not refused as commands: [%.300s]", dump(&a));
	CHECK(line_index(&a, "-----END: command not found") >= 0 &&
		      line_index(&a, "not terminated: \"") >= 0,
	      "last line: [%s]", dump(&a) + (a.len > 300 ? a.len - 300 : 0));
	TRY(sh_line(&s, "at AT%CMNG=1,16842753", 1, &a));
	CHECK(a.nline == 3 && strcmp(a.line[1], "OK") == 0, "something was stored: [%s]", dump(&a));
	/* the \n form: one command, stored as CR LF; the hash is over CR LF */
	o = (size_t)sprintf(cmd, "at 'AT%%CMNG=0,16842753,0,\"");
	for (i = 0; i < pl; i++) {
		if (pem[i] == '\n') {
			cmd[o++] = '\\';
			cmd[o++] = 'n';
		} else {
			cmd[o++] = (char)pem[i];
		}
	}
	o += (size_t)sprintf(cmd + o, "\"'");
	TRY(sh_line(&s, cmd, 1, &a));
	CHECK(line_index(&a, "OK") >= 0, "\\n form refused: [%.200s]", dump(&a));
	/* its echo wraps at the terminal width: 72 characters after the prompt */
	CHECK(strlen(a.line[0]) == 72 && strncmp(a.line[0], cmd, 72) == 0 &&
		      strlen(a.line[1]) == 80 && strncmp(a.line[1], cmd + 72, 80) == 0,
	      "echo not wrapped at 80 columns: [%s] [%s]", a.line[0], a.line[1]);
	SHA256((const uint8_t *)crlf, cl, d);
	hex_upper(d, 32, hex);
	TRY(sh_line(&s, "at AT%CMNG=1,16842753,0", 1, &a));
	snprintf(want, sizeof(want), "%%CMNG: 16842753,0,\"%s\"", hex);
	CHECK(line_index(&a, want) == 1, "list hash is not over CR LF: [%s], want %s", a.raw, want);
	/* lower case at%cmng=0: not unescaped (the SDK compares case-sensitively):
	 * the modem sees a backslash and refuses the certificate */
	cmd[4] = 'a';
	cmd[5] = 't';
	for (i = 6; i < 11; i++)
		cmd[i] = (char)tolower((unsigned char)cmd[i]);
	TRY(sh_line(&s, cmd, 1, &a));
	CHECK(line_index(&a, "+CME ERROR: 527") >= 0, "lower-case write: [%.200s]", dump(&a));
	/* other commands keep \n as two characters */
	TRY(sh_line(&s, "at 'AT%KEYGEN=9,2,0,\"CN=a\\nb\"'", 1, &a));
	CHECK(line_index(&a, "OK") >= 0, "KEYGEN with \\n: [%.200s]", dump(&a));
	{
		struct keygen k;

		TRY(decode_keygen(find_line(&a, "%KEYGEN: "), &k));
		/* CN as a UTF8String of the four characters a \ n b */
		CHECK(memmem(k.p1, k.p1len, "\x0c\x04" "a\\nb", 6) != NULL,
		      "the CSR's CN is not the four characters a\\nb");
	}
	/* types 0 and 1 that are not certificates: 527, also without a fault */
	TRY(sh_line(&s, "at 'AT%CMNG=0,5,0,\"root\"'", 1, &a));
	CHECK(line_index(&a, "+CME ERROR: 527") >= 0, "type 0 text: [%s]", dump(&a));
	TRY(sh_line(&s, "at 'AT%CMNG=0,5,1,\"-----BEGIN CERTIFICATE-----\\nAAAA\\n"
		    "-----END CERTIFICATE-----\\n\"'", 1, &a));
	CHECK(line_index(&a, "+CME ERROR: 527") >= 0, "type 1 garbage: [%s]", dump(&a));
	TRY(sh_line(&s, "at 'AT%CMNG=0,5,4,\"identity\"'", 1, &a));
	CHECK(line_index(&a, "OK") >= 0, "type 4 text: [%s]", dump(&a));
	TRY(sim_stop(&s));
	st = load_state("state.json");
	c = st ? state_cred(st, 16842753, 0) : NULL;
	CHECK(c != NULL && strcmp(json_string_value(json_object_get(c, "content")), crlf) == 0,
	      "stored content is not the CR LF text");
	json_decref(st);
	/* the command log: what reached the modem and what the shell refused */
	f = fopen("log.jsonl", "r");
	CHECK(f != NULL, "no command log");
	while (fgets(logline, sizeof(logline), f) != NULL) {
		json_t *j = json_loads(logline, 0, NULL);
		const char *kind = json_string_value(json_object_get(j, "kind"));

		CHECK(j != NULL && kind != NULL && json_is_integer(json_object_get(j, "len")),
		      "log line: %s", logline);
		if (strcmp(kind, "at") == 0)
			n_at++;
		json_decref(j);
	}
	fclose(f);
	CHECK(n_at == 9, "%d AT commands logged, expected 9", n_at);
	free(cmd);
	free(crlf);
	return 0;
}

/* Echo off, a small command buffer, URCs through `at events_enable`. */
static int t_shell_opts(void)
{
	static const char *const args[] = { "--shell", "--no-echo", "--shell-buffer", "64",
					    "--urc", NULL };
	struct sim s;
	struct ans a;
	char cmd[128];

	TRY(sim_start(&s, args));
	TRY(sh_line(&s, "at 'AT+CGSN'", 1, &a));
	CHECK(line_index(&a, "at 'AT+CGSN'") < 0 && line_index(&a, "352656109480783") >= 0 &&
		      line_index(&a, "OK") >= 0,
	      "echo despite --no-echo: [%s]", dump(&a));
	CHECK(line_index(&a, "AT event handler:") >= 0 && line_index(&a, "+CEREG: 0") >= 0 &&
		      line_has(&a, "<inf> app: RRC mode", ""),
	      "URCs and log lines missing: [%s]", dump(&a));
	TRY(sh_line(&s, "at events_disable", 1, &a));
	CHECK(line_index(&a, "AT command event handler disabled") >= 0, "[%s]", dump(&a));
	TRY(sh_line(&s, "at 'AT+CGSN'", 1, &a));
	CHECK(line_index(&a, "AT event handler:") < 0 && line_has(&a, "<inf> app:", ""),
	      "events still shown: [%s]", dump(&a));
	/* 63 characters fit; the rest is dropped, so the closing quote is lost */
	snprintf(cmd, sizeof(cmd), "at 'AT%%CMNG=0,5,4,\"%050d\"'", 0);
	TRY(sh_line(&s, cmd, 1, &a));
	CHECK(line_index(&a, "not terminated: '") >= 0, "buffer not bounded: [%s]", dump(&a));
	snprintf(cmd, sizeof(cmd), "at 'AT%%CMNG=1,%048d'", 0);
	CHECK(strlen(cmd) == 63, "test command is %zu", strlen(cmd));
	TRY(sh_line(&s, cmd, 1, &a));
	CHECK(line_index(&a, "+CME ERROR: 514") >= 0 || line_index(&a, "ERROR") >= 0,
	      "63 characters did not reach the modem: [%s]", dump(&a));
	TRY(sim_stop(&s));
	return 0;
}

static int t_echo_urc(void)
{
	static const char *const args[] = { "--echo", "--urc", "--cfun", "4", NULL };
	struct sim s;
	struct ans a;
	struct keygen k;

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT+CGSN", "OK", &a));
	CHECK(strcmp(a.line[0], "AT+CGSN") == 0, "no echo: [%s]", a.raw);
	CHECK(find_line(&a, "352656109480783") != NULL, "no IMEI among URCs");
	CHECK(find_line(&a, "+CEREG: 0") && find_line(&a, "+CSCON: 0") &&
		      find_line(&a, "%MDMEV: ") && find_line(&a, "\x1b[0m[00:"),
	      "URCs and coloured log line missing: [%s]", a.raw);
	CHECK(strstr(a.raw, "<inf> app: RRC mode: Connected\x1b[0m\r\n") != NULL,
	      "log line format: [%s]", a.raw);
	TRY(at_expect(&s, "AT%KEYGEN=1,2,0", "OK", &a));
	CHECK(find_line(&a, "%KEYGEN: ") != NULL, "no KEYGEN line");
	TRY(decode_keygen(find_line(&a, "%KEYGEN: "), &k));
	TRY(sim_stop(&s));
	return 0;
}

static int t_reopen(void)
{
	struct sim s;
	struct ans a;

	TRY(sim_start(&s, NULL));
	TRY(at_expect(&s, "AT", "OK", &a));
	close(s.fd);
	usleep(100000);
	TRY(open_port(&s));
	TRY(at_expect(&s, "AT+CGMM", "OK", &a));
	close(s.fd);
	TRY(open_port(&s));
	TRY(at_expect(&s, "AT", "OK", &a));
	TRY(sim_stop(&s));
	return 0;
}

static int t_persist(void)
{
	static const char *const args[] = { "--cfun", "4", "--state", "state.json",
					    "--identity-key", "id.pem", "--identity-pub-out",
					    "pub1.pem", NULL };
	static const char *const args2[] = { "--state", "state.json", "--identity-key", "id.pem",
					     "--identity-pub-out", "pub2.pem", "--cfun", "4",
					     NULL };
	struct sim s;
	struct ans a;
	static char list[ANS_MAX + 1];
	char uuid[64];
	EVP_PKEY *p1, *p2;
	int eq;

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT%DEVICEUUID", "OK", &a));
	snprintf(uuid, sizeof(uuid), "%s", a.line[0]);
	TRY(at_expect(&s, "AT%KEYGEN=9,2,0", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=0,9,5,\"cert\r\nline\"", "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1", "OK", &a));
	memcpy(list, a.raw, a.len + 1);
	TRY(sim_stop(&s));
	TRY(sim_start(&s, args2));
	TRY(at_expect(&s, "AT%DEVICEUUID", "OK", &a));
	CHECK(strcmp(uuid, a.line[0]) == 0, "UUID changed across restart");
	TRY(at_expect(&s, "AT%CMNG=1", "OK", &a));
	CHECK(strcmp(list, a.raw) == 0, "list changed across restart:\n%s\nvs\n%s", list, a.raw);
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	TRY(at_expect(&s, "AT%KEYGEN=9,2,0", "+CME ERROR: 519", &a));
	TRY(sim_stop(&s));
	p1 = load_pub("pub1.pem");
	p2 = load_pub("pub2.pem");
	eq = p1 && p2 && EVP_PKEY_eq(p1, p2) == 1;
	EVP_PKEY_free(p1);
	EVP_PKEY_free(p2);
	CHECK(eq, "identity key not reloaded from --identity-key");
	return 0;
}

static int t_fault_close(void)
{
	static const char *const args[] = { "--faults", "close-after=2", NULL };
	struct sim s;
	struct ans a;
	int st = -1, r, i;

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT", "OK", &a));
	TRY(at_expect(&s, "AT+CGMM", "OK", &a));
	TRY(send_raw(&s, "AT\r\n", 4));
	r = read_answer(&s, &a, false, 2000);
	CHECK(r == -2, "port still answers after close-after=2 (r=%d, [%s])", r, a.raw);
	CHECK(waitpid(s.pid, &st, 0) == s.pid && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "simulator did not exit 0 after close-after");
	for (i = 0; i < MAX_SIMS; i++)
		if (sims[i] == s.pid)
			sims[i] = 0;
	close(s.fd);
	return 0;
}

static int t_fault_delay(void)
{
	static const char *const args[] = { "--faults", "delay=300", NULL };
	struct sim s;
	struct ans a;
	int64_t t0, dt;

	TRY(sim_start(&s, args));
	t0 = now_ms();
	TRY(at_expect(&s, "AT+CGMR", "OK", &a));
	dt = now_ms() - t0;
	CHECK(dt >= 290 && dt < 3000, "answer took %lld ms with delay=300", (long long)dt);
	TRY(sim_stop(&s));
	return 0;
}

static int t_fault_chunk(void)
{
	static const char *const args[] = { "--faults", "chunk=5", NULL };
	struct sim s;
	struct ans a;
	int64_t t0, dt;

	TRY(sim_start(&s, args));
	t0 = now_ms();
	TRY(at_expect(&s, "AT%XMODEMUUID", "OK", &a));
	dt = now_ms() - t0;
	CHECK(strlen(a.line[0]) == 13 + 36, "chunked answer: [%s]", a.raw);
	/* 55 bytes in 5-byte writes with 3 ms pauses: at least 30 ms and
	 * more than one read (reads may merge pieces on a busy machine) */
	CHECK(a.reads >= 2 && dt >= 25, "reads=%d max=%zu in %lld ms: not delivered in pieces",
	      a.reads, a.max_read, (long long)dt);
	TRY(sim_stop(&s));
	return 0;
}

static int t_fault_truncate(void)
{
	static const char *const args[] = { "--faults", "truncate-keygen", "--cfun", "4", NULL };
	struct sim s;
	struct ans a;
	struct keygen k;
	size_t len;

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT%KEYGEN=17,2,0", "OK", &a));
	len = strlen(a.line[0]);
	CHECK(len > 300 && len < 450, "truncated line length %zu", len);
	fprintf(stderr, "(expected decode failure follows)\n");
	CHECK(decode_keygen(a.line[0], &k) != 0, "a truncated %%KEYGEN decoded cleanly");
	TRY(sim_stop(&s));
	return 0;
}

/* The AWS root with the given line ending, as an AT%CMNG=0 command. */
static int cert_cmd(const char *tag_type, bool crlf, char *cmd, size_t cap)
{
	uint8_t pem[4096];
	size_t pl, i, o;

	TRY(read_trust("aws-root-ca1.pem", pem, sizeof(pem) - 1, &pl));
	o = (size_t)snprintf(cmd, cap, "AT%%CMNG=0,%s,\"", tag_type);
	for (i = 0; i < pl && o + 4 < cap; i++) {
		if (pem[i] == '\n' && crlf)
			cmd[o++] = '\r';
		cmd[o++] = (char)pem[i];
	}
	CHECK(o + 2 < cap, "command buffer too small");
	cmd[o++] = '"';
	cmd[o] = '\0';
	return 0;
}

static int t_fault_cme527(void)
{
	static const char *const crlf[] = { "--faults", "cme527-on=crlf", "--cfun", "4", NULL };
	static const char *const lf[] = { "--faults", "cme527-on=lf", "--cfun", "4", NULL };
	struct sim s;
	struct ans a;
	char c_crlf[4096], c_lf[4096];

	TRY(cert_cmd("1,0", true, c_crlf, sizeof(c_crlf)));
	TRY(cert_cmd("1,0", false, c_lf, sizeof(c_lf)));
	TRY(sim_start(&s, crlf));
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	TRY(at_expect(&s, c_crlf, "+CME ERROR: 527", &a));
	TRY(at_expect(&s, c_lf, "OK", &a));
	TRY(sim_stop(&s));
	TRY(sim_start(&s, lf));
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	TRY(at_expect(&s, c_lf, "+CME ERROR: 527", &a));
	TRY(at_expect(&s, c_crlf, "OK", &a));
	TRY(at_expect(&s, "AT%CMNG=1,1,0", "OK", &a));
	CHECK(a.nline == 2 && strncmp(a.line[0], "%CMNG: 1,0,\"", 12) == 0,
	      "list after CRLF write: [%s]", a.raw);
	TRY(sim_stop(&s));
	return 0;
}

static int t_fault_maxcmd(void)
{
	static const char *const args[] = { "--faults", "max-cmd=64", "--cfun", "4", NULL };
	struct sim s;
	struct ans a;
	char cmd[200];

	TRY(sim_start(&s, args));
	TRY(at_expect(&s, "AT+CMEE=1", "OK", &a));
	snprintf(cmd, sizeof(cmd), "AT%%CMNG=0,1,4,\"%0100d\"", 0);
	TRY(at_expect(&s, cmd, "ERROR", &a));
	TRY(at_expect(&s, "AT%CMNG=0,1,4,\"short\"", "OK", &a));
	TRY(sim_stop(&s));
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(void);
} scenarios[] = {
	{ "basic", t_basic },
	{ "lines", t_lines },
	{ "keygen_csr", t_keygen_csr },
	{ "keygen_pubkey", t_keygen_pubkey },
	{ "keygen_attrs", t_keygen_attrs },
	{ "attesttoken", t_attesttoken },
	{ "fw9160", t_fw9160 },
	{ "cme", t_cme },
	{ "cmng", t_cmng },
	{ "shell", t_shell },
	{ "shell_pem", t_shell_pem },
	{ "shell_opts", t_shell_opts },
	{ "echo_urc", t_echo_urc },
	{ "reopen", t_reopen },
	{ "persist", t_persist },
	{ "fault_close", t_fault_close },
	{ "fault_delay", t_fault_delay },
	{ "fault_chunk", t_fault_chunk },
	{ "fault_truncate", t_fault_truncate },
	{ "fault_cme527", t_fault_cme527 },
	{ "fault_maxcmd", t_fault_maxcmd },
};

static void rm_workdir(void)
{
	DIR *d = opendir(workdir);
	struct dirent *de;
	char p[1100];

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", workdir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(workdir);
}

int main(int argc, char **argv)
{
	char sim_abs[4096];
	size_t i;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: sim_test <nrf91-sim> <scenario>\n");
		return 2;
	}
	if (realpath(argv[1], sim_abs) == NULL) {
		fprintf(stderr, "FAIL: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	sim_bin = sim_abs;
	for (i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(scenarios[i].name, argv[2]) == 0)
			break;
	if (i == sizeof(scenarios) / sizeof(scenarios[0])) {
		fprintf(stderr, "unknown scenario %s\n", argv[2]);
		return 2;
	}
	snprintf(workdir, sizeof(workdir), "work-%s", argv[2]);
	rm_workdir();
	if (mkdir(workdir, 0700) != 0 || chdir(workdir) != 0) {
		fprintf(stderr, "FAIL: cannot make %s: %s\n", workdir, strerror(errno));
		return 1;
	}
	snprintf(workdir, sizeof(workdir), "../work-%s", argv[2]);
	atexit(kill_all);
	signal(SIGALRM, on_alarm);
	alarm(60);
	rc = scenarios[i].fn();
	kill_all();
	if (chdir("..") == 0)
		snprintf(workdir, sizeof(workdir), "work-%s", argv[2]);
	if (rc == 0) {
		rm_workdir();
		printf("PASS %s\n", argv[2]);
		return 0;
	}
	fprintf(stderr, "FAIL %s (files kept in %s)\n", argv[2], workdir);
	return 1;
}
