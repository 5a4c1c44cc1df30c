package main

import (
	"encoding/base64"
	"fmt"
	"strings"
)

func builtinDefs() []*ResourceDef {
	return []*ResourceDef{
		{Group: "", Version: "v1", Resource: "namespaces", Kind: "Namespace", ShortNames: []string{"ns"},
			Verbs:             []string{"create", "delete", "get", "list", "patch", "update", "watch"},
			HasStatus:         true,
			ExtraSubresources: []string{"finalize"},
			Strategic:         true,
			nameValidator:     validateDNS1123Label,
			defaulter:         namespaceDefault,
			fields:            map[string]func(obj) string{"status.phase": strField("status", "phase")},
			table:             namespaceTable,
		},
		{Group: "", Version: "v1", Resource: "services", Kind: "Service", Namespaced: true,
			ShortNames: []string{"svc"}, Categories: []string{"all"},
			HasStatus: true, ClearStatusOnCreate: true, Generation: true, Strategic: true,
			nameValidator: validateDNS1035Label,
			defaulter:     serviceDefault,
			validator:     serviceValidate,
			allocator:     serviceAllocate,
			release:       serviceRelease,
			fields: map[string]func(obj) string{
				"spec.clusterIP": strField("spec", "clusterIP"),
				"spec.type":      strField("spec", "type"),
			},
			table: serviceTable,
		},
		{Group: "", Version: "v1", Resource: "nodes", Kind: "Node", ShortNames: []string{"no"},
			HasStatus: true, Strategic: true,
			nameValidator: validateDNS1123Subdomain,
			validator:     nodeValidate,
			fields: map[string]func(obj) string{
				"spec.unschedulable": func(o obj) string {
					if b, _ := getPath(o, "spec", "unschedulable").(bool); b {
						return "true"
					}
					return "false"
				},
			},
			table: nodeTable,
		},
		{Group: "", Version: "v1", Resource: "pods", Kind: "Pod", Namespaced: true,
			ShortNames: []string{"po"}, Categories: []string{"all"},
			HasStatus: true, ClearStatusOnCreate: true, Strategic: true,
			nameValidator: validateDNS1123Subdomain,
			defaulter:     podDefault,
			validator:     podValidate,
			fields: map[string]func(obj) string{
				"spec.nodeName":           strField("spec", "nodeName"),
				"spec.restartPolicy":      strField("spec", "restartPolicy"),
				"spec.schedulerName":      strField("spec", "schedulerName"),
				"spec.serviceAccountName": strField("spec", "serviceAccountName"),
				"spec.hostNetwork": func(o obj) string {
					if b, _ := getPath(o, "spec", "hostNetwork").(bool); b {
						return "true"
					}
					return "false"
				},
				"status.phase":             strField("status", "phase"),
				"status.podIP":             strField("status", "podIP"),
				"status.nominatedNodeName": strField("status", "nominatedNodeName"),
			},
			table: podTable,
		},
		{Group: "", Version: "v1", Resource: "secrets", Kind: "Secret", Namespaced: true, Strategic: true,
			nameValidator: validateDNS1123Subdomain,
			defaulter:     secretDefault,
			validator:     secretValidate,
			fields:        map[string]func(obj) string{"type": strField("type")},
			table:         secretTable,
		},
		{Group: "", Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true, Strategic: true,
			ShortNames: []string{"cm"}, nameValidator: validateDNS1123Subdomain,
			table: configMapTable,
		},
		{Group: "", Version: "v1", Resource: "events", Kind: "Event", Namespaced: true, Strategic: true,
			ShortNames: []string{"ev"}, AllowCreateOnUpdate: true,
			nameValidator: validateDNS1123Subdomain,
			validator:     eventValidate,
			fields: map[string]func(obj) string{
				"involvedObject.kind":            strField("involvedObject", "kind"),
				"involvedObject.namespace":       strField("involvedObject", "namespace"),
				"involvedObject.name":            strField("involvedObject", "name"),
				"involvedObject.uid":             strField("involvedObject", "uid"),
				"involvedObject.apiVersion":      strField("involvedObject", "apiVersion"),
				"involvedObject.resourceVersion": strField("involvedObject", "resourceVersion"),
				"involvedObject.fieldPath":       strField("involvedObject", "fieldPath"),
				"reason":                         strField("reason"),
				"reportingComponent":             strField("reportingComponent"),
				"source":                         strField("source", "component"),
				"type":                           strField("type"),
			},
			table: eventTable,
		},
		{Group: "", Version: "v1", Resource: "endpoints", Kind: "Endpoints", Namespaced: true, Strategic: true,
			ShortNames: []string{"ep"}, AllowCreateOnUpdate: true, Singular: "endpoints",
			nameValidator: validateDNS1123Subdomain,
			defaulter:     endpointsDefault,
			table:         endpointsTable,
		},
		{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice", Namespaced: true,
			Strategic: true, nameValidator: validateDNS1123Subdomain,
			defaulter: endpointSliceDefault,
			validator: endpointSliceValidate,
			table:     endpointSliceTable,
		},
		{Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Kind: "Lease", Namespaced: true,
			Strategic: true, AllowCreateOnUpdate: true, nameValidator: validateDNS1123Subdomain,
			validator: leaseValidate,
			table:     leaseTable,
		},
		{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions", Kind: "CustomResourceDefinition",
			ShortNames: []string{"crd", "crds"}, HasStatus: true, Generation: true,
			defaulter: crdDefault,
			validator: crdValidate,
			table:     crdTable,
		},
	}
}

