// Command kube-sim is a stand-in for kube-apiserver used by ironlb's tests:
// a real HTTPS (HTTP/1.1 + HTTP/2) server that implements the parts of the
// Kubernetes API that ironlb and kubectl use. See docs/kube-sim.md.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

const simVersion = "kube-sim 1.0 (Kubernetes API v1.32)"

func logf(format string, args ...interface{}) {
	log.Printf(format, args...)
}

type options struct {
	listen           string
	kubeconfigOut    string
	clientKubeconfig string
	plainHTTP        bool
	statePath        string
	token            string
	history          int
	serviceCIDRs     string
	nodePorts        string
	bookmarkInterval time.Duration
	stateDebounce    time.Duration
	tlsSANs          string
	logRequests      bool
	latencyMs        int
	errorPercent     float64
	errorCode        int
	pprofAddr        string
}

func usage(fs *flag.FlagSet, w io.Writer) {
	fmt.Fprintf(w, `Usage: kube-sim --listen ADDR:PORT --kubeconfig-out FILE [flags]

kube-sim simulates the Kubernetes API server (v1.32 API) for tests: HTTPS
with a generated CA (HTTP/1.1 and HTTP/2), bearer-token auth, list/watch
with resourceVersions, bookmarks and 410 Gone, status subresources, CRDs,
and fault injection (POST /sim/v1/faults). See docs/kube-sim.md.

Flags:
`)
	fs.VisitAll(func(f *flag.Flag) {
		name, text := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n      %s", line, text)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

func parseFlags(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("kube-sim", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:6443", "listen address `ADDR:PORT` (port 0 picks a free port; the kubeconfig gets the real one)")
	fs.StringVar(&o.kubeconfigOut, "kubeconfig-out", "", "write a kubeconfig for this server to `FILE` (atomically, once listening); required")
	fs.StringVar(&o.clientKubeconfig, "client-cert-kubeconfig-out", "", "also write to `FILE` a kubeconfig that authenticates with a client certificate issued by the server's CA instead of the token (HTTPS only)")
	fs.BoolVar(&o.plainHTTP, "plain-http", false, "serve plain HTTP/1.1 instead of HTTPS")
	fs.StringVar(&o.statePath, "state", "", "persist objects, resourceVersion, token and CA in `FILE` across restarts")
	fs.StringVar(&o.token, "token", "", "bearer `TOKEN` clients must present (default: random, or the one in --state)")
	fs.IntVar(&o.history, "history", 10000, "number of `N` most recent changes kept for watches; older resourceVersions get 410 Gone")
	fs.StringVar(&o.serviceCIDRs, "service-cluster-ip-range", "203.0.113.128/25,2001:db8:c1::/112", "service cluster IP `CIDR[,CIDR]` (primary family first)")
	fs.StringVar(&o.nodePorts, "node-port-range", "30000-32767", "node port `RANGE`")
	fs.DurationVar(&o.bookmarkInterval, "bookmark-interval", 5*time.Second, "`DURATION` between watch BOOKMARK events when allowWatchBookmarks=true (real: ~1m)")
	fs.DurationVar(&o.stateDebounce, "state-debounce", 50*time.Millisecond, "`DURATION` that batches changes before the state file is rewritten")
	fs.StringVar(&o.tlsSANs, "tls-san", "", "extra `NAMES`: comma-separated DNS names or IPs for the server certificate")
	fs.BoolVar(&o.logRequests, "log-requests", false, "log every request to stderr")
	fs.IntVar(&o.latencyMs, "fault-latency-ms", 0, "initial fault: added latency per request in `MS`")
	fs.Float64Var(&o.errorPercent, "fault-error-percent", 0, "initial fault: `PERCENT` of requests answered with --fault-error-code")
	fs.IntVar(&o.errorCode, "fault-error-code", 500, "initial fault: HTTP `CODE` of injected errors (500, 429, 503, ...)")
	fs.StringVar(&o.pprofAddr, "pprof", "", "serve Go profiling endpoints (net/http/pprof) on `ADDR:PORT` (debugging only)")
	help := fs.Bool("help", false, "show this help")
	version := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(fs, os.Stdout)
			os.Exit(0)
		}
		return nil, err
	}
	if *help {
		usage(fs, os.Stdout)
		os.Exit(0)
	}
	if *version {
		fmt.Println(simVersion)
		os.Exit(0)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.kubeconfigOut == "" {
		return nil, errors.New("flag --kubeconfig-out is required")
	}
	if o.history < 1 {
		return nil, fmt.Errorf("invalid value %d for flag --history: must be >= 1", o.history)
	}
	if o.bookmarkInterval < 0 {
		return nil, errors.New("invalid value for flag --bookmark-interval: must not be negative")
	}
	if _, _, err := net.SplitHostPort(o.listen); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --listen: %v", o.listen, err)
	}
	return o, nil
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	log.SetPrefix("kube-sim: ")
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-sim: %v (see --help)\n", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "kube-sim: %v\n", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	// Catch signals first, so that a SIGTERM sent at any time after start
	// (even before the kubeconfig exists) ends the process cleanly.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	alloc, err := newAllocators(o.serviceCIDRs, o.nodePorts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "kube-sim: %v (see --help)\n", err)
		os.Exit(2)
	}
	reg := newRegistry()
	store := newStore(reg, o.history, alloc)
	srv := &Server{store: store, faults: newFaults(), bookmarkInterval: o.bookmarkInterval, logRequests: o.logRequests}
	if o.latencyMs != 0 || o.errorPercent != 0 {
		if err := srv.faults.set(faultConfig{LatencyMs: o.latencyMs, ErrorPercent: o.errorPercent, ErrorCode: o.errorCode, IncludeWatches: true}); err != nil {
			fmt.Fprintf(os.Stderr, "kube-sim: invalid fault flags: %v (see --help)\n", err)
			os.Exit(2)
		}
	}

	var st *stateFile
	if o.statePath != "" {
		if st, err = loadState(o.statePath); err != nil {
			return err
		}
	}
	token := o.token
	var caCert, caKey []byte
	if st != nil {
		if token == "" {
			token = st.Token
		}
		caCert, caKey = []byte(st.CACert), []byte(st.CAKey)
		if err := srv.restore(st); err != nil {
			return err
		}
		logf("restored %d objects at resourceVersion %s from %s", len(st.Objects), st.ResourceVersion, o.statePath)
	} else {
		if err := srv.bootstrap(); err != nil {
			return err
		}
	}
	if token == "" {
		token = randomHex(24)
	}
	srv.token = token

	if o.pprofAddr != "" {
		go func() {
			logf("pprof: %v", http.ListenAndServe(o.pprofAddr, http.DefaultServeMux))
		}()
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	addr := ln.Addr().(*net.TCPAddr)
	host, _, _ := net.SplitHostPort(o.listen)
	clientHost := host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		clientHost = "127.0.0.1"
	}
	hostPort := net.JoinHostPort(clientHost, fmt.Sprint(addr.Port))
	srv.serverAddr = hostPort

	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       5 * time.Minute,
		ErrorLog:          log.New(&handshakeFilter{}, "kube-sim: http: ", log.LstdFlags),
	}
	scheme := "http"
	var cs *certs
	if !o.plainHTTP {
		scheme = "https"
		dns := []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
		ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
		addName := func(n string) {
			n = strings.TrimSpace(n)
			if n == "" {
				return
			}
			if ip := net.ParseIP(n); ip != nil {
				if !ip.IsUnspecified() {
					ips = append(ips, ip)
				}
			} else {
				dns = append(dns, n)
			}
		}
		addName(host)
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			if addrs, err := net.InterfaceAddrs(); err == nil {
				for _, a := range addrs {
					if n, ok := a.(*net.IPNet); ok {
						ips = append(ips, n.IP)
					}
				}
			}
		}
		for _, n := range strings.Split(o.tlsSANs, ",") {
			addName(n)
		}
		if cs, err = makeCerts(caCert, caKey, dns, ips); err != nil {
			return fmt.Errorf("generating certificates: %v", err)
		}
		// x509 client authentication as kube-apiserver's --client-ca-file
		// does it: a client certificate, if given, must chain to the CA.
		clientCAs := x509.NewCertPool()
		clientCAs.AddCert(cs.caCert)
		httpSrv.TLSConfig = &tls.Config{
			Certificates: []tls.Certificate{cs.server},
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    clientCAs,
		}
	}

	var pers *persister
	if o.statePath != "" {
		pers = newPersister(o.statePath, srv, o.stateDebounce)
		pers.token = token
		if cs != nil {
			pers.caCert, pers.caKey = string(cs.caCertPEM), string(cs.caKeyPEM)
		} else if st != nil {
			pers.caCert, pers.caKey = st.CACert, st.CAKey
		}
		store.onChange = pers.changed
		// Write once at start so the token and CA are kept even if no
		// object ever changes.
		pers.dirty = 1
		if err := pers.flush(); err != nil {
			return fmt.Errorf("writing state: %v", err)
		}
		go pers.run()
	}

	serveErr := make(chan error, 1)
	go func() {
		if o.plainHTTP {
			serveErr <- httpSrv.Serve(ln)
		} else {
			serveErr <- httpSrv.ServeTLS(ln, "", "")
		}
	}()

	server := scheme + "://" + hostPort
	var caPEM []byte
	if cs != nil {
		caPEM = cs.caCertPEM
	}
	if o.clientKubeconfig != "" {
		if cs == nil {
			return errors.New("--client-cert-kubeconfig-out needs HTTPS")
		}
		certPEM, keyPEM, err := issueClient(cs, "kube-sim-admin")
		if err != nil {
			return fmt.Errorf("issuing a client certificate: %v", err)
		}
		user := fmt.Sprintf("    client-certificate-data: %s\n    client-key-data: %s\n",
			base64.StdEncoding.EncodeToString(certPEM), base64.StdEncoding.EncodeToString(keyPEM))
		if err := writeKubeconfig(o.clientKubeconfig, server, caPEM, user); err != nil {
			return fmt.Errorf("writing kubeconfig: %v", err)
		}
	}
	if err := writeKubeconfig(o.kubeconfigOut, server, caPEM, "    token: "+token+"\n"); err != nil {
		return fmt.Errorf("writing kubeconfig: %v", err)
	}
	logf("serving %s (HTTP/1.1%s), kubeconfig %s, state %q, resourceVersion %d",
		server, map[bool]string{true: "", false: " and HTTP/2"}[o.plainHTTP], o.kubeconfigOut, o.statePath, store.rv)

	select {
	case sig := <-sigs:
		logf("received %v, shutting down", sig)
	case err := <-serveErr:
		return fmt.Errorf("server stopped: %v", err)
	}
	_ = httpSrv.Close()
	store.mu.Lock()
	store.stopWatchers("", false)
	store.mu.Unlock()
	if pers != nil {
		if err := pers.shutdown(); err != nil {
			return fmt.Errorf("writing state on exit: %v", err)
		}
	}
	return nil
}

