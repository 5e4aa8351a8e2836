package platform_test

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/platform"
)

// signals records what was sent; instances in gone are no longer current.
type signals struct {
	sent []string
	gone map[string]bool
}

func (s *signals) Signal(instance string, inc platform.Incarnation, sig syscall.Signal) error {
	if s.gone[instance] {
		return fmt.Errorf("%s: %w", instance, platform.ErrNotCurrent)
	}
	name := map[syscall.Signal]string{syscall.SIGSTOP: "STOP", syscall.SIGCONT: "CONT"}[sig]
	s.sent = append(s.sent, fmt.Sprintf("%s/%s %s", instance, inc.ID, name))
	return nil
}

func (s *signals) Incarnation(string) (platform.Incarnation, bool) {
	return platform.Incarnation{}, false
}

func (s *signals) State(string, platform.Incarnation) (platform.State, error) {
	return platform.Running, nil
}

func TestFrozenContinuesExactlyWhatItStopped(t *testing.T) {
	var f platform.Frozen
	sig := &signals{gone: map[string]bool{}}
	a := platform.Target{Instance: "a-0", Incarnation: platform.Incarnation{ID: "1"}}
	b := platform.Target{Instance: "b-0", Incarnation: platform.Incarnation{ID: "7"}}
	require.NoError(t, f.Stop(sig, "f1", []platform.Target{a, b}))
	assert.Equal(t, []string{"a-0/1 STOP", "b-0/7 STOP"}, sig.sent)

	sig.sent, sig.gone["b-0"] = nil, true // b-0 died and was replaced meanwhile
	require.NoError(t, f.Continue(sig, "f1"), "an incarnation no longer current needs nothing")
	assert.Equal(t, []string{"a-0/1 CONT"}, sig.sent)

	sig.sent = nil
	require.NoError(t, f.Continue(sig, "f1"))
	assert.Empty(t, sig.sent, "a fault is continued once")
}
