package kube

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func bankPod(running string, terminated, last *corev1.ContainerStateTerminated) *corev1.Pod {
	st := corev1.ContainerStatus{Name: "bank", ContainerID: running}
	if running != "" {
		st.State.Running = &corev1.ContainerStateRunning{}
	}
	st.State.Terminated = terminated
	st.LastTerminationState.Terminated = last
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "card-api-0"},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{st}}}
}

// Each exit of a bank container is reported once, as the local platform
// words it, whichever way the informer shows it.
func TestExitReportedOnce(t *testing.T) {
	p := &Platform{seen: map[string]string{}, exited: map[string]string{}}
	see := func(pod *corev1.Pod, gone bool) string {
		exit := p.exitOf(pod, gone)
		if s := bankStatus(pod); s != nil && s.State.Running != nil {
			p.seen[pod.Name] = s.ContainerID
		}
		return exit
	}
	// A pod deleted: its container drains and exits 0, then the pod goes.
	assert.Empty(t, see(bankPod("c://a", nil, nil), false))
	a0 := &corev1.ContainerStateTerminated{ContainerID: "c://a", ExitCode: 0, Reason: "Completed"}
	assert.Equal(t, "exit status 0", see(bankPod("", a0, nil), false))
	assert.Empty(t, see(bankPod("", a0, nil), false), "reported once")
	assert.Empty(t, see(bankPod("", a0, nil), true), "the pod's deletion after its exit is not a second exit")

	// Killed in place: the kubelet starts a new container in the same pod.
	p = &Platform{seen: map[string]string{}, exited: map[string]string{}}
	assert.Empty(t, see(bankPod("c://a", nil, nil), false))
	a137 := &corev1.ContainerStateTerminated{ContainerID: "c://a", ExitCode: 137, Reason: "Error"}
	assert.Equal(t, "exit status 137 (Error)", see(bankPod("c://b", nil, a137), false))
	assert.Empty(t, see(bankPod("c://b", nil, a137), false), "reported once")

	// A restart from before the harness looked is not reported.
	p = &Platform{seen: map[string]string{}, exited: map[string]string{}}
	assert.Empty(t, see(bankPod("c://b", nil, a137), false))

	// A pod removed while its container was running (a forced delete).
	assert.Equal(t, "pod deleted", see(bankPod("c://b", nil, a137), true))
}
