// Package kube runs the bank on a Kubernetes cluster the user allowed
// (see CheckContext): it server-side applies the manifests system/deploy
// renders into a namespace of its own for the run, follows the pods with
// an informer (events, readiness), streams each instance's logs into the
// run folder, seeds the bank with a Job and reaches instances from the
// harness only through port-forwards on 127.0.0.1 (or, for the entry
// points, addresses given to it, such as kind's NodePorts). Link faults go
// through each pod's fault sidecar, named as on the local platform.
//
// It never touches a namespace it did not create: the namespace is
// journaled before it is created, labelled with the run, and deleted at
// the end (or by the next run's reap after a crash).
package kube

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/deploy"
	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/seed"
	"github.com/faultline/faultline/system/topology"
)

func init() {
	// client-go reports through klog, on stderr: a port-forward whose pod
	// was just killed (as faults do) is expected, not news for the run's
	// output. The platform reports what matters through its errors.
	klog.SetLogger(logr.Discard())
}

// Name is the kube platform's name for platform.Open.
const Name = "kube"

// Options configure the kube platform.
type Options struct {
	Kubeconfig string   // default: $KUBECONFIG or ~/.kube/config
	Context    string   // default: the kubeconfig's current context
	Allowed    []string // contexts it may act on (see Allowed, CheckContext)
	Namespace  string   // default faultline-<run>
	Run        string   // the run's ID, labelled on every object
	Image      string   // the bank's image, already on the nodes
	// StorageClass of the store nodes' volumes ("" for emptyDir).
	StorageClass string
	// BeforeApply, when set, runs before the bank is applied (a kind
	// cluster makes its store volumes there).
	BeforeApply func(ctx context.Context) error
	// Ingress gives the entry points' addresses on 127.0.0.1 (kind's
	// NodePorts); a service not in it is reached by a port-forward to one
	// of its ready pods.
	Ingress map[string]string
	// Platform is the name reports and the journal give it (kube, kind).
	Platform string

	RunDir   string
	Journal  *journal.Journal
	Progress func(format string, args ...any)
}

// Platform is the kube platform. Create it with New.
type Platform struct {
	o        Options
	token    string                // the run's admin token (AdminToken)
	seedKey  []byte                // the key of the customers' session tokens (Seed)
	cardKey  []byte                // the card network's key (CardKey)
	storeKey []byte                // the store's key, in the Secret; each process gets its own password
	id       *platform.RunIdentity // the run's certificate authority: the Secret bank-identity, the harness's TLS
	context  string
	cfg      *rest.Config
	cs       kubernetes.Interface
	dyn      dynamic.Interface
	mapper   meta.RESTMapper
	events   chan platform.Event
	fw       *forwards

	mu      sync.Mutex
	pods    map[string]*corev1.Pod // by pod name (= instance name)
	seen    map[string]string      // pod name -> the bank container's last container ID
	exited  map[string]string      // pod name -> the last bank container whose exit was reported
	logs    map[string]bool        // container IDs whose logs are being copied
	cancel  context.CancelFunc
	stopped bool
}

var (
	_ platform.Platform  = (*Platform)(nil)
	_ platform.Links     = (*Platform)(nil)
	_ platform.Readiness = (*Platform)(nil)
	_ platform.Endpoints = (*Platform)(nil)
	_ platform.Identity  = (*Platform)(nil)
	_ platform.Seeder    = (*Platform)(nil)
	_ platform.Versions  = (*Platform)(nil)
)

// New checks the context against o.Allowed and connects; nothing is
// created until Start.
func New(o Options) (*Platform, error) {
	if o.RunDir == "" || o.Journal == nil || o.Run == "" {
		return nil, errors.New("kube platform: RunDir, Journal and Run are required")
	}
	if o.Image == "" {
		return nil, errors.New("kube platform: the bank's image is required")
	}
	if o.Platform == "" {
		o.Platform = Name
	}
	if o.Namespace == "" {
		o.Namespace = "faultline-" + strings.ToLower(o.Run)
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	ctxName, err := CheckContext(o.Kubeconfig, o.Context, o.Allowed)
	if err != nil {
		return nil, err
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.Kubeconfig != "" {
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: o.Kubeconfig}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: ctxName}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %s: %w", ctxName, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	id, err := platform.NewRunIdentity()
	if err != nil {
		return nil, fmt.Errorf("kube platform: the run's certificates: %w", err)
	}
	p := &Platform{o: o, context: ctxName, id: id, cfg: cfg, cs: cs, dyn: dyn,
		mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery())),
		events: make(chan platform.Event, 4096), pods: map[string]*corev1.Pod{}, seen: map[string]string{}, exited: map[string]string{}, logs: map[string]bool{},
		token: platform.NewAdminToken(), seedKey: seed.NewKey(), cardKey: platform.NewKey(), storeKey: platform.NewKey()}
	p.fw = newForwards(cfg, cs, o.Namespace)
	return p, nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return p.o.Platform }

