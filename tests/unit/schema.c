/* SPDX-License-Identifier: MIT */
/*
 * The JSON Schema subset tool arguments are checked against (schema_check,
 * schema_validate) and the public side of it: tool constructors refusing
 * bad names and bad schemas, cact_tool_validate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common.h"
#include "tools/tools.h"

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &je);

	ck_assert_msg(j != NULL, "test JSON does not parse: %s: %s", text, je.text);
	return j;
}

/* schema is well formed and value matches it. */
#define valid(schema, value) valid_at((schema), (value), __LINE__)
static void valid_at(const char *schema, const char *value, int line)
{
	struct cact_error err = {0};
	json_t *s = parse(schema), *v = parse(value);
	int rc = schema_check(s, &err);

	ck_assert_msg(rc == 0, "line %d: schema_check(%s) = %d (%s)", line, schema, rc,
		      err.message);
	rc = schema_validate(s, v, &err);
	ck_assert_msg(rc == 0, "line %d: %s against %s = %d (%s), expected valid", line, value,
		      schema, rc, err.message);
	json_decref(s);
	json_decref(v);
}

/* schema is well formed and value does not match it: CACT_EINVAL with exactly message. */
#define invalid(schema, value, message) invalid_at((schema), (value), (message), __LINE__)
static void invalid_at(const char *schema, const char *value, const char *message, int line)
{
	struct cact_error err = {0};
	json_t *s = parse(schema), *v = parse(value);
	int rc = schema_check(s, &err);

	ck_assert_msg(rc == 0, "line %d: schema_check(%s) = %d (%s)", line, schema, rc,
		      err.message);
	rc = schema_validate(s, v, &err);
	ck_assert_msg(rc == CACT_EINVAL, "line %d: %s against %s = %d, expected CACT_EINVAL", line,
		      value, schema, rc);
	ck_assert_int_eq(err.code, CACT_EINVAL);
	ck_assert_msg(strcmp(err.message, message) == 0,
		      "line %d: %s against %s: message \"%s\", expected \"%s\"", line, value,
		      schema, err.message, message);
	json_decref(s);
	json_decref(v);
}

/* schema_check refuses schema with a message that starts with prefix and contains needle. */
#define refused(schema, prefix, needle) refused_at((schema), (prefix), (needle), __LINE__)
static void refused_at(const char *schema, const char *prefix, const char *needle, int line)
{
	struct cact_error err = {0};
	json_t *s = parse(schema);
	int rc = schema_check(s, &err);

	ck_assert_msg(rc == CACT_EINVAL, "line %d: schema_check(%s) = %d, expected CACT_EINVAL",
		      line, schema, rc);
	ck_assert_int_eq(err.code, CACT_EINVAL);
	ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0,
		      "line %d: schema_check(%s): message \"%s\" does not start with \"%s\"", line,
		      schema, err.message, prefix);
	ck_assert_msg(strstr(err.message, needle) != NULL,
		      "line %d: schema_check(%s): message \"%s\" lacks \"%s\"", line, schema,
		      err.message, needle);
	json_decref(s);
}

static int dummy_fn(void *user, const char *name, const char *args, char **result,
		    struct cact_error *err)
{
	(void)user;
	(void)name;
	(void)args;
	(void)err;
	*result = strdup("null");
	return 0;
}

/* "{"type":"object","properties":{"a":{...{"type":"object","properties":{"a":LEAF}}...}}}" nested n times. */
static char *nested_schema(int n, const char *leaf)
{
	size_t cap = (size_t)n * 64 + strlen(leaf) + 64, len = 0;
	char *s = malloc(cap);
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
					"{\"type\":\"object\",\"properties\":{\"a\":");
	len += (size_t)snprintf(s + len, cap - len, "%s", leaf);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "}}");
	return s;
}

/* {"a":{"a":...LEAF...}} nested n times. */
static char *nested_value(int n, const char *leaf)
{
	size_t cap = (size_t)n * 8 + strlen(leaf) + 8, len = 0;
	char *s = malloc(cap);
	int i;

	ck_assert_ptr_nonnull(s);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "{\"a\":");
	len += (size_t)snprintf(s + len, cap - len, "%s", leaf);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "}");
	return s;
}

START_TEST(type_single)
{
	valid("{\"type\":\"object\"}", "{}");
	valid("{\"properties\":{\"v\":{\"type\":\"string\"}}}", "{\"v\":\"x\"}");
	valid("{\"properties\":{\"v\":{\"type\":\"integer\"}}}", "{\"v\":-3}");
	valid("{\"properties\":{\"v\":{\"type\":\"number\"}}}", "{\"v\":2}");
	valid("{\"properties\":{\"v\":{\"type\":\"number\"}}}", "{\"v\":2.5}");
	valid("{\"properties\":{\"v\":{\"type\":\"boolean\"}}}", "{\"v\":false}");
	valid("{\"properties\":{\"v\":{\"type\":\"null\"}}}", "{\"v\":null}");
	valid("{\"properties\":{\"v\":{\"type\":\"array\"}}}", "{\"v\":[1,\"a\"]}");
	valid("{\"properties\":{\"v\":{\"type\":\"object\"}}}", "{\"v\":{}}");
	invalid("{\"type\":\"object\"}", "[]", "$: expected object, got array");
	invalid("{\"type\":\"object\"}", "\"s\"", "$: expected object, got string");
	invalid("{\"properties\":{\"v\":{\"type\":\"string\"}}}", "{\"v\":1}",
		"$.v: expected string, got integer");
	invalid("{\"properties\":{\"v\":{\"type\":\"integer\"}}}", "{\"v\":\"1\"}",
		"$.v: expected integer, got string");
	invalid("{\"properties\":{\"v\":{\"type\":\"integer\"}}}", "{\"v\":true}",
		"$.v: expected integer, got boolean");
	invalid("{\"properties\":{\"v\":{\"type\":\"number\"}}}", "{\"v\":null}",
		"$.v: expected number, got null");
	invalid("{\"properties\":{\"v\":{\"type\":\"boolean\"}}}", "{\"v\":0}",
		"$.v: expected boolean, got integer");
	invalid("{\"properties\":{\"v\":{\"type\":\"null\"}}}", "{\"v\":false}",
		"$.v: expected null, got boolean");
	invalid("{\"properties\":{\"v\":{\"type\":\"array\"}}}", "{\"v\":{}}",
		"$.v: expected array, got object");
	invalid("{\"properties\":{\"v\":{\"type\":\"object\"}}}", "{\"v\":[]}",
		"$.v: expected object, got array");
	invalid("{\"properties\":{\"v\":{\"type\":\"string\"}}}", "{\"v\":1.5}",
		"$.v: expected string, got number");
}
END_TEST

