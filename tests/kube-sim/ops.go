package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

var (
	nsGR  = "/namespaces"
	crdGR = "apiextensions.k8s.io/customresourcedefinitions"
)

func (srv *Server) serveWrite(w http.ResponseWriter, r *http.Request, rc *reqCtx, verb string) {
	body, e := readBody(r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	ct := mediaType(r.Header.Get("Content-Type"))
	var res *Object
	code := 200
	switch verb {
	case "create", "update":
		var o obj
		var err error
		switch {
		case isProtobuf(ct):
			o, err = decodeK8sProtobuf(body)
		case ct == "" || ct == "application/json" || ct == "*/*":
			o, err = decodeObject(body)
		default:
			writeAPIError(w, errUnsupportedMediaType(ct, []string{"application/json", "application/vnd.kubernetes.protobuf"}))
			return
		}
		if err != nil {
			writeAPIError(w, errBadRequest(fmt.Sprintf("the body of the request could not be decoded: %v", err)))
			return
		}
		if verb == "create" {
			res, e = srv.create(rc, o)
			code = 201
		} else {
			res, code, e = srv.update(rc, o)
		}
	case "patch":
		res, code, e = srv.patch(rc, ct, body)
	case "delete":
		var opts obj
		if len(body) > 0 {
			var o obj
			var err error
			if isProtobuf(ct) {
				o, err = decodeK8sProtobuf(body)
			} else {
				o, err = decodeObject(body)
			}
			if err != nil {
				writeAPIError(w, errBadRequest(fmt.Sprintf("the body of the request could not be decoded as DeleteOptions: %v", err)))
				return
			}
			opts = o
		}
		res, e = srv.delete(rc, opts)
	}
	if e != nil {
		writeAPIError(w, e)
		return
	}
	setWarnings(w, rc)
	if rc.out.mode == outTable {
		// Writes never answer as Table; fall back to the object.
		rc.out.mode = outPlain
	}
	writeJSON(w, code, renderOne(rc, res))
}

// checkTypeMeta fills in or checks apiVersion and kind of a request body.
func checkTypeMeta(rc *reqCtx, o obj) *apiError {
	d := rc.def
	gv := d.groupVersion(rc.version)
	av, _ := o["apiVersion"].(string)
	kind, _ := o["kind"].(string)
	if av != "" && av != gv {
		return errBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", av, gv))
	}
	if kind != "" && kind != d.Kind {
		return errBadRequest(fmt.Sprintf("the kind in the data (%s) does not match the expected kind (%s)", kind, d.Kind))
	}
	o["apiVersion"] = d.groupVersion(d.Version)
	o["kind"] = d.Kind
	md, ok := o["metadata"].(map[string]interface{})
	if !ok {
		if o["metadata"] != nil {
			return errBadRequest("metadata: must be an object")
		}
		md = obj{}
		o["metadata"] = md
	}
	if d.Namespaced {
		ns, _ := md["namespace"].(string)
		if ns != "" && ns != rc.ns {
			return errBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		md["namespace"] = rc.ns
	} else {
		delete(md, "namespace")
	}
	return nil
}

// runHooks applies defaulting, schema processing and validation.
func (srv *Server) runHooks(rc *reqCtx, o, old obj) fieldErrs {
	d := rc.def
	s := srv.store
	var errs fieldErrs
	if d.crd != nil {
		srv.applyCRSchema(rc, o, &errs)
		if len(errs) > 0 {
			return errs
		}
	}
	if d.defaulter != nil {
		d.defaulter(s, o, old)
	}
	validateObjectMeta(d, o, &errs)
	if d.validator != nil {
		d.validator(s, o, old, &errs)
	}
	return errs
}

func (srv *Server) create(rc *reqCtx, o obj) (*Object, *apiError) {
	if e := checkTypeMeta(rc, o); e != nil {
		return nil, e
	}
	s := srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	return srv.createLocked(rc, o)
}

func (srv *Server) createLocked(rc *reqCtx, o obj) (*Object, *apiError) {
	d := rc.def
	s := srv.store
	md := getMap(o, "metadata")
	if d.Namespaced {
		nsObj := s.get(s.reg.get(nsGR), "", rc.ns)
		if nsObj == nil {
			return nil, errNamespaceNotFound(rc.ns)
		}
		if nsObj.Deleting {
			e := errForbidden(d, getString(md, "name"), fmt.Sprintf("unable to create new content in namespace %s because it is being terminated", rc.ns))
			e.details["causes"] = []interface{}{obj{"reason": "NamespaceTerminating", "message": fmt.Sprintf("namespace %s is being terminated", rc.ns), "field": "metadata.namespace"}}
			return nil, e
		}
	}
	if rv, _ := md["resourceVersion"].(string); rv != "" {
		return nil, errInternal("resourceVersion should not be set on objects to be created")
	}
	name, _ := md["name"].(string)
	if name == "" {
		if gn, _ := md["generateName"].(string); gn != "" {
			for i := 0; i < 16; i++ {
				name = gn + generateNameSuffix()
				if len(name) > 253 {
					name = gn[:253-5] + name[len(name)-5:]
				}
				if s.get(d, rc.ns, name) == nil {
					break
				}
			}
			md["name"] = name
		}
	}
	md["uid"] = newUID()
	md["creationTimestamp"] = nowRFC3339()
	for _, k := range []string{"deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"} {
		delete(md, k)
	}
	if d.Generation {
		md["generation"] = int64(1)
	} else {
		delete(md, "generation")
	}
	if d.hasStatus(rc.version) && (d.ClearStatusOnCreate || d.crd != nil) {
		delete(o, "status")
	}
	errs := srv.runHooks(rc, o, nil)
	if rc.strictErr != nil {
		return nil, rc.strictErr
	}
	if len(errs) > 0 {
		return nil, errInvalid(d.Kind, d.Group, name, errs)
	}
	if s.get(d, rc.ns, name) != nil {
		return nil, errAlreadyExists(d, name)
	}
	tx := &allocTx{}
	if d.allocator != nil {
		d.allocator(s, tx, o, nil, &errs)
		if len(errs) > 0 {
			tx.rollback()
			return nil, errInvalid(d.Kind, d.Group, name, errs)
		}
	}
	if d.crd == nil && d.Resource == "customresourcedefinitions" {
		if e := srv.checkCRDConflict(o, nil); e != nil {
			tx.rollback()
			return nil, e
		}
	}
	if rc.dryRun {
		tx.rollback()
		return newObject(d, o), nil
	}
	res := s.commit(d, "ADDED", o, nil)
	srv.afterCommit(d, "ADDED", res)
	return res, nil
}

// update handles PUT (main resource and subresources).
func (srv *Server) update(rc *reqCtx, o obj) (*Object, int, *apiError) {
	if e := checkTypeMeta(rc, o); e != nil {
		return nil, 0, e
	}
	md := getMap(o, "metadata")
	if n, _ := md["name"].(string); n != rc.name {
		return nil, 0, errBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n, rc.name))
	}
	s := srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.get(rc.def, rc.ns, rc.name)
	if old == nil {
		if rc.def.AllowCreateOnUpdate && rc.sub == "" {
			if rv, _ := md["resourceVersion"].(string); rv != "" {
				return nil, 0, errNotFound(rc.def, rc.name)
			}
			res, e := srv.createLocked(rc, o)
			return res, 201, e
		}
		return nil, 0, errNotFound(rc.def, rc.name)
	}
	res, e := srv.updateLocked(rc, o, old)
	return res, 200, e
}

