# Failure recovery: nodes flap NotReady, the apiserver restarts, the scheduler
# is killed and comes back. Nothing the control plane owns should be lost, and
# the report says how long each recovery took.

variable "nodes" {
  type    = number
  default = 200
}

scenario "failure-recovery" {
  description = "NotReady nodes, an apiserver restart and a scheduler outage under a running workload."
  seed        = 5
  timeout     = "20m"
}

node_pool "workers" {
  count = var.nodes
}

pod_lifecycle "default" {
  ready_after = "1s"
}

step "provision" {
  create_nodes {
    pool = "workers"
    rate = 100
  }
  create_pods "app" {
    namespace = "app"
    kind      = "Deployment"
    count     = var.nodes * 10
    replicas  = 100
    rate      = 100
  }
  wait "deployments_available" {
    namespace = "app"
    timeout   = "5m"
  }
}

step "flapping-nodes" {
  duration = "2m"
  churn_nodes {
    pool          = "workers"
    percent       = 10
    every         = "30s"
    mode          = "not-ready"
    recover_after = "20s"
  }
}

step "apiserver-restart" {
  restart_component {
    component = "apiserver"
    signal    = "KILL"
    down_for  = "5s"
  }
  wait "deployments_available" {
    wave    = "app"
    timeout = "3m"
  }
}

step "scheduler-outage" {
  stop_component {
    component = "scheduler"
  }
  create_pods "stranded" {
    namespace = "app"
    count     = 100
    rate      = 20
  }
}

step "scheduler-back" {
  restart_component {
    component = "scheduler"
  }
  wait "pods_running" {
    wave    = "stranded"
    timeout = "2m"
  }
}

assert "NotReady nodes recover within 60s at p99" {
  condition = metrics.steps.flapping-nodes.node_recovery_latency.p99 <= 60
}

assert "pods created while the scheduler was down all ran" {
  condition = metrics.steps.scheduler-back.pods_unscheduled == 0
}

assert "the scheduler catches up within a minute of its return" {
  condition = metrics.steps.scheduler-back.duration <= 60
}

assert "no measurement lost across the apiserver restart" {
  condition = metrics.missed_transitions == 0
  severity  = "warning"
}
