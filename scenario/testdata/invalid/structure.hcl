# error: Missing scenario block # error: No steps
node_pool "Workers_1" { # error: Invalid node_pool name
  count = 1
}
