// Package kind runs the bank in a kind cluster made from kind-config.yaml
// with the offline node image (kind/): it builds the bank's image FROM
// scratch from the same binary the local platform runs, loads it into
// every node and deploys the manifests system/deploy renders.
package kind

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Image is the bank's image: its reference and a docker-loadable archive.
type Image struct {
	Ref     string // faultline/bank:<the binary's hash>
	Archive string
}

// NonRoot is the user the bank runs as in its pods.
const NonRoot = 65532

// BankImage builds the bank's image from the bank binary bin: FROM
// scratch, /bank only, run as NonRoot. It is tagged and kept in cacheDir by
// the binary's name (itself a hash of the bank's sources), so the same
// sources give the same image and a second call builds nothing.
func BankImage(bin, cacheDir string) (Image, error) {
	tag := strings.TrimPrefix(filepath.Base(bin), "bank-")
	img := Image{Ref: "faultline/bank:" + tag, Archive: filepath.Join(cacheDir, "bank-image-"+tag+".tar")}
	if _, err := os.Stat(img.Archive); err == nil {
		return img, nil
	}
	st, err := os.Stat(bin)
	if err != nil {
		return img, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return oneFileTar("bank", bin, st.Size()) })
	if err != nil {
		return img, err
	}
	base, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return img, err
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return img, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Created = v1.Time{Time: time.Unix(0, 0)}
	cf.Config = v1.Config{Entrypoint: []string{"/bank"}, User: fmt.Sprint(NonRoot)}
	out, err := mutate.ConfigFile(base, cf)
	if err != nil {
		return img, err
	}
	ref, err := name.NewTag(img.Ref)
	if err != nil {
		return img, err
	}
	tmp := img.Archive + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, out); err != nil {
		return img, fmt.Errorf("write the bank's image: %w", err)
	}
	return img, os.Rename(tmp, img.Archive)
}

// oneFileTar streams a tar of one executable file, name, read from src,
// with fixed times and owners so that the same binary gives the same layer.
func oneFileTar(name, src string, size int64) (io.ReadCloser, error) {
	f, err := os.Open(src)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer f.Close()
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: size, ModTime: time.Unix(0, 0)})
		if err == nil {
			_, err = io.Copy(tw, f)
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	return pr, nil
}
