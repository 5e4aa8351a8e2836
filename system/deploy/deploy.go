// Package deploy renders the bank's Kubernetes manifests from the topology,
// so that the mesh on Kubernetes is the mesh the local platform runs:
//
//   - the store: a headless Service and a StatefulSet of StoreNodes nodes,
//     each with a volume of its own that outlives a pod delete;
//   - per service: a headless Service and a StatefulSet, so that instance
//     names (card-api-0) are the same on every platform, with startup,
//     liveness and readiness probes, a pre-stop delay and grace period that
//     cover endpoint propagation, requests and limits, topology spread over
//     nodes and a PodDisruptionBudget where there are two replicas or more;
//   - in each pod, beside the bank's container, the fault sidecar (`bank
//     sidecar`): one toxiproxy proxy per link to each callee instance and
//     store node, named "<caller>-><callee>" as on local, which the bank
//     calls through on loopback ports;
//   - NodePort Services for the entry points only (edge on 30080, card-api
//     on 30081), which kind-config.yaml maps to 127.0.0.1.
//
// The admin fault hook and the sidecar's API listen on 127.0.0.1 in the
// pod: the harness reaches them through a port-forward, and no Service
// exposes them. bank.yaml in this folder is the output with the defaults,
// kept current by a test, and kustomization.yaml makes the folder
// appliable on its own (kubectl apply -k system/deploy):
//
//	go run ./system/cmd/bank manifests > system/deploy/bank.yaml
package deploy

import (
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"text/template"
	"time"

	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/sidecar"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/topology"
)

// Options change the rendering.
type Options struct {
	Namespace string // default "bank"
	Image     string // default DefaultImage
	// Run labels every object (faultline.dev/run) so that a run's objects
	// can be listed and deleted together; empty leaves the label out.
	Run string
	// StorageClass of the store nodes' volumes; empty gives each node an
	// emptyDir (lost with the pod: only for clusters without volumes).
	StorageClass string
	// StoreSize is each store node's volume size (default 1Gi).
	StoreSize string
	// AdminToken, when set, is rendered as the Secret bank-admin that
	// every bank container reads BANK_ADMIN_TOKEN from: the bearer token
	// of its /admin and /metrics. Empty leaves the Secret out; create it
	// before applying (kubectl -n bank create secret generic bank-admin
	// --from-literal=token=$(head -c 24 /dev/urandom | xxd -p)).
	AdminToken string
	// SeedKey (hex), with AdminToken, is the Secret's key "seed": the key
	// the seed Job derives the customers' session tokens from.
	SeedKey string
	// CardKey (hex), with AdminToken, is the Secret's key "card": the card
	// network's key, which card-api checks each message's MAC with.
	CardKey string
	// StoreKey, with AdminToken, is the Secret's key "store" (the store
	// nodes' key, store.KeyEnv), and each process's own password is
	// derived from it into the Secret's key "store-<service>" (and
	// "store-seed" for the seed Job).
	StoreKey []byte
	// Identity, when set, issues each service its certificate (the run's
	// certificate authority: platform.RunIdentity.Credentials), rendered
	// as the Secret bank-identity ("ca", "<service>.crt", "<service>.key",
	// "<service>.ticket") that each bank container reads BANK_TLS_* from:
	// the bank then speaks mutual TLS (package identity) and its probes
	// HTTPS. Nil leaves both out: plain HTTP, every route open to any
	// caller.
	Identity func(name string) (*identity.Credentials, error)
}

// DefaultImage is the bank's image: FROM scratch, /bank only.
const DefaultImage = "faultline/bank:dev"

// Ports inside a pod.
const (
	Port          = 8080 // the service's API, /healthz, /readyz, /metrics
	AdminPort     = 9090 // the admin fault hook, on 127.0.0.1 only
	FirstLinkPort = 20000
	StoreClient   = 4222
	StoreCluster  = 6222
	StoreMonitor  = 8222
)

// EntryNodePorts are the NodePorts of the entry points, mapped to
// 127.0.0.1 by kind-config.yaml.
var EntryNodePorts = map[string]int{"edge": 30080, "card-api": 30081}

// Grace periods: the pre-stop delay lets Kubernetes take the pod out of
// every endpoint list before the bank is told to drain; the grace period
// covers the delay and the bank's own drain.
const (
	PreStopSeconds = 2
	GraceSeconds   = 15
)

