# Services at scale: 10,000 pods in groups, one Service per group, and the
# controller-manager's EndpointSlices for each. What a controller that
# watches Services and EndpointSlices sees at this size, and what it costs
# the apiserver and etcd.

variable "pods" {
  type    = number
  default = 10000
}

variable "services" {
  type    = number
  default = 1000
}

variable "groups" {
  type        = number
  default     = 1000
  description = "Pods are labelled group=g-<index % groups>; Service i selects group i % groups."
}

scenario "services" {
  description = "Many Services over many pods, with their EndpointSlices."
  timeout     = "30m"
}

node_pool "workers" {
  count = ceil(var.pods / 100)
}

step "nodes" {
  create_nodes {
    pool = "workers"
  }
  wait "nodes_ready" {
    pool = "workers"
  }
}

step "pods" {
  create_pods "web" {
    namespace = "default"
    count     = var.pods
    labels    = { app = "web", group = "g-${count.index % var.groups}" }
    rate      = 200
  }
  wait "pods_running" {
    wave = "web"
  }
}

step "services" {
  create_objects "services" {
    count    = var.services
    manifest = "manifests/service.yaml"
    rate     = 100
  }
}

# The endpoint controller works in the background: give it time.
step "settle" {
  sleep {
    duration = "30s"
  }
}

assert "every pod Running" {
  condition = metrics.pods_running == var.pods
}

assert "every Service's EndpointSlices list its pods" {
  condition     = metrics.services_endpoints_ready == var.services
  error_message = "${metrics.services_endpoints_ready} of ${var.services} Services had complete EndpointSlices"
}

assert "EndpointSlices complete within 10s at p99" {
  condition = metrics.service_endpoints_latency.p99 <= 10
}

# On two cores, 1,000 Services over 10,000 pods saturate the machine: the
# controller-manager's EndpointSlice controller takes most of a core, and
# creates measured p99 1.7-2.2 s (p50 0.6-0.9 s); at 2,000 pods, 0.1-0.6 s.
assert "Services created quickly" {
  condition = metrics.steps.services.api_request_latency.create.services.p99 <= 3
}
