package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestFastJSONMatchesEncodingJSON(t *testing.T) {
	values := []interface{}{
		nil, true, false, "", "plain", "quote\" back\\slash", "<tag>&amp;", "ctl\x00\x01\x1f\n\r\t\b\f",
		"unicode é ✓ 𝄞", "\u2028\u2029", "bad\xffutf8\xc3", int64(-42), 7, 0.5, 1e21, 1e-7, 123456789.125, -0.0,
		json.Number("12"), json.Number("1.50"),
		[]interface{}{}, []interface{}{int64(1), "a", nil},
		map[string]interface{}{}, map[string]interface{}{"b": int64(1), "a": map[string]interface{}{"z": []interface{}{true}, "<": "x"}},
	}
	for _, v := range values {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got := fastJSON(v); !bytes.Equal(got, want) {
			t.Errorf("fastJSON(%#v) = %s, encoding/json = %s", v, got, want)
		}
	}
	big := map[string]interface{}{}
	for i := 0; i < 40; i++ {
		big[string(rune('a'+i%26))+string(rune('A'+i))] = i
	}
	want, _ := json.Marshal(big)
	if got := fastJSON(big); !bytes.Equal(got, want) {
		t.Errorf("big map: %s != %s", got, want)
	}
}

func TestParseJSONFastMatchesEncodingJSON(t *testing.T) {
	docs := []string{
		`{}`, `[]`, `null`, ` {"a" : [1, -2.5e3, true, false, null, "x"] } `,
		`{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud834\udd1e \u2028"}`,
		`{"dup":1,"dup":2}`, `"\ud800"`, `{"n":0,"m":-0.0,"e":1E+2}`, `"é✓"`,
	}
	for _, d := range docs {
		got, err := parseJSONFast([]byte(d))
		if err != nil {
			t.Errorf("parse %s: %v", d, err)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(d)))
		dec.UseNumber()
		var want interface{}
		if err := dec.Decode(&want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parse %s = %#v, want %#v", d, got, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"a"}`, `{"a":}`, `[1,]`, `01`, `1.`, `"abc`, `{"a":1} x`, `tru`, "\"a\x01\"", `{,}`, `-`, `1e`} {
		if _, err := parseJSONFast([]byte(bad)); err == nil {
			t.Errorf("parse %q: expected an error", bad)
		}
	}
}

func TestLabelSelector(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front", "n": "5"}
	cases := []struct {
		sel  string
		want bool
	}{
		{"", true}, {"app=web", true}, {"app==web", true}, {"app!=web", false}, {"app=db", false},
		{"app in (db, web)", true}, {"app notin (db,web)", false}, {"tier", true}, {"!tier", false},
		{"missing", false}, {"!missing", true}, {"missing!=x", true}, {"app=web,tier=back", false},
		{"app=web, tier in (front)", true}, {"n>3", true}, {"n<3", false}, {"example.com/x notin (a)", true},
	}
	for _, c := range cases {
		s, err := parseLabelSelector(c.sel)
		if err != nil {
			t.Errorf("%q: %v", c.sel, err)
			continue
		}
		if got := s.matches(labels); got != c.want {
			t.Errorf("%q matches = %v, want %v", c.sel, got, c.want)
		}
	}
	for _, bad := range []string{"app=", "app in ()", "app in (a", "=x", "a b", "app=a b", "-bad=x", "app=" + string(make([]byte, 70))} {
		if _, err := parseLabelSelector(bad); err == nil && bad != "app=" {
			t.Errorf("%q: expected a parse error", bad)
		}
	}
}

func TestFieldSelector(t *testing.T) {
	fs, err := parseFieldSelector(`metadata.name=a\,b,spec.type!=ClusterIP`)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{"metadata.name": "a,b", "spec.type": "LoadBalancer"}
	if !fs.matches(func(f string) string { return vals[f] }) {
		t.Error("expected a match")
	}
	vals["spec.type"] = "ClusterIP"
	if fs.matches(func(f string) string { return vals[f] }) {
		t.Error("expected no match")
	}
	if _, err := parseFieldSelector("novalue"); err == nil {
		t.Error("expected an error")
	}
}

