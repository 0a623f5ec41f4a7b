/* SPDX-License-Identifier: MIT */
/*
 * cact mcp --http against slowloris: many connections that send half a
 * request and stall must neither keep a legitimate client waiting nor hold
 * their slots past the header timeout, whether they come from one address
 * (the per-address limit turns them away) or from many (the header timeout
 * frees their slots), and however steadily they trickle bytes. Accepted
 * requests (a call running longer than the header timeout, a GET stream)
 * are not cut.
 *
 * The command runs as a child on 127.0.0.1; the attackers and the client
 * connect from other loopback addresses (127.0.0.0/8 is all local on
 * Linux), so that the per-address limit tells them apart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

#define CLIENT_ADDR "127.0.0.2" /* the legitimate client */
#define N_STALLED   600		/* more than the 512 slots cact had, all told */

static const char init_body[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{"
	"\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{"
	"\"name\":\"limits\",\"version\":\"1\"}}}";

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds from now until t, 0 when past. */
static unsigned ms_until(uint64_t t)
{
	uint64_t now = now_ms();

	return t > now ? (unsigned)(t - now) : 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- the server: cact mcp --http 127.0.0.1:0, killed with this test's process ---- */

struct srv {
	pid_t pid;
	unsigned port;
};

static void srv_start(struct srv *s, const char *const *args)
{
	const char *bin = getenv("CACT_BIN");
	const char *argv[24] = {bin, "mcp", "--http", "127.0.0.1:0"};
	char err[4096];
	size_t n = 4, len = 0, i;
	uint64_t until = now_ms() + 30000;
	const char *p;
	int pipefd[2];

	ck_assert_msg(bin != NULL, "CACT_BIN is not set");
	for (i = 0; args[i] && n < 23; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		/* A failed assertion ends the test process: the server goes with it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pipefd[1], 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	/* "cact mcp: serving http://127.0.0.1:PORT/mcp" once listening. */
	while (!((p = strstr(err, "http://127.0.0.1:")) && strstr(p, "/mcp\n")) &&
	       now_ms() < until && len < sizeof(err) - 1) {
		struct pollfd pf = {.fd = pipefd[0], .events = POLLIN};
		ssize_t got;

		err[len] = '\0';
		if (poll(&pf, 1, 200) <= 0)
			continue;
		got = read(pipefd[0], err + len, sizeof(err) - 1 - len);
		if (got <= 0)
			break;
		len += (size_t)got;
		err[len] = '\0';
	}
	err[len] = '\0';
	close(pipefd[0]); /* later messages: a closed pipe, which cact ignores */
	p = strstr(err, "http://127.0.0.1:");
	ck_assert_msg(p && strstr(p, "/mcp\n"), "cact mcp did not start: %s", err);
	s->port = (unsigned)strtoul(p + 17, NULL, 10);
	ck_assert_uint_gt(s->port, 0);
}

static void srv_stop(struct srv *s)
{
	uint64_t until = now_ms() + 15000;
	int status;

	kill(s->pid, SIGTERM);
	while (now_ms() < until) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				      "cact mcp ended with status %d", status);
			return;
		}
		sleep_ms(20);
	}
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	ck_abort_msg("cact mcp did not stop within 15 s of SIGTERM");
}

/* ---- raw connections ---- */

/* Enough descriptors for the stalled connections (and for the server, which inherits them). */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	ck_assert_msg(rl.rlim_cur >= N_STALLED + 200,
		      "RLIMIT_NOFILE %llu is too low for %d connections",
		      (unsigned long long)rl.rlim_cur, N_STALLED);
}

/* A connection from the loopback address src to the server. */
static int dial(const struct srv *s, const char *src)
{
	struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(inet_pton(AF_INET, src, &from.sin_addr), 1);
	to.sin_port = htons((uint16_t)s->port);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(bind(fd, (struct sockaddr *)&from, sizeof(from)) == 0, "bind %s: %s", src,
		      strerror(errno));
	ck_assert_msg(connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0, "connect: %s",
		      strerror(errno));
	return fd;
}

static void send_text(int fd, const char *text)
{
	/* The server may have closed it already: that is no failure here. */
	if (send(fd, text, strlen(text), MSG_NOSIGNAL) < 0)
		(void)0;
}

