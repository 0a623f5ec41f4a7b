/* SPDX-License-Identifier: MIT */
/*
 * Third-party packages in the zygote: the runtime's preload option, the
 * single-thread rule it keeps, numerical thread pools held to one thread,
 * and matplotlib headless with plt.show() writing PNG files to /output.
 * Uses Debian's python3-numpy, python3-pandas and python3-matplotlib
 * (scripts/install-deps installs them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common.h"

static const char *const dist_packages[] = {"/usr/lib/python3/dist-packages"};

static int runtime_with(const char *const *preload, size_t n, const char *extra_path,
			struct cact_runtime **rt, struct cact_error *err)
{
	struct cact_runtime_options o;
	const char *paths[2] = {dist_packages[0], extra_path};

	cact_runtime_options_init(&o);
	o.python_paths = paths;
	o.n_python_paths = extra_path ? 2 : 1;
	o.preload = preload;
	o.n_preload = n;
	return cact_runtime_new(&o, rt, err);
}

static void assert_out(const struct cact_result *r, const char *want)
{
	ck_assert_msg(strcmp(t_out(r), want) == 0, "stdout \"%s\", expected \"%s\" (stderr %s)",
		      t_out(r), want, t_err(r));
}

/* Preloaded modules are there before the code runs, and BLAS pools have one thread. */
START_TEST(preloaded_modules_are_imported)
{
	static const char *const mods[] = {"numpy", "pandas"};
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};
	struct cact_result *r;

	ck_assert_msg(runtime_with(mods, 2, NULL, &rt, &err) == 0, "%s", err.message);
	r = t_run(
		rt,
		"import sys, os\n"
		"print('numpy' in sys.modules, 'pandas' in sys.modules)\n"
		"print(os.environ.get('OPENBLAS_NUM_THREADS'), os.environ.get('OMP_NUM_THREADS'))\n"
		"import pandas as pd\n"
		"df = pd.DataFrame({'k': ['a', 'b', 'a'], 'v': [1, 2, 3]})\n"
		"print(df.groupby('k').v.sum().to_dict())\n",
		60000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "True True\n1 1\n{'a': 4, 'b': 2}\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

START_TEST(preload_names_checked)
{
	static const char *const bad[] = {"numpy", "os; import x"};
	static const char *const missing[] = {"no_such_module_cact"};
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};

	ck_assert_int_eq(runtime_with(bad, 2, NULL, &rt, &err), CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "'os; import x' is not a module name"), "%s",
		      err.message);
	ck_assert_ptr_null(rt);
	ck_assert_int_ne(runtime_with(missing, 1, NULL, &rt, &err), 0);
	ck_assert_msg(strstr(err.message, "cannot import no_such_module_cact") &&
			      strstr(err.message, "ModuleNotFoundError"),
		      "%s", err.message);
	ck_assert_ptr_null(rt);
}
END_TEST

/* A module that leaves a thread in the zygote stops start-up, named. */
START_TEST(preload_refuses_a_module_that_starts_a_thread)
{
	static const char *const mods[] = {"json", "spawns_thread"};
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};
	/* Not under /tmp: every execution has its own /tmp, so a python path cannot be there. */
	char tmpl[] = "/var/tmp/cact-test-XXXXXX", *dir = mkdtemp(tmpl);

	ck_assert_ptr_nonnull(dir);
	dir = strdup(dir);
	t_write(dir, "spawns_thread.py",
		"import threading, time\n"
		"threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n");
	ck_assert_int_ne(runtime_with(mods, 2, dir, &rt, &err), 0);
	ck_assert_msg(strstr(err.message, "importing spawns_thread left 1 threads running"), "%s",
		      err.message);
	ck_assert_ptr_null(rt);
	t_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(python_path_under_tmp_refused)
{
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};
	char *dir = t_tmpdir();

	ck_assert_int_eq(runtime_with(NULL, 0, dir, &rt, &err), CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "every execution has its own"), "%s", err.message);
	ck_assert_ptr_null(rt);
	t_rmtree(dir);
	free(dir);
}
END_TEST

/* plt.show() writes each open figure to /output as PNG, as a notebook shows it. */
START_TEST(matplotlib_show_saves_png)
{
	static const char *const mods[] = {"matplotlib.pyplot"};
	struct cact_runtime *rt = NULL;
	struct cact_error err = {0};
	struct cact_result *r;
	struct cact_file f;

	ck_assert_msg(runtime_with(mods, 1, NULL, &rt, &err) == 0, "%s", err.message);
	r = t_run(rt,
		  "import matplotlib.pyplot as plt\n"
		  "plt.plot([1, 3, 2])\n"
		  "plt.title('t')\n"
		  "plt.show()\n"
		  "plt.figure(); plt.bar(['a', 'b'], [1, 2]); plt.show()\n"
		  "print(plt.get_fignums(), plt.get_backend())\n",
		  60000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "[figure saved to /output/figure-1.png]\n"
		      "[figure saved to /output/figure-2.png]\n"
		      "[] module://_cact_matplotlib\n");
	ck_assert_uint_eq(cact_result_file_count(r), 2);
	ck_assert_int_eq(cact_result_file(r, 0, &f), 0);
	ck_assert_str_eq(f.path, "/output/figure-1.png");
	ck_assert_str_eq(f.media_type, "image/png");
	ck_assert(f.size > 8 && memcmp(f.data, "\x89PNG\r\n\x1a\n", 8) == 0);
	cact_result_free(r);
	/* savefig works as usual too, headless. */
	r = t_run(rt,
		  "import matplotlib.pyplot as plt\n"
		  "fig, ax = plt.subplots(); ax.plot([0, 1])\n"
		  "fig.savefig('/output/mine.svg')\n"
		  "import os; print(os.listdir('/output'))\n",
		  60000);
	t_assert_status(r, CACT_STATUS_OK);
	assert_out(r, "['mine.svg']\n");
	cact_result_free(r);
	cact_runtime_free(rt);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(preloaded_modules_are_imported, 120),
		T_CASE(preload_names_checked, 120),
		T_CASE(preload_refuses_a_module_that_starts_a_thread, 60),
		T_CASE(python_path_under_tmp_refused, 30),
		T_CASE(matplotlib_show_saves_png, 180),
	};

	if (access("/usr/lib/python3/dist-packages/matplotlib", F_OK) != 0) {
		printf("SKIP: packages: Debian's python3-matplotlib is not installed "
		       "(scripts/install-deps installs it)\n");
		return 77;
	}
	return t_main("packages", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