START_TEST(type_list)
{
	const char *s = "{\"properties\":{\"v\":{\"type\":[\"integer\",\"null\"]}}}";

	valid(s, "{\"v\":3}");
	valid(s, "{\"v\":null}");
	valid(s, "{\"v\":3.0}");
	invalid(s, "{\"v\":\"3\"}", "$.v: expected integer or null, got string");
	invalid(s, "{\"v\":3.5}", "$.v: expected integer or null, got number");
	s = "{\"properties\":{\"v\":{\"type\":[\"string\",\"array\",\"boolean\"]}}}";
	valid(s, "{\"v\":\"x\"}");
	valid(s, "{\"v\":[]}");
	valid(s, "{\"v\":true}");
	invalid(s, "{\"v\":{}}", "$.v: expected string or array or boolean, got object");
	/* A one-entry list is the same as the string. */
	invalid("{\"properties\":{\"v\":{\"type\":[\"number\"]}}}", "{\"v\":\"1\"}",
		"$.v: expected number, got string");
}
END_TEST

START_TEST(type_integer_valued_floats)
{
	const char *s = "{\"properties\":{\"n\":{\"type\":\"integer\"}}}";

	valid(s, "{\"n\":2.0}");
	valid(s, "{\"n\":-7.0}");
	valid(s, "{\"n\":0.0}");
	valid(s, "{\"n\":1e3}");
	valid(s, "{\"n\":1E+2}");
	invalid(s, "{\"n\":2.5}", "$.n: expected integer, got number");
	invalid(s, "{\"n\":1e-3}", "$.n: expected integer, got number");
	invalid(s, "{\"n\":-0.5}", "$.n: expected integer, got number");
	/* Bounds still apply to an integer written as a float. */
	s = "{\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":3}}}";
	valid(s, "{\"n\":3.0}");
	invalid(s, "{\"n\":4.0}", "$.n: 4 is above the maximum 3");
	/* An integer is a number. */
	valid("{\"properties\":{\"n\":{\"type\":\"number\"}}}", "{\"n\":7}");
}
END_TEST

START_TEST(properties_paths)
{
	const char *s =
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"object\",\"properties\":"
		"{\"b\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"}}}}}}";

	valid(s, "{\"a\":{\"b\":[1,2,3]}}");
	valid(s, "{\"a\":{}}");
	valid(s, "{}");
	invalid(s, "{\"a\":{\"b\":[1,2,\"x\"]}}", "$.a.b[2]: expected integer, got string");
	invalid(s, "{\"a\":{\"b\":[\"x\"]}}", "$.a.b[0]: expected integer, got string");
	invalid(s, "{\"a\":{\"b\":{}}}", "$.a.b: expected array, got object");
	invalid(s, "{\"a\":5}", "$.a: expected object, got integer");
	/* Arrays of arrays. */
	s = "{\"properties\":{\"m\":{\"type\":\"array\",\"items\":{\"type\":\"array\","
	    "\"items\":{\"type\":\"number\"}}}}}";
	valid(s, "{\"m\":[[1,2.5],[],[3]]}");
	invalid(s, "{\"m\":[[1],[2,null]]}", "$.m[1][1]: expected number, got null");
	/* Properties the schema does not name are not checked. */
	valid("{\"properties\":{\"a\":{\"type\":\"string\"}}}", "{\"b\":1,\"c\":[{}]}");
	/* Objects inside items. */
	s = "{\"properties\":{\"rows\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	    "\"properties\":{\"id\":{\"type\":\"integer\"}},\"required\":[\"id\"]}}}}";
	invalid(s, "{\"rows\":[{\"id\":1},{\"id\":\"2\"}]}",
		"$.rows[1].id: expected integer, got string");
	invalid(s, "{\"rows\":[{\"id\":1},{}]}", "$.rows[1]: missing required property 'id'");
}
END_TEST

START_TEST(required_properties)
{
	const char *s =
		"{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{}},"
		"\"required\":[\"a\",\"b\"]}";

	valid(s, "{\"a\":\"x\",\"b\":null}");
	valid(s, "{\"a\":\"x\",\"b\":[1],\"c\":3}");
	invalid(s, "{\"b\":1}", "$: missing required property 'a'");
	invalid(s, "{\"a\":\"x\"}", "$: missing required property 'b'");
	invalid(s, "{}", "$: missing required property 'a'");
	/* A required property need not be declared. */
	invalid("{\"required\":[\"z\"]}", "{\"a\":1}", "$: missing required property 'z'");
	/* Nested. */
	invalid("{\"properties\":{\"o\":{\"type\":\"object\",\"required\":[\"k\"]}}}", "{\"o\":{}}",
		"$.o: missing required property 'k'");
	/* "required" only concerns objects. */
	valid("{\"properties\":{\"o\":{\"required\":[\"k\"]}}}", "{\"o\":\"text\"}");
	valid("{\"required\":[]}", "{}");
}
END_TEST

START_TEST(additional_properties_false)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
			"\"additionalProperties\":false}";

	valid(s, "{}");
	valid(s, "{\"a\":1}");
	invalid(s, "{\"a\":1,\"z\":2}", "$: unexpected property 'z'");
	invalid(s, "{\"zz\":null}", "$: unexpected property 'zz'");
	/* Nested. */
	invalid("{\"properties\":{\"o\":{\"properties\":{},\"additionalProperties\":false}}}",
		"{\"o\":{\"x\":1}}", "$.o: unexpected property 'x'");
	/* true allows anything. */
	valid("{\"properties\":{\"a\":{}},\"additionalProperties\":true}", "{\"b\":[1,{}]}");
}
END_TEST

