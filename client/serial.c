/* serial.c - exclusive raw tty with poll-bounded I/O (see serial.h). */
#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <time.h>
#include <stdio.h>
#include <unistd.h>

struct nrfca_serial {
	int fd;
	int exclusive;      /* TIOCEXCL set by us */
	char name[128];
};

static const struct {
	unsigned baud;
	speed_t speed;
} baud_table[] = {
	{ 9600, B9600 },     { 19200, B19200 },   { 38400, B38400 },
	{ 57600, B57600 },   { 115200, B115200 }, { 230400, B230400 },
	{ 460800, B460800 }, { 921600, B921600 }, { 1000000, B1000000 },
};

static int baud_speed(unsigned baud, speed_t *sp)
{
	size_t i;

	for (i = 0; i < sizeof(baud_table) / sizeof(baud_table[0]); i++)
		if (baud_table[i].baud == baud) {
			*sp = baud_table[i].speed;
			return 0;
		}
	return -1;
}

int nrfca_serial_baud_ok(unsigned baud)
{
	speed_t sp;

	return baud_speed(baud, &sp) == 0;
}

/* Unix98 pseudo-terminal slaves have majors 136..143 (devices.txt). */
static int is_pty(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0 || !S_ISCHR(st.st_mode))
		return 0;
	return major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct nrfca_serial *wrap(int fd, const char *name)
{
	struct nrfca_serial *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->fd = fd;
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "serial port");
	return s;
}

int nrfca_serial_open(const struct nrfca_serial_opts *o, struct nrfca_serial **out,
		      struct nrfca_err *e)
{
	struct termios tio;
	speed_t sp;
	unsigned baud = o->baud ? o->baud : NRFCA_SERIAL_DEFAULT_BAUD;
	int fd = -1, rc = -1, excl = 0;

	if (o->path == NULL || o->path[0] == '\0')
		return nrfca_err_set(e, NRFCA_E_CONFIG, "no serial port given (use --port DEV)");
	if (baud_speed(baud, &sp) != 0)
		return nrfca_err_set(e, NRFCA_E_CONFIG,
				     "baud rate %u is not supported (use 9600, 19200, 38400, 57600, "
				     "115200, 230400, 460800, 921600 or 1000000)", baud);
	fd = open(o->path, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == EBUSY)
			nrfca_err_set(e, NRFCA_E_IO, "port %s is in use by another process", o->path);
		else
			nrfca_err_set(e, NRFCA_E_IO, "cannot open port %s: %s", o->path,
				      strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			nrfca_err_set(e, NRFCA_E_IO, "port %s is in use by another process", o->path);
		else
			nrfca_err_set(e, NRFCA_E_IO, "cannot lock port %s: %s", o->path,
				      strerror(errno));
		goto out;
	}
	if (!isatty(fd)) {
		nrfca_err_set(e, NRFCA_E_IO, "%s is not a serial port (not a terminal)", o->path);
		goto out;
	}
	if (ioctl(fd, TIOCEXCL) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot get exclusive use of port %s: %s", o->path,
			      strerror(errno));
		goto out;
	}
	excl = 1;
	if (tcgetattr(fd, &tio) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot read the settings of port %s: %s", o->path,
			      strerror(errno));
		goto out;
	}
	cfmakeraw(&tio);
	tio.c_cflag |= CLOCAL | CREAD;
	tio.c_cflag &= ~(CSTOPB | PARENB | CSIZE);
	tio.c_cflag |= CS8;
	if (o->rtscts)
		tio.c_cflag |= CRTSCTS;
	else
		tio.c_cflag &= ~CRTSCTS;
	tio.c_cc[VMIN] = 0;
	tio.c_cc[VTIME] = 0;
	if (cfsetispeed(&tio, sp) != 0 || cfsetospeed(&tio, sp) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot set port %s to %u baud: %s", o->path, baud,
			      strerror(errno));
		goto out;
	}
	if (tcsetattr(fd, TCSANOW, &tio) != 0 && o->rtscts && is_pty(fd)) {
		/* a pseudo-terminal (simulator) has no flow control lines */
		tio.c_cflag &= ~CRTSCTS;
	}
	if (tcsetattr(fd, TCSANOW, &tio) != 0) {
		nrfca_err_set(e, NRFCA_E_IO, "cannot set port %s to %u baud, raw 8N1: %s", o->path,
			      baud, strerror(errno));
		goto out;
	}
	/* tcsetattr succeeds when only some settings took: check flow control,
	 * which a pseudo-terminal (simulator) may not keep. */
	if (o->rtscts) {
		struct termios chk;

		if (tcgetattr(fd, &chk) != 0 || !(chk.c_cflag & CRTSCTS)) {
			if (!is_pty(fd)) {
				nrfca_err_set(e, NRFCA_E_IO,
					      "port %s refused RTS/CTS flow control (use --no-rtscts "
					      "if the device has no flow control lines)", o->path);
				goto out;
			}
		}
	}
	tcflush(fd, TCIOFLUSH);
	*out = wrap(fd, o->path);
	if (*out == NULL) {
		nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory opening port %s", o->path);
		goto out;
	}
	(*out)->exclusive = 1;
	fd = -1;
	rc = 0;
