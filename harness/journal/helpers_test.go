package journal_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/harness/journal"
)

func itoa(i int) string { return strconv.Itoa(i) }

// writeRaw writes e as another process would have (its own Owner).
func writeRaw(t *testing.T, dir string, e journal.Entry) {
	t.Helper()
	b, err := json.Marshal(e)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, e.Run+"--"+e.ID+".json"), b, 0o644))
}
