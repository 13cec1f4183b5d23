scenario "cut" {
  description = "this file ends in the middle of a block"
}

node_pool "workers" {
  count = 3
  labels = { # error: Unterminated object constructor expression
    zone = "a"