/* line.c - nrfca line: several modems at once around the provisioning flow (see line.h). */
#include "line.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <glob.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "progress.h"

#define MAX_WATCHES (NRFCA_LINE_MAX_SLOTS + 1)
#define SETTLE_S 0.3          /* a new device node gets its permissions from udev */
#define TABLE_TICK_MS 250

struct line;

struct slot {
	int used;
	char name[65];            /* the port's file name, as the CA records slots */
	char path[PATH_MAX];
	enum line_state state;
	int present;              /* the path exists */
	int pulled;               /* removed while its device was running */
	int ran;                  /* started once in this session (--once) */
	double start_at;          /* > 0: start then (a board just appeared) */
	pthread_t thread;
	int has_thread;
	/* what the row shows (under the line's mutex) */
	unsigned step;
	char device[65];
	char note[200];
	double t0, t1;
	int exit_code, resumed;
	char reason[NRFCA_ERR_MSG_MAX], modem_state[300], serial[65];
	struct line *L;
};

struct watch {
	int wd;
	char dir[PATH_MAX];
	char child[NAME_MAX + 1]; /* a folder not there yet: wd watches its parent */
};

struct line {
	const struct nrfca_line_opts *o;
	pthread_mutex_t mu;
	struct slot slots[NRFCA_LINE_MAX_SLOTS];
	int wake[2];
	int ino, sfd;
	struct watch watches[MAX_WATCHES];
	size_t nwatches;
	char wdir[PATH_MAX], wpat[NAME_MAX + 1];
	struct line_view *view;
	struct line_totals tot;
	char ca[300], profile[65];
	double t_first;
	int first_fail, draining, dirty;
};

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int nrfca_line_split_watch(const char *watch, char *dir, size_t dcap, char *pat, size_t pcap,
			   struct nrfca_err *e)
{
	const char *slash = strrchr(watch, '/');
	size_t dl;

	if (slash == NULL) {
		snprintf(dir, dcap, ".");
		slash = watch - 1;
		dl = 1;
	} else {
		dl = (size_t)(slash - watch);
		if (dl == 0)
			dl = 1;   /* "/pattern" */
		if (dl >= dcap)
			return nrfca_err_set(e, NRFCA_E_CONFIG, "--watch folder is too long");
		memcpy(dir, watch, dl);
		dir[dl] = '\0';
	}
	if (strpbrk(dir, "*?[") != NULL)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "--watch %.100s: the folder part may not "
				     "hold a wildcard (only the names in one folder are matched)",
				     watch);
	if (slash[1] == '\0' || strlen(slash + 1) >= pcap)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "--watch %.100s: no name pattern after "
				     "the folder (e.g. /dev/serial/by-id/usb-SEGGER_*-if00)", watch);
	snprintf(pat, pcap, "%s", slash + 1);
	return 0;
}

/* The slot name the CA records: the port's file name, characters it does
 * not take replaced by '_'. */
static void slot_name(const char *path, char *out, size_t cap)
{
	const char *b = strrchr(path, '/');
	size_t i, n;

	b = b ? b + 1 : path;
	n = strlen(b);
	if (n > 64)
		n = 64;
	if (n >= cap)
		n = cap - 1;
	for (i = 0; i < n; i++) {
		char c = b[i];

		out[i] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  strchr("._-:+@", c)) ? c : '_';
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, cap, "port");
}

static void fill_row(const struct slot *s, struct line_row *r, double now)
{
	memset(r, 0, sizeof(*r));
	r->slot = s->name;
	r->port = s->path;
	r->device = s->device;
	r->step = s->step;
	r->step_name = s->step ? nrfca_provision_step_name(s->step) : NULL;
	r->seconds = s->state == LINE_RUNNING ? now - s->t0 :
		     s->state == LINE_EMPTY ? 0 : s->t1 - s->t0;
	r->state = s->state;
	r->exit_code = s->exit_code;
	r->reason = s->reason;
	r->serial = s->serial;
	r->note = s->note;
	r->modem_state = s->modem_state;
	r->resumed = s->resumed;
}

/* Under the mutex. */
static void emit(struct line *L, struct slot *s, enum line_event ev, const char *text)
{
	struct line_row r;

	fill_row(s, &r, mono());
	line_view_event(L->view, ev, &r, text);
	L->dirty = 1;
}

/* ---- one board (its own thread) ---- */

