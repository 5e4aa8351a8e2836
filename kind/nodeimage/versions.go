package nodeimage

// Versions are the inputs of a node image that are not this repository's
// files: what is built from Go modules and which Debian release the rootfs
// comes from. Changing one changes the image's key (Key) and rebuilds what
// depends on it.
type Versions struct {
	// Kubernetes is the k8s.io/kubernetes module version. 1.34 is the
	// newest whose kubelet runs on cgroup v1 hosts by default.
	Kubernetes string
	// Staging is the version of the k8s.io/* staging modules matching
	// Kubernetes (v0.x.y for v1.x.y).
	Staging string
	Etcd    string // go.etcd.io/etcd/server/v3
	CoreDNS string // github.com/coredns/coredns
	Crictl  string // sigs.k8s.io/cri-tools
	Kind    string // sigs.k8s.io/kind: its base image files and node layout
	// Debian is the release the rootfs is bootstrapped from; it brings
	// systemd, containerd, runc and the CNI plugins.
	Debian string
}

// Default are the versions the project's node image is built from.
var Default = Versions{
	Kubernetes: "v1.34.4",
	Staging:    "v0.34.4",
	Etcd:       "v3.6.5",
	CoreDNS:    "v1.12.1",
	Crictl:     "v1.34.0",
	Kind:       "v0.33.0",
	Debian:     "bookworm",
}

// Repository is the name the node image is tagged under; its tag is the
// Kubernetes version (and, for an exact build, the version and its key).
const Repository = "faultline/kind-node"

// PauseTag is the pause image kubeadm 1.34 expects and the node's
// containerd runs as every pod's sandbox.
const PauseTag = "3.10.1"
