/* BGP mode's actuator: applies the desired BIRD configuration and the
 * desired advertised prefixes, and reports what BIRD says about its
 * sessions.
 *
 * - Configuration (bgp_set_config): rendered by bird_conf.h; when the text
 *   differs from the last one, it is written next to the configuration
 *   file, checked by BIRD (`configure check`), renamed over the file and
 *   loaded (`configure`). A text BIRD rejects leaves the old file and the
 *   running configuration alone, is logged with the line BIRD blames and
 *   counted, and is not retried until the input changes. While BIRD is
 *   away the file is written in place (BIRD reads it when it starts) and
 *   applied again when the control socket comes back.
 * - Prefixes (bgp_set_routes): blackhole routes in the kernel tables
 *   [table_base, table_base + table_count), one table per advertisement
 *   policy (krt.h), which BIRD's kernel protocols learn. The first call
 *   replaces whatever an earlier run left there; later calls change only
 *   the difference. Never touches BIRD's configuration.
 * - BIRD's state: `show protocols` every poll interval while the control
 *   socket is up; the sessions are the protocols named ilb_peer_<j>, j an
 *   index into the peers of the last configuration BIRD accepted.
 * - bgp_free withdraws every prefix it added.
 */
#ifndef IRONLB_SPEAKER_BGP_H
#define IRONLB_SPEAKER_BGP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bird_conf.h"
#include "krt.h"

struct loop;
struct metrics;
struct bgp;

#define BGP_DEFAULT_BIRD_CONFIG "/run/ironlb/bird/bird.conf"
#define BGP_DEFAULT_BIRD_SOCKET "/run/ironlb/bird/bird.ctl"
#define BGP_DEFAULT_TABLE_BASE 74800
#define BGP_DEFAULT_TABLE_COUNT 256
#define BGP_DEFAULT_POLL_US (2 * 1000000ULL)

struct bgp_cfg {
	const char *bird_config; /* NULL: BGP_DEFAULT_BIRD_CONFIG */
	const char *bird_socket; /* NULL: BGP_DEFAULT_BIRD_SOCKET */
	uint32_t table_base;	 /* 0: BGP_DEFAULT_TABLE_BASE */
	uint32_t table_count;	 /* 0: BGP_DEFAULT_TABLE_COUNT */
	uint64_t poll_us;	 /* `show protocols` interval, 0: 2 s */
	/* BIRD control-socket timings (bird_ctl.h); 0: its defaults. */
	uint64_t command_timeout_us, backoff_min_us, backoff_max_us;
	/* The first configuration, written at once so that BIRD can start
	 * before or after the speaker: node name and router id, usually no
	 * peers or policies yet. Required. */
	const struct bird_conf_input *initial;
};

/* Opens the kernel route socket, writes the initial configuration and
 * starts talking to BIRD. NULL after logging what failed. m may be NULL. */
struct bgp *bgp_new(struct loop *l, struct metrics *m, const struct bgp_cfg *cfg);
/* Withdraws the prefixes this process added, closes. NULL is a no-op. */
void bgp_free(struct bgp *b);

/* Makes in the desired configuration (see above; asynchronous when BIRD
 * is up). 0 if nothing changed or the change is on its way; -EINVAL if the
 * input cannot be rendered (logged, counted as a failed reconfiguration);
 * -errno if the file cannot be written. */
int bgp_set_config(struct bgp *b, const struct bird_conf_input *in);

/* Makes the advertised prefixes exactly want[0..n) (any order, duplicates
 * ignored; every table inside the range, else -EINVAL and nothing done).
 * 0, or the first -errno of a kernel change (the others are still made;
 * what failed is retried on the next call). */
int bgp_set_routes(struct bgp *b, const struct krt_route *want, size_t n);

enum bgp_apply_state {
	BGP_APPLY_NONE,	   /* nothing sent to BIRD yet */
	BGP_APPLY_PENDING, /* written; BIRD down or the check/configure is in flight */
	BGP_APPLY_OK,
	BGP_APPLY_FAILED,
};

const char *bgp_apply_state_str(enum bgp_apply_state s);

/* What the status output and the tests read. */
struct bgp_info {
	bool bird_up;
	enum bgp_apply_state apply;
	char apply_message[512]; /* BIRD's message for the last result */
	uint64_t apply_wall_us;	 /* when the last result came, 0: never */
	size_t n_routes;
	size_t n_sessions, n_sessions_up;
	uint64_t reconfigurations_ok, reconfigurations_failed;
};

void bgp_info(const struct bgp *b, struct bgp_info *ret);

/* Adds "bgp": {bird, config{path, state, message, time}, sessions[{peer,
 * address, state, since, info, established}], tables[{table, routes}],
 * routes} to out. */
void bgp_status(const struct bgp *b, json_t *out);

/* true when BIRD is up, the last configuration was accepted and no
 * session is down; otherwise false with a one-line detail. The speaker
 * should not report itself unready for it: L2 mode works without BIRD, so
 * this is a detail for /readyz and status, not a gate. */
bool bgp_healthy(const struct bgp *b, char *detail, size_t len);

#endif
