package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// mergePatch applies an RFC 7386 JSON merge patch.
func mergePatch(target interface{}, patch interface{}) interface{} {
	pm, ok := patch.(map[string]interface{})
	if !ok {
		return deepCopy(patch)
	}
	tm, ok := target.(map[string]interface{})
	if !ok {
		tm = map[string]interface{}{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

// ---- RFC 6902 JSON patch ----

func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if p[0] != '/' {
		return nil, fmt.Errorf("JSON pointer must start with '/': %q", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		s = strings.ReplaceAll(s, "~1", "/")
		parts[i] = strings.ReplaceAll(s, "~0", "~")
	}
	return parts, nil
}

// container navigation: returns parent and last key.
func jpGet(doc interface{}, path []string) (interface{}, error) {
	cur := doc
	for _, k := range path {
		switch c := cur.(type) {
		case map[string]interface{}:
			v, ok := c[k]
			if !ok {
				return nil, fmt.Errorf("doc is missing key: /%s", strings.Join(path, "/"))
			}
			cur = v
		case []interface{}:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("unable to access invalid index: %s", k)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("doc is missing path: /%s", strings.Join(path, "/"))
		}
	}
	return cur, nil
}

// jpSet replaces the value at path (via a rebuilt parent) and returns the
// new document. mode is "add", "replace" or "remove".
func jpApply(doc interface{}, path []string, val interface{}, mode string) (interface{}, error) {
	if len(path) == 0 {
		if mode == "remove" {
			return nil, errors.New("cannot remove the whole document")
		}
		return val, nil
	}
	parentPath, key := path[:len(path)-1], path[len(path)-1]
	parent, err := jpGet(doc, parentPath)
	if err != nil {
		return nil, err
	}
	switch c := parent.(type) {
	case map[string]interface{}:
		_, exists := c[key]
		switch mode {
		case "add":
			c[key] = val
		case "replace":
			if !exists {
				return nil, fmt.Errorf("replace operation does not apply: doc is missing key: /%s", strings.Join(path, "/"))
			}
			c[key] = val
		case "remove":
			if !exists {
				return nil, fmt.Errorf("remove operation does not apply: doc is missing path: /%s", strings.Join(path, "/"))
			}
			delete(c, key)
		}
		return doc, nil
	case []interface{}:
		var i int
		if key == "-" && mode == "add" {
			i = len(c)
		} else {
			i, err = strconv.Atoi(key)
			if err != nil || i < 0 {
				return nil, fmt.Errorf("unable to access invalid index: %s", key)
			}
		}
		var n []interface{}
		switch mode {
		case "add":
			if i > len(c) {
				return nil, fmt.Errorf("add operation does not apply: index out of range: %d", i)
			}
			n = make([]interface{}, 0, len(c)+1)
			n = append(n, c[:i]...)
			n = append(n, val)
			n = append(n, c[i:]...)
		case "replace":
			if i >= len(c) {
				return nil, fmt.Errorf("replace operation does not apply: index out of range: %d", i)
			}
			c[i] = val
			return doc, nil
		case "remove":
			if i >= len(c) {
				return nil, fmt.Errorf("remove operation does not apply: index out of range: %d", i)
			}
			n = make([]interface{}, 0, len(c)-1)
			n = append(n, c[:i]...)
			n = append(n, c[i+1:]...)
		}
		return jpApply(doc, parentPath, n, "replace")
	default:
		return nil, fmt.Errorf("%s operation does not apply: doc is missing path: /%s", mode, strings.Join(path, "/"))
	}
}

// jsonPatch applies an RFC 6902 patch to doc (which it may modify).
func jsonPatch(doc interface{}, ops []interface{}) (interface{}, error) {
	for n, raw := range ops {
		op, ok := raw.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("json patch operation %d is not an object", n)
		}
		name, _ := op["op"].(string)
		ps, _ := op["path"].(string)
		path, err := parsePointer(ps)
		if err != nil {
			return nil, err
		}
		val, hasVal := op["value"]
		switch name {
		case "add", "replace":
			if !hasVal {
				return nil, fmt.Errorf("%s operation does not apply: missing value", name)
			}
			doc, err = jpApply(doc, path, deepCopy(val), name)
		case "remove":
			doc, err = jpApply(doc, path, nil, "remove")
		case "move", "copy":
			fs, _ := op["from"].(string)
			from, ferr := parsePointer(fs)
			if ferr != nil {
				return nil, ferr
			}
			var v interface{}
			v, err = jpGet(doc, from)
			if err != nil {
				return nil, fmt.Errorf("%s operation does not apply: %v", name, err)
			}
			v = deepCopy(v)
			if name == "move" {
				doc, err = jpApply(doc, from, nil, "remove")
				if err != nil {
					return nil, err
				}
			}
			doc, err = jpApply(doc, path, v, "add")
		case "test":
			var v interface{}
			v, err = jpGet(doc, path)
			if err == nil && !jsonEqual(v, val) {
				err = fmt.Errorf("testing value %s failed: test failed", ps)
			}
		default:
			return nil, fmt.Errorf("Unexpected kind: %s", name)
		}
		if err != nil {
			return nil, err
		}
	}
	return doc, nil
}

// ---- strategic merge patch ----

// patchMeta describes the strategy of one list field (by dotted field path
// without list indices, e.g. "spec.containers.ports").
type patchMeta struct {
	strategy string // "merge" (default for listed fields), "retainKeys", "merge,retainKeys"
	key      string // patchMergeKey; "" for lists of primitives
}

type patchMetas map[string]patchMeta

// stripDirectives removes $-prefixed keys (used when a patch subtree is
// taken verbatim).
func stripDirectives(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		n := make(map[string]interface{}, len(t))
		for k, e := range t {
			if strings.HasPrefix(k, "$") {
				continue
			}
			n[k] = stripDirectives(e)
		}
		return n
	case []interface{}:
		n := make([]interface{}, 0, len(t))
		for _, e := range t {
			if m, ok := e.(map[string]interface{}); ok {
				if p, _ := m["$patch"].(string); p != "" && len(m) == 1 {
					continue
				}
			}
			n = append(n, stripDirectives(e))
		}
		return n
	default:
		return v
	}
}

func strategicMerge(orig obj, patch obj, metas patchMetas) (obj, error) {
	res, err := smpMap(orig, patch, "", metas)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, errors.New("strategic merge patch deleted the whole object")
	}
	return res, nil
}