// MinReadySeconds is how long a service's new pod must stay ready before
// its StatefulSet's rollout replaces the next one. Callers eject an
// endpoint that stops answering for up to mesh.DefaultMaxEjection, probing
// it between ejections; a pod restarted on Kubernetes is gone for several
// seconds, long enough for its callers' ejections to reach the longest.
// Replaced as soon as the new pod was ready, the other pod went while the
// callers still had the new one ejected, and card authorisations fell to
// 0-3 of 8 a second for 4-12 s in a kind rollout.
const MinReadySeconds = int(mesh.DefaultMaxEjection/time.Second) + 2

// LinkPort returns the loopback port in a pod of service from which its
// sidecar proxies to the i-th instance (in Links order) it calls.
func LinkPort(i int) int { return FirstLinkPort + i }

// PodLink is one link of a service's pods: the callee instance, its
// address in the cluster and the loopback port the bank calls it through.
type PodLink struct {
	Dep    string // callee service, or topology.Store
	Callee string // callee instance, e.g. cards-1, store-2
	// Upstream is host:port in the cluster, the host fully qualified
	// (a final dot): a sidecar dials it for each new connection, and a
	// pod that is not ready has no name, so a relative name would cost
	// the cluster's DNS a lookup per search domain on every dial to it.
	Upstream string
	Port     int
}

// Links returns the links of every pod of service s, in a fixed order.
func Links(s topology.Service, namespace string) []PodLink {
	if namespace == "" {
		namespace = "bank"
	}
	var out []PodLink
	for _, dep := range s.Calls {
		if dep == topology.Store {
			for i := range topology.StoreNodes {
				out = append(out, PodLink{Dep: dep, Callee: fmt.Sprintf("store-%d", i),
					Upstream: fmt.Sprintf("store-%d.store.%s.svc.cluster.local.:%d", i, namespace, StoreClient)})
			}
			continue
		}
		d, _ := topology.Lookup(dep)
		for i := range d.Replicas {
			out = append(out, PodLink{Dep: dep, Callee: fmt.Sprintf("%s-%d", dep, i),
				Upstream: fmt.Sprintf("%s-%d.%s.%s.svc.cluster.local.:%d", dep, i, dep, namespace, Port)})
		}
	}
	for i := range out {
		out[i].Port = LinkPort(i)
	}
	return out
}

type svcView struct {
	topology.Service
	Args  string // the bank container's arguments, as a YAML flow list
	Links string // BANK_SIDECAR_LINKS
	Entry int    // NodePort, when an entry point
	CPU   string // the bank container's CPU request
}

// CPU requests, by tier. A request is what a container is guaranteed
// when its node is short of CPU (its cgroup's cpu.shares): sized by tier,
// a saturated node serves the card path before the emoji service, as a
// bank's own manifests would. No CPU limits: a limit throttles a
// container even on an idle node.
const (
	StoreCPU   = "250m"
	SidecarCPU = "10m"
)

// ServiceGoMaxProcs is GOMAXPROCS in the services' and sidecars'
// containers (not the store's). Each uses a few percent of a core, and with
// no CPU limit Go lets as many of its threads run Go code at once as the
// node has cores: on a 2-core kind machine, some sixty processes each
// waking two threads to look for work.
const ServiceGoMaxProcs = 1

// CPURequest is the bank container's CPU request for a service of tier.
func CPURequest(tier int) string {
	switch tier {
	case 0:
		return "100m"
	case 1:
		return "50m"
	}
	return "20m"
}

