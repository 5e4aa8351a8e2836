package local

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// workEnv makes this test binary a child that works instead of testing:
// "alloc" allocates and touches a MiB every 20 ms and keeps it, "spin"
// keeps a core busy.
const workEnv = "FAULTLINE_TEST_WORK"

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "hog" { // as `bank hog`, for the fill
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		var kept [][]byte
		for range 1024 {
			b := make([]byte, 1<<20)
			for i := range len(b) / 4096 {
				b[i*4096] = 1
			}
			kept = append(kept, b)
		}
		select {}
	}
	switch os.Getenv(workEnv) {
	case "hold":
		b := make([]byte, 64<<20)
		for i := range len(b) / 4096 {
			b[i*4096] = 1
		}
		select {}
	case "alloc":
		var kept [][]byte
		for {
			b := make([]byte, 1<<20)
			for i := range len(b) / 4096 {
				b[i*4096] = 1
			}
			kept = append(kept, b)
			time.Sleep(20 * time.Millisecond)
		}
	case "spin":
		for n := 0; ; n++ {
		}
	}
	os.Exit(m.Run())
}

// launchWorker supervises this test binary doing work as instance
// worker-0, and returns it once it runs.
func launchWorker(t *testing.T, work string) (*Platform, string, platform.Target) {
	t.Helper()
	if _, err := cgroupOf(os.Getpid(), "memory"); err != nil {
		t.Skip(err)
	}
	self, err := os.Executable()
	require.NoError(t, err)
	p, state := newTestPlatform(t, self)
	t.Setenv(workEnv, work) // inherited by the supervised process
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { _ = p.Stop(context.Background()); cancel() })
	p.launch(ctx, &proc{Instance: platform.Instance{Name: "worker-0", Service: "worker"}, readyURL: "http://127.0.0.1:1/"})
	var inc platform.Incarnation
	require.Eventually(t, func() bool { inc, _ = p.Incarnation("worker-0"); return inc.PID > 0 }, 5*time.Second, 10*time.Millisecond)
	return p, state, platform.Target{Instance: "worker-0", Incarnation: inc}
}

// TestOOMKillTakesTheInstanceAndItsRestarts: under a memory limit of a few
// pages, the kernel's OOM killer kills an instance that allocates, and
// kills it again once it has been started again (a restarted container
// keeps its limit); undone, the limit's groups are gone and the instance
// runs.
func TestOOMKillTakesTheInstanceAndItsRestarts(t *testing.T) {
	p, state, target := launchWorker(t, "alloc")
	l, err := p.Limit(context.Background(), "limit-1", []platform.Target{target}, platform.Limit{Memory: 64 << 10})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Undo(context.Background()) })
	entries, err := journal.Read(state)
	require.NoError(t, err)
	var groups []string
	for _, e := range entries {
		if e.ID == "limit-1" {
			groups = e.Cgroups
		}
	}
	require.Len(t, groups, 1, "the group is journaled")
	assert.True(t, journal.IsOurCgroup(groups[0]), "%s", groups[0])

	require.Eventually(t, func() bool { e, err := l.Effect(); return err == nil && e.OOMKills >= 2 }, 20*time.Second, 50*time.Millisecond,
		"the instance and its next incarnation are OOM-killed")
	require.Eventually(t, func() bool { inc, ok := p.Incarnation("worker-0"); return ok && inc != target.Incarnation }, 5*time.Second, 10*time.Millisecond,
		"started again")
	ev, err := l.Verify(context.Background())
	require.NoError(t, err)
	assert.Contains(t, ev, "OOM kills")

	require.NoError(t, l.Undo(context.Background()))
	_, err = os.Stat(groups[0])
	assert.ErrorIs(t, err, os.ErrNotExist, "the group is removed")
	// An OOM kill already under way as the limit went may still land.
	time.Sleep(500 * time.Millisecond)
	require.Eventually(t, func() bool { n, ok := p.Incarnation("worker-0"); return ok && n.PID > 0 }, 5*time.Second, 10*time.Millisecond)
	inc, _ := p.Incarnation("worker-0")
	time.Sleep(time.Second)
	now, _ := p.Incarnation("worker-0")
	assert.Equal(t, inc, now, "unlimited, the instance is no longer killed")
	left, err := journal.Read(state)
	require.NoError(t, err)
	for _, e := range left {
		assert.NotEqual(t, "limit-1", e.ID)
	}
}

