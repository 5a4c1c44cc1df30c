package main

import (
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
)

// ipPool allocates addresses from one service CIDR.
type ipPool struct {
	family string // IPv4 or IPv6
	cidr   *net.IPNet
	base   *big.Int
	first  int
	last   int
	owner  map[int]string
	next   int
}

func newIPPool(cidr string) (*ipPool, error) {
	_, n, err := net.ParseCIDR(strings.TrimSpace(cidr))
	if err != nil {
		return nil, fmt.Errorf("invalid CIDR %q: %v", cidr, err)
	}
	ones, bits := n.Mask.Size()
	p := &ipPool{cidr: n, owner: map[int]string{}}
	if bits == 32 {
		p.family = "IPv4"
		if ones > 30 {
			return nil, fmt.Errorf("service CIDR %s is too small", cidr)
		}
		size := 1 << (32 - ones)
		p.first, p.last = 1, size-2
		p.base = new(big.Int).SetBytes(n.IP.To4())
	} else {
		p.family = "IPv6"
		if ones < 108 {
			return nil, fmt.Errorf("specified service CIDR %s is too large; for 128-bit addresses, the mask must be >= 108", cidr)
		}
		if ones > 126 {
			return nil, fmt.Errorf("service CIDR %s is too small", cidr)
		}
		size := 1 << (128 - ones)
		p.first, p.last = 1, size-1
		p.base = new(big.Int).SetBytes(n.IP.To16())
	}
	p.next = p.first
	return p, nil
}

func (p *ipPool) ipAt(off int) string {
	v := new(big.Int).Add(p.base, big.NewInt(int64(off)))
	b := v.Bytes()
	l := 16
	if p.family == "IPv4" {
		l = 4
	}
	ip := make(net.IP, l)
	copy(ip[l-len(b):], b)
	return ip.String()
}

func (p *ipPool) offset(ip net.IP) (int, bool) {
	if !p.cidr.Contains(ip) {
		return 0, false
	}
	var v *big.Int
	if p.family == "IPv4" {
		v = new(big.Int).SetBytes(ip.To4())
	} else {
		v = new(big.Int).SetBytes(ip.To16())
	}
	off := int(new(big.Int).Sub(v, p.base).Int64())
	return off, off >= p.first && off <= p.last
}

// portPool allocates node ports.
type portPool struct {
	base, size int
	owner      map[int]string
	next       int
}

func newPortPool(spec string) (*portPool, error) {
	parts := strings.SplitN(spec, "-", 2)
	lo, err1 := strconv.Atoi(strings.TrimSpace(parts[0]))
	hi := lo
	var err2 error
	if len(parts) == 2 {
		hi, err2 = strconv.Atoi(strings.TrimSpace(parts[1]))
	}
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || hi < lo {
		return nil, fmt.Errorf("invalid port range %q (want e.g. 30000-32767)", spec)
	}
	return &portPool{base: lo, size: hi - lo + 1, owner: map[int]string{}}, nil
}

func (p *portPool) String() string { return fmt.Sprintf("%d-%d", p.base, p.base+p.size-1) }

// allocators holds the cluster IP pools (primary family first) and the
// node port pool.
type allocators struct {
	ips   []*ipPool
	ports *portPool
}

func newAllocators(cidrs string, ports string) (*allocators, error) {
	a := &allocators{}
	for _, c := range strings.Split(cidrs, ",") {
		if strings.TrimSpace(c) == "" {
			continue
		}
		p, err := newIPPool(c)
		if err != nil {
			return nil, err
		}
		for _, q := range a.ips {
			if q.family == p.family {
				return nil, fmt.Errorf("--service-cluster-ip-range: at most one range per IP family")
			}
		}
		a.ips = append(a.ips, p)
	}
	if len(a.ips) == 0 || len(a.ips) > 2 {
		return nil, errors.New("--service-cluster-ip-range: one or two CIDRs are required")
	}
	pp, err := newPortPool(ports)
	if err != nil {
		return nil, err
	}
	a.ports = pp
	return a, nil
}

func (a *allocators) pool(family string) *ipPool {
	for _, p := range a.ips {
		if p.family == family {
			return p
		}
	}
	return nil
}

func (a *allocators) dualStack() bool { return len(a.ips) == 2 }