static void on_step(void *ctx, unsigned n, const struct nrfca_prov_result *r)
{
	struct slot *s = ctx;
	struct line *L = s->L;

	pthread_mutex_lock(&L->mu);
	s->step = n;
	s->note[0] = '\0';
	if (r->device_id[0])
		snprintf(s->device, sizeof(s->device), "%s", r->device_id);
	else if (r->imei[0])
		snprintf(s->device, sizeof(s->device), "%s", r->imei);
	emit(L, s, LINE_EV_STEP, NULL);
	pthread_mutex_unlock(&L->mu);
}

static void on_progress_step(void *ctx, unsigned n, const char *what)
{
	(void)ctx;
	(void)n;
	(void)what;       /* on_step says it, with the device */
}

static void on_note(void *ctx, int warning, const char *text)
{
	struct slot *s = ctx;
	struct line *L = s->L;

	pthread_mutex_lock(&L->mu);
	snprintf(s->note, sizeof(s->note), "%s", text);
	if (warning || L->o->verbose)
		emit(L, s, LINE_EV_NOTE, text);
	L->dirty = 1;
	pthread_mutex_unlock(&L->mu);
}

/* "step 7 (enroll): CA refused ..." -> "CA refused ..." (the row shows the step). */
static const char *plain_reason(const char *msg)
{
	const char *p;

	if (strncmp(msg, "step ", 5) == 0 && (p = strstr(msg, "): ")) != NULL)
		return p + 3;
	return msg;
}

static void *slot_main(void *arg)
{
	struct slot *s = arg;
	struct line *L = s->L;
	struct nrfca_prov_opts o = *L->o->prov;
	struct nrfca_progress_sink sink = { on_progress_step, on_note, s };
	struct nrfca_prov_result r;
	struct nrfca_err e = { 0 };
	int rc;

	o.modem.port.path = s->path;
	o.slot = s->name;
	o.on_step = on_step;
	o.on_step_ctx = s;
	o.report_append = 1;
	o.modem.at.trace = NULL;
	o.modem.at.trace_ctx = NULL;
	o.progress = nrfca_progress_create_sink(&sink, NRFCA_PROGRESS_NORMAL, NRFCA_PROV_STEPS);
	if (o.progress == NULL) {
		nrfca_err_set(&e, NRFCA_E_NOMEM, "out of memory");
		rc = NRFCA_EXIT_FAILURE;
		memset(&r, 0, sizeof(r));
	} else {
		rc = nrfca_provision(&o, &r, &e);
	}
	nrfca_progress_free(o.progress);
	pthread_mutex_lock(&L->mu);
	s->t1 = mono();
	s->exit_code = rc;
	s->resumed = r.resumed;
	if (r.device_id[0])
		snprintf(s->device, sizeof(s->device), "%s", r.device_id);
	snprintf(s->serial, sizeof(s->serial), "%s", r.serial);
	snprintf(s->reason, sizeof(s->reason), "%s", rc ? plain_reason(e.msg) : "");
	snprintf(s->modem_state, sizeof(s->modem_state), "%s", rc ? r.modem_state : "");
	pthread_mutex_unlock(&L->mu);
	if (write(L->wake[1], "x", 1) < 0) {
		/* the main loop also looks every second */
	}
	return NULL;
}

/* Under the mutex: start a board in slot s. */
static void start(struct line *L, struct slot *s)
{
	s->state = LINE_RUNNING;
	s->step = 0;
	s->device[0] = s->note[0] = s->reason[0] = s->serial[0] = s->modem_state[0] = '\0';
	s->exit_code = 0;
	s->resumed = 0;
	s->pulled = 0;
	s->ran = 1;
	s->start_at = 0;
	s->t1 = 0;
	s->t0 = mono();
	if (L->t_first == 0)
		L->t_first = s->t0;
	emit(L, s, LINE_EV_PLUG, NULL);
	if (pthread_create(&s->thread, NULL, slot_main, s) != 0) {
		s->state = LINE_FAIL;
		s->t1 = s->t0;
		s->exit_code = NRFCA_EXIT_FAILURE;
		snprintf(s->reason, sizeof(s->reason), "cannot start a thread for this board");
		L->tot.failed++;
		L->tot.by_exit[NRFCA_EXIT_FAILURE]++;
		emit(L, s, LINE_EV_FAIL, NULL);
		return;
	}
	s->has_thread = 1;
}

