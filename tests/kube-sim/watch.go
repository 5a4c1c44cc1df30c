package main

import (
	"sync"
)

type watchItem struct {
	typ string
	ev  *event
	raw []byte // pre-encoded line (bookmarks, errors)
}

// watcher is one open watch stream.
type watcher struct {
	id       uint64
	d        *ResourceDef
	gr       string
	ns       string
	match    func(*Object) bool
	mu       sync.Mutex
	q        []watchItem
	notify   chan struct{}
	done     chan struct{}
	doneOnce sync.Once
	abort    bool
}

func newWatcher(d *ResourceDef, ns string, match func(*Object) bool) *watcher {
	return &watcher{
		d: d, gr: d.gr(), ns: ns, match: match,
		notify: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
}

func (w *watcher) matches(o *Object) bool {
	if w.ns != "" && o.Namespace != w.ns {
		return false
	}
	return w.match == nil || w.match(o)
}

// classify maps a stored event to the event this watcher must see, taking
// selector transitions into account like the real watch cache does.
func (w *watcher) classify(ev *event) string {
	switch ev.typ {
	case "ADDED", "DELETED":
		if w.matches(ev.obj) {
			return ev.typ
		}
	case "MODIFIED":
		cur := w.matches(ev.obj)
		old := ev.prev != nil && w.matches(ev.prev)
		switch {
		case cur && old:
			return "MODIFIED"
		case cur:
			return "ADDED"
		case old:
			return "DELETED"
		}
	}
	return ""
}

func (w *watcher) enqueue(it watchItem, limit int) {
	w.mu.Lock()
	if len(w.q) >= limit {
		w.mu.Unlock()
		// The client is not keeping up: close the watch like the real
		// watch cache does; the client will re-list or re-watch.
		w.stop(false)
		return
	}
	w.q = append(w.q, it)
	w.mu.Unlock()
	select {
	case w.notify <- struct{}{}:
	default:
	}
}

func (w *watcher) take() []watchItem {
	w.mu.Lock()
	q := w.q
	w.q = nil
	w.mu.Unlock()
	return q
}

func (w *watcher) stop(abort bool) {
	w.doneOnce.Do(func() {
		w.abort = abort
		close(w.done)
	})
}

// dispatch fans an event out to the watchers of its resource. Caller holds
// s.mu for writing.
func (s *Store) dispatch(d *ResourceDef, ev *event) {
	for w := range s.watchers[ev.gr] {
		if t := w.classify(ev); t != "" {
			w.enqueue(watchItem{typ: t, ev: ev}, s.queueLimit)
		}
	}
}

func (s *Store) addWatcher(w *watcher) {
	m := s.watchers[w.gr]
	if m == nil {
		m = map[*watcher]struct{}{}
		s.watchers[w.gr] = m
	}
	s.nextWatchID++
	w.id = s.nextWatchID
	m[w] = struct{}{}
	s.nwatchers++
}

func (s *Store) removeWatcher(w *watcher) {
	s.mu.Lock()
	if m := s.watchers[w.gr]; m != nil {
		if _, ok := m[w]; ok {
			delete(m, w)
			s.nwatchers--
		}
	}
	s.mu.Unlock()
}

// stopWatchers ends open watches (for a resource when gr != "").
func (s *Store) stopWatchers(gr string, abort bool) int {
	n := 0
	for g, m := range s.watchers {
		if gr != "" && g != gr {
			continue
		}
		for w := range m {
			w.stop(abort)
			n++
		}
	}
	return n
}