/* Half a request: the request line and some headers, never the blank line. */
static int stall(const struct srv *s, const char *src)
{
	int fd = dial(s, src);
	char half[256];

	snprintf(half, sizeof(half),
		 "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nContent-Type: appl", s->port);
	send_text(fd, half);
	return fd;
}

/* Whether the server closed fd (end of stream or reset); what it sent is dropped. */
static int is_closed(int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n == 0)
			return 1;
		if (errno == EINTR)
			continue;
		return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

static size_t count_open(const int *fds, size_t n)
{
	size_t i, open = 0;

	for (i = 0; i < n; i++)
		open += fds[i] >= 0 && !is_closed(fds[i]);
	return open;
}

/* Waits up to ms for every fd to be closed by the server; how many are still open. */
static size_t wait_all_closed(const int *fds, size_t n, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	size_t open;

	while ((open = count_open(fds, n)) && now_ms() < until)
		sleep_ms(50);
	return open;
}

static void close_all(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Reads one response into buf (NUL-terminated): its headers and, with
 * Content-Length, its body; headers_only stops after the headers. The
 * length, or -1 when it did not come within ms or the server closed first.
 */
static ssize_t read_response(int fd, char *buf, size_t cap, unsigned ms, int headers_only)
{
	uint64_t until = now_ms() + ms;
	size_t len = 0;

	buf[0] = '\0';
	while (len < cap - 1) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		const char *end = strstr(buf, "\r\n\r\n"), *cl;
		uint64_t now = now_ms();
		ssize_t n;

		if (end && headers_only)
			return (ssize_t)len;
		if (end && (cl = strcasestr(buf, "\r\nContent-Length:")) && cl < end &&
		    len >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10))
			return (ssize_t)len;
		if (now >= until || poll(&p, 1, (int)(until - now)) <= 0)
			return -1;
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n <= 0)
			return end && !strcasestr(buf, "\r\nContent-Length:") ? (ssize_t)len : -1;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return -1;
}

/* A POST of body to /mcp on fd, with the session id when given and extra header lines. */
static void post(const struct srv *s, int fd, const char *sid, const char *extra, const char *body)
{
	char head[512];

	snprintf(head, sizeof(head),
		 "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		 "Accept: application/json, text/event-stream\r\n"
		 "Content-Type: application/json\r\nContent-Length: %zu\r\n%s%s%s%s\r\n",
		 s->port, strlen(body), sid ? "Mcp-Session-Id: " : "", sid ? sid : "",
		 sid ? "\r\n" : "", extra ? extra : "");
	send_text(fd, head);
	send_text(fd, body);
}

/*
 * initialize from the client's address: the time its answer took in ms,
 * or -1 when none came within ms. sid (65 bytes, may be NULL) gets the
 * session id. The connection stays open in *keep when keep is not NULL.
 */
static long client_initialize(const struct srv *s, unsigned ms, char *sid, int *keep)
{
	uint64_t start = now_ms();
	char buf[8192];
	const char *h;
	int fd = dial(s, CLIENT_ADDR);
	ssize_t n;

	post(s, fd, NULL, NULL, init_body);
	n = read_response(fd, buf, sizeof(buf), ms, 0);
	if (n >= 0) {
		ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "\"result\""),
			      "initialize: %s", buf);
		if (sid) {
			h = strcasestr(buf, "\r\nMcp-Session-Id: ");
			ck_assert_ptr_nonnull(h);
			memcpy(sid, h + 18, 64);
			sid[64] = '\0';
		}
	}
	if (keep)
		*keep = fd;
	else
		close(fd);
	return n < 0 ? -1 : (long)(now_ms() - start);
}

/* ---- the cases ---- */