/* Under the mutex: a board's thread ended. */
static void finish(struct line *L, struct slot *s)
{
	pthread_mutex_unlock(&L->mu);
	pthread_join(s->thread, NULL);
	pthread_mutex_lock(&L->mu);
	s->has_thread = 0;
	if (s->exit_code == 0) {
		s->state = LINE_PASS;
		L->tot.passed++;
		emit(L, s, LINE_EV_PASS, NULL);
		return;
	}
	s->state = LINE_FAIL;
	if (s->pulled) {
		char why[sizeof(s->reason)];

		/* a long reason is cut on the screen, never the state it names first */
		if (snprintf(why, sizeof(why), "board removed during step %u (%s); plug it back in "
			     "to resume: %s", s->step, nrfca_provision_step_name(s->step),
			     s->reason) >= (int)sizeof(why))
			memcpy(why + sizeof(why) - 4, "...", 4);
		snprintf(s->reason, sizeof(s->reason), "%s", why);
	}
	L->tot.failed++;
	if ((unsigned)s->exit_code < NRFCA_EXIT_MAX)
		L->tot.by_exit[s->exit_code]++;
	if (L->first_fail == 0)
		L->first_fail = s->exit_code;
	emit(L, s, LINE_EV_FAIL, NULL);
}

/* ---- slots and hot plug ---- */

static struct slot *find(struct line *L, const char *path)
{
	size_t i;

	for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++)
		if (L->slots[i].used && strcmp(L->slots[i].path, path) == 0)
			return &L->slots[i];
	return NULL;
}

static struct slot *add(struct line *L, const char *path)
{
	size_t i;

	for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++) {
		struct slot *s = &L->slots[i];

		if (s->used)
			continue;
		memset(s, 0, sizeof(*s));
		s->used = 1;
		s->L = L;
		snprintf(s->path, sizeof(s->path), "%s", path);
		slot_name(path, s->name, sizeof(s->name));
		return s;
	}
	return NULL;
}

/* Is dir/name a port this line serves? */
static int wanted(struct line *L, const char *dir, const char *name, char *path, size_t cap)
{
	size_t i;

	if ((size_t)snprintf(path, cap, "%s/%s", strcmp(dir, "/") ? dir : "", name) >= cap)
		return 0;
	for (i = 0; i < L->o->nports; i++)
		if (strcmp(L->o->ports[i], path) == 0)
			return 1;
	return L->o->watch != NULL && strcmp(dir, L->wdir) == 0 &&
	       fnmatch(L->wpat, name, FNM_PERIOD) == 0;
}

/* Under the mutex. */
static void plugged(struct line *L, const char *path, int now)
{
	struct slot *s = find(L, path);

	if (s == NULL) {
		s = add(L, path);
		if (s == NULL)
			return;   /* more ports than slots: not served (the table says how many) */
	}
	s->present = 1;
	if (s->state == LINE_RUNNING || L->draining || (L->o->once && (s->ran || !now)))
		return;     /* --once: the ports of the first look, once each */
	if (now)
		start(L, s);
	else
		s->start_at = mono() + SETTLE_S;
	L->dirty = 1;
}

/* Under the mutex. */
static void unplugged(struct line *L, const char *path)
{
	struct slot *s = find(L, path);

	if (s == NULL)
		return;
	s->present = 0;
	s->start_at = 0;
	if (s->state == LINE_RUNNING) {
		s->pulled = 1;     /* its run ends with the port: the row keeps the failure */
		return;
	}
	emit(L, s, LINE_EV_UNPLUG, NULL);
	/* a finished board taken out: the slot is free again (a listed port's
	 * row stays, empty; a watched name's row goes) unless the board was
	 * pulled mid-run, whose row waits for it to come back */
	if (s->state == LINE_FAIL && s->pulled)
		return;
	s->state = LINE_EMPTY;
	s->step = 0;
	s->device[0] = '\0';
	if (L->o->nports == 0 && !s->has_thread)
		s->used = 0;
	L->dirty = 1;
}

