package kind

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/groundwork/platform/kube"
	"github.com/faultline/faultline/groundwork/platform/local"
	"github.com/faultline/faultline/kind/cluster"
	"github.com/faultline/faultline/kind/hostsetup"
	"github.com/faultline/faultline/kind/nodeimage"
	"github.com/faultline/faultline/system/deploy"
)

// Name is the kind platform's name for platform.Open.
const Name = "kind"

// Environment variables the kind platform reads.
const (
	ImageEnv   = "FAULTLINE_KIND_IMAGE"   // the node image (default: build the offline one)
	ClusterEnv = "FAULTLINE_KIND_CLUSTER" // the cluster's name (default cluster.DefaultName)
)

func init() {
	platform.Register(platform.Registration{Name: Name, Open: open, Reap: Reap, LoadShare: loadShare})
}

// fullLoadCores is how many cores the bank on kind needs for the default
// load. On 2 cores the cluster's own work (kubelets, containerd, the
// control plane, one sidecar per pod, every call crossing pod networks)
// kept the machine 96-98% busy at the default load before any fault, and
// about 90% busy at half of it through a suite, where one replica's kill
// took the card path down for seconds; at a quarter of it the same kill
// was absorbed (docs/KIND.md, "What the cluster costs").
const fullLoadCores = 8

// loadShare scales the default load to this machine's cores, up to all of
// it from fullLoadCores.
func loadShare() (float64, string) {
	n := runtime.NumCPU()
	if n >= fullLoadCores {
		return 1, ""
	}
	return float64(n) / fullLoadCores, fmt.Sprintf("kind on %d cores carries %d/%d of the default load (FAULTLINE_RATE overrides)", n, n, fullLoadCores)
}

// Platform is the bank in a kind cluster: the kube platform on the
// cluster's context, with the entry points on the NodePorts that
// kind-config.yaml maps to 127.0.0.1, and what only a cluster whose nodes
// are containers on this machine allows: signalling the bank's processes
// in place (SIGKILL, SIGSTOP/SIGCONT) from their node.
type Platform struct {
	*kube.Platform
	cluster string

	frozen platform.Frozen
}

var (
	_ platform.Signals = (*Platform)(nil)
	_ platform.Freezer = (*Platform)(nil)
)

// open sets the host up, builds (or finds) the node image, creates (or
// reuses) the cluster, builds the bank's image from this module's bank and
// loads it into every node; the bank is deployed by Start. A cluster it
// creates stays after the run (deleting one costs a minute to create
// again): `faultline kind delete` removes it.
func open(o platform.Options) (platform.Platform, error) {
	ctx := context.Background()
	root, err := local.ModuleRoot()
	if err != nil {
		return nil, err
	}
	out := progressWriter{o.Progress}
	if _, err := hostsetup.Ensure(ctx, hostsetup.Options{Repo: root, Out: out}); err != nil {
		return nil, err
	}
	nodeImage := os.Getenv(ImageEnv)
	if nodeImage == "" {
		img, err := nodeimage.Build(ctx, nodeimage.Options{Repo: root, Out: out})
		if err != nil {
			return nil, err
		}
		nodeImage = img.Exact
	}
	c, err := cluster.Ensure(ctx, cluster.Options{Name: os.Getenv(ClusterEnv), Config: filepath.Join(root, "kind-config.yaml"), Image: nodeImage, Out: out})
	if err != nil {
		return nil, err
	}
	cache := filepath.Join(nodeimage.DefaultCache(), "bank")
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return nil, err
	}
	bin, err := local.BuildBank(ctx, root, cache)
	if err != nil {
		return nil, err
	}
	img, err := BankImage(bin, cache)
	if err != nil {
		return nil, err
	}
	if err := cluster.LoadImageArchive(c.Name, img.Archive); err != nil {
		return nil, err
	}
	o.Progress("bank image %s loaded into cluster %s", img.Ref, c.Name)
	kctx := "kind-" + c.Name
	run := filepath.Base(o.RunDir)
	pl := &Platform{cluster: c.Name}
	k, err := kube.New(kube.Options{Kubeconfig: c.Kubeconfig, Context: kctx, Allowed: kube.Allowed(kctx),
		Run: run, Image: img.Ref, Platform: Name,
		StorageClass: StorageClass, BeforeApply: pl.storeVolumes,
		Ingress: map[string]string{
			"edge":     fmt.Sprintf("127.0.0.1:%d", deploy.EntryNodePorts["edge"]),
			"card-api": fmt.Sprintf("127.0.0.1:%d", deploy.EntryNodePorts["card-api"]),
		},
		RunDir: o.RunDir, Journal: o.Journal, Progress: o.Progress})
	if err != nil {
		return nil, err
	}
	pl.Platform = k
	return pl, nil
}

// progressWriter turns the kind tools' output lines into progress lines.
type progressWriter struct{ f func(string, ...any) }

func (w progressWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		if l != "" {
			w.f("%s", l)
		}
	}
	return len(b), nil
}

