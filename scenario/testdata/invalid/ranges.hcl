scenario "ranges" {
  timeout = "1m" # error: Scenario cannot finish within its timeout | at least 2m0s
}

node_pool "huge" {
  count = 1e9 # error: count out of range | between 0 and 1000000
}

node_pool "workers" {
  count = 10
}

pod_lifecycle "default" {
  failure_ratio = 1.5      # error: failure_ratio out of range
  ready_after   = "1500us" # error: Duration too precise
}

step "go" {
  create_nodes {
    pool  = "workers"
    count = 5
    rate  = 0 # error: Invalid rate | A rate of 0 would never finish
  }
  delete_nodes {
    pool    = "workers"
    percent = 150 # error: percent out of range
  }
  churn_nodes { # error: Churn without an end
    pool    = "workers"
    count   = 2
    percent = 10 # error: Both count and percent
    every   = "10s"
  }
}

step "more" {
  create_nodes {
    pool  = "workers"
    count = 20 # error: More nodes than the pool has
  }
  delete_nodes { # error: Missing count or percent
    pool = "workers"
  }
  sleep {
    duration = "2m"
  }
}