func (a *allocators) rangesString() string {
	var s []string
	for _, p := range a.ips {
		s = append(s, p.cidr.String())
	}
	return strings.Join(s, ",")
}

func claim(owner map[int]string, off int, who string, tx *allocTx) bool {
	if cur, ok := owner[off]; ok {
		return cur == who
	}
	owner[off] = who
	tx.undo = append(tx.undo, func() { delete(owner, off) })
	return true
}

func unclaim(owner map[int]string, off int, who string, tx *allocTx) {
	if owner[off] == who {
		delete(owner, off)
		if tx != nil {
			tx.undo = append(tx.undo, func() { owner[off] = who })
		}
	}
}

func (p *ipPool) allocNext(who string, tx *allocTx) (string, bool) {
	n := p.last - p.first + 1
	for i := 0; i < n; i++ {
		off := p.first + (p.next-p.first+i)%n
		if _, used := p.owner[off]; !used {
			claim(p.owner, off, who, tx)
			old := p.next
			p.next = off + 1
			if p.next > p.last {
				p.next = p.first
			}
			tx.undo = append(tx.undo, func() { p.next = old })
			return p.ipAt(off), true
		}
	}
	return "", false
}

func (p *portPool) allocNext(who string, tx *allocTx) (int, bool) {
	for i := 0; i < p.size; i++ {
		off := (p.next + i) % p.size
		if _, used := p.owner[off]; !used {
			claim(p.owner, off, who, tx)
			old := p.next
			p.next = (off + 1) % p.size
			tx.undo = append(tx.undo, func() { p.next = old })
			return p.base + off, true
		}
	}
	return 0, false
}

func ipFamilyOf(s string) string {
	ip := parseIPStrict(s)
	if ip == nil {
		return ""
	}
	if isIPv4(ip) {
		return "IPv4"
	}
	return "IPv6"
}

func externallyAccessible(spec obj) bool {
	t := getString(spec, "type")
	return t == "LoadBalancer" || t == "NodePort" || (t == "ClusterIP" && len(getSlice(spec, "externalIPs")) > 0)
}

func needsNodePorts(spec obj) bool {
	switch getString(spec, "type") {
	case "NodePort":
		return true
	case "LoadBalancer":
		v, ok := spec["allocateLoadBalancerNodePorts"].(bool)
		return !ok || v
	}
	return false
}

func needsHealthCheckNodePort(spec obj) bool {
	return getString(spec, "type") == "LoadBalancer" && getString(spec, "externalTrafficPolicy") == "Local"
}

func portProto(p obj) string {
	pr := getString(p, "protocol")
	if pr == "" {
		return "TCP"
	}
	return pr
}

