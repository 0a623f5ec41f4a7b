/* SPDX-License-Identifier: MIT */
#ifndef CACT_RESULT_H
#define CACT_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include <cact/error.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The outcome of one execution. Immutable once returned; safe to read from any thread. */
struct cact_result;

enum cact_status {
	CACT_STATUS_OK = 0,	       /* the code ran to the end with exit code 0 */
	CACT_STATUS_PYTHON_ERROR,      /* uncaught exception or non-zero exit code */
	CACT_STATUS_TIMEOUT,	       /* wall-clock or CPU limit; the sandbox was killed */
	CACT_STATUS_MEMORY_LIMIT,      /* the memory cap was hit */
	CACT_STATUS_OUTPUT_LIMIT,      /* output beyond what the caps allow */
	CACT_STATUS_SANDBOX_VIOLATION, /* killed by the seccomp filter, or broke the wire protocol */
	CACT_STATUS_CRASHED,	       /* any other fatal signal */
	CACT_STATUS_SETUP_ERROR,       /* the sandbox could not be built; no code ran */
	CACT_STATUS_CANCELLED,	       /* stopped by the caller (cact_request_set_cancel_fd) */
	CACT_STATUS_BUSY,	       /* no sandbox within the queue's bound; no code ran: retry */
};

/* Static name of a status ("ok", "python_error", ...). */
CACT_API const char *cact_status_name(enum cact_status s);

struct cact_file {
	const char *path;	/* "/output/..." (borrowed from the result) */
	const char *media_type; /* by extension; "application/octet-stream" otherwise */
	const unsigned char *data;
	size_t size;
};

struct cact_stats {
	uint64_t wall_us;      /* request sent to the code's end (the sandbox stopped, or dead) */
	uint64_t cpu_us;       /* user + system time of the sandbox */
	uint64_t peak_rss_kib; /* largest resident set of the sandbox */
	uint64_t tool_calls;   /* call_tool calls, refused ones included */
	uint64_t tool_us;      /* time handlers ran (summed; calls may overlap) */
	uint64_t
		http_requests; /* HTTP requests (each redirect hop counts), refused ones included */
	uint64_t http_bytes;   /* HTTP bytes sent and received (bodies and headers) */
	uint64_t queue_us;     /* time spent waiting for a sandbox before the code could start */
};

/* One HTTP request hop of the code (a redirect is a hop of its own). */
struct cact_http_entry {
	const char *method;
	const char *url; /* canonical; as written (repaired to UTF-8) when unparsable */
	int status;	 /* 0 when there was no response */
	uint64_t bytes_in, bytes_out;
	int allowed;	   /* 0 when the policy refused it */
	const char *error; /* NULL when none */
};

CACT_API enum cact_status cact_result_status(const struct cact_result *r);
/* Process exit code: SystemExit's code, 1 for an uncaught exception, -1 when killed. */
CACT_API int cact_result_exit_code(const struct cact_result *r);

/*
 * Captured streams, borrowed from r, NUL-terminated, possibly not valid
 * UTF-8. *truncated (when non-NULL) says whether the cap cut them; a
 * truncated stream ends with a visible marker line.
 */
CACT_API const char *cact_result_stdout(const struct cact_result *r, size_t *len, int *truncated);
CACT_API const char *cact_result_stderr(const struct cact_result *r, size_t *len, int *truncated);

/*
 * Error details, borrowed: for a Python error (python_error, or memory_limit
 * reached through an uncaught MemoryError) the exception type, message and
 * traceback; for other failures type is the status name, message says what
 * happened and traceback is NULL. All NULL on success.
 */
CACT_API const char *cact_result_error_type(const struct cact_result *r);
CACT_API const char *cact_result_error_message(const struct cact_result *r);
CACT_API const char *cact_result_error_traceback(const struct cact_result *r);

CACT_API size_t cact_result_file_count(const struct cact_result *r);
/* Fills *f with borrowed pointers. CACT_EINVAL when i is out of range. */
CACT_API int cact_result_file(const struct cact_result *r, size_t i, struct cact_file *f);

/*
 * Entries of /output that were not returned (symlinks, hard links, FIFOs,
 * devices, over a cap), each "path: reason". Borrowed.
 */
CACT_API size_t cact_result_skipped_count(const struct cact_result *r);
CACT_API const char *cact_result_skipped(const struct cact_result *r, size_t i);

CACT_API void cact_result_stats(const struct cact_result *r, struct cact_stats *out);

