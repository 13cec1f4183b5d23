package containerdtest

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// The chains CNI's portmap and firewall plugins make once per machine, by
// table: removed at the end only when this fixture made them and nothing
// but their own rules is in them.
var cniGlobalChains = map[string][]string{
	"filter": {"CNI-FORWARD", "CNI-ADMIN", "CNI-ISOLATION-STAGE-1", "CNI-ISOLATION-STAGE-2"},
	"nat":    {"CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ"},
}

// removeNetworks removes what CNI leaves of the test's networks: veths
// that outlive their container, the bridges (when nerdctl network rm never
// ran), the firewall plugin's isolation rules naming them (network rm
// leaves those), the bridge plugin's per-container nat chains (left empty
// on DEL), any rule of a container whose DEL never ran, host-local's IPAM
// directories and CNI's cached results; then the machine-wide CNI chains
// when they were not there before the test and hold nothing but their own
// rules.
func (f *fixture) removeNetworks(nets map[string]cniNet, ids []string, veths map[string]string) {
	bridges := map[string]bool{}
	var subnets []netip.Prefix
	for name, n := range nets {
		if n.bridge != "" && n.bridge != "docker0" {
			bridges[n.bridge] = true
		}
		subnets = append(subnets, n.subnets...)
		if name != "" && !strings.ContainsAny(name, "/") {
			os.RemoveAll(filepath.Join(cniStateDir, "networks", name))
			for _, id := range ids {
				for _, file := range globOr(filepath.Join(cniStateDir, "results", name+"-"+f.cniID(id)+"-*")) {
					os.Remove(file)
				}
			}
		}
	}
	// The host ends of veths whose container's network namespace outlives
	// the container (an orphaned TCP socket keeps it until the socket times
	// out): nerdctl's DEL passes no namespace, so CNI does not delete them.
	for v, br := range veths {
		if ourVeth(v, br) {
			f.logf("ip link del %s (was a port of %s)", v, br)
			if out, err := exec.Command("ip", "link", "del", v).CombinedOutput(); err != nil {
				f.errorf("ip link del %s: %v: %s", v, err, out)
			}
		}
	}
	for br := range bridges {
		if linkExists(br) {
			f.logf("ip link del %s", br)
			if out, err := exec.Command("ip", "link", "del", br).CombinedOutput(); err != nil {
				f.errorf("ip link del %s: %v: %s", br, err, out)
			}
		}
	}
	ours := f.chainsOf(nets, ids)
	for _, table := range []string{"filter", "nat"} {
		chains, rules, err := iptablesSave(table)
		if err != nil {
			f.errorf("%v", err)
			continue
		}
		for _, r := range rules {
			if ruleIsOurs(r, bridges, subnets, ids, ours) {
				f.iptablesDelete(table, r)
			}
		}
		for ch := range chains {
			if ours[ch] {
				f.iptables("-t", table, "-F", ch)
				f.iptables("-t", table, "-X", ch)
			}
		}
	}
	// Machine-wide chains the fixture made, if nothing but their own rules
	// is in them (another user of CNI would have added per-bridge or
	// per-address rules). Not when the baseline is lost (a stale fixture
	// without its file): whether they were there before is not known.
	for table, globals := range cniGlobalChains {
		if f.chains == nil {
			break
		}
		chains, rules, err := iptablesSave(table)
		if err != nil {
			continue
		}
		var made []string
		for _, ch := range globals {
			if chains[ch] && !f.chains[table][ch] {
				made = append(made, ch)
			}
		}
		if len(made) == 0 {
			continue
		}
		inUse := slices.ContainsFunc(rules, func(r string) bool {
			fl := strings.Fields(r)
			return len(fl) > 1 && slices.Contains(made, fl[1]) && slices.ContainsFunc(fl, func(s string) bool {
				return s == "-i" || s == "-o" || s == "-s" || s == "-d" || strings.HasPrefix(s, "CNI-DN-") || (strings.HasPrefix(s, "CNI-") && len(s) == 28)
			})
		})
		if inUse {
			f.logf("the CNI chains %v of table %s were made by this fixture but another user has rules in them; left", made, table)
			continue
		}
		// The jumps into them from the built-in chains, then the chains:
		// flushed first, as they jump to one another.
		for _, r := range rules {
			fl := strings.Fields(r)
			if len(fl) > 1 && !slices.Contains(made, fl[1]) && slices.ContainsFunc(made, func(ch string) bool { return jumpsTo(fl, ch) }) {
				f.iptablesDelete(table, r)
			}
		}
		for _, ch := range made {
			f.iptables("-t", table, "-F", ch)
		}
		for _, ch := range made {
			f.iptables("-t", table, "-X", ch)
		}
	}
}