func joinPath(p, k string) string {
	if p == "" {
		return k
	}
	return p + "." + k
}

func smpMap(orig, patch map[string]interface{}, path string, metas patchMetas) (map[string]interface{}, error) {
	switch d, _ := patch["$patch"].(string); d {
	case "":
	case "replace":
		return stripDirectives(patch).(map[string]interface{}), nil
	case "delete":
		return nil, nil
	case "merge":
	default:
		return nil, fmt.Errorf("Unknown patch type: %s in map: %v", d, patch)
	}
	res := make(map[string]interface{}, len(orig)+len(patch))
	for k, v := range orig {
		res[k] = v
	}
	orders := map[string][]interface{}{}
	deletes := map[string][]interface{}{}
	var retain []interface{}
	hasRetain := false
	for k, pv := range patch {
		switch {
		case k == "$patch":
			continue
		case k == "$retainKeys":
			l, ok := pv.([]interface{})
			if !ok {
				return nil, fmt.Errorf("invalid $retainKeys: %v", pv)
			}
			retain, hasRetain = l, true
			continue
		case strings.HasPrefix(k, "$setElementOrder/"):
			l, _ := pv.([]interface{})
			orders[strings.TrimPrefix(k, "$setElementOrder/")] = l
			continue
		case strings.HasPrefix(k, "$deleteFromPrimitiveList/"):
			l, _ := pv.([]interface{})
			deletes[strings.TrimPrefix(k, "$deleteFromPrimitiveList/")] = l
			continue
		case strings.HasPrefix(k, "$"):
			continue
		}
		if pv == nil {
			delete(res, k)
			continue
		}
		fp := joinPath(path, k)
		switch p := pv.(type) {
		case map[string]interface{}:
			om, _ := res[k].(map[string]interface{})
			if om == nil {
				om = map[string]interface{}{}
			}
			m, err := smpMap(om, p, fp, metas)
			if err != nil {
				return nil, err
			}
			if m == nil {
				delete(res, k)
			} else {
				res[k] = m
			}
		case []interface{}:
			meta, ok := metas[fp]
			ol, _ := res[k].([]interface{})
			if !ok || !strings.Contains(meta.strategy, "merge") {
				res[k] = stripDirectives(p)
				continue
			}
			l, err := smpList(ol, p, fp, meta, metas)
			if err != nil {
				return nil, err
			}
			res[k] = l
		default:
			res[k] = pv
		}
	}
	for k, dl := range deletes {
		ol, _ := res[k].([]interface{})
		var n []interface{}
		for _, e := range ol {
			del := false
			for _, x := range dl {
				if scalarKey(x) == scalarKey(e) {
					del = true
				}
			}
			if !del {
				n = append(n, e)
			}
		}
		if n == nil {
			n = []interface{}{}
		}
		res[k] = n
	}
	for k, order := range orders {
		l, ok := res[k].([]interface{})
		if !ok {
			continue
		}
		res[k] = applyOrder(l, order, metas[joinPath(path, k)].key)
	}
	if hasRetain {
		keep := map[string]bool{}
		for _, r := range retain {
			if s, ok := r.(string); ok {
				keep[s] = true
			}
		}
		for k := range res {
			if !keep[k] {
				delete(res, k)
			}
		}
	}
	return res, nil
}

