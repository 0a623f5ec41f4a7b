/* SPDX-License-Identifier: MIT */
/*
 * The subset of JSON Schema that tool parameters are checked against: type,
 * properties, required, additionalProperties, enum, const, items, minimum,
 * maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength,
 * minItems, maxItems. Other keywords (description, title, default, format,
 * anyOf, ...) are ignored, as JSON Schema ignores keywords a validator does
 * not implement. No JSON Schema library exists in Debian for C; this one
 * is small on purpose.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../util/util.h"
#include "tools.h"

#define MAX_DEPTH    64
#define PATH_MAX_LEN 256

static const char *type_of(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static int is_type(const json_t *v, const char *type)
{
	if (strcmp(type, "integer") == 0) {
		if (json_is_integer(v))
			return 1;
		/* 2.0 is an integer to JSON Schema. */
		return json_is_real(v) && isfinite(json_real_value(v)) &&
		       floor(json_real_value(v)) == json_real_value(v);
	}
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	return strcmp(type_of(v), type) == 0;
}

static int known_type(const char *t)
{
	static const char *const types[] = {"object", "array",	 "string", "integer",
					    "number", "boolean", "null"};
	size_t i;

	for (i = 0; i < UT_ARRAY_SIZE(types); i++)
		if (strcmp(t, types[i]) == 0)
			return 1;
	return 0;
}

/* Unicode code points in a valid UTF-8 string. */
static size_t utf8_len(const char *s, size_t n)
{
	size_t i, count = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			count++;
	return count;
}

static double num(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

struct ctx {
	char path[PATH_MAX_LEN];
	struct cact_error *err;
};

static int fail(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct ctx *c, const char *fmt, ...)
{
	char msg[CACT_ERROR_MAX];
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	va_end(ap);
	return ut_err(c->err, CACT_EINVAL, "%s: %s", c->path[0] ? c->path : "$", msg);
}

/* Appends ".key" or "[i]" to the path; returns the old length to restore. */
static size_t push_key(struct ctx *c, const char *key)
{
	size_t n = strlen(c->path);

	if (n + strlen(key) + 2 < sizeof(c->path))
		ut_snprintf(c->path + n, sizeof(c->path) - n, ".%s", key);
	return n;
}

static size_t push_index(struct ctx *c, size_t i)
{
	size_t n = strlen(c->path);

	ut_snprintf(c->path + n, sizeof(c->path) - n, "[%zu]", i);
	return n;
}

static int validate(struct ctx *c, const json_t *s, const json_t *v, int depth);

static int check_type(struct ctx *c, const json_t *s, const json_t *v)
{
	const json_t *t = json_object_get(s, "type");
	char want[128] = "";
	size_t i;
	json_t *item;

	if (!t)
		return 0;
	if (json_is_string(t)) {
		if (is_type(v, json_string_value(t)))
			return 0;
		return fail(c, "expected %s, got %s", json_string_value(t), type_of(v));
	}
	json_array_foreach(t, i, item) {
		if (is_type(v, json_string_value(item)))
			return 0;
		ut_snprintf(want + strlen(want), sizeof(want) - strlen(want), "%s%s",
			    i ? " or " : "", json_string_value(item));
	}
	return fail(c, "expected %s, got %s", want, type_of(v));
}

static int check_number(struct ctx *c, const json_t *s, const json_t *v)
{
	const json_t *k;
	char a[64], b[64];

	if (!json_is_number(v))
		return 0;
	ut_snprintf(a, sizeof(a), "%.17g", num(v));
	if ((k = json_object_get(s, "minimum")) && num(v) < num(k)) {
		ut_snprintf(b, sizeof(b), "%.17g", num(k));
		return fail(c, "%s is below the minimum %s", a, b);
	}
	if ((k = json_object_get(s, "maximum")) && num(v) > num(k)) {
		ut_snprintf(b, sizeof(b), "%.17g", num(k));
		return fail(c, "%s is above the maximum %s", a, b);
	}
	if ((k = json_object_get(s, "exclusiveMinimum")) && json_is_number(k) && num(v) <= num(k)) {
		ut_snprintf(b, sizeof(b), "%.17g", num(k));
		return fail(c, "%s is not above %s", a, b);
	}
	if ((k = json_object_get(s, "exclusiveMaximum")) && json_is_number(k) && num(v) >= num(k)) {
		ut_snprintf(b, sizeof(b), "%.17g", num(k));
		return fail(c, "%s is not below %s", a, b);
	}
	return 0;
}

static int check_string(struct ctx *c, const json_t *s, const json_t *v)
{
	const json_t *k;
	size_t len;
	char n[32];

	if (!json_is_string(v))
		return 0;
	len = utf8_len(json_string_value(v), json_string_length(v));
	if ((k = json_object_get(s, "minLength")) && (json_int_t)len < json_integer_value(k)) {
		ut_snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(k));
		return fail(c, "shorter than %s characters%s", n, "");
	}
	if ((k = json_object_get(s, "maxLength")) && (json_int_t)len > json_integer_value(k)) {
		ut_snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(k));
		return fail(c, "longer than %s characters%s", n, "");
	}
	return 0;
}

