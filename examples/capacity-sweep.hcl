# Capacity sweep: one scenario, meant to be run over a range of sizes and
# versions to see how latency and resource use grow, e.g.
#
#   kwok-run sweep examples/capacity-sweep.hcl -var nodes=500,1000,2000,4000 -var pods_per_node=10,30
#   kwok-run run examples/capacity-sweep.hcl -var kubernetes=v1.36.3
#
# Every size the sweep varies is a variable with a validation, so a bad value
# fails before a cluster starts.

variable "nodes" {
  type        = number
  default     = 500
  description = "Simulated nodes."
  validation {
    condition     = var.nodes >= 1 && var.nodes <= 100000 && floor(var.nodes) == var.nodes
    error_message = "nodes must be a whole number between 1 and 100000."
  }
}

variable "pods_per_node" {
  type        = number
  default     = 10
  description = "Pods per node; the kubelet default allows 110."
  validation {
    condition     = var.pods_per_node >= 1 && var.pods_per_node <= 110
    error_message = "pods_per_node must be between 1 and 110 (a node's pod capacity)."
  }
}

variable "kubernetes" {
  type        = string
  default     = "v1.37.2"
  description = "Version of kube-apiserver, kube-scheduler and kube-controller-manager."
}

variable "lease" {
  type        = string
  default     = "40s"
  description = "Node lease duration: heartbeat load grows with nodes / lease."
}

scenario "capacity-sweep" {
  description = "Nodes, then pods_per_node pods on each, then a quiet minute to measure the steady state."
  seed        = 1
  timeout     = "60m"
}

cluster {
  kubernetes          = var.kubernetes
  node_lease_duration = var.lease
}

node_pool "workers" {
  count = var.nodes
  labels = {
    "topology.kubernetes.io/zone" = "zone-${count.index % 3}"
  }
}

pod_lifecycle "default" {
  ready_after = "1s"
}

step "nodes" {
  create_nodes {
    pool        = "workers"
    parallelism = 100
  }
  wait "nodes_ready" {
    pool = "workers"
  }
}

step "pods" {
  create_pods "load" {
    namespace = "sweep"
    kind      = "Deployment"
    count     = var.nodes * var.pods_per_node
    replicas  = min(var.nodes * var.pods_per_node, 500)
    rate      = 300
    requests  = { cpu = "100m", memory = "64Mi" }
  }
  wait "deployments_available" {
    wave = "load"
  }
}

step "steady" {
  description = "Nothing happens: the idle cost of the cluster at this size."
  duration    = "1m"
}

# Recorded as warnings: a sweep wants the numbers from every size, even the
# ones past the point where the cluster gets too slow.
assert "pod start-up p99 under 5s" {
  condition = metrics.steps.pods.pod_startup_latency.p99 <= 5
  severity  = "warning"
}

assert "apiserver stays under 4 GiB" {
  condition = metrics.component_rss_peak_bytes.apiserver < bytes("4Gi")
  severity  = "warning"
}