static int add_watch(struct line *L, const char *dir, struct nrfca_err *e)
{
	struct watch *w;
	size_t i;

	for (i = 0; i < L->nwatches; i++)
		if (strcmp(L->watches[i].dir, dir) == 0 && L->watches[i].child[0] == '\0')
			return 0;
	if (L->nwatches >= MAX_WATCHES)
		return nrfca_err_set(e, NRFCA_E_CONFIG, "ports in more than %d folders",
				     MAX_WATCHES);
	w = &L->watches[L->nwatches];
	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	w->wd = inotify_add_watch(L->ino, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE |
				  IN_MOVED_FROM | IN_ONLYDIR);
	if (w->wd < 0 && errno == ENOENT) {
		/* the folder is not there yet: watch its parent for it */
		const char *slash = strrchr(dir, '/');
		char parent[PATH_MAX];

		if (slash == NULL || strlen(slash + 1) > NAME_MAX)
			return nrfca_err_set(e, NRFCA_E_IO, "cannot watch %s: it does not exist", dir);
		snprintf(parent, sizeof(parent), "%.*s", slash == dir ? 1 : (int)(slash - dir), dir);
		snprintf(w->child, sizeof(w->child), "%s", slash + 1);
		snprintf(w->dir, sizeof(w->dir), "%s", parent);
		w->wd = inotify_add_watch(L->ino, parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	}
	if (w->wd < 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot watch %s for boards: %s", dir,
				     strerror(errno));
	L->nwatches++;
	return 0;
}

/* Ports that exist now (the first scan, or a folder that just appeared). */
static void scan(struct line *L, const char *dir, int now)
{
	char pattern[PATH_MAX + NAME_MAX + 2];
	glob_t g;
	size_t i;

	for (i = 0; i < L->o->nports; i++) {
		const char *p = L->o->ports[i];
		const char *slash = strrchr(p, '/');

		if (dir != NULL && !(slash ? ((size_t)(slash - p) == strlen(dir) &&
					       strncmp(p, dir, strlen(dir)) == 0) :
				     strcmp(dir, ".") == 0))
			continue;
		if (access(p, F_OK) == 0 || L->o->once) {
			/* --once tries every listed port: one that is missing fails */
			plugged(L, p, now);
		} else if (find(L, p) == NULL) {
			add(L, p);
		}
	}
	if (L->o->watch == NULL || (dir != NULL && strcmp(dir, L->wdir) != 0))
		return;
	snprintf(pattern, sizeof(pattern), "%s/%s", strcmp(L->wdir, "/") ? L->wdir : "", L->wpat);
	if (glob(pattern, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (i = 0; i < g.gl_pathc; i++)
		plugged(L, g.gl_pathv[i], now);
	globfree(&g);
}

static void on_inotify(struct line *L)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	char *p;

	n = read(L->ino, buf, sizeof(buf));
	for (p = buf; n > 0 && p < buf + n;) {
		const struct inotify_event *ev = (const struct inotify_event *)p;
		size_t i;

		p += sizeof(*ev) + ev->len;
		if (ev->len == 0)
			continue;
		for (i = 0; i < L->nwatches; i++) {
			struct watch *w = &L->watches[i];
			char path[PATH_MAX + NAME_MAX + 2];

			if (w->wd != ev->wd)
				continue;
			if (w->child[0] != '\0') {
				/* the folder we wait for appeared: watch it and scan it */
				char dir[PATH_MAX];
				struct nrfca_err e = { 0 };

				if (strcmp(ev->name, w->child) != 0)
					continue;
				if (snprintf(dir, sizeof(dir), "%s/%s", strcmp(w->dir, "/") ? w->dir : "",
					     w->child) >= (int)sizeof(dir))
					continue;   /* cannot be: both parts came from one path */
				inotify_rm_watch(L->ino, w->wd);
				w->child[0] = '\0';
				w->wd = inotify_add_watch(L->ino, dir, IN_CREATE | IN_MOVED_TO |
							  IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR);
				snprintf(w->dir, sizeof(w->dir), "%s", dir);
				(void)e;
				scan(L, dir, 0);
				continue;
			}
			if (!wanted(L, w->dir, ev->name, path, sizeof(path)))
				continue;
			if (ev->mask & (IN_CREATE | IN_MOVED_TO))
				plugged(L, path, 0);
			else if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				unplugged(L, path);
		}
	}
}

/* ---- the session ---- */

static size_t rows_of(struct line *L, struct line_row *rows, double now)
{
	size_t i, n = 0;

	for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++) {
		const struct slot *s = &L->slots[i];

		if (!s->used)
			continue;
		fill_row(s, &rows[n++], now);
	}
	return n;
}

static void totals(struct line *L, double now)
{
	size_t i;

	L->tot.running = 0;
	for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++)
		if (L->slots[i].used && L->slots[i].state == LINE_RUNNING)
			L->tot.running++;
	L->tot.seconds = L->t_first > 0 ? now - L->t_first : 0;
	L->tot.draining = L->draining;
}

