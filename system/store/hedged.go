package store

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Hedged reads with read, and when read fails, or has not answered within
// after, while held has an answer (a service's copy of a bucket, what it
// last served), returns held's answer instead, with stale true: a store
// node's loss leaves a bucket's leader silent, or refusing, for the
// seconds an election takes. With nothing held it waits for read, as if
// there were no hedge. A missing key (ErrNotFound) is an answer, never
// replaced by what is held.
func Hedged[T any](ctx context.Context, after time.Duration, read func(context.Context) (T, error), held func() (T, bool)) (v T, stale bool, err error) {
	type answer struct {
		v   T
		err error
	}
	ch := make(chan answer, 1) // the read may end after Hedged returns
	go func() {
		v, err := read(ctx)
		ch <- answer{v, err}
	}()
	t := time.NewTimer(after)
	defer t.Stop()
	var a answer
	select {
	case a = <-ch:
		if a.err == nil || missing(a.err) {
			return a.v, false, a.err
		}
	case <-t.C:
	}
	if v, ok := held(); ok {
		return v, true, nil
	}
	if a.err == nil {
		a = <-ch
	}
	return a.v, false, a.err
}

func missing(err error) bool {
	return errors.Is(err, ErrNotFound) || errors.Is(err, jetstream.ErrKeyNotFound)
}