// cniID is the container id nerdctl gives CNI: <namespace>-<id>.
func (f *fixture) cniID(id string) string { return f.ns + "-" + id }

// chainsOf are the bridge plugin's masquerade chain and portmap's DNAT
// chain of each container on each network: CNI-<sha512(network+cni
// id)>, CNI-DN-<...>, 28 characters. nerdctl's DEL passes no network
// namespace, so the bridge plugin skips removing the first; nerdctl then
// deletes the rules naming the container, which leaves it empty.
func (f *fixture) chainsOf(nets map[string]cniNet, ids []string) map[string]bool {
	ours := map[string]bool{}
	for name := range nets {
		for _, id := range ids {
			sum := sha512.Sum512([]byte(name + f.cniID(id)))
			h := hex.EncodeToString(sum[:])
			ours[("CNI-" + h)[:28]] = true
			ours[("CNI-DN-" + h)[:28]] = true
		}
	}
	return ours
}

// ourVeth: a veth seen on one of our bridges, still there, and on no other
// bridge since (its name may have been reused).
func ourVeth(name, bridge string) bool {
	if !strings.HasPrefix(name, "veth") || !linkExists(name) {
		return false
	}
	if fileExists(filepath.Join("/sys/class/net", name, "brport")) {
		master, _ := os.Readlink(filepath.Join("/sys/class/net", name, "master"))
		return filepath.Base(master) == bridge
	}
	return true
}

// ruleIsOurs: a rule that names one of our bridges, jumps to one of our
// chains, carries one of our container ids, or, in a CNI chain, an address
// of our subnets.
func ruleIsOurs(rule string, bridges map[string]bool, subnets []netip.Prefix, ids []string, ours map[string]bool) bool {
	fl := strings.Fields(rule)
	if len(fl) < 2 || ours[fl[1]] {
		return false // inside our chains: flushed with them
	}
	for i := 0; i+1 < len(fl); i++ {
		switch fl[i] {
		case "-i", "-o":
			if bridges[fl[i+1]] {
				return true
			}
		case "-j", "-g":
			if ours[fl[i+1]] {
				return true
			}
		case "-s", "-d":
			if !strings.HasPrefix(fl[1], "CNI-") {
				continue
			}
			addr := fl[i+1]
			if pfx, err := netip.ParsePrefix(addr); err == nil {
				addr = pfx.Addr().String()
			}
			if ip, err := netip.ParseAddr(addr); err == nil && slices.ContainsFunc(subnets, func(s netip.Prefix) bool { return s.Contains(ip) }) {
				return true
			}
		}
	}
	return slices.ContainsFunc(ids, func(id string) bool { return strings.Contains(rule, id) })
}

func jumpsTo(fl []string, chain string) bool {
	for i := 0; i+1 < len(fl); i++ {
		if (fl[i] == "-j" || fl[i] == "-g") && fl[i+1] == chain {
			return true
		}
	}
	return false
}

func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// iptablesSave lists a table's chains and rules ("-A CHAIN ...").
func iptablesSave(table string) (chains map[string]bool, rules []string, err error) {
	var stderr bytes.Buffer
	cmd := exec.Command("iptables-save", "-t", table)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, nil, fmt.Errorf("iptables-save -t %s: %v: %s", table, err, stderr.String())
	}
	chains = map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, ":"):
			chains[strings.Fields(line[1:])[0]] = true
		case strings.HasPrefix(line, "-A "):
			rules = append(rules, line)
		}
	}
	return chains, rules, nil
}

// iptablesDelete deletes a rule as iptables-save printed it: iptables-restore
// reads its quoting back.
func (f *fixture) iptablesDelete(table, rule string) {
	f.logf("iptables -t %s %s", table, "-D"+strings.TrimPrefix(rule, "-A"))
	cmd := exec.Command("iptables-restore", "-w", "--noflush")
	cmd.Stdin = strings.NewReader(fmt.Sprintf("*%s\n-D%s\nCOMMIT\n", table, strings.TrimPrefix(rule, "-A")))
	if out, err := cmd.CombinedOutput(); err != nil {
		f.errorf("delete the rule %q of table %s: %v: %s", rule, table, err, out)
	}
}

func (f *fixture) iptables(args ...string) {
	f.logf("iptables %s", strings.Join(args, " "))
	if out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput(); err != nil {
		f.errorf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
	}
}
