package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiError is an error rendered as a metav1.Status body.
type apiError struct {
	code       int
	reason     string
	message    string
	details    map[string]interface{}
	retryAfter int
}

func (e *apiError) Error() string { return e.message }

func (e *apiError) status() map[string]interface{} {
	st := map[string]interface{}{
		"kind":       "Status",
		"apiVersion": "v1",
		"metadata":   map[string]interface{}{},
		"status":     "Failure",
		"message":    e.message,
		"code":       e.code,
	}
	if e.reason != "" {
		st["reason"] = e.reason
	}
	if e.details != nil {
		st["details"] = e.details
	}
	return st
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.retryAfter))
	}
	writeJSON(w, e.code, mustJSON(e.status()))
}

func writeJSON(w http.ResponseWriter, code int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	w.WriteHeader(code)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte{'\n'})
}

func qualifiedResource(d *ResourceDef) string {
	if d == nil {
		return ""
	}
	if d.Group == "" {
		return d.Resource
	}
	return d.Resource + "." + d.Group
}

func errDetails(d *ResourceDef, name string) map[string]interface{} {
	m := map[string]interface{}{}
	if name != "" {
		m["name"] = name
	}
	if d != nil {
		if d.Group != "" {
			m["group"] = d.Group
		}
		m["kind"] = d.Resource
	}
	return m
}

func errNotFound(d *ResourceDef, name string) *apiError {
	return &apiError{code: 404, reason: "NotFound",
		message: fmt.Sprintf("%s %q not found", qualifiedResource(d), name),
		details: errDetails(d, name)}
}

func errNamespaceNotFound(ns string) *apiError {
	return &apiError{code: 404, reason: "NotFound",
		message: fmt.Sprintf("namespaces %q not found", ns),
		details: map[string]interface{}{"name": ns, "kind": "namespaces"}}
}

func errPathNotFound() *apiError {
	return &apiError{code: 404, reason: "NotFound",
		message: "the server could not find the requested resource",
		details: map[string]interface{}{"causes": []interface{}{map[string]interface{}{
			"reason": "UnexpectedServerResponse", "message": "404 page not found"}}}}
}

func errAlreadyExists(d *ResourceDef, name string) *apiError {
	return &apiError{code: 409, reason: "AlreadyExists",
		message: fmt.Sprintf("%s %q already exists", qualifiedResource(d), name),
		details: errDetails(d, name)}
}

func errConflict(d *ResourceDef, name, why string) *apiError {
	return &apiError{code: 409, reason: "Conflict",
		message: fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", qualifiedResource(d), name, why),
		details: errDetails(d, name)}
}

func errStaleRV(d *ResourceDef, name string) *apiError {
	return errConflict(d, name, "the object has been modified; please apply your changes to the latest version and try again")
}

func errBadRequest(msg string) *apiError {
	return &apiError{code: 400, reason: "BadRequest", message: msg}
}

func errForbidden(d *ResourceDef, name, msg string) *apiError {
	return &apiError{code: 403, reason: "Forbidden",
		message: fmt.Sprintf("%s %q is forbidden: %s", qualifiedResource(d), name, msg),
		details: errDetails(d, name)}
}

func errGone(msg string) *apiError {
	return &apiError{code: 410, reason: "Expired", message: msg}
}

func errMethodNotAllowed() *apiError {
	return &apiError{code: 405, reason: "MethodNotAllowed",
		message: "the server does not allow this method on the requested resource"}
}

