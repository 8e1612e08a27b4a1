#define _POSIX_C_SOURCE 200809L
#include "conntrack.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"

#define WATCH_INTERVAL_MS 250

enum ct_phase { CT_HEADERS, CT_BODY, CT_HANDLING, CT_CUT };

static const char *const phase_names[] = {
	[CT_HEADERS] = "headers", [CT_BODY] = "body", [CT_HANDLING] = "handling", [CT_CUT] = "cut",
};

struct ct_conn {
	int fd;
	enum ct_phase phase;
	double start;              /* monotonic seconds: the clock's start */
	char peer[INET6_ADDRSTRLEN];
	struct ct_conn *prev, *next;
};

struct conntrack {
	int receive_seconds;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t watchdog;
	int stop;
	struct ct_conn *head;
};

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void peer_text(const struct sockaddr *sa, char *buf, size_t len)
{
	buf[0] = '\0';
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  (socklen_t)len);
}

/* One pass: cut every connection past its deadline.  Logs one line. */
static void cut_expired(struct conntrack *t)
{
	char first_peer[INET6_ADDRSTRLEN] = "", phase[16] = "";
	double now = mono_now();
	struct ct_conn *c;
	long long n = 0;

	pthread_mutex_lock(&t->mu);
	for (c = t->head; c; c = c->next) {
		if (c->phase != CT_HEADERS && c->phase != CT_BODY)
			continue;
		if (now - c->start < (double)t->receive_seconds)
			continue;
		if (n == 0) {
			snprintf(first_peer, sizeof(first_peer), "%s", c->peer);
			snprintf(phase, sizeof(phase), "%s", phase_names[c->phase]);
		}
		/* the descriptor is still open: conntrack_close runs before close() */
		shutdown(c->fd, SHUT_RDWR);
		c->phase = CT_CUT;
		n++;
	}
	pthread_mutex_unlock(&t->mu);
	if (n == 0)
		return;
	{
		char secs[16];
		long long i;

		snprintf(secs, sizeof(secs), "%d", t->receive_seconds);
		for (i = 0; i < n; i++)
			metrics_inc(M_HTTP_CLOSED, "receive_deadline", NULL);
		nlog_num(NLOG_WARN, "receive_deadline", "connections", n, "client", first_peer,
			 "waiting_for", phase, "deadline_seconds", secs, "detail",
			 "closed: the request did not arrive within limits.receive_timeout", NULL);
	}
}

static void *watchdog_main(void *arg)
{
	struct conntrack *t = arg;
	struct timespec ts;

	pthread_mutex_lock(&t->mu);
	while (!t->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCH_INTERVAL_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&t->cv, &t->mu, &ts);
		if (t->stop)
			break;
		pthread_mutex_unlock(&t->mu);
		cut_expired(t);
		pthread_mutex_lock(&t->mu);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

int conntrack_start(int receive_seconds, struct conntrack **out, struct nrfca_err *err)
{
	struct conntrack *t = calloc(1, sizeof(*t));
	pthread_condattr_t ca;

	if (t == NULL)
		return nrfca_err_set(err, NRFCA_E_NOMEM, "out of memory");
	t->receive_seconds = receive_seconds;
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&t->watchdog, NULL, watchdog_main, t) != 0) {
		pthread_cond_destroy(&t->cv);
		pthread_mutex_destroy(&t->mu);
		free(t);
		return nrfca_err_set(err, NRFCA_E_INTERNAL, "cannot start the connection watchdog");
	}
	*out = t;
	return 0;
}

void conntrack_stop(struct conntrack *t)
{
	struct ct_conn *c, *next;

	if (t == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	pthread_join(t->watchdog, NULL);
	for (c = t->head; c; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

struct ct_conn *conntrack_open(struct conntrack *t, int fd, const struct sockaddr *peer)
{
	struct ct_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->phase = CT_HEADERS;
	c->start = mono_now();
	peer_text(peer, c->peer, sizeof(c->peer));
	pthread_mutex_lock(&t->mu);
	c->next = t->head;
	if (t->head)
		t->head->prev = c;
	t->head = c;
	pthread_mutex_unlock(&t->mu);
	return c;
}

static void set_phase(struct conntrack *t, struct ct_conn *c, enum ct_phase p, int restart)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	if (c->phase != CT_CUT) {
		c->phase = p;
		if (restart)
			c->start = mono_now();
	}
	pthread_mutex_unlock(&t->mu);
}

void conntrack_headers_done(struct conntrack *t, struct ct_conn *c)
{
	set_phase(t, c, CT_BODY, 0);
}

void conntrack_handling(struct conntrack *t, struct ct_conn *c)
{
	set_phase(t, c, CT_HANDLING, 0);
}

void conntrack_answered(struct conntrack *t, struct ct_conn *c)
{
	set_phase(t, c, CT_HEADERS, 1);
}

void conntrack_close(struct conntrack *t, struct ct_conn *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&t->mu);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&t->mu);
	free(c);
}
