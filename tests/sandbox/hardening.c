/* SPDX-License-Identifier: MIT */
/*
 * Findings of the outside review, through the public API: what an execution
 * can pin in kernel buffers (pipes and sockets, measured on the host through
 * the execution's own fds), and how an abort is reported.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"

#define KIB	    1024ull
#define MIB	    (1024ull * 1024)
#define PIPE_BYTES  (64 * KIB) /* a pipe's default size: 16 pages */
#define SETTLE_MS   600	       /* what the code holds is stable this long: it is done */
#define MEASURE_MAX 60000

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static struct cact_request *req_of(const char *code)
{
	struct cact_request *req = NULL;
	struct cact_error err = {0};

	ck_assert_int_eq(cact_request_new(&req), 0);
	ck_assert_msg(cact_request_set_code(req, code, strlen(code), &err) == 0, "%s", err.message);
	return req;
}

static void set_limit(struct cact_request *req, enum cact_limit l, uint64_t v)
{
	struct cact_error err = {0};

	ck_assert_msg(cact_request_set_limit(req, l, v, &err) == 0, "%s", err.message);
}

static uint64_t read_u64(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long long v = 0;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	ck_assert_int_eq(fscanf(f, "%llu", &v), 1);
	fclose(f);
	return v;
}

/* Number of fds pid has open, or -1. */
static int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* 1 when pid is pid 1 of a pid namespace two levels below ours: an execution. */
static int is_execution(pid_t pid)
{
	char path[64], line[256];
	int levels = 0, last = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "NSpid:", 6) != 0)
			continue;
		for (p = line + 6;; p = end) {
			long v = strtol(p, &end, 10);

			if (end == p)
				break;
			levels++;
			last = (int)v;
		}
	}
	fclose(f);
	return levels == 3 && last == 1;
}

/* The execution below this process with the most open fds (the running one, not the pool's). */
static pid_t busiest_execution(void)
{
	size_t n, i;
	pid_t *all = t_descendants(getpid(), &n), best = -1;
	int most = -1;

	for (i = 0; i < n; i++) {
		int c;

		if (!is_execution(all[i]))
			continue;
		c = fd_count(all[i]);
		if (c > most) {
			most = c;
			best = all[i];
		}
	}
	free(all);
	return best;
}

struct held {
	uint64_t bytes; /* queued in pipes and sockets */
	unsigned pipes, sockets;
	unsigned biggest_pipe; /* largest F_GETPIPE_SZ */
};

/*
 * What pid holds in pipes and sockets, measured from here: each of its fds
 * is duplicated into this process (pidfd_getfd) and asked how many bytes it
 * has queued (FIONREAD). 0, or -1 with errno when pid's fds cannot be had.
 */
static int measure(pid_t pid, struct held *h)
{
	char path[64];
	struct dirent *de;
	int pidfd, rc = -1;
	DIR *d;

	memset(h, 0, sizeof(*h));
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		goto out;
	while ((de = readdir(d))) {
		struct stat st;
		int fd, q = 0;

		if (de->d_name[0] == '.')
			continue;
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(de->d_name), 0);
		if (fd < 0) {
			if (errno == EBADF)
				continue; /* closed meanwhile */
			closedir(d);
			goto out;
		}
		if (fstat(fd, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)) &&
		    ioctl(fd, FIONREAD, &q) == 0 && q > 0)
			h->bytes += (uint64_t)q;
		if (S_ISFIFO(st.st_mode)) {
			int size = fcntl(fd, F_GETPIPE_SZ);

			h->pipes++;
			if (size > 0 && (unsigned)size > h->biggest_pipe)
				h->biggest_pipe = (unsigned)size;
		} else if (S_ISSOCK(st.st_mode)) {
			h->sockets++;
		}
		close(fd);
	}
	closedir(d);
	rc = 0;
out:
	close(pidfd);
	return rc;
}

struct bg_run {
	struct cact_runtime *rt;
	struct cact_request *req;
	struct cact_result *res;
	pthread_t thread;
};

static void *bg_main(void *arg)
{
	struct bg_run *b = arg;
	struct cact_error err = {0};

	if (cact_runtime_run(b->rt, b->req, &b->res, &err))
		b->res = NULL;
	return NULL;
}

/*
 * Runs code (which fills buffers, then sleeps) with open_files fds, measures
 * from the host what its execution holds once that stops growing, then
 * cancels it.
 */