// serviceDefault applies the defaults of the Service type and of the
// service REST storage (IP families, allocated values kept on update).
func serviceDefault(s *Store, o, old obj) {
	spec := ensureMap(o, "spec")
	if getString(spec, "type") == "" {
		spec["type"] = "ClusterIP"
	}
	typ := getString(spec, "type")
	if getString(spec, "sessionAffinity") == "" {
		spec["sessionAffinity"] = "None"
	}
	if getString(spec, "sessionAffinity") == "ClientIP" {
		cfg := ensureMap(ensureMap(spec, "sessionAffinityConfig"), "clientIP")
		if cfg["timeoutSeconds"] == nil {
			cfg["timeoutSeconds"] = int64(10800)
		}
	}
	for _, p := range getSlice(spec, "ports") {
		pm, ok := p.(map[string]interface{})
		if !ok {
			continue
		}
		if getString(pm, "protocol") == "" {
			pm["protocol"] = "TCP"
		}
		if tp, ok := pm["targetPort"]; !ok || tp == nil || jsonEqual(tp, int64(0)) || tp == "" {
			if pm["port"] != nil {
				pm["targetPort"] = pm["port"]
			}
		}
	}
	var oldSpec obj
	if old != nil {
		oldSpec = getMap(old, "spec")
		oldType := getString(oldSpec, "type")
		// dropTypeDependentFields: clear values that only made sense for
		// the old type when the user did not change them.
		if typ != oldType {
			if !needsNodePorts(spec) {
				oldPorts := getSlice(oldSpec, "ports")
				for _, p := range getSlice(spec, "ports") {
					pm, _ := p.(map[string]interface{})
					np, _ := toInt64(pm["nodePort"])
					if np == 0 {
						continue
					}
					for _, op := range oldPorts {
						if onp, _ := toInt64(getMap(op)["nodePort"]); onp == np {
							delete(pm, "nodePort")
						}
					}
				}
			}
			if typ == "ExternalName" {
				if getString(spec, "clusterIP") == getString(oldSpec, "clusterIP") {
					delete(spec, "clusterIP")
					delete(spec, "clusterIPs")
				}
				delete(spec, "ipFamilies")
				delete(spec, "ipFamilyPolicy")
			}
			if typ != "LoadBalancer" {
				if jsonEqual(spec["allocateLoadBalancerNodePorts"], oldSpec["allocateLoadBalancerNodePorts"]) {
					delete(spec, "allocateLoadBalancerNodePorts")
				}
				if getString(spec, "loadBalancerClass") == getString(oldSpec, "loadBalancerClass") {
					delete(spec, "loadBalancerClass")
				}
			}
		}
		if !needsHealthCheckNodePort(spec) && jsonEqual(spec["healthCheckNodePort"], oldSpec["healthCheckNodePort"]) {
			delete(spec, "healthCheckNodePort")
		}
		if !externallyAccessible(spec) && getString(spec, "externalTrafficPolicy") == getString(oldSpec, "externalTrafficPolicy") {
			delete(spec, "externalTrafficPolicy")
		}
		// patchAllocatedValues: a PUT without allocated values keeps them.
		if typ != "ExternalName" && getString(oldSpec, "type") != "ExternalName" {
			if getString(spec, "clusterIP") == "" && getString(oldSpec, "clusterIP") != "" {
				spec["clusterIP"] = oldSpec["clusterIP"]
			}
			if len(getSlice(spec, "clusterIPs")) == 0 && getString(spec, "clusterIP") == getString(oldSpec, "clusterIP") && oldSpec["clusterIPs"] != nil {
				spec["clusterIPs"] = deepCopy(oldSpec["clusterIPs"])
			}
		}
		if needsNodePorts(spec) {
			for _, p := range getSlice(spec, "ports") {
				pm, _ := p.(map[string]interface{})
				if np, _ := toInt64(pm["nodePort"]); np != 0 || pm == nil {
					continue
				}
				for _, op := range getSlice(oldSpec, "ports") {
					opm := getMap(op)
					if jsonEqual(opm["port"], pm["port"]) && portProto(opm) == portProto(pm) && opm["nodePort"] != nil {
						pm["nodePort"] = opm["nodePort"]
					}
				}
			}
		}
		if needsHealthCheckNodePort(spec) {
			if v, _ := toInt64(spec["healthCheckNodePort"]); v == 0 && oldSpec["healthCheckNodePort"] != nil {
				spec["healthCheckNodePort"] = oldSpec["healthCheckNodePort"]
			}
		}
		if spec["ipFamilyPolicy"] == nil && oldSpec["ipFamilyPolicy"] != nil && jsonEqual(spec["clusterIPs"], oldSpec["clusterIPs"]) {
			spec["ipFamilyPolicy"] = oldSpec["ipFamilyPolicy"]
		}
		if spec["ipFamilies"] == nil && oldSpec["ipFamilies"] != nil && jsonEqual(spec["clusterIPs"], oldSpec["clusterIPs"]) {
			spec["ipFamilies"] = deepCopy(oldSpec["ipFamilies"])
		}
	}
	if typ != "ExternalName" {
		if getString(spec, "internalTrafficPolicy") == "" {
			spec["internalTrafficPolicy"] = "Cluster"
		}
	}
	if externallyAccessible(spec) && getString(spec, "externalTrafficPolicy") == "" {
		spec["externalTrafficPolicy"] = "Cluster"
	}
	if typ == "LoadBalancer" && spec["allocateLoadBalancerNodePorts"] == nil {
		spec["allocateLoadBalancerNodePorts"] = true
	}
	// clusterIPs mirrors clusterIP.
	cip := getString(spec, "clusterIP")
	cips := getSlice(spec, "clusterIPs")
	if cip != "" && len(cips) == 0 {
		spec["clusterIPs"] = []interface{}{cip}
	} else if cip == "" && len(cips) > 0 {
		if c, ok := cips[0].(string); ok {
			spec["clusterIP"] = c
		}
	}
	initIPFamilies(s.alloc, spec, oldSpec)
	st := ensureMap(o, "status")
	lb := ensureMap(st, "loadBalancer")
	for _, in := range getSlice(lb, "ingress") {
		im, ok := in.(map[string]interface{})
		if ok && getString(im, "ip") != "" && im["ipMode"] == nil {
			im["ipMode"] = "VIP"
		}
	}
}

