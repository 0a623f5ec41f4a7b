/* SPDX-License-Identifier: MIT */
/*
 * The interpreter settings a configuration carries for its runtime:
 * python_path (folders added to the import path) and preload (modules
 * imported once in the zygote). A configuration does not start runtimes;
 * whoever starts one passes them on (cact_codeact_python), so they are
 * checked here, when they are set, with the runtime's own rules.
 */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../util/util.h"
#include "codeact.h"

static void strv_free(char **v, size_t n)
{
	while (n > 0)
		free(v[--n]);
	free(v);
}

void cc_python_free(struct cact_codeact *cc)
{
	strv_free(cc->py_paths, cc->n_py_paths);
	strv_free(cc->preload, cc->n_preload);
	cc->py_paths = cc->preload = NULL;
	cc->n_py_paths = cc->n_preload = 0;
}

static int strv_dup(char *const *v, size_t n, char ***out)
{
	size_t i;

	*out = NULL;
	if (n == 0)
		return 0;
	if (!(*out = calloc(n, sizeof(**out))))
		return CACT_ENOMEM;
	for (i = 0; i < n; i++)
		if (!((*out)[i] = strdup(v[i]))) {
			strv_free(*out, i);
			*out = NULL;
			return CACT_ENOMEM;
		}
	return 0;
}

int cc_python_copy(struct cact_codeact *dst, const struct cact_codeact *src)
{
	dst->py_paths = dst->preload = NULL;
	dst->n_py_paths = dst->n_preload = 0;
	if (strv_dup(src->py_paths, src->n_py_paths, &dst->py_paths))
		return CACT_ENOMEM;
	dst->n_py_paths = src->n_py_paths;
	if (strv_dup(src->preload, src->n_preload, &dst->preload)) {
		cc_python_free(dst);
		return CACT_ENOMEM;
	}
	dst->n_preload = src->n_preload;
	return 0;
}

/* Appends s unless the list has it already (the first place is kept). */
static int strv_add(char ***v, size_t *n, const char *s)
{
	char **grown, *copy;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0)
			return 0;
	if (!(copy = strdup(s)))
		return CACT_ENOMEM;
	if (!(grown = realloc(*v, (*n + 1) * sizeof(*grown)))) {
		free(copy);
		return CACT_ENOMEM;
	}
	grown[(*n)++] = copy;
	*v = grown;
	return 0;
}

/* Lock held or a private copy. */
static int add_path(struct cact_codeact *cc, const char *dir, struct cact_error *err)
{
	char real[PATH_MAX];
	int rc;

	if ((rc = rt_python_path_check(dir, real, sizeof(real), err)))
		return rc;
	if (cc->n_py_paths == RT_PYTHON_PATH_MAX)
		return ut_err(err, CACT_EINVAL, "more than %d python paths", RT_PYTHON_PATH_MAX);
	return strv_add(&cc->py_paths, &cc->n_py_paths, real)
		       ? ut_err(err, CACT_ENOMEM, "out of memory")
		       : 0;
}

static int add_module(struct cact_codeact *cc, const char *module, struct cact_error *err)
{
	if (!rt_module_name_ok(module))
		return ut_err(err, CACT_EINVAL,
			      "'%s' is not a module name (dotted Python identifiers, "
			      "e.g. matplotlib.pyplot)",
			      module ? module : "(null)");
	if (cc->n_preload == RT_PRELOAD_MAX)
		return ut_err(err, CACT_EINVAL, "more than %d modules to preload", RT_PRELOAD_MAX);
	return strv_add(&cc->preload, &cc->n_preload, module)
		       ? ut_err(err, CACT_ENOMEM, "out of memory")
		       : 0;
}

CACT_API int cact_codeact_add_python_path(struct cact_codeact *cc, const char *dir,
					  struct cact_error *err)
{
	int rc;

	pthread_mutex_lock(&cc->lock);
	rc = add_path(cc, dir, err);
	pthread_mutex_unlock(&cc->lock);
	return rc;
}

CACT_API int cact_codeact_add_preload(struct cact_codeact *cc, const char *module,
				      struct cact_error *err)
{
	int rc;

	pthread_mutex_lock(&cc->lock);
	rc = add_module(cc, module, err);
	pthread_mutex_unlock(&cc->lock);
	return rc;
}

