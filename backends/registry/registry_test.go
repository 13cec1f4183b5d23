package registry

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func TestSaveGetListRemove(t *testing.T) {
	r := &Registry{Dir: t.TempDir()}
	for _, name := range []string{"b", "a"} {
		if err := r.Save(&Entry{Name: name, Backend: "local", Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := r.List()
	if err != nil || len(entries) != 2 || entries[0].Name != "a" {
		t.Fatalf("List: %v %v", entries, err)
	}
	if info, _ := os.Stat(filepath.Join(r.Dir, "clusters", "a.json")); info.Mode().Perm() != 0o600 {
		t.Errorf("entry mode %v", info.Mode().Perm())
	}
	if err := r.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get("a"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("removed entry still there: %v", err)
	}
	if err := r.Remove("a"); err != nil {
		t.Errorf("removing twice: %v", err)
	}
}

func TestProcessIdentity(t *testing.T) {
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	if !self.Alive() {
		t.Error("this process is not alive")
	}
	// The same pid with another start time is another process: never killed.
	impostor := Process{Name: "x", PID: self.PID, Start: self.Start + 1}
	if impostor.Alive() {
		t.Error("a reused pid counted as the recorded process")
	}
	if err := impostor.Kill(time.Second); err != nil {
		t.Errorf("Kill of a process that is gone: %v", err)
	}
	if (&Entry{Owner: impostor}).Orphaned() != true || (&Entry{Owner: self}).Orphaned() || (&Entry{}).Orphaned() {
		t.Error("Orphaned is wrong")
	}
}

func TestDownKillsTheGroupAndDeletesData(t *testing.T) {
	r := &Registry{Dir: t.TempDir()}
	// A component and a child of its own, as kube components are started.
	cmd := exec.Command("sh", "-c", "sleep 60 & wait")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	start, err := StartTime(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	data, run := t.TempDir(), t.TempDir()
	e := &Entry{Name: "c", DataDir: data, RunDir: run, RemoveRunDir: true,
		Processes: []Process{{Name: "etcd", PID: cmd.Process.Pid, Start: start}}}
	if err := r.Save(e); err != nil {
		t.Fatal(err)
	}
	if err := r.Down(e); err != nil {
		t.Fatal(err)
	}
	if e.Processes[0].Alive() && !zombie(cmd.Process.Pid) {
		t.Error("the process survived")
	}
	// The shell's child is reaped by init, which may take a moment.
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(-cmd.Process.Pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if syscall.Kill(-cmd.Process.Pid, 0) == nil {
		t.Error("the process group survived")
	}
	for _, d := range []string{data, run} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left", d)
		}
	}
}
