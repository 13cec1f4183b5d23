variable "nodes" {
  default = 3
}

scenario "refs" {}

node_pool "workers" {
  count = var.node # error: Reference to undeclared variable | Did you mean "nodes"?
}

node_pool "others" {
  count = local.size # error: Reference to undeclared local value
}

step "go" {
  pod_lifecycle = "fast" # error: Unknown pod_lifecycle
  create_nodes {
    pool = "worker" # error: Unknown node_pool | Did you mean "workers"?
  }
  scale_pods "web" { # error: Unknown wave
    count = 3
  }
  restart_component {
    component = "kube-apiserver" # error: Unknown component
  }
  wait "pods_runing" { # error: Unknown wait condition | Did you mean "pods_running"?
  }
  sleep {
    duration = nodes # error: Unknown name "nodes" | Did you mean var.nodes?
  }
}

assert "bad metric" {
  condition = metrics.pod_startup.p99 < 5 # error: Unknown metric | Did you mean "pod_startup_latency"?
}

assert "bad step" {
  condition = metrics.steps.og.pods_created > 0 # error: Unknown step | Did you mean "go"?
}

assert "bad stat" {
  condition = metrics.pod_startup_latency.p100 < 5 # error: Unknown statistic | it has "count"
}

assert "bad component" {
  condition = metrics.component_cpu_seconds.kube-apiserver < 5 # error: Unknown component
}

assert "no stat" {
  condition = metrics.pod_startup_latency < 5 # error: Metric needs a statistic or key | metrics.pod_startup_latency.p99
}

assert "metrics elsewhere" {
  condition = metrics.pods_created > 0
}

step "uses-metrics" {
  sleep {
    duration = metrics.duration # error: Metrics are not known yet
  }
}

node_pool "indexed" {
  count = count.index # error: count.index is not available here
}
