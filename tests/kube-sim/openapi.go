package main

import (
	"crypto/sha512"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"unicode"
)

// openapiCache keeps rendered OpenAPI v3 documents until the set of
// resources changes.
type openapiCache struct {
	mu   sync.Mutex
	gen  uint64
	docs map[string][]byte // "api/v1", "apis/group/version"
	root []byte
}

func (c *openapiCache) invalidate() {
	c.mu.Lock()
	c.docs = nil
	c.root = nil
	c.mu.Unlock()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// groupTag renders "apiextensions.k8s.io" as "Apiextensions".
func groupTag(g string) string {
	if g == "" {
		return "Core"
	}
	parts := strings.Split(g, ".")
	out := ""
	for _, p := range strings.Split(parts[0], "-") {
		out += upperFirst(p)
	}
	return out
}

func schemaName(d *ResourceDef, v string) string {
	if d.crd != nil {
		parts := strings.Split(d.Group, ".")
		for i, j := 0, len(parts)-1; i < j; i, j = i+1, j-1 {
			parts[i], parts[j] = parts[j], parts[i]
		}
		return strings.Join(parts, ".") + "." + v + "." + d.Kind
	}
	g := d.Group
	switch {
	case g == "":
		g = "core"
	case strings.HasSuffix(g, ".k8s.io"):
		g = strings.TrimSuffix(g, ".k8s.io")
	}
	if g == "apiextensions" {
		return "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions." + v + "." + d.Kind
	}
	return "io.k8s.api." + g + "." + v + "." + d.Kind
}

var writeParams = []interface{}{
	obj{"name": "dryRun", "in": "query", "description": "When present, indicates that modifications should not be persisted.", "schema": obj{"type": "string", "uniqueItems": true}},
	obj{"name": "fieldManager", "in": "query", "description": "fieldManager is a name associated with the actor or entity that is making these changes.", "schema": obj{"type": "string", "uniqueItems": true}},
	obj{"name": "fieldValidation", "in": "query", "description": "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.", "schema": obj{"type": "string", "uniqueItems": true}},
}

// openapiDoc renders a minimal but well-formed OpenAPI v3 document for one
// group/version. It declares every operation with its GVK and the write
// parameters, which is what kubectl inspects (server-side field validation
// support). It deliberately does not offer strategic-merge-patch in the
// request bodies so that kubectl computes strategic patches from its
// compiled-in types.
func openapiDoc(reg *Registry, group, version string) obj {
	paths := obj{}
	schemas := obj{
		"io.k8s.apimachinery.pkg.apis.meta.v1.Patch":         obj{"type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body."},
		"io.k8s.apimachinery.pkg.apis.meta.v1.Status":        obj{"type": "object", "description": "Status is a return value for calls that don't return other objects."},
		"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions": obj{"type": "object", "description": "DeleteOptions may be provided when deleting an API object."},
		"io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent":    obj{"type": "object", "description": "Event represents a single event to a watched resource."},
	}
	prefix := "/api/" + version
	if group != "" {
		prefix = "/apis/" + group + "/" + version
	}
	tag := strings.ToLower(groupTag(group)) + "_" + version
	for _, d := range reg.resourcesIn(group, version) {
		gvk := obj{"group": d.Group, "version": version, "kind": d.Kind}
		sn := schemaName(d, version)
		ref := obj{"$ref": "#/components/schemas/" + sn}
		var schema obj
		if d.crd != nil {
			if cv := d.crd.versions[version]; cv != nil && cv.schema != nil {
				schema = deepCopyMap(cv.schema)
			}
		}
		if schema == nil {
			schema = obj{"type": "object"}
		}
		schema["x-kubernetes-group-version-kind"] = []interface{}{gvk}
		schemas[sn] = schema
		schemas[sn+"List"] = obj{"type": "object", "x-kubernetes-group-version-kind": []interface{}{obj{"group": d.Group, "version": version, "kind": d.ListKind}}}
		resp := func(r obj) obj {
			return obj{"200": obj{"description": "OK", "content": obj{"application/json": obj{"schema": r}}},
				"401": obj{"description": "Unauthorized"}}
		}
		scope := ""
		if d.Namespaced {
			scope = "Namespaced"
		}
		op := func(action, verb string, r obj) obj {
			o := obj{
				"tags":                            []interface{}{tag},
				"operationId":                     verb + groupTag(group) + upperFirst(version) + scope + d.Kind,
				"responses":                       resp(r),
				"x-kubernetes-action":             action,
				"x-kubernetes-group-version-kind": gvk,
			}
			return o
		}
		patchBody := obj{"content": obj{
			"application/json-patch+json":  obj{"schema": obj{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
			"application/merge-patch+json": obj{"schema": obj{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
			"application/apply-patch+yaml": obj{"schema": obj{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"}},
		}, "required": true}
		bodyOf := obj{"content": obj{"*/*": obj{"schema": ref}}, "required": true}
		collPath := prefix + "/" + d.Resource
		itemPath := collPath + "/{name}"
		if d.Namespaced {
			collPath = prefix + "/namespaces/{namespace}/" + d.Resource
			itemPath = collPath + "/{name}"
			paths[prefix+"/"+d.Resource] = obj{"get": op("list", "list", obj{"$ref": "#/components/schemas/" + sn + "List"})}
		}
		post := op("post", "create", ref)
		post["parameters"] = writeParams
		post["requestBody"] = bodyOf
		put := op("put", "replace", ref)
		put["parameters"] = writeParams
		put["requestBody"] = bodyOf
		patch := op("patch", "patch", ref)
		patch["parameters"] = append(append([]interface{}{}, writeParams...),
			obj{"name": "force", "in": "query", "schema": obj{"type": "boolean", "uniqueItems": true}})
		patch["requestBody"] = patchBody
		paths[collPath] = obj{
			"get":    op("list", "list", obj{"$ref": "#/components/schemas/" + sn + "List"}),
			"post":   post,
			"delete": op("deletecollection", "deletecollection", obj{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"}),
		}
		paths[itemPath] = obj{
			"get":    op("get", "read", ref),
			"put":    put,
			"patch":  patch,
			"delete": op("delete", "delete", obj{"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status"}),
		}
		if d.hasStatus(version) {
			sput := op("put", "replace", ref)
			sput["operationId"] = "replace" + groupTag(group) + upperFirst(version) + scope + d.Kind + "Status"
			sput["parameters"] = writeParams
			sput["requestBody"] = bodyOf
			spatch := op("patch", "patch", ref)
			spatch["operationId"] = "patch" + groupTag(group) + upperFirst(version) + scope + d.Kind + "Status"
			spatch["parameters"] = patch["parameters"]
			spatch["requestBody"] = patchBody
			paths[itemPath+"/status"] = obj{"get": op("get", "read", ref), "put": sput, "patch": spatch}
		}
	}
	return obj{
		"openapi":    "3.0.0",
		"info":       obj{"title": "Kubernetes", "version": "v1.32.4"},
		"paths":      paths,
		"components": obj{"schemas": schemas},
	}
}

func (srv *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request, segs []string) {
	if len(segs) == 0 || segs[0] != "v3" {
		// Only OpenAPI v3 is served; kubectl prefers it and tolerates the
		// absence of v2.
		writeAPIError(w, errPathNotFound())
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeAPIError(w, errMethodNotAllowed())
		return
	}
	s := srv.store
	c := &srv.openapiCache
	s.mu.RLock()
	gen := s.reg.gen
	c.mu.Lock()
	if c.docs == nil || c.gen != gen {
		c.docs = map[string][]byte{}
		c.gen = gen
		root := obj{}
		add := func(key, group, version string) {
			b := mustJSON(openapiDoc(s.reg, group, version))
			c.docs[key] = b
			h := sha512.Sum512(b)
			root[key] = obj{"serverRelativeURL": "/openapi/v3/" + key + "?hash=" + strings.ToUpper(hex.EncodeToString(h[:]))}
		}
		add("api/v1", "", "v1")
		for _, g := range s.reg.groups() {
			for _, v := range s.reg.groupVersions(g) {
				add("apis/"+g+"/"+v, g, v)
			}
		}
		c.root = mustJSON(obj{"paths": root})
	}
	var body []byte
	if len(segs) == 1 {
		body = c.root
	} else {
		body = c.docs[strings.Join(segs[1:], "/")]
	}
	c.mu.Unlock()
	s.mu.RUnlock()
	if body == nil {
		writeAPIError(w, errPathNotFound())
		return
	}
	if r.URL.Query().Get("hash") != "" {
		w.Header().Set("Cache-Control", "public, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache, private")
	}
	writeJSON(w, 200, body)
}
