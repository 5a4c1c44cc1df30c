// Command kube-sim-load is the load generator of tests/bench/kube_sim_bench.sh.
// It reads a kubeconfig written by kube-sim and measures request rates and
// latencies for GETs, creates, lists and watch event delivery. It only
// measures and prints; it never judges the figures.
package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type kubeconfig struct {
	server string
	token  string
	ca     []byte
}

// readKubeconfig parses the simple kubeconfig kube-sim writes.
func readKubeconfig(path string) (*kubeconfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	kc := &kubeconfig{}
	for _, line := range strings.Split(string(b), "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "server:"):
			kc.server = strings.TrimSpace(strings.TrimPrefix(l, "server:"))
		case strings.HasPrefix(l, "token:"):
			kc.token = strings.TrimSpace(strings.TrimPrefix(l, "token:"))
		case strings.HasPrefix(l, "certificate-authority-data:"):
			kc.ca, err = base64.StdEncoding.DecodeString(strings.TrimSpace(strings.TrimPrefix(l, "certificate-authority-data:")))
			if err != nil {
				return nil, fmt.Errorf("%s: bad certificate-authority-data: %v", path, err)
			}
		}
	}
	if kc.server == "" || kc.token == "" {
		return nil, fmt.Errorf("%s: no server or token found", path)
	}
	return kc, nil
}

type client struct {
	kc  *kubeconfig
	hc  *http.Client
	ver string
}

