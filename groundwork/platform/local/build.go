package local

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// ModuleRoot returns the directory of the go.mod above the working
// directory (tests run in their package's folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// BuildBank builds the bank binary (static, CGO_ENABLED=0) into cacheDir,
// named by a hash of its sources, and returns its path. An existing binary
// with the same hash is reused.
func BuildBank(ctx context.Context, root, cacheDir string) (string, error) {
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		if err := hashFile(h, filepath.Join(root, f)); err != nil {
			return "", err
		}
	}
	err := filepath.WalkDir(filepath.Join(root, "system"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		fmt.Fprintln(h, p)
		return hashFile(h, p)
	})
	if err != nil {
		return "", fmt.Errorf("hash bank sources: %w", err)
	}
	bin := filepath.Join(cacheDir, fmt.Sprintf("bank-%x", h.Sum(nil)[:8]))
	if _, err := os.Stat(bin); err == nil {
		now := time.Now()
		_ = os.Chtimes(bin, now, now) // most recently used: kept by PruneCache
		return bin, nil
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", tmp, "./system/cmd/bank")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build bank: %w\n%s", err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", err
	}
	PruneCache(cacheDir, "bank-*", CacheKeep)
	return bin, nil
}

// CacheKeep is how many builds of the bank a cache keeps (the binaries,
// and kind's images of them): one per source tree in use at once (a
// checkout and a clean clone's CI run), with room to go back.
const CacheKeep = 4

// PruneCache removes the files of dir matching glob but the keep most
// recently used (by modification time, which a reuse renews), so that a
// cache keyed by its inputs does not grow with every change. Errors are
// ignored: a file left behind costs only space.
func PruneCache(dir, glob string, keep int) {
	paths, _ := filepath.Glob(filepath.Join(dir, glob))
	type entry struct {
		path string
		used time.Time
	}
	var es []entry
	for _, p := range paths {
		if strings.HasSuffix(p, ".tmp") {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			es = append(es, entry{p, fi.ModTime()})
		}
	}
	sort.Slice(es, func(i, j int) bool { return es[i].used.After(es[j].used) })
	for _, e := range es[min(keep, len(es)):] {
		_ = os.Remove(e.path)
	}
}

func hashFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