func TestMergePatch(t *testing.T) {
	doc := obj{"a": obj{"b": "1", "c": "2"}, "l": []interface{}{"x"}}
	res := mergePatch(doc, obj{"a": obj{"b": nil, "d": "3"}, "l": []interface{}{"y"}})
	want := obj{"a": obj{"c": "2", "d": "3"}, "l": []interface{}{"y"}}
	if !jsonEqual(res, want) {
		t.Errorf("merge patch: %s", pretty(res))
	}
}

func TestJSONPatch(t *testing.T) {
	v, _ := decodeJSON([]byte(`{"metadata":{"labels":{"a":"1"}},"spec":{"ports":[{"port":80},{"port":81}]}}`))
	ops, _ := decodeJSON([]byte(`[
		{"op":"add","path":"/metadata/labels/b~1c","value":"2"},
		{"op":"replace","path":"/spec/ports/0/port","value":8080},
		{"op":"add","path":"/spec/ports/-","value":{"port":82}},
		{"op":"remove","path":"/spec/ports/1"},
		{"op":"copy","from":"/metadata/labels/a","path":"/metadata/labels/z"},
		{"op":"move","from":"/metadata/labels/z","path":"/metadata/labels/y"},
		{"op":"test","path":"/metadata/labels/y","value":"1"}]`))
	res, err := jsonPatch(v, ops.([]interface{}))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeJSON([]byte(`{"metadata":{"labels":{"a":"1","b/c":"2","y":"1"}},"spec":{"ports":[{"port":8080},{"port":82}]}}`))
	if !jsonEqual(res, want) {
		t.Errorf("json patch result %s", pretty(res))
	}
	bad, _ := decodeJSON([]byte(`[{"op":"test","path":"/metadata/labels/a","value":"2"}]`))
	if _, err := jsonPatch(v, bad.([]interface{})); err == nil {
		t.Error("failed test op must be an error")
	}
	bad, _ = decodeJSON([]byte(`[{"op":"remove","path":"/nope"}]`))
	if _, err := jsonPatch(v, bad.([]interface{})); err == nil {
		t.Error("removing a missing path must be an error")
	}
}

