package main

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

type printerColumn struct {
	column
	path []jpStep
}

type crdVersion struct {
	name    string
	served  bool
	storage bool
	schema  obj
	status  bool
	columns []printerColumn
}

type crdInfo struct {
	name     string
	versions map[string]*crdVersion
}

func validMicroTime(s string) bool {
	_, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", s)
	return err == nil
}

func crdDefault(s *Store, o, old obj) {
	spec := ensureMap(o, "spec")
	names := ensureMap(spec, "names")
	kind := getString(names, "kind")
	if names["singular"] == nil && kind != "" {
		names["singular"] = strings.ToLower(kind)
	}
	if names["listKind"] == nil && kind != "" {
		names["listKind"] = kind + "List"
	}
	if spec["conversion"] == nil {
		spec["conversion"] = obj{"strategy": "None"}
	}
	for _, v := range getSlice(spec, "versions") {
		vm := getMap(v)
		if vm == nil {
			continue
		}
		for _, c := range getSlice(vm, "additionalPrinterColumns") {
			if cm := getMap(c); cm != nil && cm["priority"] == nil {
				// nothing: priority defaults to 0 when read
				_ = cm
			}
		}
	}
	// status is maintained by the "controllers" of the simulator.
	st := ensureMap(o, "status")
	an := obj{"plural": names["plural"], "kind": names["kind"], "listKind": names["listKind"], "singular": names["singular"]}
	for _, k := range []string{"shortNames", "categories"} {
		if names[k] != nil {
			an[k] = deepCopy(names[k])
		}
	}
	st["acceptedNames"] = an
	stored := getSlice(st, "storedVersions")
	for _, v := range getSlice(spec, "versions") {
		if b, _ := getMap(v)["storage"].(bool); b {
			name := getString(v, "name")
			found := false
			for _, x := range stored {
				if x == name {
					found = true
				}
			}
			if !found {
				stored = append(stored, name)
			}
		}
	}
	if stored == nil {
		stored = []interface{}{}
	}
	st["storedVersions"] = stored
	if getString(o, "metadata", "deletionTimestamp") == "" {
		setCRDCondition(o, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
		setCRDCondition(o, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted")
	}
}

// setCRDCondition sets a condition, keeping lastTransitionTime when the
// status did not change.
func setCRDCondition(o obj, typ, status, reason, msg string) {
	st := ensureMap(o, "status")
	conds := getSlice(st, "conditions")
	for _, c := range conds {
		cm := getMap(c)
		if getString(cm, "type") == typ {
			if getString(cm, "status") != status {
				cm["lastTransitionTime"] = nowRFC3339()
			}
			cm["status"], cm["reason"], cm["message"] = status, reason, msg
			return
		}
	}
	st["conditions"] = append(conds, obj{"type": typ, "status": status, "reason": reason, "message": msg, "lastTransitionTime": nowRFC3339()})
}

func crdValidate(s *Store, o, old obj, errs *fieldErrs) {
	spec := getMap(o, "spec")
	group := getString(spec, "group")
	names := getMap(spec, "names")
	plural := getString(names, "plural")
	if group == "" {
		errs.required("spec.group", "")
	} else if m := validateDNS1123Subdomain(group); m != "" {
		errs.invalid("spec.group", group, m)
	} else if !strings.Contains(group, ".") {
		errs.invalid("spec.group", group, "should be a domain with at least one dot")
	}
	if plural == "" {
		errs.required("spec.names.plural", "")
	} else if m := validateDNS1123Label(plural); m != "" {
		errs.invalid("spec.names.plural", plural, m)
	}
	if s := getString(names, "singular"); s != "" {
		if m := validateDNS1123Label(s); m != "" {
			errs.invalid("spec.names.singular", s, m)
		}
	}
	if getString(names, "kind") == "" {
		errs.required("spec.names.kind", "")
	}
	if name := getString(o, "metadata", "name"); plural != "" && group != "" && name != plural+"."+group {
		errs.invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group")
	}
	switch sc := getString(spec, "scope"); sc {
	case "Namespaced", "Cluster":
	case "":
		errs.required("spec.scope", "")
	default:
		errs.notSupported("spec.scope", sc, "Cluster", "Namespaced")
	}
	vs := getSlice(spec, "versions")
	if len(vs) == 0 {
		errs.invalid("spec.versions", vs, "must have exactly one version marked as storage version")
	}
	storage := 0
	seen := map[string]bool{}
	for i, v := range vs {
		vm := getMap(v)
		f := fmt.Sprintf("spec.versions[%d]", i)
		n := getString(vm, "name")
		if m := validateDNS1035Label(n); m != "" {
			errs.invalid(f+".name", n, m)
		}
		if seen[n] {
			errs.duplicate(f+".name", n)
		}
		seen[n] = true
		if b, _ := vm["storage"].(bool); b {
			storage++
		}
		if _, ok := vm["served"].(bool); !ok {
			errs.required(f+".served", "")
		}
		if getMap(vm, "schema", "openAPIV3Schema") == nil {
			errs.required(f+".schema.openAPIV3Schema", "schemas are required")
		} else if t := getString(vm, "schema", "openAPIV3Schema", "type"); t != "object" {
			errs.invalid(f+".schema.openAPIV3Schema.type", t, "must be object at the root")
		}
		for j, c := range getSlice(vm, "additionalPrinterColumns") {
			cm := getMap(c)
			cf := fmt.Sprintf("%s.additionalPrinterColumns[%d]", f, j)
			if getString(cm, "name") == "" {
				errs.required(cf+".name", "")
			}
			switch t := getString(cm, "type"); t {
			case "integer", "number", "string", "boolean", "date":
			default:
				errs.notSupported(cf+".type", t, "boolean", "date", "integer", "number", "string")
			}
			if _, err := parseJSONPath(getString(cm, "jsonPath")); err != nil || getString(cm, "jsonPath") == "" {
				errs.invalid(cf+".jsonPath", cm["jsonPath"], "must be a simple json path")
			}
		}
	}
	if len(vs) > 0 && storage != 1 {
		errs.invalid("spec.versions", fmt.Sprint(storage), "must have exactly one version marked as storage version")
	}
	if old != nil {
		ospec := getMap(old, "spec")
		if getString(ospec, "group") != group {
			errs.invalid("spec.group", group, "field is immutable")
		}
		if getString(ospec, "scope") != getString(spec, "scope") {
			errs.invalid("spec.scope", spec["scope"], "field is immutable")
		}
		if getString(getMap(ospec, "names"), "plural") != plural {
			errs.invalid("spec.names.plural", plural, "field is immutable in kube-sim")
		}
	}
}

func (srv *Server) checkCRDConflict(o, old obj) *apiError {
	spec := getMap(o, "spec")
	gr := getString(spec, "group") + "/" + getString(spec, "names", "plural")
	if d := srv.store.reg.get(gr); d != nil && d.crd == nil {
		return errInvalid("CustomResourceDefinition", "apiextensions.k8s.io", getString(o, "metadata", "name"),
			fieldErrs{{typ: "Invalid", field: "spec.names.plural", value: getString(spec, "names", "plural"), detail: "conflicts with a built-in resource"}})
	}
	return nil
}

// crdResource returns the served resource of a CRD object, if registered.
func (srv *Server) crdResource(o obj) *ResourceDef {
	spec := getMap(o, "spec")
	d := srv.store.reg.get(getString(spec, "group") + "/" + getString(spec, "names", "plural"))
	if d == nil || d.crd == nil {
		return nil
	}
	return d
}

// defFromCRD builds the served resource of a CRD.
func defFromCRD(o obj) *ResourceDef {
	spec := getMap(o, "spec")
	names := getMap(spec, "names")
	d := &ResourceDef{
		Group:         getString(spec, "group"),
		Resource:      getString(names, "plural"),
		Kind:          getString(names, "kind"),
		ListKind:      getString(names, "listKind"),
		Singular:      getString(names, "singular"),
		Namespaced:    getString(spec, "scope") == "Namespaced",
		Generation:    true,
		nameValidator: validateDNS1123Subdomain,
		table:         crTable,
		crd:           &crdInfo{name: getString(o, "metadata", "name"), versions: map[string]*crdVersion{}},
	}
	for _, x := range getSlice(names, "shortNames") {
		d.ShortNames = append(d.ShortNames, fmt.Sprint(x))
	}
	for _, x := range getSlice(names, "categories") {
		d.Categories = append(d.Categories, fmt.Sprint(x))
	}
	topStatus := getMap(spec, "subresources", "status") != nil
	topSchema := getMap(spec, "validation", "openAPIV3Schema")
	for _, v := range getSlice(spec, "versions") {
		vm := getMap(v)
		cv := &crdVersion{name: getString(vm, "name")}
		cv.served, _ = vm["served"].(bool)
		cv.storage, _ = vm["storage"].(bool)
		cv.schema = getMap(vm, "schema", "openAPIV3Schema")
		if cv.schema == nil {
			cv.schema = topSchema
		}
		cv.status = topStatus || getMap(vm, "subresources", "status") != nil
		cols := getSlice(vm, "additionalPrinterColumns")
		if cols == nil {
			cols = getSlice(spec, "additionalPrinterColumns")
		}
		for _, c := range cols {
			cm := getMap(c)
			steps, err := parseJSONPath(getString(cm, "jsonPath"))
			if err != nil {
				continue
			}
			prio, _ := toInt64(cm["priority"])
			cv.columns = append(cv.columns, printerColumn{
				column: column{Name: getString(cm, "name"), Type: getString(cm, "type"), Format: getString(cm, "format"),
					Description: getString(cm, "description"), Priority: int(prio)},
				path: steps})
		}
		d.crd.versions[cv.name] = cv
		if cv.served {
			d.Versions = append(d.Versions, cv.name)
		}
		if cv.storage {
			d.Version = cv.name
		}
	}
	sortVersions(d.Versions)
	return d
}

// afterCommit keeps the registry in sync with CRD objects.
func (srv *Server) afterCommit(d *ResourceDef, typ string, o *Object) {
	if d.crd != nil || d.Resource != "customresourcedefinitions" || d.Group != "apiextensions.k8s.io" {
		return
	}
	s := srv.store
	nd := defFromCRD(o.parse())
	switch typ {
	case "ADDED", "MODIFIED":
		if len(nd.Versions) == 0 {
			if cur := s.reg.get(nd.gr()); cur != nil && cur.crd != nil {
				s.reg.remove(cur)
			}
		} else {
			s.reg.add(nd)
		}
	case "DELETED":
		if cur := s.reg.get(nd.gr()); cur != nil && cur.crd != nil {
			s.reg.remove(cur)
			s.stopWatchers(nd.gr(), false)
			delete(s.data, nd.gr())
		}
	}
	srv.openapiCache.invalidate()
}

// cascadeCRD deletes all instances of a CRD being deleted.
func (srv *Server) cascadeCRD(crd *Object) {
	s := srv.store
	d := srv.crdResource(crd.parse())
	if d != nil {
		if rs := s.data[d.gr()]; rs != nil {
			var victims []*Object
			for _, o := range rs.objects {
				victims = append(victims, o)
			}
			sort.Slice(victims, func(i, j int) bool { return victims[i].Key < victims[j].Key })
			for _, o := range victims {
				if cur := s.get(d, o.Namespace, o.Name); cur != nil && !cur.Deleting {
					srv.deleteObjectLocked(d, cur)
				}
			}
		}
		srv.checkCRDDone(d)
		return
	}
	if crd.Finalizers == 0 {
		srv.removeLocked(s.reg.get(crdGR), crd, nil)
	}
}

// checkCRDDone removes a terminating CRD once its instances are gone.
func (srv *Server) checkCRDDone(d *ResourceDef) {
	s := srv.store
	if d.crd == nil || s.count(d.gr()) > 0 {
		return
	}
	cd := s.reg.get(crdGR)
	o := s.get(cd, "", d.crd.name)
	if o == nil || !o.Deleting || o.Finalizers > 0 {
		return
	}
	srv.removeLocked(cd, o, nil)
}

// ---- custom resource tables ----

func crTable(d *ResourceDef, version string) *tableDef {
	cv := d.crd.versions[version]
	if cv == nil || len(cv.columns) == 0 {
		return nil
	}
	cols := []column{nameCol}
	for _, c := range cv.columns {
		cols = append(cols, c.column)
	}
	return &tableDef{columns: cols, cells: func(o obj) []interface{} {
		cells := []interface{}{objName(o)}
		for _, c := range cv.columns {
			res := evalJSONPath(c.path, o)
			if len(res) == 0 || res[0] == nil {
				cells = append(cells, nil)
				continue
			}
			v := res[0]
			switch c.Type {
			case "string":
				cells = append(cells, jpText(v))
			case "integer":
				if n, ok := toInt64(v); ok {
					cells = append(cells, n)
				} else {
					cells = append(cells, nil)
				}
			case "number":
				if f, ok := toFloat(v); ok {
					cells = append(cells, f)
				} else {
					cells = append(cells, nil)
				}
			case "boolean":
				if b, ok := v.(bool); ok {
					cells = append(cells, b)
				} else {
					cells = append(cells, nil)
				}
			case "date":
				if s, ok := v.(string); ok {
					cells = append(cells, age(s))
				} else {
					cells = append(cells, nil)
				}
			default:
				cells = append(cells, jpText(v))
			}
		}
		return cells
	}}
}

// ---- structural schema: pruning, defaulting, validation ----

type schemaWalker struct {
	errs    *fieldErrs
	unknown []string
}

var patternCache = map[string]*regexp.Regexp{}

func typeName(v interface{}) string {
	switch v.(type) {
	case map[string]interface{}:
		return "object"
	case []interface{}:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case nil:
		return "null"
	default:
		if n, ok := toInt64(v); ok {
			_ = n
			return "integer"
		}
		return "number"
	}
}

func (sw *schemaWalker) typeErr(path string, v interface{}, want string) {
	sw.errs.invalid(path, typeName(v), fmt.Sprintf("%s in body must be of type %s: %q", path, want, typeName(v)))
}

// walk returns the processed value and whether it should be kept.
func (sw *schemaWalker) walk(v interface{}, s obj, path string) (interface{}, bool) {
	if s == nil {
		return v, true
	}
	if v == nil {
		if b, _ := s["nullable"].(bool); b {
			return nil, true
		}
		return nil, false
	}
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	if b, _ := s["x-kubernetes-int-or-string"].(bool); b {
		if _, ok := v.(string); !ok {
			if _, ok := toInt64(v); !ok {
				sw.typeErr(path, v, "integer,string")
			}
		}
		return v, true
	}
	typ := getString(s, "type")
	if typ == "" && s["properties"] != nil {
		typ = "object"
	}
	switch typ {
	case "object":
		m, ok := v.(map[string]interface{})
		if !ok {
			sw.typeErr(path, v, "object")
			return v, true
		}
		props := getMap(s, "properties")
		addl := s["additionalProperties"]
		addlSchema, _ := addl.(map[string]interface{})
		addlAll, _ := addl.(bool)
		for _, k := range sortedKeys(m) {
			e := m[k]
			cp := joinPath(path, k)
			if ps, ok := props[k].(map[string]interface{}); ok {
				nv, keep := sw.walk(e, ps, cp)
				if keep {
					m[k] = nv
				} else {
					delete(m, k)
				}
			} else if addlSchema != nil {
				nv, keep := sw.walk(e, addlSchema, cp)
				if keep {
					m[k] = nv
				} else {
					delete(m, k)
				}
			} else if !(addlAll || preserve) {
				sw.unknown = append(sw.unknown, cp)
				delete(m, k)
			}
		}
		for _, k := range sortedKeys(props) {
			ps := getMap(props, k)
			if _, present := m[k]; !present {
				if dv, ok := ps["default"]; ok {
					nv, keep := sw.walk(deepCopy(dv), ps, joinPath(path, k))
					if keep {
						m[k] = nv
					}
				}
			}
		}
		for _, r := range getSlice(s, "required") {
			rs, _ := r.(string)
			if _, ok := m[rs]; !ok {
				sw.errs.required(joinPath(path, rs), "")
			}
		}
		sw.checkEnum(v, s, path)
		return m, true
	case "array":
		l, ok := v.([]interface{})
		if !ok {
			sw.typeErr(path, v, "array")
			return v, true
		}
		items := getMap(s, "items")
		out := l[:0:0]
		for i, e := range l {
			nv, keep := sw.walk(e, items, fmt.Sprintf("%s[%d]", path, i))
			if keep {
				out = append(out, nv)
			} else {
				out = append(out, nil)
			}
		}
		if n, ok := toInt64(s["maxItems"]); ok && int64(len(out)) > n {
			sw.errs.append(fieldErr{typ: "TooMany", field: path, detail: fmt.Sprintf("must have at most %d items", n)})
		}
		if n, ok := toInt64(s["minItems"]); ok && int64(len(out)) < n {
			sw.errs.invalid(path, int64(len(out)), fmt.Sprintf("%s in body should have at least %d items", path, n))
		}
		if getString(s, "x-kubernetes-list-type") == "set" {
			seen := map[string]bool{}
			for i, e := range out {
				k := scalarKey(e)
				if seen[k] {
					sw.errs.duplicate(fmt.Sprintf("%s[%d]", path, i), e)
				}
				seen[k] = true
			}
		}
		return out, true
	case "string":
		str, ok := v.(string)
		if !ok {
			sw.typeErr(path, v, "string")
			return v, true
		}
		if n, ok := toInt64(s["maxLength"]); ok && int64(len(str)) > n {
			sw.errs.append(fieldErr{typ: "TooLong", field: path, detail: fmt.Sprintf("may not be more than %d bytes", n)})
		}
		if n, ok := toInt64(s["minLength"]); ok && int64(len(str)) < n {
			sw.errs.invalid(path, str, fmt.Sprintf("%s in body should be at least %d chars long", path, n))
		}
		if p := getString(s, "pattern"); p != "" {
			re := patternCache[p]
			if re == nil {
				re, _ = regexp.Compile(p)
				if re != nil {
					patternCache[p] = re
				}
			}
			if re != nil && !re.MatchString(str) {
				sw.errs.invalid(path, str, fmt.Sprintf("%s in body should match '%s'", path, p))
			}
		}
		sw.checkEnum(v, s, path)
		return v, true
	case "integer", "number":
		if typ == "integer" {
			if _, ok := toInt64(v); !ok {
				sw.typeErr(path, v, "integer")
				return v, true
			}
		} else if !isNumber(v) {
			sw.typeErr(path, v, "number")
			return v, true
		}
		f, _ := toFloat(v)
		if m, ok := toFloat(s["minimum"]); ok && f < m {
			sw.errs.invalid(path, v, fmt.Sprintf("%s in body should be greater than or equal to %v", path, s["minimum"]))
		}
		if m, ok := toFloat(s["maximum"]); ok && f > m {
			sw.errs.invalid(path, v, fmt.Sprintf("%s in body should be less than or equal to %v", path, s["maximum"]))
		}
		sw.checkEnum(v, s, path)
		return v, true
	case "boolean":
		if _, ok := v.(bool); !ok {
			sw.typeErr(path, v, "boolean")
		}
		return v, true
	}
	return v, true
}

func (sw *schemaWalker) checkEnum(v interface{}, s obj, path string) {
	enum := getSlice(s, "enum")
	if len(enum) == 0 {
		return
	}
	for _, e := range enum {
		if jsonEqual(e, v) {
			return
		}
	}
	var valid []string
	for _, e := range enum {
		valid = append(valid, jpText(e))
	}
	sw.errs.notSupported(path, v, valid...)
}

// applyCRSchema prunes unknown fields, applies defaults and validates a
// custom resource against its version's openAPIV3Schema.
func (srv *Server) applyCRSchema(rc *reqCtx, o obj, errs *fieldErrs) {
	cv := rc.def.crd.versions[rc.version]
	if cv == nil || cv.schema == nil {
		return
	}
	sw := &schemaWalker{errs: errs}
	props := getMap(cv.schema, "properties")
	preserve, _ := cv.schema["x-kubernetes-preserve-unknown-fields"].(bool)
	for _, k := range sortedKeys(o) {
		switch k {
		case "apiVersion", "kind", "metadata":
			continue
		}
		if ps, ok := props[k].(map[string]interface{}); ok {
			nv, keep := sw.walk(o[k], ps, k)
			if keep {
				o[k] = nv
			} else {
				delete(o, k)
			}
		} else if !preserve {
			sw.unknown = append(sw.unknown, k)
			delete(o, k)
		}
	}
	for _, k := range sortedKeys(props) {
		switch k {
		case "apiVersion", "kind", "metadata":
			continue
		}
		if _, present := o[k]; !present {
			ps := getMap(props, k)
			if dv, ok := ps["default"]; ok {
				if nv, keep := sw.walk(deepCopy(dv), ps, k); keep {
					o[k] = nv
				}
			}
		}
	}
	for _, r := range getSlice(cv.schema, "required") {
		rs, _ := r.(string)
		if _, ok := o[rs]; !ok && rs != "metadata" && rs != "apiVersion" && rs != "kind" {
			errs.required(rs, "")
		}
	}
	if len(sw.unknown) > 0 {
		switch rc.fieldValidation {
		case "Strict":
			var parts []string
			for _, u := range sw.unknown {
				parts = append(parts, fmt.Sprintf("unknown field %q", u))
			}
			rc.strictErr = errBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: strict decoding error: %s",
				rc.def.Kind, rc.version, rc.def.Kind, strings.Join(parts, ", ")))
		case "Warn":
			for _, u := range sw.unknown {
				rc.warn(fmt.Sprintf("unknown field %q", u))
			}
		}
	}
}
