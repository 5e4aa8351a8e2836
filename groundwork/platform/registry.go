package platform

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/faultline/faultline/groundwork/journal"
)

// Options are what every platform is opened with.
type Options struct {
	RunDir   string           // the run folder: logs go to RunDir/logs
	Journal  *journal.Journal // where the platform journals what it starts and injects
	Progress func(format string, args ...any)
}

// Registration is one platform the harness can run the bank on.
type Registration struct {
	Name string
	// Open returns the platform; nothing runs until Start.
	Open func(Options) (Platform, error)
	// Reap undoes entries that dead runs journaled on this platform (see
	// journal.Orphans) and removes them. Entries whose undoing needs what
	// is not there (a deleted cluster) are removed with a Skip saying so.
	Reap func(dir string, entries []journal.Entry) journal.Reaped
	// LoadShare, if set, is the share of the default load the platform
	// carries on this machine when the run does not choose one
	// (FAULTLINE_RATE), with the reason: a platform that takes much of the
	// machine for itself leaves the bank less.
	LoadShare func() (share float64, why string)
}

// LoadShare returns the share of the default load the platform called
// name carries on this machine by default: 1, unless it says otherwise.
func LoadShare(name string) (float64, string) {
	regMu.Lock()
	r, ok := reg[name]
	regMu.Unlock()
	if !ok || r.LoadShare == nil {
		return 1, ""
	}
	return r.LoadShare()
}

var (
	regMu sync.Mutex
	reg   = map[string]Registration{}
)

// Register makes a platform available to Open and Reap, from its package's
// init. Registering a name twice panics.
func Register(r Registration) {
	regMu.Lock()
	defer regMu.Unlock()
	if r.Name == "" || r.Open == nil || r.Reap == nil {
		panic("platform: Register needs a name, Open and Reap")
	}
	if _, dup := reg[r.Name]; dup {
		panic("platform: " + r.Name + " registered twice")
	}
	reg[r.Name] = r
}

// Names returns the registered platforms' names, sorted.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var out []string
	for n := range reg {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Open opens the platform called name and stamps its name on every entry
// the run journals.
func Open(name string, o Options) (Platform, error) {
	regMu.Lock()
	r, ok := reg[name]
	regMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no platform %q: this build has %s", name, strings.Join(Names(), ", "))
	}
	if o.Journal == nil {
		return nil, errors.New("platform: a journal is required")
	}
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	o.Journal.SetPlatform(name)
	return r.Open(o)
}

// LegacyPlatform is the platform of journal entries that name none: runs
// from before entries named their platform ran only locally.
const LegacyPlatform = "local"

// Reap undoes what dead runs left in the journal directory dir, handing
// each platform the entries it wrote. Entries of a platform this build
// does not have are left in place, each with a Skip saying so, for a build
// that has it.
func Reap(dir string) (journal.Reaped, error) {
	entries, err := journal.Orphans(dir)
	by := map[string][]journal.Entry{}
	for _, e := range entries {
		p := e.Platform
		if p == "" {
			p = LegacyPlatform
		}
		by[p] = append(by[p], e)
	}
	var out journal.Reaped
	runs := map[string]bool{}
	for _, name := range sortedKeys(by) {
		regMu.Lock()
		r, ok := reg[name]
		regMu.Unlock()
		if !ok {
			for _, e := range by[name] {
				out.Skipped = append(out.Skipped, journal.Skip{Run: e.Run, ID: e.ID,
					Reason: fmt.Sprintf("journaled on platform %q, which this build does not have: left for one that does", name)})
			}
			continue
		}
		got := r.Reap(dir, by[name])
		for _, run := range got.Runs {
			runs[run] = true
		}
		out.Killed = append(out.Killed, got.Killed...)
		out.Resumed = append(out.Resumed, got.Resumed...)
		out.Detached = append(out.Detached, got.Detached...)
		out.Released = append(out.Released, got.Released...)
		out.Unchained = append(out.Unchained, got.Unchained...)
		out.Skipped = append(out.Skipped, got.Skipped...)
		out.Entries += got.Entries
	}
	out.Runs = sortedKeys(runs)
	return out, err
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
