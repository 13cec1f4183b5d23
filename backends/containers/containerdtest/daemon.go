package containerdtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startDaemon starts the fixture's containerd, waits until it answers, and
// sets the global flags that point nerdctl at it.
func (f *fixture) startDaemon() {
	t := f.t
	t.Helper()
	for _, d := range []string{"root", "state", "opt", "net.d", "nerdctl"} {
		if err := os.MkdirAll(filepath.Join(f.dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Everything of its own under the fixture's directory; the CRI plugin
	// off (it would start CNI of its own and a streaming server).
	conf := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %[3]q

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
`, filepath.Join(f.dir, "root"), filepath.Join(f.dir, "state"), f.sock, filepath.Join(f.dir, "opt"))
	if err := os.WriteFile(f.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(f.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	path, _ := exec.LookPath("containerd")
	f.cmd = exec.Command(path, "--config", f.conf)
	f.cmd.Stdout, f.cmd.Stderr = logFile, logFile
	// Its own process group: a ^C to go test, which ends the test process
	// without its cleanups, leaves containerd serving, for the next
	// fixture's sweepStale to remove its containers through it.
	f.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := f.cmd.Start(); err != nil {
		t.Fatalf("start containerd: %v", err)
	}
	f.exited = make(chan struct{})
	go func() {
		f.cmd.Wait()
		close(f.exited)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.Command("ctr", "--address", f.sock, "version").CombinedOutput()
		if err == nil {
			break
		}
		select {
		case <-f.exited:
			t.Fatalf("containerd exited at start-up: %v\n%s", f.cmd.ProcessState, f.logTail(30))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd does not answer on %s after 30s: %v: %s\n%s", f.sock, err, out, f.logTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// overlayfs when containerd's plugin for it loaded (it does not on
	// every kernel and filesystem), else native.
	snapshotter := "native"
	if out, err := exec.Command("ctr", "--address", f.sock, "plugins", "ls").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if fl := strings.Fields(line); len(fl) >= 4 && fl[0] == "io.containerd.snapshotter.v1" && fl[1] == "overlayfs" && fl[len(fl)-1] == "ok" {
				snapshotter = "overlayfs"
			}
		}
	}
	f.flags = []string{
		"--address", f.sock, "--namespace", f.ns, "--snapshotter", snapshotter,
		"--cni-path", f.cniDir, "--cni-netconfpath", f.netConf,
		"--data-root", filepath.Join(f.dir, "nerdctl"), "--cgroup-manager", "cgroupfs",
	}
	if err := f.writeFile(); err != nil {
		t.Fatal(err)
	}
}

// stopDaemon stops the fixture's containerd: TERM, and KILL after 10s.
func (f *fixture) stopDaemon() {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, pr := range f.processes() {
			if pr.name == "containerd" {
				if sig == syscall.SIGKILL {
					f.logf("containerd did not stop on TERM within 10s; killing it")
				}
				syscall.Kill(pr.pid, sig)
			}
		}
		for deadline := time.Now().Add(10 * time.Second); f.daemonRunning() && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if !f.daemonRunning() {
			break
		}
	}
	if f.exited != nil {
		select {
		case <-f.exited:
		case <-time.After(10 * time.Second):
			f.errorf("containerd (pid %d) was not reaped", f.cmd.Process.Pid)
		}
	}
}

// daemonRunning: the fixture's containerd is still there.
func (f *fixture) daemonRunning() bool {
	return slices.ContainsFunc(f.processes(), func(pr proc) bool { return pr.name == "containerd" })
}

type proc struct {
	pid  int
	name string
}

func (p proc) String() string { return fmt.Sprintf("%s[%d]", p.name, p.pid) }

// processes are the fixture's containerd, the shims it started, and
// nerdctl's processes on it (a `wait` of a test process that died, the
// logging binary of each container): by their command lines, which name
// its config, its socket or its directory. A stale fixture's processes are
// not our children: only /proc finds them.
func (f *fixture) processes() []proc {
	var out []proc
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		name := filepath.Base(argv[0])
		switch {
		case name == "containerd" && argFollows(argv, "--config", f.conf):
		case strings.HasPrefix(name, "containerd-shim") && (argFollows(argv, "-address", f.sock) || argFollows(argv, "--address", f.sock)):
		case strings.Contains(name, "nerdctl") && (argFollows(argv, "--address", f.sock) || slices.ContainsFunc(argv, func(a string) bool { return strings.HasPrefix(a, f.dir+"/") })):
		default:
			continue
		}
		if isZombie(pid) {
			continue
		}
		out = append(out, proc{pid, name})
	}
	return out
}

func argFollows(argv []string, flag, value string) bool {
	for i := 0; i+1 < len(argv); i++ {
		if argv[i] == flag && argv[i+1] == value {
			return true
		}
	}
	return slices.Contains(argv, flag+"="+value)
}

func isZombie(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// logTail is the end of containerd's log, for a test that failed.
func (f *fixture) logTail(n int) string {
	raw, err := os.ReadFile(f.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "the end of containerd's log:\n" + indent(strings.Join(lines, "\n"))
}