static void draw(struct line *L)
{
	struct line_row rows[NRFCA_LINE_MAX_SLOTS];
	double now = mono();
	size_t n;

	totals(L, now);
	if (L->o->mode != LINE_TABLE)
		return;
	n = rows_of(L, rows, now);
	line_view_draw(L->view, rows, n, &L->tot);
	L->dirty = 0;
}

/* Under the mutex: the second interrupt. */
static void left_behind(struct line *L)
{
	size_t i;

	for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++) {
		struct slot *s = &L->slots[i];
		char text[600];

		if (!s->used || s->state != LINE_RUNNING)
			continue;
		snprintf(text, sizeof(text), "left unfinished%s%s at step %u/11 (%s): %s",
			 s->device[0] ? ": device " : "", s->device, s->step,
			 nrfca_provision_step_name(s->step), nrfca_provision_state_at(s->step));
		if (L->o->mode == LINE_TABLE) {
			/* the table is left as it is; the list goes below it */
			snprintf(s->note, sizeof(s->note), "LEFT UNFINISHED");
		}
		emit(L, s, LINE_EV_LEFT, text);
		if (L->o->mode == LINE_TABLE)
			fprintf(L->o->f, "%s: %s\n", s->name, text);
	}
}

static int running(struct line *L)
{
	size_t i;

	for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++)
		if (L->slots[i].used && (L->slots[i].state == LINE_RUNNING || L->slots[i].start_at > 0))
			return 1;
	return 0;
}

