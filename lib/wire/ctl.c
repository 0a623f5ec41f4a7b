/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../util/util.h"
#include "ctl.h"

int ctl_send(int sock, const json_t *msg, const int *fds, size_t nfds)
{
	json_malloc_t alloc;
	json_free_t release;
	char *buf;
	size_t len;
	int rc = 0;

	/* jansson's own allocator: the zygote points it at memory no child inherits. */
	json_get_alloc_funcs(&alloc, &release);
	len = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	if (len == 0)
		return CACT_ENOMEM;
	if (len > CTL_MAX)
		return CACT_ETOOBIG;
	buf = alloc(len);
	if (!buf)
		return CACT_ENOMEM;
	if (json_dumpb(msg, buf, len, JSON_COMPACT) != len)
		rc = CACT_ENOMEM;
	else if (ut_send_fds(sock, buf, len, fds, nfds))
		rc = CACT_ESYS;
	explicit_bzero(buf, len);
	release(buf);
	return rc;
}

int ctl_recv_into(int sock, char *buf, size_t cap, json_t **msg, const char **op, int *fds,
		  size_t *nfds, struct cact_error *err)
{
	json_error_t jerr;
	json_t *root = NULL;
	ssize_t n;
	int rc = 0;

	*msg = NULL;
	*op = NULL;
	*nfds = 0;
	n = ut_recv_fds(sock, buf, cap, fds, CTL_FDS, nfds);
	if (n < 0) {
		rc = ut_err_sys(err, errno == EPROTO ? CACT_EPROTO : CACT_ESYS, errno,
				"control channel recvmsg");
		goto out;
	}
	if (n == 0) {
		rc = 1;
		goto out;
	}
	root = json_loadb(buf, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
	if (!root || !json_is_object(root) || !json_is_string(json_object_get(root, "op"))) {
		rc = ut_err(err, CACT_EPROTO, "control channel: malformed message");
		goto out;
	}
	*op = json_string_value(json_object_get(root, "op"));
	*msg = root;
	root = NULL;
out:
	if (rc) {
		while (*nfds > 0)
			close(fds[--*nfds]);
	}
	json_decref(root);
	/* Messages may name host paths; whoever forks later inherits this heap. */
	explicit_bzero(buf, n > 0 ? (size_t)n : 0);
	return rc;
}

int ctl_recv(int sock, json_t **msg, const char **op, int *fds, size_t *nfds,
	     struct cact_error *err)
{
	char *buf = malloc(CTL_MAX + 1);
	int rc;

	*msg = NULL;
	*op = NULL;
	*nfds = 0;
	if (!buf)
		return ut_err(err, CACT_ENOMEM, "out of memory");
	rc = ctl_recv_into(sock, buf, CTL_MAX, msg, op, fds, nfds, err);
	free(buf);
	return rc;
}
