package main

import (
	"crypto/sha256"
	"encoding/base64"
	"sort"
	"strconv"
	"strings"
)

// ResourceDef describes one served resource (built-in or custom).
type ResourceDef struct {
	Group      string
	Version    string // storage version (the only one for built-ins)
	Versions   []string
	Resource   string
	Kind       string
	ListKind   string
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string
	Verbs      []string

	HasStatus           bool // status subresource (built-ins)
	ClearStatusOnCreate bool
	Generation          bool
	AllowCreateOnUpdate bool
	Strategic           bool // accepts application/strategic-merge-patch+json
	ExtraSubresources   []string

	nameValidator func(string) string
	// defaulter mutates o; old is nil on create.
	defaulter func(s *Store, o, old obj)
	// validator appends field errors; old is nil on create.
	validator func(s *Store, o, old obj, errs *fieldErrs)
	// allocator assigns/releases cluster resources; runs under the store lock.
	allocator func(s *Store, tx *allocTx, o, old obj, errs *fieldErrs)
	release   func(s *Store, o obj)
	fields    map[string]func(o obj) string
	table     func(d *ResourceDef, version string) *tableDef

	crd *crdInfo // non-nil for custom resources
}

func (d *ResourceDef) isCustom() bool { return d.crd != nil }

func (d *ResourceDef) gr() string { return d.Group + "/" + d.Resource }

func (d *ResourceDef) groupVersion(v string) string {
	if d.Group == "" {
		return v
	}
	return d.Group + "/" + v
}

func (d *ResourceDef) serves(v string) bool {
	for _, x := range d.Versions {
		if x == v {
			return true
		}
	}
	return false
}

func (d *ResourceDef) hasStatus(v string) bool {
	if d.crd != nil {
		vi := d.crd.versions[v]
		return vi != nil && vi.status
	}
	return d.HasStatus
}

// supportsField reports whether a field selector label is supported.
func (d *ResourceDef) supportsField(field string) bool {
	switch field {
	case "metadata.name":
		return true
	case "metadata.namespace":
		return d.Namespaced
	}
	_, ok := d.fields[field]
	return ok
}

// fieldValue returns the value of a field selector label of a stored object.
func fieldValue(o *Object, field string) string {
	switch field {
	case "metadata.name":
		return o.Name
	case "metadata.namespace":
		return o.Namespace
	}
	return o.Fields[field]
}

var defaultVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// Registry holds the resource definitions. It is guarded by the store lock.
type Registry struct {
	byGR map[string]*ResourceDef
	// builtinGroups keeps the discovery order of built-in groups.
	builtinGroups []string
	gen           uint64 // bumped whenever the set of resources changes
}

func newRegistry() *Registry {
	r := &Registry{byGR: map[string]*ResourceDef{}}
	for _, d := range builtinDefs() {
		r.add(d)
		if d.Group != "" && !containsStr(r.builtinGroups, d.Group) {
			r.builtinGroups = append(r.builtinGroups, d.Group)
		}
	}
	return r
}

func containsStr(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

func (r *Registry) add(d *ResourceDef) {
	if d.ListKind == "" {
		d.ListKind = d.Kind + "List"
	}
	if d.Singular == "" {
		d.Singular = strings.ToLower(d.Kind)
	}
	if d.Verbs == nil {
		d.Verbs = defaultVerbs
	}
	if len(d.Versions) == 0 {
		d.Versions = []string{d.Version}
	}
	r.byGR[d.gr()] = d
	r.gen++
}

func (r *Registry) remove(d *ResourceDef) {
	delete(r.byGR, d.gr())
	r.gen++
}

func (r *Registry) lookup(group, version, resource string) *ResourceDef {
	d := r.byGR[group+"/"+resource]
	if d == nil || !d.serves(version) {
		return nil
	}
	return d
}

func (r *Registry) get(gr string) *ResourceDef { return r.byGR[gr] }

// groups returns the served API groups (excluding core) in discovery order:
// built-in groups first, then custom groups sorted by name.
func (r *Registry) groups() []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range r.builtinGroups {
		seen[g] = true
		out = append(out, g)
	}
	var custom []string
	for _, d := range r.byGR {
		if d.Group != "" && !seen[d.Group] {
			seen[d.Group] = true
			custom = append(custom, d.Group)
		}
	}
	sort.Strings(custom)
	return append(out, custom...)
}

