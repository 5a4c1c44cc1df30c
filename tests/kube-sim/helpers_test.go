package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newTestServer(t testing.TB) *Server {
	t.Helper()
	alloc, err := newAllocators("203.0.113.128/25,2001:db8:c1::/112", "30000-32767")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{store: newStore(newRegistry(), 1000, alloc), faults: newFaults(), token: "t0k",
		bookmarkInterval: 100 * time.Millisecond}
	if err := srv.bootstrap(); err != nil {
		t.Fatal(err)
	}
	return srv
}

// newHTTPTestServer serves srv over a loopback socket; it ends open watches
// before shutting down (httptest.Server.Close waits for all handlers).
func newHTTPTestServer(t testing.TB, srv *Server) *httptest.Server {
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.store.mu.Lock()
		srv.store.stopWatchers("", false)
		srv.store.mu.Unlock()
		ts.Close()
	})
	return ts
}

// call performs a request against the handler and decodes the JSON answer.
func call(t testing.TB, srv *Server, method, path, ct, body string) (int, obj) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer t0k")
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	var o obj
	if b := rec.Body.Bytes(); len(b) > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		v, err := decodeJSON(b)
		if err != nil {
			t.Fatalf("%s %s: bad JSON answer %q: %v", method, path, b, err)
		}
		o, _ = v.(map[string]interface{})
	}
	return rec.Code, o
}

func mustCall(t testing.TB, srv *Server, want int, method, path, ct, body string) obj {
	t.Helper()
	code, o := call(t, srv, method, path, ct, body)
	if code != want {
		t.Fatalf("%s %s: got HTTP %d, want %d: %v", method, path, code, want, o)
	}
	return o
}

func rvOf(o obj) string { return getString(o, "metadata", "resourceVersion") }

// watchStream is a live watch against an httptest server.
type watchStream struct {
	t    testing.TB
	resp *http.Response
	sc   *bufio.Scanner
	ch   chan obj
}

func openWatch(t testing.TB, ts *httptest.Server, path string) *watchStream {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer t0k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("watch %s: HTTP %d", path, resp.StatusCode)
	}
	w := &watchStream{t: t, resp: resp, sc: bufio.NewScanner(resp.Body), ch: make(chan obj, 1000)}
	w.sc.Buffer(make([]byte, 1<<20), 1<<24)
	go func() {
		defer close(w.ch)
		for w.sc.Scan() {
			v, err := decodeJSON(w.sc.Bytes())
			if err != nil {
				return
			}
			w.ch <- v.(map[string]interface{})
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	return w
}

// next returns the next event (skipping bookmarks unless wanted).
func (w *watchStream) next(bookmarks bool) obj {
	w.t.Helper()
	for {
		select {
		case ev, ok := <-w.ch:
			if !ok {
				return nil
			}
			if !bookmarks && ev["type"] == "BOOKMARK" {
				continue
			}
			return ev
		case <-time.After(5 * time.Second):
			w.t.Fatal("timed out waiting for a watch event")
		}
	}
}

func evSummary(ev obj) string {
	if ev == nil {
		return "<closed>"
	}
	return getString(ev, "type") + " " + getString(ev, "object", "metadata", "name")
}

func pretty(v interface{}) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}
