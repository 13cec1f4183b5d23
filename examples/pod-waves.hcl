# Pod waves: long-running Deployments and batch Jobs on one cluster, the way a
# shared cluster sees them. Jobs complete after a simulated 10s of work, and a
# few of their pods fail, which the Job controller retries.

variable "nodes" {
  type    = number
  default = 100
}

scenario "pod-waves" {
  description = "Deployments, then Jobs with 5% failing pods, then a scale-up and pod deletions."
  seed        = 3
  timeout     = "15m"
}

node_pool "workers" {
  count    = var.nodes
  capacity = { cpu = "32", memory = "128Gi", pods = 110 }
}

pod_lifecycle "default" {
  ready_after = "1s"
  jitter      = "1s"
}

# Batch pods run for 10s (plus up to 2s) and 5% of them end Failed.
pod_lifecycle "batch" {
  ready_after    = "1s"
  complete_after = "10s"
  jitter         = "2s"
  failure_ratio  = 0.05
}

step "provision" {
  create_nodes {
    pool = "workers"
    rate = 100
  }
  wait "nodes_ready" {
    timeout = "2m"
  }
}

step "services" {
  create_pods "api" {
    namespace = "services"
    kind      = "Deployment"
    count     = 1000
    replicas  = 50
    rate      = 100
    requests  = { cpu = "500m", memory = "512Mi" }
    limits    = { cpu = "1", memory = "512Mi" }
    labels = {
      team = "team-${count.index % 4}"
    }
  }
  wait "deployments_available" {
    wave    = "api"
    timeout = "3m"
  }
}

step "batch" {
  pod_lifecycle = "batch"
  create_pods "etl" {
    namespace = "batch"
    kind      = "Job"
    count     = 2000
    replicas  = 100
    rate      = 200
    requests  = { cpu = "1", memory = "1Gi" }
  }
  wait "jobs_complete" {
    wave    = "etl"
    timeout = "5m"
  }
}

step "scale-up" {
  scale_pods "api" {
    count = 2000
  }
  wait "deployments_available" {
    wave    = "api"
    timeout = "3m"
  }
}

step "evictions" {
  delete_pods {
    wave    = "api"
    percent = 20
    rate    = 50
  }
  wait "deployments_available" {
    wave    = "api"
    timeout = "3m"
  }
}

# A Job whose pod fails creates a new one after Kubernetes' back-off (10 s,
# then 20 s, 40 s, ...): with 5% of pods failing, the slowest Jobs wait out
# two or three of them on top of 10 s of work.
assert "Jobs complete within 2 minutes at p99" {
  condition = metrics.job_completion_latency.p99 <= seconds("2m")
}

assert "scale-up available within 30s" {
  condition = metrics.steps.scale-up.deployment_available_latency.max <= 30
}

assert "about 5% of batch pods failed" {
  condition = metrics.steps.batch.pods_failed <= 0.1 * metrics.steps.batch.pods_created
  severity  = "warning"
}
