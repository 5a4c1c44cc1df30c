/* Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * algorithm and defaults.
 *
 * Candidates poll the Lease every retryPeriod (jittered by up to 1.2x).
 * A Lease is free when it has no holder, or when its record has not
 * changed for leaseDurationSeconds as measured on OUR clock from the moment
 * we first saw that record: remote renewTime values are never compared
 * with the local clock, so clock skew between nodes does not matter. The
 * write that takes or renews the lease carries the resourceVersion it was
 * read at: of two candidates racing, one gets 409 Conflict.
 *
 * The leader renews every retryPeriod. If it has not renewed successfully
 * for renewDeadline (10 s, shorter than the 15 s others wait), it has lost:
 * leader_is_leader() turns false the moment the deadline passes (it reads
 * the clock, it does not wait for a timer), and on_stopped_leading is
 * called. A daemon checks leader_is_leader() before every write (or sets it
 * as the client's write gate), so a leader that stalls cannot write after
 * another may have taken over. On clean shutdown leader_release() empties
 * holderIdentity (leaseDurationSeconds 1) so that a successor does not
 * wait for the lease to expire.
 *
 * The decision logic is the pure function leader_decide(); the rest of
 * this module only does its I/O.
 */
#ifndef IRONLB_LEADER_H
#define IRONLB_LEADER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kube_client;
struct loop;
struct leader;

#define LEADER_IDENTITY_MAX 256

/* client-go defaults */
#define LEADER_LEASE_DURATION_US (15u * 1000000u)
#define LEADER_RENEW_DEADLINE_US (10u * 1000000u)
#define LEADER_RETRY_PERIOD_US (2u * 1000000u)
#define LEADER_JITTER_FACTOR 1.2

/* ---- pure decision ---- */

/* What a Lease's spec says. Times are the remote wall clock (µs since the
 * epoch): written for humans and kubectl, never trusted for expiry. */
struct leader_record {
	char holder[LEADER_IDENTITY_MAX]; /* "" when free */
	uint32_t lease_duration_s;
	uint64_t acquire_time_us;
	uint64_t renew_time_us;
	uint32_t transitions;
};

/* What we last saw, and when by our monotonic clock. */
struct leader_observed {
	bool valid;
	struct leader_record rec;
	uint64_t at_us;
};

struct leader_timing {
	uint64_t lease_duration_us;
	uint64_t renew_deadline_us;
	uint64_t retry_period_us;
};

enum leader_action {
	LEADER_CREATE,	/* no Lease: create it, holding it */
	LEADER_ACQUIRE, /* free or expired: take it (transitions + 1) */
	LEADER_RENEW,	/* ours: renew it */
	LEADER_WAIT,	/* held by another, not expired: try again later */
};

/* Records cur (NULL: no Lease) as observed at now_us if it differs from
 * what obs holds (client-go compares the raw record). Returns true when it
 * changed. */
bool leader_observe(struct leader_observed *obs, const struct leader_record *cur, uint64_t now_us);

/* The decision of one attempt, given the current record (NULL: there is
 * no Lease), our observation of it (already updated with leader_observe),
 * our identity, the monotonic and wall clocks and the timing. For
 * CREATE/ACQUIRE/RENEW, *ret_next is the record to write. */
enum leader_action leader_decide(const struct leader_record *cur, const struct leader_observed *obs,
				 const char *identity, uint64_t now_us, uint64_t wall_us,
				 const struct leader_timing *t, struct leader_record *ret_next);

/* Whether a leader whose last successful renewal STARTED at renewed_us
 * (monotonic) may still act as leader at now_us. */
bool leader_valid(uint64_t renewed_us, uint64_t now_us, const struct leader_timing *t);

/* The record a leader writes on release: no holder, leaseDurationSeconds 1,
 * transitions kept (client-go's ReleaseOnCancel). */
void leader_release_record(const struct leader_record *cur, uint64_t wall_us,
			   struct leader_record *ret);

/* Lease spec <-> record. leader_record_from_lease: 0, or -EBADMSG with a
 * reason (wrong types, bad times); a missing spec is an empty record. */
int leader_record_from_lease(json_t *lease, struct leader_record *ret, const char **ret_why);
/* Writes rec into lease.spec (lease is modified; borrowed). 0 or -ENOMEM. */
int leader_record_to_lease(const struct leader_record *rec, json_t *lease);

/* ---- the elector ---- */

struct leader_opts {
	const char *ns;		    /* the Lease's namespace */
	const char *name;	    /* the Lease's name */
	const char *identity;	    /* this candidate, unique (pod name); < LEADER_IDENTITY_MAX */
	uint64_t lease_duration_us; /* 0: defaults above */
	uint64_t renew_deadline_us;
	uint64_t retry_period_us;
	/* Called on the loop: */
	void (*on_started_leading)(struct leader *le, void *userdata);
	void (*on_stopped_leading)(struct leader *le, void *userdata);
	/* The holder we observe changed ("" when the lease became free). */
	void (*on_new_leader)(struct leader *le, const char *identity, void *userdata);
	/* A failed attempt: what the daemon may log (rate-limited). */
	void (*on_error)(struct leader *le, int err, long code, const char *reason,
			 const char *message, void *userdata);
	void *userdata;
	uint64_t seed; /* jitter; 0: random */
};

/* NULL on bad options (-EINVAL as errno: durations must satisfy
 * lease > renew deadline > retry period * 1.2, like client-go) or memory. */
struct leader *leader_new(struct kube_client *client, struct loop *loop,
			  const struct leader_opts *opts);
/* Stops without releasing (the lease then expires by itself). NULL no-op. */
void leader_free(struct leader *le);
int leader_start(struct leader *le);

/* True while this process holds the lease and its last renewal is younger
 * than renewDeadline. Checked before every write. */
bool leader_is_leader(const struct leader *le);
/* For kube_client_set_write_gate(c, leader_gate, le). */
bool leader_gate(void *le);
/* The holder we observe ("" if none or unknown). */
const char *leader_holder(const struct leader *le);

/* Stops campaigning; if leading, stops at once (leader_is_leader() false,
 * on_stopped_leading called) and releases the Lease. done is called when
 * the release was written or failed (err) or at once (from the loop) when
 * there was nothing to release. */
int leader_release(struct leader *le, void (*done)(struct leader *le, int err, void *userdata),
		   void *userdata);

#endif
