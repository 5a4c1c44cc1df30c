package main

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// Handler-only costs (no network, no TLS): go test -run X -bench . -benchmem

func BenchmarkGet(b *testing.B) {
	srv := newTestServer(b)
	mustCall(b, srv, 201, "POST", "/api/v1/namespaces/default/configmaps", "application/json", `{"metadata":{"name":"c"},"data":{"k":"v"}}`)
	req := httptest.NewRequest("GET", "/api/v1/namespaces/default/configmaps/c", nil)
	req.Header.Set("Authorization", "Bearer t0k")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

func benchCreate(b *testing.B, path, tmpl string) {
	srv := newTestServer(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", path, strings.NewReader(fmt.Sprintf(tmpl, i)))
		req.Header.Set("Authorization", "Bearer t0k")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 201 {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}

func BenchmarkCreateConfigMap(b *testing.B) {
	benchCreate(b, "/api/v1/namespaces/default/configmaps", `{"metadata":{"name":"c%d","labels":{"a":"b"}},"data":{"k":"v"}}`)
}

func BenchmarkCreateService(b *testing.B) {
	benchCreate(b, svcPath, `{"metadata":{"name":"s%d"},"spec":{"clusterIP":"None","ports":[{"port":80,"targetPort":8080}],"selector":{"app":"x"}}}`)
}

func BenchmarkList10kServices(b *testing.B) {
	srv := newTestServer(b)
	for i := 0; i < 10000; i++ {
		mustCall(b, srv, 201, "POST", svcPath, "application/json",
			fmt.Sprintf(`{"metadata":{"name":"s%d"},"spec":{"ipFamilies":["IPv6"],"ports":[{"port":80}]}}`, i))
	}
	req := httptest.NewRequest("GET", svcPath, nil)
	req.Header.Set("Authorization", "Bearer t0k")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
