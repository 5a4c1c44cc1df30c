/* Per-node eligibility to announce an address in L2 mode (see eligibility.h). */
#include "eligibility.h"

static const struct {
	const char *id;
	const char *str;
} reasons[ELIGIBILITY_REASON_MAX] = {
	[ELIGIBILITY_OK] = { "eligible", "eligible" },
	[ELIGIBILITY_NETWORK_UNAVAILABLE] = { "network_unavailable",
					      "node condition NetworkUnavailable is True" },
	[ELIGIBILITY_EXCLUDED] = { "excluded", "node labelled " ELIGIBILITY_EXCLUDE_LABEL },
	[ELIGIBILITY_NO_ADVERTISEMENT] = { "no_advertisement",
					   "no L2Advertisement selects the address's pool" },
	[ELIGIBILITY_NODE_NOT_SELECTED] = { "node_not_selected",
					    "no L2Advertisement for the pool selects this node "
					    "(nodeSelectors)" },
	[ELIGIBILITY_NO_INTERFACE] = { "no_interface",
				       "no usable interface on this node for the address (the "
				       "L2Advertisement's interfaces, or a link whose subnet "
				       "holds it)" },
	[ELIGIBILITY_NO_SERVING_ENDPOINT] = { "no_serving_endpoint",
					      "the Service has no serving endpoint" },
	[ELIGIBILITY_NO_LOCAL_ENDPOINT] = { "no_local_endpoint", "no ready local endpoint "
								 "(externalTrafficPolicy Local)" },
};

/* Advertisement checks: some advertisement must select the node, and one of
 * those that do must have a usable interface. */
static enum eligibility_reason check_adverts(const struct eligibility_node *node)
{
	bool selected = false;

	if (node->n_adverts == 0 || !node->adverts)
		return ELIGIBILITY_NO_ADVERTISEMENT;
	for (size_t i = 0; i < node->n_adverts; i++) {
		if (!node->adverts[i].node_selected)
			continue;
		if (node->adverts[i].interface_ok)
			return ELIGIBILITY_OK;
		selected = true;
	}
	return selected ? ELIGIBILITY_NO_INTERFACE : ELIGIBILITY_NODE_NOT_SELECTED;
}

enum eligibility_reason eligibility_check(const struct eligibility_service *svc,
					  const struct eligibility_node *node)
{
	enum eligibility_reason r;

	if (node->network_unavailable)
		return ELIGIBILITY_NETWORK_UNAVAILABLE;
	if (node->exclude_label && !svc->ignore_exclude_lb)
		return ELIGIBILITY_EXCLUDED;
	r = check_adverts(node);
	if (r != ELIGIBILITY_OK)
		return r;
	if (!svc->has_serving_endpoint)
		return ELIGIBILITY_NO_SERVING_ENDPOINT;
	if (svc->traffic_policy_local && !node->has_ready_local_endpoint)
		return ELIGIBILITY_NO_LOCAL_ENDPOINT;
	return ELIGIBILITY_OK;
}

size_t eligibility_select(const struct eligibility_service *svc,
			  const struct eligibility_node *nodes, size_t n, size_t *ret_idx)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (eligibility_check(svc, &nodes[i]) == ELIGIBILITY_OK)
			ret_idx[k++] = i;
	return k;
}

const char *eligibility_reason_str(enum eligibility_reason r)
{
	if ((unsigned)r >= ELIGIBILITY_REASON_MAX)
		return "unknown reason";
	return reasons[r].str;
}

const char *eligibility_reason_id(enum eligibility_reason r)
{
	if ((unsigned)r >= ELIGIBILITY_REASON_MAX)
		return "unknown";
	return reasons[r].id;
}