// initIPFamilies follows the service REST allocator's family handling.
func initIPFamilies(a *allocators, spec, oldSpec obj) {
	if getString(spec, "type") == "ExternalName" {
		delete(spec, "ipFamilies")
		delete(spec, "ipFamilyPolicy")
		return
	}
	primary := a.ips[0].family
	other := map[string]string{"IPv4": "IPv6", "IPv6": "IPv4"}
	fams := getSlice(spec, "ipFamilies")
	headless := getString(spec, "clusterIP") == "None"
	if headless && len(getMap(spec, "selector")) == 0 {
		if spec["ipFamilyPolicy"] == nil {
			spec["ipFamilyPolicy"] = "RequireDualStack"
		}
		if len(fams) == 0 {
			fams = []interface{}{primary}
		}
		if len(fams) < 2 && getString(spec, "ipFamilyPolicy") != "SingleStack" {
			if f, ok := fams[0].(string); ok && other[f] != "" {
				fams = append(fams, other[f])
			}
		}
		spec["ipFamilies"] = fams
		return
	}
	if !headless {
		for i, c := range getSlice(spec, "clusterIPs") {
			cs, _ := c.(string)
			f := ipFamilyOf(cs)
			if f == "" {
				continue
			}
			if i >= len(fams) {
				fams = append(fams, f)
			}
		}
	}
	if spec["ipFamilyPolicy"] == nil {
		spec["ipFamilyPolicy"] = "SingleStack"
	}
	pol := getString(spec, "ipFamilyPolicy")
	if len(fams) == 0 {
		fams = []interface{}{primary}
	}
	if pol == "SingleStack" && oldSpec != nil && len(fams) == 2 && len(getSlice(oldSpec, "ipFamilies")) == 2 {
		// trimFieldsForDualStackDowngrade
		fams = fams[:1]
		if cips := getSlice(spec, "clusterIPs"); len(cips) == 2 {
			spec["clusterIPs"] = cips[:1]
		}
	}
	if (pol == "PreferDualStack" || pol == "RequireDualStack") && len(fams) == 1 && a.dualStack() {
		if f, ok := fams[0].(string); ok && other[f] != "" {
			fams = append(fams, other[f])
		}
	}
	spec["ipFamilies"] = fams
}

