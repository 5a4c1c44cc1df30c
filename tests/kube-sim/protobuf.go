package main

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Decoding of application/vnd.kubernetes.protobuf request bodies, which
// kubectl's typed clients send (kubectl create namespace/configmap/secret/
// service, ...). Responses are always JSON: clients list application/json
// as an acceptable fallback.

type pbField struct {
	num      int
	name     string
	kind     byte // see protoSchemaText
	repeated bool
	msg      string
}

type pbMsg struct {
	name   string
	mapEnt bool
	fields map[int]*pbField
}

var (
	pbOnce    sync.Once
	pbSchemas map[string]*pbMsg
)

func pbSchema() map[string]*pbMsg {
	pbOnce.Do(func() {
		pbSchemas = map[string]*pbMsg{}
		for _, line := range strings.Split(protoSchemaText, "\n") {
			i := strings.IndexByte(line, '|')
			if i < 0 {
				continue
			}
			m := &pbMsg{name: line[:i], fields: map[int]*pbField{}}
			if strings.HasSuffix(m.name, "*") {
				m.name = strings.TrimSuffix(m.name, "*")
				m.mapEnt = true
			}
			if line[i+1:] != "" {
				for _, f := range strings.Split(line[i+1:], ";") {
					p := strings.SplitN(f, ":", 4)
					n, _ := strconv.Atoi(p[0])
					pf := &pbField{num: n, name: p[1], kind: p[2][0], repeated: strings.HasSuffix(p[2], "r"), msg: p[3]}
					m.fields[n] = pf
				}
			}
			pbSchemas[m.name] = m
		}
	})
	return pbSchemas
}

var pbKindMessages = map[string]string{
	"v1/Namespace":                      ".k8s.io.api.core.v1.Namespace",
	"v1/Service":                        ".k8s.io.api.core.v1.Service",
	"v1/Pod":                            ".k8s.io.api.core.v1.Pod",
	"v1/Node":                           ".k8s.io.api.core.v1.Node",
	"v1/Secret":                         ".k8s.io.api.core.v1.Secret",
	"v1/ConfigMap":                      ".k8s.io.api.core.v1.ConfigMap",
	"v1/Event":                          ".k8s.io.api.core.v1.Event",
	"v1/Endpoints":                      ".k8s.io.api.core.v1.Endpoints",
	"discovery.k8s.io/v1/EndpointSlice": ".k8s.io.api.discovery.v1.EndpointSlice",
	"coordination.k8s.io/v1/Lease":      ".k8s.io.api.coordination.v1.Lease",
	"v1/DeleteOptions":                  ".k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
	"meta.k8s.io/v1/DeleteOptions":      ".k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
}

// Fields embedded inline in JSON (Go struct embedding).
var pbInline = map[string]bool{
	"volumeSource":             true,
	"ephemeralContainerCommon": true,
	"persistentVolumeSource":   true,
}

// Pointer-typed scalars whose zero value is meaningful (an explicit
// false/0); other zero scalars are dropped like JSON omitempty would.
var pbKeepZero = map[string]bool{
	"allocateLoadBalancerNodePorts": true, "automountServiceAccountToken": true, "enableServiceLinks": true,
	"hostUsers": true, "shareProcessNamespace": true, "setHostnameAsFQDN": true, "readOnlyRootFilesystem": true,
	"runAsNonRoot": true, "allowPrivilegeEscalation": true, "privileged": true, "immutable": true,
	"ready": true, "serving": true, "terminating": true, "terminationGracePeriodSeconds": true,
	"activeDeadlineSeconds": true, "runAsUser": true, "runAsGroup": true, "fsGroup": true,
	"leaseDurationSeconds": true, "leaseTransitions": true, "priority": true, "gracePeriodSeconds": true,
	"orphanDependents": true, "port": true, "containerPort": true, "optional": true, "defaultMode": true,
}

var pbMagic = []byte("k8s\x00")

func isProtobuf(ct string) bool { return ct == "application/vnd.kubernetes.protobuf" }

