scenario "no-kwok" {}

cluster {
  component "kwok" {
    enabled = false
  }
}

node_pool "workers" {
  count = 3
}

step "nodes" {
  create_nodes {
    pool = "workers" # error: Nodes without KWOK | enable kwok
  }
}
