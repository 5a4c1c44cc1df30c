package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// A small JSON codec for the generic object representation. Encoding
// produces exactly what encoding/json produces for the same values (sorted
// map keys, HTML-safe escaping), only several times faster; decoding keeps
// numbers as json.Number. Both are covered by fastjson_test.go.

const hexDigits = "0123456789abcdef"

// appendJSON appends the JSON encoding of v.
func appendJSON(b []byte, v interface{}) []byte {
	switch t := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendJSONString(b, t)
	case bool:
		if t {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case json.Number:
		if t == "" {
			return append(b, '0')
		}
		return append(b, t...)
	case int64:
		return strconv.AppendInt(b, t, 10)
	case int:
		return strconv.AppendInt(b, int64(t), 10)
	case float64:
		return appendFloat(b, t)
	case map[string]interface{}:
		return appendJSONObject(b, t)
	case []interface{}:
		if t == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, e)
		}
		return append(b, ']')
	case json.RawMessage:
		return append(b, t...)
	default:
		j, err := json.Marshal(v)
		if err != nil {
			panic(fmt.Sprintf("json encode: %v", err))
		}
		return append(b, j...)
	}
}

func appendJSONObject(b []byte, m map[string]interface{}) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var arr [24]string
	keys := arr[:0]
	for k := range m {
		keys = append(keys, k)
	}
	// insertion sort: objects are small and this avoids allocations
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSON(b, m[k])
	}
	return append(b, '}')
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONString escapes like encoding/json with HTML escaping on.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// encodeTopObject encodes a top-level API object like kube-apiserver orders
// it: apiVersion and kind first, then the other fields (sorted). It also
// returns the offset where the fields after kind start (0 when the object
// lacks apiVersion or kind), so that "{" + b[off:] is the object without its
// type metadata — the form of items in lists of built-in types.
func encodeTopObject(o obj) ([]byte, int) {
	b := make([]byte, 0, 512)
	b = append(b, '{')
	av, hasAV := o["apiVersion"]
	k, hasK := o["kind"]
	if !hasAV || !hasK {
		return appendJSONObject(b[:0], o), 0
	}
	b = append(b, `"apiVersion":`...)
	b = appendJSON(b, av)
	b = append(b, `,"kind":`...)
	b = appendJSON(b, k)
	off := 0
	var arr [24]string
	keys := arr[:0]
	for key := range o {
		if key != "apiVersion" && key != "kind" {
			keys = append(keys, key)
		}
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	for i, key := range keys {
		b = append(b, ',')
		if i == 0 {
			off = len(b)
		}
		b = appendJSONString(b, key)
		b = append(b, ':')
		b = appendJSON(b, o[key])
	}
	return append(b, '}'), off
}

// fastJSON encodes v.
func fastJSON(v interface{}) []byte {
	return appendJSON(make([]byte, 0, 512), v)
}

// ---- decoding ----

type jsonParser struct {
	b []byte
	i int
}

type jsonSyntaxError struct {
	msg string
	off int
}

func (e *jsonSyntaxError) Error() string { return e.msg }

func (p *jsonParser) errAt(what string) error {
	if p.i >= len(p.b) {
		return &jsonSyntaxError{"unexpected end of JSON input", p.i}
	}
	return &jsonSyntaxError{fmt.Sprintf("invalid character %s %s", quoteChar(p.b[p.i]), what), p.i}
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func (p *jsonParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// parseJSONFast parses one JSON document (numbers as json.Number).
func parseJSONFast(b []byte) (interface{}, error) {
	p := &jsonParser{b: b}
	p.ws()
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.i != len(p.b) {
		return nil, p.errAt("after top-level value")
	}
	return v, nil
}

const maxDepth = 10000

func (p *jsonParser) value(depth int) (interface{}, error) {
	if depth > maxDepth {
		return nil, errors.New("exceeded max depth")
	}
	if p.i >= len(p.b) {
		return nil, p.errAt("")
	}
	switch c := p.b[p.i]; {
	case c == '{':
		p.i++
		m := make(map[string]interface{})
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == '}' {
			p.i++
			return m, nil
		}
		for {
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != '"' {
				return nil, p.errAt("looking for beginning of object key string")
			}
			k, err := p.str(true)
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.i >= len(p.b) || p.b[p.i] != ':' {
				return nil, p.errAt("after object key")
			}
			p.i++
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			p.ws()
			if p.i >= len(p.b) {
				return nil, p.errAt("")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == '}' {
				p.i++
				return m, nil
			}
			return nil, p.errAt("after object key:value pair")
		}
	case c == '[':
		p.i++
		l := make([]interface{}, 0, 4)
		p.ws()
		if p.i < len(p.b) && p.b[p.i] == ']' {
			p.i++
			return l, nil
		}
		for {
			p.ws()
			v, err := p.value(depth + 1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			p.ws()
			if p.i >= len(p.b) {
				return nil, p.errAt("")
			}
			if p.b[p.i] == ',' {
				p.i++
				continue
			}
			if p.b[p.i] == ']' {
				p.i++
				return l, nil
			}
			return nil, p.errAt("after array element")
		}
	case c == '"':
		return p.str(false)
	case c == 't':
		return p.lit("true", true)
	case c == 'f':
		return p.lit("false", false)
	case c == 'n':
		return p.lit("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		return p.num()
	default:
		return nil, p.errAt("looking for beginning of value")
	}
}

func (p *jsonParser) lit(s string, v interface{}) (interface{}, error) {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return v, nil
	}
	for j := 0; j < len(s); j++ {
		if p.i >= len(p.b) || p.b[p.i] != s[j] {
			return nil, p.errAt("in literal " + s + " (expecting " + quoteChar(s[j]) + ")")
		}
		p.i++
	}
	return nil, p.errAt("")
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *jsonParser) num() (interface{}, error) {
	start := p.i
	if p.b[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.b) {
		return nil, p.errAt("")
	}
	if p.b[p.i] == '0' {
		p.i++
	} else if isDigit(p.b[p.i]) {
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	} else {
		return nil, p.errAt("in numeric literal")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return nil, p.errAt("after decimal point in numeric literal")
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if p.i >= len(p.b) || !isDigit(p.b[p.i]) {
			return nil, p.errAt("in exponent of numeric literal")
		}
		for p.i < len(p.b) && isDigit(p.b[p.i]) {
			p.i++
		}
	}
	return json.Number(p.b[start:p.i]), nil
}

// common keys are interned to save allocations.
var internedKeys = func() map[string]string {
	m := map[string]string{}
	for _, k := range []string{"apiVersion", "kind", "metadata", "spec", "status", "name", "namespace",
		"labels", "annotations", "uid", "resourceVersion", "creationTimestamp", "generation", "finalizers",
		"ownerReferences", "data", "type", "ports", "port", "targetPort", "protocol", "nodePort", "selector",
		"clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "loadBalancer", "ingress", "ip", "ipMode",
		"conditions", "reason", "message", "lastTransitionTime", "items", "value", "key", "holderIdentity",
		"leaseDurationSeconds", "renewTime", "acquireTime", "leaseTransitions", "addresses", "endpoints",
		"addressType", "involvedObject", "count", "firstTimestamp", "lastTimestamp", "source", "component",
		"sessionAffinity", "internalTrafficPolicy", "externalTrafficPolicy", "allocateLoadBalancerNodePorts",
		"containers", "image", "generateName", "deletionTimestamp", "app", "bench"} {
		m[k] = k
	}
	return m
}()

func (p *jsonParser) str(key bool) (string, error) {
	p.i++ // opening quote
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			raw := p.b[start:p.i]
			p.i++
			if key {
				if s, ok := internedKeys[string(raw)]; ok {
					return s, nil
				}
			}
			return string(raw), nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.i++
	}
	// slow path: escapes, control characters or non-ASCII
	out := make([]byte, 0, p.i-start+16)
	out = append(out, p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c < 0x20:
			return "", p.errAt("in string literal")
		case c == '\\':
			p.i++
			if p.i >= len(p.b) {
				return "", p.errAt("")
			}
			e := p.b[p.i]
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := p.hex4(p.i + 1)
				if !ok {
					return "", p.errAt("in \\u hexadecimal character escape")
				}
				p.i += 4
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if p.i+6 < len(p.b) && p.b[p.i+1] == '\\' && p.b[p.i+2] == 'u' {
						if x, ok := p.hex4(p.i + 3); ok {
							r2 = x
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						p.i += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", p.errAt("in string escape code")
			}
			p.i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.b[p.i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, "\ufffd"...)
			} else {
				out = append(out, p.b[p.i:p.i+size]...)
			}
			p.i += size
		}
	}
	return "", p.errAt("")
}

func (p *jsonParser) hex4(at int) (rune, bool) {
	if at+4 > len(p.b) {
		return 0, false
	}
	var r rune
	for _, c := range p.b[at : at+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}
