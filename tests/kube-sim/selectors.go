package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// labelRequirement is one term of a label selector.
type labelRequirement struct {
	key    string
	op     string // exists, !, =, !=, in, notin, gt, lt
	values []string
}

type labelSelector []labelRequirement

func (s labelSelector) empty() bool { return len(s) == 0 }

func (s labelSelector) matches(labels map[string]string) bool {
	for _, r := range s {
		v, has := labels[r.key]
		switch r.op {
		case "exists":
			if !has {
				return false
			}
		case "!":
			if has {
				return false
			}
		case "=", "in":
			if !has || !contains(r.values, v) {
				return false
			}
		case "!=", "notin":
			if has && contains(r.values, v) {
				return false
			}
		case "gt", "lt":
			if !has {
				return false
			}
			lv, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return false
			}
			rv, _ := strconv.ParseInt(r.values[0], 10, 64)
			if (r.op == "gt" && !(lv > rv)) || (r.op == "lt" && !(lv < rv)) {
				return false
			}
		}
	}
	return true
}

func contains(l []string, s string) bool {
	for _, e := range l {
		if e == s {
			return true
		}
	}
	return false
}

type selToken struct {
	kind string // ident, op, (, ), ",", end
	val  string
}

func lexSelector(s string) ([]selToken, error) {
	var toks []selToken
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, selToken{kind: string(c)})
			i++
		case c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, selToken{kind: "op", val: "!="})
				i += 2
			} else {
				toks = append(toks, selToken{kind: "!"})
				i++
			}
		case c == '=':
			if i+1 < len(s) && s[i+1] == '=' {
				i += 2
			} else {
				i++
			}
			toks = append(toks, selToken{kind: "op", val: "="})
		case c == '>':
			toks = append(toks, selToken{kind: "op", val: "gt"})
			i++
		case c == '<':
			toks = append(toks, selToken{kind: "op", val: "lt"})
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n\r(),!=<>", rune(s[j])) {
				j++
			}
			w := s[i:j]
			switch w {
			case "in", "notin":
				toks = append(toks, selToken{kind: "ident", val: w})
			default:
				toks = append(toks, selToken{kind: "ident", val: w})
			}
			i = j
		}
	}
	toks = append(toks, selToken{kind: "end"})
	return toks, nil
}