static void fill_and_measure(const char *code, uint64_t open_files, struct held *out)
{
	struct cact_runtime *rt = t_runtime();
	struct bg_run b = {.rt = rt};
	struct held h = {0}, last = {0};
	uint64_t start = now_ms(), stable_since = 0, one = 1;
	int cancel = eventfd(0, EFD_CLOEXEC);
	pid_t pid = -1;

	ck_assert_int_ge(cancel, 0);
	b.req = req_of(code);
	set_limit(b.req, CACT_LIMIT_TIMEOUT_MS, 120000);
	set_limit(b.req, CACT_LIMIT_OPEN_FILES, open_files);
	cact_request_set_cancel_fd(b.req, cancel);
	ck_assert_int_eq(pthread_create(&b.thread, NULL, bg_main, &b), 0);
	while (now_ms() - start < MEASURE_MAX) {
		sleep_ms(150);
		if (pid <= 0 || fd_count(pid) < 0)
			pid = busiest_execution();
		if (pid <= 0 || fd_count(pid) < (int)open_files / 2)
			continue;
		ck_assert_msg(measure(pid, &h) == 0,
			      "cannot read the execution's fds from the host: %s (pidfd_getfd "
			      "needs ptrace rights over the sandbox)",
			      strerror(errno));
		if (h.bytes == 0 || h.bytes != last.bytes || h.pipes != last.pipes ||
		    h.sockets != last.sockets) {
			last = h;
			stable_since = now_ms();
			continue;
		}
		if (now_ms() - stable_since >= SETTLE_MS)
			break;
	}
	ck_assert_msg(write(cancel, &one, sizeof(one)) == sizeof(one), "eventfd write");
	pthread_join(b.thread, NULL);
	ck_assert_msg(b.res != NULL, "the run failed");
	ck_assert_msg(now_ms() - start < MEASURE_MAX, "what the execution holds never settled");
	t_assert_status(b.res, CACT_STATUS_CANCELLED);
	cact_result_free(b.res);
	cact_request_free(b.req);
	cact_runtime_free(rt);
	close(cancel);
	fprintf(stderr,
		"the execution held %.2f MiB in %u pipes (largest %u bytes) and %u sockets\n",
		(double)h.bytes / MIB, h.pipes, h.biggest_pipe, h.sockets);
	*out = h;
}

/* ---- pipe and socket buffers ---- */

