package local

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform"
)

// Freeze implements platform.Freezer with SIGSTOP: connections stay open
// and nothing answers. It journals each process's identity first, so that
// a crashed run's reap resumes exactly those processes (and nobody who got
// their PIDs); the signals go through the platform's process handles.
func (p *Platform) Freeze(_ context.Context, id string, targets []platform.Target) error {
	var pids []int
	var ids []journal.Proc
	var names []string
	for _, t := range targets {
		who, err := journal.Identify(t.Incarnation.PID)
		if err != nil {
			return fmt.Errorf("freeze %s: %w", t.Instance, err)
		}
		pids, ids, names = append(pids, t.Incarnation.PID), append(ids, who), append(names, t.Instance)
	}
	if err := p.journal.Write(journal.Entry{Kind: "pause", ID: id, Target: strings.Join(names, ","),
		PIDs: pids, Procs: ids, Exe: p.bin, Resume: true}); err != nil {
		return err
	}
	return p.frozen.Stop(p, id, targets)
}

// Thaw implements platform.Freezer: SIGCONT to every process Freeze
// stopped under id that is still its instance's current one (one that died
// meanwhile needs nothing), then the journal entry goes.
func (p *Platform) Thaw(_ context.Context, id string) error {
	return errors.Join(p.frozen.Continue(p, id), p.journal.Remove(id))
}
