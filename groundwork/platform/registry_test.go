package platform_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// stub is a registered platform for the registry's tests only.
type stub struct{ platform.Platform }

func (stub) Name() string { return "stub" }

var reaped []journal.Entry

func init() {
	platform.Register(platform.Registration{Name: "stub",
		Open: func(platform.Options) (platform.Platform, error) { return stub{}, nil },
		Reap: func(dir string, es []journal.Entry) journal.Reaped {
			reaped = append(reaped, es...)
			for _, e := range es {
				_ = journal.RemoveEntry(dir, e)
			}
			return journal.Reaped{Entries: len(es)}
		}})
	platform.Register(platform.Registration{Name: "small",
		Open:      func(platform.Options) (platform.Platform, error) { return stub{}, nil },
		Reap:      func(string, []journal.Entry) journal.Reaped { return journal.Reaped{} },
		LoadShare: func() (float64, string) { return 0.5, "half a machine" }})
}

// TestLoadShareByPlatform: a platform that says how much of the default
// load it carries here is taken at its word, with its reason; the others
// carry all of it.
func TestLoadShareByPlatform(t *testing.T) {
	share, why := platform.LoadShare("small")
	assert.Equal(t, 0.5, share)
	assert.Equal(t, "half a machine", why)
	share, why = platform.LoadShare("stub")
	assert.Equal(t, 1.0, share)
	assert.Empty(t, why)
}

// TestOpenByName: a registered platform opens by name and stamps its name
// on the run's journal entries; an unknown name lists the known ones.
func TestOpenByName(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	j, err := journal.Open(dir, "run-1")
	require.NoError(t, err)
	p, err := platform.Open("stub", platform.Options{RunDir: t.TempDir(), Journal: j})
	require.NoError(t, err)
	assert.Equal(t, "stub", p.Name())
	require.NoError(t, j.Write(journal.Entry{Kind: "kill", ID: "f1"}))
	es, err := journal.Read(dir)
	require.NoError(t, err)
	require.Len(t, es, 1)
	assert.Equal(t, "stub", es[0].Platform)

	_, err = platform.Open("nowhere", platform.Options{Journal: j})
	require.ErrorContains(t, err, `no platform "nowhere": this build has small, stub`)
	assert.Panics(t, func() { platform.Register(platform.Registration{Name: "stub"}) })
}

// TestReapHandsEachPlatformItsEntries: a dead run's entries go to the
// reaper of the platform that wrote them; those of a platform this build
// lacks stay, with a reason.
func TestReapHandsEachPlatformItsEntries(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	dead := func(platformName, id string) {
		// Written as a long-dead harness would have: its PID runs nothing.
		e := journal.Entry{Run: "dead-" + id, Owner: 1 << 30, Kind: "namespace", ID: id, Platform: platformName}
		b, err := json.Marshal(e)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Run+"--"+e.ID+".json"), b, 0o600))
	}
	dead("stub", "a")
	dead("martian", "b")
	reaped = nil
	r, err := platform.Reap(dir)
	require.NoError(t, err)
	assert.Equal(t, 1, r.Entries)
	require.Len(t, reaped, 1)
	assert.Equal(t, "a", reaped[0].ID)
	require.Len(t, r.Skipped, 1)
	assert.Contains(t, r.Skipped[0].Reason, `platform "martian", which this build does not have`)
	left, err := journal.Read(dir)
	require.NoError(t, err)
	require.Len(t, left, 1, "the unknown platform's entry stays")
	assert.Equal(t, "b", left[0].ID)
}