CACT_API int cact_codeact_python(const struct cact_codeact *cc, struct cact_python_settings **out)
{
	struct cact_codeact *m = (struct cact_codeact *)cc;
	struct cact_python_settings *s = NULL;
	size_t size, i, n;
	const char **slots;
	char *text;

	*out = NULL;
	pthread_mutex_lock(&m->lock);
	/* One block: the struct, both pointer arrays, then the strings. */
	n = cc->n_py_paths + cc->n_preload;
	size = sizeof(*s) + n * sizeof(char *);
	for (i = 0; i < cc->n_py_paths; i++)
		size += strlen(cc->py_paths[i]) + 1;
	for (i = 0; i < cc->n_preload; i++)
		size += strlen(cc->preload[i]) + 1;
	s = malloc(size);
	if (s) {
		slots = (const char **)(s + 1);
		text = (char *)(slots + n);
		for (i = 0; i < n; i++) {
			const char *v = i < cc->n_py_paths ? cc->py_paths[i]
							   : cc->preload[i - cc->n_py_paths];
			size_t len = strlen(v) + 1;

			memcpy(text, v, len);
			slots[i] = text;
			text += len;
		}
		s->python_paths = slots;
		s->n_python_paths = cc->n_py_paths;
		s->preload = slots + cc->n_py_paths;
		s->n_preload = cc->n_preload;
	}
	pthread_mutex_unlock(&m->lock);
	if (!s)
		return CACT_ENOMEM;
	*out = s;
	return 0;
}

/* Whether v is a list of strings. */
static int string_list(json_t *v)
{
	json_t *item;
	size_t i;

	if (!json_is_array(v))
		return 0;
	json_array_foreach(v, i, item)
		if (!json_is_string(item))
			return 0;
	return 1;
}

int cc_python_apply(struct cact_codeact *cc, json_t *root, const char *folder, const char *where,
		    struct cact_error *err)
{
	char path[PATH_MAX + 1], why[CACT_ERROR_MAX];
	json_t *v, *item;
	size_t i;
	int rc;

	if ((v = json_object_get(root, "python_path"))) {
		if (!string_list(v))
			return ut_err(err, CACT_EINVAL,
				      "%s: \"python_path\" must be a list of folders", where);
		json_array_foreach(v, i, item) {
			const char *p = json_string_value(item);

			if (ut_snprintf(path, sizeof(path), "%s%s%s",
					folder && p[0] && p[0] != '/' ? folder : "",
					folder && p[0] && p[0] != '/' ? "/" : "", p) < 0)
				return ut_err(err, CACT_EINVAL,
					      "%s: \"python_path[%zu]\" is too long", where, i);
			if ((rc = add_path(cc, path, err)))
				goto relabel_path;
		}
	}
	if ((v = json_object_get(root, "preload"))) {
		if (!string_list(v))
			return ut_err(err, CACT_EINVAL,
				      "%s: \"preload\" must be a list of module names", where);
		json_array_foreach(v, i, item) {
			if ((rc = add_module(cc, json_string_value(item), err))) {
				ut_snprintf(why, sizeof(why), "%s", err ? err->message : "");
				return ut_err(err, rc, "%s: \"preload[%zu]\": %s", where, i, why);
			}
		}
	}
	return 0;
relabel_path:
	ut_snprintf(why, sizeof(why), "%s", err ? err->message : "");
	return ut_err(err, rc, "%s: \"python_path[%zu]\": %s", where, i, why);
}

int cc_python_json(const struct cact_codeact *cc, json_t *root)
{
	json_t *paths, *mods;
	size_t i;

	/* Only when set: a state without them reads the same as before. */
	if (cc->n_py_paths) {
		if (!(paths = json_array()) || json_object_set_new(root, "python_path", paths))
			return -1;
		for (i = 0; i < cc->n_py_paths; i++)
			if (json_array_append_new(paths, json_string(cc->py_paths[i])))
				return -1;
	}
	if (cc->n_preload) {
		if (!(mods = json_array()) || json_object_set_new(root, "preload", mods))
			return -1;
		for (i = 0; i < cc->n_preload; i++)
			if (json_array_append_new(mods, json_string(cc->preload[i])))
				return -1;
	}
	return 0;
}
