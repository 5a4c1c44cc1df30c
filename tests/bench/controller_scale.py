#!/usr/bin/env python3
"""Helper of controller_scale.sh: creates N LoadBalancer Services in a
namespace of kube-sim as fast as it can (threads, keep-alive HTTPS) while a
watch records, per Service, when it was created (its ADDED event), when its
status first had an address and when it first carried the
ironlb.io/ip-allocated-from-pool annotation, and a second watch counts the
IPAllocated Events; prints the figures as JSON.

usage: controller_scale.py KUBECONFIG NAMESPACE N TIMEOUT_S
"""
import base64, http.client, json, ssl, sys, tempfile, threading, time, urllib.parse

def load_kc(path):
    # kube-sim writes a small, regular kubeconfig: pick the fields by line.
    server = token = ca = None
    for line in open(path):
        s = line.strip()
        if s.startswith("server:"):
            server = s.split(None, 1)[1].strip('"')
        elif s.startswith("token:"):
            token = s.split(None, 1)[1].strip('"')
        elif s.startswith("certificate-authority-data:"):
            ca = base64.b64decode(s.split(None, 1)[1].strip('"'))
    return server, token, ca

def main():
    kc, ns, n, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    server, token, ca = load_kc(kc)
    u = urllib.parse.urlparse(server)
    ctx = ssl.create_default_context()
    with tempfile.NamedTemporaryFile(suffix=".pem") as f:
        f.write(ca); f.flush()
        ctx.load_verify_locations(f.name)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    def conn():
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)

    created, settled, annotated = {}, {}, {}
    events = [0, None]  # IPAllocated Events seen, time the n-th came
    lock = threading.Lock()
    done = threading.Event()
    started = threading.Event()
    ev_started = threading.Event()

    def check_done():
        if len(settled) >= n and len(annotated) >= n and events[0] >= n:
            done.set()

    def watch():
        c = conn()
        c.request("GET", f"/api/v1/namespaces/{ns}/services?watch=1&timeoutSeconds={int(timeout)+30}", headers=hdr)
        r = c.getresponse()
        started.set()
        buf = b""
        while not done.is_set():
            line = r.readline()
            if not line:
                break
            now = time.monotonic()
            ev = json.loads(line)
            o = ev.get("object", {})
            name = o.get("metadata", {}).get("name", "")
            if not name.startswith("scale-"):
                continue
            with lock:
                created.setdefault(name, now)
                ing = o.get("status", {}).get("loadBalancer", {}).get("ingress")
                if ing and name not in settled:
                    settled[name] = now
                ann = o.get("metadata", {}).get("annotations") or {}
                if "ironlb.io/ip-allocated-from-pool" in ann and name not in annotated:
                    annotated[name] = now
                check_done()

    def watch_events():
        c = conn()
        c.request("GET", f"/api/v1/namespaces/{ns}/events?watch=1&timeoutSeconds={int(timeout)+30}", headers=hdr)
        r = c.getresponse()
        ev_started.set()
        while not done.is_set():
            line = r.readline()
            if not line:
                break
            now = time.monotonic()
            ev = json.loads(line)
            if ev.get("type") == "ADDED" and ev.get("object", {}).get("reason") == "IPAllocated":
                with lock:
                    events[0] += 1
                    if events[0] == n:
                        events[1] = now
                    check_done()
    wt = threading.Thread(target=watch, daemon=True)
    wt.start()
    et = threading.Thread(target=watch_events, daemon=True)
    et.start()
    started.wait(10)
    ev_started.wait(10)

    t0 = time.monotonic()
    workers = 16
    errors = [0]
    def create(w):
        c = conn()
        for i in range(w, n, workers):
            body = json.dumps({"apiVersion": "v1", "kind": "Service",
                               "metadata": {"name": f"scale-{i}"},
                               "spec": {"type": "LoadBalancer", "ports": [{"port": 80}],
                                        "selector": {"app": "scale"}}})
            c.request("POST", f"/api/v1/namespaces/{ns}/services", body=body, headers=hdr)
            r = c.getresponse(); rb = r.read()
            if r.status != 201 and errors[0] == 0:
                print("first create error: %d %s" % (r.status, rb[:300]), file=sys.stderr)
            if r.status != 201:
                errors[0] += 1
    ths = [threading.Thread(target=create, args=(w,)) for w in range(workers)]
    for t in ths: t.start()
    for t in ths: t.join()
    t_created = time.monotonic() - t0
    done.wait(max(0.0, timeout - (time.monotonic() - t0)))
    t_end = time.monotonic()
    with lock:
        lat = sorted(settled[k] - created[k] for k in settled if k in created)
        last = max(settled.values()) - t0 if settled else None
        last_ann = max(annotated.values()) - t0 if len(annotated) >= n else None
        last_ev = events[1] - t0 if events[1] is not None else None
    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else None
    print(json.dumps({"n": n, "create_errors": errors[0], "created_s": t_created,
                      "settled": len(settled), "all_settled_s": last if len(settled) >= n else None,
                      "annotated": len(annotated), "all_annotated_s": last_ann,
                      "events": events[0], "all_events_s": last_ev,
                      "waited_s": t_end - t0, "p50_s": pct(0.50), "p99_s": pct(0.99),
                      "max_s": lat[-1] if lat else None}))

main()