START_TEST(pipe_resize_refused)
{
	/* Growing a pipe or a socket buffer is an ordinary PermissionError; reading sizes is fine. */
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r = t_run(
		rt,
		"import ctypes, errno, fcntl, os, socket\n"
		"r, w = os.pipe()\n"
		"for cmd in (1031, (1 << 32) | 1031):\n"
		"    libc = ctypes.CDLL(None, use_errno=True)\n"
		"    libc.syscall.restype = ctypes.c_long\n"
		"    rc = libc.syscall(ctypes.c_long(72), ctypes.c_long(w), ctypes.c_long(cmd),\n"
		"                      ctypes.c_long(1 << 20))\n"
		"    print(hex(cmd), rc, errno.errorcode.get(ctypes.get_errno()))\n"
		"try:\n"
		"    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)\n"
		"except OSError as e:\n"
		"    print(type(e).__name__, e.errno == errno.EPERM)\n"
		"print(fcntl.fcntl(w, fcntl.F_GETPIPE_SZ), os.write(w, b'ok'))\n"
		"a, b = socket.socketpair()\n"
		"opts = {'SO_SNDBUF': 7, 'SO_RCVBUF': 8, 'SO_SNDBUFFORCE': 32, 'SO_RCVBUFFORCE': "
		"33}\n"
		"for name, opt in opts.items():\n"
		"    try:\n"
		"        a.setsockopt(socket.SOL_SOCKET, opt, 1 << 22)\n"
		"        print(name, 'set')\n"
		"    except OSError as e:\n"
		"        print(name, type(e).__name__)\n"
		"a.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)\n"
		"print(a.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) > 0)\n",
		30000);

	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_msg(strcmp(t_out(r), "0x407 -1 EPERM\n"
				       "0x100000407 -1 EPERM\n"
				       "PermissionError True\n"
				       "65536 2\n"
				       "SO_SNDBUF PermissionError\n"
				       "SO_RCVBUF PermissionError\n"
				       "SO_SNDBUFFORCE PermissionError\n"
				       "SO_RCVBUFFORCE PermissionError\n"
				       "True\n") == 0,
		      "stdout:\n%s\nstderr:\n%s", t_out(r), t_err(r));
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(pipe_buffers_bounded)
{
	/*
	 * Every pipe the default 256 open files allow, each grown if it can
	 * be and filled, its write end closed so one fd pins it: at most
	 * 64 KiB each (docs/sandbox.md). Before the fix the execution held
	 * about 57 MiB here, and ate into its user's pipe allowance.
	 */
	struct held h;

	fill_and_measure("import fcntl, os, time\n"
			 "keep = []\n"
			 "try:\n"
			 "    while True:\n"
			 "        r, w = os.pipe()\n"
			 "        keep.append(r)\n"
			 "        try:\n"
			 "            fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 1 << 20)\n"
			 "        except OSError:\n"
			 "            pass\n"
			 "        os.set_blocking(w, False)\n"
			 "        try:\n"
			 "            while True:\n"
			 "                os.write(w, b'x' * 65536)\n"
			 "        except BlockingIOError:\n"
			 "            pass\n"
			 "        os.close(w)\n"
			 "except OSError:\n"
			 "    pass\n"
			 "time.sleep(300)\n",
			 256, &h);
	ck_assert_msg(h.pipes >= 240, "only %u pipes open: the code did not fill its fds", h.pipes);
	ck_assert_msg(h.biggest_pipe <= PIPE_BYTES, "a pipe of %u bytes", h.biggest_pipe);
	ck_assert_msg(h.bytes <= 256 * PIPE_BYTES,
		      "%u pipes hold %.1f MiB, more than 256 files x 64 KiB = 16 MiB", h.pipes,
		      (double)h.bytes / MIB);
}
END_TEST

START_TEST(socket_buffers_bounded)
{
	/*
	 * socketpair buffers: SO_SNDBUF refused, each socket holds at most
	 * its default send buffer (net.core.wmem_default) and one more
	 * message, so 32 open files pin at most 32 x 1.5 x wmem_default.
	 * Before the fix each could be raised to 2 x wmem_max (8 MiB here).
	 */
	uint64_t wmem = read_u64("/proc/sys/net/core/wmem_default"), bound = 32 * wmem * 3 / 2;
	struct held h;

	fill_and_measure("import socket, time\n"
			 "keep = []\n"
			 "try:\n"
			 "    while True:\n"
			 "        a, b = socket.socketpair()\n"
			 "        keep.append(b)\n"
			 "        try:\n"
			 "            a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)\n"
			 "        except OSError:\n"
			 "            pass\n"
			 "        a.setblocking(False)\n"
			 "        try:\n"
			 "            while True:\n"
			 "                a.send(b'x' * 65536)\n"
			 "        except BlockingIOError:\n"
			 "            pass\n"
			 "        a.close()\n"
			 "except OSError:\n"
			 "    pass\n"
			 "time.sleep(300)\n",
			 32, &h);
	ck_assert_msg(h.sockets >= 24, "only %u sockets open", h.sockets);
	ck_assert_msg(h.bytes <= bound,
		      "%u sockets hold %.1f MiB, more than 32 files x 1.5 x %llu bytes = %.1f MiB",
		      h.sockets, (double)h.bytes / MIB, (unsigned long long)wmem,
		      (double)bound / MIB);
}
END_TEST

/* ---- aborts ---- */

START_TEST(abort_reported_as_sigabrt)
{
	/*
	 * The execution is pid 1 of its pid namespace, which the kernel does
	 * not let die of a SIGABRT it raises itself: glibc's abort() used to
	 * end in SIGSEGV. The kernel's reports stay final: a real SIGSEGV is
	 * still one, and SystemExit(134) is still an exit.
	 */
	static const char *const aborts[] = {
		"import os\nprint('before', flush=True)\nos.abort()\n",
		"import ctypes\nctypes.CDLL(None).abort()\n",
		"import threading, os\nt = "
		"threading.Thread(target=os.abort)\nt.start()\nt.join()\n",
		"import signal\nsignal.raise_signal(signal.SIGABRT)\n",
	};
	struct cact_runtime *rt = t_runtime();
	struct cact_result *r;
	size_t i;

	for (i = 0; i < sizeof(aborts) / sizeof(aborts[0]); i++) {
		r = t_run(rt, aborts[i], 30000);
		t_assert_status(r, CACT_STATUS_CRASHED);
		ck_assert_msg(strcmp(cact_result_error_type(r), "crashed") == 0 &&
				      strstr(cact_result_error_message(r), "SIGABRT"),
			      "case %zu: %s: %s", i, cact_result_error_type(r),
			      cact_result_error_message(r));
		ck_assert_int_eq(cact_result_exit_code(r), -1);
		if (i == 0)
			ck_assert_str_eq(t_out(r), "before\n");
		cact_result_free(r);
	}
	r = t_run(rt, "import ctypes\nctypes.string_at(0)\n", 30000);
	t_assert_status(r, CACT_STATUS_CRASHED);
	ck_assert_msg(strstr(cact_result_error_message(r), "SIGSEGV"), "%s",
		      cact_result_error_message(r));
	cact_result_free(r);
	r = t_run(rt, "raise SystemExit(134)\n", 30000);
	t_assert_status(r, CACT_STATUS_PYTHON_ERROR);
	ck_assert_int_eq(cact_result_exit_code(r), 134);
	cact_result_free(r);
	/* A handler of the code's own still has the last word. */
	r = t_run(rt,
		  "import os, signal\n"
		  "signal.signal(signal.SIGABRT, lambda *a: print('caught'))\n"
		  "os.kill(os.getpid(), signal.SIGABRT)\n"
		  "print('after')\n",
		  30000);
	t_assert_status(r, CACT_STATUS_OK);
	ck_assert_str_eq(t_out(r), "caught\nafter\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(pipe_resize_refused, 60),
		T_CASE(pipe_buffers_bounded, 120),
		T_CASE(socket_buffers_bounded, 120),
		T_CASE(abort_reported_as_sigabrt, 60),
	};

	return t_main("hardening", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
