// Package cluster creates, reuses and deletes the project's kind clusters,
// from kind-config.yaml and the offline node image (kind/nodeimage), on a
// host that kind/hostsetup has made safe: it refuses to create a cluster
// while container traffic could leave the machine.
package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/faultline/faultline/kind/hostsetup"
	"github.com/faultline/faultline/kind/nodeimage"
)

// DefaultName is the cluster the kind platform uses.
const DefaultName = "faultline"

// Options say which cluster, from which configuration and node image.
type Options struct {
	Name   string // default DefaultName
	Config string // path of the kind configuration (kind-config.yaml)
	Image  string // node image reference
	// Kubeconfig is where the cluster's kubeconfig is written (default:
	// next to the node images' cache, kubeconfig-<name>).
	Kubeconfig string
	Out        io.Writer
}

// Cluster is a running kind cluster.
type Cluster struct {
	Name       string
	Kubeconfig string
	Created    bool          // false when an existing cluster was reused
	Took       time.Duration // how long creating or checking it took
}

func provider() *cluster.Provider {
	return cluster.NewProvider(cluster.ProviderWithDocker(), cluster.ProviderWithLogger(kindcmd.NewLogger()))
}

// Ensure returns the cluster o names, creating it if it does not exist.
// A cluster whose creation fails is kept, for inspection, and the error
// says how to delete it. It refuses to create one unless the host's
// firewall keeps container traffic on this machine (hostsetup.Firewall).
func Ensure(ctx context.Context, o Options) (Cluster, error) {
	start := time.Now()
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	if o.Kubeconfig == "" {
		o.Kubeconfig = DefaultKubeconfig(o.Name)
	}
	c := Cluster{Name: o.Name, Kubeconfig: o.Kubeconfig}
	if err := hostsetup.Firewall(ctx); err != nil {
		return c, fmt.Errorf("refusing to create or use a kind cluster: %w", err)
	}
	p := provider()
	names, err := p.List()
	if err != nil {
		return c, fmt.Errorf("list kind clusters: %w", err)
	}
	recipe, err := recipeOf(o.Config, o.Image)
	if err != nil {
		return c, err
	}
	if slices.Contains(names, o.Name) {
		if made, _ := os.ReadFile(recipeFile(o.Kubeconfig)); string(made) != recipe {
			fmt.Fprintf(o.Out, "kind: cluster %s was not made from %s and %s as they are now: deleting it to create it again\n", o.Name, filepath.Base(o.Config), o.Image)
			if err := p.Delete(o.Name, o.Kubeconfig); err != nil {
				return c, fmt.Errorf("delete kind cluster %s, made from another configuration or node image: %w", o.Name, err)
			}
			names = slices.DeleteFunc(names, func(n string) bool { return n == o.Name })
		}
	}
	if slices.Contains(names, o.Name) {
		if err := p.ExportKubeConfig(o.Name, o.Kubeconfig, false); err != nil {
			return c, fmt.Errorf("kind cluster %s exists but its kubeconfig cannot be read: %w", o.Name, err)
		}
		if err := waitReady(ctx, o.Name, 2*time.Minute); err != nil {
			return c, fmt.Errorf("kind cluster %s exists but is not ready (delete it with `faultline kind delete`): %w", o.Name, err)
		}
		if err := keepDNSInside(ctx, o.Name); err != nil {
			return c, fmt.Errorf("kind cluster %s: keep DNS inside the cluster: %w", o.Name, err)
		}
		c.Took = time.Since(start)
		fmt.Fprintf(o.Out, "kind: reusing cluster %s (ready in %v)\n", o.Name, c.Took.Round(time.Second))
		return c, nil
	}
	if err := os.MkdirAll(filepath.Dir(o.Kubeconfig), 0o700); err != nil {
		return c, err
	}
	fmt.Fprintf(o.Out, "kind: creating cluster %s from %s with %s\n", o.Name, o.Config, o.Image)
	err = p.Create(o.Name, cluster.CreateWithConfigFile(o.Config), cluster.CreateWithNodeImage(o.Image),
		cluster.CreateWithWaitForReady(3*time.Minute), cluster.CreateWithKubeconfigPath(o.Kubeconfig),
		cluster.CreateWithRetain(true), cluster.CreateWithDisplayUsage(false), cluster.CreateWithDisplaySalutation(false))
	if err != nil {
		return c, fmt.Errorf("create kind cluster %s (kept for inspection; `faultline kind delete -name %s` removes it): %w", o.Name, o.Name, err)
	}
	if err := waitReady(ctx, o.Name, 3*time.Minute); err != nil {
		return c, err
	}
	if err := keepDNSInside(ctx, o.Name); err != nil {
		return c, fmt.Errorf("kind cluster %s: keep DNS inside the cluster: %w", o.Name, err)
	}
	if err := os.WriteFile(recipeFile(o.Kubeconfig), []byte(recipe), 0o600); err != nil {
		return c, err
	}
	c.Created, c.Took = true, time.Since(start)
	fmt.Fprintf(o.Out, "kind: cluster %s created in %v\n", o.Name, c.Took.Round(time.Second))
	return c, nil
}

