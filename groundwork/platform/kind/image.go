// Package kind runs the bank in a kind cluster made from kind-config.yaml
// with the offline node image (kind/): it builds the bank's image FROM
// scratch from the same binary the local platform runs, loads it into
// every node and deploys the manifests system/deploy renders.
package kind

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/faultline/faultline/groundwork/platform/local"
	"github.com/faultline/faultline/kind/scratchimage"
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
		now := time.Now()
		_ = os.Chtimes(img.Archive, now, now) // most recently used: kept by local.PruneCache
		return img, nil
	}
	layer, err := scratchimage.Layer([]scratchimage.File{{Dst: "/bank", Src: bin, Mode: 0o755}})
	if err != nil {
		return img, err
	}
	out, err := scratchimage.Image(layer, v1.Config{Entrypoint: []string{"/bank"}, User: fmt.Sprint(NonRoot)})
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
	if err := os.Rename(tmp, img.Archive); err != nil {
		return img, err
	}
	local.PruneCache(cacheDir, "bank-image-*.tar", local.CacheKeep)
	return img, nil
}