// decodeK8sProtobuf turns a protobuf envelope (runtime.Unknown) into the
// JSON object representation.
func decodeK8sProtobuf(b []byte) (obj, error) {
	if !bytes.HasPrefix(b, pbMagic) {
		return nil, errors.New("protobuf body does not start with the k8s magic prefix")
	}
	b = b[len(pbMagic):]
	var apiVersion, kind string
	var raw []byte
	err := pbEach(b, func(num int, wt int, v uint64, data []byte) error {
		switch num {
		case 1:
			return pbEach(data, func(n int, _ int, _ uint64, d []byte) error {
				if n == 1 {
					apiVersion = string(d)
				} else if n == 2 {
					kind = string(d)
				}
				return nil
			})
		case 2:
			raw = data
		case 3:
			if len(data) > 0 {
				return fmt.Errorf("unsupported protobuf contentEncoding %q", data)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	name := pbKindMessages[apiVersion+"/"+kind]
	if name == "" {
		return nil, fmt.Errorf("protobuf decoding of %s %s is not supported by kube-sim (send JSON)", apiVersion, kind)
	}
	o, err := pbDecode(raw, pbSchema()[name])
	if err != nil {
		return nil, fmt.Errorf("decoding protobuf %s: %v", kind, err)
	}
	if kind != "DeleteOptions" {
		o["apiVersion"] = apiVersion
		o["kind"] = kind
	}
	return o, nil
}

// pbEach iterates over the fields of a protobuf message.
func pbEach(b []byte, fn func(num, wt int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("bad protobuf tag")
		}
		b = b[n:]
		num, wt := int(tag>>3), int(tag&7)
		var v uint64
		var data []byte
		switch wt {
		case 0:
			v, n = binary.Uvarint(b)
			if n <= 0 {
				return errors.New("bad protobuf varint")
			}
			b = b[n:]
		case 1:
			if len(b) < 8 {
				return errors.New("truncated protobuf fixed64")
			}
			v = binary.LittleEndian.Uint64(b)
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return errors.New("truncated protobuf fixed32")
			}
			v = uint64(binary.LittleEndian.Uint32(b))
			b = b[4:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errors.New("truncated protobuf bytes")
			}
			data = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("unsupported protobuf wire type %d", wt)
		}
		if err := fn(num, wt, v, data); err != nil {
			return err
		}
	}
	return nil
}

func pbScalar(kind byte, wt int, v uint64, data []byte) interface{} {
	switch kind {
	case 's':
		return string(data)
	case 'B':
		return base64.StdEncoding.EncodeToString(data)
	case 'b':
		return v != 0
	case 'i':
		return int64(v)
	case 'u':
		return int64(v)
	case 'z':
		return int64(v>>1) ^ -int64(v&1)
	case 'd', 'x':
		if kind == 'd' {
			return math.Float64frombits(v)
		}
		return int64(v)
	case 'f', 'y':
		if kind == 'f' {
			return float64(math.Float32frombits(uint32(v)))
		}
		return int64(int32(uint32(v)))
	}
	return nil
}

func isZero(v interface{}) bool {
	switch t := v.(type) {
	case string:
		return t == ""
	case bool:
		return !t
	case int64:
		return t == 0
	case float64:
		return t == 0
	}
	return false
}

func pbDecode(b []byte, m *pbMsg) (obj, error) {
	if m == nil {
		return nil, errors.New("unknown protobuf message")
	}
	out := obj{}
	err := pbEach(b, func(num, wt int, v uint64, data []byte) error {
		f := m.fields[num]
		if f == nil {
			return nil
		}
		var val interface{}
		if f.kind == 'm' {
			sub := pbSchema()[f.msg]
			if sub == nil {
				return fmt.Errorf("unknown protobuf message %s", f.msg)
			}
			if sub.mapEnt {
				e, err := pbDecode(data, sub)
				if err != nil {
					return err
				}
				mm, _ := out[f.name].(map[string]interface{})
				if mm == nil {
					mm = obj{}
					out[f.name] = mm
				}
				k, _ := e["key"].(string)
				if val, ok := e["value"]; ok {
					mm[k] = val
				} else {
					mm[k] = pbZeroValue(sub.fields[2])
				}
				return nil
			}
			sv, keep, err := pbSpecial(f.msg, data)
			if err != nil {
				return err
			}
			if !keep {
				return nil
			}
			if sv == nil {
				so, err := pbDecode(data, sub)
				if err != nil {
					return err
				}
				if pbInline[f.name] {
					for k, x := range so {
						out[k] = x
					}
					return nil
				}
				sv = so
			}
			val = sv
		} else if wt == 2 && f.kind != 's' && f.kind != 'B' {
			// packed repeated scalars
			var list []interface{}
			for len(data) > 0 {
				x, n := binary.Uvarint(data)
				if n <= 0 {
					return errors.New("bad packed varint")
				}
				data = data[n:]
				list = append(list, pbScalar(f.kind, 0, x, nil))
			}
			l, _ := out[f.name].([]interface{})
			out[f.name] = append(l, list...)
			return nil
		} else {
			val = pbScalar(f.kind, wt, v, data)
			if !f.repeated && isZero(val) && !pbKeepZero[f.name] {
				return nil
			}
		}
		if f.repeated {
			l, _ := out[f.name].([]interface{})
			out[f.name] = append(l, val)
		} else {
			out[f.name] = val
		}
		return nil
	})
	return out, err
}

func pbZeroValue(f *pbField) interface{} {
	if f == nil {
		return ""
	}
	switch f.kind {
	case 's', 'B':
		return ""
	case 'b':
		return false
	case 'm':
		return obj{}
	}
	return int64(0)
}

// pbSpecial converts the apimachinery types that have a custom JSON form.
// It returns (nil, true, nil) for ordinary messages.
func pbSpecial(msg string, data []byte) (interface{}, bool, error) {
	switch msg {
	case ".k8s.io.apimachinery.pkg.apis.meta.v1.Time", ".k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime":
		var sec, nanos int64
		if err := pbEach(data, func(n, _ int, v uint64, _ []byte) error {
			if n == 1 {
				sec = int64(v)
			} else if n == 2 {
				nanos = int64(int32(v))
			}
			return nil
		}); err != nil {
			return nil, false, err
		}
		if sec == 0 && nanos == 0 {
			return nil, false, nil
		}
		t := time.Unix(sec, nanos).UTC()
		if strings.HasSuffix(msg, "MicroTime") {
			return t.Format("2006-01-02T15:04:05.000000Z07:00"), true, nil
		}
		return t.Format(time.RFC3339), true, nil
	case ".k8s.io.apimachinery.pkg.apis.meta.v1.Duration":
		var d int64
		_ = pbEach(data, func(n, _ int, v uint64, _ []byte) error {
			if n == 1 {
				d = int64(v)
			}
			return nil
		})
		return time.Duration(d).String(), true, nil
	case ".k8s.io.apimachinery.pkg.util.intstr.IntOrString":
		var typ, iv int64
		var sv string
		_ = pbEach(data, func(n, _ int, v uint64, d []byte) error {
			switch n {
			case 1:
				typ = int64(v)
			case 2:
				iv = int64(int32(v))
			case 3:
				sv = string(d)
			}
			return nil
		})
		if typ == 1 {
			return sv, true, nil
		}
		return iv, true, nil
	case ".k8s.io.apimachinery.pkg.api.resource.Quantity":
		var s string
		_ = pbEach(data, func(n, _ int, _ uint64, d []byte) error {
			if n == 1 {
				s = string(d)
			}
			return nil
		})
		return s, true, nil
	case ".k8s.io.apimachinery.pkg.runtime.RawExtension", ".k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1":
		var raw []byte
		_ = pbEach(data, func(n, _ int, _ uint64, d []byte) error {
			if n == 1 {
				raw = d
			}
			return nil
		})
		if len(raw) == 0 {
			return nil, false, nil
		}
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, false, err
		}
		return v, true, nil
	}
	return nil, true, nil
}
