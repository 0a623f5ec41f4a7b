/* SPDX-License-Identifier: MIT */
/*
 * One execution, from fork to exit:
 *   1. warm its copy of the interpreter (trusted code, zygote privileges);
 *   2. "prepare": build the sandbox for the mounts and caps the host names,
 *      then report "ready" with the /output fd; from here on the process is
 *      confined, though nothing untrusted has run yet;
 *   3. "exec": lower the rlimits to the request's, run the code, report the
 *      result, wait to be stopped and killed by the host.
 * The host sends "prepare" as soon as the child exists, so steps 1 and 2 are
 * off the request path. Any failure before the code runs is reported as
 * setup_error and ends the process: nothing runs half-sandboxed.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../util/util.h"
#include "../wire/wire.h"
#include "guest.h"
#include "py.h"

#define MAX_MOUNTS 256
/* Room above the warm interpreter's size for the runner's own allocations. */
#define VSZ_SLACK   (32ull << 20)
#define STACK_BYTES (8ull << 20)
/* Pids of an execution's namespace beyond its thread limit (see docs/sandbox.md). */
#define PID_RESERVE 301

/*
 * The exit status that says "aborted". The execution is pid 1 of its pid
 * namespace, and the kernel does not deliver to such a process a signal
 * it sends itself while the signal's action is the default: glibc's
 * abort() then falls through to its last resort, an illegal instruction,
 * and the host would see SIGSEGV. A handler is delivered to, so the guest
 * catches SIGABRT and exits with the shell's number for it; the host reads
 * that exit, with no result report, as SIGABRT (lib/runtime/exec.c).
 */
#define GUEST_ABORT_EXIT (128 + SIGABRT)

static void setup_failed(const struct cact_error *err) __attribute__((noreturn));
static void setup_failed(const struct cact_error *err)
{
	json_t *msg = json_pack("{s:s, s:s}", "type", "setup_error", "message", err->message);

	if (msg)
		wire_write(GUEST_FD_WIRE, msg, 64 * 1024);
	_exit(GUEST_SETUP_EXIT);
}

static void on_abort(int sig)
{
	(void)sig;
	_exit(GUEST_ABORT_EXIT);
}

/* Moves fd to a number of at least 64 so that the final dup2 calls cannot collide. */
static int lift(int fd)
{
	int n = fcntl(fd, F_DUPFD_CLOEXEC, 64);

	if (n >= 0)
		close(fd);
	return n;
}

/*
 * stdin /dev/null and the wire socket at 3; the stdout and stderr pipes are
 * lifted out of the way (>= 64) and put in place after the warm-up.
 */
static void place_fds(struct zygote *z, int wire, int *out, int *err)
{
	struct cact_error e = {0};

	/* The control socket is the zygote's alone (and sits at fd 3, where the wire goes). */
	close(z->ctl);
	z->ctl = -1;
	wire = lift(wire);
	*out = lift(*out);
	*err = lift(*err);
	if (wire < 0 || *out < 0 || *err < 0 || dup2(z->devnull, 0) < 0 ||
	    dup2(wire, GUEST_FD_WIRE) < 0) {
		ut_err_sys(&e, CACT_ESANDBOX, errno, "cannot place the execution's fds");
		if (wire >= 0)
			dup2(wire, GUEST_FD_WIRE);
		setup_failed(&e);
	}
	close(wire);
}

static uint64_t u64_of(json_t *obj, const char *key, uint64_t dflt)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ? (uint64_t)json_integer_value(v)
								: dflt;
}

static int parse_mount(json_t *j, struct sbx_mount *m, struct cact_error *err)
{
	m->host = json_string_value(json_object_get(j, "host"));
	m->guest = json_string_value(json_object_get(j, "guest"));
	m->dev = (dev_t)u64_of(j, "dev", 0);
	m->ino = (ino_t)u64_of(j, "ino", 0);
	m->is_dir = json_is_true(json_object_get(j, "dir"));
	if (!m->host)
		return ut_err(err, CACT_EPROTO, "prepare: mount without host path");
	return 0;
}

/* Reads the next frame, which must be of type want. NULL at a clean end of stream. */
static json_t *expect(enum wire_type want, size_t max)
{
	struct cact_error e = {0};
	enum wire_type type;
	char *payload = NULL;
	json_t *msg = NULL;
	size_t len;
	int rc = wire_read(GUEST_FD_WIRE, max, &payload, &len);

	if (rc == CACT_EPROTO)
		_exit(0); /* the host closed the slot without using it */
	if (rc) {
		ut_err(&e, rc, "cannot read the %s frame", wire_type_name(want));
		setup_failed(&e);
	}
	rc = wire_parse(payload, len, &msg, &type, &e);
	/* A prepare frame names host paths: the code that runs here later must not find them. */
	explicit_bzero(payload, len);
	free(payload);
	if (rc)
		setup_failed(&e);
	if (type != want) {
		ut_err(&e, CACT_EPROTO, "expected %s, got %s", wire_type_name(want),
		       wire_type_name(type));
		setup_failed(&e);
	}
	return msg;
}

