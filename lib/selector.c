/* Kubernetes labels and label selectors (see include/ironlb/selector.h).
 *
 * Label sets are one allocation each (header, sorted array, then the
 * strings) because the controller keeps one per Service and per Namespace:
 * tens of thousands of them must stay small and cheap to free.
 */
#include "ironlb/selector.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ironlb/parse.h"

#define LABEL_NAME_MAX 63

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct label *)a)->key, ((const struct label *)b)->key);
}

struct labels *labels_new_empty(void)
{
	return calloc(1, sizeof(struct labels));
}

int labels_from_json(const json_t *obj, const char *path, struct labels **ret, char *err,
		     size_t errlen)
{
	size_t n, bytes = 0;
	const char *key;
	json_t *value;
	struct labels *l;
	char *strings;
	size_t i = 0;

	if (!obj || json_is_null(obj)) {
		l = labels_new_empty();
		if (!l)
			return -ENOMEM;
		*ret = l;
		return 0;
	}
	if (!json_is_object(obj)) {
		errf(err, errlen, "%s: not an object", path);
		return -EINVAL;
	}
	n = json_object_size(obj);
	/* json_object_foreach wants a non-const object; it does not modify it. */
	json_object_foreach ((json_t *)obj, key, value) {
		if (!json_is_string(value)) {
			errf(err, errlen, "%s.%.253s: not a string", path, key);
			return -EINVAL;
		}
		bytes += strlen(key) + 1 + json_string_length(value) + 1;
	}
	l = malloc(sizeof(*l) + n * sizeof(l->v[0]) + bytes);
	if (!l)
		return -ENOMEM;
	strings = (char *)&l->v[n];
	json_object_foreach ((json_t *)obj, key, value) {
		size_t kl = strlen(key) + 1;
		/* Label values never hold NUL; a hostile one is cut there. */
		const char *v = json_string_value(value);
		size_t vl = strlen(v) + 1;

		memcpy(strings, key, kl);
		l->v[i].key = strings;
		strings += kl;
		memcpy(strings, v, vl);
		l->v[i].value = strings;
		strings += vl;
		i++;
	}
	l->n = n;
	qsort(l->v, n, sizeof(l->v[0]), label_cmp);
	*ret = l;
	return 0;
}

void labels_free(struct labels *l)
{
	free(l);
}

const char *labels_get(const struct labels *l, const char *key)
{
	size_t lo = 0, hi;

	if (!l)
		return NULL;
	hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, l->v[mid].key);

		if (c == 0)
			return l->v[mid].value;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

bool labels_equal(const struct labels *a, const struct labels *b)
{
	size_t na = a ? a->n : 0, nb = b ? b->n : 0;

	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a->v[i].key, b->v[i].key) != 0 ||
		    strcmp(a->v[i].value, b->v[i].value) != 0)
			return false;
	return true;
}

static uint64_t fnv_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t labels_hash(const struct labels *l)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n = l ? l->n : 0;

	h = fnv_bytes(h, &n, sizeof(n));
	for (size_t i = 0; i < n; i++) {
		size_t kl = strlen(l->v[i].key), vl = strlen(l->v[i].value);

		h = fnv_bytes(h, &kl, sizeof(kl));
		h = fnv_bytes(h, l->v[i].key, kl);
		h = fnv_bytes(h, &vl, sizeof(vl));
		h = fnv_bytes(h, l->v[i].value, vl);
	}
	return h;
}

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The "name" part of a qualified name, and label values (non-empty case). */
static bool label_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > LABEL_NAME_MAX)
		return false;
	if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

bool label_key_valid(const char *key)
{
	const char *slash;

	if (!key)
		return false;
	slash = strchr(key, '/');
	if (slash) {
		char prefix[254];
		size_t plen = (size_t)(slash - key);

		if (plen == 0 || plen >= sizeof(prefix))
			return false;
		memcpy(prefix, key, plen);
		prefix[plen] = '\0';
		if (!dns1123_subdomain_valid(prefix))
			return false;
		key = slash + 1;
	}
	return label_name_valid(key, strnlen(key, LABEL_NAME_MAX + 1));
}

bool label_value_valid(const char *value)
{
	size_t len;

	if (!value)
		return false;
	len = strnlen(value, LABEL_NAME_MAX + 1);
	return len == 0 || label_name_valid(value, len);
}

