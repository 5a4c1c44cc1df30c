#!/usr/bin/env python3
"""Helper of bgp_scale.sh, run in the lab's API namespace: creates N + S
LoadBalancer Services in kube-sim (16 keep-alive HTTPS clients), each with
an EndpointSlice holding one ready endpoint on NODE, without addresses;
then writes the first N Services' status (addresses 2001:db8:5::1 upwards)
and times until the router (FRR, through VTYSH...) has received N IPv6
prefixes; then makes S single changes twice over (give Service N+j an
address, then take it away) and times each until FRR has the prefix /
has lost it. Prints the figures as JSON.

The speaker's gauge ironlb_speaker_bgp_prefixes_advertised (METRICS_URL)
is polled too, to tell the speaker's share (kernel tables filled) from
BIRD's and FRR's.

usage: bgp_scale.py KUBECONFIG NS NODE NODE_ADDR N S PEER TIMEOUT_S METRICS_URL VTYSH...
"""
import urllib.request
import base64, datetime, http.client, json, os, ssl, subprocess, sys, tempfile, threading, time, urllib.parse


def load_kc(path):
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
    kc, ns, node, node_addr = sys.argv[1:5]
    n, spare, peer, timeout = int(sys.argv[5]), int(sys.argv[6]), sys.argv[7], float(sys.argv[8])
    metrics_url = sys.argv[9]
    vtysh = sys.argv[10:]
    server, token, ca = load_kc(kc)
    u = urllib.parse.urlparse(server)
    ctx = ssl.create_default_context()
    with tempfile.NamedTemporaryFile(suffix=".pem") as f:
        f.write(ca)
        f.flush()
        ctx.load_verify_locations(f.name)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    mhdr = dict(hdr)
    mhdr["Content-Type"] = "application/merge-patch+json"

    def conn():
        return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=60)

    def ip(i):
        return "2001:db8:5::%x" % (i + 1)

    errors = [0]

    def req(c, method, path, body, h, want):
        c.request(method, path, body=json.dumps(body), headers=h)
        r = c.getresponse()
        rb = r.read()
        if r.status not in want:
            if errors[0] == 0:
                print("first error: %s %s: %d %s" % (method, path, r.status, rb[:300]),
                      file=sys.stderr)
            errors[0] += 1

    def svc_body(i):
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s-%d" % i},
                "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP"}],
                         "selector": {"app": "s-%d" % i}, "externalTrafficPolicy": "Cluster",
                         "ipFamilies": ["IPv6"], "ipFamilyPolicy": "SingleStack"}}

    def slice_body(i):
        return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": "s-%d-1" % i,
                             "labels": {"kubernetes.io/service-name": "s-%d" % i}},
                "addressType": "IPv4", "ports": [{"port": 80, "protocol": "TCP"}],
                "endpoints": [{"addresses": [node_addr], "nodeName": node,
                               "conditions": {"ready": True, "serving": True}}]}

    def status_body(i, on):
        return {"status": {"loadBalancer": {"ingress": [{"ip": ip(i)}] if on else []}}}

    def parallel(fn, items, workers=16):
        def run(w):
            c = conn()
            for i in items[w::workers]:
                fn(c, i)
        ths = [threading.Thread(target=run, args=(w,)) for w in range(workers)]
        for t in ths:
            t.start()
        for t in ths:
            t.join()

    def create(c, i):
        req(c, "POST", "/api/v1/namespaces/%s/services" % ns, svc_body(i), hdr, (201,))
        req(c, "POST", "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % ns,
            slice_body(i), hdr, (201,))

    def set_status(c, i, on=True):
        req(c, "PATCH", "/api/v1/namespaces/%s/services/s-%d/status" % (ns, i),
            status_body(i, on), mhdr, (200,))

    def frr(cmd):
        out = subprocess.run(vtysh + ["-c", cmd], capture_output=True, text=True).stdout
        try:
            return json.loads(out) if out.strip() else {}
        except ValueError:
            return {}

    def received():
        d = frr("show bgp ipv6 unicast summary json")
        return d.get("peers", {}).get(peer, {}).get("pfxRcd", 0)

    def pct(lst, p):
        lst = sorted(lst)
        return lst[min(len(lst) - 1, int(p * len(lst)))] if lst else None

    res = {"n": n}
    t0 = time.monotonic()
    parallel(create, list(range(n + spare)))
    res["setup_s"] = time.monotonic() - t0
    time.sleep(1.0)  # the speaker's informers catch up on 2 x (N + S) objects

    t0 = time.monotonic()
    parallel(set_status, list(range(n)))
    res["status_s"] = time.monotonic() - t0
    def in_tables():
        try:
            with urllib.request.urlopen(metrics_url, timeout=2) as r:
                for line in r.read().decode().splitlines():
                    if line.startswith("ironlb_speaker_bgp_prefixes_advertised "):
                        return int(float(line.split()[1]))
        except OSError:
            pass
        return 0

    got = 0
    res["tables_all_s"] = res["frr_all_s"] = None
    while time.monotonic() - t0 < timeout:
        if res["tables_all_s"] is None and in_tables() >= n:
            res["tables_all_s"] = time.monotonic() - t0
        if res["frr_all_s"] is None:
            got = received()
            if got >= n:
                res["frr_all_s"] = time.monotonic() - t0
        if res["frr_all_s"] is not None and res["tables_all_s"] is not None:
            break
        time.sleep(0.2)
    res["frr_received"] = got

    c = conn()
    adds, dels, polls = [], [], []
    hook = os.environ.get("BGP_SCALE_HOOK")

    # vtysh starts a process and connects to bgpd for every query: polled
    # back to back, FRR's state is sampled about once per vtysh run. The
    # change reached FRR between the end of the last query that did not
    # see it and the end of the first that did: the midpoint is taken,
    # and the mean query time (the error bound) is reported.
    def wait_prefix(p, present, t, limit=10.0):
        last = t
        while time.monotonic() - t < limit:
            q = time.monotonic()
            d = frr("show bgp ipv6 unicast %s/128 json" % p)
            e = time.monotonic()
            polls.append(e - q)
            if bool(d.get("paths")) == present:
                return (last + e) / 2 - t
            last = e
        return None

    # FRR's own receive times: bgpd logs every received update with a
    # microsecond timestamp (its log goes to FRR_LOG, a file).
    frr_log = os.environ.get("BGP_SCALE_FRR_LOG")
    stamped = {True: [], False: []}
    if frr_log:
        subprocess.run(vtysh + ["-c", "configure terminal", "-c", "log timestamp precision 6",
                                "-c", "log stdout debugging", "-c", "end",
                                "-c", "debug bgp updates in"], capture_output=True)
        log_off = os.path.getsize(frr_log)

    def log_stamp(p, present, wall):
        nonlocal log_off
        want = ("rcvd %s/128" % p) if present else ("rcvd UPDATE about %s/128" % p)
        for _ in range(20):
            with open(frr_log, "rb") as f:
                f.seek(log_off)
                text = f.read().decode(errors="replace")
            for line in text.splitlines():
                if want in line and (present == ("withdrawn" not in line)):
                    try:
                        ts = datetime.datetime.strptime(" ".join(line.split()[:2]),
                                                        "%Y/%m/%d %H:%M:%S.%f")
                    except ValueError:
                        continue
                    log_off += len(text.encode(errors="replace"))
                    return time.mktime(ts.timetuple()) + ts.microsecond / 1e6 - wall
            time.sleep(0.01)
        return None

    if hook:
        subprocess.run(hook + " changes-start", shell=True)
    for j in range(spare):
        i = n + j
        for on, lst in ((True, adds), (False, dels)):
            wall = time.time()
            t = time.monotonic()
            set_status(c, i, on)
            v = wait_prefix(ip(i), on, t)
            if v is not None:
                lst.append(v)
                if frr_log:
                    stamped[on].append(log_stamp(ip(i), on, wall))
    if hook:
        subprocess.run(hook + " changes-end", shell=True)
    if frr_log:
        subprocess.run(vtysh + ["-c", "no debug bgp updates in"], capture_output=True)
    # FRR's timestamps replace the polled figures when every change has one.
    res["source"] = "vtysh polling"
    if adds and dels and all(v is not None for v in stamped[True] + stamped[False]):
        res["poll_add_p50_s"], res["poll_del_p50_s"] = pct(adds, 0.5), pct(dels, 0.5)
        adds, dels = stamped[True], stamped[False]
        res["source"] = "FRR's log timestamps"

    res.update({"adds": len(adds), "dels": len(dels), "add_p50_s": pct(adds, 0.5),
                "add_p99_s": pct(adds, 0.99), "del_p50_s": pct(dels, 0.5),
                "del_p99_s": pct(dels, 0.99), "errors": errors[0],
                "poll_ms": 1000 * sum(polls) / len(polls) if polls else None})
    print(json.dumps(res))


main()