START_TEST(one_address_cannot_fill_the_server)
{
	/*
	 * 600 half requests from one address: past the default per-address
	 * limit (64) they are turned away at once, so a client from another
	 * address is answered at once, long before the header timeout; the
	 * 64 let in are closed at the header timeout.
	 */
	int fds[N_STALLED];
	struct srv s;
	uint64_t t0;
	size_t i, open;
	long ms;

	raise_fd_limit();
	srv_start(&s, (const char *const[]){"--header-timeout", "5", NULL});
	t0 = now_ms();
	for (i = 0; i < N_STALLED; i++)
		fds[i] = stall(&s, "127.0.0.3");
	sleep_ms(300);
	ms = client_initialize(&s, 3000, NULL, NULL);
	ck_assert_msg(ms >= 0, "the client got no answer within 3 s of %d stalled connections",
		      N_STALLED);
	open = count_open(fds, N_STALLED);
	ck_assert_msg(open > 0 && open <= 64, "%zu stalled connections from one address open",
		      open);
	ck_assert_msg(now_ms() - t0 < 4500, "too slow to tell the limit from the timeout");
	open = wait_all_closed(fds, N_STALLED, ms_until(t0 + 5000 + 2500));
	ck_assert_msg(open == 0, "%zu stalled connections still open 7.5 s after (timeout 5 s)",
		      open);
	ck_assert_int_ge(client_initialize(&s, 2000, NULL, NULL), 0);
	close_all(fds, N_STALLED);
	srv_stop(&s);
}
END_TEST

START_TEST(many_addresses_wait_out_the_header_timeout)
{
	/*
	 * 600 half requests from 12 addresses, 50 each (under the per-address
	 * limit), fill the 512 connections; the client waits in the listen
	 * queue until the header timeout closes them, then is answered.
	 */
	int fds[N_STALLED];
	struct srv s;
	uint64_t t0;
	size_t i, open;
	long ms;

	raise_fd_limit();
	srv_start(&s, (const char *const[]){"--header-timeout", "2", NULL});
	t0 = now_ms();
	for (i = 0; i < N_STALLED; i++) {
		char src[32];

		snprintf(src, sizeof(src), "127.0.1.%zu", 1 + i / 50);
		fds[i] = stall(&s, src);
	}
	sleep_ms(300);
	ck_assert_msg(count_open(fds, N_STALLED) >= 512, "stalled connections were turned away");
	ms = client_initialize(&s, 6000, NULL, NULL);
	ck_assert_msg(ms >= 0, "the client got no answer within 6 s (timeout 2 s)");
	/* Those let in as room was made have their own 2 s. */
	open = wait_all_closed(fds, N_STALLED, ms_until(t0 + 2 * 2000 + 3000));
	ck_assert_msg(open == 0, "%zu stalled connections still open 7 s after (timeout 2 s)",
		      open);
	close_all(fds, N_STALLED);
	srv_stop(&s);
}
END_TEST

START_TEST(trickling_does_not_extend_the_deadline)
{
	/*
	 * The deadline counts from accept, not from the last byte: headers
	 * trickled a byte every 200 ms, the body of a refused request (no
	 * token) trickled alike, and a kept-alive connection idle after its
	 * answer (it starts again after each request) are all closed when
	 * their time is up.
	 */
	static const char line[] = "POST /mcp HTTP/1.1\r\nX-Slow: ";
	char head[512], buf[8192];
	int fds[3];
	struct srv s;
	uint64_t t0, until;
	size_t open;

	setenv("CACT_LIMITS_TOKEN", "limits-secret", 1);
	srv_start(&s, (const char *const[]){"--header-timeout", "1.5", "--token-env",
					    "CACT_LIMITS_TOKEN", NULL});
	t0 = now_ms();
	fds[0] = dial(&s, "127.0.0.3");
	send_text(fds[0], line);
	fds[1] = dial(&s, "127.0.0.4");
	snprintf(head, sizeof(head),
		 "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
		 "Accept: application/json, text/event-stream\r\n"
		 "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{",
		 s.port);
	send_text(fds[1], head);
	/* The kept-alive one: an answer, then nothing. */
	fds[2] = dial(&s, CLIENT_ADDR);
	post(&s, fds[2], NULL, "Authorization: Bearer limits-secret\r\n", init_body);
	ck_assert_int_ge(read_response(fds[2], buf, sizeof(buf), 2000, 0), 0);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0, "%s", buf);
	until = t0 + 1500 + 2000;
	while (now_ms() < until && count_open(fds, 3)) {
		send_text(fds[0], "x");
		send_text(fds[1], " ");
		sleep_ms(200);
	}
	open = count_open(fds, 3);
	ck_assert_msg(open == 0,
		      "trickling: headers %s, refused body %s, idle keep-alive %s after 3.5 s "
		      "(timeout 1.5 s)",
		      is_closed(fds[0]) ? "closed" : "open", is_closed(fds[1]) ? "closed" : "open",
		      is_closed(fds[2]) ? "closed" : "open");
	close_all(fds, 3);
	srv_stop(&s);
}
END_TEST