func strField(keys ...string) func(obj) string {
	return func(o obj) string { return getString(o, keys...) }
}

func namespaceDefault(s *Store, o, old obj) {
	md := ensureMap(o, "metadata")
	name := getString(md, "name")
	if name != "" {
		ensureMap(md, "labels")["kubernetes.io/metadata.name"] = name
	}
	spec := ensureMap(o, "spec")
	if old == nil && spec["finalizers"] == nil {
		spec["finalizers"] = []interface{}{"kubernetes"}
	}
	st := ensureMap(o, "status")
	if getString(st, "phase") == "" || old == nil {
		if getString(md, "deletionTimestamp") == "" {
			st["phase"] = "Active"
		}
	}
}

func nodeValidate(s *Store, o, old obj, errs *fieldErrs) {
	for i, a := range getSlice(o, "status", "addresses") {
		am := getMap(a)
		f := fmt.Sprintf("status.addresses[%d]", i)
		if getString(am, "type") == "" {
			errs.required(f+".type", "")
		}
		if getString(am, "address") == "" {
			errs.required(f+".address", "")
		}
	}
	for i, c := range getSlice(o, "spec", "podCIDRs") {
		cs, _ := c.(string)
		if ipFamilyOf(strings.Split(cs, "/")[0]) == "" || !strings.Contains(cs, "/") {
			errs.invalid(fmt.Sprintf("spec.podCIDRs[%d]", i), c, "must be a valid CIDR")
		}
	}
	for i, t := range getSlice(o, "spec", "taints") {
		tm := getMap(t)
		f := fmt.Sprintf("spec.taints[%d]", i)
		if m := validateQualifiedName(getString(tm, "key")); m != "" {
			errs.invalid(f+".key", tm["key"], m)
		}
		switch getString(tm, "effect") {
		case "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			errs.notSupported(f+".effect", tm["effect"], "NoExecute", "NoSchedule", "PreferNoSchedule")
		}
	}
}

func podDefault(s *Store, o, old obj) {
	spec := ensureMap(o, "spec")
	def := func(k string, v interface{}) {
		if spec[k] == nil {
			spec[k] = v
		}
	}
	def("restartPolicy", "Always")
	def("dnsPolicy", "ClusterFirst")
	def("schedulerName", "default-scheduler")
	def("terminationGracePeriodSeconds", int64(30))
	def("securityContext", obj{})
	def("enableServiceLinks", true)
	def("preemptionPolicy", "PreemptLowerPriority")
	def("priority", int64(0))
	for _, list := range []string{"containers", "initContainers"} {
		for _, c := range getSlice(spec, list) {
			cm, ok := c.(map[string]interface{})
			if !ok {
				continue
			}
			if cm["imagePullPolicy"] == nil {
				img := getString(cm, "image")
				last := img[strings.LastIndex(img, "/")+1:]
				if !strings.Contains(last, ":") || strings.HasSuffix(img, ":latest") {
					cm["imagePullPolicy"] = "Always"
				} else {
					cm["imagePullPolicy"] = "IfNotPresent"
				}
			}
			if cm["terminationMessagePath"] == nil {
				cm["terminationMessagePath"] = "/dev/termination-log"
			}
			if cm["terminationMessagePolicy"] == nil {
				cm["terminationMessagePolicy"] = "File"
			}
			if cm["resources"] == nil {
				cm["resources"] = obj{}
			}
			for _, p := range getSlice(cm, "ports") {
				if pm, ok := p.(map[string]interface{}); ok && pm["protocol"] == nil {
					pm["protocol"] = "TCP"
				}
			}
		}
	}
	if old == nil {
		st := ensureMap(o, "status")
		if st["phase"] == nil {
			st["phase"] = "Pending"
		}
		if st["qosClass"] == nil {
			st["qosClass"] = "BestEffort"
		}
	}
}