func serviceValidate(s *Store, o, old obj, errs *fieldErrs) {
	spec := getMap(o, "spec")
	typ := getString(spec, "type")
	switch typ {
	case "ClusterIP", "NodePort", "LoadBalancer", "ExternalName":
	default:
		errs.notSupported("spec.type", spec["type"], "ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
		return
	}
	cip := getString(spec, "clusterIP")
	headless := cip == "None"
	ports := getSlice(spec, "ports")
	if len(ports) == 0 && !headless && typ != "ExternalName" {
		errs.required("spec.ports", "")
	}
	names := map[string]bool{}
	seen := map[string]int{}
	seenNP := map[string]int{}
	for i, p := range ports {
		f := fmt.Sprintf("spec.ports[%d]", i)
		pm, ok := p.(map[string]interface{})
		if !ok {
			errs.invalid(f, p, "must be an object")
			continue
		}
		name, _ := pm["name"].(string)
		if len(ports) > 1 && name == "" {
			errs.required(f+".name", "")
		} else if name != "" {
			if m := validateDNS1123Label(name); m != "" {
				errs.invalid(f+".name", name, m)
			} else if names[name] {
				errs.duplicate(f+".name", name)
			}
			names[name] = true
		}
		port, okp := toInt64(pm["port"])
		if !okp || port < 1 || port > 65535 {
			errs.invalid(f+".port", pm["port"], "must be between 1 and 65535, inclusive")
		}
		proto := getString(pm, "protocol")
		if proto != "TCP" && proto != "UDP" && proto != "SCTP" {
			errs.notSupported(f+".protocol", pm["protocol"], "SCTP", "TCP", "UDP")
		}
		switch tp := pm["targetPort"].(type) {
		case string:
			if m := validateIANASvcName(tp); m != "" {
				errs.invalid(f+".targetPort", tp, m)
			}
		default:
			v, ok := toInt64(tp)
			if !ok || v < 1 || v > 65535 {
				errs.invalid(f+".targetPort", tp, "must be between 1 and 65535, inclusive")
			}
		}
		key := fmt.Sprintf(`{"port":%d,"protocol":%q}`, port, proto)
		if _, dup := seen[key]; dup {
			errs.duplicate(f, obj{"port": port, "protocol": proto})
		}
		seen[key] = i
		np, _ := toInt64(pm["nodePort"])
		if np != 0 {
			if typ == "ClusterIP" || typ == "ExternalName" {
				errs.forbidden(f+".nodePort", fmt.Sprintf("may not be used when `type` is '%s'", typ))
			}
			nk := fmt.Sprintf("%d/%s", np, proto)
			if _, dup := seenNP[nk]; dup {
				errs.duplicate(f+".nodePort", np)
			}
			seenNP[nk] = i
		}
		if ap, ok := pm["appProtocol"].(string); ok && ap != "" {
			if m := validateQualifiedName(ap); m != "" {
				errs.invalid(f+".appProtocol", ap, m)
			}
		}
	}
	if typ == "ExternalName" {
		if cip != "" {
			errs.forbidden("spec.clusterIP", "may not be set for ExternalName services")
		}
		en := strings.TrimSuffix(getString(spec, "externalName"), ".")
		if en == "" {
			errs.required("spec.externalName", "")
		} else if m := validateDNS1123Subdomain(en); m != "" {
			errs.invalid("spec.externalName", spec["externalName"], m)
		}
	} else if cip != "" && cip != "None" && parseIPStrict(cip) == nil {
		errs.invalid("spec.clusterIPs[0]", cip, ipInvalidMsg)
	}
	if headless && (typ == "LoadBalancer" || typ == "NodePort") {
		errs.invalid("spec.clusterIPs[0]", "None", fmt.Sprintf("may not be set to 'None' for %s services", typ))
	}
	cips := getSlice(spec, "clusterIPs")
	if len(cips) > 2 {
		errs.invalid("spec.clusterIPs", cips, "may only hold up to 2 values")
	}
	if len(cips) > 0 && cips[0] != spec["clusterIP"] {
		errs.invalid("spec.clusterIPs", cips, "first value must match `clusterIP`")
	}
	for i, c := range cips {
		cs, _ := c.(string)
		if i > 0 && (cs == "None" || parseIPStrict(cs) == nil) {
			errs.invalid(fmt.Sprintf("spec.clusterIPs[%d]", i), c, ipInvalidMsg)
		}
	}
	if len(cips) == 2 && ipFamilyOf(fmt.Sprint(cips[0])) == ipFamilyOf(fmt.Sprint(cips[1])) {
		errs.invalid("spec.clusterIPs", cips, "may specify no more than one IP for each IP family")
	}
	fams := getSlice(spec, "ipFamilies")
	famSeen := map[string]bool{}
	for i, f := range fams {
		fs, _ := f.(string)
		fld := fmt.Sprintf("spec.ipFamilies[%d]", i)
		if fs != "IPv4" && fs != "IPv6" {
			errs.notSupported(fld, f, "IPv4", "IPv6")
			continue
		}
		if famSeen[fs] {
			errs.duplicate(fld, fs)
		}
		famSeen[fs] = true
		noSel := headless && len(getMap(spec, "selector")) == 0
		if s.alloc.pool(fs) == nil && !noSel {
			errs.invalid(fld, fs, "not configured on this cluster")
		}
		if !headless && i < len(cips) {
			if cf := ipFamilyOf(fmt.Sprint(cips[i])); cf != "" && cf != fs {
				errs.invalid(fmt.Sprintf("spec.clusterIPs[%d]", i), cips[i], fmt.Sprintf("expected an %s value as indicated by `ipFamilies[%d]`", fs, i))
			}
		}
	}
	if len(fams) > 2 {
		errs.invalid("spec.ipFamilies", fams, "may specify no more than one IP for each IP family")
	}
	if typ != "ExternalName" {
		pol := getString(spec, "ipFamilyPolicy")
		switch pol {
		case "SingleStack", "PreferDualStack", "RequireDualStack":
		default:
			errs.notSupported("spec.ipFamilyPolicy", spec["ipFamilyPolicy"], "PreferDualStack", "RequireDualStack", "SingleStack")
		}
		if pol == "SingleStack" && len(fams) > 1 {
			errs.invalid("spec.ipFamilyPolicy", pol, "must be RequireDualStack or PreferDualStack when multiple IP families are specified")
		}
		if pol == "RequireDualStack" && !s.alloc.dualStack() && !(headless && len(getMap(spec, "selector")) == 0) {
			errs.invalid("spec.ipFamilyPolicy", pol, "this cluster is not configured for dual-stack services")
		}
	} else if spec["ipFamilyPolicy"] != nil || len(fams) > 0 {
		errs.forbidden("spec.ipFamilies", "may not be set for ExternalName services")
	}
	for i, e := range getSlice(spec, "externalIPs") {
		es, _ := e.(string)
		validateNonSpecialIP(es, fmt.Sprintf("spec.externalIPs[%d]", i), errs)
	}
	if lbip, ok := spec["loadBalancerIP"].(string); ok && lbip != "" && parseIPStrict(lbip) == nil {
		errs.invalid("spec.loadBalancerIP", lbip, ipInvalidMsg)
	}
	if r := getSlice(spec, "loadBalancerSourceRanges"); len(r) > 0 {
		if typ != "LoadBalancer" {
			errs.forbidden("spec.loadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")
		}
		for i, c := range r {
			cs, _ := c.(string)
			if _, _, err := net.ParseCIDR(strings.TrimSpace(cs)); err != nil {
				errs.invalid(fmt.Sprintf("spec.loadBalancerSourceRanges[%d]", i), c, "must be a valid CIDR (e.g. 10.9.8.0/24)")
			}
		}
	}
	if c, ok := spec["loadBalancerClass"]; ok && c != nil {
		cs, _ := c.(string)
		if typ != "LoadBalancer" {
			errs.forbidden("spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")
		} else if m := validateQualifiedName(cs); m != "" {
			errs.invalid("spec.loadBalancerClass", c, m)
		}
	}
	if v, ok := spec["allocateLoadBalancerNodePorts"]; ok && v != nil && typ != "LoadBalancer" {
		errs.forbidden("spec.allocateLoadBalancerNodePorts", "may only be used when `type` is 'LoadBalancer'")
	}
	switch sa := getString(spec, "sessionAffinity"); sa {
	case "None":
	case "ClientIP":
		t, ok := toInt64(getPath(spec, "sessionAffinityConfig", "clientIP", "timeoutSeconds"))
		if !ok || t < 1 || t > 86400 {
			errs.invalid("spec.sessionAffinityConfig.clientIP.timeoutSeconds", t, "must be greater than 0 and less than 86400")
		}
	default:
		errs.notSupported("spec.sessionAffinity", sa, "ClientIP", "None")
	}
	if etp, ok := spec["externalTrafficPolicy"]; ok && etp != nil {
		es, _ := etp.(string)
		if !externallyAccessible(spec) {
			errs.invalid("spec.externalTrafficPolicy", etp, "may only be set for externally-accessible services")
		} else if es != "Cluster" && es != "Local" {
			errs.notSupported("spec.externalTrafficPolicy", etp, "Cluster", "Local")
		}
	}
	if itp, ok := spec["internalTrafficPolicy"]; ok && itp != nil && itp != "Cluster" && itp != "Local" {
		errs.notSupported("spec.internalTrafficPolicy", itp, "Cluster", "Local")
	}
	if h, ok := toInt64(spec["healthCheckNodePort"]); ok && h != 0 && !needsHealthCheckNodePort(spec) {
		errs.invalid("spec.healthCheckNodePort", h, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'")
	}
	for _, k := range sortedKeys(getMap(spec, "selector")) {
		if m := validateLabelKey(k); m != "" {
			errs.invalid("spec.selector", k, m)
		}
		if v, ok := getMap(spec, "selector")[k].(string); !ok {
			errs.invalid("spec.selector", getMap(spec, "selector")[k], "must be a string")
		} else if m := validateLabelValue(v); m != "" {
			errs.invalid("spec.selector", v, m)
		}
	}
	validateLBStatus(getMap(o, "status", "loadBalancer"), "status.loadBalancer", errs)
	if old != nil {
		oldSpec := getMap(old, "spec")
		oldType := getString(oldSpec, "type")
		if typ != "ExternalName" && oldType != "ExternalName" {
			if ocip := getString(oldSpec, "clusterIP"); ocip != "" && cip != ocip {
				errs.invalid("spec.clusterIPs[0]", cip, "may not change once set")
			}
		}
		if typ == "LoadBalancer" && oldType == "LoadBalancer" && !jsonEqual(spec["loadBalancerClass"], oldSpec["loadBalancerClass"]) {
			errs.invalid("spec.loadBalancerClass", spec["loadBalancerClass"], "may not change once set")
		}
	}
}

func validateLBStatus(lb obj, path string, errs *fieldErrs) {
	for i, in := range getSlice(lb, "ingress") {
		f := fmt.Sprintf("%s.ingress[%d]", path, i)
		im, ok := in.(map[string]interface{})
		if !ok {
			errs.invalid(f, in, "must be an object")
			continue
		}
		ipStr, _ := im["ip"].(string)
		if ipStr != "" && parseIPStrict(ipStr) == nil {
			errs.invalid(f+".ip", ipStr, ipInvalidMsg)
		}
		if h, _ := im["hostname"].(string); h != "" {
			if m := validateDNS1123Subdomain(h); m != "" {
				errs.invalid(f+".hostname", h, m)
			} else if parseIPStrict(h) != nil {
				errs.invalid(f+".hostname", h, "must be a DNS name, not an IP address")
			}
		}
		if mode, ok := im["ipMode"]; ok && mode != nil {
			if ipStr == "" {
				errs.forbidden(f+".ipMode", "may not be specified when `ip` is not")
			} else if mode != "VIP" && mode != "Proxy" {
				errs.notSupported(f+".ipMode", mode, "Proxy", "VIP")
			}
		}
		for j, p := range getSlice(im, "ports") {
			pm := getMap(p)
			pf := fmt.Sprintf("%s.ports[%d]", f, j)
			if v, ok := toInt64(pm["port"]); !ok || v < 1 || v > 65535 {
				errs.invalid(pf+".port", pm["port"], "must be between 1 and 65535, inclusive")
			}
			if pr := getString(pm, "protocol"); pr != "TCP" && pr != "UDP" && pr != "SCTP" {
				errs.notSupported(pf+".protocol", pm["protocol"], "SCTP", "TCP", "UDP")
			}
		}
	}
}

func svcOwner(o obj) string {
	return objectKey(getString(o, "metadata", "namespace"), getString(o, "metadata", "name"))
}

// serviceAllocate assigns cluster IPs, node ports and the health check
// node port, and releases what the old object held but the new one no
// longer does.
func serviceAllocate(s *Store, tx *allocTx, o, old obj, errs *fieldErrs) {
	a := s.alloc
	who := svcOwner(o)
	spec := getMap(o, "spec")
	typ := getString(spec, "type")
	// cluster IPs
	var keepIPs = map[string]bool{}
	if typ != "ExternalName" && getString(spec, "clusterIP") != "None" {
		fams := getSlice(spec, "ipFamilies")
		cips := getSlice(spec, "clusterIPs")
		out := make([]interface{}, 0, len(fams))
		for i, f := range fams {
			fs, _ := f.(string)
			p := a.pool(fs)
			if p == nil {
				continue
			}
			if i < len(cips) {
				cs, _ := cips[i].(string)
				ip := parseIPStrict(cs)
				off, ok := p.offset(ip)
				if !ok {
					errs.invalid("spec.clusterIPs", cips, fmt.Sprintf("failed to allocate IP %s: the provided IP (%s) is not in the valid range. The range of valid IPs is %s", cs, cs, p.cidr.String()))
					return
				}
				if !claim(p.owner, off, who, tx) {
					errs.invalid("spec.clusterIPs", cips, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", cs))
					return
				}
				out = append(out, p.ipAt(off))
				keepIPs[p.ipAt(off)] = true
				continue
			}
			ip, ok := p.allocNext(who, tx)
			if !ok {
				errs.append(fieldErr{typ: "Invalid", field: "spec.clusterIPs", value: cips, detail: fmt.Sprintf("failed to allocate a serviceIP: range is full")})
				return
			}
			out = append(out, ip)
			keepIPs[ip] = true
		}
		if len(out) > 0 {
			spec["clusterIPs"] = out
			spec["clusterIP"] = out[0]
		}
	}
	// node ports
	keepPorts := map[int]bool{}
	pp := a.ports
	for i, p := range getSlice(spec, "ports") {
		pm, _ := p.(map[string]interface{})
		if pm == nil {
			continue
		}
		np, _ := toInt64(pm["nodePort"])
		if np == 0 {
			if !needsNodePorts(spec) {
				continue
			}
			v, ok := pp.allocNext(who, tx)
			if !ok {
				errs.invalid(fmt.Sprintf("spec.ports[%d].nodePort", i), 0, "failed to allocate a nodePort: range is full")
				return
			}
			pm["nodePort"] = int64(v)
			keepPorts[v] = true
			continue
		}
		off := int(np) - pp.base
		if off < 0 || off >= pp.size {
			errs.invalid(fmt.Sprintf("spec.ports[%d].nodePort", i), np, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", pp))
			return
		}
		if !claim(pp.owner, off, who, tx) {
			errs.invalid(fmt.Sprintf("spec.ports[%d].nodePort", i), np, "provided port is already allocated")
			return
		}
		keepPorts[int(np)] = true
	}
	if needsHealthCheckNodePort(spec) {
		h, _ := toInt64(spec["healthCheckNodePort"])
		if h == 0 {
			v, ok := pp.allocNext(who, tx)
			if !ok {
				errs.invalid("spec.healthCheckNodePort", 0, "failed to allocate a nodePort: range is full")
				return
			}
			spec["healthCheckNodePort"] = int64(v)
			keepPorts[v] = true
		} else {
			off := int(h) - pp.base
			if off < 0 || off >= pp.size {
				errs.invalid("spec.healthCheckNodePort", h, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %s", pp))
				return
			}
			if !claim(pp.owner, off, who, tx) {
				errs.invalid("spec.healthCheckNodePort", h, "provided port is already allocated")
				return
			}
			keepPorts[int(h)] = true
		}
	}
	if old != nil {
		releaseService(a, old, who, keepIPs, keepPorts, tx)
	}
}

func releaseService(a *allocators, o obj, who string, keepIPs map[string]bool, keepPorts map[int]bool, tx *allocTx) {
	spec := getMap(o, "spec")
	for _, c := range getSlice(spec, "clusterIPs") {
		cs, _ := c.(string)
		ip := parseIPStrict(cs)
		if ip == nil || keepIPs[ip.String()] {
			continue
		}
		for _, p := range a.ips {
			if off, ok := p.offset(ip); ok {
				unclaim(p.owner, off, who, tx)
			}
		}
	}
	rel := func(v interface{}) {
		n, _ := toInt64(v)
		if n == 0 || keepPorts[int(n)] {
			return
		}
		unclaim(a.ports.owner, int(n)-a.ports.base, who, tx)
	}
	for _, p := range getSlice(spec, "ports") {
		rel(getMap(p)["nodePort"])
	}
	rel(spec["healthCheckNodePort"])
}

func serviceRelease(s *Store, o obj) {
	releaseService(s.alloc, o, svcOwner(o), nil, nil, nil)
}

// restoreServiceAllocations re-registers the allocations of a service
// loaded from the state file.
func restoreServiceAllocations(a *allocators, o obj) {
	tx := &allocTx{}
	var errs fieldErrs
	spec := getMap(o, "spec")
	who := svcOwner(o)
	for _, c := range getSlice(spec, "clusterIPs") {
		cs, _ := c.(string)
		if ip := parseIPStrict(cs); ip != nil {
			for _, p := range a.ips {
				if off, ok := p.offset(ip); ok {
					claim(p.owner, off, who, tx)
				}
			}
		}
	}
	claimPort := func(v interface{}) {
		if n, _ := toInt64(v); n != 0 {
			if off := int(n) - a.ports.base; off >= 0 && off < a.ports.size {
				claim(a.ports.owner, off, who, tx)
			}
		}
	}
	for _, p := range getSlice(spec, "ports") {
		claimPort(getMap(p)["nodePort"])
	}
	claimPort(spec["healthCheckNodePort"])
	_ = errs
}
