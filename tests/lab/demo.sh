#!/bin/bash
# The demo brings up the lab (network namespaces with a simulated API
# server, the controller, speakers on three nodes and a client) and shows a
# LoadBalancer Service being reached and failing over.
echo "make demo: the demo is not built yet: it arrives with the speaker's L2 mode and the lab (tests/lab/)." >&2
exit 1