START_TEST(additional_properties_schema)
{
	const char *s = "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}},"
			"\"additionalProperties\":{\"type\":\"integer\",\"minimum\":0}}";

	valid(s, "{\"name\":\"n\",\"x\":1,\"y\":2.0}");
	invalid(s, "{\"name\":\"n\",\"x\":\"1\"}", "$.x: expected integer, got string");
	invalid(s, "{\"x\":-1}", "$.x: -1 is below the minimum 0");
	/* Declared properties use their own schema, not additionalProperties. */
	invalid(s, "{\"name\":3}", "$.name: expected string, got integer");
	/* additionalProperties as an object schema with nesting. */
	invalid("{\"additionalProperties\":{\"type\":\"object\",\"properties\":{\"v\":"
		"{\"type\":\"boolean\"}}}}",
		"{\"k\":{\"v\":1}}", "$.k.v: expected boolean, got integer");
}
END_TEST

START_TEST(enum_values)
{
	const char *s = "{\"properties\":{\"c\":{\"enum\":[\"red\",2,null,{\"k\":[1]},[1,2]]}}}";

	valid(s, "{\"c\":\"red\"}");
	valid(s, "{\"c\":2}");
	valid(s, "{\"c\":null}");
	valid(s, "{\"c\":{\"k\":[1]}}");
	valid(s, "{\"c\":[1,2]}");
	invalid(s, "{\"c\":\"Red\"}", "$.c: not one of the allowed values");
	invalid(s, "{\"c\":3}", "$.c: not one of the allowed values");
	invalid(s, "{\"c\":{\"k\":[2]}}", "$.c: not one of the allowed values");
	invalid(s, "{\"c\":[2,1]}", "$.c: not one of the allowed values");
	invalid(s, "{\"c\":false}", "$.c: not one of the allowed values");
	/* enum together with type: type is checked first. */
	invalid("{\"properties\":{\"c\":{\"type\":\"string\",\"enum\":[\"a\"]}}}", "{\"c\":1}",
		"$.c: expected string, got integer");
	invalid("{\"properties\":{\"c\":{\"type\":\"string\",\"enum\":[\"a\"]}}}", "{\"c\":\"b\"}",
		"$.c: not one of the allowed values");
	/* An empty enum allows nothing. */
	invalid("{\"properties\":{\"c\":{\"enum\":[]}}}", "{\"c\":1}",
		"$.c: not one of the allowed values");
}
END_TEST

START_TEST(const_value)
{
	valid("{\"properties\":{\"v\":{\"const\":\"x\"}}}", "{\"v\":\"x\"}");
	valid("{\"properties\":{\"v\":{\"const\":{\"a\":[1,{\"b\":null}]}}}}",
	      "{\"v\":{\"a\":[1,{\"b\":null}]}}");
	valid("{\"properties\":{\"v\":{\"const\":null}}}", "{\"v\":null}");
	invalid("{\"properties\":{\"v\":{\"const\":\"x\"}}}", "{\"v\":\"y\"}",
		"$.v: not the required constant value");
	invalid("{\"properties\":{\"v\":{\"const\":null}}}", "{\"v\":0}",
		"$.v: not the required constant value");
	invalid("{\"properties\":{\"v\":{\"const\":{\"a\":1}}}}", "{\"v\":{\"a\":1,\"b\":2}}",
		"$.v: not the required constant value");
	invalid("{\"properties\":{\"v\":{\"const\":true}}}", "{\"v\":1}",
		"$.v: not the required constant value");
}
END_TEST

/* JSON Schema compares numbers by value: 1 and 1.0 are the same number. */
START_TEST(enum_const_compare_numbers_by_value)
{
	valid("{\"properties\":{\"v\":{\"const\":1}}}", "{\"v\":1.0}");
	valid("{\"properties\":{\"v\":{\"const\":2.0}}}", "{\"v\":2}");
	valid("{\"properties\":{\"v\":{\"enum\":[1,2,3]}}}", "{\"v\":3.0}");
	invalid("{\"properties\":{\"v\":{\"enum\":[1,2,3]}}}", "{\"v\":3.5}",
		"$.v: not one of the allowed values");
}
END_TEST

START_TEST(items_each_index)
{
	const char *s = "{\"properties\":{\"l\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
			"\"minLength\":1}}}}";

	valid(s, "{\"l\":[]}");
	valid(s, "{\"l\":[\"a\",\"bc\"]}");
	invalid(s, "{\"l\":[\"a\",\"\",\"c\"]}", "$.l[1]: shorter than 1 characters");
	invalid(s, "{\"l\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",7]}",
		"$.l[11]: expected string, got integer");
	/* items: true or {} allows anything. */
	valid("{\"properties\":{\"l\":{\"items\":true}}}", "{\"l\":[1,\"a\",null]}");
	valid("{\"properties\":{\"l\":{\"items\":{}}}}", "{\"l\":[1,\"a\",null]}");
	/* items does not apply to non-arrays. */
	valid("{\"properties\":{\"l\":{\"items\":{\"type\":\"string\"}}}}", "{\"l\":5}");
}
END_TEST

START_TEST(minimum_maximum)
{
	const char *s =
		"{\"properties\":{\"n\":{\"type\":\"number\",\"minimum\":1,\"maximum\":10}}}";

	valid(s, "{\"n\":1}");
	valid(s, "{\"n\":10}");
	valid(s, "{\"n\":5.5}");
	valid(s, "{\"n\":1.0}");
	invalid(s, "{\"n\":0}", "$.n: 0 is below the minimum 1");
	invalid(s, "{\"n\":0.5}", "$.n: 0.5 is below the minimum 1");
	invalid(s, "{\"n\":11}", "$.n: 11 is above the maximum 10");
	invalid(s, "{\"n\":10.25}", "$.n: 10.25 is above the maximum 10");
	invalid(s, "{\"n\":-3}", "$.n: -3 is below the minimum 1");
	/* Fractional and negative bounds. */
	s = "{\"properties\":{\"n\":{\"minimum\":-2.5,\"maximum\":0.75}}}";
	valid(s, "{\"n\":-2.5}");
	valid(s, "{\"n\":0.75}");
	invalid(s, "{\"n\":-3}", "$.n: -3 is below the minimum -2.5");
	invalid(s, "{\"n\":1}", "$.n: 1 is above the maximum 0.75");
	/* Bounds do not apply to other types. */
	valid(s, "{\"n\":\"1000\"}");
	valid(s, "{\"n\":[1000]}");
}
END_TEST

