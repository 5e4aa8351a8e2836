// Package journal is the on-disk record of what a run started and injected:
// every process it launched and every fault before it is injected. A run
// that crashes or is killed leaves its journal behind; the next run (or
// `faultline reap`) reads it, kills the processes and undoes the faults.
//
// Files live in one private directory per user (see DefaultDir), shared by
// that user's runs; each run owns a file per process or fault, named by its
// run ID. The directory must belong to the user and be writable by nobody
// else, entry files are written 0600, and every entry is checked again
// before anything it names is signalled: a process is signalled only
// through a pidfd, after its start time, boot and binary are found to be
// the ones recorded (see Reap).
//
// It is not a process supervisor: the platform that started a process
// signals it through the handle it holds; the journal is only for a
// harness that no longer has one. Safe for concurrent use.
package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Entry is one journaled process or fault.
type Entry struct {
	Run   string `json:"run"`
	Owner int    `json:"owner"` // PID of the harness that wrote it
	// OwnerID identifies the owner across PID reuse, so that a dead run
	// whose PID was taken by another process is not mistaken for a live one.
	OwnerID *Proc `json:"owner_id,omitempty"`
	// Platform names the platform the entry's run acted on (local, kind,
	// kube): its reaper undoes the entry. Empty in entries of older runs,
	// which were all local.
	Platform string `json:"platform,omitempty"`
	Kind     string `json:"kind"` // process, or a fault kind
	ID       string `json:"id"`
	Target   string `json:"target,omitempty"`
	PIDs     []int  `json:"pids,omitempty"` // processes to kill (process) or resume/kill (faults)
	// Procs identifies each of PIDs (start time and boot); a PID without
	// one, or whose process no longer matches it, is never signalled.
	Procs  []Proc `json:"procs,omitempty"`
	Exe    string `json:"exe,omitempty"` // binary the PIDs run, checked before signalling
	Resume bool   `json:"resume,omitempty"`
	// Mount is a mount point the run made (KindMount), served by the
	// harness itself: its reap detaches it.
	Mount string `json:"mount,omitempty"`
	// Cgroups are control groups the run made (their directories, each
	// below the group its processes came from): its reap moves what runs
	// in them back up and removes them.
	Cgroups []string `json:"cgroups,omitempty"`
	// Chain is an iptables chain the run made (ChainName), in each of
	// ChainTables: its reap removes it and the jumps to it.
	Chain   string    `json:"chain,omitempty"`
	Created time.Time `json:"created"`
}

// Kinds of entries for what a run starts (rather than injects): a process
// on this host, a namespace on a cluster. Active leaves them out.
const (
	KindProcess   = "process"
	KindNamespace = "namespace"
	KindMount     = "mount"
	KindNetwork   = "network"
)

// Journal writes entries for one run.
type Journal struct {
	dir      string
	run      string
	owner    *Proc
	mu       sync.Mutex
	platform string
}

// SetPlatform names the platform the run acts on; Write stamps it on every
// entry that names none.
func (j *Journal) SetPlatform(name string) {
	j.mu.Lock()
	j.platform = name
	j.mu.Unlock()
}

// DefaultDir is where journals live: $FAULTLINE_STATE if set, else
// $XDG_RUNTIME_DIR/faultline, else $TMPDIR/faultline-<uid>. Each user has
// their own; Open creates it 0700.
func DefaultDir() string {
	if d := os.Getenv("FAULTLINE_STATE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "faultline")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("faultline-%d", os.Getuid()))
}

// ErrUnsafeDir is returned (wrapped, with the directory and the fix) when
// the journal directory is not private to the current user.
var ErrUnsafeDir = errors.New("unsafe journal directory")

// CheckDir returns an error wrapping ErrUnsafeDir unless dir is a directory
// (not a symlink) owned by the current user and writable by nobody else. A
// missing dir gives an error satisfying errors.Is(err, fs.ErrNotExist).
func CheckDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("journal dir: %w", err)
	}
	fix := "remove it, or set FAULTLINE_STATE to a directory of your own with mode 0700"
	switch st, _ := fi.Sys().(*syscall.Stat_t); {
	case fi.Mode()&os.ModeSymlink != 0:
		return fmt.Errorf("%w: %s is a symlink; %s", ErrUnsafeDir, dir, fix)
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory; %s", ErrUnsafeDir, dir, fix)
	case st == nil || int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%w: %s is not owned by you (uid %d); %s", ErrUnsafeDir, dir, os.Geteuid(), fix)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: %s is writable by group or others (mode %v); fix: chmod 700 %s", ErrUnsafeDir, dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// Open returns the journal of run in dir, creating dir with mode 0700. It
// refuses a dir that CheckDir refuses.
func Open(dir, run string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal dir: %w", err)
	}
	if err := CheckDir(dir); err != nil {
		return nil, err
	}
	j := &Journal{dir: dir, run: run}
	if me, err := Identify(os.Getpid()); err == nil {
		j.owner = &me
	}
	return j, nil
}

