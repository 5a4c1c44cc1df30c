/* The L2 speaker's runtime: informers, the speaker's own Lease, the
 * heartbeat mesh, the reconcile step and the L2 announcer, wired on one
 * event loop. main.c parses flags and hands them over here. */
#ifndef IRONLB_SPEAKER_SPEAKER_H
#define IRONLB_SPEAKER_SPEAKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "announce.h"
#include "datapath.h"
#include "ironlb/daemon.h"

struct loop;
struct metrics;
struct speaker;

struct speaker_opts {
	struct daemon_opts common;
	const char *node_name;
	const char *control_socket;
	const char *hb_key_file;
	uint64_t hb_interval_us;
	unsigned hb_misses;
	const char *hb_addr; /* NULL: from the Node object / default route */
	struct announce_cfg announce;
	bool ignore_exclude_lb;
	const char *lb_class;
	enum datapath_mode datapath; /* --datapath */
	/* BGP mode (speaker_bgp.h); NULL/0: the defaults of bgp.h */
	const char *bird_config, *bird_socket;
	uint32_t bgp_table_base, bgp_table_count;
};

/* Sets up everything (reads the key file, the kubeconfig, opens sockets)
 * and starts the informers. NULL after logging what failed. */
struct speaker *speaker_new(struct loop *l, struct metrics *m, const struct speaker_opts *o);
/* Stops answering, sends LEAVING heartbeats, frees. NULL is a no-op. */
void speaker_free(struct speaker *s);
bool speaker_ready(const struct speaker *s, char *detail, size_t len);
/* The control socket's `status` addresses and peers, added to reply. */
void speaker_status(struct speaker *s, json_t *reply);

#endif