// TestCPULimitThrottles: a busy instance held to 100m of CPU uses about a
// tenth of a core, and the kernel counts the periods it throttled it in.
func TestCPULimitThrottles(t *testing.T) {
	p, _, target := launchWorker(t, "spin")
	l, err := p.Limit(context.Background(), "limit-2", []platform.Target{target}, platform.Limit{CPU: 0.1})
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Undo(context.Background()) })
	before := cpuTicks(t, target.Incarnation.PID)
	time.Sleep(2 * time.Second)
	used := float64(cpuTicks(t, target.Incarnation.PID)-before) / 100 / 2 // clock ticks are 1/100 s
	assert.Less(t, used, 0.2, "cores used under a 100m limit")
	ev, err := l.Verify(context.Background())
	require.NoError(t, err)
	assert.Contains(t, ev, "0.10 cores, throttled in")
	assert.NotContains(t, ev, "throttled in 0 of", "the kernel throttled it")
	e, err := l.Effect()
	require.NoError(t, err)
	assert.Positive(t, e.Throttled)
	assert.GreaterOrEqual(t, e.Periods, e.Throttled)
}

// cpuTicks is the CPU time pid has used, in clock ticks.
func cpuTicks(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return utime + stime
}

// TestLimitRefusesNothingToLimit: a limit of nothing is a mistake.
func TestLimitRefusesNothingToLimit(t *testing.T) {
	p, _ := newTestPlatform(t, "/bin/true")
	_, err := p.Limit(context.Background(), "limit-3", nil, platform.Limit{})
	assert.ErrorContains(t, err, "above zero is needed")
}

// TestOOMKillFillsWhatAnIdleInstanceHolds: an instance that already holds
// the memory it needs allocates nothing more, and a limit alone never
// kills it; with Fill, a stressor in its group fills the limit and the
// kernel OOM-kills the instance at once. The stressor goes afterwards.
func TestOOMKillFillsWhatAnIdleInstanceHolds(t *testing.T) {
	p, state, target := launchWorker(t, "hold")
	time.Sleep(300 * time.Millisecond) // it has taken its 64 MiB
	l, err := p.Limit(context.Background(), "limit-4", []platform.Target{target}, platform.Limit{Memory: 64 << 10})
	require.NoError(t, err)
	time.Sleep(time.Second)
	e, err := l.Effect()
	require.NoError(t, err)
	assert.Zero(t, e.OOMKills, "an idle instance under a limit alone")
	require.NoError(t, l.Undo(context.Background()))

	l, err = p.Limit(context.Background(), "limit-5", []platform.Target{target}, platform.Limit{Memory: 64 << 10, Fill: true})
	if l != nil {
		t.Cleanup(func() { _ = l.Undo(context.Background()) })
	}
	require.NoError(t, err)
	entries, err := journal.Read(state)
	require.NoError(t, err)
	var hogs []int
	for _, en := range entries {
		if en.ID == "limit-5" {
			hogs = en.PIDs
		}
	}
	require.Len(t, hogs, 1, "the stressor is journaled")
	require.Eventually(t, func() bool { e, err := l.Effect(); return err == nil && e.OOMKills >= 1 }, 5*time.Second, 20*time.Millisecond,
		"the instance is OOM-killed")
	require.Eventually(t, func() bool { return !journal.Alive(hogs[0], "") }, 10*time.Second, 50*time.Millisecond, "the stressor is gone")
	st, err := p.State("worker-0", target.Incarnation)
	require.NoError(t, err)
	assert.Equal(t, platform.Gone, st, "the instance it killed was the target")
}
