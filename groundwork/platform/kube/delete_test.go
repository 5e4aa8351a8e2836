package kube

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestNamespaceWaitEndsWithItsContext: a namespace that stays terminating
// holds the stop only as long as its context, not the whole patience (an
// interrupted run must exit).
func TestNamespaceWaitEndsWithItsContext(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "faultline-r1", Labels: map[string]string{RunLabel: "r1"}}}
	cs := fake.NewClientset(ns)
	cs.PrependReactor("delete", "namespaces", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil // accepted, and never gone
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := deleteNamespace(ctx, cs, "faultline-r1", "r1", time.Minute)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "still terminating when the wait ended")
	assert.Less(t, time.Since(start), 10*time.Second, "the wait outlived its context")
}
