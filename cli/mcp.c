/* SPDX-License-Identifier: MIT */
/*
 * cact mcp: execute_code for MCP hosts, over standard input and output or
 * Streamable HTTP. One sandbox runtime serves every client; with
 * --sessions each MCP session keeps a sandbox session of its own. SIGHUP
 * reloads the configuration file; SIGINT and SIGTERM stop cleanly: the
 * clients' executions and sessions are killed and the runtime is shut down.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cact/cact.h>

#include "cli.h"
#include "opts.h"
#include "sandbox_opts.h"

static const char help[] =
	"usage: cact mcp [--config FILE] [--http HOST:PORT] [OPTIONS]\n"
	"\n"
	"Serves execute_code to MCP hosts (Claude Desktop, VS Code, agents) over\n"
	"standard input and output, or over Streamable HTTP at http://HOST:PORT/mcp.\n"
	"\n"
	"  --config FILE          the cact exec configuration (tools, files, network,\n"
	"                         limits, approval); SIGHUP reloads it\n"
	"  --http HOST:PORT       serve Streamable HTTP instead of stdio; PORT or :PORT\n"
	"                         alone means 127.0.0.1, port 0 picks a free one; the\n"
	"                         URL is printed on stderr. Give HOST explicitly to bind\n"
	"                         a non-loopback address (and use --token-env)\n"
	"  --expose-tools         list the sandbox's tools for direct calls as well\n"
	"  --sessions             keep state between calls: each MCP session (the stdio\n"
	"                         connection, an HTTP Mcp-Session-Id) gets one sandboxed\n"
	"                         interpreter, from its first execute_code to its end;\n"
	"                         execute_code takes reset=true to start over (also:\n"
	"                         \"sessions\": {\"enabled\": true} in the configuration)\n"
	"  --max-sessions N       sandbox sessions at once, from 1 to 1024 (default 64);\n"
	"                         a call that would need one more fails until one ends\n"
	"  --token-env VAR        HTTP: clients must send 'Authorization: Bearer TOKEN'\n"
	"                         where TOKEN is the value of the environment variable VAR\n"
	"  --allow-origin ORIGIN  HTTP: accept this browser Origin besides loopback ones\n"
	"                         (repeatable), e.g. https://app.example.com\n"
	"  --header-timeout SECONDS HTTP: time a connection has to send a request's\n"
	"                         headers, from accept and after each request; then it\n"
	"                         is closed (default 10; decimals allowed; streams are\n"
	"                         not cut)\n"
	"  --max-conns N          HTTP: connections at once (at most 512, the default);\n"
	"                         more wait for a free one\n"
	"  --max-conns-per-ip N   HTTP: connections at once from one IP address; more\n"
	"                         are closed (default 64; behind a reverse proxy, give\n"
	"                         the value of --max-conns)\n"
	"  --isolation full|reduced as for cact exec\n";

static const char help_tail[] =
	"\n"
	"SIGHUP reloads the configuration and tells clients that the tool list\n"
	"changed (sandbox sessions already started keep the configuration they\n"
	"started with; the servers of --mcp-server and --mcp-url are dropped; a\n"
	"changed python_path or preload takes a restart); SIGINT and SIGTERM stop. Exit status: 0 "
	"stopped, 1 serving\n"
	"failed, 2 usage error, 3 the sandbox could not be set up.\n";

enum {
	O_CONFIG = SBO_CONFIG,
	O_HTTP = SBO__N,
	O_EXPOSE,
	O_SESSIONS,
	O_MAX_SESSIONS,
	O_TOKEN,
	O_ORIGIN,
	O_HEADER_TIMEOUT,
	O_MAX_CONNS,
	O_MAX_CONNS_PER_IP,
	O_HELP,
	O__N
};

struct ctl {
	struct cact_mcp_server *srv;
	const char *config;
	int stop_fd;	      /* eventfd: SIGINT/SIGTERM */
	int done;	      /* serving ended (atomic) */
	int gave_up;	      /* the runtime gave up restarting its zygote (atomic) */
	unsigned port;	      /* the bound port (atomic), HTTP only */
	const char *url_host; /* NULL: stdio */
	struct cact_codeact *cc;
	struct cact_python_settings *file_python; /* the config file's, at start */
};

/* Standard input copied to a pipe, which closes on stop: cact_mcp_serve_stdio then sees the end. */
struct fwd {
	int out;
	int stop_fd;
};

