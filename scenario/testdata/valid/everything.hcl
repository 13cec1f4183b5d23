# Every block and attribute of the language, with values that load.

variable "nodes" {
  type        = number
  default     = 30
  description = "Simulated nodes."
  validation {
    condition     = var.nodes > 0
    error_message = "nodes must be positive."
  }
}

variable "zones" {
  type    = list(string)
  default = ["a", "b", "c"]
}

variable "settings" {
  type = object({
    rate  = optional(number, 100)
    image = optional(string)
  })
  default = {}
}

locals {
  config_name = "settings-${var.nodes}"
  pods        = var.nodes * 4
}

scenario "everything" {
  description = "All of the language."
  seed        = -12
  timeout     = "1h"
}

cluster {
  backend             = "docker"
  kubernetes          = "v1.36.3"
  kwok                = "v0.8.0"
  etcd                = "v3.6.16"
  node_lease_duration = "60s"
  feature_gates       = { InPlacePodVerticalScaling = true, SomeAlphaGate = false }
  runtime_config      = { "api/alpha" = true }
  component "apiserver" {
    args   = { "max-requests-inflight" = 800, "v" = "2" }
    binary = "/opt/k8s/kube-apiserver"
  }
  component "controller_manager" {
    enabled = false
  }
  component "kwok" {
    image = "kwok:local"
  }
}

node_pool "workers" {
  count       = var.nodes
  capacity    = { cpu = "16", memory = "64Gi", pods = 110, "nvidia.com/gpu" = count.index % 10 == 0 ? 8 : 0 }
  allocatable = { cpu = "15500m" }
  labels = {
    "topology.kubernetes.io/zone" = "zone-${var.zones[count.index % length(var.zones)]}"
    "example.com/index"           = count.index
  }
  annotations = { "example.com/owner" = "kwok-run" }
  taint {
    key    = "dedicated"
    value  = count.index < 10 ? "gpu" : "general"
    effect = "NoSchedule"
  }
}

pod_lifecycle "default" {
  ready_after    = "1s"
  complete_after = "5s"
  delete_after   = "100ms"
  jitter         = "500ms"
  failure_ratio  = 0.1
}

pod_lifecycle "slow" {
  ready_after = "10s"
}

step "provision" {
  description = "Half the nodes, then the rest."
  timeout     = "10m"
  create_nodes {
    pool        = "workers"
    count       = var.nodes / 2
    rate        = var.settings.rate
    burst       = 10
    parallelism = 20
  }
  apply {
    files = ["manifests/crd.yaml"]
  }
}

step "rest" {
  create_nodes {
    pool = "workers"
  }
  wait "nodes_ready" {
    pool    = "workers"
    count   = var.nodes
    timeout = "5m"
  }
  wait "objects" {
    kind        = "ConfigMap"
    api_version = "v1"
    namespace   = "default"
    count       = 1
  }
}

step "load" {
  pod_lifecycle = "slow"
  create_pods "web" {
    namespace           = "web"
    kind                = "Deployment"
    count               = local.pods
    replicas            = 7
    rate                = 50
    image               = "registry.example.com/web:1"
    requests            = { cpu = "100m", memory = "64Mi" }
    limits              = { cpu = "200m", memory = "64Mi" }
    labels              = { shard = "s${count.index % 4}" }
    annotations         = { "example.com/index" = count.index }
    node_selector       = { "topology.kubernetes.io/zone" = "zone-${var.zones[count.index % 3]}" }
    scheduler_name      = "default-scheduler"
    priority_class_name = "high"
    toleration {
      key      = "dedicated"
      operator = "Equal"
      value    = "general"
      effect   = "NoSchedule"
    }
    toleration {
      key                = "node.kubernetes.io/not-ready"
      operator           = "Exists"
      effect             = "NoExecute"
      toleration_seconds = 30
    }
    toleration {
      operator = "Exists"
    }
    node_affinity {
      key      = "topology.kubernetes.io/zone"
      operator = "In"
      values   = ["zone-a", "zone-b"]
    }
    node_affinity {
      key      = "example.com/index"
      operator = "Gt"
      values   = ["3"]
      required = false
      weight   = 50
    }
    pod_affinity {
      topology_key = "kubernetes.io/hostname"
      match_labels = { app = "cache" }
      required     = false
      weight       = 10
    }
    pod_anti_affinity {
      topology_key = "kubernetes.io/hostname"
    }
    topology_spread {
      topology_key       = "topology.kubernetes.io/zone"
      max_skew           = 2
      when_unsatisfiable = "ScheduleAnyway"
      match_labels       = { shard = "s0" }
    }
  }
  create_pods "batch" {
    namespace = "batch"
    kind      = "Job"
    count     = 20
    replicas  = 10
  }
  create_pods "db" {
    namespace = "db"
    kind      = "StatefulSet"
    count     = 3
  }
  create_pods "bare" {
    count = 5
  }
  wait "pods_scheduled" {
    namespace = "web"
    selector  = { shard = "s1" }
  }
}

step "change" {
  duration = "2m"
  scale_pods "web" {
    count = 10
  }
  churn_nodes {
    pool          = "workers"
    percent       = 10
    every         = "30s"
    mode          = "not-ready"
    recover_after = "10s"
  }
  churn_nodes {
    pool     = "workers"
    count    = 1
    every    = "20s"
    mode     = "delete"
    duration = "1m"
    rate     = 5
  }
  delete_pods {
    wave    = "bare"
    count   = 2
    rate    = 1
  }
  delete_pods {
    namespace = "web"
    selector  = { shard = "s2" }
  }
  wait "deployments_available" {
    wave = "web"
  }
  wait "jobs_complete" {
    wave  = "batch"
    count = 2
  }
  wait "pods_running" {
    wave = "db"
  }
  wait "pods_succeeded" {
    namespace = "batch"
  }
}

step "faults" {
  restart_component {
    component = "apiserver"
    signal    = "KILL"
    down_for  = "3s"
  }
  stop_component {
    component = "scheduler"
    signal    = "TERM"
  }
  exec {
    command = ["kubectl", "get", "nodes"]
    env     = { KUBECTL_EXTERNAL_DIFF = "diff" }
    dir     = "."
    timeout = "30s"
  }
  exec {
    command    = ["./my-controller", "--leader-elect=false"]
    background = true
  }
}

step "cleanup" {
  delete_nodes {
    pool    = "workers"
    percent = 50
    rate    = 10
  }
  apply {
    files  = ["manifests/crd.yaml"]
    delete = true
  }
  wait "pods_deleted" {
    namespace = "web"
  }
  sleep {
    duration = "500ms"
  }
}

assert "start-up" {
  condition     = metrics.pod_startup_latency.p99 <= seconds("5s")
  error_message = "p99 was ${metrics.pod_startup_latency.p99}s"
}

assert "per step" {
  condition = metrics.steps.load.scheduling_throughput.mean >= 10 && metrics.steps["change"].pods_unscheduled == 0
}

assert "api" {
  condition = metrics.api_request_latency.create.pods.p99 < 1 && metrics.apiserver_request_latency.all.all.p50 < 1
}

assert "errors" {
  condition = try(metrics.api_errors["429"], 0) + metrics.api_errors[500] == 0
  severity  = "warning"
}

assert "memory" {
  condition = metrics.component_rss_peak_bytes.apiserver < bytes("2Gi") && metrics.component_cpu_seconds.all < 600
}
