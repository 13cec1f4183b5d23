# With backend "kubeconfig" only KWOK is kwok-run's: the rest of the control
# plane is the existing cluster's own.
scenario "existing" {}

cluster {
  backend       = "kubeconfig"
  kubeconfig    = "admin.conf"
  etcd          = "v3.6.16"          # warning: Setting of the existing cluster | etcd has no effect
  feature_gates = { Example = true } # warning: Setting of the existing cluster | feature_gates

  component "apiserver" { # warning: Component of the existing cluster | apiserver is the cluster's own
    args = { v = 4 }
  }
  component "kwok" {
    args = { v = 4 }
  }
}

node_pool "workers" {
  count = 2
}

node_pool "slow" {
  count = 2
  heartbeat {
    lease_duration = "10m" # warning: Lease longer than the cluster allows | every 2m30s here
  }
}

step "go" {
  create_nodes {
    pool = "workers"
  }
  restart_component {
    component = "kwok"
  }
  stop_component {
    component = "scheduler" # error: Component of the existing cluster | cannot restart or stop the cluster's own scheduler
  }
}
