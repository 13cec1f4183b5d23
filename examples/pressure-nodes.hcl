# Pressure nodes: half the nodes report MemoryPressure, as kubelets do when
# their machine runs low, and a custom condition of their own. The node
# lifecycle controller's taint keeps the scheduler away from them, so every
# pod must land on the healthy pool; KWOK's heartbeat keeps the pressure on.

variable "nodes" {
  type    = number
  default = 20
}

variable "pods" {
  type    = number
  default = 200
}

scenario "pressure-nodes" {
  description = "A pool of MemoryPressure nodes beside a healthy one: no pod may land on the pressured nodes."
  timeout     = "10m"
}

node_pool "healthy" {
  count     = var.nodes
  node_type = "m5.2xlarge"
}

node_pool "pressured" {
  count     = var.nodes
  node_type = "m5.large"
  condition "MemoryPressure" {
    reason  = "KubeletHasInsufficientMemory"
    message = "kubelet has insufficient memory available"
  }
  condition "example.com/GPUHealthy" {
    status = "False"
  }
  # Status every 15s; leases of 2m, renewed every 30s by a KWOK controller
  # of their own (kwok/lease-120s), where the healthy pool's last 40s.
  heartbeat {
    status_interval = "15s"
    lease_duration  = "2m"
  }
}

step "nodes" {
  create_nodes {
    pool = "healthy"
  }
  create_nodes {
    pool = "pressured"
  }
  wait "nodes_ready" {
    pool = "healthy"
  }
  wait "nodes_ready" {
    pool = "pressured"
  }
}

step "pods" {
  create_pods "web" {
    namespace = "web"
    count     = var.pods
  }
  wait "pods_running" {
    wave = "web"
  }
}

# Long enough for the pressured pool's status to be rewritten twice.
step "heartbeats" {
  sleep {
    duration = "35s"
  }
}

assert "no pod on a pressured node" {
  condition     = metrics.pods_scheduled_on_pool.pressured == 0
  error_message = "${metrics.pods_scheduled_on_pool.pressured} pods were scheduled onto MemoryPressure nodes"
}

assert "every pod on a healthy node" {
  condition = metrics.pods_scheduled_on_pool.healthy == var.pods
}
