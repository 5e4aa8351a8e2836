// Package kind is everything that makes a kind cluster appear on a machine
// with no container registry: the host set-up (hostsetup), the node image
// built from Go modules and Debian packages (nodeimage), and the small
// programs the image carries (cmd/pause, cmd/podnet) or the host needs
// (cmd/runc-nocap). The cluster's shape is kind-config.yaml at the root;
// the kind platform (groundwork/platform/kind) creates clusters from both.
package kind
