package main

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	mrand "math/rand"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// obj is the generic representation of a Kubernetes object: decoded JSON
// with numbers kept as json.Number so that integers round-trip exactly.
type obj = map[string]interface{}

// decodeJSON parses one JSON value (numbers as json.Number) and rejects
// trailing garbage.
func decodeJSON(data []byte) (interface{}, error) {
	return parseJSONFast(data)
}

// decodeObject parses a JSON object.
func decodeObject(data []byte) (obj, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, errors.New("expected a JSON object")
	}
	return m, nil
}

// mustJSON encodes v; it only fails for unencodable Go values, which is a
// programming error.
func mustJSON(v interface{}) []byte {
	return fastJSON(v)
}

func deepCopy(v interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		return deepCopyMap(t)
	case []interface{}:
		n := make([]interface{}, len(t))
		for i, e := range t {
			n[i] = deepCopy(e)
		}
		return n
	default:
		return v
	}
}

func deepCopyMap(m map[string]interface{}) map[string]interface{} {
	if m == nil {
		return nil
	}
	n := make(map[string]interface{}, len(m))
	for k, e := range m {
		n[k] = deepCopy(e)
	}
	return n
}

// getPath walks nested maps.
func getPath(o interface{}, keys ...string) interface{} {
	cur := o
	for _, k := range keys {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}

func getMap(o interface{}, keys ...string) map[string]interface{} {
	m, _ := getPath(o, keys...).(map[string]interface{})
	return m
}

func getString(o interface{}, keys ...string) string {
	s, _ := getPath(o, keys...).(string)
	return s
}

func getSlice(o interface{}, keys ...string) []interface{} {
	s, _ := getPath(o, keys...).([]interface{})
	return s
}

// ensureMap returns m[k] as a map, creating it when missing or not a map.
func ensureMap(m map[string]interface{}, k string) map[string]interface{} {
	if c, ok := m[k].(map[string]interface{}); ok {
		return c
	}
	c := map[string]interface{}{}
	m[k] = c
	return c
}

func setPath(o map[string]interface{}, v interface{}, keys ...string) {
	cur := o
	for _, k := range keys[:len(keys)-1] {
		cur = ensureMap(cur, k)
	}
	cur[keys[len(keys)-1]] = v
}

func toInt64(v interface{}) (int64, bool) {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, true
		}
		if f, err := t.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true
		}
	case int64:
		return t, true
	case int:
		return int64(t), true
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return int64(t), true
		}
	}
	return 0, false
}

func isNumber(v interface{}) bool {
	switch v.(type) {
	case json.Number, int64, int, float64:
		return true
	}
	return false
}

func toFloat(v interface{}) (float64, bool) {
	switch t := v.(type) {
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case int64:
		return float64(t), true
	case int:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

// scalarKey returns a canonical string for a scalar JSON value, used to
// compare merge keys and primitive list members.
func scalarKey(v interface{}) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return "s:" + t
	case bool:
		return "b:" + strconv.FormatBool(t)
	default:
		if f, ok := toFloat(v); ok {
			return "n:" + strconv.FormatFloat(f, 'g', -1, 64)
		}
		return "j:" + string(mustJSON(v))
	}
}

// jsonEqual compares two decoded JSON values semantically.
func jsonEqual(a, b interface{}) bool {
	switch x := a.(type) {
	case map[string]interface{}:
		y, ok := b.(map[string]interface{})
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !jsonEqual(v, w) {
				return false
			}
		}
		return true
	case []interface{}:
		y, ok := b.([]interface{})
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !jsonEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	default:
		if _, ok := b.(map[string]interface{}); ok {
			return false
		}
		if _, ok := b.([]interface{}); ok {
			return false
		}
		return scalarKey(a) == scalarKey(b)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// fastRand is a non-cryptographic generator for UIDs and generated names,
// seeded from crypto/rand: uniqueness is all that is needed, and reading
// crypto/rand for every create costs a system call.
var (
	fastRandMu sync.Mutex
	fastRand   = func() *mrand.Rand {
		var seed [8]byte
		if _, err := rand.Read(seed[:]); err != nil {
			panic(err)
		}
		return mrand.New(mrand.NewSource(int64(binary.LittleEndian.Uint64(seed[:]))))
	}()
)

func randBytes(b []byte) {
	fastRandMu.Lock()
	fastRand.Read(b)
	fastRandMu.Unlock()
}

func newUID() string {
	b := make([]byte, 16)
	randBytes(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// generateNameSuffix mimics k8s.io/apiserver's SimpleNameGenerator.
func generateNameSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	randBytes(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// nowFunc is replaceable in tests.
var nowFunc = time.Now

func nowRFC3339() string {
	return nowFunc().UTC().Format(time.RFC3339)
}

func sortedKeys(m map[string]interface{}) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func stringMap(v interface{}) map[string]string {
	m, ok := v.(map[string]interface{})
	if !ok || len(m) == 0 {
		return nil
	}
	r := make(map[string]string, len(m))
	for k, e := range m {
		if s, ok := e.(string); ok {
			r[k] = s
		}
	}
	return r
}

// formatLabels renders a label map like labels.FormatLabels: "<none>" when
// empty, otherwise sorted k=v joined by commas.
func formatLabels(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

// humanDuration is a copy of k8s.io/apimachinery/pkg/util/duration.HumanDuration.
func humanDuration(d time.Duration) string {
	if seconds := int(d.Seconds()); seconds < -1 {
		return "<invalid>"
	} else if seconds < 0 {
		return "0s"
	} else if seconds < 60*2 {
		return fmt.Sprintf("%ds", seconds)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		s := int(d/time.Second) % 60
		if s == 0 {
			return fmt.Sprintf("%dm", minutes)
		}
		return fmt.Sprintf("%dm%ds", minutes, s)
	} else if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	if hours < 8 {
		m := int(d/time.Minute) % 60
		if m == 0 {
			return fmt.Sprintf("%dh", hours)
		}
		return fmt.Sprintf("%dh%dm", hours, m)
	} else if hours < 48 {
		return fmt.Sprintf("%dh", hours)
	} else if hours < 24*8 {
		h := hours % 24
		if h == 0 {
			return fmt.Sprintf("%dd", hours/24)
		}
		return fmt.Sprintf("%dd%dh", hours/24, h)
	} else if hours < 24*365*2 {
		return fmt.Sprintf("%dd", hours/24)
	} else if hours < 24*365*8 {
		dy := int(hours/24) % 365
		if dy == 0 {
			return fmt.Sprintf("%dy", hours/24/365)
		}
		return fmt.Sprintf("%dy%dd", hours/24/365, dy)
	}
	return fmt.Sprintf("%dy", int(hours/24/365))
}

// age renders the AGE column from a creationTimestamp string.
func age(ts string) string {
	if ts == "" {
		return "<unknown>"
	}
	t, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		return "<invalid>"
	}
	return humanDuration(nowFunc().Sub(t))
}