START_TEST(exclusive_bounds)
{
	const char *s = "{\"properties\":{\"n\":{\"exclusiveMinimum\":0,\"exclusiveMaximum\":10}}}";

	valid(s, "{\"n\":0.001}");
	valid(s, "{\"n\":9.999}");
	valid(s, "{\"n\":5}");
	invalid(s, "{\"n\":0}", "$.n: 0 is not above 0");
	invalid(s, "{\"n\":0.0}", "$.n: 0 is not above 0");
	invalid(s, "{\"n\":-1}", "$.n: -1 is not above 0");
	invalid(s, "{\"n\":10}", "$.n: 10 is not below 10");
	invalid(s, "{\"n\":12.5}", "$.n: 12.5 is not below 10");
	/* Together with the inclusive ones. */
	s = "{\"properties\":{\"n\":{\"minimum\":0,\"exclusiveMaximum\":1}}}";
	valid(s, "{\"n\":0}");
	invalid(s, "{\"n\":1}", "$.n: 1 is not below 1");
	valid("{\"properties\":{\"n\":{\"exclusiveMinimum\":1.5}}}", "{\"n\":\"text\"}");
}
END_TEST

START_TEST(string_length_counts_code_points)
{
	/* "héllo": 5 characters, 6 bytes. */
	const char *s5 = "{\"properties\":{\"s\":{\"type\":\"string\",\"maxLength\":5}}}";
	const char *s6 = "{\"properties\":{\"s\":{\"type\":\"string\",\"minLength\":6}}}";

	valid(s5, "{\"s\":\"h\xc3\xa9llo\"}");
	invalid(s6, "{\"s\":\"h\xc3\xa9llo\"}", "$.s: shorter than 6 characters");
	/* Three CJK characters, 9 bytes; escaped form too. */
	valid("{\"properties\":{\"s\":{\"maxLength\":3,\"minLength\":3}}}",
	      "{\"s\":\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e\"}");
	valid("{\"properties\":{\"s\":{\"maxLength\":3,\"minLength\":3}}}",
	      "{\"s\":\"\\u65e5\\u672c\\u8a9e\"}");
	/* Two emoji, 8 bytes (each a surrogate pair when escaped). */
	valid("{\"properties\":{\"s\":{\"maxLength\":2}}}",
	      "{\"s\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}");
	valid("{\"properties\":{\"s\":{\"maxLength\":2}}}",
	      "{\"s\":\"\\ud83d\\ude00\\ud83d\\ude00\"}");
	invalid("{\"properties\":{\"s\":{\"maxLength\":1}}}",
		"{\"s\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\"}", "$.s: longer than 1 characters");
	/* Plain ASCII bounds, inclusive. */
	valid("{\"properties\":{\"s\":{\"minLength\":2,\"maxLength\":3}}}", "{\"s\":\"ab\"}");
	valid("{\"properties\":{\"s\":{\"minLength\":2,\"maxLength\":3}}}", "{\"s\":\"abc\"}");
	invalid("{\"properties\":{\"s\":{\"minLength\":2,\"maxLength\":3}}}", "{\"s\":\"a\"}",
		"$.s: shorter than 2 characters");
	invalid("{\"properties\":{\"s\":{\"minLength\":2,\"maxLength\":3}}}", "{\"s\":\"abcd\"}",
		"$.s: longer than 3 characters");
	valid("{\"properties\":{\"s\":{\"maxLength\":0}}}", "{\"s\":\"\"}");
	/* Lengths do not apply to other types. */
	valid("{\"properties\":{\"s\":{\"minLength\":5}}}", "{\"s\":12}");
}
END_TEST

START_TEST(min_max_items)
{
	const char *s =
		"{\"properties\":{\"l\":{\"type\":\"array\",\"minItems\":2,\"maxItems\":3}}}";

	valid(s, "{\"l\":[1,2]}");
	valid(s, "{\"l\":[1,2,3]}");
	invalid(s, "{\"l\":[1]}", "$.l: fewer than 2 items");
	invalid(s, "{\"l\":[]}", "$.l: fewer than 2 items");
	invalid(s, "{\"l\":[1,2,3,4]}", "$.l: more than 3 items");
	valid("{\"properties\":{\"l\":{\"maxItems\":0}}}", "{\"l\":[]}");
	invalid("{\"properties\":{\"l\":{\"maxItems\":0}}}", "{\"l\":[null]}",
		"$.l: more than 0 items");
	/* Counts do not apply to strings or objects. */
	valid("{\"properties\":{\"l\":{\"minItems\":3}}}", "{\"l\":\"ab\"}");
	valid("{\"properties\":{\"l\":{\"minItems\":3}}}", "{\"l\":{}}");
}
END_TEST

START_TEST(unknown_keywords_ignored)
{
	const char *s =
		"{\"type\":\"object\",\"title\":\"T\",\"description\":\"D\",\"$schema\":"
		"\"http://json-schema.org/draft-07/schema#\",\"properties\":{\"s\":{"
		"\"type\":\"string\",\"pattern\":\"^a$\",\"format\":\"email\",\"default\":\"a\","
		"\"examples\":[\"a\"],\"x-vendor\":{\"anything\":[1]}},\"n\":{\"type\":"
		"\"integer\",\"multipleOf\":7},\"u\":{\"anyOf\":[{\"type\":\"string\"}],"
		"\"oneOf\":[],\"not\":{},\"$ref\":\"#/nope\"}},\"dependencies\":{\"s\":[\"n\"]}}";

	valid(s, "{\"s\":\"b\"}");
	valid(s, "{\"n\":3}");
	valid(s, "{\"u\":12}");
	invalid(s, "{\"s\":1}", "$.s: expected string, got integer");
}
END_TEST

START_TEST(depth_limit)
{
	struct cact_error err = {0};
	char *ok_s = nested_schema(40, "{\"type\":\"integer\"}");
	char *ok_v = nested_value(40, "\"x\"");
	char *deep_s = nested_schema(100, "{\"type\":\"integer\"}");
	char *deep_v = nested_value(100, "1");
	char want[256] = "$";
	json_t *s, *v;
	int i, rc;

	for (i = 0; i < 40; i++)
		strcat(want, ".a");
	strcat(want, ": expected integer, got string");
	/* 40 levels: checked, and a mismatch deep down is reported with its whole path. */
	s = parse(ok_s);
	v = parse(ok_v);
	ck_assert_int_eq(schema_check(s, &err), 0);
	ck_assert_int_eq(schema_validate(s, v, &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, want);
	json_decref(s);
	json_decref(v);

	/* 100 levels: schema_check refuses, and the validator stops without recursing on. */
	s = parse(deep_s);
	v = parse(deep_v);
	rc = schema_check(s, &err);
	ck_assert_int_eq(rc, CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "nested deeper than 64 levels") != NULL, "message: %s",
		      err.message);
	ck_assert_msg(err.message[0] == '$', "message: %s", err.message);
	memset(&err, 0, sizeof(err));
	rc = schema_validate(s, v, &err);
	ck_assert_int_eq(rc, CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "nested deeper than 64 levels") != NULL, "message: %s",
		      err.message);
	json_decref(s);
	json_decref(v);
	free(ok_s);
	free(ok_v);
	free(deep_s);
	free(deep_v);
}
END_TEST