// groupVersions returns the versions served by a group, preferred first.
func (r *Registry) groupVersions(group string) []string {
	set := map[string]bool{}
	for _, d := range r.byGR {
		if d.Group == group {
			for _, v := range d.Versions {
				set[v] = true
			}
		}
	}
	var vs []string
	for v := range set {
		vs = append(vs, v)
	}
	sortVersions(vs)
	return vs
}

func (r *Registry) resourcesIn(group, version string) []*ResourceDef {
	var out []*ResourceDef
	for _, d := range r.byGR {
		if d.Group == group && d.serves(version) {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Resource < out[j].Resource })
	return out
}

// versionPriority orders Kubernetes versions like the CRD version sort:
// GA > beta > alpha, then by major and minor numbers descending; anything
// else sorts last alphabetically.
func versionKey(v string) (rank int, major, minor int, ok bool) {
	if !strings.HasPrefix(v, "v") {
		return 0, 0, 0, false
	}
	rest := v[1:]
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, 0, 0, false
	}
	major, _ = strconv.Atoi(rest[:i])
	rest = rest[i:]
	if rest == "" {
		return 3, major, 0, true
	}
	for _, p := range []struct {
		s string
		r int
	}{{"beta", 2}, {"alpha", 1}} {
		if strings.HasPrefix(rest, p.s) {
			n := rest[len(p.s):]
			m, err := strconv.Atoi(n)
			if err != nil {
				return 0, 0, 0, false
			}
			return p.r, major, m, true
		}
	}
	return 0, 0, 0, false
}

func sortVersions(vs []string) {
	sort.Slice(vs, func(i, j int) bool {
		ri, mi, ni, oki := versionKey(vs[i])
		rj, mj, nj, okj := versionKey(vs[j])
		if oki != okj {
			return oki
		}
		if !oki {
			return vs[i] < vs[j]
		}
		if ri != rj {
			return ri > rj
		}
		if mi != mj {
			return mi > mj
		}
		return ni > nj
	})
}

func storageVersionHash(group, version, kind string) string {
	h := sha256.Sum256([]byte(group + "/" + version + "/" + kind))
	return base64.StdEncoding.EncodeToString(h[:8])
}

// --- discovery documents ---

func (r *Registry) apiVersions(serverAddr string) obj {
	return obj{
		"kind":     "APIVersions",
		"versions": []interface{}{"v1"},
		"serverAddressByClientCIDRs": []interface{}{
			obj{"clientCIDR": "0.0.0.0/0", "serverAddress": serverAddr},
		},
	}
}

func (r *Registry) apiGroup(group string) obj {
	vs := r.groupVersions(group)
	if len(vs) == 0 {
		return nil
	}
	var list []interface{}
	for _, v := range vs {
		list = append(list, obj{"groupVersion": group + "/" + v, "version": v})
	}
	return obj{
		"name":             group,
		"versions":         list,
		"preferredVersion": obj{"groupVersion": group + "/" + vs[0], "version": vs[0]},
	}
}

func (r *Registry) apiGroupList() obj {
	var groups []interface{}
	for _, g := range r.groups() {
		if ag := r.apiGroup(g); ag != nil {
			groups = append(groups, ag)
		}
	}
	if groups == nil {
		groups = []interface{}{}
	}
	return obj{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
}

func (r *Registry) apiResourceList(group, version string) obj {
	defs := r.resourcesIn(group, version)
	if len(defs) == 0 && !(group == "" && version == "v1") {
		return nil
	}
	res := []interface{}{}
	for _, d := range defs {
		e := obj{
			"name":               d.Resource,
			"singularName":       d.Singular,
			"namespaced":         d.Namespaced,
			"kind":               d.Kind,
			"verbs":              strSlice(d.Verbs),
			"storageVersionHash": storageVersionHash(d.Group, d.Version, d.Kind),
		}
		if len(d.ShortNames) > 0 {
			e["shortNames"] = strSlice(d.ShortNames)
		}
		if len(d.Categories) > 0 {
			e["categories"] = strSlice(d.Categories)
		}
		res = append(res, e)
		if d.hasStatus(version) {
			res = append(res, obj{"name": d.Resource + "/status", "singularName": "",
				"namespaced": d.Namespaced, "kind": d.Kind, "verbs": []interface{}{"get", "patch", "update"}})
		}
		for _, sub := range d.ExtraSubresources {
			res = append(res, obj{"name": d.Resource + "/" + sub, "singularName": "",
				"namespaced": d.Namespaced, "kind": d.Kind, "verbs": []interface{}{"update"}})
		}
	}
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	return obj{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": res}
}

func strSlice(l []string) []interface{} {
	out := make([]interface{}, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}
