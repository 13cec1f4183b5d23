scenario "k8s" {}

cluster {
  backend    = "podman" # error: Invalid backend | is not one of
  kubernetes = "1.37"   # error: Invalid version | vMAJOR.MINOR.PATCH
  feature_gates = {
    fooBar = true # error: Invalid feature gate name
  }
  component "apiserver" {
    enabled = false # error: Component cannot be disabled
    args = {
      "--v" = "4" # error: Invalid flag name | without dashes
    }
  }
  component "scheduler" {
    enabled = false
  }
}

node_pool "workers" {
  count = 4
  labels = {
    "team" = "a value that is much too long for a Kubernetes label because it goes past sixty-three characters" # error: Invalid value in labels | must be no more than 63 bytes
  }
  taint {
    key    = "dedicated"
    effect = "NoSchedul" # error: Invalid taint effect | Did you mean "NoSchedule"?
  }
}

node_pool "pressured" {
  count     = 2
  node_type = "m5 large" # error: Invalid node_type | not a label value
  condition "Ready" { # error: Ready is not a pool condition
  }
  condition "MemoryPressure" {
    status = "Yes" # error: Invalid status | is not one of
    reason = "not one word" # error: Invalid condition reason
  }
  condition "MemoryPressure" { # error: Duplicate condition
  }
  condition "bad type!" { # error: Invalid condition type
  }
  heartbeat {
    status_interval = "1s" # error: status_interval too short
    lease_duration  = "1500ms" # error: Invalid lease_duration | whole seconds
  }
}

node_pool "lease-1" {
  count = 1
  heartbeat {
    lease_duration = "500ms" # error: lease_duration too short
  }
}

node_pool "lease-2" {
  count = 1
  heartbeat {
    lease_duration = "11s"
  }
}

node_pool "lease-3" {
  count = 1
  heartbeat {
    lease_duration = "12s"
  }
}

node_pool "lease-4" {
  count = 1
  heartbeat {
    lease_duration = "13s"
  }
}

node_pool "lease-5" {
  count = 1
  heartbeat {
    lease_duration = "14s"
  }
}

node_pool "lease-6" {
  count = 1
  heartbeat {
    lease_duration = "40s" # the cluster's: no controller of its own
  }
}

node_pool "lease-7" {
  count = 1
  heartbeat {
    lease_duration = "12s" # a duration an earlier pool has
  }
}

node_pool "lease-8" {
  count = 1
  heartbeat {
    lease_duration = "15s" # error: Too many lease durations | may have 4
  }
}

node_pool "lease-9" {
  count = 1
  heartbeat {
    lease_duration = "2h" # error: lease_duration too long | at most 1h0m0s
  }
}

step "pressure" {
  create_nodes {
    pool = "pressured"
  }
}

node_pool "per-node" {
  count = 12
  labels = {
    # Only node 11 has a bad value; it is found because the last node is
    # rendered at load time.
    "rack" = count.index == 11 ? "bad value!" : "rack-${count.index}" # error: Invalid value in labels | For count.index = 11
  }
}

step "go" {
  create_nodes {
    pool = "workers"
  }
  create_nodes {
    pool = "per-node"
  }
  create_pods "web" {
    namespace = "Not_A_Namespace" # error: Invalid namespace name
    count     = 5
    requests  = { cpu = "2" } # error: Request above limit
    limits    = { cpu = "1" }
    toleration {
      operator = "Exists"
      value    = "x" # error: value with operator Exists
    }
  }
  restart_component {
    component = "scheduler" # error: Component is disabled
  }
}

step "later" {
  apply {
    files = ["missing.yaml"] # error: Cannot read manifest
  }
  apply {
    files = ["manifests/not-an-object.yaml"] # error: Not a Kubernetes object
  }
}