func (srv *Server) updateLocked(rc *reqCtx, o obj, old *Object) (*Object, *apiError) {
	d := rc.def
	s := srv.store
	oldObj := old.parse()
	md := ensureMap(o, "metadata")
	if rv, _ := md["resourceVersion"].(string); rv != "" && rv != strconv.FormatUint(old.RV, 10) {
		return nil, errStaleRV(d, rc.name)
	}
	if uid, _ := md["uid"].(string); uid != "" && uid != old.UID {
		return nil, errConflict(d, rc.name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", old.UID, uid))
	}
	if rc.sub == "status" {
		n := old.parse()
		if st, ok := o["status"]; ok {
			n["status"] = st
		} else {
			delete(n, "status")
		}
		o = n
		md = getMap(o, "metadata")
	} else if rc.sub == "finalize" {
		n := old.parse()
		if sp := getMap(o, "spec"); sp != nil {
			setPath(n, sp["finalizers"], "spec", "finalizers")
		}
		o = n
		md = getMap(o, "metadata")
	} else if d.hasStatus(rc.version) {
		if st, ok := oldObj["status"]; ok {
			o["status"] = deepCopy(st)
		} else {
			delete(o, "status")
		}
	}
	oldMD := getMap(oldObj, "metadata")
	for _, k := range []string{"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "name", "namespace"} {
		if v, ok := oldMD[k]; ok {
			md[k] = v
		} else {
			delete(md, k)
		}
	}
	delete(md, "selfLink")
	delete(md, "managedFields")
	delete(md, "generateName")
	if gn, ok := oldMD["generateName"]; ok {
		md["generateName"] = gn
	}
	var errs fieldErrs
	if oldMD["deletionTimestamp"] != nil {
		oldF := map[string]bool{}
		for _, f := range getSlice(oldMD, "finalizers") {
			oldF[fmt.Sprint(f)] = true
		}
		for _, f := range getSlice(md, "finalizers") {
			if !oldF[fmt.Sprint(f)] {
				errs.forbidden("metadata.finalizers", fmt.Sprintf("no new finalizers can be added if the object is being deleted, found new finalizers []string{%q}", f))
			}
		}
	}
	if len(errs) == 0 {
		errs = srv.runHooks(rc, o, oldObj)
		if rc.strictErr != nil {
			return nil, rc.strictErr
		}
	}
	if len(errs) > 0 {
		return nil, errInvalid(d.Kind, d.Group, rc.name, errs)
	}
	if d.Generation {
		gen, _ := toInt64(oldMD["generation"])
		if gen == 0 {
			gen = 1
		}
		if specChanged(o, oldObj, d.hasStatus(rc.version)) {
			gen++
		}
		md["generation"] = gen
	}
	tx := &allocTx{}
	if d.allocator != nil {
		d.allocator(s, tx, o, oldObj, &errs)
		if len(errs) > 0 {
			tx.rollback()
			return nil, errInvalid(d.Kind, d.Group, rc.name, errs)
		}
	}
	if d.crd == nil && d.Resource == "customresourcedefinitions" {
		if e := srv.checkCRDConflict(o, oldObj); e != nil {
			tx.rollback()
			return nil, e
		}
	}
	md["resourceVersion"] = strconv.FormatUint(old.RV, 10)
	if jsonEqual(o, oldObj) {
		// No-op updates do not bump the resourceVersion nor emit events.
		tx.rollback()
		return old, nil
	}
	if rc.dryRun {
		tx.rollback()
		return newObject(d, o), nil
	}
	// Removing the last finalizer of an object being deleted deletes it.
	if md["deletionTimestamp"] != nil && len(getSlice(md, "finalizers")) == 0 && !srv.blockedDeletion(d, o) {
		res := srv.removeLocked(d, old, o)
		return res, nil
	}
	res := s.commit(d, "MODIFIED", o, old)
	srv.afterCommit(d, "MODIFIED", res)
	return res, nil
}

// specChanged reports whether anything but metadata (and status, when it
// is a subresource) changed: the rule for bumping metadata.generation.
func specChanged(n, o obj, statusSub bool) bool {
	keys := map[string]bool{}
	for k := range n {
		keys[k] = true
	}
	for k := range o {
		keys[k] = true
	}
	for k := range keys {
		switch k {
		case "metadata", "apiVersion", "kind":
			continue
		case "status":
			if statusSub {
				continue
			}
		}
		if !jsonEqual(n[k], o[k]) {
			return true
		}
	}
	return false
}

func (srv *Server) patch(rc *reqCtx, ct string, body []byte) (*Object, int, *apiError) {
	d := rc.def
	accepted := []string{"application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"}
	if d.Strategic {
		accepted = append(accepted, "application/strategic-merge-patch+json")
	}
	if !containsStr(accepted, ct) {
		return nil, 0, errUnsupportedMediaType(ct, accepted)
	}
	pv, err := decodeJSON(body)
	if err != nil {
		if ct == "application/apply-patch+yaml" {
			return nil, 0, errUnsupportedMediaType(ct, []string{"application/apply-patch+yaml (JSON documents only in kube-sim)"})
		}
		return nil, 0, errBadRequest(fmt.Sprintf("error decoding patch: %v", err))
	}
	s := srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.get(d, rc.ns, rc.name)
	if old == nil {
		if ct == "application/apply-patch+yaml" && rc.sub == "" {
			po, ok := pv.(map[string]interface{})
			if !ok {
				return nil, 0, errBadRequest("apply patch must be an object")
			}
			if e := checkTypeMeta(rc, po); e != nil {
				return nil, 0, e
			}
			md := getMap(po, "metadata")
			if n, _ := md["name"].(string); n != "" && n != rc.name {
				return nil, 0, errBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n, rc.name))
			}
			md["name"] = rc.name
			res, e := srv.createLocked(rc, po)
			return res, 201, e
		}
		return nil, 0, errNotFound(d, rc.name)
	}
	cur := old.parse()
	if d.crd != nil {
		cur["apiVersion"] = d.groupVersion(rc.version)
	}
	var patched obj
	switch ct {
	case "application/merge-patch+json":
		res := mergePatch(cur, pv)
		m, ok := res.(map[string]interface{})
		if !ok {
			return nil, 0, errBadRequest("merge patch result is not an object")
		}
		patched = m
	case "application/json-patch+json":
		ops, ok := pv.([]interface{})
		if !ok {
			return nil, 0, errBadRequest("json patch must be an array of operations")
		}
		res, err := jsonPatch(cur, ops)
		if err != nil {
			return nil, 0, &apiError{code: 422, reason: "Invalid", message: err.Error()}
		}
		m, ok := res.(map[string]interface{})
		if !ok {
			return nil, 0, errBadRequest("json patch result is not an object")
		}
		patched = m
	case "application/strategic-merge-patch+json", "application/apply-patch+yaml":
		pm, ok := pv.(map[string]interface{})
		if !ok {
			return nil, 0, errBadRequest("patch must be a JSON object")
		}
		if ct == "application/apply-patch+yaml" {
			// Server-side apply approximation: no field ownership, the
			// applied configuration is merged into the live object.
			if md := getMap(pm, "metadata"); md != nil {
				delete(md, "managedFields")
			}
			if av, _ := pm["apiVersion"].(string); av == "" || pm["kind"] == nil {
				return nil, 0, errBadRequest("apiVersion and kind must be set in an apply patch")
			}
		}
		if d.Strategic {
			res, err := strategicMerge(cur, pm, patchMetaFor(d.Kind))
			if err != nil {
				return nil, 0, &apiError{code: 422, reason: "Invalid", message: err.Error()}
			}
			patched = res
		} else {
			patched, _ = mergePatch(cur, stripDirectives(pm)).(map[string]interface{})
		}
	}
	if e := checkTypeMeta(rc, patched); e != nil {
		return nil, 0, e
	}
	md := getMap(patched, "metadata")
	if n, _ := md["name"].(string); n != rc.name {
		return nil, 0, errBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", n, rc.name))
	}
	res, e := srv.updateLocked(rc, patched, old)
	return res, 200, e
}