// Write renders the manifests to w.
func Write(w io.Writer, o Options) error {
	if o.Namespace == "" {
		o.Namespace = "bank"
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.StoreSize == "" {
		o.StoreSize = "1Gi"
	}
	var routes []string
	for i := range topology.StoreNodes {
		routes = append(routes, fmt.Sprintf("nats-route://store-%d.store.%s.svc.cluster.local:%d", i, o.Namespace, StoreCluster))
	}
	var svcs []svcView
	for _, s := range topology.Services {
		args := []string{s.Name, "--listen", fmt.Sprintf("0.0.0.0:%d", Port), "--instance", "$(POD_NAME)",
			"--admin", "--admin-listen", fmt.Sprintf("127.0.0.1:%d", AdminPort)}
		peers := map[string][]string{}
		var order []string
		var links []string
		for _, l := range Links(s, o.Namespace) {
			if _, seen := peers[l.Dep]; !seen {
				order = append(order, l.Dep)
			}
			local := fmt.Sprintf("127.0.0.1:%d", l.Port)
			if l.Dep == topology.Store {
				local = "nats://" + local
			}
			peers[l.Dep] = append(peers[l.Dep], local)
			links = append(links, fmt.Sprintf("$(POD_NAME)->%s=127.0.0.1:%d=%s", l.Callee, l.Port, l.Upstream))
		}
		for _, dep := range order {
			if dep == topology.Store {
				args = append(args, "--store", strings.Join(peers[dep], ","))
			} else {
				args = append(args, "--peer", dep+"="+strings.Join(peers[dep], ","))
			}
		}
		quoted := make([]string, len(args))
		for i, a := range args {
			quoted[i] = fmt.Sprintf("%q", a)
		}
		svcs = append(svcs, svcView{Service: s, Args: "[" + strings.Join(quoted, ", ") + "]",
			Links: strings.Join(links, ";"), Entry: EntryNodePorts[s.Name], CPU: CPURequest(s.Tier)})
	}
	type login struct{ User, Password string }
	var logins []login
	if len(o.StoreKey) > 0 {
		for _, s := range topology.Services {
			logins = append(logins, login{s.Name, store.Password(o.StoreKey, s.Name)})
		}
		logins = append(logins, login{store.SeedUser, store.Password(o.StoreKey, store.SeedUser)})
	}
	type cert struct{ Name, Cert, Key, Ticket string }
	var certs []cert
	var ca string
	if o.Identity != nil {
		for _, s := range topology.Services {
			c, err := o.Identity(s.Name)
			if err != nil {
				return fmt.Errorf("%s's certificate: %w", s.Name, err)
			}
			certs = append(certs, cert{s.Name, fmt.Sprintf("%q", c.Cert), fmt.Sprintf("%q", c.Key), hex.EncodeToString(c.Ticket)})
			ca = fmt.Sprintf("%q", c.CA)
		}
	}
	return tmpl.Execute(w, map[string]any{"TLS": o.Identity != nil, "CA": ca, "Certs": certs, "NS": o.Namespace, "AdminToken": o.AdminToken, "SeedKey": o.SeedKey, "CardKey": o.CardKey,
		"StoreKey": hex.EncodeToString(o.StoreKey), "StorePasswords": logins, "Image": o.Image, "Run": o.Run, "Port": Port,
		"AdminPort": AdminPort, "SidecarPort": sidecar.APIPort, "Routes": strings.Join(routes, ","),
		"StoreNodes": topology.StoreNodes, "StorageClass": o.StorageClass, "StoreSize": o.StoreSize,
		"StoreClient": StoreClient, "StoreCluster": StoreCluster, "StoreMonitor": StoreMonitor,
		"PreStop": PreStopSeconds, "Grace": GraceSeconds, "Services": svcs, "StoreCPU": StoreCPU, "SidecarCPU": SidecarCPU, "GoMaxProcs": ServiceGoMaxProcs, "MinReady": MinReadySeconds})
}

// dict builds a map for a template call: dict "k1" v1 "k2" v2.
func dict(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return m
}

var tmpl = template.Must(template.New("bank").Funcs(template.FuncMap{"dict": dict}).Parse(`# Generated by "bank manifests" from system/topology. Do not edit.
{{- define "labels"}}app.kubernetes.io/name: {{.name}}, app.kubernetes.io/component: {{.component}}, app.kubernetes.io/part-of: faultline-bank, app.kubernetes.io/managed-by: faultline, faultline.dev/tier: "{{.tier}}"{{if .run}}, faultline.dev/run: "{{.run}}"{{end}}{{end}}
apiVersion: v1
kind: Namespace
metadata:
  name: {{.NS}}
  labels: {app.kubernetes.io/part-of: faultline-bank, app.kubernetes.io/managed-by: faultline{{if .Run}}, faultline.dev/run: "{{.Run}}"{{end}}}
{{- if .AdminToken}}
---
apiVersion: v1
kind: Secret
metadata:
  name: bank-admin
  namespace: {{.NS}}
  labels: {app.kubernetes.io/part-of: faultline-bank, app.kubernetes.io/managed-by: faultline{{if .Run}}, faultline.dev/run: "{{.Run}}"{{end}}}
stringData:
  token: "{{.AdminToken}}"
  seed: "{{.SeedKey}}"
  card: "{{.CardKey}}"
  store: "{{.StoreKey}}"
{{- range .StorePasswords}}
  store-{{.User}}: "{{.Password}}"
{{- end}}
{{- end}}
{{- if .TLS}}
---
apiVersion: v1
kind: Secret
metadata:
  name: bank-identity
  namespace: {{.NS}}
  labels: {app.kubernetes.io/part-of: faultline-bank, app.kubernetes.io/managed-by: faultline{{if .Run}}, faultline.dev/run: "{{.Run}}"{{end}}}
stringData:
  ca: {{.CA}}
{{- range .Certs}}
  {{.Name}}.crt: {{.Cert}}
  {{.Name}}.key: {{.Key}}
  {{.Name}}.ticket: "{{.Ticket}}"
{{- end}}
{{- end}}
---
apiVersion: v1
kind: Service
metadata:
  name: store
  namespace: {{.NS}}
  labels: { {{- template "labels" (dict "name" "store" "component" "store" "tier" 0 "run" .Run)}} }
spec:
  clusterIP: None
  publishNotReadyAddresses: true
  selector: {app.kubernetes.io/name: store}
  ports:
  - {name: client, port: {{.StoreClient}}}
  - {name: cluster, port: {{.StoreCluster}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: store
  namespace: {{.NS}}
  labels: { {{- template "labels" (dict "name" "store" "component" "store" "tier" 0 "run" .Run)}} }
spec:
  serviceName: store
  replicas: {{.StoreNodes}}
  podManagementPolicy: Parallel
  selector: {matchLabels: {app.kubernetes.io/name: store}}
  template:
    metadata:
      labels: { {{- template "labels" (dict "name" "store" "component" "store" "tier" 0 "run" .Run)}} }
    spec:
      terminationGracePeriodSeconds: {{.Grace}}
      enableServiceLinks: false
      automountServiceAccountToken: false
      # A quorum of the store's nodes must outlive the loss of any one
      # machine: its nodes go to different machines wherever there are
      # enough (skew at most 1, never relaxed), control planes included,
      # so that a cluster of one control plane and two workers (kind's)
      # loses one store node, not two, when it loses a worker.
      tolerations:
      - {key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app.kubernetes.io/name: store}}}
      containers:
      - name: store
        image: {{.Image}}
        imagePullPolicy: Never
        args: ["store", "--name", "$(POD_NAME)", "--host", "0.0.0.0", "--client-port", "{{.StoreClient}}", "--cluster-port", "{{.StoreCluster}}", "--monitor-port", "{{.StoreMonitor}}", "--routes", "{{.Routes}}", "--dir", "/data"]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: BANK_STORE_KEY, valueFrom: {secretKeyRef: {name: bank-admin, key: store}}}
        ports:
        - {name: client, containerPort: {{.StoreClient}}}
        - {name: cluster, containerPort: {{.StoreCluster}}}
        - {name: monitor, containerPort: {{.StoreMonitor}}}
        startupProbe: {httpGet: {path: /healthz, port: {{.StoreMonitor}}}, periodSeconds: 1, failureThreshold: 120}
        livenessProbe: {httpGet: {path: /healthz, port: {{.StoreMonitor}}}, periodSeconds: 5, failureThreshold: 3}
        readinessProbe: {httpGet: {path: /healthz, port: {{.StoreMonitor}}}, periodSeconds: 1, failureThreshold: 3}
        resources: {requests: {cpu: {{.StoreCPU}}, memory: 64Mi}, limits: {memory: 512Mi}}
        securityContext: {runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: data, mountPath: /data}]
{{- if .StorageClass}}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: {{.StorageClass}}, resources: {requests: {storage: {{.StoreSize}}}}}
{{- else}}
      volumes: [{name: data, emptyDir: {}}]
{{- end}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: store
  namespace: {{.NS}}
  labels: { {{- template "labels" (dict "name" "store" "component" "store" "tier" 0 "run" .Run)}} }
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: store}}
{{- range .Services}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{.Name}}
  namespace: {{$.NS}}
  labels: { {{- template "labels" (dict "name" .Name "component" "service" "tier" .Tier "run" $.Run)}} }
spec:
  clusterIP: None
  selector: {app.kubernetes.io/name: {{.Name}}}
  ports: [{name: http, port: {{$.Port}}}]
{{- if .Entry}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{.Name}}-entry
  namespace: {{$.NS}}
  labels: { {{- template "labels" (dict "name" .Name "component" "entry" "tier" .Tier "run" $.Run)}} }
spec:
  type: NodePort
  selector: {app.kubernetes.io/name: {{.Name}}}
  ports: [{name: http, port: {{$.Port}}, targetPort: {{$.Port}}, nodePort: {{.Entry}}}]
{{- end}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{.Name}}
  namespace: {{$.NS}}
  labels: { {{- template "labels" (dict "name" .Name "component" "service" "tier" .Tier "run" $.Run)}} }
spec:
  serviceName: {{.Name}}
  replicas: {{.Replicas}}
  minReadySeconds: {{$.MinReady}}
  podManagementPolicy: Parallel
  selector: {matchLabels: {app.kubernetes.io/name: {{.Name}}}}
  template:
    metadata:
      labels: { {{- template "labels" (dict "name" .Name "component" "service" "tier" .Tier "run" $.Run)}} }
    spec:
      terminationGracePeriodSeconds: {{$.Grace}}
      enableServiceLinks: false
      automountServiceAccountToken: false
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app.kubernetes.io/name: {{.Name}}}}}
      initContainers:
      # A native sidecar (restartPolicy Always): started before the bank's
      # container (which retries its first calls) and stopped after it, so
      # that the bank's calls while it drains still go through.
      - name: sidecar
        image: {{$.Image}}
        imagePullPolicy: Never
        restartPolicy: Always
        args: ["sidecar", "--api", "127.0.0.1:{{$.SidecarPort}}"]
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: GOMAXPROCS, value: "{{$.GoMaxProcs}}"}
        - {name: BANK_SIDECAR_LINKS, value: "{{.Links}}"}
        resources: {requests: {cpu: {{$.SidecarCPU}}, memory: 16Mi}, limits: {memory: 128Mi}}
        securityContext: {runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
      containers:
      - name: bank
        image: {{$.Image}}
        imagePullPolicy: Never
        args: {{.Args}}
        env:
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: GOMAXPROCS, value: "{{$.GoMaxProcs}}"}
        - {name: BANK_ADMIN_TOKEN, valueFrom: {secretKeyRef: {name: bank-admin, key: token}}}
        - {name: BANK_STORE_PASSWORD, valueFrom: {secretKeyRef: {name: bank-admin, key: store-{{.Name}}}}}
{{- if eq .Name "card-api"}}
        - {name: BANK_CARD_KEY, valueFrom: {secretKeyRef: {name: bank-admin, key: card}}}
{{- end}}
{{- if $.TLS}}
        - {name: BANK_TLS_CA, valueFrom: {secretKeyRef: {name: bank-identity, key: ca}}}
        - {name: BANK_TLS_CERT, valueFrom: {secretKeyRef: {name: bank-identity, key: {{.Name}}.crt}}}
        - {name: BANK_TLS_KEY, valueFrom: {secretKeyRef: {name: bank-identity, key: {{.Name}}.key}}}
        - {name: BANK_TLS_TICKET_KEY, valueFrom: {secretKeyRef: {name: bank-identity, key: {{.Name}}.ticket}}}
{{- end}}
        ports: [{name: http, containerPort: {{$.Port}}}]
        startupProbe: {httpGet: {path: /healthz, port: {{$.Port}}{{if $.TLS}}, scheme: HTTPS{{end}}}, periodSeconds: 1, failureThreshold: 120}
        livenessProbe: {httpGet: {path: /healthz, port: {{$.Port}}{{if $.TLS}}, scheme: HTTPS{{end}}}, periodSeconds: 5, failureThreshold: 3}
        readinessProbe: {httpGet: {path: /readyz, port: {{$.Port}}{{if $.TLS}}, scheme: HTTPS{{end}}}, periodSeconds: 1, failureThreshold: 3}
        lifecycle: {preStop: {sleep: {seconds: {{$.PreStop}}}}}
        resources: {requests: {cpu: {{.CPU}}, memory: 32Mi}, limits: {memory: 256Mi}}
        securityContext: {runAsNonRoot: true, runAsUser: 65532, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
{{- if ge .Replicas 2}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{.Name}}
  namespace: {{$.NS}}
  labels: { {{- template "labels" (dict "name" .Name "component" "service" "tier" .Tier "run" $.Run)}} }
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app.kubernetes.io/name: {{.Name}}}}
{{- end}}
{{- end}}
`))
