package nodeimage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// debianPackages are what the node's rootfs is bootstrapped with: what
// kind's base image installs, plus containerd, runc and the CNI plugins
// that kind builds from source and Debian packages.
var debianPackages = []string{
	"systemd", "systemd-sysv", "dbus", "conntrack", "iptables", "nftables", "iproute2", "ethtool",
	"util-linux", "mount", "kmod", "libseccomp2", "pigz", "fuse-overlayfs", "e2fsprogs", "bash",
	"ca-certificates", "curl", "jq", "procps", "containerd", "runc", "containernetworking-plugins",
	"socat", "ebtables", "hostname",
}

// mirror returns the Debian mirror this machine's apt uses, so that the
// rootfs comes from where the machine's own packages come from.
func mirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	uri := regexp.MustCompile(`^(?:URIs:\s*|deb\s+(?:\[[^]]*\]\s+)?)(\S+)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if m := uri.FindStringSubmatch(line); m != nil && !strings.Contains(m[1], "security") {
				return strings.TrimSuffix(m[1], "/")
			}
		}
	}
	return "http://deb.debian.org/debian"
}

// debootstrap bootstraps a minimal Debian with debianPackages into dir.
func debootstrap(ctx context.Context, release, dir string) error {
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := run(ctx, "debootstrap", "--variant=minbase", "--include="+strings.Join(debianPackages, ","),
		release, tmp, mirror()); err != nil {
		return err
	}
	// Nothing of the package cache or lists is needed in the image.
	for _, p := range []string{"var/cache/apt/archives", "var/lib/apt/lists"} {
		ents, _ := os.ReadDir(filepath.Join(tmp, p))
		for _, e := range ents {
			if e.Type().IsRegular() {
				_ = os.Remove(filepath.Join(tmp, p, e.Name()))
			}
		}
	}
	_ = os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// layKindFiles lays kind's base image files into the rootfs as its
// images/base/Dockerfile does, and prunes and enables systemd units the
// same way.
func layKindFiles(ctx context.Context, kindDir, root string) error {
	base := filepath.Join(kindDir, "images", "base", "files")
	copies := []struct {
		from, to string
		mode     fs.FileMode
	}{
		{"usr/local/bin", "usr/local/bin", 0o755},
		{"kind", "kind", 0o644},
		{"kind/bin", "kind/bin", 0o755},
		{"LICENSES", "LICENSES", 0o644},
		{"etc", "etc", 0o644},
	}
	for _, c := range copies {
		if err := copyTree(filepath.Join(base, c.from), filepath.Join(root, c.to), c.mode); err != nil {
			return err
		}
	}
	for _, d := range []string{"kind", "kind/bin"} {
		if err := os.Chmod(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	// The pruning kind's Dockerfile does after installing systemd.
	prune := []string{
		"lib/systemd/system/sysinit.target.wants/systemd-tmpfiles-setup.service",
		"lib/systemd/system/multi-user.target.wants/*",
		"etc/systemd/system/*.wants/*",
		"lib/systemd/system/local-fs.target.wants/*",
		"lib/systemd/system/sockets.target.wants/*udev*",
		"lib/systemd/system/sockets.target.wants/*initctl*",
		"lib/systemd/system/basic.target.wants/*",
	}
	for _, p := range prune {
		m, _ := filepath.Glob(filepath.Join(root, p))
		for _, f := range m {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	if err := appendFile(filepath.Join(root, "etc/systemd/journald.conf"), "ReadKMsg=no\n"); err != nil {
		return err
	}
	if err := symlink("/usr/lib/systemd/systemd", filepath.Join(root, "sbin/init")); err != nil {
		return err
	}
	if err := run(ctx, "chroot", root, "systemctl", "enable", "kubelet.service", "containerd.service", "undo-mount-hacks.service"); err != nil {
		return err
	}
	if err := run(ctx, "chroot", root, "systemctl", "mask", "systemd-binfmt.service"); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Join(root, "etc/kubernetes/manifests"), 0o755)
}

// adaptDebian fits Debian's packages to the paths kind's files expect and
// configures the node's containerd.
func adaptDebian(ctx context.Context, root, pauseRef string) error {
	// kind's containerd unit starts /usr/local/bin/containerd.
	if err := symlink("/usr/bin/containerd", filepath.Join(root, "usr/local/bin/containerd")); err != nil {
		return err
	}
	// The CNI plugins: Debian puts them in /usr/lib/cni, the kubelet and
	// containerd look in /opt/cni/bin.
	if err := copyTree(filepath.Join(root, "usr/lib/cni"), filepath.Join(root, "opt/cni/bin"), 0o755); err != nil {
		return err
	}
	// The base runtime spec, made as kind makes it: ctr's default spec with
	// kind's product-files hook and no rlimits.
	spec, err := output(ctx, "chroot", root, "ctr", "oci", "spec")
	if err != nil {
		return err
	}
	var s map[string]any
	if err := json.Unmarshal(spec, &s); err != nil {
		return fmt.Errorf("ctr oci spec: %w", err)
	}
	hooks, _ := s["hooks"].(map[string]any)
	if hooks == nil {
		hooks = map[string]any{}
		s["hooks"] = hooks
	}
	cc, _ := hooks["createContainer"].([]any)
	hooks["createContainer"] = append(cc, map[string]any{"path": "/kind/bin/mount-product-files.sh"})
	if p, ok := s["process"].(map[string]any); ok {
		delete(p, "rlimits")
	}
	b, err := json.MarshalIndent(s, "", "    ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "etc/containerd/cri-base.json"), b, 0o644); err != nil {
		return err
	}
	// containerd: the sandbox image kubeadm expects, and, because the
	// node runs without CAP_SYS_RESOURCE on hosts that lack it, OOM score
	// adjustments only as far as allowed (else every sandbox fails with
	// "can't get final child's PID from pipe").
	conf := filepath.Join(root, "etc/containerd/config.toml")
	c, err := os.ReadFile(conf)
	if err != nil {
		return err
	}
	out := regexp.MustCompile(`sandbox_image = "[^"]*"`).ReplaceAllString(string(c), fmt.Sprintf("sandbox_image = %q", pauseRef))
	out = strings.Replace(out, "restrict_oom_score_adj = false", "restrict_oom_score_adj = true", 1)
	if out == string(c) || !strings.Contains(out, pauseRef) || !strings.Contains(out, "restrict_oom_score_adj = true") {
		return fmt.Errorf("%s: kind's containerd config changed shape; sandbox_image or restrict_oom_score_adj not found", conf)
	}
	return os.WriteFile(conf, []byte(out), 0o644)
}

