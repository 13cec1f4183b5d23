scenario "objects" {}

step "create" {
  create_objects "none" { # error: Missing object
    count = 3
  }
  create_objects "both" {
    count    = 3
    object   = { apiVersion = "v1", kind = "ConfigMap" }
    manifest = "service.yaml" # error: Both object and manifest
  }
  create_objects "same-name" {
    count  = 3
    object = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "fixed" } } # error: Copies with the same name
  }
  create_objects "two-kinds" {
    count  = 3
    object = { apiVersion = "v1", kind = count.index == 2 ? "Secret" : "ConfigMap" } # error: Copies of different kinds
  }
  create_objects "no-kind" {
    count  = 3
    object = { apiVersion = "v1" } # error: Not a Kubernetes object
  }
  create_objects "bad-name" {
    count  = 1
    object = { apiVersion = "v1", kind = "ConfigMap", metadata = { name = "Bad_name" } } # error: Invalid object name
  }
  create_objects "bad-namespace" {
    count     = 3
    namespace = "Load" # error: Invalid namespace name
    object    = { apiVersion = "v1", kind = "ConfigMap" }
  }
  create_objects "wave-label" {
    count  = 3
    object = { apiVersion = "v1", kind = "ConfigMap", metadata = { labels = { "kwok-run/wave" = "other" } } } # error: Reserved label
  }
  create_objects "ok" {
    count  = 3
    object = { apiVersion = "v1", kind = "ConfigMap" }
  }
  update_objects "ok" { # error: Wave created in the same step
    count = 1
    every = "1s"
    duration = "2s"
  }
}

step "later" {
  update_objects "ok" { # error: Updates without an end
    count = 1
    every = "1s"
  }
  update_objects "ok" {
    percent  = 10
    every    = "10s"  # error: Updates never repeat
    duration = "5s"
    patch    = "not an object" # error: Invalid patch
  }
  delete_objects "okk" { # error: Unknown create_objects wave | Did you mean "ok"?
  }
}