// Delete deletes the named cluster; a cluster that does not exist is not an
// error.
func Delete(name string) error {
	if name == "" {
		name = DefaultName
	}
	if err := provider().Delete(name, DefaultKubeconfig(name)); err != nil {
		return err
	}
	if err := os.Remove(recipeFile(DefaultKubeconfig(name))); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// recipeOf is what a cluster is made from: its configuration's content and
// its node image's reference, hashed. A cluster made from another recipe
// is deleted and made again, so that an edit to kind-config.yaml (or a new
// node image) always takes effect.
func recipeOf(config, image string) (string, error) {
	b, err := os.ReadFile(config)
	if err != nil {
		return "", fmt.Errorf("read the kind configuration: %w", err)
	}
	h := sha256.Sum256(append(append(b, 0), image...))
	return hex.EncodeToString(h[:]), nil
}

// recipeFile keeps, next to a cluster's kubeconfig, the recipe it was made
// from.
func recipeFile(kubeconfig string) string { return kubeconfig + ".recipe" }

// DefaultKubeconfig is where a cluster's kubeconfig is kept: beside the
// node images (nodeimage.DefaultCache).
func DefaultKubeconfig(name string) string {
	return filepath.Join(nodeimage.DefaultCache(), "kubeconfig-"+name)
}

// Nodes returns the names of the cluster's node containers.
func Nodes(name string) ([]string, error) {
	ns, err := provider().ListNodes(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range ns {
		out = append(out, n.String())
	}
	slices.Sort(out)
	return out, nil
}

// Kubectl runs kubectl on the cluster's control plane, as its admin, with
// stdin, and returns its output. It needs nothing on the host but docker.
func Kubectl(ctx context.Context, name string, stdin []byte, args ...string) ([]byte, error) {
	cp := name + "-control-plane"
	full := append([]string{"exec", "-i", cp, "kubectl", "--kubeconfig=/etc/kubernetes/admin.conf"}, args...)
	cmd := exec.CommandContext(ctx, "docker", full...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), nil
}

// waitReady waits until every node of the cluster is Ready.
func waitReady(ctx context.Context, name string, patience time.Duration) error {
	deadline := time.Now().Add(patience)
	for {
		out, err := Kubectl(ctx, name, nil, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=20s")
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("nodes not Ready after %v: %v %s", patience, err, out)
		}
		time.Sleep(2 * time.Second)
	}
}

// LoadImageArchive imports the docker-loadable image archive into the
// containerd of every node of the named cluster (as `kind load
// image-archive` does), so that pods use it with imagePullPolicy Never.
func LoadImageArchive(name, archive string) error {
	ns, err := provider().ListNodes(name)
	if err != nil {
		return err
	}
	if len(ns) == 0 {
		return fmt.Errorf("kind cluster %s has no nodes", name)
	}
	for _, n := range ns {
		f, err := os.Open(archive)
		if err != nil {
			return err
		}
		err = nodeutils.LoadImageArchive(n, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("load %s into %s: %w", filepath.Base(archive), n.String(), err)
		}
	}
	return nil
}
