package kube

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/deploy"
)

const kubeconfig = `apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: x}
contexts:
- name: prod
  context: {cluster: c, user: u}
- name: kind-faultline
  context: {cluster: c, user: u}
`

func writeKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(p, []byte(kubeconfig), 0o600))
	return p
}

// TestContextGuard: only an allowed context is used, whether named or the
// kubeconfig's current one; the refusal says how to allow it.
func TestContextGuard(t *testing.T) {
	kc := writeKubeconfig(t)
	_, err := CheckContext(kc, "", nil)
	require.ErrorContains(t, err, `refusing kubeconfig context "prod"`)
	require.ErrorContains(t, err, AllowEnv+"=prod")
	_, err = CheckContext(kc, "kind-faultline", []string{"prod"})
	require.Error(t, err, "allowing one context allows no other")
	name, err := CheckContext(kc, "kind-faultline", []string{"kind-faultline"})
	require.NoError(t, err)
	assert.Equal(t, "kind-faultline", name)
	_, err = CheckContext(kc, "nowhere", []string{"nowhere"})
	require.ErrorContains(t, err, `no context "nowhere"`)

	t.Setenv(AllowEnv, " prod , other")
	assert.Equal(t, []string{"prod", "other", "kind-x"}, Allowed("kind-x"))
	name, err = CheckContext(kc, "", Allowed())
	require.NoError(t, err)
	assert.Equal(t, "prod", name)
}

// TestNewRefusesBeforeConnecting: a context not allowed is refused before
// any connection (the server in the kubeconfig does not exist).
func TestNewRefusesBeforeConnecting(t *testing.T) {
	_, err := New(Options{Kubeconfig: writeKubeconfig(t), RunDir: t.TempDir(), Journal: nil, Run: "r", Image: "i"})
	require.Error(t, err)
}

// TestManifestsDecodeForApply: the rendered manifests split into the
// objects apply sends, each with a kind and a name.
func TestManifestsDecodeForApply(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, deploy.Write(&b, deploy.Options{Namespace: "ns", Run: "r"}))
	objs, err := decode(b.Bytes())
	require.NoError(t, err)
	require.Greater(t, len(objs), 30)
	assert.Equal(t, "Namespace", objs[0].GetKind(), "the namespace first")
	for _, o := range objs[1:] {
		assert.NotEmpty(t, o.GetKind())
		assert.NotEmpty(t, o.GetName())
		assert.Equal(t, "ns", o.GetNamespace(), "%s %s", o.GetKind(), o.GetName())
	}
}
