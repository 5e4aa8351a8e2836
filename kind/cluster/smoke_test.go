package cluster_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/kind/cluster"
	"github.com/faultline/faultline/kind/hostsetup"
	"github.com/faultline/faultline/kind/nodeimage"
)

// smokeName is the cluster this test uses: the kind platform's, created
// from kind-config.yaml if it does not exist (and then deleted at the end),
// reused if it does.
const smokeName = cluster.DefaultName

// TestKindClusterFromNothing is the whole of "a kind cluster with no
// registry": it sets the host up, builds (or finds cached) the offline node
// image, creates a cluster of one control plane and two workers from
// kind-config.yaml, and checks what a cluster must do: every node Ready,
// CoreDNS answering, a pod on one worker reaching a pod on the other
// directly and through a Service, a NodePort answering on 127.0.0.1, and
// container traffic to an address outside the machine rejected by the
// host's firewall. Its pods live in the namespace "smoke", deleted at the
// end. A cluster it created is deleted at the end too (it would otherwise
// take CPU from the local suite) unless FAULTLINE_KEEP_CLUSTER=1.
func TestKindClusterFromNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a kind node image (about 35 min cold on 2 cores) and boots a cluster; not in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 75*time.Minute)
	defer cancel()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)

	t0 := time.Now()
	_, err = hostsetup.Ensure(ctx, hostsetup.Options{Repo: root, Out: os.Stderr})
	require.NoError(t, err)
	require.NoError(t, hostsetup.Firewall(ctx), "the firewall rule must be in place before any container exists")
	t.Logf("host set up in %v", time.Since(t0).Round(time.Second))

	t1 := time.Now()
	img, err := nodeimage.Build(ctx, nodeimage.Options{Repo: root, Out: os.Stderr})
	require.NoError(t, err)
	t.Logf("node image %s ready in %v", img.Exact, time.Since(t1).Round(time.Second))

	t2 := time.Now()
	c, err := cluster.Ensure(ctx, cluster.Options{Name: smokeName, Config: filepath.Join(root, "kind-config.yaml"), Image: img.Exact, Out: os.Stderr})
	require.NoError(t, err)
	t.Logf("cluster ready in %v (created: %v)", time.Since(t2).Round(time.Second), c.Created)
	if c.Created && os.Getenv("FAULTLINE_KEEP_CLUSTER") == "" {
		t.Cleanup(func() { require.NoError(t, cluster.Delete(smokeName)) })
	}
	kubectl := func(stdin string, args ...string) string {
		t.Helper()
		out, err := cluster.Kubectl(ctx, c.Name, []byte(stdin), args...)
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	_, _ = cluster.Kubectl(ctx, c.Name, nil, "delete", "namespace", "smoke", "--wait=true", "--ignore-not-found")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl(context.Background(), c.Name, nil, "delete", "namespace", "smoke", "--wait=false", "--ignore-not-found")
	})

	nodes, err := cluster.Nodes(c.Name)
	require.NoError(t, err)
	require.Equal(t, []string{smokeName + "-control-plane", smokeName + "-worker", smokeName + "-worker2"}, nodes)
	ready := kubectl("", "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
	for _, n := range nodes {
		require.Contains(t, ready, n+"=True", "node %s not Ready:\n%s", n, ready)
	}

	corefile := kubectl("", "-n", "kube-system", "get", "configmap", "coredns", "-o", "jsonpath={.data.Corefile}")
	require.NotContains(t, corefile, "forward", "CoreDNS must answer cluster names only, never ask the host's resolver")

	kubectl(smokeManifest(img.Podnet), "apply", "-f", "-")
	kubectl("", "-n", "smoke", "wait", "--for=condition=Ready", "pod/server", "--timeout=120s")
	serverIP := kubectl("", "-n", "smoke", "get", "pod", "server", "-o", "jsonpath={.status.podIP}")
	require.NotEmpty(t, serverIP)

	// From the other worker: the server's pod address, and its Service by
	// name (CoreDNS, then kube-proxy).
	for name, url := range map[string]string{
		"probe-pod":     "http://" + serverIP + ":8080/",
		"probe-service": "http://server.smoke.svc.cluster.local:8080/",
	} {
		kubectl(probePod(name, smokeName+"-worker2", url, img.Podnet), "apply", "-f", "-")
		_, err := cluster.Kubectl(ctx, c.Name, nil, "-n", "smoke", "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/"+name, "--timeout=90s")
		logs, _ := cluster.Kubectl(ctx, c.Name, nil, "-n", "smoke", "logs", name)
		require.NoError(t, err, "%s from worker2 to %s failed: %s", name, url, logs)
		require.Contains(t, string(logs), "200 from server")
	}

	// The NodePort, mapped to 127.0.0.1 by kind-config.yaml.
	var body string
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://127.0.0.1:30080/")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == http.StatusOK
	}, 60*time.Second, time.Second, "NodePort 30080 on 127.0.0.1 did not answer")
	require.Equal(t, "server", strings.TrimSpace(body))

	// The firewall: a node's connection to an address outside the machine
	// (TEST-NET-1, which no one routes) is rejected on this host at once,
	// not sent out to time out somewhere else.
	require.NoError(t, hostsetup.Firewall(ctx))
	start := time.Now()
	out, err := exec.CommandContext(ctx, "docker", "exec", smokeName+"-worker", "curl", "-sS", "-m", "10", "http://192.0.2.1/").CombinedOutput()
	require.Error(t, err, "a node reached an address outside the machine: %s", out)
	took := time.Since(start)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	// curl's 7 is "couldn't connect" (the REJECT's ICMP answer); 28 would
	// be a timeout: the packet went somewhere.
	require.Equal(t, 7, exit.ExitCode(), "not rejected on this host (%v, %s)", took, out)
	require.Less(t, took, 8*time.Second, "not rejected at once (%s): did the packet leave?", out)
	t.Logf("outside address rejected in %v: %s", time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(out)))
}

// smokeManifest is a server pinned to one worker, its Service (with a
// NodePort the kind configuration maps to the host).
func smokeManifest(podnet string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: smoke
---
apiVersion: v1
kind: Pod
metadata:
  name: server
  namespace: smoke
  labels: {app: server}
spec:
  nodeName: %s-worker
  containers:
  - name: server
    image: %s
    imagePullPolicy: Never
    command: ["/podnet", "serve", ":8080"]
    readinessProbe:
      httpGet: {path: /, port: 8080}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: server
  namespace: smoke
spec:
  type: NodePort
  selector: {app: server}
  ports:
  - port: 8080
    targetPort: 8080
    nodePort: 30080
`, smokeName, podnet)
}

func probePod(name, node, url, podnet string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: smoke
spec:
  nodeName: %s
  restartPolicy: Never
  containers:
  - name: probe
    image: %s
    imagePullPolicy: Never
    command: ["/podnet", "probe", %q]
`, name, node, podnet, url)
}