static int check_array(struct ctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *k, *items;
	json_t *item;
	size_t i, old;
	char n[32];
	int rc;

	if (!json_is_array(v))
		return 0;
	if ((k = json_object_get(s, "minItems")) &&
	    (json_int_t)json_array_size(v) < json_integer_value(k)) {
		ut_snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(k));
		return fail(c, "fewer than %s items%s", n, "");
	}
	if ((k = json_object_get(s, "maxItems")) &&
	    (json_int_t)json_array_size(v) > json_integer_value(k)) {
		ut_snprintf(n, sizeof(n), "%lld", (long long)json_integer_value(k));
		return fail(c, "more than %s items%s", n, "");
	}
	items = json_object_get(s, "items");
	if (!json_is_object(items) && !json_is_false(items))
		return 0;
	json_array_foreach(v, i, item) {
		old = push_index(c, i);
		rc = validate(c, items, item, depth + 1);
		if (rc)
			return rc;
		c->path[old] = '\0';
	}
	return 0;
}

static int check_object(struct ctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *props = json_object_get(s, "properties");
	const json_t *req = json_object_get(s, "required");
	const json_t *extra = json_object_get(s, "additionalProperties");
	const char *key;
	json_t *item;
	size_t i, old;
	int rc;

	if (!json_is_object(v))
		return 0;
	json_array_foreach(req, i, item) {
		if (json_is_string(item) && !json_object_get(v, json_string_value(item)))
			return fail(c, "missing required property '%s'%s", json_string_value(item),
				    "");
	}
	json_object_foreach((json_t *)v, key, item) {
		const json_t *sub = json_object_get(props, key);

		if (!sub) {
			if (json_is_false(extra))
				return fail(c, "unexpected property '%s'%s", key, "");
			if (!json_is_object(extra))
				continue;
			sub = extra;
		}
		old = push_key(c, key);
		rc = validate(c, sub, item, depth + 1);
		if (rc)
			return rc;
		c->path[old] = '\0';
	}
	return 0;
}

