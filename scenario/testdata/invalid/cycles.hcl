locals {
  a = local.b + 1 # error: Cycle in local values | local.a → local.b → local.c → local.a
  b = local.c * 2
  c = local.a
  d = local.d # error: Cycle in local values | local.d → local.d
}

scenario "cycles" {}

step "s" {
  sleep {
    duration = "${local.a}s"
  }
}
