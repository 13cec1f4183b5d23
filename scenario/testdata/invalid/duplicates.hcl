variable "n" {
  default = 1
}

variable "n" { # error: Duplicate variable "n"
  default = 2
}

scenario "dup" {}

scenario "again" {} # error: Duplicate scenario block

node_pool "workers" {
  count = 1
}

node_pool "workers" { # error: Duplicate node_pool "workers"
  count = 1
}

locals {
  a = 1
}

locals {
  a = 2 # error: Duplicate local value "a"
}

step "one" {
  create_nodes {
    pool = "workers"
  }
  create_pods "web" {
    count = 1
  }
}

step "one" { # error: Duplicate step "one"
  sleep {
    duration = "1s"
  }
}

step "two" {
  create_pods "web" { # error: Duplicate create_pods "web"
    count = 1
  }
}

assert "fine" {
  condition = metrics.pods_created > 0
}

assert "fine" { # error: Duplicate assert "fine"
  condition = metrics.pods_created > 0
}