out:
	if (fd >= 0) {
		if (excl)
			ioctl(fd, TIOCNXCL);
		close(fd);
	}
	return rc;
}

int nrfca_serial_from_fd(int fd, const char *name, struct nrfca_serial **out,
			 struct nrfca_err *e)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
		close(fd);
		return nrfca_err_set(e, NRFCA_E_IO, "cannot use descriptor for %s: %s",
				     name ? name : "serial port", strerror(errno));
	}
	*out = wrap(fd, name);
	if (*out == NULL) {
		close(fd);
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory");
	}
	return 0;
}

void nrfca_serial_close(struct nrfca_serial *s)
{
	if (s == NULL)
		return;
	if (s->fd >= 0) {
		/* The exclusive flag lives on the tty until its last close: a
		 * simulator holding the other side would keep us out next time. */
		if (s->exclusive)
			ioctl(s->fd, TIOCNXCL);
		flock(s->fd, LOCK_UN);
		close(s->fd);
	}
	free(s);
}

const char *nrfca_serial_name(const struct nrfca_serial *s)
{
	return s->name;
}

int nrfca_serial_write(struct nrfca_serial *s, const void *buf, size_t len, int timeout_ms,
		       struct nrfca_err *e)
{
	const unsigned char *p = buf;
	long long deadline = now_ms() + timeout_ms;

	while (len > 0) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLOUT };
		long long left = deadline - now_ms();
		ssize_t n;
		int pr;

		if (left < 0)
			left = 0;
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			return nrfca_err_set(e, NRFCA_E_IO, "cannot write to %s: %s", s->name,
					     strerror(errno));
		}
		if (pr == 0)
			return nrfca_err_set(e, NRFCA_E_IO,
					     "port %s did not accept data within %d ms (flow control "
					     "blocked? try --no-rtscts)", s->name, timeout_ms);
		if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL))
			return nrfca_err_set(e, NRFCA_E_IO, "port %s closed while writing", s->name);
		n = write(s->fd, p, len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return nrfca_err_set(e, NRFCA_E_IO, "cannot write to %s: %s", s->name,
					     strerror(errno));
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

enum nrfca_serial_rd nrfca_serial_read(struct nrfca_serial *s, void *buf, size_t cap,
				       int timeout_ms, size_t *got, struct nrfca_err *e)
{
	long long deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);

	for (;;) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		long long left = deadline - now_ms();
		ssize_t n;
		int pr;

		if (left < 0)
			left = 0;
		pr = poll(&pfd, 1, (int)left);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			nrfca_err_set(e, NRFCA_E_IO, "cannot read from %s: %s", s->name,
				      strerror(errno));
			return NRFCA_SERIAL_ERROR;
		}
		if (pr == 0)
			return NRFCA_SERIAL_TIMEOUT;
		if (pfd.revents & POLLNVAL) {
			nrfca_err_set(e, NRFCA_E_IO, "port %s is not open", s->name);
			return NRFCA_SERIAL_ERROR;
		}
		/* Read even on POLLHUP: data may still be buffered. */
		n = read(s->fd, buf, cap);
		if (n > 0) {
			*got = (size_t)n;
			return NRFCA_SERIAL_DATA;
		}
		if (n == 0 || (n < 0 && errno == EIO))
			return NRFCA_SERIAL_CLOSED;
		if (errno == EINTR || errno == EAGAIN) {
			if (pfd.revents & (POLLHUP | POLLERR))
				return NRFCA_SERIAL_CLOSED;
			continue;
		}
		nrfca_err_set(e, NRFCA_E_IO, "cannot read from %s: %s", s->name, strerror(errno));
		return NRFCA_SERIAL_ERROR;
	}
}
