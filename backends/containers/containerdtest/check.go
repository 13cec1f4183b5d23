package containerdtest

import (
	"path/filepath"
	"slices"
	"strings"
)

// check fails the test for anything of the fixture's containerd left on
// the host after the cleanup: its processes, mounts, directories and
// cgroups, shim sockets, the shared directories it made, veths, bridges,
// IPAM state, CNI results, and chains and rules of its networks.
func (f *fixture) check(nets map[string]cniNet, ids []string, veths map[string]string) {
	if len(ids) > 0 && len(nets) == 0 {
		f.errorf("containers ran but no network of theirs was seen in %s; their leftovers could not be looked for", f.netConf)
	}
	if left := f.processes(); len(left) > 0 {
		f.errorf("processes of the test's containerd still running: %v", left)
	}
	if m := mountsUnder(f.dir); len(m) > 0 {
		f.errorf("mounts left: %v", m)
	}
	var left []string
	for _, d := range []string{f.dir, filepath.Join(runcRootDir, f.ns), filepath.Join(nerdctlRunDir, f.ns)} {
		if fileExists(d) {
			left = append(left, d)
		}
	}
	for _, root := range cgroupRoots() {
		if d := filepath.Join(root, f.ns); fileExists(d) {
			left = append(left, d)
		}
	}
	for _, id := range ids {
		if s := f.shimSocket(id); fileExists(s) {
			left = append(left, s)
		}
	}
	for _, d := range sharedDirs {
		if !f.dirsBefore[d] && fileExists(d) {
			left = append(left, d)
		}
	}
	for v, br := range veths {
		if ourVeth(v, br) {
			left = append(left, "veth "+v)
		}
	}
	ours := f.chainsOf(nets, ids)
	for name, n := range nets {
		if n.bridge != "" && linkExists(n.bridge) {
			left = append(left, "bridge "+n.bridge)
		}
		if d := filepath.Join(cniStateDir, "networks", name); fileExists(d) {
			left = append(left, d)
		}
		left = append(left, globOr(filepath.Join(cniStateDir, "results", name+"-"+f.ns+"-*"))...)
	}
	for _, table := range []string{"filter", "nat"} {
		chains, rules, err := iptablesSave(table)
		if err != nil {
			continue
		}
		for ch := range chains {
			if ours[ch] || (f.chains != nil && slices.Contains(cniGlobalChains[table], ch) && !f.chains[table][ch]) {
				left = append(left, "chain "+table+"/"+ch)
			}
		}
		for _, r := range rules {
			for name, n := range nets {
				if n.bridge != "" && slices.Contains(strings.Fields(r), n.bridge) || strings.Contains(r, `"`+name+`"`) {
					left = append(left, "rule "+table+": "+r)
				}
			}
		}
	}
	if len(left) > 0 {
		f.errorf("left on the host:\n%s", indent(strings.Join(left, "\n")))
	}
}
