# SPDX-License-Identifier: MIT
#
# cact bench's fork floor: what a fresh process per execution costs on this
# machine with cact's own engine left out. Debian's python3 -I -S runs it,
# with the guest's runner.py on stdin:
#
#     python3 -I -S -c "$(cat fork_floor.py)" N MODE < runner.py
#
# The process loads the runner and its preload as the zygote does (the same
# modules, the collector frozen), runs the snippet once, then forks a child
# per execution with a plain fork(2): the child runs the snippet through the
# runner's run() with its standard output on a pipe and exits; the parent
# reads the output and reaps the child. MODE "namespaces" adds what each
# cact execution asks of the kernel before its code runs: a pid namespace
# of its own (the child is its pid 1), a user namespace and a mount
# namespace of its own, and two fresh tmpfs mounts, all inside namespaces
# made once at the start, as the zygote's are. Left out: landlock, the
# seccomp layer, rlimits, the host's protocol and the pool. MODE
# "namespaces-only" does the same but runs no code: the child writes the
# snippet's output itself, so what is left is the process and its
# namespaces.
#
# Prints N lines of one execution's wall time in µs, then
# "cpu TREE_US MACHINE_US": the CPU of this process and its children over
# the N executions, and the whole machine's busy time over the same span.
import ctypes
import gc
import os
import resource
import sys
import time
import types

SNIPPET = b"print(sum(range(100)))\n"
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
# In "namespaces" mode, a tmpfs of the floor's own over /tmp holds the children's mount points.
SCRATCH = "/tmp"

libc = ctypes.CDLL(None, use_errno=True)


def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def write_file(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def user_namespace():
    """A user namespace mapping this process's ids to themselves."""
    uid, gid = os.geteuid(), os.getegid()
    check(libc.unshare(CLONE_NEWUSER), "unshare CLONE_NEWUSER")
    write_file("/proc/self/setgroups", "deny")
    write_file("/proc/self/uid_map", "%d %d 1" % (uid, uid))
    write_file("/proc/self/gid_map", "%d %d 1" % (gid, gid))


def tmpfs(path, size):
    check(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                     b"size=%d" % size), "mount tmpfs on " + path)


def machine_busy_us():
    with open("/proc/stat") as f:
        t = [int(x) for x in f.readline().split()[1:9]]
    # All but idle and iowait, as cact bench counts it; guest time is in user.
    return (sum(t) - t[3] - t[4]) * 1_000_000 // os.sysconf("SC_CLK_TCK")


def cpu_us():
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return int((s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime) * 1e6)


def load_runner(source):
    runner = types.ModuleType("cact_runner")
    exec(compile(source, "<cact-runner>", "exec"), runner.__dict__)
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1)
    os.dup2(devnull, 1)
    runner.preload()
    runner.run(SNIPPET, finish=False)
    sys.stdout.flush()
    os.dup2(saved, 1)
    os.close(saved)
    os.close(devnull)
    gc.collect()
    gc.freeze()
    return runner


def child(runner, out, sandboxed, run_code):
    try:
        if sandboxed:
            user_namespace()
            check(libc.unshare(CLONE_NEWNS), "unshare CLONE_NEWNS")
            tmpfs(SCRATCH + "/output", 64 << 20)
            tmpfs(SCRATCH + "/tmp", 64 << 20)
        os.dup2(out, 1)
        if not run_code:
            os._exit(0 if os.write(1, b"4950\n") == 5 else 1)
        code, _ = runner.run(SNIPPET)
        os._exit(code)
    except BaseException as exc:
        os.write(2, ("fork floor: %s\n" % exc).encode())
        os._exit(111)


def loop(n, sandboxed, run_code=True):
    runner = load_runner(sys.stdin.buffer.read())
    pidns = os.open("/proc/self/ns/pid", os.O_RDONLY) if sandboxed else -1
    r, w = os.pipe()
    times = []
    c0, m0 = cpu_us(), machine_busy_us()
    for _ in range(n):
        t = time.perf_counter_ns()
        if sandboxed:
            check(libc.setns(pidns, CLONE_NEWPID), "setns CLONE_NEWPID")
            check(libc.unshare(CLONE_NEWPID), "unshare CLONE_NEWPID")
        pid = libc.fork()  # no after-fork hooks: cact's zygote runs none either
        if pid == 0:
            child(runner, w, sandboxed, run_code)
        if pid < 0:
            check(-1, "fork")
        # Reaped first: a child that failed wrote nothing, and this process
        # holds the pipe's other end. The output (5 bytes) waits in the pipe.
        _, status = os.waitpid(pid, 0)
        if status != 0:
            raise SystemExit("fork floor: a child ended with %d" % os.waitstatus_to_exitcode(status))
        if not os.read(r, 4096).startswith(b"4950"):
            raise SystemExit("fork floor: the snippet printed something else")
        times.append((time.perf_counter_ns() - t) // 1000)
    c1, m1 = cpu_us(), machine_busy_us()
    sys.stdout.write("".join("%d\n" % v for v in times))
    sys.stdout.write("cpu %d %d\n" % (c1 - c0, m1 - m0))
    sys.stdout.flush()


def main():
    n, mode = int(sys.argv[1]), sys.argv[2]
    if mode == "fork":
        loop(n, False)
        return
    if mode not in ("namespaces", "namespaces-only"):
        raise SystemExit("fork floor: unknown mode %r" % mode)
    # Once, as the zygote: its namespaces, a private mount tree and, over
    # this namespace's /tmp, a tmpfs holding the children's mount points.
    user_namespace()
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID),
          "unshare")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    tmpfs(SCRATCH, 1 << 20)
    for name in ("output", "tmp"):
        os.mkdir(SCRATCH + "/" + name)
    pid = libc.fork()  # the first process of the new pid namespace runs the loop
    if pid == 0:
        try:
            loop(n, True, mode == "namespaces")
        except BaseException as exc:
            sys.stderr.write("fork floor: %s\n" % exc)
            sys.stdout.flush()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    sys.exit(0 if status == 0 else 1)


main()
