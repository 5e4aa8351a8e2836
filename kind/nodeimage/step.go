package nodeimage

import (
	"context"
	"fmt"
	"io"
	"time"
)

// StepError is a build that failed: which step, and why.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("node image: step %q failed: %v", e.Step, e.Err)
}
func (e *StepError) Unwrap() error { return e.Err }

// steps runs a build's steps in order, printing a line when each starts and
// when it ends with its time, and naming the failed step in the error.
type steps struct {
	out   io.Writer
	start time.Time
}

// run runs one step. done, when not nil, says whether the step's result is
// already there for the same inputs; the step is then skipped and says so.
func (s *steps) run(ctx context.Context, name string, done func() bool, do func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return &StepError{Step: name, Err: err}
	}
	if done != nil && done() {
		fmt.Fprintf(s.out, "node image: %-34s cached\n", name)
		return nil
	}
	fmt.Fprintf(s.out, "node image: %-34s ...\n", name)
	t := time.Now()
	if err := do(ctx); err != nil {
		return &StepError{Step: name, Err: err}
	}
	fmt.Fprintf(s.out, "node image: %-34s done in %v (total %v)\n", name,
		time.Since(t).Round(100*time.Millisecond), time.Since(s.start).Round(time.Second))
	return nil
}
