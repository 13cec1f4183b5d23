# A control plane without KWOK. Run, it measures what the idle control plane
# costs; brought up with `kwok-run up`, it is a cluster to play
# backend = "kubeconfig" scenarios against, whose KWOK controllers then come
# from the scenario's run, sharded by node pool, as on a real cluster.
#
#   eval "$(kwok-run up examples/bare-control-plane.hcl)"
#   kwok-run run --kubeconfig "$KUBECONFIG" examples/node-churn.hcl
#   kwok-run down

scenario "bare-control-plane" {
  description = "etcd, kube-apiserver, kube-scheduler and kube-controller-manager, no KWOK: what an idle control plane costs."
}

cluster {
  component "kwok" {
    enabled = false
  }
}

step "idle" {
  sleep {
    duration = "30s"
  }
}

assert "an idle apiserver uses under a third of a core" {
  condition = metrics.component_cpu_seconds.apiserver <= 10
}