static int setup(struct line *L, struct nrfca_err *e)
{
	sigset_t ss;
	size_t i;

	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGWINCH);
	/* every thread started later inherits the mask: signals come only here */
	if (pthread_sigmask(SIG_BLOCK, &ss, NULL) != 0)
		return nrfca_err_set(e, NRFCA_E_INTERNAL, "cannot block signals");
	L->sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	L->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (L->sfd < 0 || L->ino < 0 || pipe(L->wake) != 0 ||
	    fcntl(L->wake[0], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(L->wake[1], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(L->wake[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(L->wake[1], F_SETFD, FD_CLOEXEC) != 0)
		return nrfca_err_set(e, NRFCA_E_IO, "cannot set up the line (signalfd, inotify, "
				     "pipe): %s", strerror(errno));
	if (L->o->watch != NULL) {
		if (nrfca_line_split_watch(L->o->watch, L->wdir, sizeof(L->wdir), L->wpat,
					   sizeof(L->wpat), e) != 0 ||
		    add_watch(L, L->wdir, e) != 0)
			return -1;
	}
	for (i = 0; i < L->o->nports; i++) {
		char dir[PATH_MAX];
		const char *p = L->o->ports[i], *slash = strrchr(p, '/');

		if (slash == NULL)
			snprintf(dir, sizeof(dir), ".");
		else
			snprintf(dir, sizeof(dir), "%.*s", slash == p ? 1 : (int)(slash - p), p);
		if (add_watch(L, dir, e) != 0)
			return -1;
	}
	return 0;
}

static void teardown(struct line *L)
{
	sigset_t ss;

	if (L->sfd >= 0)
		close(L->sfd);
	if (L->ino >= 0)
		close(L->ino);
	if (L->wake[0] >= 0)
		close(L->wake[0]);
	if (L->wake[1] >= 0)
		close(L->wake[1]);
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGWINCH);
	pthread_sigmask(SIG_UNBLOCK, &ss, NULL);
}

int nrfca_line_run(const struct nrfca_line_opts *o, struct nrfca_line_summary *sum,
		   struct nrfca_err *e)
{
	static struct line L;      /* big (the slots); one line per process */
	int rc, abandon = 0;
	size_t i;

	memset(&L, 0, sizeof(L));
	memset(sum, 0, sizeof(*sum));
	L.o = o;
	L.sfd = L.ino = L.wake[0] = L.wake[1] = -1;
	pthread_mutex_init(&L.mu, NULL);
	snprintf(L.ca, sizeof(L.ca), "%s", o->prov->ca.url ? o->prov->ca.url : "");
	/* the station's credential and profile, once, before any board */
	rc = nrfca_provision_check(o->prov, L.profile, sizeof(L.profile), e);
	if (rc != 0)
		return rc;
	L.tot.ca = L.ca;
	L.tot.profile = o->prov->profile ? o->prov->profile : "";
	L.view = line_view_create(o->f, o->mode, o->bell);
	if (L.view == NULL)
		return nrfca_err_set(e, NRFCA_E_NOMEM, "out of memory"), NRFCA_EXIT_FAILURE;
	if (setup(&L, e) != 0) {
		rc = e->code == NRFCA_E_CONFIG ? NRFCA_EXIT_USAGE : NRFCA_EXIT_LOCAL_IO;
		goto out;
	}
	pthread_mutex_lock(&L.mu);
	scan(&L, NULL, 1);
	if (o->once && !running(&L)) {
		pthread_mutex_unlock(&L.mu);
		nrfca_err_set(e, NRFCA_E_IO, "no port matches %s: nothing to provision",
			      o->watch ? o->watch : "the --port list");
		rc = NRFCA_EXIT_MODEM_SILENT;
		goto out;
	}
	draw(&L);
	for (;;) {
		struct pollfd pf[3] = {
			{ .fd = L.sfd, .events = POLLIN }, { .fd = L.ino, .events = POLLIN },
			{ .fd = L.wake[0], .events = POLLIN },
		};
		double now;
		int timeout = o->mode == LINE_TABLE ? TABLE_TICK_MS : 1000;

		for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++)
			if (L.slots[i].used && L.slots[i].start_at > 0)
				timeout = 100;
		pthread_mutex_unlock(&L.mu);
		if (poll(pf, 3, timeout) < 0 && errno != EINTR) {
			pthread_mutex_lock(&L.mu);
			break;
		}
		pthread_mutex_lock(&L.mu);
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(L.sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo == SIGWINCH) {
					line_view_resize(L.view);
					L.dirty = 1;
					continue;
				}
				if (L.draining) {
					abandon = 1;
					break;
				}
				L.draining = 1;
				for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++)
					L.slots[i].start_at = 0;
				if (o->mode != LINE_TABLE) {
					struct slot none;

					memset(&none, 0, sizeof(none));
					snprintf(none.name, sizeof(none.name), "line");
					emit(&L, &none, LINE_EV_INTERRUPT, "stopping: boards in progress "
					     "finish, no new board is started; interrupt again to stop "
					     "at once");
				}
				L.dirty = 1;
			}
			if (abandon)
				break;
		}
		if (pf[1].revents & POLLIN)
			on_inotify(&L);
		if (pf[2].revents & POLLIN) {
			char b[64];

			while (read(L.wake[0], b, sizeof(b)) > 0)
				;
		}
		now = mono();
		for (i = 0; i < NRFCA_LINE_MAX_SLOTS; i++) {
			struct slot *s = &L.slots[i];

			if (!s->used)
				continue;
			if (s->has_thread && s->t1 > 0 && s->state == LINE_RUNNING)
				finish(&L, s);
			if (s->start_at > 0 && now >= s->start_at && s->present && !L.draining)
				start(&L, s);
		}
		if (L.dirty || o->mode == LINE_TABLE)
			draw(&L);
		if (!running(&L) && (o->once || L.draining))
			break;
	}
	if (abandon) {
		left_behind(&L);
		totals(&L, mono());
		line_view_summary(L.view, &L.tot, NRFCA_EXIT_INTERRUPTED);
		pthread_mutex_unlock(&L.mu);
		sum->passed = L.tot.passed;
		sum->failed = L.tot.failed;
		sum->seconds = L.tot.seconds;
		sum->abandoned = 1;
		/* threads still run: the caller ends the process without waiting */
		return NRFCA_EXIT_INTERRUPTED;
	}
	draw(&L);
	totals(&L, mono());
	rc = L.first_fail;
	line_view_summary(L.view, &L.tot, rc);
	pthread_mutex_unlock(&L.mu);
	sum->passed = L.tot.passed;
	sum->failed = L.tot.failed;
	sum->seconds = L.tot.seconds;
out:
	teardown(&L);
	line_view_free(L.view);
	return rc;
}
