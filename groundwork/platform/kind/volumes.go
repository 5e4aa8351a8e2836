package kind

import (
	"context"
	"fmt"
	"os/exec"
	"path"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faultline/faultline/groundwork/platform/kube"
	"github.com/faultline/faultline/kind/cluster"
	"github.com/faultline/faultline/system/topology"
)

// StorageClass is the node image's default class: no provisioner, so the
// platform makes the store's volumes itself (docs/KIND.md, Storage).
const StorageClass = "standard"

// volumeRoot is where store volumes live on a node.
const volumeRoot = "/var/local/faultline"

// storeVolumes makes one local PersistentVolume per store node, bound in
// advance to the claim its StatefulSet pod will make, in a folder owned by
// the bank's user. A local volume pins its pod to its node, so the volumes
// decide where the store's nodes run: each on a machine of its own
// (storeHosts), so that losing a machine loses one store node and never
// the store's quorum. A store pod deleted or killed comes back to the same
// data, as a store node's folder survives a kill on the local platform.
// The volumes carry the run's label and go with its namespace (kube's Stop
// and reap).
func (p *Platform) storeVolumes(ctx context.Context) error {
	nodes, err := cluster.Nodes(p.cluster)
	if err != nil {
		return err
	}
	hosts, err := storeHosts(nodes, p.cluster+"-control-plane", topology.StoreNodes)
	if err != nil {
		return fmt.Errorf("kind cluster %s: %w", p.cluster, err)
	}
	ns := p.Namespace()
	for i := range topology.StoreNodes {
		node := hosts[i]
		dir := path.Join(volumeRoot, ns, fmt.Sprintf("store-%d", i))
		if out, err := exec.CommandContext(ctx, "docker", "exec", node, "sh", "-c",
			fmt.Sprintf("mkdir -p %s && chown %d:%d %s && chmod 700 %s", dir, NonRoot, NonRoot, dir, dir)).CombinedOutput(); err != nil {
			return fmt.Errorf("store volume on %s: %w: %s", node, err, out)
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-store-%d", ns, i), Labels: map[string]string{kube.RunLabel: p.Run()}},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				StorageClassName:              StorageClass,
				ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: fmt.Sprintf("data-store-%d", i)},
				PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
				}}}},
			},
		}
		if _, err := p.Clientset().CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("store volume %s: %w", pv.Name, err)
		}
	}
	return nil
}

// Stop stops the bank as the kube platform does (its namespace and
// volumes deleted), then removes the store's folders from the workers.
func (p *Platform) Stop(ctx context.Context) error {
	err := p.Platform.Stop(ctx)
	if nodes, nerr := cluster.Nodes(p.cluster); nerr == nil {
		for _, n := range nodes {
			_ = exec.CommandContext(ctx, "docker", "exec", n, "rm", "-rf", path.Join(volumeRoot, p.Namespace())).Run()
		}
	}
	return err
}

// storeHosts returns the node for each of n store nodes: the workers first,
// then the control plane when there are fewer workers than store nodes
// (kind-config.yaml's one control plane and two workers), then round again
// only when there are fewer machines than store nodes. The node faults fail
// workers only, so the store node on the control plane is never lost.
func storeHosts(nodes []string, controlPlane string, n int) ([]string, error) {
	var order []string
	for _, node := range nodes {
		if node != controlPlane {
			order = append(order, node)
		}
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no workers for the store's volumes")
	}
	if len(order) < n && slices.Contains(nodes, controlPlane) {
		order = append(order, controlPlane)
	}
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = order[i%len(order)]
	}
	return hosts, nil
}
