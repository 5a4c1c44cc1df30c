/* A core/v1 Service reduced to what address allocation needs.
 *
 * service_from_json() decodes a Service object (as the API server or an
 * informer hands it over) into a compact struct: identity, type and class,
 * IP families, what addresses or pool it asks for and how (interpreting the
 * ironlb.io/ annotations and their metallb.io/ and metallb.universe.tf/
 * forms), sharing key, ports, traffic policy, externalIPs, labels, and the
 * addresses already in status.loadBalancer.ingress. The JSON is borrowed and
 * may be freed right after.
 *
 * Hostile input never crashes: a field of the wrong type fails the decode
 * with a message naming the field ("spec.ports[1].port: not an integer").
 * Values of the right type that make no sense for allocation (an annotation
 * that is not an address, spec.loadBalancerIP and the annotation both set)
 * decode fine and are carried in struct service_request.error, so that the
 * allocator can report them on the Service as an AllocationFailed reason.
 *
 * Also here, because every decoder of Kubernetes objects needs it:
 * service_parse_time() for metadata.creationTimestamp.
 */
#ifndef IRONLB_CONTROLLER_SERVICE_H
#define IRONLB_CONTROLLER_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "ironlb/addr.h"
#include "ironlb/selector.h"

/* Enough for a field path and a reason. */
#define SERVICE_ERR_MAX 512
/* creationTimestamp of an object that has none: sorts after every real one. */
#define SERVICE_TIME_UNKNOWN INT64_MAX

/* The annotation keys, ironlb's own form. */
#define SERVICE_ANNOT_LB_IPS "ironlb.io/loadBalancerIPs"
#define SERVICE_ANNOT_POOL "ironlb.io/address-pool"
#define SERVICE_ANNOT_SHARED "ironlb.io/allow-shared-ip"
/* Written by the controller (not read here). */
#define SERVICE_ANNOT_ALLOCATED_FROM "ironlb.io/ip-allocated-from-pool"

enum service_type {
	SERVICE_CLUSTER_IP,
	SERVICE_NODE_PORT,
	SERVICE_LOAD_BALANCER,
	SERVICE_EXTERNAL_NAME,
};

enum service_family_policy {
	SERVICE_POLICY_UNSET,
	SERVICE_SINGLE_STACK,
	SERVICE_PREFER_DUAL_STACK,
	SERVICE_REQUIRE_DUAL_STACK,
};

enum service_protocol {
	SERVICE_TCP,
	SERVICE_UDP,
	SERVICE_SCTP,
};

/* ipMode of a status ingress entry (Kubernetes 1.29+). */
enum service_ip_mode {
	SERVICE_IP_MODE_NONE, /* field absent */
	SERVICE_IP_MODE_VIP,
	SERVICE_IP_MODE_PROXY,
	SERVICE_IP_MODE_OTHER,
};

/* Which annotations came in a MetalLB form (bits of service.deprecated):
 * they work, and the controller suggests the ironlb.io/ key in an Event. */
enum {
	SERVICE_DEPRECATED_LB_IPS = 1 << 0,
	SERVICE_DEPRECATED_POOL = 1 << 1,
	SERVICE_DEPRECATED_SHARED = 1 << 2,
};

struct service_port {
	uint16_t port;
	uint8_t protocol; /* enum service_protocol */
};

struct service_ingress {
	struct ip_addr addr; /* family 0 when the entry has no usable ip */
	uint8_t ip_mode;     /* enum service_ip_mode */
	bool foreign;	     /* has a hostname, ports, or an unparseable ip */
};

/* What the Service asks for. */
struct service_request {
	uint8_t naddrs;		 /* explicit addresses, in the order given */
	struct ip_addr addrs[2]; /* at most one per family */
	char *pool;		 /* requested pool, or NULL */
	/* NULL, or why the request cannot be met whatever the pools hold
	 * ("spec.loadBalancerIP and ironlb.io/loadBalancerIPs are both set"). */
	char *error;
	/* Which key carried the addresses, for messages: "spec.loadBalancerIP"
	 * or an annotation key (static string), or NULL. */
	const char *addrs_from;
	const char *pool_from; /* annotation key the pool came from, or NULL */
};

struct service_external_ip {
	struct ip_addr addr; /* family 0 when the entry is not an address */
};

struct service {
	char *namespace;
	char *name;
	char *uid;	 /* NULL if absent */
	int64_t created; /* seconds since the epoch, or SERVICE_TIME_UNKNOWN */
	uint8_t type;	 /* enum service_type */
	uint8_t family_policy;
	uint8_t nfamilies;
	uint8_t families[2];	  /* spec.ipFamilies: AF_INET / AF_INET6, primary first */
	bool etp_local;		  /* externalTrafficPolicy: Local */
	uint8_t deprecated;	  /* SERVICE_DEPRECATED_* */
	char *lb_class;		  /* spec.loadBalancerClass, NULL if unset */
	char *sharing_key;	  /* allow-shared-ip annotation, NULL if unset or empty */
	const char *sharing_from; /* its annotation key (static string) */
	uint64_t selector_hash;	  /* labels_hash() of spec.selector */
	struct service_request req;
	size_t nports;
	struct service_port *ports;
	size_t nexternal;
	struct service_external_ip *external;
	size_t ningress;
	struct service_ingress *ingress;
	struct labels *labels; /* metadata.labels, never NULL */
	/* References beyond the first (service_ref); service_free drops one.
	 * The informer cache and the allocator share one decoded Service. */
	unsigned extra_refs;
};

/* Decodes a Service object. Returns 0, -EINVAL with a message in err
 * naming the field, or -ENOMEM. *ret is untouched on failure. */
int service_from_json(const json_t *obj, struct service **ret, char *err, size_t errlen);
void service_free(struct service *s);
/* A deep copy of s (the allocator and the informer cache each own one).
 * NULL on ENOMEM. */
struct service *service_dup(const struct service *s);
/* Another reference to s (never mutated once decoded): each holder calls
 * service_free() once. Returns s. */
struct service *service_ref(struct service *s);

/* The annotation key that a deprecated bit stands for, for messages
 * (NULL for an unknown bit or one that is not set). */
const char *service_deprecated_key(const struct service *s, unsigned bit);

/* Orders Services by age: creationTimestamp, then namespace, then name.
 * The oldest wins conflicts that must be settled without history. */
int service_cmp_age(const struct service *a, const struct service *b);

/* Whether status.loadBalancer.ingress already holds exactly addrs (in
 * order) with ipMode mode and nothing else, so a write can be skipped. */
bool service_ingress_equal(const struct service *s, const struct ip_addr *addrs, size_t n,
			   enum service_ip_mode mode);
/* Builds the status.loadBalancer object for addrs:
 * {"ingress": [{"ip": "198.51.100.1", "ipMode": "VIP"}, ...]} (no ipMode
 * for SERVICE_IP_MODE_NONE; {} for n == 0). New reference, NULL on ENOMEM. */
json_t *service_ingress_json(const struct ip_addr *addrs, size_t n, enum service_ip_mode mode);

/* Parses a Kubernetes timestamp (RFC 3339 in UTC as the API server writes
 * it: "2024-05-06T07:08:09Z", an optional fraction of a second ignored)
 * into seconds since the epoch. Returns 0 or -EINVAL. */
int service_parse_time(const char *s, int64_t *ret);

#endif
