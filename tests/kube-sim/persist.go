package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stateFile is the on-disk format of --state.
type stateFile struct {
	Version         int           `json:"version"`
	ResourceVersion string        `json:"resourceVersion"`
	Token           string        `json:"token,omitempty"`
	CACert          string        `json:"caCert,omitempty"`
	CAKey           string        `json:"caKey,omitempty"`
	Objects         []stateObject `json:"objects"`
}

type stateObject struct {
	Resource string          `json:"resource"` // group/resource
	Object   json.RawMessage `json:"object"`
}

type persister struct {
	path     string
	srv      *Server
	token    string
	caCert   string
	caKey    string
	debounce time.Duration
	signal   chan struct{}
	dirty    int32
	writeMu  sync.Mutex
	stop     chan struct{}
	stopped  chan struct{}
	lastErr  error
}

func newPersister(path string, srv *Server, debounce time.Duration) *persister {
	return &persister{path: path, srv: srv, debounce: debounce,
		signal: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
}

// changed is called (under the store lock) after every commit.
func (p *persister) changed() {
	atomic.StoreInt32(&p.dirty, 1)
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

func (p *persister) run() {
	defer close(p.stopped)
	for {
		select {
		case <-p.signal:
		case <-p.stop:
			return
		}
		// Batch the changes of the next few milliseconds into one write.
		select {
		case <-time.After(p.debounce):
		case <-p.stop:
			return
		}
		start := time.Now()
		if err := p.flush(); err != nil {
			logf("state: %v", err)
		}
		// Under sustained writes of a big store, never spend more than
		// about a third of the time writing the state file.
		if d := time.Since(start) * 2; d > p.debounce {
			select {
			case <-time.After(d):
			case <-p.stop:
				return
			}
		}
	}
}

// flush writes the state file if anything changed since the last write.
func (p *persister) flush() error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	if !atomic.CompareAndSwapInt32(&p.dirty, 1, 0) {
		return nil
	}
	s := p.srv.store
	type item struct {
		gr  string
		raw []byte
	}
	var crds, nss, rest []item
	s.mu.RLock()
	rv := s.rv
	for gr, rs := range s.data {
		for _, k := range rs.keys() {
			it := item{gr, rs.objects[k].Raw}
			switch gr {
			case crdGR:
				crds = append(crds, it)
			case nsGR:
				nss = append(nss, it)
			default:
				rest = append(rest, it)
			}
		}
	}
	s.mu.RUnlock()
	tmp := p.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		atomic.StoreInt32(&p.dirty, 1)
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	hdr := stateFile{Version: 1, ResourceVersion: strconv.FormatUint(rv, 10), Token: p.token, CACert: p.caCert, CAKey: p.caKey}
	hb, _ := json.Marshal(hdr)
	// hdr ends with "objects":null} — replace it by streaming the objects.
	hb = bytes.TrimSuffix(hb, []byte(`null}`))
	w.Write(hb)
	w.WriteString("[\n")
	first := true
	for _, group := range [][]item{crds, nss, rest} {
		for _, it := range group {
			if !first {
				w.WriteString(",\n")
			}
			first = false
			w.WriteString(`{"resource":`)
			w.WriteString(strconv.Quote(it.gr))
			w.WriteString(`,"object":`)
			w.Write(it.raw)
			w.WriteString("}")
		}
	}
	w.WriteString("\n]}\n")
	if err := w.Flush(); err != nil {
		f.Close()
		atomic.StoreInt32(&p.dirty, 1)
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		atomic.StoreInt32(&p.dirty, 1)
		return err
	}
	if err := f.Close(); err != nil {
		atomic.StoreInt32(&p.dirty, 1)
		return err
	}
	if err := os.Rename(tmp, p.path); err != nil {
		atomic.StoreInt32(&p.dirty, 1)
		return err
	}
	if d, err := os.Open(filepath.Dir(p.path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

func (p *persister) shutdown() error {
	close(p.stop)
	<-p.stopped
	return p.flush()
}

// loadState reads a state file; a missing file is not an error.
func loadState(path string) (*stateFile, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st stateFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if st.Version != 1 {
		return nil, fmt.Errorf("%s: unsupported state version %d", path, st.Version)
	}
	return &st, nil
}

// restore loads objects into an empty store without emitting events.
func (srv *Server) restore(st *stateFile) error {
	s := srv.store
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, so := range st.Objects {
		o, err := decodeObject(so.Object)
		if err != nil {
			return fmt.Errorf("state object %d: %v", i, err)
		}
		d := s.reg.get(so.Resource)
		if d == nil {
			return fmt.Errorf("state object %d: unknown resource %q (was its CRD deleted?)", i, so.Resource)
		}
		no := newObject(d, o)
		r := s.rs(d.gr())
		r.objects[no.Key] = no
		r.dirty = true
		if d.Namespaced {
			s.nsCount[no.Namespace]++
		}
		if d.Resource == "services" && d.Group == "" {
			restoreServiceAllocations(s.alloc, o)
		}
		srv.afterCommit(d, "ADDED", no)
	}
	rv, err := strconv.ParseUint(st.ResourceVersion, 10, 64)
	if err != nil {
		return fmt.Errorf("state: bad resourceVersion %q", st.ResourceVersion)
	}
	s.rv = rv
	// Like a restarted kube-apiserver's watch cache: watches from older
	// resource versions get 410 Gone and must re-list.
	s.compactedRV = rv
	return nil
}