func elemKey(e interface{}, key string) (string, bool) {
	if key == "" {
		return scalarKey(e), true
	}
	m, ok := e.(map[string]interface{})
	if !ok {
		return "", false
	}
	v, ok := m[key]
	if !ok {
		return "", false
	}
	return scalarKey(v), true
}

func smpList(orig, patch []interface{}, path string, meta patchMeta, metas patchMetas) ([]interface{}, error) {
	// A {"$patch": "replace"} element replaces the whole list.
	for _, e := range patch {
		if m, ok := e.(map[string]interface{}); ok {
			if d, _ := m["$patch"].(string); d == "replace" && (meta.key == "" || m[meta.key] == nil) {
				return stripDirectives(patch).([]interface{}), nil
			}
		}
	}
	res := make([]interface{}, len(orig))
	copy(res, orig)
	if meta.key == "" {
		// Primitive list with merge strategy: union, keeping order.
		seen := map[string]bool{}
		for _, e := range res {
			seen[scalarKey(e)] = true
		}
		for _, e := range patch {
			if _, isMap := e.(map[string]interface{}); isMap {
				continue
			}
			if !seen[scalarKey(e)] {
				res = append(res, e)
				seen[scalarKey(e)] = true
			}
		}
		return res, nil
	}
	for _, e := range patch {
		pm, ok := e.(map[string]interface{})
		if !ok {
			return nil, fmt.Errorf("invalid list element in patch of %s: expected an object", path)
		}
		kv, ok := elemKey(pm, meta.key)
		if !ok {
			return nil, fmt.Errorf("map: %v does not contain declared merge key: %s", pm, meta.key)
		}
		idx := -1
		for i, o := range res {
			if ok2, ok3 := elemKey(o, meta.key); ok3 && ok2 == kv {
				idx = i
				break
			}
		}
		if d, _ := pm["$patch"].(string); d == "delete" {
			if idx >= 0 {
				res = append(res[:idx:idx], res[idx+1:]...)
			}
			continue
		}
		if idx >= 0 {
			om, _ := res[idx].(map[string]interface{})
			m, err := smpMap(om, pm, path, metas)
			if err != nil {
				return nil, err
			}
			if m == nil {
				res = append(res[:idx:idx], res[idx+1:]...)
			} else {
				res[idx] = m
			}
		} else {
			m, err := smpMap(map[string]interface{}{}, pm, path, metas)
			if err != nil {
				return nil, err
			}
			if m != nil {
				res = append(res, m)
			}
		}
	}
	return res, nil
}

