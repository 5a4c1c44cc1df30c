package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

type column struct {
	Name, Type, Format, Description string
	Priority                        int
}

type tableDef struct {
	columns []column
	cells   func(o obj) []interface{}
}

const nameDesc = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"

var nameCol = column{Name: "Name", Type: "string", Format: "name", Description: nameDesc}
var ageCol = column{Name: "Age", Type: "string", Description: "CreationTimestamp is a timestamp representing the server time when this object was created."}

func objName(o obj) string { return getString(o, "metadata", "name") }
func objAge(o obj) string  { return age(getString(o, "metadata", "creationTimestamp")) }

func defaultTable(d *ResourceDef, version string) *tableDef {
	return &tableDef{columns: []column{nameCol, ageCol}, cells: func(o obj) []interface{} {
		return []interface{}{objName(o), objAge(o)}
	}}
}

func buildTable(rc *reqCtx, items []*Object, listMeta obj, includeObject string) obj {
	d := rc.def
	var td *tableDef
	if d.table != nil {
		td = d.table(d, rc.version)
	}
	if td == nil {
		td = defaultTable(d, rc.version)
	}
	cols := make([]interface{}, len(td.columns))
	for i, c := range td.columns {
		cols[i] = obj{"name": c.Name, "type": c.Type, "format": c.Format, "description": c.Description, "priority": c.Priority}
	}
	tv := rc.out.tableVersion
	if tv == "" {
		tv = "v1"
	}
	rows := make([]interface{}, 0, len(items))
	for _, o := range items {
		row := obj{"cells": td.cells(o.parse())}
		switch includeObject {
		case "None":
		case "Object":
			row["object"] = json.RawMessage(encodeObj(d, rc.version, o))
		default:
			row["object"] = pomObject(tv, o)
		}
		rows = append(rows, row)
	}
	return obj{"kind": "Table", "apiVersion": "meta.k8s.io/" + tv, "metadata": listMeta,
		"columnDefinitions": cols, "rows": rows}
}

func col(name, typ, desc string, prio int) column {
	return column{Name: name, Type: typ, Description: desc, Priority: prio}
}

func serviceTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol,
			col("Type", "string", "The type of service.", 0),
			col("Cluster-IP", "string", "The cluster IP address of the service.", 0),
			col("External-IP", "string", "The external IP addresses of the service.", 0),
			col("Port(s)", "string", "The ports exposed by the service.", 0),
			ageCol,
			col("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.", 1)},
		cells: func(o obj) []interface{} {
			spec := getMap(o, "spec")
			cip := getString(spec, "clusterIP")
			if cip == "" {
				cip = "<none>"
			}
			return []interface{}{objName(o), getString(spec, "type"), cip, serviceExternalIP(o),
				servicePorts(spec), objAge(o), formatLabels(stringMap(spec["selector"]))}
		},
	}
}

func serviceExternalIP(o obj) string {
	spec := getMap(o, "spec")
	var eips []string
	for _, e := range getSlice(spec, "externalIPs") {
		eips = append(eips, fmt.Sprint(e))
	}
	switch getString(spec, "type") {
	case "ClusterIP", "NodePort":
		if len(eips) > 0 {
			return strings.Join(eips, ",")
		}
		return "<none>"
	case "LoadBalancer":
		set := map[string]bool{}
		for _, in := range getSlice(o, "status", "loadBalancer", "ingress") {
			im := getMap(in)
			if ip := getString(im, "ip"); ip != "" {
				set[ip] = true
			} else if h := getString(im, "hostname"); h != "" {
				set[h] = true
			}
		}
		var lb []string
		for k := range set {
			lb = append(lb, k)
		}
		sort.Strings(lb)
		all := append(lb, eips...)
		if len(all) == 0 {
			return "<pending>"
		}
		return strings.Join(all, ",")
	case "ExternalName":
		return getString(spec, "externalName")
	}
	return "<unknown>"
}

func servicePorts(spec obj) string {
	var parts []string
	for _, p := range getSlice(spec, "ports") {
		pm := getMap(p)
		port, _ := toInt64(pm["port"])
		np, _ := toInt64(pm["nodePort"])
		if np > 0 {
			parts = append(parts, fmt.Sprintf("%d:%d/%s", port, np, portProto(pm)))
		} else {
			parts = append(parts, fmt.Sprintf("%d/%s", port, portProto(pm)))
		}
	}
	if len(parts) == 0 {
		return "<none>"
	}
	return strings.Join(parts, ",")
}

func namespaceTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol, col("Status", "string", "The status of the namespace", 0), ageCol},
		cells: func(o obj) []interface{} {
			return []interface{}{objName(o), getString(o, "status", "phase"), objAge(o)}
		},
	}
}

func nodeTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol,
			col("Status", "string", "The status of the node", 0),
			col("Roles", "string", "The roles of the node", 0),
			ageCol,
			col("Version", "string", "Kubelet Version reported by the node.", 0),
			col("Internal-IP", "string", "List of internal IPs.", 1),
			col("External-IP", "string", "List of external IPs.", 1),
			col("OS-Image", "string", "OS image reported by the node.", 1),
			col("Kernel-Version", "string", "Kernel version reported by the node.", 1),
			col("Container-Runtime", "string", "Container runtime reported by the node.", 1)},
		cells: func(o obj) []interface{} {
			status := "Unknown"
			for _, c := range getSlice(o, "status", "conditions") {
				cm := getMap(c)
				if getString(cm, "type") == "Ready" {
					switch getString(cm, "status") {
					case "True":
						status = "Ready"
					case "False":
						status = "NotReady"
					}
				}
			}
			if b, _ := getPath(o, "spec", "unschedulable").(bool); b {
				status += ",SchedulingDisabled"
			}
			var roles []string
			for k := range stringMap(getPath(o, "metadata", "labels")) {
				if strings.HasPrefix(k, "node-role.kubernetes.io/") {
					roles = append(roles, strings.TrimPrefix(k, "node-role.kubernetes.io/"))
				}
			}
			sort.Strings(roles)
			r := "<none>"
			if len(roles) > 0 {
				r = strings.Join(roles, ",")
			}
			addr := func(t string) string {
				for _, a := range getSlice(o, "status", "addresses") {
					if getString(a, "type") == t {
						return getString(a, "address")
					}
				}
				return "<none>"
			}
			ni := getMap(o, "status", "nodeInfo")
			orNone := func(s string) string {
				if s == "" {
					return "<unknown>"
				}
				return s
			}
			return []interface{}{objName(o), status, r, objAge(o), getString(ni, "kubeletVersion"),
				addr("InternalIP"), addr("ExternalIP"), orNone(getString(ni, "osImage")),
				orNone(getString(ni, "kernelVersion")), orNone(getString(ni, "containerRuntimeVersion"))}
		},
	}
}

func podTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol,
			col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0),
			col("Status", "string", "The aggregate status of the containers in this pod.", 0),
			col("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.", 0),
			ageCol,
			col("IP", "string", "The IP address assigned to the pod", 1),
			col("Node", "string", "The name of the node where the pod is running", 1),
			col("Nominated Node", "string", "The name of the node where the pod is nominated to run", 1),
			col("Readiness Gates", "string", "The readiness gates of the pod", 1)},
		cells: func(o obj) []interface{} {
			total := len(getSlice(o, "spec", "containers"))
			ready, restarts := 0, int64(0)
			for _, cs := range getSlice(o, "status", "containerStatuses") {
				if b, _ := getMap(cs)["ready"].(bool); b {
					ready++
				}
				n, _ := toInt64(getMap(cs)["restartCount"])
				restarts += n
			}
			reason := getString(o, "status", "phase")
			if r := getString(o, "status", "reason"); r != "" {
				reason = r
			}
			if getString(o, "metadata", "deletionTimestamp") != "" {
				reason = "Terminating"
			}
			none := func(s string) string {
				if s == "" {
					return "<none>"
				}
				return s
			}
			return []interface{}{objName(o), fmt.Sprintf("%d/%d", ready, total), reason, restarts, objAge(o),
				none(getString(o, "status", "podIP")), none(getString(o, "spec", "nodeName")),
				none(getString(o, "status", "nominatedNodeName")), "<none>"}
		},
	}
}

func secretTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol, col("Type", "string", "The type of the secret", 0),
			col("Data", "string", "The number of entries in the secret", 0), ageCol},
		cells: func(o obj) []interface{} {
			return []interface{}{objName(o), getString(o, "type"), int64(len(getMap(o, "data"))), objAge(o)}
		},
	}
}

func configMapTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol, col("Data", "string", "Data contains the configuration data.", 0), ageCol},
		cells: func(o obj) []interface{} {
			return []interface{}{objName(o), int64(len(getMap(o, "data")) + len(getMap(o, "binaryData"))), objAge(o)}
		},
	}
}

func eventTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{
			col("Last Seen", "string", "The last time the event was seen", 0),
			col("Type", "string", "The type of the event", 0),
			col("Reason", "string", "The reason for the event", 0),
			col("Object", "string", "The object the event is about", 0),
			col("Subobject", "string", "The subobject the event is about", 1),
			col("Source", "string", "The source of the event", 1),
			col("Message", "string", "A human-readable description of the event", 0),
			col("First Seen", "string", "The first time the event was seen", 1),
			col("Count", "string", "The number of times the event has occurred", 1),
			{Name: "Name", Type: "string", Format: "name", Description: nameDesc, Priority: 1}},
		cells: func(o obj) []interface{} {
			io := getMap(o, "involvedObject")
			last := getString(o, "lastTimestamp")
			if last == "" {
				last = getString(o, "eventTime")
				if t, err := time.Parse(time.RFC3339Nano, last); err == nil {
					last = t.UTC().Format(time.RFC3339)
				}
			}
			first := getString(o, "firstTimestamp")
			if first == "" {
				first = last
			}
			count, _ := toInt64(o["count"])
			lastSeen := age(last)
			if count > 1 {
				lastSeen = fmt.Sprintf("%s (x%d over %s)", age(last), count, age(first))
			}
			src := getString(o, "source", "component")
			if h := getString(o, "source", "host"); h != "" {
				src += ", " + h
			}
			if src == "" {
				src = getString(o, "reportingComponent")
			}
			return []interface{}{lastSeen, getString(o, "type"), getString(o, "reason"),
				strings.ToLower(getString(io, "kind")) + "/" + getString(io, "name"),
				getString(io, "fieldPath"), src, getString(o, "message"), age(first), count, objName(o)}
		},
	}
}

func endpointsTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol, col("Endpoints", "string", "Endpoints is the list of endpoints in the service.", 0), ageCol},
		cells: func(o obj) []interface{} {
			var all []string
			for _, ss := range getSlice(o, "subsets") {
				for _, a := range getSlice(ss, "addresses") {
					ip := getString(a, "ip")
					ps := getSlice(ss, "ports")
					if len(ps) == 0 {
						all = append(all, ip)
					}
					for _, p := range ps {
						n, _ := toInt64(getMap(p)["port"])
						all = append(all, fmt.Sprintf("%s:%d", ip, n))
					}
				}
			}
			return []interface{}{objName(o), moreList(all), objAge(o)}
		},
	}
}

func moreList(all []string) string {
	if len(all) == 0 {
		return "<none>"
	}
	if len(all) > 3 {
		return strings.Join(all[:3], ",") + fmt.Sprintf(" + %d more...", len(all)-3)
	}
	return strings.Join(all, ",")
}

func endpointSliceTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol,
			col("AddressType", "string", "The IP protocol for this slice", 0),
			col("Ports", "string", "The ports for this slice", 0),
			col("Endpoints", "string", "The endpoints for this slice", 0), ageCol},
		cells: func(o obj) []interface{} {
			var ports []string
			for _, p := range getSlice(o, "ports") {
				if n, ok := toInt64(getMap(p)["port"]); ok {
					ports = append(ports, strconv.FormatInt(n, 10))
				}
			}
			ps := "<unset>"
			if len(ports) > 0 {
				ps = strings.Join(ports, ",")
			}
			var addrs []string
			for _, e := range getSlice(o, "endpoints") {
				for _, a := range getSlice(e, "addresses") {
					addrs = append(addrs, fmt.Sprint(a))
				}
			}
			return []interface{}{objName(o), getString(o, "addressType"), ps, moreList(addrs), objAge(o)}
		},
	}
}

func leaseTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol, col("Holder", "string", "The holder of the lease", 0), ageCol},
		cells: func(o obj) []interface{} {
			return []interface{}{objName(o), getString(o, "spec", "holderIdentity"), objAge(o)}
		},
	}
}

