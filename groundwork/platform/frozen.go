package platform

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// Frozen is the bookkeeping of a Freezer whose freeze is SIGSTOP through
// its own Signals: which incarnations each fault stopped, so that Thaw
// continues exactly those (one that died or was replaced meanwhile needs
// nothing). Platforms journal the freeze themselves, before Stop. The zero
// value is ready; safe for concurrent use.
type Frozen struct {
	mu   sync.Mutex
	byID map[string][]Target
}

// Stop records targets under id and stops each with SIGSTOP.
func (s *Frozen) Stop(sig Signals, id string, targets []Target) error {
	s.mu.Lock()
	if s.byID == nil {
		s.byID = map[string][]Target{}
	}
	s.byID[id] = append([]Target(nil), targets...)
	s.mu.Unlock()
	for _, t := range targets {
		if err := sig.Signal(t.Instance, t.Incarnation, syscall.SIGSTOP); err != nil {
			return fmt.Errorf("freeze %s: %w", t.Instance, err)
		}
	}
	return nil
}

// Continue sends SIGCONT to every target Stop stopped under id that is
// still its instance's current incarnation, and forgets id.
func (s *Frozen) Continue(sig Signals, id string) error {
	s.mu.Lock()
	targets := s.byID[id]
	delete(s.byID, id)
	s.mu.Unlock()
	var errs []error
	for _, t := range targets {
		if err := sig.Signal(t.Instance, t.Incarnation, syscall.SIGCONT); err != nil && !errors.Is(err, ErrNotCurrent) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