static void prepare(struct zygote *z, json_t *req)
{
	static struct sbx_mount ws, mounts[MAX_MOUNTS];
	struct cact_error e = {0};
	struct sbx_exec x = {0};
	json_t *lim = json_object_get(req, "limits"), *jm = json_object_get(req, "mounts");
	unsigned applied = 0;
	size_t i;
	int outdir;

	x.host_tree = z->host_tree;
	x.procfd = z->procfd;
	x.landlock_abi = z->landlock_abi;
	x.filter = &z->filter;
	x.last_fd = GUEST_FD_WIRE;
	if (json_is_object(json_object_get(req, "workspace"))) {
		if (parse_mount(json_object_get(req, "workspace"), &ws, &e))
			setup_failed(&e);
		x.workspace = &ws;
	}
	if (json_array_size(jm) > MAX_MOUNTS) {
		ut_err(&e, CACT_EINVAL, "too many mounts");
		setup_failed(&e);
	}
	for (i = 0; i < json_array_size(jm); i++) {
		if (parse_mount(json_array_get(jm, i), &mounts[i], &e))
			setup_failed(&e);
		if (!mounts[i].guest || strncmp(mounts[i].guest, "/input/", 7) != 0) {
			ut_err(&e, CACT_EPROTO, "prepare: bad mount path");
			setup_failed(&e);
		}
	}
	x.mounts = mounts;
	x.n_mounts = json_array_size(jm);
	x.output_bytes = u64_of(lim, "output_bytes", 64ull << 20);
	/* Folders count as inodes too: room for as many as files, plus the root. */
	x.output_inodes = 2 * u64_of(lim, "output_files", 1000) + 16;
	x.tmp_bytes = u64_of(lim, "tmp_bytes", 64ull << 20);
	x.pid_max = u64_of(lim, "threads", 64) + 1 + PID_RESERVE;

	if (sbx_enter(&x, &applied, &e))
		setup_failed(&e);

	/* The host harvests /output through this fd once every process here is dead. */
	outdir = open("/output", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	{
		json_t *ready = json_pack("{s:s, s:b, s:b}", "type", "ready", "pid_max",
					  !!(applied & SBX_APPLIED_PID_MAX), "userns",
					  !!(applied & SBX_APPLIED_USERNS));
		char *frame = NULL;
		size_t flen;

		if (outdir < 0 || !ready || wire_encode(ready, 4096, &frame, &flen) ||
		    ut_send_fds(GUEST_FD_WIRE, frame, flen, &outdir, 1)) {
			ut_err_sys(&e, CACT_ESANDBOX, errno, "cannot report ready");
			setup_failed(&e);
		}
		free(frame);
		json_decref(ready);
		close(outdir);
	}
}

static uint64_t cpu_used_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) + 1;
}

/*
 * The request's rlimits. The CPU limit is the run's timeout, or for a
 * session (cpu_total_ms non-zero) the CPU all its runs may use together;
 * a session's single run is held to its own by the host.
 */
static void limits(const struct zygote *z, json_t *lim, uint64_t cpu_total_ms)
{
	struct cact_error e = {0};
	struct sbx_limits l;
	uint64_t out = u64_of(lim, "output_bytes", 64ull << 20);
	uint64_t tmp = u64_of(lim, "tmp_bytes", 64ull << 20);
	uint64_t cpu_ms = cpu_total_ms ? cpu_total_ms : u64_of(lim, "timeout_ms", 30000);

	l.cpu_s = cpu_used_s() + (cpu_ms + 999) / 1000;
	l.as_bytes = z->base_vsz + VSZ_SLACK + u64_of(lim, "memory_bytes", 512ull << 20);
	l.nofile = u64_of(lim, "open_files", 256);
	/* The count includes this (main) thread. */
	l.nproc = u64_of(lim, "threads", 64) + 1;
	l.fsize = out > tmp ? out : tmp;
	l.stack = STACK_BYTES;
	if (sbx_set_limits(&l, &e))
		setup_failed(&e);
}

/* The code of an exec frame, copied (NUL-terminated, owned); a bad frame ends the process. */
static char *code_of(json_t *req, size_t *len)
{
	json_t *jc = json_object_get(req, "code");
	const char *code = json_string_value(jc);
	char *copy;

	if (!code || !json_is_object(json_object_get(req, "limits"))) {
		struct cact_error e = {0};

		ut_err(&e, CACT_EPROTO, "exec request without code or limits");
		setup_failed(&e);
	}
	*len = json_string_length(jc);
	copy = malloc(*len + 1);
	if (!copy) {
		struct cact_error e = {0};

		ut_err(&e, CACT_ENOMEM, "out of memory");
		setup_failed(&e);
	}
	memcpy(copy, code, *len);
	copy[*len] = '\0';
	return copy;
}

