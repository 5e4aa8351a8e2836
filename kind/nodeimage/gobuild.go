package nodeimage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// goProgram is a set of main packages built, statically, from Go modules
// through the module proxy in a scratch module of their own, so that their
// dependencies never meet this repository's go.mod or each other's.
type goProgram struct {
	name     string            // the scratch module's folder and the step's name
	require  []string          // "module version"
	replace  []string          // "module => module version"
	mains    map[string]string // package folder -> main.go, for tiny wrappers
	packages []string          // import paths (or ./folder) of the main packages
	ldflags  string
}

// build writes the scratch module under dir and builds every package into
// out, one binary each named for the package's last path element.
func (p goProgram) build(ctx context.Context, dir, out string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mod := fmt.Sprintf("module faultline.local/nodeimage/%s\n\ngo 1.26\n", p.name)
	if len(p.require) > 0 {
		mod += "\nrequire (\n\t" + strings.Join(p.require, "\n\t") + "\n)\n"
	}
	if len(p.replace) > 0 {
		mod += "\nreplace (\n\t" + strings.Join(p.replace, "\n\t") + "\n)\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		return err
	}
	for folder, src := range p.mains {
		if err := os.MkdirAll(filepath.Join(dir, folder), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, folder, "main.go"), []byte(src), 0o644); err != nil {
			return err
		}
	}
	// With mains of its own, tidy finds their dependencies; a module
	// without (only requires) would be emptied by tidy, and go build
	// -mod=mod completes its go.mod and go.sum instead.
	if len(p.mains) > 0 {
		if err := goCmd(ctx, dir, "mod", "tidy"); err != nil {
			return err
		}
	}
	tmp := out + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	args := []string{"build", "-trimpath", "-o", tmp + "/"}
	if p.ldflags != "" {
		args = append(args, "-ldflags", p.ldflags)
	}
	if err := goCmd(ctx, dir, append(args, p.packages...)...); err != nil {
		return err
	}
	_ = os.RemoveAll(out)
	return os.Rename(tmp, out)
}

// goCmd runs the go command in dir, statically linked, for linux/amd64 or
// the machine's own architecture, and returns its output in the error.
func goCmd(ctx context.Context, dir string, args ...string) error {
	return goCmdMod(ctx, dir, "mod", args...)
}

// goCmdMod is goCmd with the -mod mode given: "mod" for the scratch
// modules (the go command completes their go.mod), "readonly" for this
// repository (a build must never rewrite its go.mod).
func goCmdMod(ctx context.Context, dir, mod string, args ...string) error {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod="+mod, "GOWORK=off")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(args, " "), dir, err, tail(buf.String(), 40))
	}
	return nil
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// moduleDir downloads module@version through the module proxy and returns
// its folder in the module cache and the path of its go.mod.
func moduleDir(ctx context.Context, module, version string) (dir, gomod string, err error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	var info struct{ Dir, GoMod, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil || info.Error != "" || err != nil {
		return "", "", fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, info.Error)
	}
	return info.Dir, info.GoMod, nil
}

// stagingReplace matches k8s.io/kubernetes's replace lines that point a
// staging module at its folder in the repository.
var stagingReplace = regexp.MustCompile(`(?m)^\s*(k8s\.io/[a-z0-9-]+)\s+=>\s+\./staging/`)

// kubernetes builds the Kubernetes binaries a node needs. k8s.io/kubernetes
// replaces its staging modules (k8s.io/api, client-go and the other 30)
// with folders of its own repository; a module that requires it must
// replace each of them with the published module of the same version.
func kubernetes(ctx context.Context, v Versions) (goProgram, error) {
	_, gomod, err := moduleDir(ctx, "k8s.io/kubernetes", v.Kubernetes)
	if err != nil {
		return goProgram{}, err
	}
	b, err := os.ReadFile(gomod)
	if err != nil {
		return goProgram{}, err
	}
	p := goProgram{name: "kubernetes-" + v.Kubernetes, require: []string{"k8s.io/kubernetes " + v.Kubernetes}}
	for _, m := range stagingReplace.FindAllStringSubmatch(string(b), -1) {
		p.replace = append(p.replace, fmt.Sprintf("%s => %s %s", m[1], m[1], v.Staging))
	}
	if len(p.replace) == 0 {
		return goProgram{}, fmt.Errorf("%s: no staging replaces found", gomod)
	}
	for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubelet", "kubeadm", "kubectl"} {
		p.packages = append(p.packages, "k8s.io/kubernetes/cmd/"+c)
	}
	// kubeadm refuses to work with a version of v0.0.0: stamp the real one
	// where component-base and client-go read it.
	major, minor := versionParts(v.Kubernetes)
	var ld []string
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		ld = append(ld, "-X "+pkg+".gitVersion="+v.Kubernetes, "-X "+pkg+".gitMajor="+major,
			"-X "+pkg+".gitMinor="+minor, "-X "+pkg+".gitTreeState=clean", "-X "+pkg+".buildDate=1970-01-01T00:00:00Z")
	}
	p.ldflags = "-s -w " + strings.Join(ld, " ")
	return p, nil
}

// versionParts returns "1" and "34" for "v1.34.4".
func versionParts(v string) (major, minor string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return "", ""
	}
	return parts[0], parts[1]
}

// etcd is a tiny main around etcd's own.
func etcd(v Versions) goProgram {
	return goProgram{name: "etcd-" + v.Etcd, require: []string{"go.etcd.io/etcd/server/v3 " + v.Etcd},
		mains:    map[string]string{"etcd": "package main\n\nimport (\n\t\"os\"\n\n\t\"go.etcd.io/etcd/server/v3/etcdmain\"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n"},
		packages: []string{"./etcd"}, ldflags: "-s -w"}
}

// coreDNS is a tiny main with every plugin, as CoreDNS's own.
func coreDNS(v Versions) goProgram {
	return goProgram{name: "coredns-" + v.CoreDNS, require: []string{"github.com/coredns/coredns " + v.CoreDNS},
		mains:    map[string]string{"coredns": "package main\n\nimport (\n\t_ \"github.com/coredns/coredns/core/plugin\"\n\t\"github.com/coredns/coredns/coremain\"\n)\n\nfunc main() { coremain.Run() }\n"},
		packages: []string{"./coredns"}, ldflags: "-s -w"}
}

// crictl is cri-tools' CLI, which kind's node scripts use.
func crictl(v Versions) goProgram {
	return goProgram{name: "crictl-" + v.Crictl, require: []string{"sigs.k8s.io/cri-tools " + v.Crictl},
		packages: []string{"sigs.k8s.io/cri-tools/cmd/crictl"}, ldflags: "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=" + v.Crictl}
}
