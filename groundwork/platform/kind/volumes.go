package kind

import (
	"context"
	"fmt"
	"os/exec"
	"path"

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

// storeVolumes makes one local PersistentVolume per store node, each on a
// worker (spread over them), bound in advance to the claim its StatefulSet
// pod will make, in a folder owned by the bank's user. A store pod deleted
// or killed comes back to the same data, as a store node's folder survives
// a kill on the local platform. The volumes carry the run's label and go
// with its namespace (kube's Stop and reap).
func (p *Platform) storeVolumes(ctx context.Context) error {
	nodes, err := cluster.Nodes(p.cluster)
	if err != nil {
		return err
	}
	var workers []string
	for _, n := range nodes {
		if n != p.cluster+"-control-plane" {
			workers = append(workers, n)
		}
	}
	if len(workers) == 0 {
		return fmt.Errorf("kind cluster %s has no workers for the store's volumes", p.cluster)
	}
	ns := p.Namespace()
	for i := range topology.StoreNodes {
		node := workers[i%len(workers)]
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