START_TEST(long_paths_stay_bounded)
{
	struct cact_error err = {0};
	char key[601], schema[1400], value[1400];
	json_t *s, *v;

	memset(key, 'k', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	snprintf(schema, sizeof(schema),
		 "{\"properties\":{\"%s\":{\"properties\":{\"%s\":{\"type\":\"string\"}}}}}", key,
		 key);
	snprintf(value, sizeof(value), "{\"%s\":{\"%s\":3}}", key, key);
	s = parse(schema);
	v = parse(value);
	ck_assert_int_eq(schema_check(s, &err), 0);
	ck_assert_int_eq(schema_validate(s, v, &err), CACT_EINVAL);
	ck_assert_msg(err.message[0] == '$', "message: %s", err.message);
	ck_assert_msg(strstr(err.message, "expected string, got integer") != NULL, "message: %s",
		      err.message);
	ck_assert_uint_lt(strlen(err.message), CACT_ERROR_MAX);
	json_decref(s);
	json_decref(v);
}
END_TEST

START_TEST(null_error_pointer)
{
	json_t *s = parse("{\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}");
	json_t *v = parse("{}");
	json_t *bad = parse("{\"properties\":{\"a\":{\"type\":\"strin\"}}}");

	ck_assert_int_eq(schema_check(s, NULL), 0);
	ck_assert_int_eq(schema_validate(s, v, NULL), CACT_EINVAL);
	ck_assert_int_eq(schema_check(bad, NULL), CACT_EINVAL);
	json_decref(s);
	json_decref(v);
	json_decref(bad);
}
END_TEST

/* A false subschema allows nothing (JSON Schema's boolean schemas). */
START_TEST(false_subschema_allows_nothing)
{
	struct cact_error err = {0};
	json_t *s = parse("{\"properties\":{\"x\":false,\"l\":{\"items\":false}}}");
	json_t *v1 = parse("{\"x\":1}"), *v2 = parse("{\"l\":[1]}"), *ok = parse("{\"l\":[]}");

	ck_assert_int_eq(schema_check(s, &err), 0);
	ck_assert_int_eq(schema_validate(s, ok, &err), 0);
	ck_assert_msg(schema_validate(s, v1, &err) == CACT_EINVAL,
		      "{\"x\":1} passed a schema whose \"x\" is false");
	ck_assert_msg(strncmp(err.message, "$.x", 3) == 0, "message: %s", err.message);
	ck_assert_msg(schema_validate(s, v2, &err) == CACT_EINVAL,
		      "{\"l\":[1]} passed a schema whose items are false");
	ck_assert_msg(strncmp(err.message, "$.l[0]", 6) == 0, "message: %s", err.message);
	json_decref(s);
	json_decref(v1);
	json_decref(v2);
	json_decref(ok);
}
END_TEST

START_TEST(check_accepts_well_formed)
{
	struct cact_error err = {0};
	const char *good[] = {
		"{}",
		"{\"type\":\"object\"}",
		"{\"type\":\"object\",\"properties\":{}}",
		"{\"type\":\"object\",\"properties\":{\"a\":true,\"b\":false,\"c\":{}}}",
		"{\"type\":\"object\",\"properties\":{\"principal\":{\"type\":\"number\","
		"\"minimum\":0},"
		"\"rate_percent\":{\"type\":\"number\",\"minimum\":0,\"maximum\":100},"
		"\"per_year\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":365}},"
		"\"required\":[\"principal\",\"rate_percent\"],\"additionalProperties\":false}",
		"{\"properties\":{\"t\":{\"type\":[\"string\",\"null\"],\"minLength\":0,"
		"\"maxLength\":9}}}",
		"{\"properties\":{\"l\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
		"\"properties\":{\"x\":{\"enum\":[1,\"a\",null]}}},\"minItems\":0,\"maxItems\":4}}"
		"}",
		"{\"additionalProperties\":{\"type\":\"integer\",\"exclusiveMinimum\":-1.5,"
		"\"exclusiveMaximum\":1e9}}",
		"{\"properties\":{\"c\":{\"const\":[1,{\"a\":null}]}}}",
		"{\"required\":[]}",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		json_t *s = parse(good[i]);

		ck_assert_msg(schema_check(s, &err) == 0, "schema_check(%s): %s", good[i],
			      err.message);
		json_decref(s);
	}
}
END_TEST

START_TEST(check_refuses_unknown_type)
{
	refused("{\"properties\":{\"a\":{\"type\":\"strin\"}}}", "$.a: ", "unknown type 'strin'");
	refused("{\"properties\":{\"a\":{\"type\":\"int\"}}}", "$.a: ", "unknown type 'int'");
	refused("{\"properties\":{\"a\":{\"type\":\"String\"}}}", "$.a: ", "unknown type 'String'");
	refused("{\"properties\":{\"a\":{\"type\":[\"string\",\"float\"]}}}", "$.a: ", "\"type\"");
	refused("{\"properties\":{\"a\":{\"type\":[\"string\",1]}}}", "$.a: ", "\"type\"");
	refused("{\"properties\":{\"a\":{\"type\":[]}}}", "$.a: ", "\"type\"");
	refused("{\"properties\":{\"a\":{\"type\":5}}}", "$.a: ", "\"type\"");
	refused("{\"properties\":{\"a\":{\"type\":null}}}", "$.a: ", "\"type\"");
	/* Deeper. */
	refused("{\"properties\":{\"a\":{\"properties\":{\"b\":{\"type\":\"x\"}}}}}",
		"$.a.b: ", "unknown type 'x'");
}
END_TEST

