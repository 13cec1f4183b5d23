package scalebench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/binaries/binariestest"
	"github.com/kwok-run/kwok-run/scenario"
)

// kwokctlNodes brings a cluster up with kwokctl's binary runtime on the same
// cached binaries kwok-run uses, runs `kwokctl scale node --replicas n`, and
// returns the seconds from the scale command's start until n nodes are
// Ready. kwokctl is built from source with KWOK, into the same cache.
func kwokctlNodes(b *testing.B, n int) float64 {
	b.Helper()
	r := binariestest.Cached(b)
	r.Order = binaries.DefaultOrder
	c := scenario.DefaultCluster()
	ctx := context.Background()
	bin := func(name, version string) string {
		p, err := r.Resolve(ctx, name, version)
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	kwokctl := bin(binaries.Kwokctl, c.Kwok)
	kubectl := bin(binaries.Kubectl, c.Kubernetes)
	work := b.TempDir()
	name := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e6)
	run := func(args ...string) {
		b.Helper()
		cmd := exec.Command(kwokctl, append(args, "--name", name)...)
		cmd.Env = append(os.Environ(), "KWOK_WORKDIR="+work, "KWOK_KUBECTL_BINARY="+kubectl)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			b.Fatalf("kwokctl %v: %v\n%s", args, err, out.Bytes())
		}
	}
	run("create", "cluster", "--runtime", "binary", "--wait", "2m",
		"--kube-apiserver-binary", bin(binaries.KubeAPIServer, c.Kubernetes),
		"--kube-controller-manager-binary", bin(binaries.KubeControllerManager, c.Kubernetes),
		"--kube-scheduler-binary", bin(binaries.KubeScheduler, c.Kubernetes),
		"--kwok-controller-binary", bin(binaries.Kwok, c.Kwok),
		"--etcd-binary", bin(binaries.Etcd, c.Etcd))
	b.Cleanup(func() { run("delete", "cluster") })

	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(work, "clusters", name, "kubeconfig.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = -1, 0
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		run("scale", "node", "--replicas", fmt.Sprint(n))
	}()
	deadline := time.Now().Add(15 * time.Minute)
	for time.Now().Before(deadline) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err == nil && ready(list.Items) >= n {
			took := time.Since(start).Seconds()
			<-done
			return took
		}
		time.Sleep(250 * time.Millisecond)
	}
	b.Fatalf("kwokctl: %d nodes not Ready after 15 minutes", n)
	return 0
}

func ready(nodes []corev1.Node) int {
	n := 0
	for _, node := range nodes {
		for _, c := range node.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				n++
			}
		}
	}
	return n
}
