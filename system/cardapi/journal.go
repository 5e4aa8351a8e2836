package cardapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/faultline/faultline/system/cardprocessing"
	"github.com/faultline/faultline/system/store"
)

// journalRecord is an answer card-api gave that the answers bucket may not
// hold yet: one it decided alone (StandIn), or card-processing's answer
// whose record failed. Settlement (settle.go) records it and makes the
// ledger agree with it.
type journalRecord struct {
	Request cardprocessing.AuthRequest  `json:"request"`
	Answer  cardprocessing.AuthResponse `json:"answer"` // with the request's digest
	StandIn bool                        `json:"stand_in"`
	Account string                      `json:"account,omitempty"` // as card-api's copy of the card said
	Replica string                      `json:"replica"`
	Time    time.Time                   `json:"time"`
}

// journal writes records to the stand-in journals (store.StandInJournals),
// each over the connection to the store node that keeps it, and reads
// them back. A record is durable once a majority of the journals hold it:
// with one node lost, the other two still do, and any read that reaches a
// majority finds it.
type journal struct {
	conns    []*store.NodeConn // one per store node
	js       []jetstream.JetStream
	journals []store.StandInJournal
}

// newJournal returns the journal written over conns, one per store node.
func newJournal(conns []*store.NodeConn) (*journal, error) {
	j := &journal{conns: conns, journals: store.StandInJournals()}
	for _, nc := range conns {
		js, err := jetstream.New(nc.Conn)
		if err != nil {
			return nil, err
		}
		j.js = append(j.js, js)
	}
	return j, nil
}

// majority is how many journals must take a record, or answer a read.
func (j *journal) majority() int { return len(j.journals)/2 + 1 }

// connFor returns the connection to the node that keeps jl, if it is
// connected now, and its JetStream context.
func (j *journal) connFor(jl store.StandInJournal) (*nats.Conn, jetstream.JetStream, bool) {
	for i, nc := range j.conns {
		if node, up := nc.Node(); up && (jl.Node == "" || node == jl.Node) {
			return nc.Conn, j.js[i], true
		}
	}
	return nil, nil, false
}

// write sends rec to every journal at once and returns when a majority has
// taken it, or every journal has answered or had store.StandInWait.
func (j *journal) write(ctx context.Context, rec journalRecord) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	results := make(chan error, len(j.journals))
	for _, jl := range j.journals {
		go func() {
			_, js, ok := j.connFor(jl)
			if !ok {
				results <- fmt.Errorf("%s: store node %s not connected", jl.Stream, jl.Node)
				return
			}
			wctx, cancel := context.WithTimeout(ctx, store.StandInWait)
			defer cancel()
			_, err := js.Publish(wctx, jl.Subject(rec.Request.MessageID), b,
				jetstream.WithMsgID("standin:"+rec.Request.MessageID), jetstream.WithRetryAttempts(0))
			if err != nil {
				err = fmt.Errorf("%s: %w", jl.Stream, err)
			}
			results <- err
		}()
	}
	took := 0
	var errs []error
	for range j.journals {
		if err := <-results; err != nil {
			errs = append(errs, err)
		} else if took++; took >= j.majority() {
			return nil
		}
	}
	return fmt.Errorf("stand-in record of %s taken by %d of %d journals: %w", rec.Request.MessageID, took, len(j.journals), errors.Join(errs...))
}

// errJournalUnsure says a read reached too few journals to tell whether a
// record is there.
var errJournalUnsure = errors.New("too few stand-in journals answered")

// read returns the record of msgid from any journal that holds it. Found
// false with no error means a majority of the journals answered and none
// holds one (a record is an answer only once a majority holds it, so a
// majority that holds none is enough: the journal on a paused node is not
// waited for); errJournalUnsure that too few answered to tell.
func (j *journal) read(ctx context.Context, msgid string) (rec journalRecord, found bool, err error) {
	type answer struct {
		rec   journalRecord
		found bool
		err   error
	}
	answers := make(chan answer, len(j.journals))
	for _, jl := range j.journals {
		go func() {
			var a answer
			a.rec, a.found, a.err = j.readOne(ctx, jl, msgid)
			answers <- a
		}()
	}
	answered := 0
	for range j.journals {
		a := <-answers
		switch {
		case a.found:
			return a.rec, true, nil
		case a.err == nil:
			if answered++; answered >= j.majority() {
				return rec, false, nil
			}
		}
	}
	return rec, false, errJournalUnsure
}

// readOne asks one journal's node directly for msgid's record (a direct
// get, which the node answers itself).
func (j *journal) readOne(ctx context.Context, jl store.StandInJournal, msgid string) (journalRecord, bool, error) {
	var rec journalRecord
	nc, _, ok := j.connFor(jl)
	if !ok {
		return rec, false, fmt.Errorf("%s: store node %s not connected", jl.Stream, jl.Node)
	}
	rctx, cancel := context.WithTimeout(ctx, store.StandInWait)
	defer cancel()
	req, _ := json.Marshal(map[string]string{"last_by_subj": jl.Subject(msgid)})
	m, err := nc.RequestWithContext(rctx, "$JS.API.DIRECT.GET."+jl.Stream, req)
	if err != nil {
		return rec, false, fmt.Errorf("%s: %w", jl.Stream, err)
	}
	switch m.Header.Get("Status") {
	case "":
	case "404":
		return rec, false, nil
	default:
		return rec, false, fmt.Errorf("%s: direct get: %s %s", jl.Stream, m.Header.Get("Status"), m.Header.Get("Description"))
	}
	if err := json.Unmarshal(m.Data, &rec); err != nil {
		return rec, false, fmt.Errorf("%s: record of %s: %w", jl.Stream, msgid, err)
	}
	return rec, true, nil
}

// watchHeld sets held, every interval until ctx ends, to whether any
// journal holds a record or could not be asked, so that lookups read the
// journals only then, not on every authorisation in steady state.
func watchHeld(ctx context.Context, j *journal, held *atomic.Bool, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		some := false
		for _, jl := range j.journals {
			n, err := j.size(ctx, jl)
			some = some || err != nil || n > 0
		}
		held.Store(some)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// size returns how many records jl holds, as its node says.
func (j *journal) size(ctx context.Context, jl store.StandInJournal) (uint64, error) {
	_, js, ok := j.connFor(jl)
	if !ok {
		return 0, fmt.Errorf("%s: store node %s not connected", jl.Stream, jl.Node)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	s, err := js.Stream(sctx, jl.Stream)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.Msgs, nil
}