/* Writes all of buf to the non-blocking fd unless stop comes first. 0, or -1. */
static int put_all(int fd, int stop_fd, const char *buf, size_t n)
{
	while (n) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLOUT},
				      {.fd = stop_fd, .events = POLLIN}};
		ssize_t w;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (p[1].revents)
			return -1;
		w = write(fd, buf, n);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static void *forward(void *arg)
{
	struct fwd *f = arg;
	char buf[65536];

	for (;;) {
		struct pollfd p[2] = {{.fd = 0, .events = POLLIN},
				      {.fd = f->stop_fd, .events = POLLIN}};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(0, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0 || put_all(f->out, f->stop_fd, buf, (size_t)n))
			break;
	}
	close(f->out);
	return NULL;
}

static int same_list(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return 0;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return 0;
	return 1;
}

/*
 * After a reload: the runtime imports and mounts what it was started
 * with, so a python_path or preload changed in the file is said to need a
 * restart rather than silently ignored.
 */
static void python_changed(struct ctl *c)
{
	struct cact_python_settings *now = NULL, *was = c->file_python;

	if (cact_codeact_python(c->cc, &now))
		return;
	if (!same_list(now->python_paths, now->n_python_paths, was->python_paths,
		       was->n_python_paths) ||
	    !same_list(now->preload, now->n_preload, was->preload, was->n_preload))
		fprintf(stderr,
			"cact mcp: python_path or preload changed in %s: the sandbox keeps the "
			"ones it started with until cact mcp restarts\n",
			c->config);
	cact_free(now);
}

/* Signals, taken synchronously: reload, stop; and the URL once the port is known. */
static void *signals(void *arg)
{
	struct ctl *c = arg;
	struct timespec tick = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
	struct cact_error err = {0};
	int printed = 0, stopping = 0;
	uint64_t one = 1;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	while (!__atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) {
		int sig = sigtimedwait(&set, NULL, &tick);
		unsigned port = __atomic_load_n(&c->port, __ATOMIC_ACQUIRE);

		if (c->url_host && port && !printed) {
			fprintf(stderr, "cact mcp: serving http://%s:%u/mcp\n", c->url_host, port);
			printed = 1;
		}
		if (sig == SIGHUP) {
			if (!c->config)
				fprintf(stderr, "cact mcp: SIGHUP: no --config to reload\n");
			else if (cact_mcp_server_reload(c->srv, c->config, &err))
				fprintf(stderr,
					"cact mcp: reload failed, configuration unchanged: %s\n",
					err.message);
			else {
				fprintf(stderr, "cact mcp: configuration reloaded from %s\n",
					c->config);
				python_changed(c);
			}
		} else if ((sig == SIGINT || sig == SIGTERM) && !stopping) {
			if (write(c->stop_fd, &one, sizeof(one)) < 0)
				(void)0;
			stopping = 1;
		} else if (sig == SIGINT || sig == SIGTERM) {
			/* Asked twice: whatever the clean stop waits for, stop now. */
			fprintf(stderr, "cact mcp: stopping at once\n");
			_exit(128 + sig);
		}
	}
	return NULL;
}

/*
 * --http HOST:PORT, [V6]:PORT, :PORT or PORT. host gets the address to
 * bind (brackets kept: the library takes them off), 127.0.0.1 when absent.
 */
static int parse_http(const char *v, char *host, size_t size, unsigned *port)
{
	const char *colon = strrchr(v, ':'), *p;
	unsigned long n;
	char *end;
	size_t hl;

	if (!colon) {
		p = v;
		hl = 0;
	} else {
		p = colon + 1;
		hl = (size_t)(colon - v);
		if (v[0] != '[' && memchr(v, ':', hl))
			return -1; /* a bare IPv6 address: write [addr]:port */
		if (v[0] == '[' && (hl < 3 || v[hl - 1] != ']'))
			return -1;
	}
	if (!*p || *p == '-' || *p == '+')
		return -1;
	errno = 0;
	n = strtoul(p, &end, 10);
	if (errno || *end || n > 65535)
		return -1;
	if (hl == 0) {
		v = "127.0.0.1";
		hl = strlen(v);
	}
	if (hl >= size)
		return -1;
	memcpy(host, v, hl);
	host[hl] = '\0';
	*port = (unsigned)n;
	return 0;
}

