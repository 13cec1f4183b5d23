package containerdtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The shared places containerd, runc, CNI and nerdctl write to whatever
// their configuration says. The cleanup removes what the fixture left in
// them, and the directories themselves when the fixture created them and
// they are empty.
const (
	shimSocketDir = "/run/containerd/s" // containerd 1.6's shims' sockets: sha256(address/namespace/id)
	runcRootDir   = "/run/containerd/runc"
	cniStateDir   = "/var/lib/cni"
	// nerdctl's OCI hook keeps /run/nerdctl/<namespace>/<id>/port-reserver.pid
	// for the `sleep infinity` that holds a published port on the host.
	nerdctlRunDir = "/run/nerdctl"
)

// Directories removed at the end when the fixture made them and they are
// empty. Not /run/containerd/s, nor /run/containerd which holds it: every
// containerd 1.6 on the machine, Docker's too, puts its shims' sockets
// there, and removing it could race a shim of theirs starting.
var sharedDirs = []string{
	"/run/containerd/fifo", "/run/containerd/runc",
	"/var/lib/cni/networks", "/var/lib/cni/results", "/var/lib/cni", "/run/nerdctl",
}

// cleanup removes everything the test's containerd and nerdctl made, then
// checks that nothing is left.
func (f *fixture) cleanup() {
	if f.stopWatch != nil {
		close(f.stopWatch)
		<-f.watchDone
	}
	if f.t.Failed() && f.cmd != nil {
		f.t.Log(f.logTail(40))
	}
	nets, ids, veths := f.teardown()
	f.check(nets, ids, veths)
}

