package kube

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

func init() {
	platform.Register(platform.Registration{Name: Name, Open: open, Reap: Reap})
}

// open opens the kube platform from the environment: FAULTLINE_KUBECONFIG
// (or KUBECONFIG), FAULTLINE_KUBE_CONTEXT, FAULTLINE_BANK_IMAGE (the bank's
// image, on the nodes already) and FAULTLINE_STORAGE_CLASS.
func open(o platform.Options) (platform.Platform, error) {
	run := filepath.Base(o.RunDir)
	return New(Options{
		Kubeconfig:   firstSet(os.Getenv("FAULTLINE_KUBECONFIG"), os.Getenv("KUBECONFIG")),
		Context:      os.Getenv("FAULTLINE_KUBE_CONTEXT"),
		Allowed:      Allowed(),
		Run:          run,
		Image:        os.Getenv("FAULTLINE_BANK_IMAGE"),
		StorageClass: os.Getenv("FAULTLINE_STORAGE_CLASS"),
		RunDir:       o.RunDir, Journal: o.Journal, Progress: o.Progress,
	})
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// Reap implements the kube platform's reaper: it deletes the namespaces of
// dead runs, each only if it still carries its run's label, and removes
// their entries. Other entries of those runs (faults whose pods went with
// the namespace) are only removed.
func Reap(dir string, entries []journal.Entry) journal.Reaped {
	var r journal.Reaped
	runs := map[string]bool{}
	for _, e := range entries {
		runs[e.Run] = true
		r.Entries++
		if e.Kind == KindNamespace {
			if err := reapNamespace(e); err != nil {
				r.Skipped = append(r.Skipped, journal.Skip{Run: e.Run, ID: e.ID, Reason: err.Error()})
			}
		}
		_ = journal.RemoveEntry(dir, e)
	}
	for run := range runs {
		r.Runs = append(r.Runs, run)
	}
	return r
}

func reapNamespace(e journal.Entry) error {
	kctx, ns, ok := strings.Cut(e.Target, "/")
	if !ok || ns == "" {
		return fmt.Errorf("namespace entry names %q, not context/namespace", e.Target)
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if e.Exe != "" {
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: e.Exe}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: kctx}).ClientConfig()
	if err != nil {
		return fmt.Errorf("namespace %s left: context %s: %w", ns, kctx, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), namespacePatience+30*time.Second)
	defer cancel()
	return deleteNamespace(ctx, cs, ns, e.Run, namespacePatience)
}