func newClient(kc *kubeconfig, conns int, h2 bool) *client {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   h2,
		DisableCompression:  true,
	}
	if len(kc.ca) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(kc.ca)
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
	}
	return &client{kc: kc, hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (c *client) do(method, path, ct string, body []byte) (int, []byte, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.kc.server+path, rd)
	if err != nil {
		return 0, nil, "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.kc.token)
	req.Header.Set("Accept", "application/json")
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Proto, err
}

type result struct {
	name     string
	n        int
	errors   int
	elapsed  time.Duration
	lat      []time.Duration
	proto    string
	firstErr string
}

func (r *result) print(conc int) {
	sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
	pct := func(p float64) time.Duration {
		if len(r.lat) == 0 {
			return 0
		}
		i := int(float64(len(r.lat)-1) * p)
		return r.lat[i]
	}
	rate := float64(r.n) / r.elapsed.Seconds()
	fmt.Printf("%-22s concurrency=%-3d %-8s requests=%-7d errors=%-4d %9.0f req/s   p50=%-9s p99=%-9s max=%s\n",
		r.name, conc, r.proto, r.n, r.errors, rate, round(pct(0.50)), round(pct(0.99)), round(pct(1)))
	if r.firstErr != "" {
		fmt.Printf("  first error: %s\n", r.firstErr)
	}
}

func round(d time.Duration) time.Duration {
	if d > time.Millisecond {
		return d.Round(10 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// run drives conc workers calling fn until the duration or the request
// budget is exhausted.
func run(name string, conc int, dur time.Duration, max int, fn func(worker, i int) (string, error)) *result {
	var next int64 = -1
	var mu sync.Mutex
	res := &result{name: name}
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, 4096)
			errs := 0
			var proto, firstErr string
			for {
				i := int(atomic.AddInt64(&next, 1))
				if i >= max || time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				p, err := fn(w, i)
				lat = append(lat, time.Since(t0))
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				} else {
					proto = p
				}
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			res.errors += errs
			if res.proto == "" {
				res.proto = proto
			}
			if res.firstErr == "" {
				res.firstErr = firstErr
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.n = len(res.lat)
	return res
}

func expect(code int, want int, body []byte) error {
	if code != want {
		b := string(body)
		if len(b) > 200 {
			b = b[:200]
		}
		return fmt.Errorf("HTTP %d (want %d): %s", code, want, b)
	}
	return nil
}

func main() {
	kcPath := flag.String("kubeconfig", "", "kubeconfig written by kube-sim (required)")
	modes := flag.String("modes", "get,create", "comma-separated: get, create, create-svc, list, update, watch")
	conc := flag.Int("concurrency", 16, "parallel workers (each with keep-alive connections)")
	dur := flag.Duration("duration", 5*time.Second, "time limit per mode")
	max := flag.Int("requests", 200000, "request budget per mode")
	h2 := flag.Bool("http2", false, "use HTTP/2 (one multiplexed connection) instead of HTTP/1.1")
	ns := flag.String("namespace", "default", "namespace to work in")
	watchers := flag.Int("watchers", 4, "watch mode: number of watch streams")
	flag.Parse()
	if *kcPath == "" {
		fmt.Fprintln(os.Stderr, "kube-sim-load: --kubeconfig is required")
		os.Exit(2)
	}
	kc, err := readKubeconfig(*kcPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kube-sim-load:", err)
		os.Exit(1)
	}
	c := newClient(kc, *conc, *h2)
	runID := fmt.Sprintf("%x", time.Now().UnixNano()&0xffffff)
	cmBase := "/api/v1/namespaces/" + *ns + "/configmaps"
	for _, mode := range strings.Split(*modes, ",") {
		var r *result
		switch strings.TrimSpace(mode) {
		case "get":
			name := "bench-get-" + runID
			body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q},"data":{"key":"value"}}`, name)
			code, b, _, err := c.do("POST", cmBase, "application/json", []byte(body))
			if err == nil {
				err = expect(code, 201, b)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "kube-sim-load: setup:", err)
				os.Exit(1)
			}
			r = run("GET configmap", *conc, *dur, *max, func(w, i int) (string, error) {
				code, b, p, err := c.do("GET", cmBase+"/"+name, "", nil)
				if err == nil {
					err = expect(code, 200, b)
				}
				return p, err
			})
		case "create":
			r = run("POST create configmap", *conc, *dur, *max, func(w, i int) (string, error) {
				body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"bench-%s-%d","labels":{"bench":%q}},"data":{"key":"value"}}`, runID, i, runID)
				code, b, p, err := c.do("POST", cmBase, "application/json", []byte(body))
				if err == nil {
					err = expect(code, 201, b)
				}
				return p, err
			})
		case "create-svc":
			// IPv6 single-stack Services draw from the /112 range, so tens
			// of thousands can be allocated.
			r = run("POST create service", *conc, *dur, *max, func(w, i int) (string, error) {
				body := fmt.Sprintf(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"bench-%s-%d"},"spec":{"ipFamilies":["IPv6"],"ports":[{"port":80,"targetPort":8080}],"selector":{"app":"bench"}}}`, runID, i)
				code, b, p, err := c.do("POST", "/api/v1/namespaces/"+*ns+"/services", "application/json", []byte(body))
				if err == nil {
					err = expect(code, 201, b)
				}
				return p, err
			})
		case "update":
			name := "bench-upd-" + runID
			body := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":%q},"data":{"n":"0"}}`, name)
			if code, b, _, err := c.do("POST", cmBase, "application/json", []byte(body)); err != nil || code != 201 {
				fmt.Fprintln(os.Stderr, "kube-sim-load: setup failed:", code, string(b), err)
				os.Exit(1)
			}
			r = run("PATCH configmap", *conc, *dur, *max, func(w, i int) (string, error) {
				code, b, p, err := c.do("PATCH", cmBase+"/"+name, "application/merge-patch+json", []byte(fmt.Sprintf(`{"data":{"n":"%d"}}`, i)))
				if err == nil {
					err = expect(code, 200, b)
				}
				return p, err
			})
		case "list":
			r = run("LIST configmaps (limit 50)", *conc, *dur, *max, func(w, i int) (string, error) {
				code, b, p, err := c.do("GET", cmBase+"?limit=50", "", nil)
				if err == nil {
					err = expect(code, 200, b)
				}
				return p, err
			})
		case "watch":
			watchBench(c, kc, *ns, runID, *watchers, *dur, *max)
			continue
		default:
			fmt.Fprintf(os.Stderr, "kube-sim-load: unknown mode %q\n", mode)
			os.Exit(2)
		}
		r.print(*conc)
	}
}

