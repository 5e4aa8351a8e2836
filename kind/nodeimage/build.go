// Package nodeimage builds a kind node image from nothing but the Go module
// proxy and Debian's packages: Kubernetes, etcd, CoreDNS and crictl built
// statically from their modules; a pause and a pod network of the
// project's own (kind/cmd); a Debian rootfs with systemd, containerd, runc
// and the CNI plugins, with kind's base files laid in; the control-plane
// images built FROM scratch and imported into the node's containerd under
// the names kubeadm expects. Every step is skipped when its result is
// already built for the same inputs, and the finished image is kept as an
// archive keyed by a hash of all of them (Key), so a warm build is a
// `docker load` or nothing at all.
package nodeimage

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/faultline/faultline/kind/scratchimage"
)

//go:embed files
var files embed.FS

// recipe is bumped when this package builds the same inputs differently.
const recipe = "2"

// Options say what to build and where to keep it.
type Options struct {
	Versions Versions
	// Cache is where built parts and finished images are kept (default:
	// $FAULTLINE_CACHE/kind, or ~/.cache/faultline/kind).
	Cache string
	// Repo is this repository's root, where kind/cmd is built from
	// (required).
	Repo string
	// Out receives a line as each step starts and ends (default: stderr).
	Out io.Writer
}

// Image is a built node image.
type Image struct {
	Ref     string // faultline/kind-node:<kubernetes version>
	Exact   string // faultline/kind-node:<kubernetes version>-<key>
	Key     string // hash of every input
	Archive string // the image as an archive docker can load
	// Podnet is the pod network's image inside the node (also a small
	// HTTP server and prober: kind/cmd/podnet).
	Podnet string
}

// DefaultCache is where node images and their parts are kept.
func DefaultCache() string {
	if d := os.Getenv("FAULTLINE_CACHE"); d != "" {
		return filepath.Join(d, "kind")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "faultline", "kind")
	}
	return filepath.Join(os.TempDir(), "faultline-kind")
}

// hostTools are the commands a build runs on the host.
var hostTools = []string{"go", "debootstrap", "docker", "containerd", "ctr", "tar", "cp", "chroot"}