START_TEST(check_refuses_bad_required)
{
	refused("{\"required\":\"a\"}", "$: ", "\"required\" must be a list of names");
	refused("{\"required\":[\"a\",1]}", "$: ", "\"required\" must be a list of names");
	refused("{\"required\":{\"a\":true}}", "$: ", "\"required\" must be a list of names");
	refused("{\"required\":[null]}", "$: ", "\"required\" must be a list of names");
	refused("{\"properties\":{\"o\":{\"required\":true}}}",
		"$.o: ", "\"required\" must be a list of names");
}
END_TEST

START_TEST(check_refuses_non_numeric_bounds)
{
	refused("{\"properties\":{\"n\":{\"minimum\":\"1\"}}}",
		"$.n: ", "\"minimum\" must be a number");
	refused("{\"properties\":{\"n\":{\"maximum\":null}}}",
		"$.n: ", "\"maximum\" must be a number");
	refused("{\"properties\":{\"n\":{\"exclusiveMinimum\":true}}}",
		"$.n: ", "\"exclusiveMinimum\" must be a number");
	refused("{\"properties\":{\"n\":{\"exclusiveMaximum\":[1]}}}",
		"$.n: ", "\"exclusiveMaximum\" must be a number");
	refused("{\"minimum\":{}}", "$: ", "\"minimum\" must be a number");
}
END_TEST

START_TEST(check_refuses_bad_counts)
{
	refused("{\"properties\":{\"s\":{\"minLength\":-1}}}",
		"$.s: ", "\"minLength\" must be a non-negative integer");
	refused("{\"properties\":{\"s\":{\"maxLength\":\"3\"}}}",
		"$.s: ", "\"maxLength\" must be a non-negative integer");
	refused("{\"properties\":{\"s\":{\"minItems\":1.5}}}",
		"$.s: ", "\"minItems\" must be a non-negative integer");
	refused("{\"properties\":{\"s\":{\"maxItems\":null}}}",
		"$.s: ", "\"maxItems\" must be a non-negative integer");
}
END_TEST

START_TEST(check_refuses_bad_structure)
{
	refused("{\"properties\":[]}", "$: ", "\"properties\" must be an object");
	refused("{\"properties\":\"a\"}", "$: ", "\"properties\" must be an object");
	refused("{\"properties\":{\"a\":{\"properties\":5}}}",
		"$.a: ", "\"properties\" must be an object");
	refused("{\"properties\":{\"a\":5}}", "$.a: ", "a schema must be an object");
	refused("{\"properties\":{\"a\":\"string\"}}", "$.a: ", "a schema must be an object");
	refused("{\"properties\":{\"a\":{\"enum\":\"x\"}}}", "$.a: ", "\"enum\" must be a list");
	refused("{\"additionalProperties\":3}", "$", "a schema must be an object");
	refused("{\"additionalProperties\":{\"type\":\"nope\"}}", "$", "unknown type 'nope'");
	refused("{\"properties\":{\"l\":{\"items\":{\"type\":\"nope\"}}}}", "$.l",
		"unknown type 'nope'");
	refused("{\"properties\":{\"l\":{\"items\":\"x\"}}}", "$.l", "a schema must be an object");
}
END_TEST

START_TEST(check_refuses_non_object_parameters)
{
	struct cact_error err = {0};
	const char *bad[] = {
		"{\"type\":\"string\"}",  "{\"type\":\"array\",\"items\":{}}",
		"{\"type\":\"integer\"}", "{\"type\":\"null\"}",
		"{\"type\":\"nope\"}",
	};
	const char *not_schemas[] = {"[]", "\"object\"", "1", "true", "null"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *s = parse(bad[i]);

		memset(&err, 0, sizeof(err));
		ck_assert_msg(schema_check(s, &err) == CACT_EINVAL, "schema_check(%s) accepted",
			      bad[i]);
		ck_assert_msg(strstr(err.message, "object schema") != NULL, "%s: message %s",
			      bad[i], err.message);
		json_decref(s);
	}
	for (i = 0; i < sizeof(not_schemas) / sizeof(not_schemas[0]); i++) {
		json_t *s = parse(not_schemas[i]);

		memset(&err, 0, sizeof(err));
		ck_assert_msg(schema_check(s, &err) == CACT_EINVAL, "schema_check(%s) accepted",
			      not_schemas[i]);
		ck_assert_str_eq(err.message, "parameters must be a JSON Schema object");
		json_decref(s);
	}
}
END_TEST

START_TEST(tool_names_checked)
{
	const char *argv[] = {"true", NULL};
	struct cact_error err = {0};
	struct cact_tool *t = NULL;
	char longest[129], too_long[130];
	const char *bad[] = {"a b",	  "a/b", "/abs",   "tab\tname", "semi;colon",
			     "h\xc3\xa9", "a:b", "quote'", "dollar$",	" lead"};
	size_t i;

	memset(longest, 'n', 128);
	longest[128] = '\0';
	memset(too_long, 'n', 129);
	too_long[129] = '\0';

	/* Empty and missing names. */
	ck_assert_int_eq(cact_tool_new_callback("", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &t, &err),
			 CACT_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err.message, "tool name is empty");
	ck_assert_int_eq(cact_tool_new_callback(NULL, NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &t, &err),
			 CACT_EINVAL);
	ck_assert_int_eq(cact_tool_new_command("", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE, argv,
					       NULL, 0, &t, &err),
			 CACT_EINVAL);
	ck_assert_str_eq(err.message, "tool name is empty");

	/* 128 characters is the most. */
	ck_assert_int_eq(cact_tool_new_callback(too_long, NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &t, &err),
			 CACT_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_msg(strstr(err.message, "longer than 128") != NULL, "message: %s", err.message);
	ck_assert_int_eq(cact_tool_new_command(too_long, NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
					       argv, NULL, 0, &t, &err),
			 CACT_EINVAL);
	ck_assert_msg(strstr(err.message, "longer than 128") != NULL, "message: %s", err.message);
	ck_assert_int_eq(cact_tool_new_callback(longest, NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &t, &err),
			 0);
	ck_assert_str_eq(cact_tool_name(t), longest);
	cact_tool_unref(t);
	t = NULL;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&err, 0, sizeof(err));
		ck_assert_msg(cact_tool_new_callback(bad[i], NULL, NULL,
						     CACT_APPROVAL_NEVER_REQUIRE, dummy_fn, NULL,
						     &t, &err) == CACT_EINVAL,
			      "name '%s' accepted", bad[i]);
		ck_assert_ptr_null(t);
		ck_assert_msg(strstr(err.message, bad[i]) != NULL &&
				      strstr(err.message, "only letters, digits") != NULL,
			      "name '%s': message %s", bad[i], err.message);
		ck_assert_msg(cact_tool_new_command(bad[i], NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						    argv, NULL, 0, &t, &err) == CACT_EINVAL,
			      "command name '%s' accepted", bad[i]);
		ck_assert_ptr_null(t);
	}

	/* Every allowed character. */
	ck_assert_int_eq(cact_tool_new_command("Az09_.-x", NULL, NULL, CACT_APPROVAL_ALWAYS_REQUIRE,
					       argv, NULL, 0, &t, &err),
			 0);
	ck_assert_str_eq(cact_tool_name(t), "Az09_.-x");
	ck_assert_int_eq(cact_tool_approval(t), CACT_APPROVAL_ALWAYS_REQUIRE);
	cact_tool_unref(t);
}
END_TEST