// watchBench opens watchers, then patches one object repeatedly and
// measures the delay from each PATCH response to its event on every watch.
func watchBench(c *client, kc *kubeconfig, ns, runID string, nw int, dur time.Duration, max int) {
	base := "/api/v1/namespaces/" + ns + "/configmaps"
	name := "bench-watch-" + runID
	code, b, _, err := c.do("POST", base, "application/json", []byte(fmt.Sprintf(`{"metadata":{"name":%q},"data":{"n":"-1"}}`, name)))
	if err != nil || code != 201 {
		fmt.Fprintln(os.Stderr, "kube-sim-load: watch setup failed:", code, string(b), err)
		os.Exit(1)
	}
	var rv struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
	}
	_ = json.Unmarshal(b, &rv)
	var sent sync.Map // n -> time.Time
	type sample struct{ d time.Duration }
	lats := make(chan time.Duration, 1<<20)
	var wg sync.WaitGroup
	ready := make(chan error, nw)
	stop := make(chan struct{})
	for i := 0; i < nw; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wc := newClient(kc, 1, false)
			wc.hc.Timeout = 0
			req, _ := http.NewRequest("GET", kc.server+base+"?watch=1&fieldSelector=metadata.name%3D"+name+"&resourceVersion="+rv.Metadata.ResourceVersion, nil)
			req.Header.Set("Authorization", "Bearer "+kc.token)
			resp, err := wc.hc.Do(req)
			if err != nil {
				ready <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				ready <- fmt.Errorf("watch: HTTP %d", resp.StatusCode)
				return
			}
			ready <- nil
			go func() { <-stop; resp.Body.Close() }()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				var ev struct {
					Type   string `json:"type"`
					Object struct {
						Data map[string]string `json:"data"`
					} `json:"object"`
				}
				if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Type != "MODIFIED" {
					continue
				}
				if t, ok := sent.Load(ev.Object.Data["n"]); ok {
					lats <- time.Since(t.(time.Time))
				}
			}
		}()
	}
	for i := 0; i < nw; i++ {
		if err := <-ready; err != nil {
			fmt.Fprintln(os.Stderr, "kube-sim-load:", err)
			os.Exit(1)
		}
	}
	start := time.Now()
	n := 0
	for ; n < max && time.Since(start) < dur; n++ {
		key := fmt.Sprint(n)
		sent.Store(key, time.Now())
		code, b, _, err := c.do("PATCH", base+"/"+name, "application/merge-patch+json", []byte(fmt.Sprintf(`{"data":{"n":%q}}`, key)))
		if err != nil || code != 200 {
			fmt.Fprintln(os.Stderr, "kube-sim-load: patch failed:", code, string(b), err)
			break
		}
	}
	elapsed := time.Since(start)
	// Wait (bounded) for the last events to arrive.
	want := n * nw
	var all []time.Duration
	timeout := time.After(5 * time.Second)
collect:
	for len(all) < want {
		select {
		case d := <-lats:
			all = append(all, d)
		case <-timeout:
			break collect
		}
	}
	close(stop)
	wg.Wait()
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p := func(q float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[int(float64(len(all)-1)*q)]
	}
	fmt.Printf("%-22s watchers=%-3d        writes=%-7d events=%d/%d  %9.0f events/s  write->event p50=%-9s p99=%-9s max=%s\n",
		"WATCH delivery", nw, n, len(all), want, float64(len(all))/elapsed.Seconds(), round(p(0.5)), round(p(0.99)), round(p(1)))
	if len(all) < want {
		fmt.Println("  note:", errors.New("some events did not arrive within 5s"))
	}
}
