/* Reporting of BGPPeers, BGPAdvertisements and BFDProfiles: the
 * controller watches them in its namespace, judges each with the same
 * decoders the speakers use (ironlb/bgp_objects.h) and, while it leads,
 * writes their status conditions (bgp_status.h) and a Warning Event when
 * one turns false. The speakers, one per node, only log and ignore an
 * invalid object; the single leader is where it is reported. Never reads
 * Secrets. See docs/controller.md, "BGP objects".
 */
#ifndef IRONLB_CONTROLLER_BGP_REPORT_H
#define IRONLB_CONTROLLER_BGP_REPORT_H

#include <stdbool.h>

struct loop;
struct kube_client;
struct metrics;
struct informer;
struct kube_event_recorder;
struct bgp_report;

/* ns is ironlb's namespace. pools is the controller's IPAddressPool
 * informer (json_t items) for BGPAdvertisement.spec.ipAddressPools; it,
 * the client, the recorder and metrics (may be NULL) must outlive the
 * report. NULL on failure. */
struct bgp_report *bgp_report_new(struct loop *loop, struct kube_client *client,
				  struct metrics *metrics, struct kube_event_recorder *events,
				  const char *ns, const struct informer *pools);
/* Starts the three informers. 0 or a negative errno. */
int bgp_report_start(struct bgp_report *r);
/* This replica leads (writes) or not. Turning false cancels every write. */
void bgp_report_set_leading(struct bgp_report *r, bool leading);
/* An IPAddressPool appeared or went away, or the pool cache synced. */
void bgp_report_pools_changed(struct bgp_report *r);
/* Its three caches have their first full list. */
bool bgp_report_synced(const struct bgp_report *r);
void bgp_report_free(struct bgp_report *r);

#endif
