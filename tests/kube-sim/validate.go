package main

import (
	"fmt"
	"net"
	"regexp"
	"strings"
)

const (
	dns1123LabelFmt     = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
	dns1123SubdomainFmt = dns1123LabelFmt + "(\\." + dns1123LabelFmt + ")*"
	dns1035LabelFmt     = "[a-z]([-a-z0-9]*[a-z0-9])?"
	qualifiedNameFmt    = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
)

var (
	ianaSvcNameRe = regexp.MustCompile("^[-a-z0-9]+$")
	ianaLetterRe  = regexp.MustCompile("[a-z]")
)

func isAlnumLower(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

// isDNS1123Label matches [a-z0-9]([-a-z0-9]*[a-z0-9])?
func isDNS1123Label(s string) bool {
	if s == "" || !isAlnumLower(s[0]) || !isAlnumLower(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if !isAlnumLower(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

func isDNS1123Subdomain(s string) bool {
	if s == "" {
		return false
	}
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			if !isDNS1123Label(s[start:i]) {
				return false
			}
			start = i + 1
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// isQualifiedNamePart matches ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
func isQualifiedNamePart(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isDNS1035Label matches [a-z]([-a-z0-9]*[a-z0-9])?
func isDNS1035Label(s string) bool {
	return s != "" && s[0] >= 'a' && s[0] <= 'z' && isDNS1123Label(s)
}

// Each returns "" when valid, else the message the real validators use.
func validateDNS1123Label(s string) string {
	if len(s) > 63 {
		return "must be no more than 63 characters"
	}
	if !isDNS1123Label(s) {
		return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '" + dns1123LabelFmt + "')"
	}
	return ""
}

func validateDNS1123Subdomain(s string) string {
	if len(s) > 253 {
		return "must be no more than 253 characters"
	}
	if !isDNS1123Subdomain(s) {
		return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '" + dns1123SubdomainFmt + "')"
	}
	return ""
}

func validateDNS1035Label(s string) string {
	if len(s) > 63 {
		return "must be no more than 63 characters"
	}
	if !isDNS1035Label(s) {
		return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '" + dns1035LabelFmt + "')"
	}
	return ""
}

// validateQualifiedName checks label/annotation keys and finalizer names.
func validateQualifiedName(s string) string {
	parts := strings.Split(s, "/")
	var name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		prefix := parts[0]
		name = parts[1]
		if prefix == "" {
			return "prefix part must be non-empty"
		}
		if m := validateDNS1123Subdomain(prefix); m != "" {
			return "prefix part " + m
		}
	default:
		return "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" + qualifiedNameFmt + "') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
	}
	if name == "" {
		return "name part must be non-empty"
	}
	if len(name) > 63 {
		return "name part must be no more than 63 characters"
	}
	if !isQualifiedNamePart(name) {
		return "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '" + qualifiedNameFmt + "')"
	}
	return ""
}

func validateLabelKey(s string) string { return validateQualifiedName(s) }

func validateLabelValue(s string) string {
	if s == "" {
		return ""
	}
	if len(s) > 63 {
		return "must be no more than 63 characters"
	}
	if !isQualifiedNamePart(s) {
		return "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(" + qualifiedNameFmt + ")?')"
	}
	return ""
}

func validateIANASvcName(s string) string {
	if len(s) > 15 {
		return "must be no more than 15 characters"
	}
	if !ianaSvcNameRe.MatchString(s) {
		return "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
	}
	if strings.Contains(s, "--") {
		return "must not contain consecutive hyphens"
	}
	if !ianaLetterRe.MatchString(s) {
		return "must contain at least one letter (a-z)"
	}
	if s[0] == '-' || s[len(s)-1] == '-' {
		return "must not begin or end with a hyphen"
	}
	return ""
}

// parseIPStrict parses an IP the way k8s.io/utils/net.ParseIPSloppy would
// not: leading zeros are rejected (Go already does this) and zones too.
func parseIPStrict(s string) net.IP {
	if strings.Contains(s, "%") {
		return nil
	}
	return net.ParseIP(s)
}

const ipInvalidMsg = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"

func isIPv4(ip net.IP) bool { return ip.To4() != nil }

// validateNonSpecialIP mirrors ValidateNonSpecialIP used for externalIPs.
func validateNonSpecialIP(s string, field string, errs *fieldErrs) {
	ip := parseIPStrict(s)
	if ip == nil {
		errs.invalid(field, s, ipInvalidMsg)
		return
	}
	switch {
	case ip.IsUnspecified():
		errs.invalid(field, s, "may not be unspecified (0.0.0.0)")
	case ip.IsLoopback():
		errs.invalid(field, s, "may not be in the loopback range (127.0.0.0/8, ::1/128)")
	case ip.IsLinkLocalUnicast():
		errs.invalid(field, s, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
	case ip.IsLinkLocalMulticast():
		errs.invalid(field, s, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)")
	}
}

// validateObjectMeta checks the parts of metadata every object has.
func validateObjectMeta(d *ResourceDef, o obj, errs *fieldErrs) {
	md := getMap(o, "metadata")
	name := getString(md, "name")
	if name == "" {
		if getString(md, "generateName") == "" {
			errs.required("metadata.name", "name or generateName is required")
		}
	} else if d.nameValidator != nil {
		if m := d.nameValidator(name); m != "" {
			errs.invalid("metadata.name", name, m)
		}
	}
	if d.Namespaced {
		if getString(md, "namespace") == "" {
			errs.required("metadata.namespace", "")
		}
	}
	if v, ok := md["labels"]; ok && v != nil {
		lm, ok := v.(map[string]interface{})
		if !ok {
			errs.invalid("metadata.labels", v, "must be a map of strings")
		}
		for _, k := range sortedKeys(lm) {
			if m := validateLabelKey(k); m != "" {
				errs.invalid("metadata.labels", k, m)
			}
			s, ok := lm[k].(string)
			if !ok {
				errs.invalid("metadata.labels", lm[k], "label values must be strings")
				continue
			}
			if m := validateLabelValue(s); m != "" {
				errs.invalid("metadata.labels", s, m)
			}
		}
	}
	if v, ok := md["annotations"]; ok && v != nil {
		am, ok := v.(map[string]interface{})
		if !ok {
			errs.invalid("metadata.annotations", v, "must be a map of strings")
		}
		total := 0
		for _, k := range sortedKeys(am) {
			if m := validateQualifiedName(strings.ToLower(k)); m != "" {
				errs.invalid("metadata.annotations", k, m)
			}
			s, ok := am[k].(string)
			if !ok {
				errs.invalid("metadata.annotations", am[k], "annotation values must be strings")
				continue
			}
			total += len(k) + len(s)
		}
		if total > 256*1024 {
			errs.append(fieldErr{typ: "TooLong", field: "metadata.annotations", detail: fmt.Sprintf("may not be more than %d bytes", 256*1024)})
		}
	}
	if v, ok := md["finalizers"]; ok && v != nil {
		fl, ok := v.([]interface{})
		if !ok {
			errs.invalid("metadata.finalizers", v, "must be a list of strings")
		}
		seen := map[string]bool{}
		for i, f := range fl {
			s, _ := f.(string)
			field := fmt.Sprintf("metadata.finalizers[%d]", i)
			if m := validateQualifiedName(s); m != "" {
				errs.invalid(field, s, m)
			} else if !strings.Contains(s, "/") && !d.isCustom() && !standardFinalizers[s] {
				errs.invalid(field, s, "name is neither a standard finalizer name nor is it fully qualified")
			}
			if seen[s] {
				errs.duplicate(field, s)
			}
			seen[s] = true
		}
	}
	for i, r := range getSlice(md, "ownerReferences") {
		rm, _ := r.(map[string]interface{})
		for _, f := range []string{"apiVersion", "kind", "name", "uid"} {
			if getString(rm, f) == "" {
				errs.required(fmt.Sprintf("metadata.ownerReferences[%d].%s", i, f), "")
			}
		}
	}
}

var standardFinalizers = map[string]bool{
	"kubernetes": true, "orphan": true, "foregroundDeletion": true,
}

func (l *fieldErrs) append(e fieldErr) { *l = append(*l, e) }