// deleteOptions captures the bits of metav1.DeleteOptions we honour.
type deleteOptions struct {
	uid, rv string
}

func parseDeleteOptions(o obj) deleteOptions {
	var do deleteOptions
	if p := getMap(o, "preconditions"); p != nil {
		do.uid, _ = p["uid"].(string)
		do.rv, _ = p["resourceVersion"].(string)
	}
	return do
}

func (srv *Server) delete(rc *reqCtx, opts obj) (*Object, *apiError) {
	if opts != nil {
		if k, _ := opts["kind"].(string); k != "" && k != "DeleteOptions" {
			return nil, errBadRequest(fmt.Sprintf("the body of the request was of kind %s, expected DeleteOptions", k))
		}
		for _, v := range getSlice(opts, "dryRun") {
			if v != "All" {
				return nil, errBadRequest(fmt.Sprintf("dryRun: Unsupported value: %q", v))
			}
			rc.dryRun = true
		}
	}
	do := parseDeleteOptions(opts)
	s := srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	d := rc.def
	old := s.get(d, rc.ns, rc.name)
	if old == nil {
		return nil, errNotFound(d, rc.name)
	}
	if do.uid != "" && do.uid != old.UID {
		return nil, errConflict(d, rc.name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", do.uid, old.UID))
	}
	if do.rv != "" && do.rv != strconv.FormatUint(old.RV, 10) {
		return nil, errConflict(d, rc.name, fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %d", do.rv, old.RV))
	}
	if d.Resource == "namespaces" && d.Group == "" && protectedNamespaces[rc.name] {
		return nil, errForbidden(d, rc.name, "this namespace may not be deleted")
	}
	if rc.dryRun {
		return old, nil
	}
	return srv.deleteObjectLocked(d, old), nil
}

var protectedNamespaces = map[string]bool{"default": true, "kube-system": true, "kube-public": true}

// deleteObjectLocked deletes an object, or marks it for deletion when
// finalizers (or a namespace/CRD cascade) must run first.
func (srv *Server) deleteObjectLocked(d *ResourceDef, old *Object) *Object {
	s := srv.store
	cascade := (d.Group == "" && d.Resource == "namespaces") || (d.crd == nil && d.Resource == "customresourcedefinitions")
	if old.Finalizers == 0 && !cascade {
		return srv.removeLocked(d, old, nil)
	}
	cur := old
	if !old.Deleting {
		n := old.parse()
		nmd := getMap(n, "metadata")
		nmd["deletionTimestamp"] = nowRFC3339()
		nmd["deletionGracePeriodSeconds"] = int64(0)
		if d.Group == "" && d.Resource == "namespaces" {
			setPath(n, "Terminating", "status", "phase")
		}
		if cascade && d.Resource == "customresourcedefinitions" {
			setCRDCondition(n, "Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress")
		}
		cur = s.commit(d, "MODIFIED", n, old)
	}
	if cascade {
		if d.Resource == "namespaces" {
			srv.cascadeNamespace(cur.Name)
		} else {
			srv.cascadeCRD(cur)
		}
		if now := s.get(d, cur.Namespace, cur.Name); now != nil {
			return now
		}
		return cur
	}
	return cur
}

// blockedDeletion reports whether an object whose finalizers are gone must
// still wait (namespaces with content, CRDs with instances).
func (srv *Server) blockedDeletion(d *ResourceDef, o obj) bool {
	s := srv.store
	if d.Group == "" && d.Resource == "namespaces" {
		return s.nsCount[getString(o, "metadata", "name")] > 0
	}
	if d.crd == nil && d.Resource == "customresourcedefinitions" {
		if cd := srv.crdResource(o); cd != nil {
			return s.count(cd.gr()) > 0
		}
	}
	return false
}

// removeLocked removes an object for good (DELETED event).
func (srv *Server) removeLocked(d *ResourceDef, old *Object, final obj) *Object {
	s := srv.store
	if final == nil {
		final = finalState(old)
	}
	res := s.commit(d, "DELETED", final, old)
	if d.release != nil {
		d.release(s, old.parse())
	}
	srv.afterCommit(d, "DELETED", res)
	if d.Namespaced {
		srv.checkNamespaceDone(old.Namespace)
	}
	if d.crd != nil {
		srv.checkCRDDone(d)
	}
	return res
}

func (srv *Server) cascadeNamespace(ns string) {
	s := srv.store
	for gr, rs := range s.data {
		d := s.reg.get(gr)
		if d == nil || !d.Namespaced {
			continue
		}
		var victims []*Object
		for _, o := range rs.objects {
			if o.Namespace == ns {
				victims = append(victims, o)
			}
		}
		for _, o := range victims {
			if cur := s.get(d, o.Namespace, o.Name); cur != nil && !cur.Deleting {
				srv.deleteObjectLocked(d, cur)
			}
		}
	}
	srv.checkNamespaceDone(ns)
}

func (srv *Server) checkNamespaceDone(ns string) {
	s := srv.store
	nsd := s.reg.get(nsGR)
	o := s.get(nsd, "", ns)
	if o == nil || !o.Deleting {
		return
	}
	if s.nsCount[ns] > 0 || o.Finalizers > 0 {
		return
	}
	final := o.parse()
	setPath(final, []interface{}{}, "spec", "finalizers")
	srv.removeLocked(nsd, o, final)
}

func (srv *Server) serveDeleteCollection(w http.ResponseWriter, r *http.Request, rc *reqCtx, q url.Values) {
	d := rc.def
	sel, e := parseSelection(d, rc.ns, q)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	body, e := readBody(r)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	if len(body) > 0 {
		var o obj
		var err error
		if isProtobuf(mediaType(r.Header.Get("Content-Type"))) {
			o, err = decodeK8sProtobuf(body)
		} else {
			o, err = decodeObject(body)
		}
		if err != nil {
			writeAPIError(w, errBadRequest("the body of the request could not be decoded as DeleteOptions"))
			return
		}
		if len(getSlice(o, "dryRun")) > 0 {
			rc.dryRun = true
		}
	}
	s := srv.store
	s.mu.Lock()
	var deleted []json.RawMessage
	if rs := s.data[d.gr()]; rs != nil {
		m := sel.matcher(d)
		var victims []*Object
		for _, k := range rs.keys() {
			o := rs.objects[k]
			if rc.ns != "" && o.Namespace != rc.ns {
				continue
			}
			if m == nil || m(o) {
				victims = append(victims, o)
			}
		}
		for _, o := range victims {
			if d.Group == "" && d.Resource == "namespaces" && protectedNamespaces[o.Name] {
				continue
			}
			res := o
			if !rc.dryRun {
				if cur := s.get(d, o.Namespace, o.Name); cur != nil {
					res = srv.deleteObjectLocked(d, cur)
				}
			}
			deleted = append(deleted, listItem(d, rc.version, res))
		}
	}
	rv := s.rv
	s.mu.Unlock()
	if deleted == nil {
		deleted = []json.RawMessage{}
	}
	writeJSON(w, 200, mustJSON(obj{"kind": d.ListKind, "apiVersion": d.groupVersion(rc.version),
		"metadata": obj{"resourceVersion": strconv.FormatUint(rv, 10)}, "items": deleted}))
}