// Build builds the node image for o.Versions unless it is built already,
// and makes sure docker has it. It prints a line per step with its time.
func Build(ctx context.Context, o Options) (Image, error) {
	if o.Versions == (Versions{}) {
		o.Versions = Default
	}
	if o.Cache == "" {
		o.Cache = DefaultCache()
	}
	if o.Out == nil {
		o.Out = os.Stderr
	}
	v := o.Versions
	st := &steps{out: o.Out, start: time.Now()}
	var missing []string
	for _, t := range hostTools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		return Image{}, &StepError{Step: "host tools", Err: fmt.Errorf("missing %s; run `faultline kind host` to install them", strings.Join(missing, ", "))}
	}
	if o.Repo == "" {
		return Image{}, &StepError{Step: "find the repository", Err: errors.New("Options.Repo is empty: the image builds kind/cmd from this repository")}
	}
	toolchain, err := exec.CommandContext(ctx, "go", "version").Output()
	if err != nil {
		return Image{}, &StepError{Step: "host tools", Err: fmt.Errorf("go version: %w", err)}
	}
	stamp := strings.TrimSpace(string(toolchain))
	bin := func(parts ...string) string { return filepath.Join(append([]string{o.Cache, "bin"}, parts...)...) }
	own := bin("own")
	if err := st.run(ctx, "build pause and podnet", nil, func(ctx context.Context) error {
		return goBuildOwn(ctx, o.Repo, own, "./kind/cmd/pause", "./kind/cmd/podnet")
	}); err != nil {
		return Image{}, err
	}
	key, err := inputsKey(v, stamp, own)
	if err != nil {
		return Image{}, &StepError{Step: "hash the inputs", Err: err}
	}
	img := Image{Ref: Repository + ":" + v.Kubernetes, Exact: Repository + ":" + v.Kubernetes + "-" + key, Key: key,
		Archive: filepath.Join(o.Cache, "images", "node-"+v.Kubernetes+"-"+key+".tar"), Podnet: "faultline.local/podnet:" + key}
	fmt.Fprintf(o.Out, "node image: %s (inputs %s)\n", img.Exact, key)
	if dockerHas(ctx, img.Exact) {
		fmt.Fprintf(o.Out, "node image: %-34s cached\n", "in docker")
		return img, tag(ctx, img)
	}
	if _, err := os.Stat(img.Archive); err == nil {
		if err := st.run(ctx, "docker load (cached archive)", nil, func(ctx context.Context) error { return dockerLoad(ctx, img) }); err != nil {
			return img, err
		}
		return img, nil
	}

	built := func(dir string) func() bool {
		return func() bool {
			b, err := os.ReadFile(filepath.Join(dir, ".built"))
			return err == nil && string(b) == stamp
		}
	}
	buildGo := func(name string, p func(context.Context) (goProgram, error), out string) error {
		return st.run(ctx, name, built(out), func(ctx context.Context) error {
			prog, err := p(ctx)
			if err != nil {
				return err
			}
			if err := prog.build(ctx, filepath.Join(o.Cache, "src", prog.name), out); err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(out, ".built"), []byte(stamp), 0o644)
		})
	}
	fixed := func(p goProgram) func(context.Context) (goProgram, error) {
		return func(context.Context) (goProgram, error) { return p, nil }
	}
	k8s, etcdBin, dnsBin, crictlBin := bin("kubernetes-"+v.Kubernetes), bin("etcd-"+v.Etcd), bin("coredns-"+v.CoreDNS), bin("crictl-"+v.Crictl)
	if err := buildGo("kubernetes "+v.Kubernetes, func(ctx context.Context) (goProgram, error) { return kubernetes(ctx, v) }, k8s); err != nil {
		return img, err
	}
	if err := buildGo("etcd "+v.Etcd, fixed(etcd(v)), etcdBin); err != nil {
		return img, err
	}
	if err := buildGo("coredns "+v.CoreDNS, fixed(coreDNS(v)), dnsBin); err != nil {
		return img, err
	}
	if err := buildGo("crictl "+v.Crictl, fixed(crictl(v)), crictlBin); err != nil {
		return img, err
	}

	debian := filepath.Join(o.Cache, "debian-"+v.Debian+"-"+shortHash(strings.Join(debianPackages, ",")))
	if err := st.run(ctx, "debian rootfs ("+v.Debian+")", func() bool { _, err := os.Stat(filepath.Join(debian, "usr/bin/containerd")); return err == nil },
		func(ctx context.Context) error { return debootstrap(ctx, v.Debian, debian) }); err != nil {
		return img, err
	}
	work := filepath.Join(o.Cache, "work")
	root := filepath.Join(work, "rootfs")
	pauseRef := "registry.k8s.io/pause:" + PauseTag
	podnetRef := img.Podnet
	if err := st.run(ctx, "node rootfs", nil, func(ctx context.Context) error {
		_ = os.RemoveAll(work)
		if err := os.MkdirAll(work, 0o755); err != nil {
			return err
		}
		if err := run(ctx, "cp", "-a", debian, root); err != nil {
			return err
		}
		kindDir, _, err := moduleDir(ctx, "sigs.k8s.io/kind", v.Kind)
		if err != nil {
			return err
		}
		if err := layKindFiles(ctx, kindDir, root); err != nil {
			return err
		}
		if err := adaptDebian(ctx, root, pauseRef); err != nil {
			return err
		}
		manifests, err := kindManifests(podnetRef)
		if err != nil {
			return err
		}
		return installNodeFiles(root, v, k8s, crictlBin, manifests)
	}); err != nil {
		return img, err
	}
	archive := filepath.Join(work, "control-plane.tar")
	var refs []string
	if err := st.run(ctx, "control-plane images", nil, func(ctx context.Context) error {
		listed, err := kubeadmImages(ctx, filepath.Join(k8s, "kubeadm"), v.Kubernetes)
		if err != nil {
			return err
		}
		refs = listed
		if !slices.Contains(refs, pauseRef) {
			refs = append(refs, pauseRef) // the sandbox image containerd names
		}
		bins := map[string]string{"etcd": filepath.Join(etcdBin, "etcd"), "coredns": filepath.Join(dnsBin, "coredns"),
			"pause": filepath.Join(own, "pause"), "podnet": filepath.Join(own, "podnet")}
		for _, c := range []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} {
			bins[c] = filepath.Join(k8s, c)
		}
		for _, r := range append(refs, podnetRef) {
			fmt.Fprintf(o.Out, "node image:   %s\n", r)
		}
		return controlPlaneImages(ctx, refs, bins, root, podnetRef, archive)
	}); err != nil {
		return img, err
	}
	if err := st.run(ctx, "import images into the node", nil, func(ctx context.Context) error {
		return importImages(ctx, root, archive, append(refs, podnetRef))
	}); err != nil {
		return img, err
	}
	if err := st.run(ctx, "node image archive", nil, func(ctx context.Context) error {
		return writeNodeImage(ctx, root, work, img)
	}); err != nil {
		return img, err
	}
	if err := st.run(ctx, "docker load", nil, func(ctx context.Context) error { return dockerLoad(ctx, img) }); err != nil {
		return img, err
	}
	_ = os.RemoveAll(work)
	fmt.Fprintf(o.Out, "node image: %s built in %v\n", img.Exact, time.Since(st.start).Round(time.Second))
	return img, nil
}

