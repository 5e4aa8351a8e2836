package nodeimage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/faultline/faultline/kind/scratchimage"
)

// kubeadmImages asks the built kubeadm which images a control plane of
// version needs, exactly as kubeadm will name them.
func kubeadmImages(ctx context.Context, kubeadm, version string) ([]string, error) {
	out, err := output(ctx, kubeadm, "config", "images", "list", "--kubernetes-version", version)
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			refs = append(refs, l)
		}
	}
	return refs, nil
}

// controlPlaneImages builds every image kubeadm lists (and the sandbox
// image containerd names, and podnet's) from the static binaries, FROM
// scratch, and writes them into one docker-archive tarball at out.
func controlPlaneImages(ctx context.Context, refs []string, bins map[string]string, root, podnetRef, out string) error {
	images := map[name.Reference]v1.Image{}
	for _, ref := range append(refs, podnetRef) {
		r, err := name.ParseReference(ref)
		if err != nil {
			return err
		}
		repo := r.Context().RepositoryStr()
		base := path.Base(repo)
		var entries []scratchimage.File
		var entrypoint []string
		switch base {
		case "kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd":
			entries = []scratchimage.File{{Dst: "/usr/local/bin/" + base, Src: bins[base], Mode: 0o755}}
			entrypoint = []string{"/usr/local/bin/" + base}
		case "kube-proxy":
			entries = []scratchimage.File{{Dst: "/usr/local/bin/kube-proxy", Src: bins[base], Mode: 0o755}}
			ipt, err := iptablesEntries(ctx, root)
			if err != nil {
				return fmt.Errorf("kube-proxy's iptables: %w", err)
			}
			entries = append(entries, ipt...)
			entrypoint = []string{"/usr/local/bin/kube-proxy"}
		case "coredns", "pause", "podnet":
			entries = []scratchimage.File{{Dst: "/" + base, Src: bins[base], Mode: 0o755}}
			entrypoint = []string{"/" + base}
		default:
			return fmt.Errorf("kubeadm lists an image this build does not know: %s", ref)
		}
		for _, e := range entries {
			if e.Link == "" && e.Src == "" {
				return fmt.Errorf("image %s: no binary for %s", ref, e.Dst)
			}
		}
		l, err := scratchimage.Layer(entries)
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		img, err := scratchimage.Image(l, v1.Config{Entrypoint: entrypoint})
		if err != nil {
			return fmt.Errorf("image %s: %w", ref, err)
		}
		images[r] = img
	}
	tmp := out + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, images); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

// iptablesBinaries are what kube-proxy runs, taken from the node's rootfs.
var iptablesBinaries = []string{"/usr/sbin/xtables-nft-multi", "/usr/sbin/xtables-legacy-multi", "/usr/sbin/conntrack", "/usr/sbin/nft"}

// lddLibrary matches a library's path in a line of ldd's output.
var lddLibrary = regexp.MustCompile(`(/\S+)\s+\(0x`)

// iptablesEntries are kube-proxy's iptables, conntrack and nft with every
// library they load, and the iptables commands as links (the nft
// backend, Debian's default).
func iptablesEntries(ctx context.Context, root string) ([]scratchimage.File, error) {
	files := map[string]bool{}
	// The extensions iptables loads at run time need libraries of their
	// own (libxt_statistic needs libm): ldd them too.
	xt, _ := filepath.Glob(filepath.Join(root, "usr/lib/*/xtables/*.so"))
	var xtPaths []string
	for _, f := range xt {
		rel, _ := filepath.Rel(root, f)
		xtPaths = append(xtPaths, "/"+rel)
	}
	for _, b := range append(append([]string{}, iptablesBinaries...), xtPaths...) {
		files[b] = true
		libs, err := output(ctx, "chroot", root, "ldd", b)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(bytes.NewReader(libs))
		for sc.Scan() {
			if m := lddLibrary.FindStringSubmatch(sc.Text()); m != nil {
				files[m[1]] = true
			}
		}
	}
	var es []scratchimage.File
	for f := range files {
		real, err := resolveIn(root, f)
		if err != nil {
			return nil, err
		}
		es = append(es, scratchimage.File{Dst: f, Src: real, Mode: 0o755})
	}
	for _, c := range []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"} {
		es = append(es, scratchimage.File{Dst: "/usr/sbin/" + c, Link: "xtables-nft-multi"},
			scratchimage.File{Dst: "/usr/sbin/" + strings.Replace(c, "tables", "tables-legacy", 1), Link: "xtables-legacy-multi"},
			scratchimage.File{Dst: "/usr/sbin/" + strings.Replace(c, "tables", "tables-nft", 1), Link: "xtables-nft-multi"})
	}
	return es, nil
}

// importImages imports the images in archive into the rootfs's containerd
// store (namespace k8s.io, as the kubelet reads it) with a throwaway
// containerd of the host's pointed at the rootfs's /var/lib/containerd,
// and pins them so the kubelet's image garbage collection leaves them be.
func importImages(ctx context.Context, root, archive string, refs []string) error {
	state, err := os.MkdirTemp("", "faultline-containerd-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	conf := filepath.Join(state, "config.toml")
	if err := os.WriteFile(conf, []byte("version = 2\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"), 0o600); err != nil {
		return err
	}
	sock := filepath.Join(state, "containerd.sock")
	d := exec.CommandContext(ctx, "containerd", "--config", conf, "--root", filepath.Join(root, "var/lib/containerd"),
		"--state", filepath.Join(state, "state"), "--address", sock)
	var logs bytes.Buffer
	d.Stdout, d.Stderr = &logs, &logs
	d.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := d.Start(); err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	defer func() {
		_ = d.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = d.Process.Kill()
			<-done
		}
	}()
	ctr := func(args ...string) error {
		return run(ctx, "ctr", append([]string{"--address", sock, "--namespace", "k8s.io"}, args...)...)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if err := ctr("version"); err == nil {
			break
		} else if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not come up: %v\n%s", err, tail(logs.String(), 20))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := ctr("images", "import", "--all-platforms", "--no-unpack", archive); err != nil {
		return err
	}
	for _, r := range refs {
		if err := ctr("images", "label", r, "io.cri-containerd.pinned=pinned"); err != nil {
			return err
		}
	}
	return nil
}

// resolveIn follows the symlinks of path as the rootfs at root sees them
// (an absolute link target is inside root, never the host's), and returns
// the host path of the file it ends at.
func resolveIn(root, p string) (string, error) {
	for hops := 0; hops < 40; hops++ {
		// Resolve the parent folders first, then the last element.
		dir, base := path.Split(path.Clean(p))
		if dir != "/" {
			d, err := resolveIn(root, strings.TrimSuffix(dir, "/"))
			if err != nil {
				return "", err
			}
			rel, _ := filepath.Rel(root, d)
			dir = "/" + filepath.ToSlash(rel) + "/"
		}
		full := filepath.Join(root, dir, base)
		target, err := os.Readlink(full)
		if err != nil {
			if _, serr := os.Lstat(full); serr != nil {
				return "", serr
			}
			return full, nil // not a link
		}
		if !path.IsAbs(target) {
			target = path.Join(dir, target)
		}
		p = target
	}
	return "", fmt.Errorf("%s: too many symlinks in %s", p, root)
}