func TestStrategicMerge(t *testing.T) {
	orig, _ := decodeJSON([]byte(`{"metadata":{"finalizers":["a","b"],"labels":{"x":"1"}},
		"spec":{"ports":[{"name":"http","port":80,"nodePort":30000},{"name":"dns","port":53}],"externalIPs":["192.0.2.1"],
		"selector":{"app":"a"}}}`))
	patch, _ := decodeJSON([]byte(`{"metadata":{"finalizers":["c"],"$deleteFromPrimitiveList/finalizers":["a"],"labels":{"x":null,"y":"2"}},
		"spec":{"$setElementOrder/ports":[{"port":443},{"port":80}],
		"ports":[{"name":"https","port":443},{"port":53,"$patch":"delete"},{"port":80,"targetPort":8080}],
		"externalIPs":["192.0.2.2"],"selector":{"$patch":"replace","app":"b"}}}`))
	res, err := strategicMerge(orig.(obj), patch.(obj), patchMetaFor("Service"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeJSON([]byte(`{"metadata":{"finalizers":["b","c"],"labels":{"y":"2"}},
		"spec":{"ports":[{"name":"https","port":443},{"name":"http","port":80,"nodePort":30000,"targetPort":8080}],
		"externalIPs":["192.0.2.2"],"selector":{"app":"b"}}}`))
	if !jsonEqual(res, want) {
		t.Errorf("strategic merge:\n%s", pretty(res))
	}
	// list-level replace and retainKeys
	o2, _ := decodeJSON([]byte(`{"spec":{"volumes":[{"name":"v","emptyDir":{}}],"containers":[{"name":"a","image":"x"}]}}`))
	p2, _ := decodeJSON([]byte(`{"spec":{"volumes":[{"name":"v","$retainKeys":["name","hostPath"],"hostPath":{"path":"/p"}}],
		"containers":[{"$patch":"replace"},{"name":"b","image":"y"}]}}`))
	res, err = strategicMerge(o2.(obj), p2.(obj), patchMetaFor("Pod"))
	if err != nil {
		t.Fatal(err)
	}
	want, _ = decodeJSON([]byte(`{"spec":{"volumes":[{"name":"v","hostPath":{"path":"/p"}}],"containers":[{"name":"b","image":"y"}]}}`))
	if !jsonEqual(res, want) {
		t.Errorf("strategic merge (retainKeys/replace):\n%s", pretty(res))
	}
}

func TestJSONPath(t *testing.T) {
	o, _ := decodeJSON([]byte(`{"status":{"conditions":[{"type":"A","status":"False"},{"type":"Ready","status":"True"}]},"spec":{"l":[1,2]}}`))
	for path, want := range map[string]string{
		`.status.conditions[?(@.type=="Ready")].status`: "True",
		`.spec.l[1]`:                     "2",
		`.status.conditions[*].type`:     "A",
		`{.status.conditions[0].status}`: "False",
	} {
		steps, err := parseJSONPath(path)
		if err != nil {
			t.Fatal(err)
		}
		res := evalJSONPath(steps, o)
		if len(res) == 0 || jpText(res[0]) != want {
			t.Errorf("%s = %v, want %s", path, res, want)
		}
	}
}

// pbEncoder builds protobuf test messages.
type pbEncoder struct{ b []byte }

func (e *pbEncoder) varint(v uint64) {
	for v >= 0x80 {
		e.b = append(e.b, byte(v)|0x80)
		v >>= 7
	}
	e.b = append(e.b, byte(v))
}
func (e *pbEncoder) bytesField(num int, b []byte) {
	e.varint(uint64(num<<3 | 2))
	e.varint(uint64(len(b)))
	e.b = append(e.b, b...)
}
func (e *pbEncoder) intField(num int, v uint64) {
	e.varint(uint64(num << 3))
	e.varint(v)
}

func TestProtobufDecode(t *testing.T) {
	// Service{metadata{name:"s", labels{app:a}}, spec{ports[{port:80, targetPort{type 1, strVal http}}], type LoadBalancer,
	// allocateLoadBalancerNodePorts:false}}
	var label, md, tp, port, spec, svc, tm, env pbEncoder
	label.bytesField(1, []byte("app"))
	label.bytesField(2, []byte("a"))
	md.bytesField(1, []byte("s"))
	md.bytesField(11, label.b)
	md.bytesField(2, []byte("")) // generateName "" is dropped
	tp.intField(1, 1)
	tp.bytesField(3, []byte("http"))
	port.intField(3, 80)
	port.bytesField(4, tp.b)
	port.intField(5, 0)
	spec.bytesField(1, port.b)
	spec.bytesField(4, []byte("LoadBalancer"))
	spec.intField(20, 0) // allocateLoadBalancerNodePorts=false (pointer field)
	svc.bytesField(1, md.b)
	svc.bytesField(2, spec.b)
	tm.bytesField(1, []byte("v1"))
	tm.bytesField(2, []byte("Service"))
	env.b = append(env.b, pbMagic...)
	env.bytesField(1, tm.b)
	env.bytesField(2, svc.b)
	o, err := decodeK8sProtobuf(env.b)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := decodeJSON([]byte(`{"apiVersion":"v1","kind":"Service","metadata":{"name":"s","labels":{"app":"a"}},
		"spec":{"ports":[{"port":80,"targetPort":"http"}],"type":"LoadBalancer","allocateLoadBalancerNodePorts":false}}`))
	if !jsonEqual(o, want) {
		t.Errorf("decoded %s", pretty(o))
	}
}

func TestEncodeTopObject(t *testing.T) {
	o := obj{"spec": obj{"b": int64(1), "a": "x"}, "kind": "Service", "apiVersion": "v1", "metadata": obj{"name": "n"}, "data": nil}
	b, off := encodeTopObject(o)
	want := `{"apiVersion":"v1","kind":"Service","data":null,"metadata":{"name":"n"},"spec":{"a":"x","b":1}}`
	if string(b) != want {
		t.Errorf("got %s", b)
	}
	if item := "{" + string(b[off:]); item != `{"data":null,"metadata":{"name":"n"},"spec":{"a":"x","b":1}}` {
		t.Errorf("item form %s", item)
	}
	if v, err := decodeJSON(b); err != nil || !jsonEqual(v, o) {
		t.Errorf("round trip: %v %v", v, err)
	}
	if b, off := encodeTopObject(obj{"metadata": obj{}}); string(b) != `{"metadata":{}}` || off != 0 {
		t.Errorf("no type meta: %s %d", b, off)
	}
}
