package kind

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestCPUCgroupOfAProcess: the squeeze writes to the cpu controller's
// folder of the container's process, on cgroup v1 and v2.
func TestCPUCgroupOfAProcess(t *testing.T) {
	for in, want := range map[string]string{
		"12:pids:/kubelet/kubepods/pod1/abc\n4:cpu,cpuacct:/kubelet/kubepods/burstable/pod1/abc\n1:name=systemd:/x\n": "/sys/fs/cgroup/cpu,cpuacct/kubelet/kubepods/burstable/pod1/abc",
		"3:cpuacct,cpu:/a/b\n":         "/sys/fs/cgroup/cpuacct,cpu/a/b",
		"0::/kubepods.slice/x.scope\n": "/sys/fs/cgroup/kubepods.slice/x.scope",
	} {
		got, err := cpuCgroupOf(in)
		assert.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := cpuCgroupOf("5:memory:/a\n")
	assert.Error(t, err, "no cpu controller")
}