// Clientset is the platform's client, for platforms built on this one.
func (p *Platform) Clientset() kubernetes.Interface { return p.cs }

// Run is the run's ID, the value of every object's faultline.dev/run label.
func (p *Platform) Run() string { return p.o.Run }

// Journal is the run's journal, for platforms built on this one.
func (p *Platform) Journal() *journal.Journal { return p.o.Journal }

// Namespace is the run's namespace.
func (p *Platform) Namespace() string { return p.o.Namespace }

// Events implements platform.Platform.
func (p *Platform) Events() <-chan platform.Event { return p.events }

func (p *Platform) emit(kind, inst, detail string) {
	select {
	case p.events <- platform.Event{Time: time.Now(), Kind: kind, Instance: inst, Detail: detail}:
	default:
	}
}

// journalID is the journal entry of the run's namespace.
func (p *Platform) journalID() string { return "namespace-" + p.o.Namespace }

// Start implements platform.Platform: it journals and creates the run's
// namespace, applies the bank into it, follows its pods and returns once
// every instance is ready. On failure the namespace is kept for
// inspection until Stop.
func (p *Platform) Start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(p.o.RunDir, "logs"), 0o700); err != nil {
		return err
	}
	if err := p.o.Journal.Write(journal.Entry{Kind: KindNamespace, ID: p.journalID(),
		Target: p.context + "/" + p.o.Namespace, Exe: p.o.Kubeconfig}); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := deploy.Write(&b, deploy.Options{Namespace: p.o.Namespace, Image: p.o.Image, Run: p.o.Run, StorageClass: p.o.StorageClass,
		AdminToken: p.token, SeedKey: hex.EncodeToString(p.seedKey), CardKey: hex.EncodeToString(p.cardKey),
		StoreKey: p.storeKey, Identity: p.id.Credentials}); err != nil {
		return err
	}
	t0 := time.Now()
	if p.o.BeforeApply != nil {
		if err := p.o.BeforeApply(ctx); err != nil {
			return err
		}
	}
	if err := apply(ctx, p.dyn, p.mapper, b.Bytes()); err != nil {
		return err
	}
	p.o.Progress("applied the bank to %s/%s", p.context, p.o.Namespace)
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.follow(runCtx)
	for _, in := range p.Instances("") {
		if err := p.WaitReady(ctx, in.Name); err != nil {
			return fmt.Errorf("%w (kubectl -n %s describe pod %s)", err, p.o.Namespace, in.Name)
		}
	}
	p.o.Progress("mesh ready: %d instances in %v", len(p.Instances("")), time.Since(t0).Round(time.Millisecond))
	return nil
}

// follow starts the pod informer of the namespace: it keeps the pods'
// state, emits instance events and starts copying each new container's
// logs.
func (p *Platform) follow(ctx context.Context) {
	f := informers.NewSharedInformerFactoryWithOptions(p.cs, 0, informers.WithNamespace(p.o.Namespace))
	inf := f.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.observe(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { p.observe(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) {
			pod, ok := obj.(*corev1.Pod)
			if !ok {
				if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
					pod, _ = t.Obj.(*corev1.Pod)
				}
			}
			if pod == nil {
				return
			}
			p.mu.Lock()
			exit := p.exitOf(pod, true)
			delete(p.pods, pod.Name)
			delete(p.seen, pod.Name)
			delete(p.exited, pod.Name)
			p.mu.Unlock()
			if exit != "" {
				p.emit(platform.EventExited, pod.Name, exit)
			}
		},
	})
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
}