func podValidate(s *Store, o, old obj, errs *fieldErrs) {
	cs := getSlice(o, "spec", "containers")
	if len(cs) == 0 {
		errs.required("spec.containers", "")
	}
	names := map[string]bool{}
	for i, c := range cs {
		cm := getMap(c)
		f := fmt.Sprintf("spec.containers[%d]", i)
		n := getString(cm, "name")
		if n == "" {
			errs.required(f+".name", "")
		} else if m := validateDNS1123Label(n); m != "" {
			errs.invalid(f+".name", n, m)
		} else if names[n] {
			errs.duplicate(f+".name", n)
		}
		names[n] = true
		if getString(cm, "image") == "" {
			errs.required(f+".image", "")
		}
		for j, p := range getSlice(cm, "ports") {
			v, ok := toInt64(getMap(p)["containerPort"])
			if !ok || v < 1 || v > 65535 {
				errs.invalid(fmt.Sprintf("%s.ports[%d].containerPort", f, j), getMap(p)["containerPort"], "must be between 1 and 65535, inclusive")
			}
		}
	}
	switch rp := getString(o, "spec", "restartPolicy"); rp {
	case "Always", "OnFailure", "Never":
	default:
		errs.notSupported("spec.restartPolicy", rp, "Always", "Never", "OnFailure")
	}
	if old != nil {
		on := getString(old, "spec", "nodeName")
		if on != "" && on != getString(o, "spec", "nodeName") {
			errs.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")
		}
	}
	for i, ip := range getSlice(o, "status", "podIPs") {
		if s, _ := getMap(ip)["ip"].(string); parseIPStrict(s) == nil {
			errs.invalid(fmt.Sprintf("status.podIPs[%d].ip", i), s, ipInvalidMsg)
		}
	}
}

func secretDefault(s *Store, o, old obj) {
	if getString(o, "type") == "" {
		o["type"] = "Opaque"
	}
	// stringData is write-only: merged into data.
	if sd := getMap(o, "stringData"); sd != nil {
		data := ensureMap(o, "data")
		for k, v := range sd {
			if str, ok := v.(string); ok {
				data[k] = base64.StdEncoding.EncodeToString([]byte(str))
			}
		}
		delete(o, "stringData")
	}
}

func secretValidate(s *Store, o, old obj, errs *fieldErrs) {
	total := 0
	for _, k := range sortedKeys(getMap(o, "data")) {
		v, _ := getMap(o, "data")[k].(string)
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			errs.invalid("data["+k+"]", "<secret contents redacted>", "must be base64 encoded: "+err.Error())
		}
		total += len(b)
	}
	if total > 1024*1024 {
		errs.append(fieldErr{typ: "TooLong", field: "data", detail: "may not be more than 1048576 bytes"})
	}
	if old != nil && getString(o, "type") != getString(old, "type") {
		errs.invalid("type", o["type"], "field is immutable")
	}
}

func eventValidate(s *Store, o, old obj, errs *fieldErrs) {
	io := getMap(o, "involvedObject")
	if io == nil {
		errs.required("involvedObject", "")
		return
	}
	ns := getString(o, "metadata", "namespace")
	if ions := getString(io, "namespace"); ions != "" && ions != ns {
		errs.invalid("involvedObject.namespace", ions, "does not match event.namespace")
	}
	if t := getString(o, "type"); t != "" && t != "Normal" && t != "Warning" {
		errs.notSupported("type", t, "Normal", "Warning")
	}
	if c, ok := o["count"]; ok && c != nil {
		if v, ok := toInt64(c); !ok || v < 0 {
			errs.invalid("count", c, "must be a non-negative integer")
		}
	}
}

