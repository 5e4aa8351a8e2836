// Command podnet is the pod network of the project's kind clusters, run as
// a DaemonSet on every node (the image's /kind/manifests/default-cni.yaml).
// kind's own kindnetd cannot be fetched where there is no registry; podnet
// does the part of it a kind cluster needs: it writes the node's CNI
// configuration (ptp veth pairs and host-local addresses from the node's
// pod CIDR, no masquerade) and keeps a route to every other node's pod CIDR
// through that node's address. It reads nodes from the API server with the
// pod's service account; it has no other dependency.
//
// Two more modes check the network it makes (the kind smoke test runs them
// as pods): `podnet serve :8080` answers HTTP with the pod's name, and
// `podnet probe <url>` fetches a URL, retrying for up to 30 s, and exits 0
// only on a 200.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
)

// serviceAccount is where the pod's credentials are mounted.
const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount"

// confFile is the CNI configuration podnet owns.
const confFile = "10-podnet.conflist"

func main() {
	if len(os.Args) > 2 {
		switch os.Args[1] {
		case "serve":
			serve(os.Args[2])
			return
		case "probe":
			os.Exit(probe(os.Args[2], 30*time.Second))
		}
	}
	node := os.Getenv("NODE_NAME")
	confDir := envOr("CNI_CONF_DIR", "/etc/cni/net.d")
	every := 5 * time.Second
	if node == "" {
		log.Fatal("podnet: NODE_NAME is not set (the DaemonSet passes spec.nodeName)")
	}
	api, err := inCluster()
	if err != nil {
		log.Fatalf("podnet: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		log.Printf("podnet: enable forwarding: %v", err)
	}
	for {
		if err := sync(ctx, api, node, confDir); err != nil {
			log.Printf("podnet: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// sync writes this node's CNI configuration and routes to the others.
func sync(ctx context.Context, api *client, self, confDir string) error {
	nodes, err := api.nodes(ctx)
	if err != nil {
		return err
	}
	// One node's trouble must not keep the routes to the others from
	// being kept: every node is tried, and the errors joined.
	var errs []error
	for _, n := range nodes {
		cidr, ip := n.Spec.PodCIDR, n.internalIP()
		if cidr == "" {
			continue
		}
		if n.Metadata.Name == self {
			if err := writeConf(confDir, cidr); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if ip == nil {
			continue
		}
		_, dst, err := net.ParseCIDR(cidr)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: pod CIDR %q: %w", n.Metadata.Name, cidr, err))
			continue
		}
		if err := netlink.RouteReplace(&netlink.Route{Dst: dst, Gw: ip}); err != nil {
			errs = append(errs, fmt.Errorf("route %s via %s: %w", dst, ip, err))
		}
	}
	return errors.Join(errs...)
}

// writeConf writes the CNI configuration for podCIDR if it is not already
// there, atomically: containerd reads the folder while podnet writes.
func writeConf(dir, podCIDR string) error {
	conf := fmt.Sprintf(`{
  "cniVersion": "0.4.0",
  "name": "podnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{"dst": "0.0.0.0/0"}],
        "ranges": [[{"subnet": %q}]]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, podCIDR)
	path := filepath.Join(dir, confFile)
	if old, err := os.ReadFile(path); err == nil && string(old) == conf {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(conf), 0o644); err != nil {
		return err
	}
	log.Printf("podnet: pod CIDR %s written to %s", podCIDR, path)
	return os.Rename(tmp, path)
}

// node is the part of a Kubernetes Node podnet reads.
type node struct {
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		PodCIDR string `json:"podCIDR"`
	} `json:"spec"`
	Status struct {
		Addresses []struct {
			Type    string `json:"type"`
			Address string `json:"address"`
		} `json:"addresses"`
	} `json:"status"`
}

func (n node) internalIP() net.IP {
	for _, a := range n.Status.Addresses {
		if a.Type == "InternalIP" {
			if ip := net.ParseIP(a.Address); ip != nil && ip.To4() != nil {
				return ip
			}
		}
	}
	return nil
}

// client reads the API server with the pod's service account.
type client struct {
	base  string
	token string
	http  *http.Client
}

func inCluster() (*client, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("not in a cluster: KUBERNETES_SERVICE_HOST/PORT unset")
	}
	token, err := os.ReadFile(filepath.Join(serviceAccount, "token"))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(serviceAccount, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s/ca.crt", serviceAccount)
	}
	return &client{base: "https://" + net.JoinHostPort(host, port), token: string(token),
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}, nil
}

func (c *client) nodes(ctx context.Context) ([]node, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/nodes", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("list nodes: %s", resp.Status)
	}
	var list struct{ Items []node }
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	return list.Items, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// serve answers every HTTP request with the host's (the pod's) name.
func serve(addr string) {
	name, _ := os.Hostname()
	log.Fatal(http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, name)
	})))
}

// probe fetches url until it answers 200 or patience runs out.
func probe(url string, patience time.Duration) int {
	c := &http.Client{Timeout: 3 * time.Second}
	deadline := time.Now().Add(patience)
	for {
		resp, err := c.Get(url)
		if err == nil {
			b := make([]byte, 256)
			n, _ := resp.Body.Read(b)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				fmt.Printf("probe %s: 200 from %s", url, b[:n])
				return 0
			}
			err = fmt.Errorf("status %s", resp.Status)
		}
		if time.Now().After(deadline) {
			fmt.Printf("probe %s: %v\n", url, err)
			return 1
		}
		time.Sleep(time.Second)
	}
}
