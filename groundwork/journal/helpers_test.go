package journal_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
)

func itoa(i int) string { return strconv.Itoa(i) }

// writeRaw writes e as another process would have (its own Owner).
func writeRaw(t *testing.T, dir string, e journal.Entry) {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, e.Run+"--"+e.ID+".json"), b, 0o600))
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

// child is a `sleep 60` started in its own process group, killed at cleanup.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

func startSleep(t *testing.T) *child {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err := cmd.Start()
	t.Cleanup(func() {
		if cmd.Process != nil {
			_ = cmd.Process.Kill()
		}
	})
	require.NoError(t, err)
	c := &child{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(c.exited) }()
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// proc returns the child's identity and binary, as the harness journals them.
func (c *child) proc(t *testing.T) (journal.Proc, string) {
	t.Helper()
	p, err := journal.Identify(c.pid())
	require.NoError(t, err)
	exe, err := os.Readlink("/proc/" + itoa(c.pid()) + "/exe")
	require.NoError(t, err)
	return p, exe
}

func (c *child) running() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

func (c *child) waitExit(t *testing.T) {
	t.Helper()
	select {
	case <-c.exited:
	case <-time.After(5 * time.Second):
		t.Fatalf("pid %d is still running", c.pid())
	}
}

// privateDir returns a fresh journal directory, as Open creates it.
func privateDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "journal")
	_, err := journal.Open(dir, "setup")
	require.NoError(t, err)
	return dir
}
