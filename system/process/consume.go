package process

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/store"
)

// Handler handles one message of a durable consumer: nil acknowledges it,
// an error has it delivered again after a short delay (redeliverAfter).
type Handler func(ctx context.Context, m jetstream.Msg) error

// consumer is how one durable consumer of a stream is run.
type consumer struct {
	stream, name, filter string
	handler              Handler
	// pace, for deferred work, holds back the handler while the consumer
	// is behind (pace.go); nil handles each message as soon as it comes.
	pace *pacer
	// lanes is how many messages are handled at once: each subject keeps
	// to one lane, so one subject's messages are still handled in order.
	lanes int
}

// Consume runs handler for every message of stream delivered to the durable
// consumer name (filtered by subject when filter is set), until ctx is done.
// A handler error redelivers the message after a short delay; success acks
// it. Replicas of a service share the durable consumer, so each message is
// handled by one of them (at least once).
func (p *Process) Consume(ctx context.Context, stream, name, filter string, handler Handler) {
	p.consume(ctx, consumer{stream: stream, name: name, filter: filter, handler: handler, lanes: 1})
}

// ConsumeDeferred is Consume for deferred work (tier 2-3 workers): while the
// consumer is behind, its handler is paced as the comment on catchUpFactor
// explains, and messages handled while behind, and the time spent waiting
// on the pace, are counted in the consumer catch-up metrics. Up to lanes
// messages are handled at once, for a handler that waits on the store
// more than it works: one lane a subject (a customer's events, an
// account's entries), so that each subject's messages are handled in the
// order they came, one at a time. Lanes let a worker keep up; the pace,
// the same whatever the lanes, keeps it from catching up in a burst.
func (p *Process) ConsumeDeferred(ctx context.Context, stream, name, filter string, lanes int, handler Handler) {
	p.consume(ctx, consumer{stream: stream, name: name, filter: filter, handler: handler,
		pace: newPacer(catchUpFactor, catchUpFloor), lanes: max(1, lanes)})
}

