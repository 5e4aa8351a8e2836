package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPatchDropsTheCapabilityOnly(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	spec := `{"ociVersion":"1.0.2","process":{"args":["/sbin/init"],"capabilities":{
		"bounding":["CAP_CHOWN","CAP_SYS_RESOURCE","CAP_NET_ADMIN"],"effective":["CAP_SYS_RESOURCE"],"ambient":[]}},"root":{"path":"rootfs"}}`
	require.NoError(t, os.WriteFile(cfg, []byte(spec), 0o600))
	require.NoError(t, patch(cfg, true))
	var doc struct {
		Process struct {
			Args         []string
			Capabilities map[string][]string
		}
		Root struct{ Path string }
	}
	b, _ := os.ReadFile(cfg)
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, []string{"CAP_CHOWN", "CAP_NET_ADMIN"}, doc.Process.Capabilities["bounding"])
	require.Empty(t, doc.Process.Capabilities["effective"])
	require.Equal(t, []string{"/sbin/init"}, doc.Process.Args)
	require.Equal(t, "rootfs", doc.Root.Path)
	st, _ := os.Stat(cfg)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	proc := filepath.Join(dir, "process.json")
	require.NoError(t, os.WriteFile(proc, []byte(`{"args":["sh"],"capabilities":{"permitted":["CAP_SYS_RESOURCE","CAP_KILL"]}}`), 0o600))
	require.NoError(t, patch(proc, false))
	b, _ = os.ReadFile(proc)
	require.JSONEq(t, `{"args":["sh"],"capabilities":{"permitted":["CAP_KILL"]}}`, string(b))
}

func TestFlagValue(t *testing.T) {
	args := []string{"runc", "--root", "/r", "create", "--bundle", "/b", "--pid-file=/p", "id"}
	require.Equal(t, "/b", flagValue(args, "bundle", "b"))
	require.Equal(t, "/p", flagValue(args, "pid-file", "x"))
	require.Equal(t, "/q", flagValue([]string{"runc", "exec", "-p=/q"}, "process", "p"))
	require.Equal(t, "", flagValue([]string{"runc", "start", "id"}, "bundle", "b"))
}
