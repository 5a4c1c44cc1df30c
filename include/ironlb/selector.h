/* Kubernetes labels and label selectors (metav1.LabelSelector).
 *
 * A label set is decoded once from an object's metadata.labels into a
 * compact sorted array; a selector is parsed and validated once from its
 * JSON form (matchLabels plus matchExpressions with In, NotIn, Exists and
 * DoesNotExist) and then matched any number of times without allocating.
 * The controller uses them for IPAddressPool serviceAllocation selectors,
 * the speaker for L2Advertisement/BGPAdvertisement node selectors.
 *
 * Semantics follow metav1.LabelSelectorAsSelector: every matchLabels pair
 * and every expression must hold; an empty selector ({}) matches every label
 * set; NotIn and DoesNotExist hold when the key is absent.
 *
 * jansson values passed in are borrowed. Nothing here logs or keeps global
 * state.
 */
#ifndef IRONLB_SELECTOR_H
#define IRONLB_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Enough for a path and a reason; longer messages are truncated. */
#define SELECTOR_ERR_MAX 512

struct label {
	const char *key;
	const char *value;
};

/* Sorted by key, keys unique; one allocation holds the array and strings. */
struct labels {
	size_t n;
	struct label v[];
};

/* Decodes a metadata.labels object. NULL or JSON null gives an empty set.
 * Fails with -EINVAL when obj is not an object or a value is not a string,
 * writing "<path>: reason" (or "<path>.<key>: reason") into err (errlen
 * bytes, may be 0), and with -ENOMEM. Keys and values are not validated
 * further: the API server did that for real objects. */
int labels_from_json(const json_t *obj, const char *path, struct labels **ret, char *err,
		     size_t errlen);
/* An empty label set; NULL on ENOMEM. */
struct labels *labels_new_empty(void);
void labels_free(struct labels *l);
/* Value for key, or NULL when the key is absent. l may be NULL (empty). */
const char *labels_get(const struct labels *l, const char *key);
bool labels_equal(const struct labels *a, const struct labels *b);
/* A 64-bit FNV-1a hash of the sorted pairs, with lengths mixed in so that
 * different sets do not collide by concatenation. NULL hashes as empty. */
uint64_t labels_hash(const struct labels *l);

/* Label keys are qualified names: an optional DNS-1123 subdomain prefix and
 * '/', then a name of 1..63 characters [A-Za-z0-9-_.] starting and ending
 * alphanumeric. Values are empty or such a name. */
bool label_key_valid(const char *key);
bool label_value_valid(const char *value);

enum selector_op {
	SELECTOR_IN,
	SELECTOR_NOT_IN,
	SELECTOR_EXISTS,
	SELECTOR_DOES_NOT_EXIST,
};

struct selector_req {
	char *key;
	enum selector_op op;
	size_t nvalues;
	char **values;
};

struct selector {
	struct labels *match_labels; /* never NULL */
	size_t nreqs;
	struct selector_req *reqs;
};

/* Parses and validates a label selector object. path names it in error
 * messages ("spec.nodeSelectors[0]"). Fails with -EINVAL and a message in
 * err naming the offending field, e.g.
 *   spec.nodeSelectors[0].matchExpressions[1].operator: "Foo" is not one of
 *   In, NotIn, Exists, DoesNotExist
 * or -ENOMEM. Unknown fields are ignored. */
int selector_parse(const json_t *json, const char *path, struct selector **ret, char *err,
		   size_t errlen);
void selector_free(struct selector *s);
/* Whether labels l (NULL: none) satisfy s. */
bool selector_matches(const struct selector *s, const struct labels *l);

#endif
