/* Kubernetes resources ironlb uses, and the REST paths and queries that
 * address them: descriptors (group, version, plural, kind, namespaced),
 * path building with escaping, list/watch query strings, and reading the
 * standard metadata of an object. Pure: no I/O.
 */
#ifndef IRONLB_KUBE_RESOURCE_H
#define IRONLB_KUBE_RESOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct kube_resource {
	const char *group; /* "" for the core group */
	const char *version;
	const char *plural; /* the path segment: "services" */
	const char *kind;   /* "Service" */
	bool namespaced;
};

/* core/v1 */
extern const struct kube_resource KUBE_SERVICES;
extern const struct kube_resource KUBE_NODES;
extern const struct kube_resource KUBE_NAMESPACES;
extern const struct kube_resource KUBE_SECRETS;
extern const struct kube_resource KUBE_EVENTS;
extern const struct kube_resource KUBE_PODS;
/* discovery.k8s.io/v1 */
extern const struct kube_resource KUBE_ENDPOINTSLICES;
/* coordination.k8s.io/v1 */
extern const struct kube_resource KUBE_LEASES;
/* ironlb.io/v1beta1 */
extern const struct kube_resource KUBE_IPADDRESSPOOLS;
extern const struct kube_resource KUBE_L2ADVERTISEMENTS;
extern const struct kube_resource KUBE_BGPADVERTISEMENTS;
extern const struct kube_resource KUBE_BGPPEERS;
extern const struct kube_resource KUBE_BFDPROFILES;

/* The EndpointSlice label naming its Service. */
#define KUBE_LABEL_SERVICE_NAME "kubernetes.io/service-name"

/* Finds a descriptor by plural ("services"), kind ("Service") or
 * plural.group ("leases.coordination.k8s.io"); NULL if unknown. */
const struct kube_resource *kube_resource_find(const char *name);

/* "v1" or "group/version": the apiVersion field of the resource's objects. */
const char *kube_resource_api_version(const struct kube_resource *res, char *buf, size_t len);

/* Options of a list or watch request; zero-initialised means none. */
struct kube_list_opts {
	const char *label_selector; /* "a=b,c in (d,e),!f" */
	const char *field_selector; /* "metadata.name=x" */
	unsigned limit;		    /* page size; 0: no paging */
	const char *continue_token;
	const char *resource_version;
	bool watch;
	bool allow_bookmarks;
	unsigned timeout_s; /* timeoutSeconds; 0: none */
};

/* Builds the path (and query) of a request, with every name and value
 * percent-encoded:
 *   /api/v1/namespaces/NS/services/NAME/status
 *   /apis/GROUP/VERSION/PLURAL?watch=1&resourceVersion=...
 * ns is ignored for cluster-scoped resources and may be NULL for a
 * namespaced one (all namespaces; only valid without a name). name and
 * subresource may be NULL; opts may be NULL. Returns 0 with a new string
 * in *ret_path, -EINVAL for a subresource without a name or a name without
 * a namespace for a namespaced resource, -ENOMEM. */
int kube_path_build(const struct kube_resource *res, const char *ns, const char *name,
		    const char *subresource, const struct kube_list_opts *opts, char **ret_path);

/* The standard metadata of an object, borrowed from it. Strings that are
 * absent are "" (namespace of cluster-scoped objects, uid of objects made
 * by hand). */
struct kube_meta {
	const char *ns;
	const char *name;
	const char *uid;
	const char *resource_version;
	json_t *labels;	     /* borrowed object, or NULL */
	json_t *annotations; /* borrowed object, or NULL */
};

/* Reads obj.metadata. -EBADMSG if obj is not an object, metadata is not an
 * object, or a field has the wrong type; -ENODATA if name or
 * resourceVersion is missing or empty (need_name/need_rv). *ret_why names
 * the field on failure; *ret untouched. */
int kube_meta_get(json_t *obj, bool need_name, bool need_rv, struct kube_meta *ret,
		  const char **ret_why);

/* "ns/name", or "name" when ns is "" or NULL: the cache key client-go uses. */
int kube_key_format(const char *ns, const char *name, char *buf, size_t len);

/* A label value of obj (borrowed), or NULL. */
const char *kube_label_get(json_t *obj, const char *key);

#endif
