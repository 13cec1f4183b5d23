package containerdtest

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// etcdDataPrefix is where backends/containers keeps etcd's data on the
// host (cluster.go): a bind mount of the etcd container, which the
// cluster's Down removes but a test process that dies does not.
const etcdDataPrefix = "/dev/shm/kwok-run-etcd-"

// watch notes the test's networks (from their CNI configurations, which
// nerdctl removes with the network), containers (from containerd's state)
// and the host ends of their veths (the bridges' ports) while they exist:
// the cleanup needs them after they are gone from nerdctl's view, to find
// what CNI left of them on the host.
func (f *fixture) watch() {
	defer close(f.watchDone)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		f.look()
		select {
		case <-f.stopWatch:
			f.look()
			return
		case <-tick.C:
		}
	}
}

func (f *fixture) look() {
	// nerdctl 2 keeps the networks of a namespace other than default in a
	// directory of that name.
	confs := append(globOr(filepath.Join(f.netConf, "*.conflist")), globOr(filepath.Join(f.netConf, f.ns, "*.conflist"))...)
	for _, file := range confs {
		raw, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		var cl struct {
			Name    string `json:"name"`
			Plugins []struct {
				Type   string `json:"type"`
				Bridge string `json:"bridge"`
				IPAM   struct {
					Ranges [][]struct {
						Subnet string `json:"subnet"`
					} `json:"ranges"`
				} `json:"ipam"`
			} `json:"plugins"`
		}
		if json.Unmarshal(raw, &cl) != nil || cl.Name == "" {
			continue
		}
		n := cniNet{}
		for _, pl := range cl.Plugins {
			if pl.Type != "bridge" {
				continue
			}
			n.bridge = pl.Bridge
			for _, rs := range pl.IPAM.Ranges {
				for _, r := range rs {
					if pfx, err := netip.ParsePrefix(r.Subnet); err == nil {
						n.subnets = append(n.subnets, pfx)
					}
				}
			}
		}
		ports, _ := os.ReadDir(filepath.Join("/sys/class/net", n.bridge, "brif"))
		f.mu.Lock()
		f.nets[cl.Name] = n
		for _, port := range ports {
			f.veths[port.Name()] = n.bridge
		}
		f.mu.Unlock()
	}
	tasks := filepath.Join(f.dir, "state", "io.containerd.runtime.v2.task", f.ns)
	ents, _ := os.ReadDir(tasks)
	for _, e := range ents {
		f.mu.Lock()
		f.ids[e.Name()] = true
		read := f.specRead[e.Name()]
		f.mu.Unlock()
		if read {
			continue
		}
		var spec struct {
			Mounts []struct {
				Source string `json:"source"`
			} `json:"mounts"`
		}
		raw, err := os.ReadFile(filepath.Join(tasks, e.Name(), "config.json"))
		if err != nil || json.Unmarshal(raw, &spec) != nil {
			continue // the bundle is being written: again next time
		}
		f.mu.Lock()
		f.specRead[e.Name()] = true
		for _, m := range spec.Mounts {
			if strings.HasPrefix(m.Source, etcdDataPrefix) && !strings.Contains(m.Source[len(etcdDataPrefix):], "/") {
				f.dataDirs[m.Source] = true
			}
		}
		f.mu.Unlock()
	}
}
