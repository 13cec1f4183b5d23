scenario "kubeconfig" {}

cluster {
  backend    = "docker"
  kubeconfig = "cluster.yaml" # error: kubeconfig without backend "kubeconfig" | the docker backend
}

step "go" {
  sleep {
    duration = "1s"
  }
}