// installNodeFiles puts the node's own binaries, kind's version file and
// the manifests kind applies at cluster creation into the rootfs.
func installNodeFiles(root string, v Versions, k8sBin, crictlBin string, manifests map[string][]byte) error {
	for _, b := range []string{"kubeadm", "kubelet", "kubectl"} {
		if err := copyFile(filepath.Join(k8sBin, b), filepath.Join(root, "usr/bin", b), 0o755); err != nil {
			return err
		}
	}
	if err := copyFile(filepath.Join(crictlBin, "crictl"), filepath.Join(root, "usr/local/bin/crictl"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(root, "kind/version"), []byte(v.Kubernetes+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(root, "kind/manifests"), 0o755); err != nil {
		return err
	}
	for name, b := range manifests {
		if err := os.WriteFile(filepath.Join(root, "kind/manifests", name), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// copyTree copies the files under from into to, giving files mode.
func copyTree(from, to string, mode fs.FileMode) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, 0o755)
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return symlink(target, dst)
		default:
			return copyFile(p, dst, mode)
		}
	})
}

func copyFile(from, to string, mode fs.FileMode) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	_ = os.Remove(to)
	if err := os.WriteFile(to, b, mode); err != nil {
		return err
	}
	return os.Chmod(to, mode) // WriteFile's mode is masked by the umask
}

func symlink(target, at string) error {
	if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
		return err
	}
	_ = os.Remove(at)
	return os.Symlink(target, at)
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// run runs a command, returning its output in the error when it fails.
func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

// output runs a command and returns its standard output.
func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, tail(stderr.String()+stdout.String(), 30))
	}
	return stdout.Bytes(), nil
}