/* JSON equality with numbers compared by value (1 equals 1.0), as JSON Schema does. */
static int same_value(const json_t *a, const json_t *b, int depth)
{
	if (depth > MAX_DEPTH)
		return 0;
	if (json_is_number(a) && json_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	}
	if (json_is_array(a) && json_is_array(b)) {
		size_t i;

		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (i = 0; i < json_array_size(a); i++)
			if (!same_value(json_array_get(a, i), json_array_get(b, i), depth + 1))
				return 0;
		return 1;
	}
	if (json_is_object(a) && json_is_object(b)) {
		const char *key;
		json_t *item;

		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach((json_t *)a, key, item) {
			const json_t *other = json_object_get(b, key);

			if (!other || !same_value(item, other, depth + 1))
				return 0;
		}
		return 1;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

static int validate(struct ctx *c, const json_t *s, const json_t *v, int depth)
{
	const json_t *k;
	int rc;

	if (depth > MAX_DEPTH)
		return fail(c, "nested deeper than %s levels%s", "64", "");
	if (json_is_false(s))
		return fail(c, "no value is allowed here%s%s", "", "");
	if (json_is_true(s) || !json_is_object(s))
		return 0;
	if ((rc = check_type(c, s, v)))
		return rc;
	if ((k = json_object_get(s, "enum"))) {
		size_t i;
		json_t *item;
		int found = 0;

		json_array_foreach(k, i, item)
			if (same_value(item, v, depth))
				found = 1;
		if (!found)
			return fail(c, "not one of the allowed values%s%s", "", "");
	}
	if ((k = json_object_get(s, "const")) && !same_value(k, v, depth))
		return fail(c, "not the required constant value%s%s", "", "");
	if ((rc = check_number(c, s, v)) || (rc = check_string(c, s, v)) ||
	    (rc = check_array(c, s, v, depth)) || (rc = check_object(c, s, v, depth)))
		return rc;
	return 0;
}

int schema_validate(const json_t *schema, const json_t *value, struct cact_error *err)
{
	struct ctx c = {.path = "$", .err = err};

	return validate(&c, schema, value, 0);
}

/* Checks one schema node's keywords for the types the validator relies on. */
static int check_node(struct ctx *c, const json_t *s, int depth)
{
	static const char *const numeric[] = {"minimum", "maximum", "exclusiveMinimum",
					      "exclusiveMaximum"};
	static const char *const counts[] = {"minLength", "maxLength", "minItems", "maxItems"};
	const json_t *k, *item;
	const char *key;
	size_t i, old;
	int rc;

	if (depth > MAX_DEPTH)
		return fail(c, "schema nested deeper than %s levels%s", "64", "");
	if (json_is_boolean(s))
		return 0;
	if (!json_is_object(s))
		return fail(c, "a schema must be an object, not %s%s", type_of(s), "");
	if ((k = json_object_get(s, "type"))) {
		if (json_is_string(k)) {
			if (!known_type(json_string_value(k)))
				return fail(c, "unknown type '%s'%s", json_string_value(k), "");
		} else if (json_is_array(k) && json_array_size(k) > 0) {
			json_array_foreach(k, i, item)
				if (!json_is_string(item) || !known_type(json_string_value(item)))
					return fail(c, "bad entry in \"type\"%s%s", "", "");
		} else {
			return fail(c, "\"type\" must be a string or a list of strings%s%s", "",
				    "");
		}
	}
	for (i = 0; i < UT_ARRAY_SIZE(numeric); i++)
		if ((k = json_object_get(s, numeric[i])) && !json_is_number(k))
			return fail(c, "\"%s\" must be a number%s", numeric[i], "");
	for (i = 0; i < UT_ARRAY_SIZE(counts); i++)
		if ((k = json_object_get(s, counts[i])) &&
		    (!json_is_integer(k) || json_integer_value(k) < 0))
			return fail(c, "\"%s\" must be a non-negative integer%s", counts[i], "");
	if ((k = json_object_get(s, "enum")) && !json_is_array(k))
		return fail(c, "\"enum\" must be a list%s%s", "", "");
	if ((k = json_object_get(s, "required"))) {
		if (!json_is_array(k))
			return fail(c, "\"required\" must be a list of names%s%s", "", "");
		json_array_foreach(k, i, item)
			if (!json_is_string(item))
				return fail(c, "\"required\" must be a list of names%s%s", "", "");
	}
	if ((k = json_object_get(s, "properties"))) {
		if (!json_is_object(k))
			return fail(c, "\"properties\" must be an object%s%s", "", "");
		json_object_foreach((json_t *)k, key, item) {
			old = push_key(c, key);
			if ((rc = check_node(c, item, depth + 1)))
				return rc;
			c->path[old] = '\0';
		}
	}
	if ((k = json_object_get(s, "additionalProperties")) && !json_is_boolean(k) &&
	    (rc = check_node(c, k, depth + 1)))
		return rc;
	if ((k = json_object_get(s, "items")) && (rc = check_node(c, k, depth + 1)))
		return rc;
	return 0;
}

int schema_check(const json_t *schema, struct cact_error *err)
{
	struct ctx c = {.path = "$", .err = err};
	const json_t *t = json_object_get(schema, "type");
	int rc;

	if (!json_is_object(schema))
		return ut_err(err, CACT_EINVAL, "parameters must be a JSON Schema object");
	if (t && !(json_is_string(t) && strcmp(json_string_value(t), "object") == 0))
		return ut_err(err, CACT_EINVAL,
			      "parameters must be an object schema (\"type\": \"object\")");
	if ((rc = check_node(&c, schema, 0)))
		return rc;
	return 0;
}
