# A control plane without KWOK, to bring up with `kwok-run up` and play
# backend = "kubeconfig" scenarios against: the KWOK controllers then come
# from the scenario's run, sharded by node pool, as on a real cluster.
#
#   eval "$(kwok-run up examples/bare-control-plane.hcl)"
#   kwok-run run --kubeconfig "$KUBECONFIG" examples/node-churn.hcl
#   kwok-run down

scenario "bare-control-plane" {
  description = "etcd, kube-apiserver, kube-scheduler and kube-controller-manager; no KWOK."
}

cluster {
  component "kwok" {
    enabled = false
  }
}

step "idle" {
  sleep {
    duration = "1s"
  }
}
