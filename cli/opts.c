/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cact/request.h>

#include "opts.h"

void cli_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cact %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * An amount of the limit's units in the option's unit: "16 MiB", "0.001 s",
 * "2.5 s"; at most three decimals, and a whole number of GiB or TiB shown
 * too ("1048576 MiB (1 TiB)").
 */
static void amount(uint64_t v, uint64_t per, const char *unit, char *out, size_t size)
{
	uint64_t whole = v / per, frac = (v % per) * 1000 / per;
	char dec[8] = "";
	int n;

	if (frac) {
		snprintf(dec, sizeof(dec), ".%03llu", (unsigned long long)frac);
		for (n = (int)strlen(dec); dec[n - 1] == '0'; n--)
			dec[n - 1] = '\0';
	}
	n = snprintf(out, size, "%llu%s %s", (unsigned long long)whole, dec, unit);
	if (n < 0 || (size_t)n >= size || per != (1u << 20) || whole < 1024 || whole % 1024)
		return;
	if (whole % (1024 * 1024) == 0)
		snprintf(out + n, size - (size_t)n, " (%llu TiB)",
			 (unsigned long long)(whole >> 20));
	else
		snprintf(out + n, size - (size_t)n, " (%llu GiB)",
			 (unsigned long long)(whole >> 10));
}

int opts_limit_range(const char *cmd, const char *option, int which, uint64_t value,
		     const char *given, uint64_t per, const char *unit)
{
	uint64_t min = cact_limit_min((enum cact_limit)which);
	uint64_t max = cact_limit_max((enum cact_limit)which);
	char bound[64];

	if (value >= min && value <= max)
		return 0;
	amount(value < min ? min : max, per, unit, bound, sizeof(bound));
	cli_error(cmd, "%s: %s %s is %s the %s of %s", option, given, unit,
		  value < min ? "below" : "above", value < min ? "minimum" : "maximum", bound);
	return -1;
}

struct opt *opts_find(struct opt *opts, size_t n_opts, const char *name)
{
	size_t i;

	for (i = 0; i < n_opts; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

const char *opts_value(struct opt *opts, size_t n_opts, const char *name)
{
	struct opt *o = opts_find(opts, n_opts, name);

	return o && o->count > 0 && o->values ? o->values[0] : NULL;
}

void opts_free(struct opt *opts, size_t n_opts)
{
	size_t i;

	for (i = 0; i < n_opts; i++) {
		free(opts[i].values);
		opts[i].values = NULL;
		opts[i].count = 0;
	}
}

static int take(const char *cmd, struct opt *o, const char *value)
{
	const char **grown;

	if (o->count > 0 && !(o->kind & OPT_REPEAT)) {
		cli_error(cmd, "--%s given more than once", o->name);
		return -1;
	}
	if (o->kind & OPT_VALUE) {
		grown = realloc(o->values, (size_t)(o->count + 1) * sizeof(*grown));
		if (!grown) {
			cli_error(cmd, "out of memory");
			return -1;
		}
		o->values = grown;
		o->values[o->count] = value;
	}
	o->count++;
	return 0;
}

int opts_parse(const char *cmd, int argc, char **argv, struct opt *opts, size_t n_opts,
	       const char **pos, size_t max_pos, size_t *n_pos)
{
	int i, only_pos = 0;

	*n_pos = 0;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *value = NULL;
		struct opt *o = NULL;
		size_t k;

		if (only_pos || a[0] != '-' || strcmp(a, "-") == 0) {
			if (*n_pos >= max_pos) {
				cli_error(cmd, "unexpected argument '%s'", a);
				return -1;
			}
			pos[(*n_pos)++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_pos = 1;
			continue;
		}
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);

			for (k = 0; k < n_opts; k++)
				if (strlen(opts[k].name) == len &&
				    strncmp(opts[k].name, a + 2, len) == 0)
					o = &opts[k];
			if (!o) {
				cli_error(cmd, "unknown option %.*s (see cact %s --help)",
					  (int)(len + 2), a, cmd);
				return -1;
			}
			if (eq) {
				if (!(o->kind & OPT_VALUE)) {
					cli_error(cmd, "--%s takes no value", o->name);
					return -1;
				}
				value = eq + 1;
			}
		} else {
			for (k = 0; k < n_opts; k++)
				if (opts[k].short_name && opts[k].short_name == a[1])
					o = &opts[k];
			if (!o || a[2] != '\0') {
				cli_error(cmd, "unknown option %s (see cact %s --help)", a, cmd);
				return -1;
			}
		}
		if ((o->kind & OPT_VALUE) && !value) {
			if (i + 1 >= argc) {
				cli_error(cmd, "--%s needs a value", o->name);
				return -1;
			}
			value = argv[++i];
		}
		if (take(cmd, o, value))
			return -1;
	}
	return 0;
}