// handshakeFilter drops the noisy TLS handshake errors of clients that
// probe the port or do not trust the CA; everything else is logged.
type handshakeFilter struct{}

func (handshakeFilter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "TLS handshake error") {
		return len(p), nil
	}
	return os.Stderr.Write(p)
}

// writeKubeconfig writes a kubeconfig for server whose user section holds
// the YAML lines user (indented by four spaces).
func writeKubeconfig(path, server string, caPEM []byte, user string) error {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Config\nclusters:\n- name: kube-sim\n  cluster:\n")
	fmt.Fprintf(&b, "    server: %s\n", server)
	if len(caPEM) > 0 {
		fmt.Fprintf(&b, "    certificate-authority-data: %s\n", base64.StdEncoding.EncodeToString(caPEM))
	}
	b.WriteString("contexts:\n- name: kube-sim\n  context:\n    cluster: kube-sim\n    user: kube-sim\n    namespace: default\n")
	b.WriteString("current-context: kube-sim\nusers:\n- name: kube-sim\n  user:\n")
	b.WriteString(user)
	b.WriteString("preferences: {}\n")
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".kubeconfig-*")
	if err != nil {
		return err
	}
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// bootstrap creates what a fresh cluster has: the four built-in namespaces
// and the default/kubernetes Service.
func (srv *Server) bootstrap() error {
	s := srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	nsd := s.reg.get(nsGR)
	for _, n := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		rc := &reqCtx{def: nsd, version: "v1", fieldValidation: "Strict"}
		o := obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": n}}
		if _, e := srv.createLocked(rc, o); e != nil {
			return e
		}
	}
	svcd := s.reg.get("/services")
	rc := &reqCtx{def: svcd, version: "v1", ns: "default", fieldValidation: "Strict"}
	primary := s.alloc.ips[0]
	o := obj{"apiVersion": "v1", "kind": "Service",
		"metadata": obj{"name": "kubernetes", "namespace": "default",
			"labels": obj{"component": "apiserver", "provider": "kubernetes"}},
		"spec": obj{"type": "ClusterIP", "clusterIP": primary.ipAt(primary.first),
			"ports": []interface{}{obj{"name": "https", "port": int64(443), "protocol": "TCP", "targetPort": int64(6443)}}}}
	if _, e := srv.createLocked(rc, o); e != nil {
		return e
	}
	return nil
}
