/*
 * nrfca-server - the CA: loads the configuration, opens the token, the
 * ledger and the policy, serves the API until SIGTERM/SIGINT, reloads the
 * policy on SIGHUP.  Logs one JSON object per line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ca.h"
#include "cli.h"
#include "config.h"
#include "http.h"
#include "identity.h"
#include "ledger.h"
#include "log.h"
#include "policy_status.h"
#include "policy_store.h"
#include "signer.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nrfca-server --config FILE [--port-file FILE]\n\n"
		"Runs the CA in the foreground.  Logs JSON lines on stderr.\n"
		"  --config FILE     the JSON configuration (see nrfca.json(5), README.md)\n"
		"  --port-file FILE  write the bound port there once listening (for port 0)\n"
		"  --help, -h        this text\n"
		"  --version         the program's version\n"
		"Signals: SIGTERM/SIGINT finish requests in flight and exit 0;\n"
		"         SIGHUP reloads the policy file and the stations' CA and CRL\n"
		"         (a bad file keeps the old one).\n"
		"Environment: NRFCA_PORT overrides the listen port.\n");
}

static int identity_configured;

/* A policy whose profiles ask nRF Cloud's Identity Service needs its settings. */
static int check_policy(const struct nrfca_policy *p, struct nrfca_err *err)
{
	if (!identity_configured && nrfca_policy_uses_identity_service(p))
		return nrfca_err_set(err, NRFCA_E_CONFIG,
				     "%s: a profile sets attestation.verify_with "
				     "\"nrf-cloud-identity\" but the configuration has no "
				     "identity_service (url, api_key_file)", nrfca_policy_path(p));
	return 0;
}

/* What a station is trusted with under each profile that does not check who
 * signed the attestation (README: policies/README.md, "Station authority"). */
static void log_trust(void)
{
	struct nrfca_policy *p = policy_acquire();
	char warn[1024];
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < nrfca_policy_profile_count(p); i++) {
		const struct nrfca_profile *pr = nrfca_policy_profile_at(p, i);

		if (nrfca_profile_trust_warning(pr, warn, sizeof(warn)) > 0)
			nlog(NLOG_WARN, "policy_trust", "profile", nrfca_profile_name(pr), "detail",
			     warn, NULL);
	}
	policy_release(p);
}

/*
 * Every connection is a socket: make room for limits.max_connections plus
 * what the server keeps open itself (ledger, token, logs, listeners).  The
 * soft limit is raised up to the hard one (a service manager often starts
 * processes at 1024); when even the hard limit is short, the server starts
 * and says so: connections past it are refused by accept().
 */
#define FD_RESERVE 128
static void fit_open_files(int max_connections)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)max_connections + FD_RESERVE;
	char detail[200];

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		snprintf(detail, sizeof(detail), "limits.max_connections is %d but this process "
			 "may open only %llu files (ulimit -Hn); raise it, e.g. LimitNOFILE= in "
			 "the service unit", max_connections, (unsigned long long)rl.rlim_max);
		nlog(NLOG_WARN, "open_files_limit", "detail", detail, NULL);
		want = rl.rlim_max;
	}
	rl.rlim_cur = want;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static void on_token_event(void *arg, const char *event, const char *detail)
{
	(void)arg;
	nlog(strcmp(event, "token_ready") == 0 ? NLOG_INFO : NLOG_ERROR, event, "detail", detail,
	     NULL);
}

