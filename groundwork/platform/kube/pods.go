package kube

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faultline/faultline/groundwork/platform"
)

var _ platform.Pods = (*Platform)(nil)

// PodOf implements platform.Pods from the informer's view of the pod.
func (p *Platform) PodOf(instance string) (string, bool, bool) {
	pod := p.Pod(instance)
	if pod == nil {
		return "", false, false
	}
	return string(pod.UID), pod.DeletionTimestamp != nil, true
}

// DeletePod implements platform.Pods: a delete with the pod's UID as its
// precondition, so that a pod the StatefulSet made meanwhile in its place
// is never the one deleted.
func (p *Platform) DeletePod(ctx context.Context, instance, uid string, grace time.Duration) error {
	u := types.UID(uid)
	opts := metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &u}}
	if grace >= 0 {
		secs := int64(grace / time.Second)
		opts.GracePeriodSeconds = &secs
	}
	if err := p.cs.CoreV1().Pods(p.o.Namespace).Delete(ctx, instance, opts); err != nil {
		return fmt.Errorf("delete pod %s (%s): %w", instance, uid, err)
	}
	return nil
}
