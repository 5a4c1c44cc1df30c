package main

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Server is the HTTP front end of the simulator.
type Server struct {
	store            *Store
	token            string
	faults           *faults
	bookmarkInterval time.Duration
	serverAddr       string // host:port advertised in /api
	logRequests      bool
	requests         uint64
	openapiCache     openapiCache
}

const maxBodyBytes = 3 * 1024 * 1024

type outputMode int

const (
	outPlain outputMode = iota
	outTable
	outPOM // PartialObjectMetadata / PartialObjectMetadataList
)

type outputFormat struct {
	mode         outputMode
	tableVersion string
}

// negotiate picks the first acceptable media type from an Accept header.
func negotiate(accept string) (outputFormat, bool) {
	if strings.TrimSpace(accept) == "" {
		return outputFormat{}, true
	}
	for _, part := range strings.Split(accept, ",") {
		fields := strings.Split(part, ";")
		mt := strings.ToLower(strings.TrimSpace(fields[0]))
		params := map[string]string{}
		for _, p := range fields[1:] {
			if i := strings.IndexByte(p, '='); i > 0 {
				params[strings.TrimSpace(p[:i])] = strings.Trim(strings.TrimSpace(p[i+1:]), `"`)
			}
		}
		if mt != "application/json" && mt != "*/*" && mt != "application/*" {
			continue
		}
		switch params["as"] {
		case "":
			return outputFormat{}, true
		case "Table":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				return outputFormat{mode: outTable, tableVersion: params["v"]}, true
			}
		case "PartialObjectMetadata", "PartialObjectMetadataList":
			if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
				return outputFormat{mode: outPOM, tableVersion: params["v"]}, true
			}
		}
	}
	return outputFormat{}, false
}

func (srv *Server) authOK(r *http.Request) bool {
	// A client certificate the TLS handshake verified against the CA
	// authenticates the request (kube-apiserver's x509 authenticator).
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return true
	}
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	tok := strings.TrimSpace(h[7:])
	return subtle.ConstantTimeCompare([]byte(tok), []byte(srv.token)) == 1
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(c int) {
	s.code = c
	s.ResponseWriter.WriteHeader(c)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (srv *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	atomic.AddUint64(&srv.requests, 1)
	if srv.logRequests {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		w = rec
		defer func() {
			log.Printf("%s %s %s -> %d (%s)", r.Proto, r.Method, r.URL.RequestURI(), rec.code, time.Since(start).Round(time.Microsecond))
		}()
	}
	path := r.URL.Path
	switch path {
	case "/healthz", "/livez", "/readyz":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, "ok")
		return
	}
	if !srv.authOK(r) {
		writeAPIError(w, errUnauthorized())
		return
	}
	if strings.HasPrefix(path, "/sim/") {
		srv.serveSim(w, r)
		return
	}
	if e := srv.faults.apply(r); e != nil {
		writeAPIError(w, e)
		return
	}
	srv.route(w, r)
}

func (srv *Server) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if segs[0] == "" {
		srv.serveRoot(w, r)
		return
	}
	switch segs[0] {
	case "version":
		if len(segs) == 1 {
			srv.serveStatic(w, r, versionInfo())
			return
		}
	case "api":
		switch {
		case len(segs) == 1:
			srv.serveStatic(w, r, srv.store.reg.apiVersions(srv.serverAddr))
			return
		case segs[1] != "v1":
		case len(segs) == 2:
			srv.serveResourceList(w, r, "", "v1")
			return
		default:
			srv.serveResource(w, r, "", "v1", segs[2:])
			return
		}
	case "apis":
		switch len(segs) {
		case 1:
			srv.store.mu.RLock()
			doc := srv.store.reg.apiGroupList()
			srv.store.mu.RUnlock()
			srv.serveStatic(w, r, doc)
			return
		case 2:
			srv.store.mu.RLock()
			g := srv.store.reg.apiGroup(segs[1])
			srv.store.mu.RUnlock()
			if g != nil {
				g["kind"] = "APIGroup"
				g["apiVersion"] = "v1"
				srv.serveStatic(w, r, g)
				return
			}
		case 3:
			srv.serveResourceList(w, r, segs[1], segs[2])
			return
		default:
			srv.serveResource(w, r, segs[1], segs[2], segs[3:])
			return
		}
	case "openapi":
		srv.serveOpenAPI(w, r, segs[1:])
		return
	}
	writeAPIError(w, errPathNotFound())
}

func (srv *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/openapi/v3", "/readyz", "/sim/v1/faults", "/sim/v1/stats", "/version"}
	srv.store.mu.RLock()
	for _, g := range srv.store.reg.groups() {
		paths = append(paths, "/apis/"+g)
		for _, v := range srv.store.reg.groupVersions(g) {
			paths = append(paths, "/apis/"+g+"/"+v)
		}
	}
	srv.store.mu.RUnlock()
	srv.serveStatic(w, r, obj{"paths": strSlice(paths)})
}

func (srv *Server) serveStatic(w http.ResponseWriter, r *http.Request, doc obj) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeAPIError(w, errMethodNotAllowed())
		return
	}
	writeJSON(w, 200, mustJSON(doc))
}

func (srv *Server) serveResourceList(w http.ResponseWriter, r *http.Request, group, version string) {
	srv.store.mu.RLock()
	doc := srv.store.reg.apiResourceList(group, version)
	srv.store.mu.RUnlock()
	if doc == nil {
		writeAPIError(w, errPathNotFound())
		return
	}
	srv.serveStatic(w, r, doc)
}

