/* SPDX-License-Identifier: MIT */
/*
 * The sandbox layer: namespaces, the private root, per-execution mounts,
 * rlimits, capabilities, landlock and seccomp. docs/sandbox.md tells the
 * whole story; sbx_enter() in enter.c owns the order of the final steps.
 */
#ifndef CACT_SANDBOX_H
#define CACT_SANDBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cact/error.h>
#include <cact/runtime.h>

/* The uid and gid the code runs as inside its user namespace. */
#define SBX_UID	     1000
#define SBX_GID	     1000
#define SBX_HOSTNAME "cact"

/* ---- namespaces (guest outer process) ---- */

/*
 * Creates the user namespace (mapping SBX_UID/SBX_GID to the caller's ids)
 * and then the other namespaces one by one, so that a missing one can be
 * named. want: CACT_FEATURE_* bits to create; required: bits whose absence is
 * fatal. *got receives what was created. On failure err names the feature.
 */
int sbx_unshare(unsigned want, unsigned required, unsigned *got, struct cact_error *err);

/* ---- the private root (zygote) ---- */

struct sbx_root_spec {
	const char *const *ro_paths; /* host paths bound read-only at the same place */
	size_t n_ro_paths;
};

/*
 * Builds the private root on a tmpfs attached at a staging point of this
 * (already private) mount namespace: the read-only runtime paths, /dev/null,
 * /dev/zero, /dev/urandom, an /etc with passwd and group only, and empty
 * /input, /output, /tmp mount points. Also returns, in *host_tree, a
 * detached copy of the host's mount tree from which executions bind their
 * mounts, and in *procfd a detached procfs of the caller's pid namespace
 * through which executions write their id maps and pid cap. Does not pivot:
 * see sbx_root_enter.
 */
int sbx_root_build(const struct sbx_root_spec *spec, int *host_tree, int *procfd,
		   struct cact_error *err);

/* pivot_root into the private root, detach the host tree, make / read-only. */
int sbx_root_enter(struct cact_error *err);

/* ---- per-execution mounts (execution child, before it unshares) ---- */

struct sbx_mount {
	const char *host;  /* absolute host path, resolved by the host */
	const char *guest; /* "/input/..." (unused for the workspace) */
	dev_t dev;	   /* what the host validated: the bind must be this inode */
	ino_t ino;
	int is_dir;
};

struct sbx_limits {
	uint64_t cpu_s;	   /* RLIMIT_CPU (soft; hard is one more) */
	uint64_t as_bytes; /* RLIMIT_AS */
	uint64_t nofile;
	uint64_t nproc;
	uint64_t fsize;
	uint64_t stack;
};

struct sbx_filter {
	const struct sock_filter *insns;
	unsigned short len;
};

/* Everything sbx_enter needs to turn a warm child into a sandboxed execution. */
struct sbx_exec {
	int host_tree;	  /* from sbx_root_build; closed by sbx_enter */
	int procfd;	  /* the zygote's procfs (its pid namespace); closed by sbx_enter */
	int landlock_abi; /* 0: go without landlock (reduced isolation) */
	const struct sbx_filter *filter;
	const struct sbx_mount *workspace; /* NULL: none */
	const struct sbx_mount *mounts;
	size_t n_mounts;
	uint64_t output_bytes;
	uint64_t output_inodes;
	uint64_t tmp_bytes;
	uint64_t pid_max; /* pids of the execution's pid namespace (Linux 6.14+), 0: leave */
	int last_fd;	  /* fds 0..last_fd stay open: stdio and the wire socket */
};

/*
 * Builds /input, /output and /tmp of one execution (see mounts.c) and leaves
 * the caller in a mount namespace of its own. Part of sbx_enter.
 */
int sbx_exec_mounts(const struct sbx_exec *x, unsigned *applied, struct cact_error *err);

/* Extra protections sbx_exec_mounts reports as applied. */
#define SBX_APPLIED_PID_MAX (1u << 0) /* per-namespace pid_max took */
#define SBX_APPLIED_USERNS  (1u << 1) /* execution has a user namespace of its own */

/*
 * The ordered entry into the sandbox, run by the execution child before its
 * request arrives. Any failure leaves the process in an undefined state: the
 * caller must _exit. Returns 0 or a negative code with err set.
 */
int sbx_enter(const struct sbx_exec *x, unsigned *applied, struct cact_error *err);

/* The request's rlimits, hard = soft: the last step before the code. */
int sbx_set_limits(const struct sbx_limits *l, struct cact_error *err);

/* ---- seccomp ---- */

/*
 * Compiles the execution filter into its two layers (seccomp.c says why):
 * the base layer the zygote installs once, and the closing layer each child
 * installs last. Both owned (sbx_seccomp_free). Build time only
 * (tools/seccomp_bpf.c): the guest uses sbx_seccomp_builtin.
 */
int sbx_seccomp_build(struct sbx_filter *base, struct sbx_filter *closing, struct cact_error *err);
void sbx_seccomp_free(struct sbx_filter *f);
/* Both layers as sbx_seccomp_build compiled them when cact was built; static, never freed. */
void sbx_seccomp_builtin(struct sbx_filter *base, struct sbx_filter *closing);
/* Installs it on every thread of the caller. 0 or -errno. */
int sbx_seccomp_install(const struct sbx_filter *f);

/* ---- landlock ---- */

/* The running kernel's landlock ABI, 0 when unavailable. */
int sbx_landlock_abi(void);
/* Builds the execution ruleset on the execution's paths. Returns an fd or a negative code. */
int sbx_landlock_ruleset(int abi, struct cact_error *err);
/* landlock_restrict_self. 0 or -errno. */
int sbx_landlock_restrict(int ruleset);

/* ---- small syscall wrappers ---- */

/* A detached tmpfs mount (fsopen/fsconfig/fsmount). Returns the mount fd or a negative code. */
int sbx_tmpfs(uint64_t size, uint64_t inodes, unsigned attrs, struct cact_error *err);
/* mkdir -p of rel under dirfd. 0 or -errno. */
int sbx_mkdirs(int dirfd, const char *rel, mode_t mode);

#endif
