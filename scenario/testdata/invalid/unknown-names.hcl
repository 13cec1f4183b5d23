# Misspelt blocks and attributes get a suggestion.
scenario "typos" {
  timout = "5m" # error: Unsupported argument | Did you mean "timeout"?
}

nodepool "workers" { # error: Unsupported block type | Did you mean "node_pool"?
  count = 1
}

node_pool "workers" { # error: Missing required argument
  cont = 5 # error: Unsupported argument | Did you mean "count"?
}

step "go" {
  create_node { # error: Unsupported block type | Did you mean "create_nodes"?
    pool = "workers"
  }
  sleep {
    duration = "1s"
  }
}