func versionInfo() obj {
	return obj{
		"major":        "1",
		"minor":        "32",
		"gitVersion":   "v1.32.4",
		"gitCommit":    "0000000000000000000000000000000000000000",
		"gitTreeState": "clean",
		"buildDate":    "2025-01-01T00:00:00Z",
		"goVersion":    "go1.19",
		"compiler":     "gc",
		"platform":     "linux/amd64",
	}
}

// reqCtx describes one resource request.
type reqCtx struct {
	def             *ResourceDef
	version         string
	ns, name, sub   string
	dryRun          bool
	fieldValidation string
	fieldManager    string
	warnings        []string
	out             outputFormat
	strictErr       *apiError // fieldValidation=Strict failure
}

func (rc *reqCtx) warn(msg string) { rc.warnings = append(rc.warnings, msg) }

func (srv *Server) serveResource(w http.ResponseWriter, r *http.Request, group, version string, rest []string) {
	watchPath := false
	if rest[0] == "watch" {
		watchPath = true
		rest = rest[1:]
		if len(rest) == 0 {
			writeAPIError(w, errPathNotFound())
			return
		}
	}
	rc := &reqCtx{version: version}
	var resource string
	if len(rest) >= 3 && rest[0] == "namespaces" &&
		!(group == "" && len(rest) == 3 && (rest[2] == "status" || rest[2] == "finalize")) {
		rc.ns, resource = rest[1], rest[2]
		rest = rest[3:]
		if rc.ns == "" {
			writeAPIError(w, errPathNotFound())
			return
		}
	} else {
		resource = rest[0]
		rest = rest[1:]
	}
	if len(rest) > 2 {
		writeAPIError(w, errPathNotFound())
		return
	}
	if len(rest) > 0 {
		rc.name = rest[0]
	}
	if len(rest) > 1 {
		rc.sub = rest[1]
	}
	srv.store.mu.RLock()
	d := srv.store.reg.lookup(group, version, resource)
	srv.store.mu.RUnlock()
	if d == nil || (rc.ns != "" && !d.Namespaced) {
		writeAPIError(w, errPathNotFound())
		return
	}
	rc.def = d
	if rc.sub != "" {
		ok := (rc.sub == "status" && d.hasStatus(version)) || containsStr(d.ExtraSubresources, rc.sub)
		if !ok || watchPath {
			writeAPIError(w, errPathNotFound())
			return
		}
	}
	q := r.URL.Query()
	out, ok := negotiate(r.Header.Get("Accept"))
	if !ok {
		writeAPIError(w, errNotAcceptable())
		return
	}
	rc.out = out
	if e := parseWriteParams(rc, q); e != nil {
		writeAPIError(w, e)
		return
	}
	isWatch := watchPath || q.Get("watch") == "1" || q.Get("watch") == "true"
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case isWatch:
			if rc.name != "" {
				fs := q.Get("fieldSelector")
				if fs != "" {
					fs += ","
				}
				q.Set("fieldSelector", fs+"metadata.name="+rc.name)
				rc.name = ""
			}
			srv.serveWatch(w, r, rc, q)
		case rc.name == "":
			srv.serveList(w, r, rc, q)
		default:
			srv.serveGet(w, r, rc)
		}
	case http.MethodPost:
		if rc.name != "" || isWatch || (d.Namespaced && rc.ns == "") {
			writeAPIError(w, errMethodNotAllowed())
			return
		}
		srv.serveWrite(w, r, rc, "create")
	case http.MethodPut:
		if rc.name == "" || isWatch {
			writeAPIError(w, errMethodNotAllowed())
			return
		}
		srv.serveWrite(w, r, rc, "update")
	case http.MethodPatch:
		if rc.name == "" || isWatch || rc.sub == "finalize" {
			writeAPIError(w, errMethodNotAllowed())
			return
		}
		srv.serveWrite(w, r, rc, "patch")
	case http.MethodDelete:
		if isWatch || rc.sub != "" {
			writeAPIError(w, errMethodNotAllowed())
			return
		}
		if rc.name == "" {
			if !containsStr(d.Verbs, "deletecollection") {
				writeAPIError(w, errMethodNotAllowed())
				return
			}
			srv.serveDeleteCollection(w, r, rc, q)
			return
		}
		srv.serveWrite(w, r, rc, "delete")
	default:
		writeAPIError(w, errMethodNotAllowed())
	}
}

func parseWriteParams(rc *reqCtx, q map[string][]string) *apiError {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	for _, v := range q["dryRun"] {
		if v != "All" {
			return errBadRequest(fmt.Sprintf("dryRun: Unsupported value: %q: supported values: \"All\"", v))
		}
		rc.dryRun = true
	}
	switch fv := get("fieldValidation"); fv {
	case "", "Ignore", "Warn", "Strict":
		rc.fieldValidation = fv
	default:
		return errBadRequest(fmt.Sprintf("fieldValidation: Unsupported value: %q: supported values: \"Ignore\", \"Warn\", \"Strict\"", fv))
	}
	if rc.fieldValidation == "" {
		rc.fieldValidation = "Warn"
	}
	rc.fieldManager = get("fieldManager")
	if len(rc.fieldManager) > 128 {
		return errBadRequest("fieldManager: Too long: may not be more than 128 bytes")
	}
	return nil
}

func readBody(r *http.Request) ([]byte, *apiError) {
	if n := r.ContentLength; n > maxBodyBytes {
		return nil, errTooLarge()
	} else if n > 0 {
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, errBadRequest("error reading request body: " + err.Error())
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return nil, errBadRequest("error reading request body: " + err.Error())
	}
	if len(b) > maxBodyBytes {
		return nil, errTooLarge()
	}
	return b, nil
}

func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

func setWarnings(w http.ResponseWriter, rc *reqCtx) {
	for _, m := range rc.warnings {
		w.Header().Add("Warning", "299 - "+strconv.Quote(m))
	}
}
