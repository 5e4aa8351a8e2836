package host

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeProc writes a /proc with the machine's ticks and processes given as
// pid -> {ppid, utime+stime}.
func fakeProc(t *testing.T, dir string, user, idle, steal uint64, procs map[int][2]uint64) {
	t.Helper()
	// Interrupt and softirq time (fields 6 and 7) grow too: never "others".
	stat := fmt.Sprintf("cpu  %d 0 0 %d 0 %d %d %d 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\n", user, idle, user/10, user/10, steal)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o600))
	for pid, p := range procs {
		d := filepath.Join(dir, fmt.Sprint(pid))
		require.NoError(t, os.MkdirAll(d, 0o700))
		// A command name with spaces and a ')' must not shift the fields.
		line := fmt.Sprintf("%d (odd) name) S %d 0 0 0 -1 0 0 0 0 0 %d 0 0 0 20 0 1 0\n", pid, p[0], p[1])
		require.NoError(t, os.WriteFile(filepath.Join(d, "stat"), []byte(line), 0o600))
	}
}

func TestSamplerSplitsOursFromOthers(t *testing.T) {
	dir := t.TempDir()
	var now time.Duration
	s := &Sampler{proc: dir, roots: func() []int { return []int{10} }, now: func() time.Duration { return now }}
	// 10 is the run, 11 its child, 12 its grandchild; 20 is someone else;
	// 2 is kthreadd and 30 a kernel thread (writeback, say).
	fakeProc(t, dir, 1000, 1000, 0, map[int][2]uint64{10: {1, 100}, 11: {10, 50}, 12: {11, 0}, 20: {1, 500}, 2: {0, 0}, 30: {2, 40}})
	require.NoError(t, s.take(false))

	// 100 busy ticks (and 20 of irq and softirq) of 220: the run used 30
	// (10: +20, 12: +10), the kernel thread 10, others 60.
	now = time.Second
	fakeProc(t, dir, 1100, 1100, 0, map[int][2]uint64{10: {1, 120}, 11: {10, 50}, 12: {11, 10}, 20: {1, 560}, 2: {0, 0}, 30: {2, 50}})
	require.NoError(t, s.take(true))
	require.Equal(t, []Sample{{At: time.Second, Others: 60, Total: 220, Top: []Use{{Name: "odd) name", Ticks: 60}}}}, s.Samples())

	// The child exited and a new one started with 5 ticks: ours is 5 + 0.
	now = 2 * time.Second
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "11")))
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "12")))
	fakeProc(t, dir, 1110, 1190, 4, map[int][2]uint64{10: {1, 120}, 13: {10, 5}, 20: {1, 561}, 2: {0, 0}, 30: {2, 50}})
	require.NoError(t, s.take(true))
	require.Equal(t, Sample{At: 2 * time.Second, Others: 9, Total: 106, Steal: 4, Top: []Use{{Name: "odd) name", Ticks: 1}}}, s.Samples()[1])
	require.InDelta(t, 4.0/106, Stolen(s.Samples(), time.Second, 2*time.Second), 1e-9)

	share, ok := Busy(s.Samples(), 0, 2*time.Second)
	require.True(t, ok)
	require.InDelta(t, 69.0/326, share, 1e-9)
	share, ok = Busy(s.Samples(), time.Second, 2*time.Second)
	require.True(t, ok)
	require.InDelta(t, 9.0/106, share, 1e-9)
	_, ok = Busy(s.Samples(), 3*time.Second, 4*time.Second)
	require.False(t, ok, "no samples in the window")
	require.Equal(t, []Share{{Name: "odd) name", Share: 61.0 / 326}}, Who(s.Samples(), 0, 2*time.Second))
}

func TestTopNamesTheBusiestOutsideProcesses(t *testing.T) {
	now := map[int]named{1: {"yes", 50}, 2: {"yes", 30}, 3: {"go", 40}, 4: {"sshd", 1}, 5: {"vim", 2}, 6: {"idle", 7}}
	last := map[int]uint64{1: 10, 2: 0, 3: 0, 4: 0, 6: 7}
	// yes: 40+30, go: 40, vim: 2 (new), sshd: 1; idle did nothing.
	require.Equal(t, []Use{{"yes", 70}, {"go", 40}, {"vim", 2}}, top(now, last))
}

func TestMachineCPURejectsGarbage(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "stat"), []byte("intr 1 2 3\n"), 0o600))
	_, err := start(dir, func() time.Duration { return 0 }, time.Second, func() []int { return nil })
	require.ErrorContains(t, err, "unexpected first line")
}

// TestSamplerSeesARealBurner runs a real CPU burner beside two samplers on
// the real /proc: one counts the burner as the run's own, one does not.
// Whatever else the machine does shows in both; the burner's second of CPU
// shows only in the second's "others".
func TestSamplerSeesARealBurner(t *testing.T) {
	if _, err := os.Stat("/proc/stat"); err != nil {
		t.Skip("no /proc here:", err)
	}
	burner := exec.Command("sh", "-c", "while :; do :; done")
	require.NoError(t, burner.Start())
	t.Cleanup(func() { _ = burner.Process.Kill(); _ = burner.Wait() })
	start := time.Now()
	now := func() time.Duration { return time.Since(start) }
	mine, err := Start(now, 100*time.Millisecond, func() []int { return []int{burner.Process.Pid} })
	require.NoError(t, err)
	theirs, err := Start(now, 100*time.Millisecond, func() []int { return nil })
	require.NoError(t, err)
	time.Sleep(1500 * time.Millisecond)
	a, errA := mine.Stop()
	b, errB := theirs.Stop()
	require.NoError(t, errA)
	require.NoError(t, errB)
	var othersMine, othersTheirs, total uint64
	for _, s := range a {
		othersMine += s.Others
		total += s.Total
	}
	for _, s := range b {
		othersTheirs += s.Others
	}
	// The burner had 1.5 s of one CPU, most of it even on a busy machine;
	// in ticks of 1/100 s, at least 0.5 s of it must move to "others".
	require.Greater(t, othersTheirs, othersMine+50,
		"burner not seen: others %d ticks when it is ours, %d when it is not, of %d", othersMine, othersTheirs, total)
	who := Who(b, 0, now())
	require.NotEmpty(t, who)
	require.Equal(t, "sh", who[0].Name, "the burner is the busiest outside process: %v", who)
}
