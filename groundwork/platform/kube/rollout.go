package kube

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// RestartedAt is the pod template annotation a rollout sets, as `kubectl
// rollout restart` does with its own: a new template, so the StatefulSet
// controller replaces every pod, one at a time.
const RestartedAt = "faultline.dev/restarted-at"

// RollOut implements platform.Rollouts: it stamps the service's StatefulSet
// pod template with the time, and the controller rolls the pods over,
// waiting for each new pod to be ready before it deletes the next.
func (p *Platform) RollOut(ctx context.Context, service string) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`,
		RestartedAt, time.Now().UTC().Format(time.RFC3339Nano))
	_, err := p.cs.AppsV1().StatefulSets(p.o.Namespace).Patch(ctx, service, types.StrategicMergePatchType,
		[]byte(patch), metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("roll out %s: %w", service, err)
	}
	return nil
}

// RolledOut implements platform.Rollouts: the controller has seen the new
// template and every pod runs it, ready and available (ready for the
// StatefulSet's minReadySeconds).
func (p *Platform) RolledOut(ctx context.Context, service string) (bool, error) {
	sts, err := p.cs.AppsV1().StatefulSets(p.o.Namespace).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		return false, fmt.Errorf("rollout of %s: %w", service, err)
	}
	want := int32(1)
	if sts.Spec.Replicas != nil {
		want = *sts.Spec.Replicas
	}
	st := sts.Status
	return st.ObservedGeneration >= sts.Generation && st.UpdateRevision != "" && st.CurrentRevision == st.UpdateRevision &&
		st.UpdatedReplicas == want && st.ReadyReplicas == want && st.AvailableReplicas == want, nil
}
