# Custom resources in bulk: a CRD, then 10,000 objects of its kind spread
# over ten namespaces, a tenth of them updated every ten seconds for a
# minute, then half of them deleted. What a controller that watches its own
# kind sees, and what storing it costs.

variable "widgets" {
  type    = number
  default = 10000
}

scenario "custom-resources" {
  description = "A CRD and many objects of its kind: create, update, delete."
  timeout     = "30m"
}

step "crd" {
  apply {
    files = ["manifests/widget-crd.yaml"]
  }
}

step "create" {
  create_objects "widgets" {
    count     = var.widgets
    namespace = "team-${count.index % 10}"
    object = {
      apiVersion = "example.com/v1"
      kind       = "Widget"
      spec       = { size = count.index % 5, color = count.index % 2 == 0 ? "red" : "blue" }
    }
    rate = 200
  }
}

step "churn" {
  update_objects "widgets" {
    percent  = 10
    every    = "10s"
    duration = "1m"
    patch    = { spec = { color = "green" } }
  }
}

step "delete" {
  delete_objects "widgets" {
    percent = 50
  }
}

# The first burst of creates waits about two seconds while the apiserver
# sets up the new kind's storage and watch cache (its own histogram shows
# the same): the median, not the tail, says how fast creates are.
assert "creates stay fast" {
  condition = metrics.steps.create.api_request_latency.create.widgets.p50 <= 1
}

assert "updates stay fast" {
  condition = metrics.steps.churn.api_request_latency.patch.widgets.p99 <= 1
}
