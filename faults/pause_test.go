package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/harness/journal"
	"github.com/faultline/faultline/harness/platform"
)

// fakePlatform runs one instance, svc-0, as a `sleep 60` child and records
// every signal, which it sends through the child's process handle.
type fakePlatform struct {
	cmd *exec.Cmd

	mu   sync.Mutex
	sent []string
}

func newFake(t *testing.T) *fakePlatform {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	err := cmd.Start()
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	require.NoError(t, err)
	return &fakePlatform{cmd: cmd}
}

func (f *fakePlatform) Start(context.Context) error { return nil }
func (f *fakePlatform) Stop(context.Context) error  { return nil }
func (f *fakePlatform) Instances(string) []platform.Instance {
	return []platform.Instance{{Name: "svc-0", Service: "svc"}}
}
func (f *fakePlatform) Ingress(string) []string             { return nil }
func (f *fakePlatform) Events() <-chan platform.Event       { return nil }
func (f *fakePlatform) Name() string                        { return "fake" }
func (f *fakePlatform) PID(string) (int, bool)              { return f.cmd.Process.Pid, true }
func (f *fakePlatform) Binary() string                      { exe, _ := filepath.EvalSymlinks(f.cmd.Path); return exe }
func (f *fakePlatform) Signal(string, syscall.Signal) error { panic("faults signal an exact process") }

func (f *fakePlatform) SignalProcess(instance string, pid int, sig syscall.Signal) error {
	f.mu.Lock()
	f.sent = append(f.sent, fmt.Sprintf("%s %d %v", instance, pid, sig))
	f.mu.Unlock()
	if pid != f.cmd.Process.Pid {
		return platform.ErrNotCurrent
	}
	return f.cmd.Process.Signal(sig)
}

// TestPauseSignalsTheJournaledProcess: Pause journals the process with its
// start time before stopping it, and both stops and resumes exactly that
// process through the platform's handle.
func TestPauseSignalsTheJournaledProcess(t *testing.T) {
	fake := newFake(t)
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal"), "run")
	require.NoError(t, err)
	env := &faults.Env{Platform: fake, Journal: j, Rand: rand.New(rand.NewPCG(1, 2)), ID: "pause-1"}
	p := &faults.Pause{Target: faults.Instance("svc-0")}
	t.Cleanup(func() { _ = p.Recover(context.Background(), env) })

	require.NoError(t, p.Inject(context.Background(), env))
	active, err := j.Active()
	require.NoError(t, err)
	require.Len(t, active, 1)
	id, err := journal.Identify(fake.cmd.Process.Pid)
	require.NoError(t, err)
	assert.Equal(t, []journal.Proc{id}, active[0].Procs)
	ev, err := p.Verify(context.Background(), env)
	require.NoError(t, err)
	assert.Contains(t, ev, "state T")

	require.NoError(t, p.Recover(context.Background(), env))
	pid := fake.cmd.Process.Pid
	assert.Equal(t, []string{fmt.Sprintf("svc-0 %d stopped (signal)", pid), fmt.Sprintf("svc-0 %d continued", pid)}, fake.sent)
	active, err = j.Active()
	require.NoError(t, err)
	assert.Empty(t, active)
}

// TestProcessFaultsNeedHandles: on a platform that can give PIDs but not
// signal through process handles, process faults refuse to run.
func TestProcessFaultsNeedHandles(t *testing.T) {
	var plat struct {
		platform.Platform
		platform.Processes
	}
	fake := newFake(t)
	plat.Platform, plat.Processes = fake, fake
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal"), "run")
	require.NoError(t, err)
	env := &faults.Env{Platform: plat, Journal: j, Rand: rand.New(rand.NewPCG(1, 2)), ID: "kill-1"}
	for _, f := range []faults.Fault{&faults.Pause{Target: faults.Instance("svc-0")}, &faults.Kill{Target: faults.Instance("svc-0")}} {
		assert.ErrorIs(t, f.Inject(context.Background(), env), faults.ErrUnsupported, f.Name())
	}
	assert.Empty(t, fake.sent)
	_, err = os.Stat("/proc/" + fmt.Sprint(fake.cmd.Process.Pid))
	assert.NoError(t, err, "still running")
}
