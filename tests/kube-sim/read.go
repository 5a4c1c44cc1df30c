package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// encodeObj returns the JSON of o as seen through the requested version.
// Custom resources are served in every version without conversion (the
// CRD conversion strategy None), so only apiVersion changes.
func encodeObj(d *ResourceDef, version string, o *Object) []byte {
	if !needsRewrite(d, version, o) {
		return o.Raw
	}
	n := o.parse()
	n["apiVersion"] = d.groupVersion(version)
	b, _ := encodeTopObject(n)
	return b
}

// listItem renders an object as an item of a list. Like kube-apiserver,
// items of built-in types carry no apiVersion/kind; custom resources
// (served as unstructured objects) do.
func listItem(d *ResourceDef, version string, o *Object) []byte {
	if d.crd == nil && o.ItemOff > 0 {
		b := make([]byte, 0, len(o.Raw)-o.ItemOff+1)
		b = append(b, '{')
		return append(b, o.Raw[o.ItemOff:]...)
	}
	return encodeObj(d, version, o)
}

func needsRewrite(d *ResourceDef, version string, o *Object) bool {
	return d.crd != nil && o.APIVersion != d.groupVersion(version)
}

func pomObject(tv string, o *Object) obj {
	return obj{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/" + tv, "metadata": getMap(o.parse(), "metadata")}
}

// renderOne renders a single object according to the negotiated format.
func renderOne(rc *reqCtx, o *Object) []byte {
	switch rc.out.mode {
	case outTable:
		return mustJSON(buildTable(rc, []*Object{o}, obj{"resourceVersion": strconv.FormatUint(o.RV, 10)}, "Object"))
	case outPOM:
		return mustJSON(pomObject(rc.out.tableVersion, o))
	}
	return encodeObj(rc.def, rc.version, o)
}

func (srv *Server) serveGet(w http.ResponseWriter, r *http.Request, rc *reqCtx) {
	s := srv.store
	s.mu.RLock()
	o := s.get(rc.def, rc.ns, rc.name)
	s.mu.RUnlock()
	if o == nil {
		writeAPIError(w, errNotFound(rc.def, rc.name))
		return
	}
	if rc.out.mode == outTable {
		writeJSON(w, 200, mustJSON(buildTable(rc, []*Object{o}, obj{"resourceVersion": strconv.FormatUint(o.RV, 10)}, r.URL.Query().Get("includeObject"))))
		return
	}
	writeJSON(w, 200, renderOne(rc, o))
}

// selection is a compiled label + field selector.
type selection struct {
	ns     string
	labels labelSelector
	fields fieldSelector
}

func (sel *selection) empty() bool { return sel.labels.empty() && len(sel.fields) == 0 }

func parseSelection(d *ResourceDef, ns string, q url.Values) (*selection, *apiError) {
	ls, err := parseLabelSelector(q.Get("labelSelector"))
	if err != nil {
		return nil, errBadRequest(err.Error())
	}
	fs, err := parseFieldSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, errBadRequest(err.Error())
	}
	for _, f := range fs {
		if !d.supportsField(f.field) {
			return nil, errBadRequest(fmt.Sprintf("field label not supported: %s", f.field))
		}
	}
	return &selection{ns: ns, labels: ls, fields: fs}, nil
}

func (sel *selection) matcher(d *ResourceDef) func(*Object) bool {
	if sel.empty() {
		return nil
	}
	return func(o *Object) bool {
		if !sel.labels.matches(o.Labels) {
			return false
		}
		if len(sel.fields) > 0 {
			return sel.fields.matches(func(f string) string { return fieldValue(o, f) })
		}
		return true
	}
}

type continueToken struct {
	V     string `json:"v"`
	RV    uint64 `json:"rv"`
	Start string `json:"start"`
}

func encodeContinue(rv uint64, start string) string {
	b, _ := json.Marshal(continueToken{V: "meta.k8s.io/v1", RV: rv, Start: start})
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeContinue(s string) (*continueToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("continue key is not valid: %v", err)
	}
	var t continueToken
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("continue key is not valid: %v", err)
	}
	if t.V != "meta.k8s.io/v1" {
		return nil, fmt.Errorf("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	if t.RV == 0 {
		return nil, fmt.Errorf("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	return &t, nil
}

func parseRV(s string) (uint64, *apiError) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, &apiError{code: 400, reason: "BadRequest", message: fmt.Sprintf("resourceVersion: Invalid value: %q: strconv.ParseUint: parsing %q: invalid syntax", s, s)}
	}
	return v, nil
}