// applyOrder implements $setElementOrder: elements named in order come
// first in that order, the others keep their relative order after them.
func applyOrder(l []interface{}, order []interface{}, key string) []interface{} {
	pos := map[string]int{}
	for i, o := range order {
		if k, ok := elemKey(o, key); ok {
			pos[k] = i
		}
	}
	ordered := make([]interface{}, len(order))
	filled := make([]bool, len(order))
	var rest []interface{}
	for _, e := range l {
		k, ok := elemKey(e, key)
		if i, in := pos[k]; ok && in && !filled[i] {
			ordered[i] = e
			filled[i] = true
		} else {
			rest = append(rest, e)
		}
	}
	out := make([]interface{}, 0, len(l))
	for i, e := range ordered {
		if filled[i] {
			out = append(out, e)
		}
	}
	return append(out, rest...)
}

// patchMetaFor returns the strategic-merge metadata of a built-in kind,
// transcribed from the patchStrategy/patchMergeKey tags of k8s.io/api.
func patchMetaFor(kind string) patchMetas {
	m := patchMetas{
		"metadata.finalizers":      {strategy: "merge"},
		"metadata.ownerReferences": {strategy: "merge", key: "uid"},
	}
	podSpec := func(prefix string) {
		for _, c := range []string{"containers", "initContainers", "ephemeralContainers"} {
			cp := prefix + "." + c
			m[cp] = patchMeta{strategy: "merge", key: "name"}
			m[cp+".ports"] = patchMeta{strategy: "merge", key: "containerPort"}
			m[cp+".env"] = patchMeta{strategy: "merge", key: "name"}
			m[cp+".volumeMounts"] = patchMeta{strategy: "merge", key: "mountPath"}
			m[cp+".volumeDevices"] = patchMeta{strategy: "merge", key: "devicePath"}
			m[cp+".resizePolicy"] = patchMeta{strategy: "merge", key: "resourceName"}
		}
		m[prefix+".volumes"] = patchMeta{strategy: "merge,retainKeys", key: "name"}
		m[prefix+".imagePullSecrets"] = patchMeta{strategy: "merge", key: "name"}
		m[prefix+".hostAliases"] = patchMeta{strategy: "merge", key: "ip"}
		m[prefix+".topologySpreadConstraints"] = patchMeta{strategy: "merge", key: "topologyKey"}
		m[prefix+".resourceClaims"] = patchMeta{strategy: "merge,retainKeys", key: "name"}
		m[prefix+".schedulingGates"] = patchMeta{strategy: "merge", key: "name"}
	}
	switch kind {
	case "Service":
		m["spec.ports"] = patchMeta{strategy: "merge", key: "port"}
		m["status.conditions"] = patchMeta{strategy: "merge", key: "type"}
	case "Pod":
		podSpec("spec")
		m["status.conditions"] = patchMeta{strategy: "merge", key: "type"}
		m["status.podIPs"] = patchMeta{strategy: "merge", key: "ip"}
		m["status.hostIPs"] = patchMeta{strategy: "merge", key: "ip"}
	case "Node":
		m["spec.podCIDRs"] = patchMeta{strategy: "merge"}
		m["status.conditions"] = patchMeta{strategy: "merge", key: "type"}
		m["status.addresses"] = patchMeta{strategy: "merge", key: "type"}
	case "Namespace":
		m["status.conditions"] = patchMeta{strategy: "merge", key: "type"}
	case "Event", "Secret", "ConfigMap", "Endpoints", "EndpointSlice", "Lease":
	}
	return m
}
