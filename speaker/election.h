/* Who owns an address in L2 mode: rendezvous (highest-random-weight) hashing.
 *
 * Every speaker scores each (address, node) pair with the same keyed 64-bit
 * hash and the node with the highest score owns the address; the others,
 * in descending score order, are its backups. Because a score depends only
 * on the address and one node's name, adding a node moves only the
 * addresses the new node wins, and removing one moves only the addresses it
 * owned. Pure: no I/O, no clock, no globals, no allocation.
 *
 * The hash is SipHash-2-4 with the fixed key ELECTION_KEY over
 *	family (1 byte: 4 or 6) | address (4 or 16 bytes) | node name (its bytes, no NUL)
 * The key and this encoding are part of the cluster's contract: speakers
 * that disagree on them elect different owners, so they never change
 * without a new election version that every speaker understands.
 */
#ifndef IRONLB_SPEAKER_ELECTION_H
#define IRONLB_SPEAKER_ELECTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ironlb/addr.h"

/* The SipHash key of the election: the 16 ASCII bytes "ironlb.election!". */
#define ELECTION_KEY "ironlb.election!"

/* SipHash-2-4 (Aumasson and Bernstein) of data under a 16-byte key, as the
 * reference implementation computes it (64-bit output, little-endian key and
 * words). Exposed for known-answer tests and for other speaker modules that
 * need a fast keyed hash. */
uint64_t election_siphash24(const uint8_t key[16], const void *data, size_t len);

/* The score of node for address a: higher wins. a must be AF_INET or
 * AF_INET6 (any other family scores as if its address were empty). node is
 * a NUL-terminated node name. */
uint64_t election_score(const struct ip_addr *a, const char *node);

/* The total order of the election for address a: returns < 0 if node x ranks
 * above (is preferred to) node y, > 0 if below, 0 if the names are equal.
 * Higher score ranks above; equal scores (a 2^-64 event between different
 * names) rank the byte-wise smaller name (strcmp) above. */
int election_compare(const struct ip_addr *a, const char *x, const char *y);

/* True if claimant ranks above self for a: the rule by which a node that
 * announces a and hears another speaker (claimant) announce it too steps
 * down. Exactly one of two different nodes outranks the other. */
bool election_outranks(const struct ip_addr *a, const char *claimant, const char *self);

/* The owner of a among nodes[0..n) (names of the eligible, alive nodes, in
 * any order): returns its index, or -ENOENT if n == 0. If a name appears
 * more than once, the lowest index of it is returned. */
int election_owner(const struct ip_addr *a, const char *const *nodes, size_t n);

/* The full ranking: writes the n indexes of nodes into ret_order, owner
 * first, then the backups in the order they would take over. Returns 0, or
 * -EINVAL if n > 0 and nodes or ret_order is NULL. Duplicate names keep
 * their index order. Runs in O(n log n) hash computations. */
int election_rank(const struct ip_addr *a, const char *const *nodes, size_t n, size_t *ret_order);

/* How many of nodes[0..n) rank above node for a (0: node would own a if it
 * were in the set), counting only names different from node. node need not
 * be in nodes. For `ironlbctl status` ("backup #2") and tests. */
size_t election_position(const struct ip_addr *a, const char *const *nodes, size_t n,
			 const char *node);

#endif