static void req_clear(struct selector_req *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

void selector_free(struct selector *s)
{
	if (!s)
		return;
	labels_free(s->match_labels);
	for (size_t i = 0; i < s->nreqs; i++)
		req_clear(&s->reqs[i]);
	free(s->reqs);
	free(s);
}

static const struct {
	const char *name;
	enum selector_op op;
} ops[] = {
	{ "In", SELECTOR_IN },
	{ "NotIn", SELECTOR_NOT_IN },
	{ "Exists", SELECTOR_EXISTS },
	{ "DoesNotExist", SELECTOR_DOES_NOT_EXIST },
};

static int req_parse(const json_t *j, const char *path, struct selector_req *r, char *err,
		     size_t errlen)
{
	json_t *key, *op, *values; /* borrowed */
	size_t i, n;

	if (!json_is_object(j)) {
		errf(err, errlen, "%s: not an object", path);
		return -EINVAL;
	}
	key = json_object_get(j, "key");
	op = json_object_get(j, "operator");
	values = json_object_get(j, "values");
	if (!json_is_string(key)) {
		errf(err, errlen, "%s.key: %s", path, key ? "not a string" : "missing");
		return -EINVAL;
	}
	if (!label_key_valid(json_string_value(key))) {
		errf(err, errlen, "%s.key: \"%.80s\" is not a valid label key", path,
		     json_string_value(key));
		return -EINVAL;
	}
	if (!json_is_string(op)) {
		errf(err, errlen, "%s.operator: %s", path, op ? "not a string" : "missing");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(json_string_value(op), ops[i].name) == 0)
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		errf(err, errlen,
		     "%s.operator: \"%.40s\" is not one of In, NotIn, Exists, DoesNotExist", path,
		     json_string_value(op));
		return -EINVAL;
	}
	r->op = ops[i].op;
	if (values && !json_is_null(values) && !json_is_array(values)) {
		errf(err, errlen, "%s.values: not an array", path);
		return -EINVAL;
	}
	n = json_is_array(values) ? json_array_size(values) : 0;
	if ((r->op == SELECTOR_IN || r->op == SELECTOR_NOT_IN) && n == 0) {
		errf(err, errlen, "%s.values: must not be empty for operator %s", path,
		     ops[i].name);
		return -EINVAL;
	}
	if ((r->op == SELECTOR_EXISTS || r->op == SELECTOR_DOES_NOT_EXIST) && n > 0) {
		errf(err, errlen, "%s.values: must be empty for operator %s", path, ops[i].name);
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		json_t *v = json_array_get(values, i); /* borrowed */

		if (!json_is_string(v)) {
			errf(err, errlen, "%s.values[%zu]: not a string", path, i);
			return -EINVAL;
		}
		if (!label_value_valid(json_string_value(v))) {
			errf(err, errlen, "%s.values[%zu]: \"%.80s\" is not a valid label value",
			     path, i, json_string_value(v));
			return -EINVAL;
		}
	}
	/* r->nvalues counts only copied values, so req_clear can free a
	 * partial one. */
	r->key = strdup(json_string_value(key));
	r->values = calloc(n ? n : 1, sizeof(char *));
	if (!r->key || !r->values)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		r->values[i] = strdup(json_string_value(json_array_get(values, i)));
		if (!r->values[i])
			return -ENOMEM;
		r->nvalues = i + 1;
	}
	return 0;
}

int selector_parse(const json_t *json, const char *path, struct selector **ret, char *err,
		   size_t errlen)
{
	json_t *ml, *me; /* borrowed */
	struct selector *s;
	char sub[SELECTOR_ERR_MAX];
	int r;

	if (!json_is_object(json)) {
		errf(err, errlen, "%s: not an object", path);
		return -EINVAL;
	}
	ml = json_object_get(json, "matchLabels");
	me = json_object_get(json, "matchExpressions");
	if (me && !json_is_null(me) && !json_is_array(me)) {
		errf(err, errlen, "%s.matchExpressions: not an array", path);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	snprintf(sub, sizeof(sub), "%s.matchLabels", path);
	r = labels_from_json(ml, sub, &s->match_labels, err, errlen);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < s->match_labels->n; i++) {
		const struct label *l = &s->match_labels->v[i];

		if (!label_key_valid(l->key)) {
			errf(err, errlen, "%s.matchLabels: \"%.80s\" is not a valid label key",
			     path, l->key);
			r = -EINVAL;
			goto fail;
		}
		if (!label_value_valid(l->value)) {
			errf(err, errlen,
			     "%s.matchLabels.%.80s: \"%.80s\" is not a valid label value", path,
			     l->key, l->value);
			r = -EINVAL;
			goto fail;
		}
	}
	if (json_is_array(me) && json_array_size(me) > 0) {
		size_t n = json_array_size(me);

		s->reqs = calloc(n, sizeof(s->reqs[0]));
		if (!s->reqs) {
			r = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < n; i++) {
			snprintf(sub, sizeof(sub), "%s.matchExpressions[%zu]", path, i);
			/* Count it first so that selector_free cleans up a partial one. */
			s->nreqs = i + 1;
			r = req_parse(json_array_get(me, i), sub, &s->reqs[i], err, errlen);
			if (r < 0)
				goto fail;
		}
	}
	*ret = s;
	return 0;
fail:
	if (r == -ENOMEM)
		errf(err, errlen, "%s: out of memory", path);
	selector_free(s);
	return r;
}

static bool value_in(const struct selector_req *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

bool selector_matches(const struct selector *s, const struct labels *l)
{
	for (size_t i = 0; i < s->match_labels->n; i++) {
		const char *v = labels_get(l, s->match_labels->v[i].key);

		if (!v || strcmp(v, s->match_labels->v[i].value) != 0)
			return false;
	}
	for (size_t i = 0; i < s->nreqs; i++) {
		const struct selector_req *r = &s->reqs[i];
		const char *v = labels_get(l, r->key);

		switch (r->op) {
		case SELECTOR_IN:
			if (!v || !value_in(r, v))
				return false;
			break;
		case SELECTOR_NOT_IN:
			if (v && value_in(r, v))
				return false;
			break;
		case SELECTOR_EXISTS:
			if (!v)
				return false;
			break;
		case SELECTOR_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		}
	}
	return true;
}
