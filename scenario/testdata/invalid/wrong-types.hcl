scenario "types" {
  seed = "forty-two" # error: Invalid seed
}

node_pool "workers" {
  count  = "ten"  # error: Invalid count
  labels = [1, 2] # error: Invalid labels | must be a map of strings
}

node_pool "more" {
  count    = 2.5             # error: Invalid count | whole number
  capacity = { cpu = "lots" } # error: Invalid quantity in capacity
}

step "go" {
  duration = 30 # error: Invalid duration | a bare number has no unit
  create_nodes {
    pool = "more"
    rate = "fast" # error: Invalid rate
  }
}

step "later" {
  create_pods "web" {
    count    = 10
    kind     = "ReplicaSet"         # error: Invalid kind | "ReplicaSet" is not one of
    requests = { memory = "1 GB" }  # error: Invalid quantity in requests
  }
  sleep {
    duration = "5 minutes" # error: Invalid duration | is not a duration
  }
}
