package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// faultConfig is the JSON document of POST /sim/v1/faults.
type faultConfig struct {
	LatencyMs         int      `json:"latencyMs"`
	ErrorPercent      float64  `json:"errorPercent"`
	ErrorCode         int      `json:"errorCode"`
	ErrorCount        int      `json:"errorCount"` // 0 = unlimited
	RetryAfterSeconds int      `json:"retryAfterSeconds"`
	Methods           []string `json:"methods,omitempty"`
	PathPrefix        string   `json:"pathPrefix,omitempty"`
	IncludeWatches    bool     `json:"includeWatches"`
}

type faults struct {
	mu       sync.Mutex
	cfg      faultConfig
	left     int // remaining injected errors when cfg.ErrorCount > 0
	rng      *rand.Rand
	injected uint64
}

func newFaults() *faults {
	return &faults{rng: rand.New(rand.NewSource(time.Now().UnixNano())), cfg: faultConfig{ErrorCode: 500, IncludeWatches: true}}
}

func (f *faults) set(c faultConfig) error {
	if c.ErrorCode == 0 {
		c.ErrorCode = 500
	}
	if c.ErrorCode < 400 || c.ErrorCode > 599 {
		return fmt.Errorf("errorCode must be an HTTP error status (400-599), got %d", c.ErrorCode)
	}
	if c.ErrorPercent < 0 || c.ErrorPercent > 100 {
		return fmt.Errorf("errorPercent must be within 0..100, got %v", c.ErrorPercent)
	}
	if c.LatencyMs < 0 || c.ErrorCount < 0 || c.RetryAfterSeconds < 0 {
		return fmt.Errorf("latencyMs, errorCount and retryAfterSeconds must not be negative")
	}
	f.mu.Lock()
	f.cfg = c
	f.left = c.ErrorCount
	f.mu.Unlock()
	return nil
}

func (f *faults) get() (faultConfig, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cfg, f.left
}

// apply delays the request and/or returns an injected error.
func (f *faults) apply(r *http.Request) *apiError {
	f.mu.Lock()
	c := f.cfg
	var inject bool
	if c.ErrorPercent > 0 && (c.ErrorCount == 0 || f.left > 0) && f.matches(r) {
		if f.rng.Float64()*100 < c.ErrorPercent {
			inject = true
			if c.ErrorCount > 0 {
				f.left--
			}
		}
	}
	f.mu.Unlock()
	if c.LatencyMs > 0 {
		time.Sleep(time.Duration(c.LatencyMs) * time.Millisecond)
	}
	if !inject {
		return nil
	}
	atomic.AddUint64(&f.injected, 1)
	return injectedError(c.ErrorCode, c.RetryAfterSeconds)
}

func (f *faults) matches(r *http.Request) bool {
	c := f.cfg
	if len(c.Methods) > 0 {
		ok := false
		for _, m := range c.Methods {
			if strings.EqualFold(m, r.Method) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if c.PathPrefix != "" && !strings.HasPrefix(r.URL.Path, c.PathPrefix) {
		return false
	}
	if !c.IncludeWatches {
		q := r.URL.Query()
		if q.Get("watch") == "1" || q.Get("watch") == "true" || strings.Contains(r.URL.Path, "/watch/") {
			return false
		}
	}
	return true
}

func injectedError(code, retryAfter int) *apiError {
	switch code {
	case 429:
		if retryAfter == 0 {
			retryAfter = 1
		}
		return &apiError{code: 429, reason: "TooManyRequests", message: "injected fault: the server has received too many requests and has asked us to try again later",
			details: obj{"retryAfterSeconds": retryAfter}, retryAfter: retryAfter}
	case 500:
		return errInternal("injected fault")
	case 503:
		return &apiError{code: 503, reason: "ServiceUnavailable", message: "injected fault: the server is currently unable to handle the request", retryAfter: retryAfter}
	case 504:
		return errTimeout("injected fault: the server was unable to return a response in the time allotted")
	default:
		return &apiError{code: code, reason: http.StatusText(code), message: "injected fault", retryAfter: retryAfter}
	}
}

// serveSim implements the control endpoints under /sim/v1/.
func (srv *Server) serveSim(w http.ResponseWriter, r *http.Request) {
	s := srv.store
	switch r.URL.Path {
	case "/sim/v1/faults":
		switch r.Method {
		case http.MethodGet:
		case http.MethodDelete:
			_ = srv.faults.set(faultConfig{ErrorCode: 500, IncludeWatches: true})
		case http.MethodPost, http.MethodPut:
			body, e := readBody(r)
			if e != nil {
				writeAPIError(w, e)
				return
			}
			var req struct {
				faultConfig
				Reset        bool `json:"reset"`
				DropWatches  bool `json:"dropWatches"`
				AbortWatches bool `json:"abortWatches"`
				Compact      bool `json:"compact"`
			}
			decode := func() error {
				if len(body) == 0 {
					return nil
				}
				dec := json.NewDecoder(strings.NewReader(string(body)))
				dec.DisallowUnknownFields()
				return dec.Decode(&req)
			}
			if err := decode(); err != nil {
				writeAPIError(w, errBadRequest("invalid fault request: "+err.Error()))
				return
			}
			// Fields not given keep their current value, or their default
			// with "reset": true.
			if req.Reset {
				req.faultConfig = faultConfig{ErrorCode: 500, IncludeWatches: true}
			} else {
				req.faultConfig, _ = srv.faults.get()
			}
			_ = decode()
			if err := srv.faults.set(req.faultConfig); err != nil {
				writeAPIError(w, errBadRequest(err.Error()))
				return
			}
			res := obj{}
			if req.Compact {
				s.mu.Lock()
				s.compact()
				res["compactedResourceVersion"] = fmt.Sprint(s.compactedRV)
				s.mu.Unlock()
			}
			if req.DropWatches || req.AbortWatches {
				s.mu.Lock()
				res["droppedWatches"] = s.stopWatchers("", req.AbortWatches)
				s.mu.Unlock()
			}
			cfg, left := srv.faults.get()
			res["faults"] = cfg
			res["errorsLeft"] = left
			writeJSON(w, 200, mustJSON(res))
			return
		default:
			writeAPIError(w, errMethodNotAllowed())
			return
		}
		cfg, left := srv.faults.get()
		writeJSON(w, 200, mustJSON(obj{"faults": cfg, "errorsLeft": left}))
	case "/sim/v1/stats":
		if r.Method != http.MethodGet {
			writeAPIError(w, errMethodNotAllowed())
			return
		}
		s.mu.RLock()
		objs := obj{}
		for gr, rs := range s.data {
			objs[strings.TrimPrefix(gr, "/")] = len(rs.objects)
		}
		st := obj{
			"resourceVersion":          fmt.Sprint(s.rv),
			"compactedResourceVersion": fmt.Sprint(s.compactedRV),
			"historyLength":            s.hist.n,
			"watches":                  s.nwatchers,
			"objects":                  objs,
			"requests":                 atomic.LoadUint64(&srv.requests),
			"faultsInjected":           atomic.LoadUint64(&srv.faults.injected),
		}
		s.mu.RUnlock()
		writeJSON(w, 200, mustJSON(st))
	default:
		writeAPIError(w, errPathNotFound())
	}
}