func (p *Process) consume(ctx context.Context, c consumer) {
	for ctx.Err() == nil {
		err := p.consumeOnce(ctx, c)
		if err != nil && ctx.Err() == nil {
			p.Log.Warn("consumer stopped; restarting", "consumer", c.name, "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

func (p *Process) consumeOnce(ctx context.Context, c consumer) error {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	cons, err := p.JS.CreateOrUpdateConsumer(cctx, c.stream, jetstream.ConsumerConfig{
		Durable: c.name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 5 * time.Second,
		FilterSubject: c.filter, MaxAckPending: 256, Replicas: store.ConsumerReplicas(c.stream),
	})
	cancel()
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", c.name, c.stream, err)
	}
	// A handler takes 5-50 ms, and up to a few hundred while the store is
	// busy: pullBatch messages wait at most a few seconds in the buffer,
	// within AckWait, so none is redelivered while it waits its turn.
	msgs, err := cons.Messages(jetstream.PullMaxMessages(pullBatch), jetstream.PullExpiry(2*time.Second))
	if err != nil {
		return err
	}
	defer msgs.Stop()
	// What runs beside this attempt ends with it: Consume starts another
	// after an error, and each would otherwise live as long as the process.
	actx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { <-actx.Done(); msgs.Stop() }()
	if info := cons.CachedInfo(); info != nil {
		p.Metrics.SetConsumerBacklog(c.name, int(info.NumPending)+info.NumAckPending, info.Delivered.Consumer)
	}
	r := &consumeRun{p: p, c: c}
	r.handled.Store(time.Now().UnixNano())
	go p.readBacklogWhenIdle(actx, cons, c.name, &r.handled)
	handle := r.handle
	if c.lanes > 1 {
		var done func()
		handle, done = r.inLanes(ctx)
		defer done()
	}
	for {
		m, err := msgs.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return err
		}
		if err := r.paced(ctx, m); err != nil {
			return nil // ctx is done
		}
		handle(ctx, m)
	}
}

// consumeRun is one attempt of consumeOnce: what its lanes share.
type consumeRun struct {
	p       *Process
	c       consumer
	handled atomic.Int64 // when the last message was handled (Unix nanoseconds)

	mu     sync.Mutex
	latest uint64 // the latest delivery whose backlog was recorded
}

// paced waits, when c is deferred work and behind, for the pace to let m
// go. It returns an error only when ctx ends first.
func (r *consumeRun) paced(ctx context.Context, m jetstream.Msg) error {
	if r.c.pace == nil {
		return nil
	}
	md, err := m.Metadata()
	if err != nil {
		return nil
	}
	wait, behind := r.c.pace.next(md.Timestamp, time.Now())
	if behind {
		r.p.Metrics.ConsumerCaughtUp(r.c.name, wait)
	}
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// handle runs the handler on m, counts it, records the backlog it reports,
// and acknowledges m or has it delivered again.
func (r *consumeRun) handle(ctx context.Context, m jetstream.Msg) {
	hctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	err := r.c.handler(hctx, m)
	cancel()
	r.p.Metrics.ConsumerHandled(r.c.name, err == nil)
	r.handled.Store(time.Now().UnixNano())
	md, merr := m.Metadata()
	if merr == nil {
		r.recordBacklog(md, err != nil)
	}
	if err != nil {
		r.p.Log.Debug("handler failed; redelivering", "consumer", r.c.name, "err", err)
		delivered := uint64(1)
		if merr == nil {
			delivered = md.NumDelivered
		}
		_ = m.NakWithDelay(redeliverAfter(delivered))
		return
	}
	_ = m.Ack()
}

// inLanes starts c.lanes lanes and returns what hands a message to its
// subject's lane (waiting while that lane is full), and what stops the
// lanes once the messages handed to them are handled.
func (r *consumeRun) inLanes(ctx context.Context) (handle func(context.Context, jetstream.Msg), done func()) {
	lanes := make([]chan jetstream.Msg, r.c.lanes)
	var wg sync.WaitGroup
	for i := range lanes {
		// A short queue a lane: a message that waited long in one would
		// pass AckWait and be delivered a second time.
		lanes[i] = make(chan jetstream.Msg, laneQueue)
		wg.Go(func() {
			for m := range lanes[i] {
				r.handle(ctx, m)
			}
		})
	}
	handle = func(_ context.Context, m jetstream.Msg) {
		h := fnv.New32a()
		_, _ = h.Write([]byte(m.Subject()))
		lanes[h.Sum32()%uint32(len(lanes))] <- m
	}
	done = func() {
		for _, l := range lanes {
			close(l)
		}
		wg.Wait()
	}
	return handle, done
}

// laneQueue is how many messages wait for a lane that is busy.
const laneQueue = 2

// pullBatch is how many messages a consumer has delivered ahead of its
// handler.
const pullBatch = 16

// redeliverAfter is how long a message whose handler failed (delivered
// times so far) waits before it is delivered again: 500 ms, doubling with
// each failed delivery up to 8 s, so that deferred work whose dependency is
// down retries gently instead of sending every pending message at it twice
// a second.
func redeliverAfter(delivered uint64) time.Duration {
	const first, most = 500 * time.Millisecond, 8 * time.Second
	if delivered > 5 {
		return most
	}
	return first << (max(delivered, 1) - 1)
}

// backlogIdle is how long a consumer replica takes no message before it
// asks the store for its consumer's backlog: a message's own figure counts
// only what is not yet delivered, not what the other replica holds
// delivered and unacknowledged (its buffer; a killed replica's messages
// until AckWait), and a replica with nothing to do is the one that can
// afford to ask. At most once per backlogIdle per idle replica: asking
// every second from every consumer slowed the store (recordBacklog).
const backlogIdle = 5 * time.Second

// readBacklogWhenIdle sets the backlog from the store's own figures
// (pending plus acknowledgement pending) whenever the replica has handled
// nothing for backlogIdle, until ctx ends.
func (p *Process) readBacklogWhenIdle(ctx context.Context, cons jetstream.Consumer, name string, handled *atomic.Int64) {
	t := time.NewTicker(backlogIdle)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, handled.Load())) < backlogIdle {
			continue
		}
		ictx, cancel := context.WithTimeout(ctx, 2*time.Second)
		info, err := cons.Info(ictx)
		cancel()
		if err == nil {
			p.Metrics.SetConsumerBacklog(name, int(info.NumPending)+info.NumAckPending, info.Delivered.Consumer)
		}
	}
}

// recordBacklog sets the bank_consumer_backlog metric from the handled
// message's own metadata (the messages still pending after it, plus this
// one if it failed): free, unlike asking the store for the consumer's info,
// which every second from every consumer slowed the store enough to push
// card authorisations past their deadline. Lanes finish messages out of
// order; a message delivered before one already recorded says less.
func (r *consumeRun) recordBacklog(md *jetstream.MsgMetadata, failed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if md.Sequence.Consumer < r.latest {
		return
	}
	r.latest = md.Sequence.Consumer
	n := int(md.NumPending)
	if failed {
		n++
	}
	r.p.Metrics.SetConsumerBacklog(r.c.name, n, md.Sequence.Consumer)
}
