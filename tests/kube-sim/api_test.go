package main

import (
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

const svcPath = "/api/v1/namespaces/default/services"

func TestServiceDefaultsAndAllocation(t *testing.T) {
	srv := newTestServer(t)
	o := mustCall(t, srv, 201, "POST", svcPath, "application/json",
		`{"apiVersion":"v1","kind":"Service","metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local","ports":[{"name":"a","port":80},{"name":"b","port":443,"protocol":"UDP","targetPort":"https"}]}}`)
	spec := getMap(o, "spec")
	for k, want := range map[string]string{"clusterIP": "203.0.113.130", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
		"externalTrafficPolicy": "Local", "ipFamilyPolicy": "SingleStack"} {
		if got := getString(spec, k); got != want {
			t.Errorf("spec.%s = %q, want %q", k, got, want)
		}
	}
	if spec["allocateLoadBalancerNodePorts"] != true {
		t.Errorf("allocateLoadBalancerNodePorts = %v", spec["allocateLoadBalancerNodePorts"])
	}
	if hc, _ := toInt64(spec["healthCheckNodePort"]); hc < 30000 {
		t.Errorf("healthCheckNodePort = %v", spec["healthCheckNodePort"])
	}
	p0 := getMap(getSlice(spec, "ports")[0])
	if p0["protocol"] != "TCP" || !jsonEqual(p0["targetPort"], int64(80)) {
		t.Errorf("port defaults: %v", p0)
	}
	np0, _ := toInt64(p0["nodePort"])
	np1, _ := toInt64(getMap(getSlice(spec, "ports")[1])["nodePort"])
	if np0 == 0 || np1 == 0 || np0 == np1 {
		t.Errorf("nodePorts %d %d", np0, np1)
	}
	if getMap(o, "status", "loadBalancer") == nil {
		t.Error("status.loadBalancer missing")
	}
	// dual stack
	o = mustCall(t, srv, 201, "POST", svcPath, "application/json",
		`{"metadata":{"name":"ds"},"spec":{"ipFamilyPolicy":"PreferDualStack","ports":[{"port":80}]}}`)
	if ips := getSlice(o, "spec", "clusterIPs"); len(ips) != 2 || !strings.HasPrefix(fmt.Sprint(ips[1]), "2001:db8:c1::") {
		t.Errorf("dual-stack clusterIPs = %v", ips)
	}
	// headless without selector: RequireDualStack
	o = mustCall(t, srv, 201, "POST", svcPath, "application/json", `{"metadata":{"name":"hl"},"spec":{"clusterIP":"None"}}`)
	if getString(o, "spec", "ipFamilyPolicy") != "RequireDualStack" || len(getSlice(o, "spec", "ipFamilies")) != 2 {
		t.Errorf("headless: %v", getMap(o, "spec"))
	}
	// duplicate nodePort -> 422
	_, e := call(t, srv, "POST", svcPath, "application/json",
		fmt.Sprintf(`{"metadata":{"name":"np"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":%d}]}}`, np0))
	if e["reason"] != "Invalid" || !strings.Contains(fmt.Sprint(e["message"]), "provided port is already allocated") {
		t.Errorf("duplicate nodePort: %v", e)
	}
	// Status update defaults ipMode; PUT without allocated values keeps them.
	o = mustCall(t, srv, 200, "PATCH", svcPath+"/lb/status", "application/merge-patch+json",
		`{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.10"}]}}}`)
	if getString(getMap(getSlice(o, "status", "loadBalancer", "ingress")[0]), "ipMode") != "VIP" {
		t.Errorf("ipMode not defaulted: %v", getMap(o, "status"))
	}
	put := `{"apiVersion":"v1","kind":"Service","metadata":{"name":"lb"},"spec":{"type":"LoadBalancer","externalTrafficPolicy":"Local","ports":[{"name":"a","port":80},{"name":"b","port":443,"protocol":"UDP","targetPort":"https"}]}}`
	o2 := mustCall(t, srv, 200, "PUT", svcPath+"/lb", "application/json", put)
	if !jsonEqual(getMap(o2, "spec"), spec) {
		t.Errorf("PUT without allocated values changed spec:\n%s\nvs\n%s", pretty(getMap(o2, "spec")), pretty(spec))
	}
	if rvOf(o2) != rvOf(o) {
		t.Errorf("no-op PUT bumped resourceVersion %s -> %s", rvOf(o), rvOf(o2))
	}
	// Switching to ClusterIP releases node ports; deleting releases the IP.
	o = mustCall(t, srv, 200, "PATCH", svcPath+"/lb", "application/merge-patch+json",
		`{"spec":{"type":"ClusterIP","externalTrafficPolicy":null,"allocateLoadBalancerNodePorts":null}}`)
	if _, has := getMap(getSlice(o, "spec", "ports")[0])["nodePort"]; has || getMap(o, "spec")["healthCheckNodePort"] != nil {
		t.Errorf("node ports not dropped: %s", pretty(getMap(o, "spec")))
	}
	mustCall(t, srv, 201, "POST", svcPath, "application/json",
		fmt.Sprintf(`{"metadata":{"name":"np2"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":%d}]}}`, np0))
}

func TestServiceValidation(t *testing.T) {
	srv := newTestServer(t)
	cases := map[string]string{
		`{"metadata":{"name":"Bad_Name"},"spec":{"ports":[{"port":80}]}}`:                                         "metadata.name",
		`{"metadata":{"name":"a"},"spec":{"ports":[{"port":0}]}}`:                                                 "spec.ports[0].port",
		`{"metadata":{"name":"a"},"spec":{"ports":[{"port":80},{"port":80}]}}`:                                    "spec.ports[1]",
		`{"metadata":{"name":"a"},"spec":{"type":"Bogus","ports":[{"port":80}]}}`:                                 "spec.type",
		`{"metadata":{"name":"a"},"spec":{"loadBalancerIP":"1.2.3","type":"LoadBalancer","ports":[{"port":80}]}}`: "spec.loadBalancerIP",
		`{"metadata":{"name":"a"},"spec":{"externalIPs":["nope"],"ports":[{"port":80}]}}`:                         "spec.externalIPs[0]",
		`{"metadata":{"name":"a"},"spec":{}}`:                                                                     "spec.ports",
		`{"metadata":{"name":"a"},"spec":{"clusterIP":"10.0.0.1","ports":[{"port":80}]}}`:                         "spec.clusterIPs",
		`{"metadata":{"name":"a","labels":{"bad key":"v"}},"spec":{"ports":[{"port":80}]}}`:                       "metadata.labels",
		`{"metadata":{},"spec":{"ports":[{"port":80}]}}`:                                                          "metadata.name",
	}
	for body, field := range cases {
		code, e := call(t, srv, "POST", svcPath, "application/json", body)
		if code != 422 || e["reason"] != "Invalid" {
			t.Errorf("%s: HTTP %d %v", body, code, e)
			continue
		}
		found := false
		for _, c := range getSlice(e, "details", "causes") {
			if getString(c, "field") == field {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no cause for field %s in %v", body, field, e["details"])
		}
	}
	mustCall(t, srv, 201, "POST", svcPath, "application/json", `{"metadata":{"name":"ok"},"spec":{"ports":[{"port":80}]}}`)
	o := mustCall(t, srv, 200, "PATCH", svcPath+"/ok/status", "application/merge-patch+json", `{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.7"}]}}}`)
	code, e := call(t, srv, "PATCH", svcPath+"/ok/status", "application/merge-patch+json", `{"status":{"loadBalancer":{"ingress":[{"ip":"300.1.1.1"}]}}}`)
	if code != 422 || !strings.Contains(fmt.Sprint(e["message"]), "status.loadBalancer.ingress[0].ip") {
		t.Errorf("bad status ip: %d %v", code, e)
	}
	_ = o
}

func TestConflictsAndNotFound(t *testing.T) {
	srv := newTestServer(t)
	cm := "/api/v1/namespaces/default/configmaps"
	o := mustCall(t, srv, 201, "POST", cm, "application/json", `{"metadata":{"name":"c"},"data":{"a":"1"}}`)
	e := mustCall(t, srv, 409, "POST", cm, "application/json", `{"metadata":{"name":"c"}}`)
	if e["reason"] != "AlreadyExists" {
		t.Errorf("duplicate create: %v", e)
	}
	rv := rvOf(o)
	o2 := mustCall(t, srv, 200, "PUT", cm+"/c", "application/json", fmt.Sprintf(`{"metadata":{"name":"c","resourceVersion":%q},"data":{"a":"2"}}`, rv))
	e = mustCall(t, srv, 409, "PUT", cm+"/c", "application/json", fmt.Sprintf(`{"metadata":{"name":"c","resourceVersion":%q},"data":{"a":"3"}}`, rv))
	if e["reason"] != "Conflict" {
		t.Errorf("stale update: %v", e)
	}
	e = mustCall(t, srv, 409, "PATCH", cm+"/c", "application/merge-patch+json", fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"data":{"a":"3"}}`, rv))
	if e["reason"] != "Conflict" {
		t.Errorf("stale patch: %v", e)
	}
	mustCall(t, srv, 200, "PUT", cm+"/c", "application/json", `{"metadata":{"name":"c"},"data":{"a":"4"}}`) // unconditional
	mustCall(t, srv, 404, "GET", cm+"/nope", "", "")
	e = mustCall(t, srv, 404, "POST", "/api/v1/namespaces/nope/configmaps", "application/json", `{"metadata":{"name":"c"}}`)
	if getString(e, "message") != `namespaces "nope" not found` {
		t.Errorf("missing namespace: %v", e)
	}
	mustCall(t, srv, 404, "GET", "/apis/nope.io/v1/things", "", "")
	mustCall(t, srv, 405, "POST", cm+"/c", "application/json", `{}`)
	mustCall(t, srv, 415, "PATCH", "/api/v1/namespaces/default/configmaps/c", "text/plain", `{}`)
	mustCall(t, srv, 409, "DELETE", cm+"/c", "application/json", fmt.Sprintf(`{"preconditions":{"resourceVersion":%q}}`, rvOf(o2)))
	mustCall(t, srv, 200, "DELETE", cm+"/c", "", "")
	mustCall(t, srv, 404, "DELETE", cm+"/c", "", "")
	// generateName
	o = mustCall(t, srv, 201, "POST", cm, "application/json", `{"metadata":{"generateName":"gen-"}}`)
	if n := getString(o, "metadata", "name"); !strings.HasPrefix(n, "gen-") || len(n) != 9 {
		t.Errorf("generateName produced %q", n)
	}
	// auth
	req := httptest.NewRequest("GET", "/api/v1/namespaces", nil)
	req.Header.Set("Authorization", "Bearer wrong")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"reason":"Unauthorized"`) {
		t.Errorf("bad token: %d %s", rec.Code, rec.Body.String())
	}
}

func TestWatchSemantics(t *testing.T) {
	srv := newTestServer(t)
	ts := newHTTPTestServer(t, srv)
	cm := "/api/v1/namespaces/default/configmaps"
	list := mustCall(t, srv, 200, "GET", cm, "", "")
	w := openWatch(t, ts, cm+"?watch=1&labelSelector=sel%3Dyes&allowWatchBookmarks=true&resourceVersion="+rvOf(list))
	all := openWatch(t, ts, cm+"?watch=true") // no resourceVersion: initial ADDED events
	mustCall(t, srv, 201, "POST", cm, "application/json", `{"metadata":{"name":"a","labels":{"sel":"no"}}}`)
	mustCall(t, srv, 200, "PATCH", cm+"/a", "application/merge-patch+json", `{"metadata":{"labels":{"sel":"yes"}}}`)
	mustCall(t, srv, 200, "PATCH", cm+"/a", "application/merge-patch+json", `{"data":{"k":"v"}}`)
	mustCall(t, srv, 200, "PATCH", cm+"/a", "application/merge-patch+json", `{"metadata":{"labels":{"sel":"no"}}}`)
	mustCall(t, srv, 200, "PATCH", cm+"/a", "application/merge-patch+json", `{"metadata":{"labels":{"sel":"yes"}}}`)
	mustCall(t, srv, 200, "DELETE", cm+"/a", "", "")
	var got []string
	for i := 0; i < 5; i++ {
		got = append(got, evSummary(w.next(false)))
	}
	want := "ADDED a,MODIFIED a,DELETED a,ADDED a,DELETED a"
	if strings.Join(got, ",") != want {
		t.Errorf("selector watch: %v, want %s", got, want)
	}
	if ev := w.next(true); ev["type"] != "BOOKMARK" || getString(ev, "object", "metadata", "resourceVersion") == "" {
		t.Errorf("expected a bookmark, got %v", ev)
	} else if len(getMap(ev, "object", "metadata")) > 2 {
		t.Errorf("bookmark carries more than the resourceVersion: %v", ev)
	}
	got = nil
	for i := 0; i < 6; i++ {
		got = append(got, evSummary(all.next(false)))
	}
	if strings.Join(got, ",") != "ADDED a,MODIFIED a,MODIFIED a,MODIFIED a,MODIFIED a,DELETED a" {
		t.Errorf("unfiltered watch: %v", got)
	}
	// too old after compaction
	mustCall(t, srv, 200, "POST", "/sim/v1/faults", "application/json", `{"compact":true}`)
	old := openWatch(t, ts, cm+"?watch=1&resourceVersion="+rvOf(list))
	ev := old.next(false)
	if ev["type"] != "ERROR" || !jsonEqual(getPath(ev, "object", "code"), int64(410)) || getString(ev, "object", "reason") != "Expired" {
		t.Errorf("expected 410 ERROR event, got %v", ev)
	}
	// dropped watches end cleanly
	mustCall(t, srv, 200, "POST", "/sim/v1/faults", "application/json", `{"dropWatches":true}`)
	if ev := w.next(false); ev != nil {
		t.Errorf("expected the watch to end, got %v", ev)
	}
	// timeoutSeconds
	start := time.Now()
	tw := openWatch(t, ts, cm+"?watch=1&timeoutSeconds=1")
	if ev := tw.next(false); ev != nil || time.Since(start) > 3*time.Second {
		t.Errorf("timeoutSeconds: %v after %v", ev, time.Since(start))
	}
}

func TestListPaginationIsConsistent(t *testing.T) {
	srv := newTestServer(t)
	cm := "/api/v1/namespaces/default/configmaps"
	for i := 0; i < 10; i++ {
		mustCall(t, srv, 201, "POST", cm, "application/json", fmt.Sprintf(`{"metadata":{"name":"c%02d","labels":{"odd":"%v"}}}`, i, i%2 == 1))
	}
	p1 := mustCall(t, srv, 200, "GET", cm+"?limit=4", "", "")
	if len(getSlice(p1, "items")) != 4 || getString(p1, "metadata", "continue") == "" {
		t.Fatalf("page 1: %v", p1["metadata"])
	}
	if n, _ := toInt64(getPath(p1, "metadata", "remainingItemCount")); n != 6 {
		t.Errorf("remainingItemCount = %v", getPath(p1, "metadata", "remainingItemCount"))
	}
	// Changes after the first page must not show up in the next pages.
	mustCall(t, srv, 200, "DELETE", cm+"/c05", "", "")
	mustCall(t, srv, 201, "POST", cm, "application/json", `{"metadata":{"name":"c06a"}}`)
	mustCall(t, srv, 200, "PATCH", cm+"/c07", "application/merge-patch+json", `{"data":{"x":"y"}}`)
	var names []string
	for _, it := range getSlice(p1, "items") {
		names = append(names, getString(it, "metadata", "name"))
	}
	cont := getString(p1, "metadata", "continue")
	for cont != "" {
		p := mustCall(t, srv, 200, "GET", cm+"?limit=4&continue="+cont, "", "")
		if rvOf(p) != rvOf(p1) {
			t.Errorf("page resourceVersion %s != %s", rvOf(p), rvOf(p1))
		}
		for _, it := range getSlice(p, "items") {
			names = append(names, getString(it, "metadata", "name"))
			if getString(it, "metadata", "name") == "c07" && getMap(it, "data") != nil {
				t.Error("c07 shows a change made after the list started")
			}
		}
		cont = getString(p, "metadata", "continue")
	}
	if strings.Join(names, ",") != "c00,c01,c02,c03,c04,c05,c06,c07,c08,c09" {
		t.Errorf("paged names %v", names)
	}
	sel := mustCall(t, srv, 200, "GET", cm+"?labelSelector=odd%3Dtrue&fieldSelector=metadata.name!%3Dc01", "", "")
	if n := len(getSlice(sel, "items")); n != 3 {
		t.Errorf("selector list returned %d items", n)
	}
	mustCall(t, srv, 400, "GET", cm+"?fieldSelector=spec.bogus%3Dx", "", "")
	mustCall(t, srv, 200, "POST", "/sim/v1/faults", "application/json", `{"compact":true}`)
	e := mustCall(t, srv, 410, "GET", cm+"?limit=4&continue="+getString(p1, "metadata", "continue"), "", "")
	if e["reason"] != "Expired" {
		t.Errorf("expired continue: %v", e)
	}
}

func TestFinalizersAndNamespaceDeletion(t *testing.T) {
	srv := newTestServer(t)
	mustCall(t, srv, 201, "POST", "/api/v1/namespaces", "application/json", `{"metadata":{"name":"ns1"}}`)
	cm := "/api/v1/namespaces/ns1/configmaps"
	mustCall(t, srv, 201, "POST", cm, "application/json", `{"metadata":{"name":"f","finalizers":["example.com/hold"]}}`)
	mustCall(t, srv, 201, "POST", cm, "application/json", `{"metadata":{"name":"plain"}}`)
	o := mustCall(t, srv, 200, "DELETE", cm+"/f", "", "")
	if getString(o, "metadata", "deletionTimestamp") == "" {
		t.Error("deletionTimestamp not set")
	}
	mustCall(t, srv, 200, "GET", cm+"/f", "", "")
	mustCall(t, srv, 422, "PATCH", cm+"/f", "application/merge-patch+json", `{"metadata":{"finalizers":["example.com/hold","example.com/new"]}}`)
	ns := mustCall(t, srv, 200, "DELETE", "/api/v1/namespaces/ns1", "", "")
	if getString(ns, "status", "phase") != "Terminating" {
		t.Errorf("namespace phase %v", getMap(ns, "status"))
	}
	mustCall(t, srv, 404, "GET", cm+"/plain", "", "")
	mustCall(t, srv, 403, "POST", cm, "application/json", `{"metadata":{"name":"late"}}`)
	mustCall(t, srv, 200, "GET", "/api/v1/namespaces/ns1", "", "")
	mustCall(t, srv, 200, "PATCH", cm+"/f", "application/merge-patch+json", `{"metadata":{"finalizers":null}}`)
	mustCall(t, srv, 404, "GET", cm+"/f", "", "")
	mustCall(t, srv, 404, "GET", "/api/v1/namespaces/ns1", "", "")
	mustCall(t, srv, 403, "DELETE", "/api/v1/namespaces/default", "", "")
}

const testCRD = `{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
 "metadata":{"name":"ipaddresspools.ironlb.io"},
 "spec":{"group":"ironlb.io","scope":"Namespaced","names":{"kind":"IPAddressPool","plural":"ipaddresspools","shortNames":["ipp"]},
  "versions":[{"name":"v1beta1","served":true,"storage":true,"subresources":{"status":{}},
   "additionalPrinterColumns":[{"name":"Auto","type":"boolean","jsonPath":".spec.autoAssign"}],
   "schema":{"openAPIV3Schema":{"type":"object","properties":{
     "spec":{"type":"object","required":["addresses"],"properties":{"addresses":{"type":"array","items":{"type":"string"}},
       "autoAssign":{"type":"boolean","default":true},"mode":{"type":"string","enum":["a","b"]},"n":{"type":"integer","minimum":1}}},
     "status":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}}}]}}`

func TestCRDLifecycle(t *testing.T) {
	srv := newTestServer(t)
	crd := mustCall(t, srv, 201, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", testCRD)
	established := false
	for _, c := range getSlice(crd, "status", "conditions") {
		if getString(c, "type") == "Established" && getString(c, "status") == "True" {
			established = true
		}
	}
	if !established {
		t.Errorf("CRD not established: %v", crd["status"])
	}
	rl := mustCall(t, srv, 200, "GET", "/apis/ironlb.io/v1beta1", "", "")
	if !strings.Contains(pretty(rl), "ipaddresspools/status") {
		t.Errorf("discovery: %s", pretty(rl))
	}
	base := "/apis/ironlb.io/v1beta1/namespaces/default/ipaddresspools"
	o := mustCall(t, srv, 201, "POST", base+"?fieldValidation=Ignore", "application/json",
		`{"apiVersion":"ironlb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"p"},"spec":{"addresses":["198.51.100.0/24"],"junk":1},"status":{"x":1}}`)
	if getPath(o, "spec", "autoAssign") != true || getPath(o, "spec", "junk") != nil || o["status"] != nil {
		t.Errorf("defaulting/pruning/status: %s", pretty(o))
	}
	e := mustCall(t, srv, 400, "POST", base+"?fieldValidation=Strict", "application/json",
		`{"apiVersion":"ironlb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"q"},"spec":{"addresses":[],"junk":1}}`)
	if !strings.Contains(getString(e, "message"), `unknown field "spec.junk"`) {
		t.Errorf("strict: %v", e)
	}
	for body, field := range map[string]string{
		`{"metadata":{"name":"r"},"spec":{"addresses":"x"}}`:           "spec.addresses",
		`{"metadata":{"name":"r"},"spec":{}}`:                          "spec.addresses",
		`{"metadata":{"name":"r"},"spec":{"addresses":[],"mode":"c"}}`: "spec.mode",
		`{"metadata":{"name":"r"},"spec":{"addresses":[],"n":0}}`:      "spec.n",
	} {
		e := mustCall(t, srv, 422, "POST", base, "application/json", body)
		if !strings.Contains(getString(e, "message"), field) {
			t.Errorf("%s: %v", body, e)
		}
	}
	mustCall(t, srv, 415, "PATCH", base+"/p", "application/strategic-merge-patch+json", `{"spec":{}}`)
	gen := getPath(o, "metadata", "generation")
	s := mustCall(t, srv, 200, "PATCH", base+"/p/status", "application/merge-patch+json", `{"status":{"used":3},"spec":{"addresses":["192.0.2.0/24"]}}`)
	if !jsonEqual(getPath(s, "status", "used"), int64(3)) || fmt.Sprint(getSlice(s, "spec", "addresses")) != "[198.51.100.0/24]" || !jsonEqual(getPath(s, "metadata", "generation"), gen) {
		t.Errorf("status subresource isolation: %s", pretty(s))
	}
	m := mustCall(t, srv, 200, "PATCH", base+"/p", "application/merge-patch+json", `{"status":{"used":9},"spec":{"autoAssign":false}}`)
	if !jsonEqual(getPath(m, "status", "used"), int64(3)) || !jsonEqual(getPath(m, "metadata", "generation"), int64(2)) {
		t.Errorf("main resource isolation / generation: %s", pretty(m))
	}
	req := httptest.NewRequest("GET", base, nil)
	req.Header.Set("Authorization", "Bearer t0k")
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if !strings.Contains(rec.Body.String(), `"Auto"`) || !strings.Contains(rec.Body.String(), `"cells":["p",false]`) {
		t.Errorf("table: %s", rec.Body.String())
	}
	mustCall(t, srv, 200, "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ipaddresspools.ironlb.io", "", "")
	mustCall(t, srv, 404, "GET", base, "", "")
	mustCall(t, srv, 404, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/ipaddresspools.ironlb.io", "", "")
}

func TestLeaseAndEvent(t *testing.T) {
	srv := newTestServer(t)
	lp := "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
	mustCall(t, srv, 201, "PUT", lp+"/node-a", "application/json",
		`{"metadata":{"name":"node-a"},"spec":{"holderIdentity":"node-a","leaseDurationSeconds":40,"renewTime":"2025-01-01T00:00:00.123456Z","leaseTransitions":0}}`)
	mustCall(t, srv, 422, "PUT", lp+"/node-a", "application/json",
		`{"metadata":{"name":"node-a"},"spec":{"holderIdentity":"node-a","renewTime":"yesterday"}}`)
	ep := "/api/v1/namespaces/default/events"
	mustCall(t, srv, 201, "POST", ep, "application/json",
		`{"metadata":{"name":"e1"},"involvedObject":{"kind":"Service","name":"web","namespace":"default"},"reason":"IPAllocated","type":"Normal","count":1}`)
	l := mustCall(t, srv, 200, "GET", ep+"?fieldSelector=involvedObject.kind%3DService,involvedObject.name%3Dweb,reason%3DIPAllocated", "", "")
	if len(getSlice(l, "items")) != 1 {
		t.Errorf("event field selector: %v", l)
	}
	mustCall(t, srv, 422, "POST", ep, "application/json", `{"metadata":{"name":"e2"},"involvedObject":{"namespace":"other"}}`)
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	srv := newTestServer(t)
	p := newPersister(path, srv, time.Millisecond)
	p.token = "t0k"
	srv.store.onChange = p.changed
	mustCall(t, srv, 201, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", "application/json", testCRD)
	mustCall(t, srv, 201, "POST", "/apis/ironlb.io/v1beta1/namespaces/default/ipaddresspools", "application/json", `{"metadata":{"name":"p"},"spec":{"addresses":["198.51.100.0/24"]}}`)
	svc := mustCall(t, srv, 201, "POST", svcPath, "application/json", `{"metadata":{"name":"s"},"spec":{"type":"NodePort","ports":[{"port":80}]}}`)
	if err := p.flush(); err != nil {
		t.Fatal(err)
	}
	st, err := loadState(path)
	if err != nil || st == nil {
		t.Fatalf("load: %v", err)
	}
	alloc, _ := newAllocators("203.0.113.128/25,2001:db8:c1::/112", "30000-32767")
	srv2 := &Server{store: newStore(newRegistry(), 100, alloc), faults: newFaults(), token: "t0k"}
	if err := srv2.restore(st); err != nil {
		t.Fatal(err)
	}
	if srv2.store.rv != srv.store.rv {
		t.Errorf("rv %d != %d", srv2.store.rv, srv.store.rv)
	}
	mustCall(t, srv2, 200, "GET", "/apis/ironlb.io/v1beta1/namespaces/default/ipaddresspools/p", "", "")
	np := getMap(getSlice(svc, "spec", "ports")[0])["nodePort"]
	code, _ := call(t, srv2, "POST", svcPath, "application/json", fmt.Sprintf(`{"metadata":{"name":"t"},"spec":{"type":"NodePort","ports":[{"port":80,"nodePort":%v}]}}`, np))
	if code != 422 {
		t.Errorf("restored allocations not enforced: HTTP %d", code)
	}
	o := mustCall(t, srv2, 201, "POST", svcPath, "application/json", `{"metadata":{"name":"u"},"spec":{"ports":[{"port":80}]}}`)
	if n, _ := strconv.Atoi(rvOf(o)); uint64(n) <= srv.store.rv {
		t.Errorf("resourceVersion went backwards: %d", n)
	}
	if getString(o, "spec", "clusterIP") == getString(svc, "spec", "clusterIP") {
		t.Error("cluster IP reused after restore")
	}
}

// TestManyServices checks that 10,000 Services and several watches fit
// comfortably, and reports the memory used.
func TestManyServices(t *testing.T) {
	if testing.Short() {
		t.Skip("short mode")
	}
	srv := newTestServer(t)
	ts := newHTTPTestServer(t, srv)
	var watches []*watchStream
	for i := 0; i < 5; i++ {
		watches = append(watches, openWatch(t, ts, svcPath+"?watch=1&resourceVersion=1"))
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	for i := 0; i < 10000; i++ {
		mustCall(t, srv, 201, "POST", svcPath, "application/json",
			fmt.Sprintf(`{"metadata":{"name":"svc-%d","labels":{"app":"a%d"}},"spec":{"type":"LoadBalancer","allocateLoadBalancerNodePorts":false,"ipFamilies":["IPv6"],"ports":[{"name":"http","port":80,"targetPort":8080},{"name":"https","port":443}]}}`, i, i%10))
	}
	elapsed := time.Since(start)
	for _, w := range watches {
		for i := 0; i < 10000; i++ {
			if ev := w.next(false); ev == nil || ev["type"] != "ADDED" {
				t.Fatalf("watch event %d: %v", i, ev)
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	l := mustCall(t, srv, 200, "GET", svcPath+"?labelSelector=app%3Da3", "", "")
	if n := len(getSlice(l, "items")); n != 1000 {
		t.Errorf("label selector over 10k services: %d items", n)
	}
	t.Logf("10,000 Services created in %v (%.0f/s); live heap growth %.1f MiB (%.0f bytes/Service) with %d watches",
		elapsed, 10000/elapsed.Seconds(), float64(heap)/(1<<20), float64(heap)/10000, len(watches))
	if heap > 200<<20 {
		t.Errorf("10,000 Services use %d MiB of heap", heap>>20)
	}
	_ = os.Getenv
}

// TestConcurrentReadsAndWrites exercises the locking (run with -race).
func TestConcurrentReadsAndWrites(t *testing.T) {
	srv := newTestServer(t)
	cm := "/api/v1/namespaces/default/configmaps"
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 200; i++ {
				switch i % 4 {
				case 0:
					mustCall(t, srv, 201, "POST", cm, "application/json", fmt.Sprintf(`{"metadata":{"name":"c-%d-%d"}}`, w, i))
				case 1:
					mustCall(t, srv, 200, "GET", cm+"?limit=5", "", "")
				case 2:
					mustCall(t, srv, 200, "GET", "/api/v1/configmaps?labelSelector=x", "", "")
				case 3:
					mustCall(t, srv, 200, "DELETE", cm+fmt.Sprintf("/c-%d-%d", w, i-3), "", "")
				}
			}
		}(w)
	}
	for w := 0; w < 4; w++ {
		<-done
	}
}