// kindManifests are the files laid in /kind/manifests: the pod network
// (podnet) and the default StorageClass.
func kindManifests(podnetRef string) (map[string][]byte, error) {
	cni, err := files.ReadFile("files/default-cni.yaml")
	if err != nil {
		return nil, err
	}
	storage, err := files.ReadFile("files/default-storage.yaml")
	if err != nil {
		return nil, err
	}
	return map[string][]byte{
		"default-cni.yaml":     []byte(strings.ReplaceAll(string(cni), "{{PODNET_IMAGE}}", podnetRef)),
		"default-storage.yaml": storage,
	}, nil
}

// goBuildOwn builds this repository's programs for the image, statically.
func goBuildOwn(ctx context.Context, repo, out string, pkgs ...string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// -buildvcs=false: the commit would otherwise be stamped into the
	// binaries, and every commit would change the image's key.
	return goCmdMod(ctx, repo, "readonly", append([]string{"build", "-trimpath", "-buildvcs=false", "-ldflags", "-s -w", "-o", out + "/"}, pkgs...)...)
}

// inputsKey hashes every input of the image: the versions, the Debian
// packages, the embedded files, the Go toolchain, this recipe and the
// project's own binaries (built reproducibly with -trimpath).
func inputsKey(v Versions, toolchain, own string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\n%+v\n%s\n%s\n", recipe, v, strings.Join(debianPackages, ","), toolchain)
	var names []string
	if err := fs.WalkDir(files, "files", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	}); err != nil {
		return "", err
	}
	sort.Strings(names)
	for _, n := range names {
		b, _ := files.ReadFile(n)
		fmt.Fprintf(h, "%s %x\n", n, sha256.Sum256(b))
	}
	for _, b := range []string{"pause", "podnet"} {
		data, err := os.ReadFile(filepath.Join(own, b))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %x\n", b, sha256.Sum256(data))
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

// writeNodeImage makes the node image from the rootfs: one layer, and the
// configuration kind's base image has.
func writeNodeImage(ctx context.Context, root, work string, img Image) error {
	layerTar := filepath.Join(work, "rootfs.tar")
	// System tar keeps owners, devices, hard links and extended attributes.
	if err := run(ctx, "tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-C", root,
		"--exclude=./dev/*", "--exclude=./proc/*", "--exclude=./sys/*", "--exclude=./run/*", "-cf", layerTar, "."); err != nil {
		return err
	}
	l, err := tarball.LayerFromFile(layerTar, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching)
	if err != nil {
		return err
	}
	image, err := scratchimage.Image(l, v1.Config{Entrypoint: []string{"/usr/local/bin/entrypoint", "/sbin/init"},
		Env: []string{"container=docker"}, StopSignal: "SIGRTMIN+3"})
	if err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	for _, r := range []string{img.Ref, img.Exact} {
		t, err := name.NewTag(r)
		if err != nil {
			return err
		}
		refs[t] = image
	}
	if err := os.MkdirAll(filepath.Dir(img.Archive), 0o755); err != nil {
		return err
	}
	tmp := img.Archive + ".tmp"
	if err := tarball.MultiRefWriteToFile(tmp, refs); err != nil {
		return err
	}
	return os.Rename(tmp, img.Archive)
}

func dockerHas(ctx context.Context, ref string) bool {
	return exec.CommandContext(ctx, "docker", "image", "inspect", ref).Run() == nil
}

func dockerLoad(ctx context.Context, img Image) error {
	if err := run(ctx, "docker", "load", "-i", img.Archive); err != nil {
		return err
	}
	return tag(ctx, img)
}

// tag points the version's tag at the exact build.
func tag(ctx context.Context, img Image) error {
	return run(ctx, "docker", "tag", img.Exact, img.Ref)
}