func errUnsupportedMediaType(ct string, accepted []string) *apiError {
	return &apiError{code: 415, reason: "UnsupportedMediaType",
		message: fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s", strings.Join(accepted, ", "))}
}

func errNotAcceptable() *apiError {
	return &apiError{code: 406, reason: "NotAcceptable",
		message: "only the following media types are accepted: application/json"}
}

func errInternal(msg string) *apiError {
	return &apiError{code: 500, reason: "InternalError",
		message: "Internal error occurred: " + msg,
		details: map[string]interface{}{"causes": []interface{}{map[string]interface{}{"message": msg}}}}
}

func errTooLarge() *apiError {
	return &apiError{code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is 3145728"}
}

func errUnauthorized() *apiError {
	return &apiError{code: 401, reason: "Unauthorized", message: "Unauthorized"}
}

func errTimeout(msg string) *apiError {
	return &apiError{code: 504, reason: "Timeout", message: msg}
}

// fieldErr mirrors k8s.io/apimachinery/pkg/util/validation/field.Error.
type fieldErr struct {
	typ    string // Required, Invalid, NotSupported, Duplicate, Forbidden, TooLong, TooMany
	field  string
	value  interface{}
	detail string
	valid  []string // for NotSupported
}

var fieldReason = map[string]string{
	"Required":     "FieldValueRequired",
	"Invalid":      "FieldValueInvalid",
	"NotSupported": "FieldValueNotSupported",
	"Duplicate":    "FieldValueDuplicate",
	"Forbidden":    "FieldValueForbidden",
	"TooLong":      "FieldValueTooLong",
	"TooMany":      "FieldValueTooMany",
	"TypeInvalid":  "FieldValueTypeInvalid",
}

func fmtValue(v interface{}) string {
	switch t := v.(type) {
	case string:
		return strconv.Quote(t)
	case nil:
		return "null"
	case json.Number:
		return t.String()
	case int, int64, bool, float64:
		return fmt.Sprint(t)
	default:
		return string(mustJSON(v))
	}
}

func (f fieldErr) body() string {
	var s string
	switch f.typ {
	case "Required":
		s = "Required value"
	case "Forbidden":
		s = "Forbidden"
	case "TooLong":
		s = "Too long"
	case "TooMany":
		s = "Too many"
	case "NotSupported":
		s = "Unsupported value: " + fmtValue(f.value)
		if len(f.valid) > 0 {
			q := make([]string, len(f.valid))
			for i, v := range f.valid {
				q[i] = strconv.Quote(v)
			}
			s += ": supported values: " + strings.Join(q, ", ")
		}
		return s
	case "Duplicate":
		s = "Duplicate value: " + fmtValue(f.value)
	case "TypeInvalid":
		s = "Invalid value: " + fmtValue(f.value)
	default:
		s = "Invalid value: " + fmtValue(f.value)
	}
	if f.detail != "" {
		s += ": " + f.detail
	}
	return s
}

func (f fieldErr) String() string { return f.field + ": " + f.body() }

type fieldErrs []fieldErr

func (l *fieldErrs) required(field, detail string) {
	*l = append(*l, fieldErr{typ: "Required", field: field, detail: detail})
}
func (l *fieldErrs) invalid(field string, v interface{}, detail string) {
	*l = append(*l, fieldErr{typ: "Invalid", field: field, value: v, detail: detail})
}
func (l *fieldErrs) notSupported(field string, v interface{}, valid ...string) {
	*l = append(*l, fieldErr{typ: "NotSupported", field: field, value: v, valid: valid})
}
func (l *fieldErrs) duplicate(field string, v interface{}) {
	*l = append(*l, fieldErr{typ: "Duplicate", field: field, value: v})
}
func (l *fieldErrs) forbidden(field, detail string) {
	*l = append(*l, fieldErr{typ: "Forbidden", field: field, detail: detail})
}

// errInvalid builds the 422 Invalid error like apierrors.NewInvalid.
func errInvalid(kind, group, name string, errs fieldErrs) *apiError {
	causes := make([]interface{}, 0, len(errs))
	msgs := make([]string, 0, len(errs))
	for _, e := range errs {
		causes = append(causes, map[string]interface{}{
			"reason": fieldReason[e.typ], "message": e.body(), "field": e.field})
		msgs = append(msgs, e.String())
	}
	var agg string
	if len(msgs) == 1 {
		agg = msgs[0]
	} else {
		agg = "[" + strings.Join(msgs, ", ") + "]"
	}
	gk := kind
	if group != "" {
		gk = kind + "." + group
	}
	details := map[string]interface{}{"name": name, "kind": kind, "causes": causes}
	if group != "" {
		details["group"] = group
	}
	return &apiError{code: 422, reason: "Invalid",
		message: fmt.Sprintf("%s %q is invalid: %s", gk, name, agg),
		details: details}
}