/* A whole number from 1 to max, digits only. 0, or -1. */
static int parse_count(const char *v, unsigned max, unsigned *out)
{
	unsigned long n = 0;

	if (!*v)
		return -1;
	for (; *v; v++) {
		if (*v < '0' || *v > '9' || n > max)
			return -1;
		n = n * 10 + (unsigned long)(*v - '0');
	}
	if (n == 0 || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Seconds, digits with at most three decimals ("10", "1.5"), as milliseconds. 0, or -1. */
static int parse_ms(const char *v, uint64_t *ms)
{
	uint64_t whole = 0, frac = 0;
	int digits = 0, decimals = -1;

	for (; *v; v++) {
		if (*v == '.' && decimals < 0 && digits > 0) {
			decimals = 0;
		} else if (*v < '0' || *v > '9' || digits > 9 || decimals >= 3) {
			return -1;
		} else if (decimals >= 0) {
			frac = frac * 10 + (uint64_t)(*v - '0');
			decimals++;
		} else {
			whole = whole * 10 + (uint64_t)(*v - '0');
			digits++;
		}
	}
	if (digits == 0 || decimals == 0)
		return -1;
	while (decimals >= 0 && decimals++ < 3)
		frac *= 10;
	*ms = whole * 1000 + frac;
	return 0;
}

static int loopback_host(const char *host)
{
	return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	       strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
}

/*
 * The runtime's events go to the log (stderr). When it gives up after
 * repeated losses of its zygote, serving stops and cact mcp exits non-zero,
 * so that whatever supervises it starts a fresh one.
 */
static void runtime_event(void *user, enum cact_runtime_event ev, const char *message)
{
	struct ctl *c = user;
	uint64_t one = 1;

	fprintf(stderr, "cact mcp: %s\n", message);
	if (ev == CACT_RUNTIME_GAVE_UP) {
		__atomic_store_n(&c->gave_up, 1, __ATOMIC_RELEASE);
		if (c->stop_fd >= 0 && write(c->stop_fd, &one, sizeof(one)) < 0)
			(void)0;
	}
}

static int serve_stdio(struct ctl *c, struct cact_error *err)
{
	struct fwd f;
	pthread_t th;
	int p[2], rc;

	if (pipe2(p, O_CLOEXEC)) {
		fprintf(stderr, "cact mcp: pipe: %s\n", strerror(errno));
		return -1;
	}
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	f.out = p[1];
	f.stop_fd = c->stop_fd;
	if (pthread_create(&th, NULL, forward, &f)) {
		close(p[0]);
		close(p[1]);
		fprintf(stderr, "cact mcp: cannot start a thread\n");
		return -1;
	}
	rc = cact_mcp_serve_stdio(c->srv, p[0], 1, err);
	if (rc) {
		uint64_t one = 1;

		if (write(c->stop_fd, &one, sizeof(one)) < 0)
			(void)0;
	}
	pthread_join(th, NULL);
	close(p[0]);
	return rc;
}

int cmd_mcp(int argc, char **argv)
{
	struct opt o[O__N] = {
		[O_HTTP] = {"http", 0, OPT_VALUE},
		[O_EXPOSE] = {"expose-tools", 0, OPT_FLAG},
		[O_SESSIONS] = {"sessions", 0, OPT_FLAG},
		[O_MAX_SESSIONS] = {"max-sessions", 0, OPT_VALUE},
		[O_TOKEN] = {"token-env", 0, OPT_VALUE},
		[O_ORIGIN] = {"allow-origin", 0, OPT_VALUE | OPT_REPEAT},
		[O_HEADER_TIMEOUT] = {"header-timeout", 0, OPT_VALUE},
		[O_MAX_CONNS] = {"max-conns", 0, OPT_VALUE},
		[O_MAX_CONNS_PER_IP] = {"max-conns-per-ip", 0, OPT_VALUE},
		[O_HELP] = {"help", 'h', OPT_FLAG},
	};
	struct cact_mcp_server_options so;
	struct cact_runtime_options rto;
	struct cact_error err = {0};
	struct cact_runtime *rt = NULL;
	struct cact_codeact *cc = NULL;
	struct ctl c = {.stop_fd = -1};
	const char *pos[1], *v;
	sigset_t set;
	pthread_t sig_th;
	char host[256];
	unsigned port = 0;
	size_t n_pos = 0;
	int status = EXIT_USAGE, sig_started = 0, rc;

	sbo_options(o);
	cact_runtime_options_init(&rto);
	cact_mcp_server_options_init(&so);
	if (opts_parse("mcp", argc, argv, o, O__N, pos, 0, &n_pos))
		goto out;
	if (o[O_HELP].count) {
		fputs(help, stdout);
		sbo_help(stdout, SBO_PYPATH, 25);
		sbo_help(stdout, SBO_PRELOAD, 25);
		sbo_help(stdout, SBO_MCP_SERVER, 25);
		sbo_help(stdout, SBO_MCP_URL, 25);
		fputs(help_tail, stdout);
		status = EXIT_OK;
		goto out;
	}
	if ((v = opts_value(o, O__N, "http")) && parse_http(v, host, sizeof(host), &port)) {
		cli_error("mcp", "--http: '%s' is not HOST:PORT, [IPV6]:PORT or PORT", v);
		goto out;
	}
	if (!v && (o[O_TOKEN].count || o[O_ORIGIN].count || o[O_HEADER_TIMEOUT].count ||
		   o[O_MAX_CONNS].count || o[O_MAX_CONNS_PER_IP].count)) {
		cli_error("mcp", "--token-env, --allow-origin, --header-timeout, --max-conns and "
				 "--max-conns-per-ip apply to --http only");
		goto out;
	}
	if ((v = opts_value(o, O__N, "header-timeout")) &&
	    (parse_ms(v, &so.header_timeout_ms) || so.header_timeout_ms < 100 ||
	     so.header_timeout_ms > 3600000)) {
		cli_error("mcp",
			  "--header-timeout: '%s' is not a number of seconds from 0.1 to 3600", v);
		goto out;
	}
	if ((v = opts_value(o, O__N, "max-conns")) && parse_count(v, 512, &so.max_connections)) {
		cli_error("mcp", "--max-conns: '%s' is not a whole number from 1 to 512", v);
		goto out;
	}
	if ((v = opts_value(o, O__N, "max-conns-per-ip")) &&
	    parse_count(v, 512, &so.max_conns_per_ip)) {
		cli_error("mcp", "--max-conns-per-ip: '%s' is not a whole number from 1 to 512", v);
		goto out;
	}
	if ((v = opts_value(o, O__N, "max-sessions")) && parse_count(v, 1024, &rto.max_sessions)) {
		cli_error("mcp", "--max-sessions: '%s' is not a whole number from 1 to 1024", v);
		goto out;
	}
	if (sbo_isolation("mcp", o, &rto))
		goto out;
	c.config = opts_value(o, O__N, "config");
	if (cact_codeact_new(NULL, &cc, &err) ||
	    (c.config && cact_codeact_load_config(cc, c.config, &err))) {
		cli_error("mcp", "%s", err.message);
		goto out;
	}
	/* What the file asks for, to tell a reload that changes it (the runtime keeps its own). */
	if (cact_codeact_python(cc, &c.file_python)) {
		cli_error("mcp", "out of memory");
		goto out;
	}
	if (sbo_mcp_servers("mcp", o, cc) || sbo_python("mcp", o, cc))
		goto out;
	so.expose_tools = o[O_EXPOSE].count > 0;
	so.sessions = o[O_SESSIONS].count > 0;
	so.token_env = opts_value(o, O__N, "token-env");
	so.allowed_origins = o[O_ORIGIN].values;
	so.n_allowed_origins = (size_t)o[O_ORIGIN].count;
	c.cc = cc;
	if (cact_mcp_server_new(cc, &so, &c.srv, &err)) {
		cli_error("mcp", "%s", err.message);
		goto out;
	}
	c.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (c.stop_fd < 0) {
		cli_error("mcp", "eventfd: %s", strerror(errno));
		status = 1;
		goto out;
	}
	rto.event_fn = runtime_event;
	rto.event_user = &c;
	if ((status = sbo_start("mcp", &rto, cc, &rt)))
		goto out;
	if (opts_value(o, O__N, "http")) {
		c.url_host = host;
		if (!loopback_host(host) && !so.token_env)
			fprintf(stderr,
				"cact mcp: warning: %s is not a loopback address and no "
				"--token-env is set: anyone who reaches it can run code\n",
				host);
	}
	/* Signals go to the signal thread only; a closed client is a write error, not a death. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&sig_th, NULL, signals, &c)) {
		cli_error("mcp", "cannot start a thread");
		status = 1;
		goto out;
	}
	sig_started = 1;
	if (c.url_host)
		rc = cact_mcp_serve_http(c.srv, host, port, c.stop_fd, &c.port, &err);
	else
		rc = serve_stdio(&c, &err);
	if (rc)
		fprintf(stderr, "cact mcp: %s\n", err.message);
	status = rc ? 1 : EXIT_OK;
	if (__atomic_load_n(&c.gave_up, __ATOMIC_ACQUIRE)) {
		fprintf(stderr,
			"cact mcp: exiting: the sandbox runtime gave up; restart cact mcp\n");
		status = EXIT_SETUP;
	}
out:
	if (sig_started) {
		__atomic_store_n(&c.done, 1, __ATOMIC_RELEASE);
		pthread_join(sig_th, NULL);
	}
	cact_mcp_server_free(c.srv);
	cact_free(c.file_python);
	cact_codeact_free(cc);
	cact_runtime_free(rt);
	if (c.stop_fd >= 0)
		close(c.stop_fd);
	opts_free(o, O__N);
	return status;
}