// observe records pod and turns what changed in its bank container into
// events: a new container started (and the last one's exit), readiness.
func (p *Platform) observe(ctx context.Context, pod *corev1.Pod) {
	bank := bankStatus(pod)
	p.mu.Lock()
	prev := p.pods[pod.Name]
	p.pods[pod.Name] = pod
	last := p.seen[pod.Name]
	exit := p.exitOf(pod, false)
	id := ""
	if bank != nil && bank.State.Running != nil {
		id = bank.ContainerID
		p.seen[pod.Name] = id
	}
	p.mu.Unlock()
	if exit != "" {
		p.emit(platform.EventExited, pod.Name, exit)
	}
	if id != "" && id != last {
		p.emit(platform.EventStarted, pod.Name, "container "+shortID(id))
		p.copyLogs(ctx, pod.Name, id)
	}
	if podReady(pod) && (prev == nil || !podReady(prev)) {
		p.emit(platform.EventReady, pod.Name, "")
	}
}

// exitOf returns the exit detail of pod's bank container if one exited
// that was not reported yet, once each: seen terminated (stopped, or its pod
// being deleted), or as the last termination of a container restarted in
// place after one was seen running. A pod deleted (gone) with its container
// never seen to end says so. p.mu must be held; call it before p.seen
// takes the pod's running container.
func (p *Platform) exitOf(pod *corev1.Pod, gone bool) string {
	bank := bankStatus(pod)
	var t *corev1.ContainerStateTerminated
	if bank != nil {
		t = bank.State.Terminated
		if last := p.seen[pod.Name]; t == nil && bank.State.Running != nil && last != "" && bank.ContainerID != last {
			t = bank.LastTerminationState.Terminated
		}
	}
	switch {
	case t != nil && t.ContainerID != "" && t.ContainerID != p.exited[pod.Name]:
		p.exited[pod.Name] = t.ContainerID
		return exitDetail(t)
	case gone && (t == nil || t.ContainerID == "") && p.seen[pod.Name] != "":
		return "pod deleted"
	}
	return ""
}

// exitDetail says how a container ended, as the local platform says it of
// a process: "exit status 0" for a clean exit.
func exitDetail(t *corev1.ContainerStateTerminated) string {
	if t.ExitCode == 0 {
		return platform.ExitedCleanly
	}
	return fmt.Sprintf("exit status %d (%s)", t.ExitCode, t.Reason)
}

func shortID(id string) string {
	if i := strings.LastIndex(id, "/"); i >= 0 {
		id = id[i+1:]
	}
	return id[:min(12, len(id))]
}