// waitForRV waits (up to 3 s, like the real watch cache) until the store has
// reached resourceVersion rv.
func (s *Store) waitForRV(rv uint64) bool {
	deadline := time.NewTimer(3 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.RLock()
		cur, ch := s.rv, s.rvChanged
		s.mu.RUnlock()
		if cur >= rv {
			return true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return false
		}
	}
}

func tooLargeRV(rv uint64, cur uint64) *apiError {
	e := errTimeout(fmt.Sprintf("Too large resource version: %d, current: %d", rv, cur))
	e.details = obj{"causes": []interface{}{obj{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}}, "retryAfterSeconds": 1}
	return e
}

func (srv *Server) serveList(w http.ResponseWriter, r *http.Request, rc *reqCtx, q url.Values) {
	d := rc.def
	s := srv.store
	sel, e := parseSelection(d, rc.ns, q)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	limit := int64(0)
	if l := q.Get("limit"); l != "" {
		v, err := strconv.ParseInt(l, 10, 64)
		if err != nil || v < 0 {
			writeAPIError(w, errBadRequest(fmt.Sprintf("limit: Invalid value: %q", l)))
			return
		}
		limit = v
	}
	rvParam := q.Get("resourceVersion")
	match := q.Get("resourceVersionMatch")
	cont := q.Get("continue")
	var tok *continueToken
	var atRV uint64 // 0 = current
	switch {
	case cont != "":
		if rvParam != "" && rvParam != "0" {
			writeAPIError(w, errBadRequest("specifying resource version is not allowed when using continue"))
			return
		}
		t, err := decodeContinue(cont)
		if err != nil {
			writeAPIError(w, errBadRequest(err.Error()))
			return
		}
		tok = t
		atRV = t.RV
	case rvParam == "" || rvParam == "0":
		if match != "" && !(rvParam == "0" && match == "NotOlderThan") {
			writeAPIError(w, errBadRequest(fmt.Sprintf("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided")))
			return
		}
		if rvParam == "0" {
			limit = 0 // served from the "watch cache", which ignores limit
		}
	default:
		v, e := parseRV(rvParam)
		if e != nil {
			writeAPIError(w, e)
			return
		}
		switch match {
		case "", "NotOlderThan", "Exact":
		default:
			writeAPIError(w, errBadRequest(fmt.Sprintf("resourceVersionMatch: Unsupported value: %q: supported values: \"Exact\", \"NotOlderThan\"", match)))
			return
		}
		if !s.waitForRV(v) {
			s.mu.RLock()
			cur := s.rv
			s.mu.RUnlock()
			writeAPIError(w, tooLargeRV(v, cur))
			return
		}
		if match == "Exact" {
			atRV = v
		}
	}

	s.mu.RLock()
	listRV := s.rv
	if atRV != 0 {
		if atRV < s.compactedRV {
			cur := s.rv
			s.mu.RUnlock()
			if tok != nil {
				e := errGone("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
				writeAPIError(w, e)
				return
			}
			writeAPIError(w, errGone(fmt.Sprintf("too old resource version: %d (%d)", atRV, cur)))
			return
		}
		listRV = atRV
	}
	rs := s.data[d.gr()]
	var items []*Object
	var next string
	remaining := int64(-1)
	if rs != nil {
		over := s.snapshotAt(d.gr(), listRV)
		keys := listKeys(rs, over)
		startKey := ""
		if tok != nil {
			startKey = tok.Start
		}
		prefix := ""
		if rc.ns != "" {
			prefix = rc.ns + "/"
			if startKey < prefix {
				startKey = prefix
			}
		}
		i := sort.SearchStrings(keys, startKey)
		m := sel.matcher(d)
		for ; i < len(keys); i++ {
			k := keys[i]
			if prefix != "" && !strings.HasPrefix(k, prefix) {
				break
			}
			o, overridden := over[k]
			if !overridden {
				o = rs.objects[k]
			}
			if o == nil || (m != nil && !m(o)) {
				continue
			}
			if limit > 0 && int64(len(items)) == limit {
				// There is at least one more matching object.
				next = encodeContinue(listRV, items[len(items)-1].Key+"\x00")
				if sel.empty() && len(over) == 0 {
					end := len(keys)
					if prefix != "" {
						// keys are "namespace/name": '0' sorts right after '/'
						end = sort.SearchStrings(keys, rc.ns+"0")
					}
					remaining = int64(end - i)
				}
				break
			}
			items = append(items, o)
		}
	}
	s.mu.RUnlock()

	meta := obj{"resourceVersion": strconv.FormatUint(listRV, 10)}
	if next != "" {
		meta["continue"] = next
		if remaining >= 0 {
			meta["remainingItemCount"] = remaining
		}
	}
	switch rc.out.mode {
	case outTable:
		writeJSON(w, 200, mustJSON(buildTable(rc, items, meta, q.Get("includeObject"))))
		return
	case outPOM:
		list := make([]interface{}, len(items))
		for i, o := range items {
			list[i] = pomObject(rc.out.tableVersion, o)
		}
		writeJSON(w, 200, mustJSON(obj{"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/" + rc.out.tableVersion, "metadata": meta, "items": list}))
		return
	}
	var buf bytes.Buffer
	size := 128
	for _, o := range items {
		size += len(o.Raw) + 1
	}
	buf.Grow(size)
	buf.WriteString(`{"kind":`)
	buf.WriteString(strconv.Quote(d.ListKind))
	buf.WriteString(`,"apiVersion":`)
	buf.WriteString(strconv.Quote(d.groupVersion(rc.version)))
	buf.WriteString(`,"metadata":`)
	buf.Write(mustJSON(meta))
	buf.WriteString(`,"items":[`)
	for i, o := range items {
		if i > 0 {
			buf.WriteByte(',')
		}
		if d.crd == nil && o.ItemOff > 0 {
			buf.WriteByte('{')
			buf.Write(o.Raw[o.ItemOff:])
		} else {
			buf.Write(listItem(d, rc.version, o))
		}
	}
	buf.WriteString("]}")
	writeJSON(w, 200, buf.Bytes())
}

// ---- watch ----

func bookmarkLine(d *ResourceDef, version string, rv uint64, initialEnd bool) []byte {
	md := obj{"resourceVersion": strconv.FormatUint(rv, 10), "creationTimestamp": nil}
	if initialEnd {
		md["annotations"] = obj{"k8s.io/initial-events-end": "true"}
	}
	o := obj{"kind": d.Kind, "apiVersion": d.groupVersion(version), "metadata": md}
	return watchLine("BOOKMARK", mustJSON(o))
}

func errorLine(e *apiError) []byte {
	return watchLine("ERROR", mustJSON(e.status()))
}

type watchConn struct {
	rc *reqCtx
	w  http.ResponseWriter
	f  http.Flusher
}

func (wc *watchConn) encode(it watchItem) []byte {
	if it.raw != nil {
		return it.raw
	}
	rc := wc.rc
	o := it.ev.obj
	if rc.out.mode == outPlain && !needsRewrite(rc.def, rc.version, o) {
		if it.typ == it.ev.typ && it.ev.line != nil {
			return it.ev.line
		}
		return watchLine(it.typ, o.Raw)
	}
	return watchLine(it.typ, wc.render(o))
}

func (wc *watchConn) render(o *Object) []byte {
	if wc.rc.out.mode == outTable {
		return mustJSON(buildTable(wc.rc, []*Object{o}, obj{"resourceVersion": strconv.FormatUint(o.RV, 10)}, "Object"))
	}
	return renderOne(wc.rc, o)
}

func (srv *Server) serveWatch(w http.ResponseWriter, r *http.Request, rc *reqCtx, q url.Values) {
	d := rc.def
	s := srv.store
	sel, e := parseSelection(d, rc.ns, q)
	if e != nil {
		writeAPIError(w, e)
		return
	}
	rvParam := q.Get("resourceVersion")
	bookmarks := q.Get("allowWatchBookmarks") == "true" || q.Get("allowWatchBookmarks") == "1"
	sie := q.Get("sendInitialEvents")
	sendInitial := sie == "true" || sie == "1"
	initial := rvParam == "" || rvParam == "0"
	if sie == "false" || sie == "0" {
		initial = false
	}
	if sendInitial {
		initial = true
		if !bookmarks {
			writeAPIError(w, errInvalid("ListOptions", "meta.k8s.io", "", fieldErrs{{typ: "Forbidden", field: "allowWatchBookmarks", detail: "allowWatchBookmarks must be set to true when sendInitialEvents is set"}}))
			return
		}
	}
	var fromRV uint64
	if rvParam != "" && rvParam != "0" {
		v, e := parseRV(rvParam)
		if e != nil {
			writeAPIError(w, e)
			return
		}
		fromRV = v
	}
	timeout := time.Duration(1800+rand.Intn(1800)) * time.Second
	if ts := q.Get("timeoutSeconds"); ts != "" {
		v, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || v < 0 {
			writeAPIError(w, errBadRequest(fmt.Sprintf("timeoutSeconds: Invalid value: %q", ts)))
			return
		}
		if v > 0 {
			timeout = time.Duration(v) * time.Second
		}
	}
	f, ok := w.(http.Flusher)
	if !ok {
		writeAPIError(w, errInternal("streaming unsupported"))
		return
	}
	wc := &watchConn{rc: rc, w: w, f: f}

	if fromRV > 0 && !s.waitForRV(fromRV) {
		// The real watch cache fails before streaming: an HTTP error.
		s.mu.RLock()
		cur := s.rv
		s.mu.RUnlock()
		writeAPIError(w, tooLargeRV(fromRV, cur))
		return
	}
	wt := newWatcher(d, rc.ns, sel.matcher(d))
	var snapshot []*Object
	var startRV uint64
	var gone *apiError

	s.mu.Lock()
	startRV = s.rv
	switch {
	case !initial && fromRV != 0 && fromRV < s.compactedRV:
		gone = errGone(fmt.Sprintf("too old resource version: %d (%d)", fromRV, s.compactedRV+1))
	default:
		if initial {
			if rs := s.data[d.gr()]; rs != nil {
				keys := rs.keys()
				i := 0
				if rc.ns != "" {
					i = sort.SearchStrings(keys, rc.ns+"/")
				}
				for ; i < len(keys); i++ {
					o := rs.objects[keys[i]]
					if rc.ns != "" && o.Namespace != rc.ns {
						break
					}
					if wt.matches(o) {
						snapshot = append(snapshot, o)
					}
				}
			}
		} else if fromRV != 0 {
			for i := s.hist.firstAfter(fromRV); i < s.hist.n; i++ {
				ev := s.hist.at(i)
				if ev.gr != wt.gr {
					continue
				}
				if t := wt.classify(ev); t != "" {
					ev.ensureLine()
					wt.q = append(wt.q, watchItem{typ: t, ev: ev})
				}
			}
		}
		s.addWatcher(wt)
	}
	s.mu.Unlock()

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache, private")
	w.WriteHeader(200)
	if gone != nil {
		_, _ = w.Write(errorLine(gone))
		f.Flush()
		return
	}
	defer s.removeWatcher(wt)
	for _, o := range snapshot {
		if rc.out.mode == outPlain && !needsRewrite(d, rc.version, o) {
			_, _ = w.Write(watchLine("ADDED", o.Raw))
		} else {
			_, _ = w.Write(watchLine("ADDED", wc.render(o)))
		}
	}
	snapshot = nil
	if sendInitial {
		_, _ = w.Write(bookmarkLine(d, rc.version, startRV, true))
	}
	f.Flush()

	var tick <-chan time.Time
	if bookmarks && srv.bookmarkInterval > 0 {
		t := time.NewTicker(srv.bookmarkInterval)
		defer t.Stop()
		tick = t.C
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	ctx := r.Context()
	for {
		select {
		case <-wt.notify:
			if !wc.flushItems(wt.take()) {
				return
			}
		case <-tick:
			s.mu.RLock()
			items := wt.take()
			rv := s.rv
			s.mu.RUnlock()
			items = append(items, watchItem{raw: bookmarkLine(d, rc.version, rv, false)})
			if !wc.flushItems(items) {
				return
			}
		case <-deadline.C:
			wc.flushItems(wt.take())
			return
		case <-wt.done:
			if wt.abort {
				panic(http.ErrAbortHandler)
			}
			return
		case <-ctx.Done():
			return
		}
	}
}

func (wc *watchConn) flushItems(items []watchItem) bool {
	if len(items) == 0 {
		return true
	}
	for _, it := range items {
		if _, err := wc.w.Write(wc.encode(it)); err != nil {
			return false
		}
	}
	wc.f.Flush()
	return true
}
