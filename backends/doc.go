// Package backends brings a KWOK control plane (etcd, kube-apiserver,
// kube-scheduler, kube-controller-manager and the KWOK controller) up and down:
// as local processes, or as docker or nerdctl containers. A backend knows the
// plan's cluster block and nothing else of a scenario.
package backends
