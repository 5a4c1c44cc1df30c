#!/usr/bin/env python3
"""Generates deploy/crds/*.yaml, the CustomResourceDefinitions of ironlb.io/v1beta1.

The schemas are written once here, as data, because structural CRD schemas
may not use $ref: shared parts (label selectors, conditions) are inlined
into every kind that uses them. tests/integration/deploy_manifests.sh checks
that the committed files match this generator's output.

Usage: deploy/tools/gen-crds.py [OUTDIR]   (default deploy/crds)
"""
import json
import os
import sys

GROUP = "ironlb.io"
VERSION = "v1beta1"


def label_selector(desc):
    return {
        "type": "object",
        "description": desc,
        "x-kubernetes-map-type": "atomic",
        "properties": {
            "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
            "matchExpressions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "operator"],
                    "properties": {
                        "key": {"type": "string"},
                        "operator": {"type": "string",
                                     "enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                        "values": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    }


def selectors(desc):
    return {"type": "array", "description": desc, "items": label_selector(desc)}


def strings(desc):
    return {"type": "array", "description": desc, "items": {"type": "string"}}


CONDITIONS = {
    "type": "array",
    "description": "Why the object is or is not in use.",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
    "items": {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "observedGeneration": {"type": "integer", "format": "int64"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
        },
    },
}

STATUS_CONDITIONS = {"type": "object", "properties": {"conditions": CONDITIONS}}

AGE = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
VALID = {"name": "Valid", "type": "string",
         "jsonPath": '.status.conditions[?(@.type=="Valid")].status'}

KINDS = [
    {
        "kind": "IPAddressPool", "plural": "ipaddresspools", "short": ["ippool"],
        "description": "A set of addresses ironlb assigns to Services of type LoadBalancer "
                       "and, with allowExternalIPs, lets Services reserve in spec.externalIPs.",
        "required": ["addresses"],
        "spec": {
            "addresses": {
                "type": "array", "minItems": 1,
                "description": 'CIDRs ("198.51.100.0/24", "2001:db8::/64") and inclusive '
                               'ranges of one family ("198.51.100.10-198.51.100.20").',
                "items": {"type": "string", "maxLength": 128},
            },
            "autoAssign": {"type": "boolean", "default": True,
                           "description": "Hand addresses out to Services that did not ask "
                                          "for this pool or an address in it."},
            "avoidBuggyIPs": {"type": "boolean", "default": False,
                              "description": "Never hand out IPv4 addresses ending in .0 "
                                             "or .255."},
            "allowExternalIPs": {"type": "boolean", "default": False,
                                 "description": "Let Services reserve addresses of this pool "
                                                "in spec.externalIPs, which ironlb then "
                                                "announces (off by default: CVE-2020-8554)."},
            "serviceAllocation": {
                "type": "object",
                "description": "Which Services this pool serves, and in which order pools "
                               "are tried.",
                "properties": {
                    "priority": {"type": "integer",
                                 "description": "Lower values are tried first; pools without "
                                                "a priority come last."},
                    "namespaces": strings("Namespaces whose Services may use this pool."),
                    "namespaceSelectors": selectors("Namespaces, by label, whose Services "
                                                    "may use this pool."),
                    "serviceSelectors": selectors("Services, by label, that may use this "
                                                  "pool."),
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "assignedIPv4": {"type": "integer", "format": "int64"},
                "assignedIPv6": {"type": "integer", "format": "int64"},
                "availableIPv4": {"type": "string",
                                  "description": "Free IPv4 addresses, as a decimal string."},
                "availableIPv6": {"type": "string",
                                  "description": "Free IPv6 addresses, as a decimal string "
                                                 "(an IPv6 pool overflows any integer)."},
                "nextIPv4": {"type": "string",
                             "description": "The IPv4 address automatic assignment takes next "
                                            "from this pool; absent when none is free or the "
                                            "pool is invalid. Speakers probe it ahead of time, "
                                            "so that a Service given it is announced at once."},
                "nextIPv6": {"type": "string",
                             "description": "The IPv6 address automatic assignment takes next "
                                            "from this pool, as nextIPv4."},
                "skippedIPs": {"type": "array", "maxItems": 64,
                               "items": {"type": "string"},
                               "description": "Addresses of this pool automatic assignment "
                                              "skips because a speaker found a host outside "
                                              "ironlb answering for them (sorted, at most 64); "
                                              "absent when none. Services that request one "
                                              "explicitly, or already hold one, keep it."},
                "conditions": CONDITIONS,
            },
        },
        "columns": [
            {"name": "Auto Assign", "type": "boolean", "jsonPath": ".spec.autoAssign"},
            {"name": "Avoid Buggy IPs", "type": "boolean", "jsonPath": ".spec.avoidBuggyIPs"},
            {"name": "Addresses", "type": "string", "jsonPath": ".spec.addresses"},
            {"name": "IPv4 Assigned", "type": "integer", "jsonPath": ".status.assignedIPv4"},
            {"name": "IPv6 Assigned", "type": "integer", "jsonPath": ".status.assignedIPv6",
             "priority": 1},
            VALID, AGE,
        ],
    },
    {
        "kind": "L2Advertisement", "plural": "l2advertisements", "short": ["l2adv"],
        "description": "Announces the addresses of the selected pools in L2 mode (ARP/NDP) "
                       "from the selected nodes.",
        "required": [],
        "spec": {
            "ipAddressPools": strings("Pools by name; with ipAddressPoolSelectors empty too, "
                                      "every pool."),
            "ipAddressPoolSelectors": selectors("Pools by label."),
            "nodeSelectors": selectors("Nodes that may announce; empty means every node."),
            "interfaces": strings("Interfaces to announce on; empty means the interface "
                                  "whose connected subnet holds the address."),
        },
        "status": STATUS_CONDITIONS,
        "columns": [
            {"name": "IPAddressPools", "type": "string", "jsonPath": ".spec.ipAddressPools"},
            {"name": "Interfaces", "type": "string", "jsonPath": ".spec.interfaces"},
            AGE,
        ],
    },
    {
        "kind": "BGPAdvertisement", "plural": "bgpadvertisements", "short": ["bgpadv"],
        "description": "Advertises the addresses of the selected pools over BGP, with "
                       "communities, local preference and aggregation.",
        "required": [],
        "spec": {
            "ipAddressPools": strings("Pools by name; with ipAddressPoolSelectors empty too, "
                                      "every pool."),
            "ipAddressPoolSelectors": selectors("Pools by label."),
            "nodeSelectors": selectors("Nodes that may advertise; empty means every node."),
            "peers": strings("BGPPeers by name; empty means every peer."),
            "aggregationLength": {"type": "integer", "format": "int32", "default": 32,
                                  "minimum": 0, "maximum": 32,
                                  "description": "Prefix length IPv4 routes are aggregated "
                                                 "to."},
            "aggregationLengthV6": {"type": "integer", "format": "int32", "default": 128,
                                    "minimum": 0, "maximum": 128,
                                    "description": "Prefix length IPv6 routes are "
                                                   "aggregated to."},
            "localPref": {"type": "integer", "format": "int64", "minimum": 0,
                          "maximum": 4294967295,
                          "description": "LOCAL_PREF attribute (iBGP only)."},
            "communities": strings('Standard ("65000:100") and large ("large:1:2:3") '
                                   'communities.'),
        },
        "status": STATUS_CONDITIONS,
        "columns": [
            {"name": "IPAddressPools", "type": "string", "jsonPath": ".spec.ipAddressPools"},
            {"name": "Peers", "type": "string", "jsonPath": ".spec.peers"},
            VALID, AGE,
        ],
    },
    {
        "kind": "BGPPeer", "plural": "bgppeers", "short": [],
        "description": "A BGP router the speakers peer with.",
        "required": ["myASN", "peerASN", "peerAddress"],
        "spec": {
            "myASN": {"type": "integer", "format": "int64", "minimum": 1,
                      "maximum": 4294967295},
            "peerASN": {"type": "integer", "format": "int64", "minimum": 1,
                        "maximum": 4294967295},
            "peerAddress": {"type": "string"},
            "sourceAddress": {"type": "string"},
            "peerPort": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 179},
            "holdTime": {"type": "string", "description": "e.g. 90s; 0 or at least 3s."},
            "keepaliveTime": {"type": "string",
                              "description": "Defaults to holdTime/3; not above holdTime."},
            "connectTime": {"type": "string"},
            "routerID": {"type": "string"},
            "nodeSelectors": selectors("Nodes that peer with this router; empty means "
                                       "every node."),
            "password": {"type": "string",
                         "description": "TCP-MD5 password; prefer passwordSecret."},
            "passwordSecret": {
                "type": "object", "x-kubernetes-map-type": "atomic",
                "description": "A kubernetes.io/basic-auth Secret in ironlb's namespace; "
                               "key password.",
                "properties": {"name": {"type": "string"}, "namespace": {"type": "string"}},
            },
            "bfdProfile": {"type": "string"},
            "ebgpMultiHop": {"type": "boolean"},
            "vrf": {"type": "string"},
        },
        "status": STATUS_CONDITIONS,
        "columns": [
            {"name": "Address", "type": "string", "jsonPath": ".spec.peerAddress"},
            {"name": "ASN", "type": "string", "jsonPath": ".spec.peerASN"},
            {"name": "BFD Profile", "type": "string", "jsonPath": ".spec.bfdProfile"},
            VALID, AGE,
        ],
    },
    {
        "kind": "BFDProfile", "plural": "bfdprofiles", "short": [],
        "description": "BFD session settings a BGPPeer can refer to.",
        "required": [],
        "spec": {
            "receiveInterval": {"type": "integer", "format": "int32", "minimum": 10,
                                "maximum": 60000, "description": "ms, default 300"},
            "transmitInterval": {"type": "integer", "format": "int32", "minimum": 10,
                                 "maximum": 60000, "description": "ms, default 300"},
            "detectMultiplier": {"type": "integer", "format": "int32", "minimum": 2,
                                 "maximum": 255},
            "echoInterval": {"type": "integer", "format": "int32", "minimum": 10,
                             "maximum": 60000},
            "echoMode": {"type": "boolean"},
            "passiveMode": {"type": "boolean"},
            "minimumTtl": {"type": "integer", "format": "int32", "minimum": 1,
                           "maximum": 254},
        },
        "status": STATUS_CONDITIONS,
        "columns": [
            {"name": "Passive Mode", "type": "boolean", "jsonPath": ".spec.passiveMode"},
            {"name": "Transmit Interval", "type": "integer",
             "jsonPath": ".spec.transmitInterval"},
            {"name": "Receive Interval", "type": "integer",
             "jsonPath": ".spec.receiveInterval"},
            {"name": "Multiplier", "type": "integer", "jsonPath": ".spec.detectMultiplier"},
            VALID, AGE,
        ],
    },
]


def crd(k):
    spec = {"type": "object", "properties": k["spec"]}
    if k["required"]:
        spec["required"] = k["required"]
    schema = {
        "type": "object",
        "description": k["description"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": k["status"],
        },
    }
    if k["required"]:
        schema["required"] = ["spec"]
    names = {"kind": k["kind"], "listKind": k["kind"] + "List", "plural": k["plural"],
             "singular": k["kind"].lower(), "categories": ["ironlb"]}
    if k["short"]:
        names["shortNames"] = k["short"]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f'{k["plural"]}.{GROUP}'},
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": "Namespaced",
            "versions": [{
                "name": VERSION, "served": True, "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": k["columns"],
                "schema": {"openAPIV3Schema": schema},
            }],
        },
    }


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    # JSON strings are valid YAML flow scalars, and quoting every string keeps
    # "True", "0" or ':'-bearing values from changing type.
    return json.dumps(v)


def emit(v, indent=0):
    pad = "  " * indent
    out = []
    if isinstance(v, dict):
        for key, val in v.items():
            if isinstance(val, (dict, list)) and val:
                out.append(f"{pad}{key}:")
                out.extend(emit(val, indent + 1))
            elif isinstance(val, dict):
                out.append(f"{pad}{key}: {{}}")
            elif isinstance(val, list):
                out.append(f"{pad}{key}: []")
            else:
                out.append(f"{pad}{key}: {scalar(val)}")
    else:
        for item in v:
            if isinstance(item, (dict, list)) and item:
                sub = emit(item, indent + 1)
                out.append(f"{pad}- {sub[0].lstrip()}")
                out.extend(sub[1:])
            else:
                out.append(f"{pad}- {scalar(item)}")
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "crds")
    os.makedirs(outdir, exist_ok=True)
    for k in KINDS:
        path = os.path.join(outdir, f'{k["plural"]}.yaml')
        with open(path, "w") as f:
            f.write(f"# {k['kind']} ({GROUP}/{VERSION}). Generated by deploy/tools/gen-crds.py; "
                    "edit that, not this.\n")
            f.write("\n".join(emit(crd(k))) + "\n")


if __name__ == "__main__":
    main()
