# Node churn: a cluster under steady load loses and replaces a tenth of its
# nodes every 30 seconds. Does scheduling keep up, and how long do replacement
# nodes take to become Ready while the rest of the cluster heartbeats?

variable "nodes" {
  type        = number
  default     = 1000
  description = "Simulated nodes."
  validation {
    condition     = var.nodes >= 10 && var.nodes <= 20000
    error_message = "nodes must be between 10 and 20000, got ${var.nodes}."
  }
}

variable "churn_percent" {
  type        = number
  default     = 10
  description = "Share of the pool replaced in each round."
}

variable "churn_for" {
  type        = string
  default     = "5m"
  description = "How long the churn goes on."
}

locals {
  zones = ["a", "b", "c"]
}

scenario "node-churn" {
  description = "1k nodes, 10k pods, 10% of the nodes replaced every 30s for 5 minutes."
  seed        = 7
  timeout     = "20m"
}

cluster {
  # The lease decides the heartbeat load: 1k nodes renew every 10s.
  node_lease_duration = "40s"
}

node_pool "workers" {
  count    = var.nodes
  capacity = { cpu = "16", memory = "64Gi", pods = 110 }
  labels = {
    "topology.kubernetes.io/zone"      = "zone-${local.zones[count.index % length(local.zones)]}"
    "node.kubernetes.io/instance-type" = "m.xlarge"
  }
}

pod_lifecycle "default" {
  ready_after = "2s"
  jitter      = "1s"
}

step "provision" {
  create_nodes {
    pool = "workers"
    rate = 200
  }
  wait "nodes_ready" {
    pool    = "workers"
    timeout = "5m"
  }
}

step "load" {
  create_pods "web" {
    namespace = "churn"
    kind      = "Deployment"
    count     = var.nodes * 10
    replicas  = 100
    rate      = 200
    requests  = { cpu = "250m", memory = "256Mi" }
    topology_spread {
      topology_key       = "topology.kubernetes.io/zone"
      when_unsatisfiable = "ScheduleAnyway"
    }
  }
  wait "pods_running" {
    wave    = "web"
    timeout = "5m"
  }
}

step "churn" {
  duration = var.churn_for
  churn_nodes {
    pool    = "workers"
    percent = var.churn_percent
    every   = "30s"
    mode    = "replace"
    rate    = 100
  }
}

step "settle" {
  wait "deployments_available" {
    wave    = "web"
    timeout = "5m"
  }
}

assert "every pod found a node again" {
  condition = metrics.pods_unscheduled == 0
}

assert "replacement nodes Ready within 30s at p99" {
  condition     = metrics.steps.churn.node_ready_latency.p99 <= 30
  error_message = "p99 node_ready_latency during churn was ${metrics.steps.churn.node_ready_latency.p99}s"
}

assert "rescheduled pods start within 10s at p99" {
  condition = metrics.steps.churn.pod_startup_latency.p99 <= 10
}