START_TEST(accepted_requests_outlive_the_header_timeout)
{
	/*
	 * A call that runs three times the header timeout gets its answer,
	 * and a GET stream stays open: the deadline ends once a request is
	 * let in.
	 */
	static const char call[] =
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":"
		"\"execute_code\",\"arguments\":{\"code\":\"import time\\ntime.sleep(3)\\n"
		"print('slept')\"}}}";
	char sid[65], buf[16384], get[512];
	int fd, stream;
	struct srv s;
	uint64_t t0;

	srv_start(&s, (const char *const[]){"--header-timeout", "1", NULL});
	ck_assert_int_ge(client_initialize(&s, 5000, sid, NULL), 0);
	fd = dial(&s, CLIENT_ADDR);
	post(&s, fd, sid, NULL, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
	ck_assert_int_ge(read_response(fd, buf, sizeof(buf), 2000, 0), 0);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 202", 12) == 0, "%s", buf);
	close(fd);

	stream = dial(&s, CLIENT_ADDR);
	snprintf(get, sizeof(get),
		 "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nAccept: text/event-stream\r\n"
		 "Mcp-Session-Id: %s\r\n\r\n",
		 s.port, sid);
	send_text(stream, get);
	ck_assert_int_ge(read_response(stream, buf, sizeof(buf), 2000, 1), 0);
	ck_assert_msg(strncmp(buf, "HTTP/1.1 200", 12) == 0 && strstr(buf, "text/event-stream"),
		      "%s", buf);

	t0 = now_ms();
	fd = dial(&s, CLIENT_ADDR);
	post(&s, fd, sid, NULL, call);
	ck_assert_msg(read_response(fd, buf, sizeof(buf), 60000, 0) >= 0,
		      "no answer to the call: %s", buf);
	ck_assert_msg(strstr(buf, "slept"), "%s", buf);
	ck_assert_msg(now_ms() - t0 >= 2500, "the call did not run past the header timeout");
	close(fd);
	ck_assert_msg(!is_closed(stream), "the GET stream was closed");
	close(stream);
	srv_stop(&s);
}
END_TEST

START_TEST(options_are_checked)
{
	static const char *const bad[][3] = {
		{"--header-timeout", "0", NULL},   {"--header-timeout", "1.", NULL},
		{"--header-timeout", "-1", NULL},  {"--header-timeout", "3601", NULL},
		{"--max-conns", "0", NULL},	   {"--max-conns", "513", NULL},
		{"--max-conns-per-ip", "x", NULL}, {"--max-conns-per-ip", "", NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = {"mcp", "--http", "127.0.0.1:0", bad[i][0], bad[i][1], NULL};
		char *out = NULL, *err = NULL;
		int rc = t_cli(argv, NULL, &out, &err);

		ck_assert_msg(rc == 2 && strstr(err, bad[i][0]), "%s %s: %d %s", bad[i][0],
			      bad[i][1], rc, err);
		free(out);
		free(err);
	}
	{
		const char *argv[] = {"mcp", "--max-conns", "8", NULL};
		char *out = NULL, *err = NULL;
		int rc = t_cli(argv, NULL, &out, &err);

		ck_assert_msg(rc == 2 && strstr(err, "--http only"), "%d %s", rc, err);
		free(out);
		free(err);
	}
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(one_address_cannot_fill_the_server, 90),
		T_CASE(many_addresses_wait_out_the_header_timeout, 90),
		T_CASE(trickling_does_not_extend_the_deadline, 60),
		T_CASE(accepted_requests_outlive_the_header_timeout, 120),
		T_CASE(options_are_checked, 60),
	};

	signal(SIGPIPE, SIG_IGN);
	return t_main("mcp_http_limits", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
