/* The controller's I/O layer: informers on Services, Namespaces and
 * IPAddressPools feed the pure allocator (alloc.h); its decisions become
 * Service status writes, the ironlb.io/ip-allocated-from-pool annotation,
 * Events, IPAddressPool status and metrics. Only the leader (Lease
 * "ironlb-controller" in the controller's namespace) runs the allocator
 * and writes; every replica keeps its caches so that it is ready to take
 * over, and reports ready once they are synced. The leader also reports
 * invalid BGPPeers, BGPAdvertisements and BFDProfiles in their status
 * (bgp_report.h). See docs/controller.md.
 */
#ifndef IRONLB_CONTROLLER_CONTROLLER_H
#define IRONLB_CONTROLLER_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service.h"

struct loop;
struct kube_client;
struct metrics;
struct controller;

#define CONTROLLER_LEASE_NAME "ironlb-controller"

struct controller_config {
	const char *namespace; /* ironlb's namespace: pools and the Lease */
	const char *lb_class;
	bool default_class;
	enum service_ip_mode ip_mode; /* written to status ingress */
	bool leader_elect;	      /* false: act as leader at once */
	const char *identity;	      /* Lease holder identity */
	uint64_t lease_duration_us;
	uint64_t renew_deadline_us;
	uint64_t retry_period_us;
};

/* cfg is copied. The client must outlive the controller. metrics may be
 * NULL. NULL on failure (errno set). */
struct controller *controller_new(struct loop *loop, struct kube_client *client,
				  struct metrics *metrics, const struct controller_config *cfg);
/* Starts the informers and the leader election. 0 or a negative errno. */
int controller_start(struct controller *c);
/* Every cache has its first full list (readiness, on every replica). */
bool controller_synced(const struct controller *c);
/* This replica runs the allocator and writes. */
bool controller_leading(const struct controller *c);
/* Stops acting at once and releases the Lease; done (may be NULL) is called
 * on the loop once the release is written or failed. */
void controller_shutdown(struct controller *c, void (*done)(void *userdata), void *userdata);
void controller_free(struct controller *c);

#endif
