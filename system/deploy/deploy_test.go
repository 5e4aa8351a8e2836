package deploy_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/faultline/faultline/system/deploy"
	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/topology"
)

// TestManifestsAreCurrent fails when bank.yaml is not what the topology
// renders; regenerate with: go run ./system/cmd/bank manifests > system/deploy/bank.yaml
func TestManifestsAreCurrent(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, deploy.Write(&b, deploy.Options{}))
	committed, err := os.ReadFile("bank.yaml")
	require.NoError(t, err)
	assert.Equal(t, string(committed), b.String(), "bank.yaml is stale: go run ./system/cmd/bank manifests > system/deploy/bank.yaml")
}

// object is one parsed manifest, read through paths of keys.
type object map[string]any

func (o object) get(path ...string) any {
	var cur any = map[string]any(o)
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func (o object) str(path ...string) string { s, _ := o.get(path...).(string); return s }

func (o object) list(path ...string) []object {
	l, _ := o.get(path...).([]any)
	out := make([]object, 0, len(l))
	for _, x := range l {
		if m, ok := x.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func render(t *testing.T, o deploy.Options) map[string]object {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, deploy.Write(&b, o))
	out := map[string]object{}
	for _, doc := range strings.Split(b.String(), "\n---\n") {
		var obj object
		require.NoError(t, yaml.Unmarshal([]byte(doc), &obj), doc)
		key := obj.str("kind") + "/" + obj.str("metadata", "name")
		require.NotContains(t, out, key, "rendered twice")
		out[key] = obj
	}
	return out
}

// TestEveryInstanceHasItsPodAndLinks: a StatefulSet per service with its
// replicas (so instance names match local), probes, a pre-stop delay
// inside the grace period, the run label, and a sidecar with one proxy per
// callee instance and store node, named as on local.
func TestEveryInstanceHasItsPodAndLinks(t *testing.T) {
	objs := render(t, deploy.Options{Namespace: "ns1", Run: "run-7", StorageClass: "faultline-local"})
	require.Contains(t, objs, "Namespace/ns1")
	for _, s := range topology.Services {
		sts, ok := objs["StatefulSet/"+s.Name]
		require.True(t, ok, s.Name)
		assert.EqualValues(t, s.Replicas, sts.get("spec", "replicas"), s.Name)
		assert.Equal(t, s.Name, sts.str("spec", "serviceName"))
		assert.Equal(t, "run-7", sts.str("spec", "template", "metadata", "labels", "faultline.dev/run"))
		assert.Equal(t, fmt.Sprint(s.Tier), sts.str("spec", "template", "metadata", "labels", "faultline.dev/tier"))
		pod := object(sts.get("spec", "template", "spec").(map[string]any))
		bank := pod.list("containers")[0]
		for _, probe := range []string{"startupProbe", "livenessProbe", "readinessProbe"} {
			assert.NotNil(t, bank.get(probe), "%s: %s", s.Name, probe)
		}
		assert.Equal(t, "/readyz", bank.str("readinessProbe", "httpGet", "path"))
		assert.NotNil(t, bank.get("resources", "requests", "cpu"))
		assert.NotNil(t, bank.get("resources", "limits", "memory"))
		preStop, _ := bank.get("lifecycle", "preStop", "sleep", "seconds").(float64)
		grace, _ := pod.get("terminationGracePeriodSeconds").(float64)
		assert.Greater(t, grace, preStop+5, "%s: grace covers the pre-stop delay and a drain", s.Name)
		assert.NotEmpty(t, pod.list("topologySpreadConstraints"))
		assert.EqualValues(t, deploy.MinReadySeconds, sts.get("spec", "minReadySeconds"), "%s: a rollout waits out its callers' ejections", s.Name)

		sidecars := pod.list("initContainers")
		require.Len(t, sidecars, 1, s.Name)
		assert.Equal(t, "Always", sidecars[0].str("restartPolicy"), "a native sidecar")
		var links string
		for _, e := range sidecars[0].list("env") {
			if e.str("name") == "BANK_SIDECAR_LINKS" {
				links = e.str("value")
			}
		}
		want := deploy.Links(s, "ns1")
		got := strings.Split(links, ";")
		require.Len(t, got, len(want), s.Name)
		for i, l := range want {
			assert.Equal(t, fmt.Sprintf("$(POD_NAME)->%s=127.0.0.1:%d=%s", l.Callee, l.Port, l.Upstream), got[i])
			assert.Contains(t, l.Upstream, ".ns1.svc.cluster.local.:")
		}
		for _, c := range []object{bank, sidecars[0]} {
			var procs string
			for _, e := range c.list("env") {
				if e.str("name") == "GOMAXPROCS" {
					procs = e.str("value")
				}
			}
			assert.Equal(t, fmt.Sprint(deploy.ServiceGoMaxProcs), procs, "%s: %s", s.Name, c.str("name"))
		}
		args := fmt.Sprint(bank.get("args"))
		assert.Contains(t, args, "--admin-listen 127.0.0.1:", "the admin hook only on the pod's loopback")
		if s.Replicas >= 2 {
			pdb, ok := objs["PodDisruptionBudget/"+s.Name]
			require.True(t, ok, s.Name)
			assert.EqualValues(t, 1, pdb.get("spec", "maxUnavailable"))
		} else {
			assert.NotContains(t, objs, "PodDisruptionBudget/"+s.Name)
		}
	}
	store := objs["StatefulSet/store"]
	assert.EqualValues(t, topology.StoreNodes, store.get("spec", "replicas"))
	storePod := object(store.get("spec", "template", "spec").(map[string]any))
	spread := storePod.list("topologySpreadConstraints")
	require.Len(t, spread, 1)
	assert.Equal(t, "DoNotSchedule", spread[0].str("whenUnsatisfiable"), "store nodes never share a machine that has a free neighbour")
	assert.Equal(t, "node-role.kubernetes.io/control-plane", storePod.list("tolerations")[0].str("key"))
	claims := store.list("spec", "volumeClaimTemplates")
	require.Len(t, claims, 1)
	assert.Equal(t, "faultline-local", claims[0].str("spec", "storageClassName"))
}

// TestOnlyEntryPointsAreExposed: no Service reaches the admin hook or a
// sidecar's API, and only edge and card-api have NodePorts, on the ports
// kind-config.yaml maps.
func TestOnlyEntryPointsAreExposed(t *testing.T) {
	objs := render(t, deploy.Options{})
	nodePorts := map[string]float64{}
	for key, o := range objs {
		if o.str("kind") != "Service" {
			continue
		}
		for _, p := range o.list("spec", "ports") {
			for _, f := range []string{"port", "targetPort"} {
				if v, ok := p.get(f).(float64); ok {
					assert.NotContains(t, []float64{deploy.AdminPort, 8474}, v, "%s exposes %s %v", key, f, v)
				}
			}
			if np, ok := p.get("nodePort").(float64); ok {
				nodePorts[o.str("spec", "selector", "app.kubernetes.io/name")] = np
			}
		}
	}
	assert.Equal(t, map[string]float64{"edge": 30080, "card-api": 30081}, nodePorts)
	config, err := os.ReadFile("../../kind-config.yaml")
	require.NoError(t, err)
	for _, p := range []string{"30080", "30081"} {
		assert.Contains(t, string(config), "containerPort: "+p)
	}
}

// TestWithoutStorageClassTheStoreUsesEmptyDir: a cluster without volumes
// still runs the store, on emptyDirs.
func TestWithoutStorageClassTheStoreUsesEmptyDir(t *testing.T) {
	store := render(t, deploy.Options{})["StatefulSet/store"]
	assert.Empty(t, store.list("spec", "volumeClaimTemplates"))
	vols := object(store.get("spec", "template", "spec").(map[string]any)).list("volumes")
	require.Len(t, vols, 1)
	assert.NotNil(t, vols[0].get("emptyDir"))
}

// With the run's authority, every bank container gets its own certificate
// from the Secret bank-identity (the PEM intact through YAML) and its
// probes speak HTTPS; without, neither.
func TestWithAnIdentityEveryServiceGetsItsCertificate(t *testing.T) {
	ca, err := identity.NewAuthority()
	require.NoError(t, err)
	objs := render(t, deploy.Options{AdminToken: "t", Identity: ca.Issue})
	secret := objs["Secret/bank-identity"]
	require.NotNil(t, secret)
	for _, s := range topology.Services {
		creds := &identity.Credentials{CA: []byte(secret.str("stringData", "ca")),
			Cert: []byte(secret.str("stringData", s.Name+".crt")), Key: []byte(secret.str("stringData", s.Name+".key"))}
		name, err := creds.Name()
		require.NoError(t, err, s.Name)
		assert.Equal(t, s.Name, name)

		pod := object(objs["StatefulSet/"+s.Name].get("spec", "template", "spec").(map[string]any))
		bank := pod.list("containers")[0]
		refs := map[string]string{}
		for _, e := range bank.list("env") {
			refs[e.str("name")] = e.str("valueFrom", "secretKeyRef", "name") + "/" + e.str("valueFrom", "secretKeyRef", "key")
		}
		assert.Equal(t, "bank-identity/"+s.Name+".crt", refs[identity.EnvCert], s.Name)
		assert.Equal(t, "bank-identity/"+s.Name+".key", refs[identity.EnvKey], s.Name)
		assert.Equal(t, "bank-identity/ca", refs[identity.EnvCA], s.Name)
		assert.Equal(t, "bank-identity/"+s.Name+".ticket", refs[identity.EnvTicket], s.Name)
		assert.Len(t, secret.str("stringData", s.Name+".ticket"), 64, "a 32-byte ticket key in hex")
		assert.Equal(t, "HTTPS", bank.str("readinessProbe", "httpGet", "scheme"), s.Name)
	}

	plain := render(t, deploy.Options{})
	assert.NotContains(t, plain, "Secret/bank-identity")
	bank := object(plain["StatefulSet/cards"].get("spec", "template", "spec").(map[string]any)).list("containers")[0]
	assert.Empty(t, bank.str("readinessProbe", "httpGet", "scheme"))
}