/* SIGHUP: the stations' CA and CRL (tls.client_ca, tls.client_crl). */
static void reload_client_certs(struct http_server *http, const struct nrfca_config *cfg)
{
	struct nrfca_err e = { 0 };

	if (cfg->tls_client_ca == NULL)
		return;
	if (http_reload(http, &e) != 0)
		nlog(NLOG_ERROR, "client_ca_reload_failed", "detail", e.msg, "kept",
		     "the previous stations' CA and CRL stay in force", NULL);
	else
		nlog(NLOG_INFO, "client_ca_reloaded", "client_ca", cfg->tls_client_ca, "client_crl",
		     cfg->tls_client_crl ? cfg->tls_client_crl : "none", NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfgpath = NULL, *port_file = NULL;
	struct nrfca_config *cfg = NULL;
	struct signer_config sc = { 0 };
	struct ca_options co = { 0 };
	struct nrfca_err e = { 0 };
	struct signer *signer = NULL;
	struct identity *identity = NULL;
	struct ledger *ledger = NULL;
	struct ledger_config lc = { 0 };
	struct ca *ca = NULL;
	struct http_server *http = NULL;
	sigset_t set;
	int o, rc = 1;

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			cfgpath = optarg;
			break;
		case 'p':
			port_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			return nrfca_cli_version("nrfca-server");
		default:
			return nrfca_cli_bad_option("nrfca-server", argv, o);
		}
	}
	if (optind != argc)
		return nrfca_cli_usage_error("nrfca-server", "unexpected argument '%s'", argv[optind]);
	if (cfgpath == NULL)
		return nrfca_cli_usage_error("nrfca-server", "needs --config FILE (the JSON "
					     "configuration)");
	/* Signals are taken synchronously by the main thread only. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (nrfca_config_load(cfgpath, &cfg, &e) != 0)
		goto fail;
	fit_open_files(cfg->max_connections);
	if (cfg->policy == NULL) {
		nrfca_err_set(&e, NRFCA_E_CONFIG, "%s: $.policy (the policy file) is required",
			      cfgpath);
		goto fail;
	}
	identity_configured = cfg->identity_url != NULL;
	policy_store_set_check(check_policy);
	if (policy_status_load(cfg->policy, &e) != 0)
		goto fail;
	log_trust();
	if (cfg->identity_url != NULL) {
		struct identity_config ic = {
			.url = cfg->identity_url,
			.api_key_file = cfg->identity_api_key_file,
			.allow_insecure_key_file = cfg->identity_allow_insecure_key_file,
			.ca_file = cfg->identity_ca_file,
			.timeout_ms = (unsigned)cfg->identity_timeout_ms,
			.cache_entries = (unsigned)cfg->identity_cache_entries,
			.cache_seconds = (unsigned)cfg->identity_cache_seconds,
			.backoff_seconds = (unsigned)cfg->identity_backoff_seconds,
		};

		if (identity_open(&ic, &identity, &e) != 0) {
			nrfca_err_prefix(&e, "%s", cfgpath);
			goto fail;
		}
	}
	if (cfg->database == NULL) {
		nrfca_err_set(&e, NRFCA_E_CONFIG, "%s: $.database is required (sqlite:PATH or postgresql://...)", cfgpath);
		goto fail;
	}
	lc.exclusive = 1;   /* one server per SQLite ledger */
	lc.password_file = cfg->database_password_file;
	lc.readers = cfg->database_pool;
	lc.program = "nrfca-server";
	if (ledger_open_cfg(cfg->database, &lc, &ledger, &e) != 0)
		goto fail;
	sc.uri = cfg->token_uri;
	sc.pin_env = cfg->token_pin_env;
	sc.pool_size = (unsigned)cfg->token_pool_size;
	sc.session_copy = cfg->token_session_copy;
	sc.allow_insecure_pin_file = cfg->token_allow_insecure_pin_file;
	sc.base_dir = cfg->dir;
	sc.env = (const char *const *)cfg->token_env;
	sc.notify = on_token_event;
	if (signer_open(&sc, &signer, &e) != 0)
		goto fail;
	co.chain_path = cfg->ca_chain;
	co.crl_next_update_hours = cfg->crl_next_update_hours;
	co.identity = identity;
	if (ca_open(&co, signer, ledger, &ca, &e) != 0)
		goto fail;
	ca_crl_fresh_at_start(ca);
	if (http_start(cfg, ca, signer, ledger, &http, &e) != 0)
		goto fail;
	{
		char port[16], url[300];
		struct signer_stats ss;

		signer_get_stats(signer, &ss);
		snprintf(port, sizeof(port), "%d", http_port(http));
		snprintf(url, sizeof(url), "%s://%s%s%s:%d", cfg->tls_cert ? "https" : "http",
			 strchr(cfg->listen_address, ':') ? "[" : "", cfg->listen_address,
			 strchr(cfg->listen_address, ':') ? "]" : "", http_port(http));
		{
			struct policy_status ps;
			json_t *d;
			char *txt;

			policy_status_get(&ps);
			d = json_pack("{s:s, s:s, s:s}", "version", nrfca_version_string(), "policy",
				      ps.path, "policy_sha256", ps.sha256);
			txt = d ? json_dumps(d, JSON_COMPACT) : NULL;
			ledger_audit(ledger, "nrfca-server", "start", txt, NULL);
			free(txt);
			json_decref(d);
		}
		{
			/* ports are numbers (0: no admin listener) */
			struct nlog_field f[] = {
				NLOG_STR("url", url),
				NLOG_INT("port", http_port(http)),
				NLOG_INT("admin_port", http_admin_port(http)),
				NLOG_STR("key", signer_key_desc(signer)),
				NLOG_STR("key_copy", ss.session_copy ? "session object" :
					 ss.copy_why),
				NLOG_STR("tls", cfg->tls_cert ? "on" : "off"),
				NLOG_STR("client_certs", cfg->tls_client_ca ?
					 (cfg->tls_client_crl ? "verified, with CRL" : "verified") :
					 "off"),
				NLOG_STR("admin_tls", cfg->tls_admin ? "on" : "off"),
			};

			nlog_fields(NLOG_INFO, "listening", f, sizeof(f) / sizeof(f[0]));
		}
		if (port_file != NULL) {
			char tmp[4096];
			FILE *f;

			snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
			f = fopen(tmp, "w");
			if (f == NULL || fprintf(f, "%s\n", port) < 0 || fclose(f) != 0 ||
			    rename(tmp, port_file) != 0) {
				nrfca_err_set(&e, NRFCA_E_IO, "cannot write %s: %s", port_file,
					      strerror(errno));
				goto fail;
			}
		}
	}
	ca_crl_tick(ca);   /* the fresh CRL, while requests are already served */
	for (;;) {
		struct timespec ts = { 10, 0 };
		siginfo_t si;
		int sig;

		memset(&si, 0, sizeof(si));
		sig = sigtimedwait(&set, &si, &ts);
		if (sig == SIGHUP) {
			int from_user = si.si_code == SI_USER || si.si_code == SI_QUEUE;

			reload_client_certs(http, cfg);
			if (policy_status_reload(ledger, "nrfca-server", from_user ? (long)si.si_pid : -1,
						 from_user ? (long)si.si_uid : -1, &e) != 0)
				nlog(NLOG_ERROR, "policy_reload_failed", "detail", e.msg, "kept",
				     "the previous policy stays in force", NULL);
			else {
				nlog_num(NLOG_INFO, "policy_reloaded", "generation",
					 (long long)policy_store_generation(), "file", cfg->policy,
					 NULL);
				log_trust();
			}
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			nlog(NLOG_INFO, "stopping", "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT",
			     NULL);
			break;
		}
		ca_tick(ca);
	}
	http_stop(http, cfg->request_timeout);
	http = NULL;
	ledger_audit(ledger, "nrfca-server", "stop", NULL, NULL);
	rc = 0;
	nlog(NLOG_INFO, "stopped", NULL);
	goto out;
fail:
	nlog(NLOG_ERROR, "startup_failed", "detail", e.msg, NULL);
	fprintf(stderr, "nrfca-server: %s\n", e.msg);
out:
	http_stop(http, 0);
	ca_free(ca);
	identity_free(identity);
	signer_free(signer);
	ledger_close(ledger);
	policy_store_shutdown();
	nrfca_config_free(cfg);
	return rc;
}
