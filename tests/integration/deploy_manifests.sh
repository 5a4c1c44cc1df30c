#!/bin/bash
# deploy/: the CRDs are the generator's output, the manifests parse, every
# flag they pass exists in the binary's --help, and the RBAC rules grant
# every resource the daemons' code touches (found in the sources).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${IRONLB_BUILD:-$ROOT/build}/bin
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; [ -n "${2:-}" ] && sed 's/^/# /' <<<"$2"; }
check() { if [ "$2" -eq 0 ]; then ok "$1"; else not_ok "$1" "${3:-}"; fi; }

python3 "$ROOT/deploy/tools/gen-crds.py" "$TMP/crds" >/dev/null
out=$(diff -r "$ROOT/deploy/crds" "$TMP/crds" 2>&1)
check "deploy/crds/ is what deploy/tools/gen-crds.py generates" $? "$out"

"$BIN/ironlb-controller" --help >"$TMP/controller.help" 2>&1
"$BIN/ironlb-speaker" --help >"$TMP/speaker.help" 2>&1

out=$(python3 - "$ROOT" "$TMP" <<'PY' 2>&1
import os, re, sys, yaml
root, tmp = sys.argv[1], sys.argv[2]
problems = []
def say(ok, what):
    print(("PASS " if ok else "FAIL ") + what)

docs = [d for d in yaml.safe_load_all(open(os.path.join(root, "deploy/ironlb.yaml"))) if d]
say(all("apiVersion" in d and "kind" in d and d.get("metadata", {}).get("name") for d in docs),
    "every object in deploy/ironlb.yaml has apiVersion, kind and metadata.name")
for f in sorted(os.listdir(os.path.join(root, "deploy/crds"))):
    d = yaml.safe_load(open(os.path.join(root, "deploy/crds", f)))
    say(d["kind"] == "CustomResourceDefinition" and d["spec"]["group"] == "ironlb.io",
        f"deploy/crds/{f} is an ironlb.io CRD")

by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
# flags passed to the binaries exist in their --help
for kind, name, binary in (("Deployment", "ironlb-controller", "controller"),
                           ("DaemonSet", "ironlb-speaker", "speaker")):
    d = by.get((kind, name))
    if not d:
        say(False, f"{kind} {name} present"); continue
    helptext = open(os.path.join(tmp, binary + ".help")).read()
    c = d["spec"]["template"]["spec"]["containers"][0]
    flags = [a.split("=")[0] for a in c.get("args", []) if a.startswith("--")]
    missing = [f for f in flags if not re.search(r"(^|\s)" + re.escape(f) + r"\b", helptext)]
    say(not missing and flags, f"{kind} {name}: flags {flags} are in ironlb-{binary} --help"
        + (f" (missing {missing})" if missing else ""))
    say(c["command"][0] == f"/usr/bin/ironlb-{binary}", f"{kind} {name} runs ironlb-{binary}")

# resources the code uses -> RBAC
res = {}
for line in open(os.path.join(root, "lib/kube_resource.c")).read().replace("\n\t", " ").splitlines():
    m = re.match(r'const struct kube_resource (KUBE_\w+) = \{ "([^"]*)", "[^"]*", "([^"]*)"', line)
    if m:
        res[m.group(1)] = (m.group(2), m.group(3))
def used(paths):
    names = set()
    for p in paths:
        names |= set(re.findall(r"&(KUBE_[A-Z0-9_]+)", open(os.path.join(root, p)).read()))
    return names
def sources(d):
    return [os.path.join(d, f) for f in os.listdir(os.path.join(root, d)) if f.endswith(".c")]
common = ["lib/kube_event.c"]
need = {"ironlb-controller": used(sources("controller") + common + ["lib/leader.c"]),
        "ironlb-speaker": used(sources("speaker") + common)}
for sa, names in need.items():
    rules = []
    for d in docs:
        if d["kind"] in ("ClusterRoleBinding", "RoleBinding") and any(
                s.get("name") == sa for s in d.get("subjects", [])):
            role = by.get((d["roleRef"]["kind"], d["roleRef"]["name"]))
            if role:
                rules += role.get("rules", [])
    for n in sorted(names):
        if n not in res:
            say(False, f"{sa}: {n} is in lib/kube_resource.c"); continue
        group, plural = res[n]
        granted = any(group in r.get("apiGroups", []) and plural in r.get("resources", [])
                      for r in rules)
        say(granted, f"{sa}: RBAC grants {plural}.{group or 'core'} (used as {n})")
PY
)
while IFS= read -r line; do
	case "$line" in
	PASS*) ok "${line#PASS }" ;;
	FAIL*) not_ok "${line#FAIL }" ;;
	*) not_ok "manifest check crashed" "$line" ;;
	esac
done <<<"$out"
echo "1..$n"
exit $fail
