# The smallest useful scenario: a few nodes, one Deployment, and the
# questions every scale test starts with. Runs in well under a minute.

variable "nodes" {
  type        = number
  default     = 10
  description = "Simulated nodes."
}

variable "pods" {
  type        = number
  default     = 100
  description = "Pods of the web Deployment."
}

variable "kubernetes" {
  type        = string
  default     = "v1.37.2"
  description = "Kubernetes release of the control plane: compare two with -var kubernetes=..."
}

scenario "quickstart" {
  description = "10 nodes, a Deployment of 100 pods, then scale it down."
  seed        = 42
  timeout     = "5m"
}

cluster {
  kubernetes = var.kubernetes
}

node_pool "workers" {
  count = var.nodes
  labels = {
    "topology.kubernetes.io/zone" = "zone-${count.index % 3}"
  }
}

pod_lifecycle "default" {
  ready_after = "1s"
  jitter      = "500ms"
}

step "nodes" {
  create_nodes {
    pool = "workers"
    rate = 50
  }
  wait "nodes_ready" {
    pool    = "workers"
    timeout = "1m"
  }
}

step "pods" {
  create_pods "web" {
    namespace = "quickstart"
    kind      = "Deployment"
    count     = var.pods
    rate      = 50
    requests  = { cpu = "100m", memory = "128Mi" }
  }
  wait "pods_running" {
    wave    = "web"
    timeout = "2m"
  }
}

step "scale-down" {
  scale_pods "web" {
    count = var.pods / 2
  }
  wait "deployments_available" {
    wave    = "web"
    timeout = "1m"
  }
}

assert "every pod was scheduled" {
  condition = metrics.pods_unscheduled == 0
}

assert "pods start within 5s at p99" {
  condition     = metrics.steps.pods.pod_startup_latency.p99 <= 5
  error_message = "p99 pod start-up was ${metrics.steps.pods.pod_startup_latency.p99}s"
}

assert "nodes are Ready within 30s" {
  condition = metrics.node_ready_latency.max <= seconds("30s")
}
