package scenarios

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform/local"
	"github.com/faultline/faultline/harness"
	"github.com/faultline/faultline/system/faultfs"
)

// TestCrashChild is the run that TestKilledRunLeavesNothing kills: for a
// minute it pauses a card-processing replica, holds a cards replica to a
// CPU limit and a balance replica to a memory limit (control groups), cuts
// store-0 from store-2 (iptables rules, where the host lets the platform
// cut), and, with the fault filesystem on, slows a store node's disk (a
// mount served by the run itself). It only runs when asked to.
func TestCrashChild(t *testing.T) {
	if os.Getenv("FAULTLINE_CRASH_CHILD") == "" {
		t.Skip("only runs as the child of TestKilledRunLeavesNothing")
	}
	harness.Run(t, harness.Scenario{
		Runbook: "Pause a card-processing replica, limit a cards replica's CPU and a balance replica's memory, cut two store nodes apart, and slow a store disk, for a minute (to be killed midway).",
		Steady:  time.Second,
		Faults:  crashChildFaults(),
	})
}

// crashChildFaults are the faults TestCrashChild injects: one of each kind
// a dead run must not leave behind.
func crashChildFaults() []harness.Step {
	steps := []harness.Step{
		{At: 0, For: time.Minute, Fault: &faults.Pause{Target: faults.One("card-processing")}},
		{At: 0, For: time.Minute, Fault: &faults.CPULimit{Target: faults.One("cards"), Cores: 0.5}},
		{At: 0, For: time.Minute, Fault: &faults.MemoryLimit{Target: faults.One("balance"), Bytes: 512 << 20}},
		{At: 0, For: time.Minute, Fault: faults.BridgeStore(0, 2)},
	}
	if os.Getenv(local.FaultFSEnv) == "on" {
		steps = append(steps, harness.Step{At: 0, For: time.Minute, Fault: faults.SlowDisk(faults.One("store"), time.Millisecond, time.Millisecond)})
	}
	return steps
}

// TestKilledRunLeavesNothing runs `go test` on TestCrashChild, SIGKILLs the
// go command while the fault is injected, then does what the next run does
// first (reap) and checks that nothing the dead run started is running and
// nothing is left in its journal.
func TestKilledRunLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second bank")
	}
	cfg, err := harness.LoadConfig(false)
	require.NoError(t, err)
	if cfg.Platform != local.Name {
		t.Skipf("checks the host processes a killed run leaves, which only the local platform starts; "+
			"on %s a second bank cannot share the cluster's entry points (NodePorts 30080 and 30081)", cfg.Platform)
	}
	state := t.TempDir()
	cmd := exec.Command("go", "test", "-count=1", "-run", "^TestCrashChild$", "-v", ".")
	cmd.Env = append(os.Environ(), "FAULTLINE_CRASH_CHILD=1", "FAULTLINE_STATE="+state, "FAULTLINE_RUNS="+t.TempDir(), "FAULTLINE_CUSTOMERS=20")
	// The dead run's mounts must go too: its store runs on the fault
	// filesystem wherever this host has one.
	if faultfs.Available() == nil {
		cmd.Env = append(cmd.Env, local.FaultFSEnv+"=on")
		t.Setenv(local.FaultFSEnv, "on") // for crashChildFaults, below
	}
	want := len(crashChildFaults())
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = cmd.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	// injected closes when the child has injected its fault; ended gets
	// the child's last lines if its output ends first.
	injected, ended := make(chan struct{}), make(chan []string, 1)
	go func() {
		var last []string
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), ": injected ") || strings.Contains(sc.Text(), " FAILED: ") {
				want--
			}
			if want == 0 {
				close(injected)
				for sc.Scan() {
				}
				return
			}
			last = append(last, sc.Text())
			if len(last) > 20 {
				last = last[1:]
			}
		}
		ended <- last
	}()
	select {
	case <-injected:
	case last := <-ended:
		t.Fatalf("the child run ended before it injected its fault; its last lines:\n%s", strings.Join(last, "\n"))
	case <-time.After(5 * time.Minute):
		t.Fatal("the child run never injected its fault")
	}
	entries, err := journal.Read(state)
	require.NoError(t, err)
	var pids []int
	var groups, mounts, chains []string
	paused, limits := 0, 0
	for _, e := range entries {
		pids = append(pids, e.PIDs...)
		if e.Kind == "pause" {
			paused++
		}
		if e.Kind != journal.KindNetwork {
			limits += len(e.Cgroups)
		}
		if e.Chain != "" {
			chains = append(chains, e.Chain)
		}
		groups = append(groups, e.Cgroups...)
		if e.Mount != "" {
			mounts = append(mounts, e.Mount)
		}
	}
	require.Equal(t, 1, paused, "the pause is journaled before it happens")
	require.Equal(t, 2, limits, "the limits' control groups are journaled before they exist")
	if os.Geteuid() == 0 {
		require.Len(t, chains, 1, "the store's iptables chain is journaled before it exists")
	}
	for _, c := range chains {
		for _, table := range journal.ChainTables {
			require.NoError(t, exec.Command("iptables", "-w", "5", "-t", table, "-n", "-L", c).Run(), "the store's chain %s in %s", c, table)
		}
	}
	for _, g := range groups {
		require.DirExists(t, g)
	}
	if os.Getenv(local.FaultFSEnv) == "on" {
		require.Len(t, mounts, 3, "each store node's disk is journaled")
	}
	require.GreaterOrEqual(t, len(pids), 10, "the child's processes are journaled")

	require.NoError(t, cmd.Process.Kill()) // SIGKILL `go test`
	_ = cmd.Wait()

	// The next run reaps first; then nothing of the dead run may be left.
	require.Eventually(t, func() bool {
		_, err := journal.Reap(state)
		if err != nil {
			return false
		}
		for _, pid := range pids {
			if journal.Alive(pid, "") {
				return false
			}
		}
		left, _ := journal.Read(state)
		return len(left) == 0
	}, 30*time.Second, 200*time.Millisecond, "processes or journal entries of the killed run are left")
	for _, pid := range pids {
		assert.False(t, journal.Alive(pid, ""), "pid %d still running", pid)
	}
	for _, g := range groups {
		assert.NoDirExists(t, g, "control group left")
	}
	for _, c := range chains {
		for _, table := range journal.ChainTables {
			assert.Error(t, exec.Command("iptables", "-w", "5", "-t", table, "-n", "-L", c).Run(), "iptables chain %s left in %s", c, table)
		}
	}
	info, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	for _, m := range mounts {
		assert.NotContains(t, string(info), " "+m+" ", "mount left")
	}
}
