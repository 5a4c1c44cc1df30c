package main

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
)

// Object is one stored object, kept in its encoded form (compact, and
// free of pointers for the garbage collector) with the few attributes that
// hot paths need. Everything is immutable once stored.
type Object struct {
	Key        string
	Namespace  string
	Name       string
	RV         uint64
	Raw        []byte
	ItemOff    int // "{" + Raw[ItemOff:] is the object without apiVersion/kind (0: n/a)
	Labels     map[string]string
	Fields     map[string]string // values of the resource's extra field selectors
	UID        string
	APIVersion string
	Deleting   bool // metadata.deletionTimestamp is set
	Finalizers int
}

// parse returns a private, mutable copy of the object.
func (o *Object) parse() obj {
	v, err := decodeObject(o.Raw)
	if err != nil {
		panic(fmt.Sprintf("stored object %s does not parse: %v", o.Key, err))
	}
	return v
}

func objectKey(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func newObject(d *ResourceDef, o obj) *Object {
	md := getMap(o, "metadata")
	ns := getString(md, "namespace")
	name := getString(md, "name")
	rv, _ := strconv.ParseUint(getString(md, "resourceVersion"), 10, 64)
	raw, off := encodeTopObject(o)
	no := &Object{
		Key:        objectKey(ns, name),
		Namespace:  ns,
		Name:       name,
		RV:         rv,
		Raw:        raw,
		ItemOff:    off,
		Labels:     stringMap(md["labels"]),
		UID:        getString(md, "uid"),
		APIVersion: getString(o, "apiVersion"),
		Deleting:   getString(md, "deletionTimestamp") != "",
		Finalizers: len(getSlice(md, "finalizers")),
	}
	if len(d.fields) > 0 {
		no.Fields = make(map[string]string, len(d.fields))
		for f, fn := range d.fields {
			if v := fn(o); v != "" {
				no.Fields[f] = v
			}
		}
	}
	return no
}

// event is one entry of the global change history.
type event struct {
	rv   uint64
	typ  string // ADDED, MODIFIED, DELETED
	gr   string
	obj  *Object // state after the change (for DELETED: last state at rv)
	prev *Object // state before the change (nil for ADDED)
	line []byte  // encoded watch event for the storage version (set under
	// the store lock before any watcher can see the event)
}

// ensureLine encodes the watch line; caller holds s.mu for writing.
func (ev *event) ensureLine() {
	if ev.line == nil {
		ev.line = watchLine(ev.typ, ev.obj.Raw)
	}
}

func watchLine(typ string, raw []byte) []byte {
	b := make([]byte, 0, len(raw)+32)
	b = append(b, `{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","object":`...)
	b = append(b, raw...)
	b = append(b, "}\n"...)
	return b
}

// history is a ring buffer of the most recent events.
type history struct {
	buf  []*event
	head int
	n    int
}

func newHistory(size int) history {
	if size < 1 {
		size = 1
	}
	return history{buf: make([]*event, size)}
}

// push appends e and returns the evicted oldest event, if any.
func (h *history) push(e *event) *event {
	var ev *event
	if h.n == len(h.buf) {
		ev = h.buf[h.head]
		h.buf[h.head] = e
		h.head = (h.head + 1) % len(h.buf)
		return ev
	}
	h.buf[(h.head+h.n)%len(h.buf)] = e
	h.n++
	return nil
}

func (h *history) at(i int) *event { return h.buf[(h.head+i)%len(h.buf)] }

// firstAfter returns the index of the first event with rv > after.
func (h *history) firstAfter(after uint64) int {
	return sort.Search(h.n, func(i int) bool { return h.at(i).rv > after })
}

func (h *history) clear() {
	for i := range h.buf {
		h.buf[i] = nil
	}
	h.head, h.n = 0, 0
}

type resourceStore struct {
	objects map[string]*Object
	// The sorted key cache is rebuilt lazily by readers holding the store's
	// read lock, hence its own mutex. Writers (holding the write lock) only
	// set dirty, so a returned slice stays valid while the caller holds the
	// store lock.
	sortMu sync.Mutex
	sorted []string
	dirty  bool
}

func (rs *resourceStore) keys() []string {
	rs.sortMu.Lock()
	defer rs.sortMu.Unlock()
	if rs.dirty {
		rs.sorted = rs.sorted[:0]
		for k := range rs.objects {
			rs.sorted = append(rs.sorted, k)
		}
		sort.Strings(rs.sorted)
		rs.dirty = false
	}
	return rs.sorted
}

// Store is the whole simulated etcd + watch cache. All fields are guarded
// by mu; watchers have their own locks for their queues.
type Store struct {
	mu          sync.RWMutex
	rv          uint64
	compactedRV uint64
	reg         *Registry
	data        map[string]*resourceStore
	hist        history
	watchers    map[string]map[*watcher]struct{}
	nwatchers   int
	nsCount     map[string]int
	alloc       *allocators
	rvChanged   chan struct{} // closed and replaced on every commit
	onChange    func()        // persistence hook
	queueLimit  int
	nextWatchID uint64
}

func newStore(reg *Registry, historySize int, alloc *allocators) *Store {
	return &Store{
		reg:        reg,
		data:       map[string]*resourceStore{},
		hist:       newHistory(historySize),
		watchers:   map[string]map[*watcher]struct{}{},
		nsCount:    map[string]int{},
		alloc:      alloc,
		rvChanged:  make(chan struct{}),
		queueLimit: 200000,
	}
}

func (s *Store) rs(gr string) *resourceStore {
	r := s.data[gr]
	if r == nil {
		r = &resourceStore{objects: map[string]*Object{}}
		s.data[gr] = r
	}
	return r
}

func (s *Store) get(d *ResourceDef, ns, name string) *Object {
	r := s.data[d.gr()]
	if r == nil {
		return nil
	}
	return r.objects[objectKey(ns, name)]
}

func (s *Store) count(gr string) int {
	if r := s.data[gr]; r != nil {
		return len(r.objects)
	}
	return 0
}

// commit records a change: it bumps the resourceVersion, stores the new
// state, appends to history and fans out to watchers. Caller holds s.mu.
// o must be a fresh map owned by the store from now on.
func (s *Store) commit(d *ResourceDef, typ string, o obj, prev *Object) *Object {
	s.rv++
	md := ensureMap(o, "metadata")
	md["resourceVersion"] = strconv.FormatUint(s.rv, 10)
	no := newObject(d, o)
	r := s.rs(d.gr())
	switch typ {
	case "ADDED":
		r.objects[no.Key] = no
		r.dirty = true
		if d.Namespaced {
			s.nsCount[no.Namespace]++
		}
	case "MODIFIED":
		r.objects[no.Key] = no
	case "DELETED":
		delete(r.objects, no.Key)
		r.dirty = true
		if d.Namespaced {
			s.nsCount[no.Namespace]--
			if s.nsCount[no.Namespace] <= 0 {
				delete(s.nsCount, no.Namespace)
			}
		}
	}
	ev := &event{rv: s.rv, typ: typ, gr: d.gr(), obj: no, prev: prev}
	if len(s.watchers[ev.gr]) > 0 {
		ev.line = watchLine(typ, no.Raw)
	}
	if old := s.hist.push(ev); old != nil {
		s.compactedRV = old.rv
	}
	s.dispatch(d, ev)
	close(s.rvChanged)
	s.rvChanged = make(chan struct{})
	if s.onChange != nil {
		s.onChange()
	}
	return no
}

// compact drops all history: watches and continue tokens from before now
// get 410 Gone.
func (s *Store) compact() {
	s.hist.clear()
	s.compactedRV = s.rv
}

// finalState builds the object carried by a DELETED event: the last state
// with the deletion resourceVersion filled in by commit.
func finalState(o *Object) obj {
	return o.parse()
}

// snapshotAt returns, for the given resource, the objects whose state at
// resourceVersion rv differs from the current one (nil value = absent).
// The caller must have checked rv >= compactedRV.
func (s *Store) snapshotAt(gr string, rv uint64) map[string]*Object {
	if rv >= s.rv {
		return nil
	}
	over := map[string]*Object{}
	for i := s.hist.firstAfter(rv); i < s.hist.n; i++ {
		ev := s.hist.at(i)
		if ev.gr != gr {
			continue
		}
		if _, seen := over[ev.obj.Key]; !seen {
			over[ev.obj.Key] = ev.prev
		}
	}
	return over
}

// listKeys returns the sorted keys visible at the snapshot described by over.
func listKeys(r *resourceStore, over map[string]*Object) []string {
	keys := r.keys()
	if len(over) == 0 {
		return keys
	}
	set := make(map[string]bool, len(over))
	var extra []string
	for k, o := range over {
		if o != nil {
			if _, cur := r.objects[k]; !cur {
				extra = append(extra, k)
			}
		}
		set[k] = true
	}
	if len(extra) == 0 {
		return keys
	}
	all := make([]string, 0, len(keys)+len(extra))
	all = append(all, keys...)
	all = append(all, extra...)
	sort.Strings(all)
	return all
}

// ---- allocation transactions ----

// allocTx records pool changes so they can be rolled back (on errors and
// dry runs).
type allocTx struct {
	undo []func()
}

func (tx *allocTx) rollback() {
	for i := len(tx.undo) - 1; i >= 0; i-- {
		tx.undo[i]()
	}
	tx.undo = nil
}
