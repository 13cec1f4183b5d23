# A scenario reads only files in its own directory tree unless its user
# passes --allow-outside-files: not a kubeconfig of another cluster, not a
# manifest up the tree, not one through a link that leads out of it.
scenario "outside" {}

cluster {
  backend    = "kubeconfig"
  kubeconfig = "/etc/kubernetes/admin.conf" # error: Kubeconfig outside the scenario's directory | --allow-outside-files
}

step "apply" {
  apply {
    files = ["../valid/manifests/crd.yaml"] # error: Manifest outside the scenario's directory | valid/manifests/crd.yaml
  }
  apply {
    files = ["manifests/escape.yaml"] # error: Manifest outside the scenario's directory | manifests/escape.yaml leads to
  }
  apply {
    files = ["manifests/../manifests/not-an-object.yaml"] # error: Not a Kubernetes object
  }
}
