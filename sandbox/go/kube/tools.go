//go:build tools

// Package tools pins the commands the sandbox builds from this module: the control plane
// (kube-apiserver, kube-controller-manager, etcd) and the node (kubelet, kube-scheduler, kube-proxy).
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
