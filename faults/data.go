package faults

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
	"github.com/faultline/faultline/system/topology"
)

// Damage is what happens to a stopped store node's data.
type Damage string

// Kinds of damage.
const (
	// WipeData empties the node's data directory: a replaced machine, or a
	// pod rescheduled onto a new volume.
	WipeData Damage = "wiped"
	// TruncateData cuts each of the stream's data files to half its length.
	TruncateData Damage = "truncated"
	// FlipBits flips one bit at a random place in each of the stream's data
	// files.
	FlipBits Damage = "bit-flipped"
)

// Data damages a store node's data while it is down (platform.Data): the
// node is killed, kept down while its files are changed, and started again
// on them, as after a disk loss or a corruption on a stopped machine
// (Jepsen, NATS 2.12.1: data files truncated or bit-flipped on a minority
// of nodes lost acknowledged writes). Stream names the stream whose data
// files truncation and bit flips hit (the ledger: LEDGER); a wipe takes
// everything. Recover waits until the node is healthy again: it must
// rebuild from its peers, not serve or lead what it lost.
type Data struct {
	Node   string // "store-1"
	Damage Damage
	Stream string // for TruncateData and FlipBits

	hit []string // the files changed, relative to the data directory
}

// LoseDisk empties store node i's data directory while it is down.
func LoseDisk(i int) *Data { return &Data{Node: storeNode(i), Damage: WipeData} }

// CorruptStream damages stream's data files on store node i while it is
// down: TruncateData or FlipBits.
func CorruptStream(i int, how Damage, stream string) *Data {
	return &Data{Node: storeNode(i), Damage: how, Stream: stream}
}

func storeNode(i int) string { return fmt.Sprintf("%s-%d", topology.Store, i) }

// Name implements Fault.
func (f *Data) Name() string {
	if f.Damage == WipeData {
		return "disk of " + f.Node + " lost"
	}
	return fmt.Sprintf("%s's %s data files %s", f.Node, f.Stream, f.Damage)
}

// Services implements Targeted.
func (f *Data) Services() []string { return []string{topology.Store} }

// Validate implements Fault.
func (f *Data) Validate() error {
	if err := (&StorePartition{Node: f.Node}).Validate(); err != nil {
		return fmt.Errorf("data damage: %w", err)
	}
	switch f.Damage {
	case WipeData:
	case TruncateData, FlipBits:
		if f.Stream == "" {
			return fmt.Errorf("data damage %s: which stream's files", f.Damage)
		}
	default:
		return fmt.Errorf("data damage %q: want %s, %s or %s", f.Damage, WipeData, TruncateData, FlipBits)
	}
	return nil
}

// Inject implements Fault.
func (f *Data) Inject(ctx context.Context, env *Env) error {
	d, err := platform.As[platform.Data](env.Platform, "damaging a store node's data")
	if err != nil {
		return err
	}
	if err := env.Journal.Write(journal.Entry{Kind: "data", ID: env.ID, Target: f.Name()}); err != nil {
		return err
	}
	return d.Offline(ctx, f.Node, func(dir string) error {
		var err error
		f.hit, err = f.damage(env, dir)
		return err
	})
}

// damage changes the files under dir and returns which.
func (f *Data) damage(env *Env, dir string) ([]string, error) {
	if f.Damage == WipeData {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		var hit []string
		for _, e := range entries {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return hit, err
			}
			hit = append(hit, e.Name())
		}
		return hit, nil
	}
	files, err := streamFiles(dir, f.Stream)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s has no data files for stream %s under %s", f.Node, f.Stream, dir)
	}
	var hit []string
	for _, p := range files {
		st, err := os.Stat(p)
		if err != nil || st.Size() == 0 {
			continue
		}
		switch f.Damage {
		case TruncateData:
			err = os.Truncate(p, st.Size()/2)
		case FlipBits:
			err = flipBit(p, env.Rand.Int64N(st.Size()), uint(env.Rand.IntN(8)))
		}
		if err != nil {
			return hit, err
		}
		rel, _ := filepath.Rel(dir, p)
		hit = append(hit, rel)
	}
	if len(hit) == 0 {
		return nil, fmt.Errorf("%s's %s data files are all empty", f.Node, f.Stream)
	}
	return hit, nil
}

// streamFiles lists a stream's message blocks under a node's data
// directory (jetstream/<account>/streams/<stream>/msgs/*.blk).
func streamFiles(dir, stream string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".blk") && filepath.Base(filepath.Dir(filepath.Dir(p))) == stream {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

func flipBit(path string, off int64, bit uint) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		return errors.Join(err, f.Close())
	}
	b[0] ^= 1 << bit
	if _, err := f.WriteAt(b, off); err != nil {
		return errors.Join(err, f.Close())
	}
	return errors.Join(f.Sync(), f.Close())
}

// Verify implements Fault: what was changed.
func (f *Data) Verify(ctx context.Context, env *Env) (string, error) {
	if len(f.hit) == 0 && f.Damage != WipeData {
		return "", errors.New("no data file changed")
	}
	return fmt.Sprintf("%s: %s %d entries (%s)", f.Node, f.Damage, len(f.hit), strings.Join(firstN(f.hit, 4), ", ")), nil
}

func firstN(s []string, n int) []string { return s[:min(len(s), n)] }

// Recover implements Fault: the node is healthy again (every stream
// current) within two minutes.
func (f *Data) Recover(ctx context.Context, env *Env) error {
	if err := waitHealthy(ctx, env, []string{f.Node}, 2*time.Minute); err != nil {
		return fmt.Errorf("after its data was %s: %w", f.Damage, err)
	}
	return env.Journal.Remove(env.ID)
}

// SelfHealing reports that the node starts again by itself once its data
// is changed: recovery time counts from the damage.
func (f *Data) SelfHealing() bool { return true }