// bankStatus is the status of a pod's bank (or store) container.
func bankStatus(pod *corev1.Pod) *corev1.ContainerStatus {
	for i, c := range pod.Status.ContainerStatuses {
		if c.Name == "bank" || c.Name == "store" {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	return nil
}

func podReady(pod *corev1.Pod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// WaitReady implements platform.Readiness: the instance's pod is Ready.
func (p *Platform) WaitReady(ctx context.Context, instance string) error {
	return platform.WaitUntil(ctx, 50*time.Millisecond, instance+" not ready", func() bool {
		p.mu.Lock()
		pod := p.pods[instance]
		p.mu.Unlock()
		return pod != nil && podReady(pod)
	})
}

// Instances implements platform.Platform: the instances the manifests
// declare (StatefulSet pods), with their addresses inside the cluster.
func (p *Platform) Instances(service string) []platform.Instance {
	var out []platform.Instance
	if service == "" || service == topology.Store {
		for i := range topology.StoreNodes {
			name := fmt.Sprintf("store-%d", i)
			out = append(out, platform.Instance{Name: name, Service: topology.Store, Tier: 0,
				Addr: fmt.Sprintf("%s.store.%s.svc.cluster.local:%d", name, p.o.Namespace, deploy.StoreClient)})
		}
	}
	for _, s := range topology.Services {
		if service != "" && service != s.Name {
			continue
		}
		for i := range s.Replicas {
			name := fmt.Sprintf("%s-%d", s.Name, i)
			out = append(out, platform.Instance{Name: name, Service: s.Name, Tier: s.Tier,
				Addr: fmt.Sprintf("%s.%s.%s.svc.cluster.local:%d", name, s.Name, p.o.Namespace, deploy.Port)})
		}
	}
	return out
}

// Ingress implements platform.Platform: the address given for service, or
// a port-forward to one of its ready pods.
func (p *Platform) Ingress(service string) []string {
	if a, ok := p.o.Ingress[service]; ok {
		return []string{a}
	}
	var ready []string
	for _, in := range p.Instances(service) {
		p.mu.Lock()
		pod := p.pods[in.Name]
		p.mu.Unlock()
		if pod != nil && podReady(pod) {
			ready = append(ready, in.Name)
		}
	}
	for _, name := range ready {
		if a, err := p.fw.to(context.Background(), p.Pod(name), deploy.Port); err == nil {
			return []string{a}
		}
	}
	return nil
}

// Pod returns the pod of instance name as last seen, or nil.
func (p *Platform) Pod(name string) *corev1.Pod {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pods[name]
}

// Endpoint implements platform.Endpoints: a port-forward on 127.0.0.1 to
// the instance's pod.
func (p *Platform) Endpoint(ctx context.Context, instance string) (string, error) {
	return p.forwardTo(ctx, instance, deploy.Port)
}

// AdminEndpoint implements platform.Endpoints: a port-forward to the admin
// hook, which listens on 127.0.0.1 in the pod and behind no Service.
func (p *Platform) AdminEndpoint(ctx context.Context, instance string) (string, error) {
	return p.forwardTo(ctx, instance, deploy.AdminPort)
}

// AdminToken implements platform.Endpoints: the token in the bank-admin
// Secret this platform applied.
func (p *Platform) AdminToken() string { return p.token }

// TLS implements platform.Endpoints: the harness's certificate, issued by
// the run's authority like those in the Secret bank-identity.
func (p *Platform) TLS() *tls.Config { return p.id.HarnessTLS() }

// OutsideTLS implements platform.Identity.
func (p *Platform) OutsideTLS() *tls.Config { return p.id.OutsideTLS() }

// Credentials implements platform.Identity.
func (p *Platform) Credentials(name string) (*identity.Credentials, error) {
	return p.id.Credentials(name)
}

// CardKey implements platform.CardNetwork: the key in the bank-admin
// Secret, which card-api reads.
func (p *Platform) CardKey() []byte { return p.cardKey }

func (p *Platform) forwardTo(ctx context.Context, instance string, port int) (string, error) {
	pod := p.Pod(instance)
	if pod == nil {
		return "", fmt.Errorf("no pod for %s in %s", instance, p.o.Namespace)
	}
	return p.fw.to(ctx, pod, port)
}

// Versions implements platform.Versions.
func (p *Platform) Versions() map[string]string {
	v := map[string]string{"bank image": p.o.Image, "context": p.context}
	if sv, err := p.cs.Discovery().ServerVersion(); err == nil {
		v["kubernetes"] = sv.GitVersion
	}
	return v
}

// Stop implements platform.Platform: it stops following, closes the
// port-forwards and deletes the run's namespace, waiting up to a minute
// for it to go. Idempotent.
func (p *Platform) Stop(ctx context.Context) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	p.mu.Unlock()
	if p.cancel != nil {
		p.cancel()
	}
	p.fw.closeAll()
	err := deleteNamespace(ctx, p.cs, p.o.Namespace, p.o.Run, namespacePatience)
	if err == nil {
		err = p.o.Journal.Remove(p.journalID())
	}
	return err
}

// RunLabel labels every object of a run with the run's ID.
const RunLabel = "faultline.dev/run"

// KindNamespace marks the journal entry of a run's namespace.
const KindNamespace = journal.KindNamespace

// namespacePatience bounds the wait for a run's namespace to be gone: its
// pods first stop within their grace period, and a node that has just come
// back (after a node fault) confirms its pods' end only once its kubelet
// has reconnected.
const namespacePatience = 3 * time.Minute

// deleteNamespace deletes ns if it carries run's label (never one this run
// did not create) and waits up to patience for it to be gone.
func deleteNamespace(ctx context.Context, cs kubernetes.Interface, ns, run string, patience time.Duration) error {
	got, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if got.Labels[RunLabel] != run {
		return fmt.Errorf("namespace %s is not run %s's (labels %v): left alone", ns, run, got.Labels)
	}
	// Volumes the platform made for the run's store (cluster-wide objects)
	// go with it.
	if err := cs.CoreV1().PersistentVolumes().DeleteCollection(ctx, metav1.DeleteOptions{},
		metav1.ListOptions{LabelSelector: RunLabel + "=" + run}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete run %s's volumes: %w", run, err)
	}
	if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	// The wait ends with ctx too: an interrupted run's abort gives the
	// whole stop a short budget, and once it is spent no Get can see the
	// namespace go.
	deadline := time.Now().Add(patience)
	for time.Now().Before(deadline) {
		if _, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s deleted, still terminating when the wait ended: %w", ns, context.Cause(ctx))
		case <-time.After(time.Second):
		}
	}
	return fmt.Errorf("namespace %s still terminating after %v", ns, patience)
}
