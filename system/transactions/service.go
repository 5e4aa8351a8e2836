package transactions

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/faultline/faultline/system/mesh"
	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
)

// MetricDuplicates counts appends answered with the entry already stored
// under their key: a retried append that the ledger's deduplication kept
// to one entry.
const MetricDuplicates = "bank_ledger_duplicates_total"

type service struct {
	p      *process.Process
	stream jetstream.Stream
	dupes  prometheus.Counter
}

// Setup wires the transactions service into p.
func Setup(ctx context.Context, p *process.Process) error {
	st, err := store.EnsureStream(ctx, p.JS, store.LedgerStream)
	if err != nil {
		return err
	}
	dupes := prometheus.NewCounter(prometheus.CounterOpts{Name: MetricDuplicates, ConstLabels: prometheus.Labels{"service": p.Service},
		Help: "Appends answered with the entry already stored under their key (retries deduplicated)."})
	if err := p.Metrics.Registry.Register(dupes); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			dupes = are.ExistingCollector.(prometheus.Counter)
		}
	}
	s := &service{p: p, stream: st, dupes: dupes}
	p.Handle("POST /v1/ledger/append", s.append)
	p.Handle("GET /v1/ledger/accounts/{id}/last", s.last)
	p.Handle("GET /v1/audit", s.audit)
	return nil
}

func (s *service) append(w http.ResponseWriter, r *http.Request) error {
	var req AppendRequest
	if err := mesh.Decode(r, &req); err != nil {
		return err
	}
	e := req.Entry
	if err := validateEntry(e); err != nil {
		return err
	}
	// An account exists once the seeder opened it: the caller names the
	// entry it read last, and the new one must follow from it.
	if req.ExpectedSeq == 0 {
		return mesh.Errorf(http.StatusNotFound, CodeNoEntry, "account %s has no ledger entry", e.Account)
	}
	prev, err := s.get(r.Context(), req.ExpectedSeq)
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && prev.Account != e.Account):
		return mesh.Errorf(http.StatusConflict, CodeConflict, "seq %d is not account %s's", req.ExpectedSeq, e.Account)
	case err != nil:
		return err
	}
	if err := follows(prev, e); err != nil {
		return err
	}
	e.Time, e.Seq = time.Now().UTC(), 0
	data, _ := json.Marshal(e)
	ack, err := s.p.JS.Publish(r.Context(), store.LedgerSubject(e.Account), data,
		jetstream.WithMsgID(e.Key), jetstream.WithExpectLastSequencePerSubject(req.ExpectedSeq))
	if err != nil {
		if store.IsConflict(err) {
			return mesh.Errorf(http.StatusConflict, CodeConflict, "account %s moved past seq %d", e.Account, req.ExpectedSeq)
		}
		return err
	}
	if ack.Duplicate {
		s.dupes.Inc()
		orig, err := s.get(r.Context(), ack.Sequence)
		if err != nil {
			return err
		}
		mesh.WriteJSON(w, http.StatusOK, AppendResponse{Duplicate: true, Entry: orig})
		return nil
	}
	e.Seq = ack.Sequence
	mesh.WriteJSON(w, http.StatusOK, AppendResponse{Entry: e})
	return nil
}

func (s *service) get(ctx context.Context, seq uint64) (Entry, error) {
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return Entry{}, err
	}
	var e Entry
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return Entry{}, err
	}
	e.Seq = m.Sequence
	return e, nil
}

func (s *service) last(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	m, err := s.stream.GetLastMsgForSubject(r.Context(), store.LedgerSubject(id))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return mesh.Errorf(http.StatusNotFound, CodeNoEntry, "account %s has no ledger entry", id)
	}
	if err != nil {
		return err
	}
	var e Entry
	if err := json.Unmarshal(m.Data, &e); err != nil {
		return err
	}
	e.Seq = m.Sequence
	mesh.WriteJSON(w, http.StatusOK, e)
	return nil
}
