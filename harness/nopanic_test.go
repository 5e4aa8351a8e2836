package harness

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/groundwork/history"
)

// panicky is a fault whose steps panic where it is told to; it counts
// its recoveries.
type panicky struct {
	inject, report bool
	recovered      int
}

func (p *panicky) Name() string    { return "panicky" }
func (p *panicky) Validate() error { return nil }
func (p *panicky) Inject(context.Context, *faults.Env) error {
	if p.inject {
		panic("inject went wrong")
	}
	return nil
}
func (p *panicky) Verify(context.Context, *faults.Env) (string, error) { return "in", nil }
func (p *panicky) Report(context.Context, *faults.Env) (string, error) {
	if p.report {
		panic("report went wrong")
	}
	return "", nil
}
func (p *panicky) Recover(context.Context, *faults.Env) error { p.recovered++; return nil }

// TestAPanickingFaultIsStillRecovered: a panic in a fault's Inject or
// Report is that fault's error; it and every fault after it are
// recovered, and nothing is left in the suite's list of injected faults.
func TestAPanickingFaultIsStillRecovered(t *testing.T) {
	h, err := history.New(t.TempDir())
	require.NoError(t, err)
	s := &suite{hist: h, injected: map[string]func(){}}
	a, b, c := &panicky{inject: true}, &panicky{report: true}, &panicky{}
	injs := []*injection{
		s.inject(context.Background(), "sc", 0, a),
		s.inject(context.Background(), "sc", 1, b),
		s.inject(context.Background(), "sc", 2, c),
	}
	assert.Contains(t, injs[0].step.Error, "inject: panic: inject went wrong")
	s.recoverAll("sc", injs)
	assert.Equal(t, []int{1, 1, 1}, []int{a.recovered, b.recovered, c.recovered})
	assert.Empty(t, s.injected)
}
