/* fake_peer.c - scripted modem on a pty (see fake_peer.h). */
#include "fake_peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define RECV_MAX 65536

struct peer {
	int master;
	pthread_t thread;
	struct peer_step steps[PEER_MAX_STEPS];
	size_t n;
	int mismatches;
	char *received[PEER_MAX_STEPS];
};

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Read one command: exactly strlen(expect) bytes, or up to a line end. */
static char *read_cmd(int fd, const char *expect)
{
	char *buf = calloc(1, RECV_MAX + 1);
	size_t n = 0, want = expect ? strlen(expect) : 0;

	if (buf == NULL)
		return NULL;
	while (n < RECV_MAX) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 10000) <= 0)
			break;
		r = read(fd, buf + n, expect ? want - n : 1);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (expect ? n >= want : (n >= 2 && buf[n - 1] == '\n'))
			break;
	}
	buf[n] = '\0';
	return buf;
}

static void *run(void *arg)
{
	struct peer *p = arg;
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct peer_step *s = &p->steps[i];
		size_t len, off = 0;

		p->received[i] = read_cmd(p->master, s->expect);
		if (s->expect && (p->received[i] == NULL || strcmp(p->received[i], s->expect) != 0)) {
			fprintf(stderr, "fake peer step %zu: expected [%s] got [%s]\n", i, s->expect,
				p->received[i] ? p->received[i] : "(nothing)");
			p->mismatches++;
		}
		if (s->delay_ms)
			sleep_ms(s->delay_ms);
		if (s->reply) {
			len = s->reply_len ? s->reply_len : strlen(s->reply);
			while (off < len) {
				size_t w = s->chunk && s->chunk < len - off ? s->chunk : len - off;
				ssize_t r = write(p->master, s->reply + off, w);

				if (r <= 0)
					break;
				off += (size_t)r;
				if (s->chunk)
					sleep_ms(1);
			}
		}
		if (s->close) {
			close(p->master);
			p->master = -1;
			break;
		}
	}
	return NULL;
}

struct peer *peer_start(const struct peer_step *steps, size_t n, struct nrfca_serial **host)
{
	struct peer *p = calloc(1, sizeof(*p));
	struct termios t;
	int slave = -1;

	if (p == NULL || n > PEER_MAX_STEPS)
		return NULL;
	if (openpty(&p->master, &slave, NULL, NULL, NULL) != 0) {
		free(p);
		return NULL;
	}
	tcgetattr(slave, &t);
	cfmakeraw(&t);
	tcsetattr(slave, TCSANOW, &t);
	memcpy(p->steps, steps, n * sizeof(*steps));
	p->n = n;
	if (nrfca_serial_from_fd(slave, "test-pty", host, NULL) != 0 ||
	    pthread_create(&p->thread, NULL, run, p) != 0) {
		close(p->master);
		free(p);
		return NULL;
	}
	return p;
}

int peer_finish(struct peer *p)
{
	pthread_join(p->thread, NULL);
	if (p->master >= 0)
		close(p->master);
	p->master = -1;
	return p->mismatches;
}

void peer_free(struct peer *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < PEER_MAX_STEPS; i++)
		free(p->received[i]);
	free(p);
}

const char *peer_received(struct peer *p, size_t i)
{
	return i < p->n ? p->received[i] : NULL;
}
