package harness_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/faultline/faultline/"

// layers ranks the top-level folders: a package may import packages of its
// own folder and of lower ranks only. The bank knows nothing of its
// testers; the groundwork (platforms, journal, history, load, checks)
// knows only the bank's description; faults and reports build on the
// groundwork and not on each other; the runner uses them; scenarios and
// the command line sit on top.
var layers = map[string]int{
	"system":     0,
	"kind":       1,
	"groundwork": 2,
	"faults":     3,
	"reports":    3,
	"harness":    4,
	"scenarios":  5,
	"cmd":        5,
}

// TestDependenciesPointOneWay reads the imports of every non-test Go file
// in the module and fails on any that points to a higher or equal layer
// of another folder.
func TestDependenciesPointOneWay(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "run from the harness package")
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "runs" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		from := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
		rank, ok := layers[from]
		if !ok {
			t.Errorf("%s: top-level folder %q has no layer; add it to layers", rel, from)
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, module) {
				continue
			}
			to := strings.SplitN(strings.TrimPrefix(p, module), "/", 2)[0]
			if to == from {
				continue
			}
			if layers[to] >= rank {
				t.Errorf("%s imports %s: %s (layer %d) may not depend on %s (layer %d)", rel, p, from, rank, to, layers[to])
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.Greater(t, checked, 100, "too few files read: is the walk broken?")
}