START_TEST(tool_bad_schema_names_tool)
{
	const char *argv[] = {"true", NULL};
	struct cact_error err = {0};
	struct cact_tool *t = NULL;

	ck_assert_int_eq(cact_tool_new_callback("calc", NULL,
						"{\"type\":\"object\",\"properties\":{\"a\":"
						"{\"type\":\"strin\"}}}",
						CACT_APPROVAL_NEVER_REQUIRE, dummy_fn, NULL, &t,
						&err),
			 CACT_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_str_eq(err.message,
			 "tool calc: bad parameters schema: $.a: unknown type 'strin'");

	ck_assert_int_eq(cact_tool_new_command("lookup", NULL, "{\"type\":\"string\"}",
					       CACT_APPROVAL_NEVER_REQUIRE, argv, NULL, 0, &t,
					       &err),
			 CACT_EINVAL);
	ck_assert_ptr_null(t);
	ck_assert_msg(strncmp(err.message, "tool lookup: bad parameters schema: ", 36) == 0 &&
			      strstr(err.message, "object schema") != NULL,
		      "message: %s", err.message);

	ck_assert_int_eq(cact_tool_new_command("lookup", NULL, "{\"required\":\"q\"}",
					       CACT_APPROVAL_NEVER_REQUIRE, argv, NULL, 0, &t,
					       &err),
			 CACT_EINVAL);
	ck_assert_str_eq(
		err.message,
		"tool lookup: bad parameters schema: $: \"required\" must be a list of names");

	ck_assert_int_eq(cact_tool_new_callback("calc", NULL,
						"{\"type\":", CACT_APPROVAL_NEVER_REQUIRE, dummy_fn,
						NULL, &t, &err),
			 CACT_EINVAL);
	ck_assert_msg(strncmp(err.message, "tool calc: parameters are not JSON", 34) == 0,
		      "message: %s", err.message);

	ck_assert_int_eq(cact_tool_new_callback("calc", NULL, "[]", CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &t, &err),
			 CACT_EINVAL);
	ck_assert_msg(strncmp(err.message, "tool calc: ", 11) == 0, "message: %s", err.message);

	/* Duplicate keys are refused rather than silently resolved. */
	ck_assert_int_eq(
		cact_tool_new_callback("calc", NULL, "{\"type\":\"object\",\"type\":\"object\"}",
				       CACT_APPROVAL_NEVER_REQUIRE, dummy_fn, NULL, &t, &err),
		CACT_EINVAL);
	ck_assert_msg(strncmp(err.message, "tool calc: ", 11) == 0, "message: %s", err.message);

	/* No handler, no command, bad approval mode. */
	ck_assert_int_eq(cact_tool_new_callback("calc", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						NULL, NULL, &t, &err),
			 CACT_EINVAL);
	ck_assert_str_eq(err.message, "tool calc: no handler");
	ck_assert_int_eq(cact_tool_new_command("calc", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
					       (const char *const[]){NULL}, NULL, 0, &t, &err),
			 CACT_EINVAL);
	ck_assert_str_eq(err.message, "tool calc: empty command");
	ck_assert_int_eq(cact_tool_new_command("calc", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
					       (const char *const[]){"", NULL}, NULL, 0, &t, &err),
			 CACT_EINVAL);
	ck_assert_str_eq(err.message, "tool calc: empty command");
	ck_assert_int_eq(cact_tool_new_callback("calc", NULL, NULL, (enum cact_approval)7, dummy_fn,
						NULL, &t, &err),
			 CACT_EINVAL);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(tool_parameters_normalized)
{
	struct cact_error err = {0};
	struct cact_tool *t = NULL;

	ck_assert_int_eq(cact_tool_new_callback("none", "d", NULL, CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &t, &err),
			 0);
	ck_assert_str_eq(cact_tool_parameters(t), "{\"type\":\"object\",\"properties\":{}}");
	ck_assert_str_eq(cact_tool_description(t), "d");
	cact_tool_unref(t);

	/* No "type": an object schema all the same, with the properties kept. */
	ck_assert_int_eq(cact_tool_new_callback(
				 "notype", NULL, "{\"properties\":{\"a\":{\"type\":\"integer\"}}}",
				 CACT_APPROVAL_NEVER_REQUIRE, dummy_fn, NULL, &t, &err),
			 0);
	ck_assert_str_eq(cact_tool_parameters(t),
			 "{\"properties\":{\"a\":{\"type\":\"integer\"}},\"type\":\"object\"}");
	ck_assert_str_eq(cact_tool_description(t), "");
	cact_tool_unref(t);

	/* Formatting is compacted. */
	ck_assert_int_eq(
		cact_tool_new_callback("spaced", NULL,
				       "{ \"type\" : \"object\" ,\n \"properties\" : { } }",
				       CACT_APPROVAL_NEVER_REQUIRE, dummy_fn, NULL, &t, &err),
		0);
	ck_assert_str_eq(cact_tool_parameters(t), "{\"type\":\"object\",\"properties\":{}}");
	cact_tool_unref(t);
}
END_TEST

START_TEST(tool_validate_public)
{
	struct cact_error err = {0};
	struct cact_tool *t = NULL, *open = NULL;

	ck_assert_int_eq(cact_tool_new_callback(
				 "ci", NULL,
				 "{\"type\":\"object\",\"properties\":{\"principal\":{\"type\":"
				 "\"number\",\"minimum\":0},\"per_year\":{\"type\":\"integer\","
				 "\"minimum\":1,\"maximum\":365},\"tags\":{\"type\":\"array\","
				 "\"items\":{\"type\":\"string\",\"maxLength\":3}}},\"required\":"
				 "[\"principal\"],\"additionalProperties\":false}",
				 CACT_APPROVAL_NEVER_REQUIRE, dummy_fn, NULL, &t, &err),
			 0);
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":1000,\"per_year\":12}", &err), 0);
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":0.5,\"per_year\":12.0}", &err), 0);
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":1,\"per_year\":\"12\"}", &err),
			 CACT_EINVAL);
	ck_assert_str_eq(err.message, "$.per_year: expected integer, got string");
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":1,\"per_year\":366}", &err),
			 CACT_EINVAL);
	ck_assert_str_eq(err.message, "$.per_year: 366 is above the maximum 365");
	ck_assert_int_eq(cact_tool_validate(t, "{\"per_year\":1}", &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "$: missing required property 'principal'");
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":1,\"rate\":2}", &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "$: unexpected property 'rate'");
	ck_assert_int_eq(
		cact_tool_validate(t, "{\"principal\":1,\"tags\":[\"ab\",\"abcd\"]}", &err),
		CACT_EINVAL);
	ck_assert_str_eq(err.message, "$.tags[1]: longer than 3 characters");
	ck_assert_int_eq(cact_tool_validate(t, "[1]", &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "$: expected object, got array");
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":", &err), CACT_EINVAL);
	ck_assert_msg(strncmp(err.message, "arguments are not JSON", 22) == 0, "message: %s",
		      err.message);
	ck_assert_int_eq(cact_tool_validate(t, NULL, &err), CACT_EINVAL);
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":1,\"principal\":2}", &err),
			 CACT_EINVAL);
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":1} x", &err), CACT_EINVAL);
	ck_assert_int_eq(cact_tool_validate(t, "{\"principal\":-1}", NULL), CACT_EINVAL);

	/* No parameters: any object, nothing else. */
	ck_assert_int_eq(cact_tool_new_callback("open", NULL, NULL, CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &open, &err),
			 0);
	ck_assert_int_eq(cact_tool_validate(open, "{}", &err), 0);
	ck_assert_int_eq(cact_tool_validate(open, "{\"x\":[1,{}]}", &err), 0);
	ck_assert_int_eq(cact_tool_validate(open, "\"s\"", &err), CACT_EINVAL);
	ck_assert_str_eq(err.message, "$: expected object, got string");
	cact_tool_unref(t);
	cact_tool_unref(open);
}
END_TEST

