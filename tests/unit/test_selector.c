/* Unit tests for lib/selector.c: label sets decoded from JSON, label key and
 * value syntax, selector parsing with errors that name the field, and the
 * matching semantics of metav1.LabelSelector.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/selector.h"

/* JSON written with single quotes, for readability. */
static json_t *j(const char *text)
{
	char *buf = strdup(text);
	json_error_t e;
	json_t *v;

	assert_non_null(buf);
	for (char *p = buf; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = json_loads(buf, JSON_DECODE_ANY, &e);
	if (!v)
		fail_msg("bad test JSON %s: %s", buf, e.text);
	free(buf);
	return v;
}

static struct labels *L(const char *text)
{
	json_t *v = j(text);
	struct labels *l = NULL;
	char err[SELECTOR_ERR_MAX];

	assert_int_equal(labels_from_json(v, "labels", &l, err, sizeof(err)), 0);
	json_decref(v);
	return l;
}

static struct selector *S(const char *text)
{
	json_t *v = j(text);
	struct selector *s = NULL;
	char err[SELECTOR_ERR_MAX] = "";

	if (selector_parse(v, "sel", &s, err, sizeof(err)) != 0)
		fail_msg("selector %s rejected: %s", text, err);
	json_decref(v);
	return s;
}

static void selector_rejects(const char *text, const char *want_err)
{
	json_t *v = j(text);
	struct selector *s = (struct selector *)0x1;
	char err[SELECTOR_ERR_MAX] = "";

	assert_int_equal(selector_parse(v, "spec.sel[0]", &s, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(s, (struct selector *)0x1);
	if (strcmp(err, want_err) != 0)
		fail_msg("selector %s: error \"%s\", want \"%s\"", text, err, want_err);
	json_decref(v);
}

static bool matches(const char *sel, const char *labels)
{
	struct selector *s = S(sel);
	struct labels *l = labels ? L(labels) : NULL;
	bool m = selector_matches(s, l);

	selector_free(s);
	labels_free(l);
	return m;
}

static void test_labels_decode_sorted_and_lookup(void **state)
{
	struct labels *l = L("{'zone':'b','app':'web','tier':''}");

	assert_int_equal(l->n, 3);
	assert_string_equal(l->v[0].key, "app");
	assert_string_equal(l->v[1].key, "tier");
	assert_string_equal(l->v[2].key, "zone");
	assert_string_equal(labels_get(l, "zone"), "b");
	assert_string_equal(labels_get(l, "tier"), "");
	assert_null(labels_get(l, "missing"));
	assert_null(labels_get(NULL, "app"));
	labels_free(l);
}

static void test_labels_null_or_absent_is_empty(void **state)
{
	struct labels *l = NULL;
	json_t *null = json_null();

	assert_int_equal(labels_from_json(NULL, "x", &l, NULL, 0), 0);
	assert_int_equal(l->n, 0);
	labels_free(l);
	assert_int_equal(labels_from_json(null, "x", &l, NULL, 0), 0);
	assert_int_equal(l->n, 0);
	labels_free(l);
	json_decref(null);
	labels_free(NULL);
}

static void test_labels_wrong_types_name_the_field(void **state)
{
	struct labels *l = (struct labels *)0x1;
	char err[SELECTOR_ERR_MAX];
	json_t *v = j("['a']");

	assert_int_equal(labels_from_json(v, "metadata.labels", &l, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "metadata.labels: not an object");
	json_decref(v);
	v = j("{'app':'x','n':3}");
	assert_int_equal(labels_from_json(v, "metadata.labels", &l, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "metadata.labels.n: not a string");
	assert_ptr_equal(l, (struct labels *)0x1);
	json_decref(v);
}

static void test_labels_equal_and_hash(void **state)
{
	struct labels *a = L("{'a':'1','b':'2'}"), *b = L("{'b':'2','a':'1'}");
	struct labels *c = L("{'a':'1','b':'3'}"), *d = L("{'ab':'c'}"), *e = L("{'a':'bc'}");

	assert_true(labels_equal(a, b));
	assert_false(labels_equal(a, c));
	assert_true(labels_hash(a) == labels_hash(b));
	assert_true(labels_hash(a) != labels_hash(c));
	/* No collision by concatenation. */
	assert_true(labels_hash(d) != labels_hash(e));
	assert_true(labels_equal(NULL, NULL));
	{
		struct labels *empty = L("{}");

		assert_true(labels_hash(NULL) == labels_hash(empty));
		labels_free(empty);
	}
	labels_free(a);
	labels_free(b);
	labels_free(c);
	labels_free(d);
	labels_free(e);
}

static void test_label_key_and_value_syntax(void **state)
{
	char long_name[80];

	assert_true(label_key_valid("app"));
	assert_true(label_key_valid("app.kubernetes.io/name"));
	assert_true(label_key_valid("a_b-c.d"));
	assert_true(label_key_valid("A1"));
	assert_false(label_key_valid(""));
	assert_false(label_key_valid("-app"));
	assert_false(label_key_valid("app-"));
	assert_false(label_key_valid("a/b/c"));
	assert_false(label_key_valid("/app"));
	assert_false(label_key_valid("Example.com/app"));
	assert_false(label_key_valid("example.com/"));
	assert_false(label_key_valid("a b"));
	assert_false(label_key_valid(NULL));
	memset(long_name, 'a', 63);
	long_name[63] = '\0';
	assert_true(label_key_valid(long_name));
	assert_true(label_value_valid(long_name));
	long_name[63] = 'a';
	long_name[64] = '\0';
	assert_false(label_key_valid(long_name));
	assert_false(label_value_valid(long_name));

	assert_true(label_value_valid(""));
	assert_true(label_value_valid("v1.2_3-x"));
	assert_false(label_value_valid("-v"));
	assert_false(label_value_valid("a/b"));
	assert_false(label_value_valid(NULL));
}

static void test_selector_empty_matches_everything(void **state)
{
	assert_true(matches("{}", "{'a':'1'}"));
	assert_true(matches("{}", "{}"));
	assert_true(matches("{}", NULL));
	assert_true(matches("{'matchLabels':null,'matchExpressions':null}", "{}"));
	assert_true(matches("{'matchExpressions':[]}", "{'x':'y'}"));
}

static void test_selector_match_labels_all_must_hold(void **state)
{
	const char *sel = "{'matchLabels':{'app':'web','tier':'front'}}";

	assert_true(matches(sel, "{'app':'web','tier':'front','extra':'x'}"));
	assert_false(matches(sel, "{'app':'web'}"));
	assert_false(matches(sel, "{'app':'web','tier':'back'}"));
	assert_false(matches(sel, NULL));
}

static void test_selector_in_and_not_in(void **state)
{
	const char *in = "{'matchExpressions':[{'key':'env','operator':'In','values':['a','b']}]}";
	const char *notin =
		"{'matchExpressions':[{'key':'env','operator':'NotIn','values':['a','b']}]}";

	assert_true(matches(in, "{'env':'a'}"));
	assert_true(matches(in, "{'env':'b'}"));
	assert_false(matches(in, "{'env':'c'}"));
	assert_false(matches(in, "{}"));
	assert_false(matches(notin, "{'env':'a'}"));
	assert_true(matches(notin, "{'env':'c'}"));
	/* NotIn holds when the key is absent (Kubernetes semantics). */
	assert_true(matches(notin, "{}"));
	assert_true(matches(notin, NULL));
}

static void test_selector_exists_and_does_not_exist(void **state)
{
	const char *ex = "{'matchExpressions':[{'key':'gpu','operator':'Exists'}]}";
	const char *dne =
		"{'matchExpressions':[{'key':'gpu','operator':'DoesNotExist','values':[]}]}";

	assert_true(matches(ex, "{'gpu':''}"));
	assert_false(matches(ex, "{'cpu':'x'}"));
	assert_false(matches(dne, "{'gpu':'yes'}"));
	assert_true(matches(dne, "{}"));
}

static void test_selector_labels_and_expressions_combine(void **state)
{
	const char *sel = "{'matchLabels':{'app':'web'},'matchExpressions':["
			  "{'key':'env','operator':'In','values':['prod']},"
			  "{'key':'canary','operator':'DoesNotExist'}]}";

	assert_true(matches(sel, "{'app':'web','env':'prod'}"));
	assert_false(matches(sel, "{'app':'web','env':'prod','canary':'1'}"));
	assert_false(matches(sel, "{'app':'db','env':'prod'}"));
}

static void test_selector_errors_name_the_field(void **state)
{
	selector_rejects("[]", "spec.sel[0]: not an object");
	selector_rejects("{'matchExpressions':{}}", "spec.sel[0].matchExpressions: not an array");
	selector_rejects("{'matchLabels':[]}", "spec.sel[0].matchLabels: not an object");
	selector_rejects("{'matchLabels':{'a':1}}", "spec.sel[0].matchLabels.a: not a string");
	selector_rejects("{'matchLabels':{'-a':'x'}}",
			 "spec.sel[0].matchLabels: \"-a\" is not a valid label key");
	selector_rejects("{'matchLabels':{'a':'x y'}}",
			 "spec.sel[0].matchLabels.a: \"x y\" is not a valid label value");
	selector_rejects("{'matchExpressions':[{'key':'a','operator':'Exists'},"
			 "{'key':'a','operator':'Foo'}]}",
			 "spec.sel[0].matchExpressions[1].operator: \"Foo\" is not one of In, "
			 "NotIn, Exists, DoesNotExist");
	selector_rejects("{'matchExpressions':[{'operator':'Exists'}]}",
			 "spec.sel[0].matchExpressions[0].key: missing");
	selector_rejects("{'matchExpressions':[{'key':5,'operator':'Exists'}]}",
			 "spec.sel[0].matchExpressions[0].key: not a string");
	selector_rejects("{'matchExpressions':[{'key':'a b','operator':'Exists'}]}",
			 "spec.sel[0].matchExpressions[0].key: \"a b\" is not a valid label key");
	selector_rejects("{'matchExpressions':[{'key':'a'}]}",
			 "spec.sel[0].matchExpressions[0].operator: missing");
	selector_rejects("{'matchExpressions':[{'key':'a','operator':'In'}]}",
			 "spec.sel[0].matchExpressions[0].values: must not be empty for operator "
			 "In");
	selector_rejects("{'matchExpressions':[{'key':'a','operator':'NotIn','values':[]}]}",
			 "spec.sel[0].matchExpressions[0].values: must not be empty for operator "
			 "NotIn");
	selector_rejects("{'matchExpressions':[{'key':'a','operator':'Exists','values':['x']}]}",
			 "spec.sel[0].matchExpressions[0].values: must be empty for operator "
			 "Exists");
	selector_rejects("{'matchExpressions':[{'key':'a','operator':'In','values':'x'}]}",
			 "spec.sel[0].matchExpressions[0].values: not an array");
	selector_rejects("{'matchExpressions':[{'key':'a','operator':'In','values':['ok',3]}]}",
			 "spec.sel[0].matchExpressions[0].values[1]: not a string");
	selector_rejects("{'matchExpressions':[{'key':'a','operator':'In','values':['-bad']}]}",
			 "spec.sel[0].matchExpressions[0].values[0]: \"-bad\" is not a valid label "
			 "value");
	selector_rejects("{'matchExpressions':[7]}",
			 "spec.sel[0].matchExpressions[0]: not an object");
}

static void test_selector_unknown_fields_are_ignored(void **state)
{
	assert_true(matches("{'future':1,'matchLabels':{'a':'b'}}", "{'a':'b'}"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels_decode_sorted_and_lookup),
		cmocka_unit_test(test_labels_null_or_absent_is_empty),
		cmocka_unit_test(test_labels_wrong_types_name_the_field),
		cmocka_unit_test(test_labels_equal_and_hash),
		cmocka_unit_test(test_label_key_and_value_syntax),
		cmocka_unit_test(test_selector_empty_matches_everything),
		cmocka_unit_test(test_selector_match_labels_all_must_hold),
		cmocka_unit_test(test_selector_in_and_not_in),
		cmocka_unit_test(test_selector_exists_and_does_not_exist),
		cmocka_unit_test(test_selector_labels_and_expressions_combine),
		cmocka_unit_test(test_selector_errors_name_the_field),
		cmocka_unit_test(test_selector_unknown_fields_are_ignored),
	};

	return cmocka_run_group_tests_name("selector", tests, NULL, NULL);
}