func endpointsDefault(s *Store, o, old obj) {
	for _, ss := range getSlice(o, "subsets") {
		for _, p := range getSlice(ss, "ports") {
			if pm, ok := p.(map[string]interface{}); ok && pm["protocol"] == nil {
				pm["protocol"] = "TCP"
			}
		}
	}
}

func endpointSliceDefault(s *Store, o, old obj) {
	for _, p := range getSlice(o, "ports") {
		if pm, ok := p.(map[string]interface{}); ok && pm["protocol"] == nil {
			pm["protocol"] = "TCP"
		}
	}
	if o["endpoints"] == nil {
		o["endpoints"] = []interface{}{}
	}
}

func endpointSliceValidate(s *Store, o, old obj, errs *fieldErrs) {
	at := getString(o, "addressType")
	switch at {
	case "IPv4", "IPv6", "FQDN":
	default:
		errs.notSupported("addressType", o["addressType"], "FQDN", "IPv4", "IPv6")
	}
	eps := getSlice(o, "endpoints")
	if len(eps) > 1000 {
		errs.append(fieldErr{typ: "TooMany", field: "endpoints", detail: "must have at most 1000 items"})
	}
	for i, e := range eps {
		em := getMap(e)
		f := fmt.Sprintf("endpoints[%d]", i)
		addrs := getSlice(em, "addresses")
		if len(addrs) == 0 {
			errs.required(f+".addresses", "must contain at least 1 address")
		}
		for j, a := range addrs {
			as, _ := a.(string)
			af := fmt.Sprintf("%s.addresses[%d]", f, j)
			switch at {
			case "IPv4", "IPv6":
				if ipFamilyOf(as) != at {
					errs.invalid(af, a, "must be a valid "+at+" address")
				}
			case "FQDN":
				if m := validateDNS1123Subdomain(as); m != "" {
					errs.invalid(af, a, m)
				}
			}
		}
		if c := getMap(em, "conditions"); c != nil {
			for _, k := range []string{"ready", "serving", "terminating"} {
				if v, ok := c[k]; ok && v != nil {
					if _, isBool := v.(bool); !isBool {
						errs.invalid(f+".conditions."+k, v, "must be a boolean")
					}
				}
			}
		}
	}
	for i, p := range getSlice(o, "ports") {
		pm := getMap(p)
		f := fmt.Sprintf("ports[%d]", i)
		if v, ok := pm["port"]; ok && v != nil {
			if n, ok := toInt64(v); !ok || n < 0 || n > 65535 {
				errs.invalid(f+".port", v, "must be between 0 and 65535, inclusive")
			}
		}
		if pr := getString(pm, "protocol"); pr != "TCP" && pr != "UDP" && pr != "SCTP" {
			errs.notSupported(f+".protocol", pm["protocol"], "SCTP", "TCP", "UDP")
		}
	}
	if old != nil && getString(old, "addressType") != at {
		errs.invalid("addressType", at, "field is immutable")
	}
}

func leaseValidate(s *Store, o, old obj, errs *fieldErrs) {
	spec := getMap(o, "spec")
	if v, ok := spec["leaseDurationSeconds"]; ok && v != nil {
		if n, ok := toInt64(v); !ok || n <= 0 {
			errs.invalid("spec.leaseDurationSeconds", v, "must be greater than 0")
		}
	}
	if v, ok := spec["leaseTransitions"]; ok && v != nil {
		if n, ok := toInt64(v); !ok || n < 0 {
			errs.invalid("spec.leaseTransitions", v, "must be greater than or equal to 0")
		}
	}
	for _, k := range []string{"acquireTime", "renewTime"} {
		if v, ok := spec[k]; ok && v != nil {
			if s, ok := v.(string); !ok || !validMicroTime(s) {
				errs.invalid("spec."+k, v, "must be an RFC3339 timestamp (e.g. 2006-01-02T15:04:05.000000Z)")
			}
		}
	}
}
