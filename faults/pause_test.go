package faults_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// fakePlatform has one instance, svc-0, in its incarnation "one". It
// records what faults ask of it and keeps the instance's state as a real
// platform would: a stopped incarnation stays stopped until continued, a
// killed one is replaced by incarnation "two".
type fakePlatform struct {
	mu    sync.Mutex
	cur   platform.Incarnation
	state platform.State
	asked []string
}

func newFake() *fakePlatform {
	return &fakePlatform{cur: platform.Incarnation{ID: "one"}, state: platform.Running}
}

func (f *fakePlatform) Start(context.Context) error { return nil }
func (f *fakePlatform) Stop(context.Context) error  { return nil }
func (f *fakePlatform) Instances(string) []platform.Instance {
	return []platform.Instance{{Name: "svc-0", Service: "svc"}}
}
func (f *fakePlatform) Ingress(string) []string       { return nil }
func (f *fakePlatform) Events() <-chan platform.Event { return nil }
func (f *fakePlatform) Name() string                  { return "fake" }

func (f *fakePlatform) note(format string, args ...any) {
	f.asked = append(f.asked, fmt.Sprintf(format, args...))
}

func (f *fakePlatform) Incarnation(string) (platform.Incarnation, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cur, true
}

func (f *fakePlatform) Signal(instance string, inc platform.Incarnation, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("signal %s %s %v", instance, inc.ID, sig)
	if inc != f.cur {
		return platform.ErrNotCurrent
	}
	if sig == syscall.SIGKILL {
		f.cur = platform.Incarnation{ID: "two"}
	}
	return nil
}

func (f *fakePlatform) State(_ string, inc platform.Incarnation) (platform.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if inc != f.cur {
		return platform.Gone, nil
	}
	return f.state, nil
}

func (f *fakePlatform) Freeze(_ context.Context, id string, targets []platform.Target) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range targets {
		f.note("freeze %s %s %s", id, t.Instance, t.Incarnation.ID)
	}
	f.state = platform.Stopped
	return nil
}

func (f *fakePlatform) Thaw(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.note("thaw %s", id)
	f.state = platform.Running
	return nil
}

func newEnv(t *testing.T, p platform.Platform, id string) *faults.Env {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal"), "run")
	require.NoError(t, err)
	return &faults.Env{Platform: p, Journal: j, Rand: rand.New(rand.NewPCG(1, 2)), ID: id}
}

// TestPauseActsOnTheChosenIncarnation: Pause freezes the incarnation it
// chose, verifies it stopped through the platform, and thaws the same
// entry on Recover.
func TestPauseActsOnTheChosenIncarnation(t *testing.T) {
	fake := newFake()
	env := newEnv(t, fake, "pause-1")
	p := &faults.Pause{Target: faults.Instance("svc-0")}
	require.NoError(t, p.Inject(context.Background(), env))
	ev, err := p.Verify(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, "svc-0 one stopped", ev)
	require.NoError(t, p.Recover(context.Background(), env))
	assert.Equal(t, []string{"freeze pause-1 svc-0 one", "thaw pause-1"}, fake.asked)
}

// TestKillVerifiesTheOldIncarnationIsGone: Kill signals the incarnation it
// chose and its evidence is that incarnation gone, whatever replaced it.
func TestKillVerifiesTheOldIncarnationIsGone(t *testing.T) {
	fake := newFake()
	env := newEnv(t, fake, "kill-1")
	k := &faults.Kill{Target: faults.Instance("svc-0")}
	require.NoError(t, k.Inject(context.Background(), env))
	ev, err := k.Verify(context.Background(), env)
	require.NoError(t, err)
	assert.Equal(t, "svc-0 gone (killed)", ev)
	assert.Equal(t, []string{"signal svc-0 one killed"}, fake.asked)
}

// TestFaultsNeedTheirCapabilities: on a platform without the capability a
// fault acts through, Inject fails with ErrUnsupported (the runner's
// unknown) and nothing is done.
func TestFaultsNeedTheirCapabilities(t *testing.T) {
	var bare struct{ platform.Platform }
	bare.Platform = newFake()
	for _, f := range []faults.Fault{
		&faults.Pause{Target: faults.Instance("svc-0")},
		&faults.Kill{Target: faults.Instance("svc-0")},
		&faults.CPUPressure{Target: faults.Instance("svc-0")},
		faults.Latency("svc", "", time.Millisecond, 0),
		&faults.HTTPFault{Target: faults.Instance("svc-0"), Route: "/", Status: 500},
		faults.NodeLost(faults.Instance("svc-0")),
		&faults.PodDelete{Target: faults.Instance("svc-0")},
	} {
		env := newEnv(t, bare, "f-1")
		assert.ErrorIs(t, f.Inject(context.Background(), env), faults.ErrUnsupported, f.Name())
	}
	assert.Empty(t, bare.Platform.(*fakePlatform).asked)
}