// container is where an instance's bank container runs: its node (a
// docker container) and its ID in the node's containerd.
func (p *Platform) container(instance string) (node, id string, ok bool) {
	pod := p.Pod(instance)
	if pod == nil {
		return "", "", false
	}
	for _, c := range pod.Status.ContainerStatuses {
		if (c.Name == "bank" || c.Name == "store") && c.State.Running != nil {
			_, id, _ = strings.Cut(c.ContainerID, "://")
			return pod.Spec.NodeName, id, id != ""
		}
	}
	return "", "", false
}

// Incarnation implements platform.Signals: an instance's incarnation is
// its bank container.
func (p *Platform) Incarnation(instance string) (platform.Incarnation, bool) {
	_, id, ok := p.container(instance)
	if !ok {
		return platform.Incarnation{}, false
	}
	return platform.Incarnation{ID: id}, true
}

// pid returns the process ID, in its node, of the container id.
func pid(ctx context.Context, node, id string) (int, error) {
	out, err := exec.CommandContext(ctx, "docker", "exec", node, "crictl", "inspect", "--output", "go-template", "--template", "{{.info.pid}}", id).Output()
	if err != nil {
		return 0, fmt.Errorf("find the process of container %s on %s: %w", id[:min(12, len(id))], node, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || n <= 1 {
		return 0, fmt.Errorf("container %s on %s: no process (%q)", id[:min(12, len(id))], node, out)
	}
	return n, nil
}

// Signal implements platform.Signals: sig goes, from the node, to the
// process of the container inc names, if that container is still the
// instance's current one. The kubelet restarts a killed container in
// place (the cluster caps its back-off at a second).
func (p *Platform) Signal(instance string, inc platform.Incarnation, sig syscall.Signal) error {
	node, id, ok := p.container(instance)
	if !ok || id != inc.ID {
		return fmt.Errorf("signal %v to %s %s: %w", sig, instance, inc.ID, platform.ErrNotCurrent)
	}
	ctx := context.Background()
	n, err := pid(ctx, node, id)
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, "docker", "exec", node, "sh", "-c", fmt.Sprintf("kill -%d %d", int(sig), n)).CombinedOutput(); err != nil {
		return fmt.Errorf("signal %v to %s (pid %d on %s): %w: %s", sig, instance, n, node, err, out)
	}
	return nil
}

// State implements platform.Signals, from the pod's status and the
// process's state on its node.
func (p *Platform) State(instance string, inc platform.Incarnation) (platform.State, error) {
	node, id, ok := p.container(instance)
	if !ok || id != inc.ID {
		return platform.Gone, nil
	}
	ctx := context.Background()
	n, err := pid(ctx, node, id)
	if err != nil {
		return platform.Gone, nil
	}
	out, err := exec.CommandContext(ctx, "docker", "exec", node, "cat", fmt.Sprintf("/proc/%d/stat", n)).Output()
	if err != nil {
		return platform.Gone, nil
	}
	i := strings.LastIndexByte(string(out), ')')
	if i < 0 || i+2 >= len(out) {
		return "", fmt.Errorf("%s: unreadable process state", instance)
	}
	switch out[i+2] {
	case 'T', 't':
		return platform.Stopped, nil
	case 'Z', 'X':
		return platform.Gone, nil
	}
	return platform.Running, nil
}

// Freeze implements platform.Freezer with SIGSTOP from the node. It is
// journaled first; a crashed run's reap deletes the run's namespace, and
// the frozen containers with it.
func (p *Platform) Freeze(ctx context.Context, id string, targets []platform.Target) error {
	var names []string
	for _, t := range targets {
		names = append(names, t.Instance+"="+t.Incarnation.ID)
	}
	if err := p.Journal().Write(journal.Entry{Kind: "pause", ID: id, Target: strings.Join(names, ",")}); err != nil {
		return err
	}
	return p.frozen.Stop(p, id, targets)
}

// Thaw implements platform.Freezer: SIGCONT to every container Freeze
// stopped under id that is still current.
func (p *Platform) Thaw(ctx context.Context, id string) error {
	return errors.Join(p.frozen.Continue(p, id), p.Journal().Remove(id))
}

// HostPIDs implements platform.HostProcesses: the cluster's machinery on
// this machine. Each node container's shim (its first process's parent:
// with it the node and every process the harness starts in it, the
// `docker exec` of a kill or a freeze), and the Docker daemon (with its
// containerd and the docker-proxy processes that carry the entry points
// and the API server from 127.0.0.1): the work they do is the run's own,
// never "other work on the host". A node lost and booted has a new shim,
// so the harness asks again every few seconds.
func (p *Platform) HostPIDs() []int {
	nodes, err := cluster.Nodes(p.cluster)
	if err != nil {
		return nil
	}
	var out []int
	for _, n := range nodes {
		b, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", n).Output()
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
			out = append(out, pid)
			if pp := parentPID(pid); pp > 1 {
				out = append(out, pp)
			}
		}
	}
	return append(out, dockerDaemons()...)
}

// parentPID returns pid's parent, or 0 when it cannot be read.
func parentPID(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: the fields after
	// its closing parenthesis are state, then the parent's PID.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1])
	return pp
}

// dockerDaemons returns the PIDs of the processes named dockerd.
func dockerDaemons() []int {
	var out []int
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "comm")); err == nil && strings.TrimSpace(string(b)) == "dockerd" {
			out = append(out, pid)
		}
	}
	return out
}