/* The HTTP log, every hop in order, borrowed. CACT_EINVAL when i is out of range. */
CACT_API size_t cact_result_http_count(const struct cact_result *r);
CACT_API int cact_result_http(const struct cact_result *r, size_t i, struct cact_http_entry *out);

/* Borrowed JSON object of the isolation in force (as cact_runtime_isolation_json). */
CACT_API const char *cact_result_isolation_json(const struct cact_result *r);

/*
 * The whole result as one JSON object: status, success, exit_code, stdout,
 * stderr, stdout_truncated, stderr_truncated, error, files (path, media_type,
 * size, data in base64), skipped, stats, network (the HTTP log: method, url,
 * status, bytes_in, bytes_out, allowed, error), isolation, contents (as
 * cact_result_contents_json). Streams that are not
 * valid UTF-8 have the bad bytes replaced by U+FFFD. Owned (cact_free);
 * NULL when out of memory.
 */
CACT_API char *cact_result_to_json(const struct cact_result *r);

/*
 * The result as the content items execute_code returns, a JSON array, in
 * order: stdout as {"type":"text","text":...}; one {"type":"data","path",
 * "media_type","size","data":"data:<type>;base64,..."} per /output file;
 * stderr as text when the run succeeded; when it failed, {"type":"error",
 * "message":"Execution error","details":...} with the outcome, the
 * exception, stderr, and the traceback when stderr does not show it (cut
 * at its cap): the traceback once; and {"type":"text","text":"Code
 * executed successfully without output."} when nothing else was produced.
 * Owned (cact_free); NULL when out of memory.
 */
CACT_API char *cact_result_contents_json(const struct cact_result *r);

/*
 * What the model is told about an execution: the text contents joined
 * (stdout, and stderr when the run succeeded), one line per /output file
 * with its path, media type and size, and what it is: "an image, WxH
 * pixels" (PNG, JPEG, GIF, WebP; the pixels when the header gives them) or
 * "text" (the bytes stay on the host, unshown), and, when the run failed,
 * an "Execution error" part with the outcome and the details above (the
 * traceback once). Owned (cact_free), valid UTF-8.
 */
CACT_API char *cact_result_model_text(const struct cact_result *r);

enum cact_save_flags {
	CACT_SAVE_FORCE = 1u << 0, /* replace existing regular files (the name, not the inode) */
};

/*
 * Writes the result's files under host folder dir (created, with its
 * missing parents, when missing; its last component must not be a
 * symlink). Never follows a symlink below dir. Each file is written to a
 * temporary name in its folder, flushed (fsync), then renamed into place,
 * so no partial file is ever left under a real name (the temporary is
 * removed on failure). Without CACT_SAVE_FORCE an existing name is never
 * replaced; with it an existing regular file's name is replaced by the new
 * file (rename), so a hard link in dir never carries the new bytes
 * elsewhere. Symlinks and other non-regular entries in the way are refused
 * either way.
 *
 * One file's failure does not stop the others: every file that can be
 * saved is. Returns 0 when all were saved; otherwise the code of the first
 * failure (CACT_EEXIST a name is taken, CACT_EINVAL a symlink or non-file
 * in the way or a bad path, CACT_ESYS a system call failed, e.g. "cannot
 * write DIR/a.bin: write: ENOSPC") with its message, plus how many more
 * failed. When dir itself cannot be created or opened nothing is written.
 * Thread-safe for distinct folders.
 */
CACT_API int cact_result_save_files(const struct cact_result *r, const char *dir, unsigned flags,
				    struct cact_error *err);

/*
 * The outcome of saving file index (as cact_result_file): err NULL when it
 * was saved, otherwise why not (borrowed for the call).
 */
typedef void (*cact_save_fn)(void *user, size_t index, const struct cact_error *err);

/*
 * cact_result_save_files, calling fn (when non-NULL) once per file, in
 * order, with its outcome. fn is not called when dir itself fails.
 */
CACT_API int cact_result_save_files_report(const struct cact_result *r, const char *dir,
					   unsigned flags, cact_save_fn fn, void *user,
					   struct cact_error *err);

/*
 * Checks, before any code runs, that files can be saved under dir: creates
 * it with its missing parents (as cact_result_save_files), refuses a
 * symlink or a non-folder (CACT_EINVAL), and creates and removes a
 * temporary file in it (CACT_ESYS when that fails: EACCES, EROFS, ENOSPC).
 * Name clashes cannot be known before the files exist: they are reported
 * by the save itself. 0 or a negative code.
 */
CACT_API int cact_result_save_check(const char *dir, struct cact_error *err);

CACT_API void cact_result_free(struct cact_result *r);

#ifdef __cplusplus
}
#endif
#endif