func crdTable(d *ResourceDef, v string) *tableDef {
	return &tableDef{
		columns: []column{nameCol, {Name: "Created At", Type: "date", Description: "CreationTimestamp"}},
		cells: func(o obj) []interface{} {
			return []interface{}{objName(o), getString(o, "metadata", "creationTimestamp")}
		},
	}
}

// ---- minimal JSONPath (as used by additionalPrinterColumns) ----

type jpStep struct {
	field    string
	index    int // -1 none
	wildcard bool
	filter   *jpFilter
}

type jpFilter struct {
	path  []string
	op    string
	value string
}

func parseJSONPath(p string) ([]jpStep, error) {
	p = strings.TrimSpace(p)
	p = strings.TrimPrefix(p, "{")
	p = strings.TrimSuffix(p, "}")
	p = strings.TrimPrefix(p, "$")
	var steps []jpStep
	i := 0
	for i < len(p) {
		switch p[i] {
		case '.':
			i++
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			if j > i {
				steps = append(steps, jpStep{field: p[i:j], index: -1})
			}
			i = j
		case '[':
			j := strings.IndexByte(p[i:], ']')
			if strings.HasPrefix(p[i:], "[?(") {
				j = strings.Index(p[i:], ")]")
				if j < 0 {
					return nil, fmt.Errorf("unterminated filter in %q", p)
				}
				f, err := parseJPFilter(p[i+3 : i+j])
				if err != nil {
					return nil, err
				}
				steps = append(steps, jpStep{index: -1, filter: f})
				i += j + 2
				continue
			}
			if j < 0 {
				return nil, fmt.Errorf("unterminated [ in %q", p)
			}
			in := strings.TrimSpace(p[i+1 : i+j])
			i += j + 1
			switch {
			case in == "*":
				steps = append(steps, jpStep{index: -1, wildcard: true})
			case strings.HasPrefix(in, "'") || strings.HasPrefix(in, "\""):
				steps = append(steps, jpStep{field: strings.Trim(in, "'\""), index: -1})
			default:
				n, err := strconv.Atoi(in)
				if err != nil {
					return nil, fmt.Errorf("unsupported index %q in %q", in, p)
				}
				steps = append(steps, jpStep{index: n})
			}
		default:
			j := i
			for j < len(p) && p[j] != '.' && p[j] != '[' {
				j++
			}
			steps = append(steps, jpStep{field: p[i:j], index: -1})
			i = j
		}
	}
	return steps, nil
}

func parseJPFilter(s string) (*jpFilter, error) {
	for _, op := range []string{"==", "!="} {
		if k := strings.Index(s, op); k > 0 {
			lhs := strings.TrimSpace(s[:k])
			rhs := strings.Trim(strings.TrimSpace(s[k+2:]), `"'`)
			if !strings.HasPrefix(lhs, "@.") {
				return nil, fmt.Errorf("unsupported filter %q", s)
			}
			return &jpFilter{path: strings.Split(lhs[2:], "."), op: op, value: rhs}, nil
		}
	}
	return nil, fmt.Errorf("unsupported filter %q", s)
}

func evalJSONPath(steps []jpStep, root interface{}) []interface{} {
	cur := []interface{}{root}
	for _, st := range steps {
		var next []interface{}
		for _, v := range cur {
			switch {
			case st.filter != nil:
				for _, e := range asList(v) {
					fv := getPath(e, st.filter.path...)
					s := fmt.Sprint(fv)
					if str, ok := fv.(string); ok {
						s = str
					}
					if (s == st.filter.value) == (st.filter.op == "==") && fv != nil {
						next = append(next, e)
					}
				}
			case st.wildcard:
				next = append(next, asList(v)...)
			case st.index >= 0:
				l := asList(v)
				if st.index < len(l) {
					next = append(next, l[st.index])
				}
			default:
				if m, ok := v.(map[string]interface{}); ok {
					if e, ok := m[st.field]; ok {
						next = append(next, e)
					}
				}
			}
		}
		cur = next
	}
	return cur
}

func asList(v interface{}) []interface{} {
	switch t := v.(type) {
	case []interface{}:
		return t
	case map[string]interface{}:
		out := make([]interface{}, 0, len(t))
		for _, k := range sortedKeys(t) {
			out = append(out, t[k])
		}
		return out
	}
	return nil
}

func jpText(v interface{}) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return ""
	default:
		return string(mustJSON(t))
	}
}