// Run returns the name of the journal's run.
func (j *Journal) Run() string { return j.run }

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

func fileName(run, id string) string {
	return run + "--" + strings.NewReplacer("/", "_", " ", "_").Replace(id) + ".json"
}

func (j *Journal) path(id string) string { return filepath.Join(j.dir, fileName(j.run, id)) }

// Write records e (durably, mode 0600) before the caller acts on it.
func (j *Journal) Write(e Entry) error {
	e.Run, e.Owner, e.OwnerID = j.run, os.Getpid(), j.owner
	if e.Platform == "" {
		j.mu.Lock()
		e.Platform = j.platform
		j.mu.Unlock()
	}
	if e.Created.IsZero() {
		e.Created = time.Now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal %s: %w", e.ID, err)
	}
	p := j.path(e.ID)
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("journal %s: %w", e.ID, err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", e.ID, err)
	}
	return nil
}

// Remove deletes the entry with id; a missing entry is not an error.
func (j *Journal) Remove(id string) error {
	if err := os.Remove(j.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Active returns this run's fault entries: those whose kind is not
// KindProcess, KindNamespace, KindMount or KindNetwork.
func (j *Journal) Active() ([]Entry, error) {
	all, err := Read(j.dir)
	var out []Entry
	for _, e := range all {
		if e.Run == j.run && e.Kind != KindProcess && e.Kind != KindNamespace && e.Kind != KindMount && e.Kind != KindNetwork {
			out = append(out, e)
		}
	}
	return out, err
}

// Read returns every valid entry in dir, after checking dir with CheckDir
// (a missing dir holds no entries). A file is read only if it is a regular file owned by the current user and
// writable by nobody else, and kept only if it parses and is named after
// its run and ID; every other file is left out with an error (an unparsable
// file of ours is removed).
func Read(dir string) ([]Entry, error) {
	if err := CheckDir(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Entry
	var errs []error
	for _, f := range files {
		e, err := readEntry(f)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("journal entry %s: %w", f, err))
			continue
		}
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

// readEntry reads and checks one entry file.
func readEntry(f string) (Entry, error) {
	var e Entry
	fi, err := os.Lstat(f)
	if err != nil {
		return e, err
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		return e, fmt.Errorf("not a regular file (%v): ignored", fi.Mode().Type())
	case st == nil || int(st.Uid) != os.Geteuid():
		return e, errors.New("not owned by you: ignored")
	case fi.Mode().Perm()&0o022 != 0:
		return e, fmt.Errorf("writable by group or others (mode %v): ignored", fi.Mode().Perm())
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		_ = os.Remove(f)
		return e, fmt.Errorf("unparsable, removed: %w", err)
	}
	if e.Run == "" || filepath.Base(f) != fileName(e.Run, e.ID) {
		return e, fmt.Errorf("names run %q and id %q, not its file name: ignored", e.Run, e.ID)
	}
	return e, nil
}

// RemoveEntry deletes entry e from dir, as a reaper does once it has undone
// it; a missing entry is not an error.
func RemoveEntry(dir string, e Entry) error {
	if err := os.Remove(filepath.Join(dir, fileName(e.Run, e.ID))); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