START_TEST(tool_references)
{
	struct cact_error err = {0};
	struct cact_tool *t = NULL;

	ck_assert_int_eq(cact_tool_new_callback("ref", "r", NULL, CACT_APPROVAL_NEVER_REQUIRE,
						dummy_fn, NULL, &t, &err),
			 0);
	ck_assert_ptr_eq(cact_tool_ref(t), t);
	cact_tool_unref(t);
	/* One reference left: still readable. */
	ck_assert_str_eq(cact_tool_name(t), "ref");
	cact_tool_unref(t);
	cact_tool_unref(NULL);
	ck_assert_ptr_null(cact_tool_ref(NULL));
	ck_assert_str_eq(cact_approval_name(CACT_APPROVAL_NEVER_REQUIRE), "never_require");
	ck_assert_str_eq(cact_approval_name(CACT_APPROVAL_ALWAYS_REQUIRE), "always_require");
}
END_TEST

START_TEST(approval_names_parse)
{
	enum cact_approval a = CACT_APPROVAL_NEVER_REQUIRE;

	ck_assert_int_eq(cact_approval_parse("always_require", &a), 0);
	ck_assert_int_eq(a, CACT_APPROVAL_ALWAYS_REQUIRE);
	ck_assert_int_eq(cact_approval_parse("never_require", &a), 0);
	ck_assert_int_eq(a, CACT_APPROVAL_NEVER_REQUIRE);
	ck_assert_int_eq(cact_approval_parse("Always_Require", &a), CACT_EINVAL);
	ck_assert_int_eq(cact_approval_parse("", &a), CACT_EINVAL);
	ck_assert_int_eq(cact_approval_parse(NULL, &a), CACT_EINVAL);
	ck_assert_int_eq(a, CACT_APPROVAL_NEVER_REQUIRE);
}
END_TEST

int main(int argc, char **argv)
{
	const struct t_case cases[] = {
		T_CASE(type_single, 30),
		T_CASE(type_list, 30),
		T_CASE(type_integer_valued_floats, 30),
		T_CASE(properties_paths, 30),
		T_CASE(required_properties, 30),
		T_CASE(additional_properties_false, 30),
		T_CASE(additional_properties_schema, 30),
		T_CASE(enum_values, 30),
		T_CASE(const_value, 30),
		T_CASE(enum_const_compare_numbers_by_value, 30),
		T_CASE(items_each_index, 30),
		T_CASE(minimum_maximum, 30),
		T_CASE(exclusive_bounds, 30),
		T_CASE(string_length_counts_code_points, 30),
		T_CASE(min_max_items, 30),
		T_CASE(unknown_keywords_ignored, 30),
		T_CASE(depth_limit, 30),
		T_CASE(long_paths_stay_bounded, 30),
		T_CASE(null_error_pointer, 30),
		T_CASE(false_subschema_allows_nothing, 30),
		T_CASE(check_accepts_well_formed, 30),
		T_CASE(check_refuses_unknown_type, 30),
		T_CASE(check_refuses_bad_required, 30),
		T_CASE(check_refuses_non_numeric_bounds, 30),
		T_CASE(check_refuses_bad_counts, 30),
		T_CASE(check_refuses_bad_structure, 30),
		T_CASE(check_refuses_non_object_parameters, 30),
		T_CASE(tool_names_checked, 30),
		T_CASE(tool_bad_schema_names_tool, 30),
		T_CASE(tool_parameters_normalized, 30),
		T_CASE(tool_validate_public, 30),
		T_CASE(tool_references, 30),
		T_CASE(approval_names_parse, 30),
	};

	return t_main("unit_schema", cases, sizeof(cases) / sizeof(cases[0]), argc, argv);
}