// teardown removes what a fixture's containerd and nerdctl made: their
// containers and networks, the daemon and its shims, the mounts, bridges,
// firewall rules, IPAM, cgroup and port-reserver leftovers, and the
// fixture's directory. It returns what it knew of the networks, containers
// and veths.
func (f *fixture) teardown() (map[string]cniNet, []string, map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// 1. Containers and networks, through nerdctl while containerd still
	//    runs: their CNI DEL frees the addresses and most firewall rules.
	if f.flags != nil && f.nerdctl != "" && f.daemonRunning() {
		n := func(args ...string) (string, error) {
			out, err := exec.CommandContext(ctx, f.nerdctl, slices.Concat(f.flags, args)...).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		if ids, err := n("ps", "--all", "--quiet"); err == nil && ids != "" {
			f.logf("removing containers left: %s", strings.Join(strings.Fields(ids), " "))
			if out, err := n(append([]string{"rm", "--force"}, strings.Fields(ids)...)...); err != nil {
				f.logf("nerdctl rm: %v: %s", err, out)
			}
		}
		if nets, err := n("network", "ls", "--format", "{{.Name}}"); err == nil {
			for _, net := range strings.Fields(nets) {
				if net == "bridge" || net == "host" || net == "none" {
					continue
				}
				f.logf("removing network %s, left", net)
				if out, err := n("network", "rm", net); err != nil {
					f.logf("nerdctl network rm %s: %v: %s", net, err, out)
				}
			}
		}
	}

	// 2. containerd: TERM, then KILL.
	f.stopDaemon()

	// 3. Containers and shims that outlive containerd: runc's state of our
	//    namespace (runc delete runs nerdctl's poststop hook: CNI DEL and
	//    the port reserver's end), the port reservers whose hook never ran,
	//    then the shims whose -address is our socket.
	f.look()
	runcRoot := filepath.Join(runcRootDir, f.ns)
	if ents, err := os.ReadDir(runcRoot); err == nil {
		for _, e := range ents {
			f.logf("runc delete --force %s", e.Name())
			if out, err := exec.Command("runc", "--root", runcRoot, "delete", "--force", e.Name()).CombinedOutput(); err != nil {
				f.logf("runc delete: %v: %s", err, out)
			}
		}
	}
	os.Remove(runcRoot)
	reservers := filepath.Join(nerdctlRunDir, f.ns)
	for _, file := range globOr(filepath.Join(reservers, "*", "port-reserver.pid")) {
		raw, _ := os.ReadFile(file)
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil || pid <= 1 {
			continue
		}
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); string(cmdline) == "sleep\x00infinity\x00" && !isZombie(pid) {
			f.logf("killing nerdctl's port reserver (pid %d)", pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	os.RemoveAll(reservers)
	for _, pr := range f.processes() {
		f.logf("killing %s", pr)
		syscall.Kill(pr.pid, syscall.SIGKILL)
	}
	for deadline := time.Now().Add(10 * time.Second); len(f.processes()) > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	f.mu.Lock()
	ids := slices.Sorted(maps.Keys(f.ids))
	nets := maps.Clone(f.nets)
	veths := maps.Clone(f.veths)
	dataDirs := slices.Sorted(maps.Keys(f.dataDirs))
	f.mu.Unlock()
	for _, d := range dataDirs {
		if fileExists(d) {
			f.logf("removing etcd's data %s, left", d)
			os.RemoveAll(d)
		}
	}
	for _, id := range ids {
		// Left when a shim is killed.
		os.Remove(f.shimSocket(id))
	}

	// 4. Mounts under the directory (rootfs overlays, snapshots), deepest
	//    first.
	for _, m := range mountsUnder(f.dir) {
		if err := syscall.Unmount(m, 0); err != nil {
			f.logf("umount %s: %v; detaching it", m, err)
			syscall.Unmount(m, syscall.MNT_DETACH)
		}
	}

	// 5. Cgroups of our namespace (cgroupfs: /<namespace>/<id>), every
	//    hierarchy.
	for _, root := range cgroupRoots() {
		removeCgroup(filepath.Join(root, f.ns))
	}

	// 6. Network leftovers: veths, bridges, their firewall rules,
	//    per-container chains, IPAM state; the machine-wide CNI chains and
	//    directories if the fixture made them. The bridge plugin turns
	//    ip_forward on: back off if it was.
	f.removeNetworks(nets, ids, veths)
	for _, d := range sharedDirs {
		if f.dirsBefore != nil && !f.dirsBefore[d] {
			os.Remove(d) // only when empty
		}
	}
	if f.ipForward == "0" {
		os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("0\n"), 0o644)
	}

	// 7. The directory.
	if err := os.RemoveAll(f.dir); err != nil {
		f.errorf("remove %s: %v", f.dir, err)
	}
	return nets, ids, veths
}

// shimSocket is containerd 1.6's socket of a container's shim:
// /run/containerd/s/<sha256 of address/namespace/id>.
func (f *fixture) shimSocket(id string) string {
	sum := sha256.Sum256([]byte(filepath.Join(f.sock, f.ns, id)))
	return filepath.Join(shimSocketDir, hex.EncodeToString(sum[:]))
}

// mountsUnder lists the mount points under dir, deepest first.
func mountsUnder(dir string) []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		fl := strings.Fields(line)
		if len(fl) < 5 {
			continue
		}
		if m := unescapeMount(fl[4]); strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(out)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cgroupRoots are the mount points of the cgroup hierarchies.
func cgroupRoots() []string {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		_, after, ok := strings.Cut(line, " - ")
		fl := strings.Fields(line)
		if !ok || len(fl) < 5 {
			continue
		}
		if typ := strings.Fields(after); len(typ) > 0 && (typ[0] == "cgroup" || typ[0] == "cgroup2") {
			out = append(out, unescapeMount(fl[4]))
		}
	}
	return out
}

// removeCgroup removes a cgroup and its children (rmdir, deepest first).
func removeCgroup(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			removeCgroup(filepath.Join(dir, e.Name()))
		}
	}
	syscall.Rmdir(dir)
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func globOr(pattern string) []string {
	m, _ := filepath.Glob(pattern)
	return m
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