// parseLabelSelector implements the string syntax of labels.Parse.
func parseLabelSelector(s string) (labelSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	toks, _ := lexSelector(s)
	p := 0
	next := func() selToken { t := toks[p]; p++; return t }
	peek := func() selToken { return toks[p] }
	var sel labelSelector
	for {
		t := next()
		var r labelRequirement
		switch t.kind {
		case "!":
			k := next()
			if k.kind != "ident" {
				return nil, fmt.Errorf("unable to parse requirement: expected a key after '!'")
			}
			r = labelRequirement{key: k.val, op: "!"}
		case "ident":
			r.key = t.val
			nt := peek()
			switch {
			case nt.kind == "," || nt.kind == "end":
				r.op = "exists"
			case nt.kind == "op":
				next()
				r.op = nt.val
				v := peek()
				if v.kind == "ident" {
					next()
					r.values = []string{v.val}
				} else if v.kind == "," || v.kind == "end" {
					r.values = []string{""}
				} else {
					return nil, fmt.Errorf("unable to parse requirement: found '%s', expected: identifier", v.kind)
				}
				if r.op == "gt" || r.op == "lt" {
					if _, err := strconv.ParseInt(r.values[0], 10, 64); err != nil {
						return nil, fmt.Errorf("unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer")
					}
				}
			case nt.kind == "ident" && (nt.val == "in" || nt.val == "notin"):
				next()
				r.op = nt.val
				if next().kind != "(" {
					return nil, fmt.Errorf("unable to parse requirement: found '%s', expected: '('", peek().val)
				}
				for {
					v := next()
					if v.kind == ")" {
						break
					}
					if v.kind == "," {
						continue
					}
					if v.kind != "ident" {
						return nil, fmt.Errorf("unable to parse requirement: found '%s', expected: ',', ')' or identifier", v.kind)
					}
					r.values = append(r.values, v.val)
				}
				if r.op == "in" && len(r.values) == 0 {
					return nil, fmt.Errorf("unable to parse requirement: for 'in', 'notin' operators, values set can't be empty")
				}
			default:
				return nil, fmt.Errorf("unable to parse requirement: found '%s', expected: in, notin, =, ==, !=, gt, lt", nt.val+nt.kind)
			}
		default:
			return nil, fmt.Errorf("unable to parse requirement: found '%s', expected: !, identifier, or 'end of string'", t.kind)
		}
		if err := validateLabelKey(r.key); err != "" {
			return nil, fmt.Errorf("unable to parse requirement: key: Invalid value: %q: %s", r.key, err)
		}
		if r.op != "gt" && r.op != "lt" {
			for _, v := range r.values {
				if err := validateLabelValue(v); err != "" {
					return nil, fmt.Errorf("unable to parse requirement: values[0][%s]: Invalid value: %q: %s", r.key, v, err)
				}
			}
		}
		sel = append(sel, r)
		t = next()
		if t.kind == "end" {
			break
		}
		if t.kind != "," {
			return nil, fmt.Errorf("found '%s', expected: ',' or 'end of string'", t.val)
		}
	}
	sort.SliceStable(sel, func(i, j int) bool { return sel[i].key < sel[j].key })
	return sel, nil
}

// fieldRequirement is one term of a field selector.
type fieldRequirement struct {
	field string
	neg   bool
	value string
}

type fieldSelector []fieldRequirement

// splitUnescaped splits on sep, honouring backslash escapes.
func splitUnescaped(s string, sep byte) []string {
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			cur.WriteByte(c)
			cur.WriteByte(s[i+1])
			i++
			continue
		}
		if c == sep {
			parts = append(parts, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteByte(c)
	}
	parts = append(parts, cur.String())
	return parts
}

func unescapeFieldValue(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' {
			if i+1 >= len(s) {
				return "", fmt.Errorf("invalid field selector: trailing backslash")
			}
			n := s[i+1]
			if n != '\\' && n != ',' && n != '=' {
				return "", fmt.Errorf("invalid field selector: invalid escape sequence: \\%c", n)
			}
			b.WriteByte(n)
			i++
			continue
		}
		if c == ',' || c == '=' {
			return "", fmt.Errorf("invalid field selector: unescaped %c", c)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

// parseFieldSelector implements fields.ParseSelector.
func parseFieldSelector(s string) (fieldSelector, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var sel fieldSelector
	for _, part := range splitUnescaped(s, ',') {
		if part == "" {
			continue
		}
		var r fieldRequirement
		var idx int
		switch {
		case strings.Contains(part, "!="):
			idx = strings.Index(part, "!=")
			r.field, r.neg = part[:idx], true
			part = part[idx+2:]
		case strings.Contains(part, "=="):
			idx = strings.Index(part, "==")
			r.field = part[:idx]
			part = part[idx+2:]
		case strings.Contains(part, "="):
			idx = strings.Index(part, "=")
			r.field = part[:idx]
			part = part[idx+1:]
		default:
			return nil, fmt.Errorf("invalid selector: '%s'; can't understand '%s'", s, part)
		}
		v, err := unescapeFieldValue(part)
		if err != nil {
			return nil, err
		}
		r.field = strings.TrimSpace(r.field)
		r.value = v
		sel = append(sel, r)
	}
	return sel, nil
}

func (s fieldSelector) matches(values func(string) string) bool {
	for _, r := range s {
		v := values(r.field)
		if (v == r.value) == r.neg {
			return false
		}
	}
	return true
}
