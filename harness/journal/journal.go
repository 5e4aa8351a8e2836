// Package journal is the on-disk record of what a run started and injected:
// every process it launched and every fault before it is injected. A run
// that crashes or is killed leaves its journal behind; the next run (or
// `faultline reap`) reads it, kills the processes and undoes the faults.
//
// Files live in one directory shared by every run on the machine; each run
// owns a file per process or fault, named by its run ID. Safe for concurrent
// use.
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
	Run     string    `json:"run"`
	Owner   int       `json:"owner"` // PID of the harness that wrote it
	Kind    string    `json:"kind"`  // process, or a fault kind
	ID      string    `json:"id"`
	Target  string    `json:"target,omitempty"`
	PIDs    []int     `json:"pids,omitempty"` // processes to kill (process) or resume/kill (faults)
	Exe     string    `json:"exe,omitempty"`  // binary the PIDs run, checked before signalling
	Resume  bool      `json:"resume,omitempty"`
	Created time.Time `json:"created"`
}

// Journal writes entries for one run.
type Journal struct {
	dir string
	run string
	mu  sync.Mutex
}

// DefaultDir is where journals live unless FAULTLINE_STATE is set.
func DefaultDir() string {
	if d := os.Getenv("FAULTLINE_STATE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "faultline-journal")
}

// Open returns the journal of run in dir, creating dir.
func Open(dir, run string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("journal dir: %w", err)
	}
	return &Journal{dir: dir, run: run}, nil
}

// Dir returns the journal's directory.
func (j *Journal) Dir() string { return j.dir }

func (j *Journal) path(id string) string {
	return filepath.Join(j.dir, j.run+"--"+strings.NewReplacer("/", "_", " ", "_").Replace(id)+".json")
}

// Write records e (durably) before the caller acts on it.
func (j *Journal) Write(e Entry) error {
	e.Run, e.Owner = j.run, os.Getpid()
	if e.Created.IsZero() {
		e.Created = time.Now()
	}
	b, _ := json.Marshal(e)
	p := j.path(e.ID)
	tmp := p + ".tmp"
	f, err := os.Create(tmp)
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

// Active returns this run's entries whose kind is not "process".
func (j *Journal) Active() ([]Entry, error) {
	all, err := Read(j.dir)
	var out []Entry
	for _, e := range all {
		if e.Run == j.run && e.Kind != KindProcess {
			out = append(out, e)
		}
	}
	return out, err
}

// KindProcess marks a process entry.
const KindProcess = "process"

// Read returns every entry in dir.
func Read(dir string) ([]Entry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []Entry
	var errs []error
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // removed meanwhile
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			_ = os.Remove(f)
			continue
		}
		out = append(out, e)
	}
	return out, errors.Join(errs...)
}

// Alive reports whether pid is running the binary exe ("" skips the check).
func Alive(pid int, exe string) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	if exe == "" {
		return true
	}
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return false
	}
	return strings.TrimSuffix(link, " (deleted)") == exe
}

// Reaped says what Reap did.
type Reaped struct {
	Runs    []string
	Killed  []int
	Resumed []int
	Entries int
}

// Reap undoes what dead runs left in dir: it resumes paused processes, kills
// every process they started and removes their entries. Entries of runs
// whose harness is still alive are left alone.
func Reap(dir string) (Reaped, error) {
	var r Reaped
	entries, err := Read(dir)
	runs := map[string]bool{}
	for _, e := range entries {
		if e.Owner == os.Getpid() || Alive(e.Owner, "") {
			continue // a live run's, or our own
		}
		runs[e.Run] = true
		for _, pid := range e.PIDs {
			if !Alive(pid, e.Exe) {
				continue
			}
			if e.Resume {
				_ = syscall.Kill(pid, syscall.SIGCONT)
				r.Resumed = append(r.Resumed, pid)
			}
			if e.Kind == KindProcess || !e.Resume {
				_ = syscall.Kill(-pid, syscall.SIGKILL)
				_ = syscall.Kill(pid, syscall.SIGKILL)
				r.Killed = append(r.Killed, pid)
			}
		}
		r.Entries++
		_ = os.Remove(filepath.Join(dir, e.Run+"--"+strings.NewReplacer("/", "_", " ", "_").Replace(e.ID)+".json"))
	}
	for run := range runs {
		r.Runs = append(r.Runs, run)
	}
	return r, err
}