void child_main(struct zygote *z, int wire, int out, int err)
{
	static const char running[] = "\0\0\0\022{\"type\":\"running\"}";
	json_t *req;
	char *code, *report = NULL;
	size_t code_len;
	int exit_code = 1, out_fd, err_fd, session;

	/* Die with the zygote, and so with the host. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/*
	 * A session and process group of its own: kill(0, sig) and kill(-pgid,
	 * sig) reach process groups across pid namespaces, and the code must
	 * not reach anyone's but its own. Not fatal: the guest already runs in
	 * a session of its own, apart from the host's.
	 */
	setsid();
	out_fd = out;
	err_fd = err;
	place_fds(z, wire, &out_fd, &err_fd);

	/*
	 * Copy now, off the request path, the pages a first run would copy;
	 * its output goes nowhere.
	 */
	dup2(z->devnull, 1);
	dup2(z->devnull, 2);
	if (z->py_late) {
		struct cact_error e = {0};

		/* Under the zygote's base filter, in its new root, before this child's sandbox. */
		if (pyg_init(CACT_PY_STDLIB, z->py_paths, z->n_py_paths, &e))
			setup_failed(&e);
		pyg_preload(0);
		z->base_vsz = guest_vsz(z->procfd);
	}
	if (pyg_warm(!z->one_shot && z->warm)) {
		struct cact_error e = {0};

		ut_err(&e, CACT_ESANDBOX, "cannot reseed and warm up the interpreter");
		setup_failed(&e);
	}
	if (dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) {
		struct cact_error e = {0};

		ut_err_sys(&e, CACT_ESANDBOX, errno, "cannot restore stdout");
		setup_failed(&e);
	}
	close(out_fd);
	close(err_fd);

	req = expect(WIRE_PREPARE, 16u << 20);
	prepare(z, req);
	json_decref(req);

	/* Confined from here on. Wait for the code. */
	req = expect(WIRE_EXEC, GUEST_EXEC_FRAME_MAX);
	session = json_is_true(json_object_get(req, "session"));
	code = code_of(req, &code_len);
	limits(z, json_object_get(req, "limits"),
	       session ? u64_of(req, "cpu_total_ms", 600000) : 0);
	{
		json_t *lim = json_object_get(req, "limits");

		if (pyg_configure(json_is_true(json_object_get(req, "network")),
				  u64_of(lim, "tool_args_bytes", 1u << 20),
				  u64_of(lim, "http_body_bytes", 16u << 20))) {
			struct cact_error e = {0};

			ut_err(&e, CACT_ESANDBOX, "cannot set up the execution's helpers");
			setup_failed(&e);
		}
	}
	json_decref(req);
	/* Code that sets its own SIGABRT handler (signal.signal) replaces this one. */
	{
		struct sigaction sa = {.sa_handler = on_abort};

		sigemptyset(&sa.sa_mask);
		sigaction(SIGABRT, &sa, NULL);
	}
	for (;;) {
		if (session)
			pyg_arm();
		/* Last frame of ours before the code: from here on the host trusts nothing on the wire. */
		if (pyg_send(running, sizeof(running) - 1))
			_exit(GUEST_SETUP_EXIT);
		if (session)
			pyg_gate(0);
		exit_code = pyg_run(code, code_len, session, &report);
		free(code);
		/* In a session, the code's threads wait from here until the next run has started. */
		if (session)
			pyg_gate(1);
		if (report) {
			size_t rl = strlen(report);
			char *frame = malloc(rl + 4);

			if (frame) {
				frame[0] = (char)(rl >> 24);
				frame[1] = (char)(rl >> 16);
				frame[2] = (char)(rl >> 8);
				frame[3] = (char)rl;
				memcpy(frame + 4, report, rl);
				pyg_send(frame, rl + 4);
				free(frame);
			}
			free(report);
			report = NULL;
		}
		if (!session)
			break;
		/*
		 * The host stops the whole process on the report and harvests;
		 * the next run begins when it lets the process go on and sends
		 * the next exec frame. No limits change: the session's memory
		 * and CPU caps stand, and the host holds each run to its time.
		 */
		{
			char *payload = NULL;
			size_t len = 0;
			enum wire_type type;
			struct cact_error e = {0};

			if (pyg_next_exec(GUEST_EXEC_FRAME_MAX, &payload, &len))
				_exit(0); /* the host ended the session */
			req = NULL;
			if (wire_parse(payload, len, &req, &type, &e) || type != WIRE_EXEC)
				_exit(GUEST_SETUP_EXIT);
			free(payload);
			code = code_of(req, &code_len);
			json_decref(req);
		}
	}
	/*
	 * No frame of ours follows: the host sees the end of the stream, and
	 * so a frame the code left half-written (which swallowed the report)
	 * at once. Then wait for the host, which stops this process when it
	 * reads the result, harvests /output and the streams while nothing
	 * here can run, answers, and only then kills it: the address space is
	 * torn down off the request path. Should the host close the socket
	 * instead, exit; the status byte only says zero or not (the frame
	 * carries the code).
	 */
	shutdown(GUEST_FD_WIRE, SHUT_WR);
	{
		ssize_t n;
		char c;

		do
			n = read(GUEST_FD_WIRE, &c, 1);
		while (n > 0 || (n < 0 && errno == EINTR));
	}
	_exit(exit_code == 0 ? 0 : ((exit_code & 0xff) ? (exit_code & 0xff) : 1));
}
