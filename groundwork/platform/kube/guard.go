package kube

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
)

// AllowEnv names the kubeconfig contexts the kube platform may act on,
// comma-separated. A context not listed is refused, however it was chosen:
// chaos is never let loose on a cluster by accident.
const AllowEnv = "FAULTLINE_KUBE_CONTEXTS"

// Allowed returns the contexts AllowEnv lists, plus extra (contexts the
// harness created itself, such as its kind cluster's).
func Allowed(extra ...string) []string {
	var out []string
	for _, c := range strings.Split(os.Getenv(AllowEnv), ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return append(out, extra...)
}

// CheckContext resolves the context to use in kubeconfig (context, or the
// kubeconfig's current one when empty) and refuses it unless allowed lists
// it. It returns the context's name.
func CheckContext(kubeconfig, context string, allowed []string) (string, error) {
	rules := &clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig}
	if kubeconfig == "" {
		rules = clientcmd.NewDefaultClientConfigLoadingRules()
	}
	raw, err := rules.Load()
	if err != nil {
		return "", fmt.Errorf("kubeconfig: %w", err)
	}
	name := context
	if name == "" {
		name = raw.CurrentContext
	}
	if name == "" {
		return "", fmt.Errorf("kubeconfig %s names no current context; choose one with FAULTLINE_KUBE_CONTEXT", kubeconfig)
	}
	if _, ok := raw.Contexts[name]; !ok {
		return "", fmt.Errorf("kubeconfig has no context %q", name)
	}
	if !slices.Contains(allowed, name) {
		return "", fmt.Errorf("refusing kubeconfig context %q: it is not allowed (set %s=%s to let Faultline deploy the bank and inject faults there)", name, AllowEnv, name)
	}
	return name, nil
}
