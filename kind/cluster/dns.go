package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
)

// forwardBlock is the CoreDNS stanza that sends every name outside the
// cluster to the node's resolver (Docker's, and through it the host's).
var forwardBlock = regexp.MustCompile(`(?s)\n[ \t]*forward[ \t]+\.[^\n{]*(\{[^}]*\})?[ \t]*`)

// withoutForward returns a Corefile that answers cluster names only, and
// whether it had to change anything.
func withoutForward(corefile string) (string, bool) {
	out := forwardBlock.ReplaceAllString(corefile, "")
	return out, out != corefile
}

// keepDNSInside makes the cluster's CoreDNS answer only names inside the
// cluster: a pod looking up an outside name gets NXDOMAIN instead of a
// query leaving the machine through the host's resolver. The bank needs no
// outside name.
func keepDNSInside(ctx context.Context, name string) error {
	out, err := Kubectl(ctx, name, nil, "-n", "kube-system", "get", "configmap", "coredns", "-o", "jsonpath={.data.Corefile}")
	if err != nil {
		return err
	}
	corefile, changed := withoutForward(string(out))
	if !changed {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"data": map[string]string{"Corefile": corefile}})
	if _, err := Kubectl(ctx, name, nil, "-n", "kube-system", "patch", "configmap", "coredns", "--type", "merge", "-p", string(patch)); err != nil {
		return err
	}
	if _, err := Kubectl(ctx, name, nil, "-n", "kube-system", "rollout", "restart", "deployment", "coredns"); err != nil {
		return err
	}
	if _, err := Kubectl(ctx, name, nil, "-n", "kube-system", "rollout", "status", "deployment", "coredns", "--timeout=120s"); err != nil {
		return fmt.Errorf("coredns did not come back without forwarding: %w", err)
	}
	return nil
}
