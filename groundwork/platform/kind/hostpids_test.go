package kind

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestParentPIDOfAProcess: parentPID reads a process's parent from /proc,
// also when its command name holds spaces and parentheses (as a node's
// shim is found from the node's first process).
func TestParentPIDOfAProcess(t *testing.T) {
	require.Equal(t, os.Getppid(), parentPID(os.Getpid()))

	// A child whose command name is "a) b (c".
	dir := t.TempDir()
	name := dir + "/a) b (c"
	self, err := os.Executable()
	require.NoError(t, err)
	require.NoError(t, os.Symlink(self, name))
	cmd := exec.Command(name, "-test.run=^$")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	require.Equal(t, os.Getpid(), parentPID(cmd.Process.Pid))
	require.Zero(t, parentPID(1<<30), "no such process")
}
