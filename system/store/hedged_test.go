package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestHedgedAnswersWhatIsHeldOnlyWhenTheStoreCannot: a read that answers
// in time is the answer, a missing key included; a read that is slow or
// fails gives way to what is held, marked stale; with nothing held, a slow
// read is waited for and a failed one is the error.
func TestHedgedAnswersWhatIsHeldOnlyWhenTheStoreCannot(t *testing.T) {
	ctx := context.Background()
	const after = 50 * time.Millisecond
	held := func() (string, bool) { return "held", true }
	none := func() (string, bool) { return "", false }
	answers := func(v string, err error, took time.Duration) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { time.Sleep(took); return v, err }
	}
	down := errors.New("no responders")

	for _, c := range []struct {
		name      string
		read      func(context.Context) (string, error)
		held      func() (string, bool)
		want      string
		wantStale bool
		wantErr   error
		atLeast   time.Duration
	}{
		{"in time", answers("store", nil, 0), held, "store", false, nil, 0},
		{"missing, in time", answers("", ErrNotFound, 0), held, "", false, ErrNotFound, 0},
		{"slow, held", answers("store", nil, 10*after), held, "held", true, nil, after},
		{"failed, held", answers("", down, 0), held, "held", true, nil, 0},
		{"slow, nothing held", answers("store", nil, 3*after), none, "store", false, nil, 3 * after},
		{"failed, nothing held", answers("", down, 0), none, "", false, down, 0},
	} {
		start := time.Now()
		v, stale, err := Hedged(ctx, after, c.read, c.held)
		took := time.Since(start)
		assert.Equal(t, c.want, v, c.name)
		assert.Equal(t, c.wantStale, stale, c.name)
		assert.ErrorIs(t, err, c.wantErr, c.name)
		if c.wantErr == nil {
			assert.NoError(t, err, c.name)
		}
		assert.GreaterOrEqual(t, took, c.atLeast, c.name)
		assert.Less(t, took, c.atLeast+5*after, c.name)
	}
}
