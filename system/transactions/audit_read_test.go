package transactions

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeMsg is a ledger message; only Metadata and Data are implemented.
type fakeMsg struct {
	jetstream.Msg
	seq uint64
}

func (m fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.seq}}, nil
}

func (m fakeMsg) Data() []byte { return []byte("{}") }

type fakeBatch struct {
	msgs chan jetstream.Msg
	err  error
}

func (b fakeBatch) Messages() <-chan jetstream.Msg { return b.msgs }
func (b fakeBatch) Error() error                   { return b.err }

// fakeFetcher answers each Fetch with the next of its batches (sequence
// numbers), then with empty batches, as a consumer does when no message
// arrives within its wait.
type fakeFetcher struct {
	batches [][]uint64
	err     error // returned by the fetch after the batches
	fetches int
}

func (f *fakeFetcher) Fetch(int, ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	f.fetches++
	b := fakeBatch{msgs: make(chan jetstream.Msg, 100)}
	if len(f.batches) > 0 {
		for _, seq := range f.batches[0] {
			b.msgs <- fakeMsg{seq: seq}
		}
		f.batches = f.batches[1:]
	} else if f.err != nil {
		return nil, f.err
	}
	close(b.msgs)
	return b, nil
}

func TestReadLedger(t *testing.T) {
	cases := []struct {
		name    string
		state   jetstream.StreamState
		batches [][]uint64
		fetch   error
		read    []uint64 // handed to add, in order
		wantErr bool
	}{
		{name: "whole stream", state: jetstream.StreamState{Msgs: 5, FirstSeq: 1, LastSeq: 5},
			batches: [][]uint64{{1, 2, 3}, {4, 5}}, read: []uint64{1, 2, 3, 4, 5}},
		{name: "deleted entries are not missing", state: jetstream.StreamState{Msgs: 4, FirstSeq: 1, LastSeq: 5, NumDeleted: 1},
			batches: [][]uint64{{1, 2, 4, 5}}, read: []uint64{1, 2, 4, 5}},
		{name: "the last entry deleted", state: jetstream.StreamState{Msgs: 4, FirstSeq: 1, LastSeq: 5, NumDeleted: 1},
			batches: [][]uint64{{1, 2, 3, 4}}, read: []uint64{1, 2, 3, 4}},
		{name: "entries appended after the audit began are left out", state: jetstream.StreamState{Msgs: 3, FirstSeq: 1, LastSeq: 3},
			batches: [][]uint64{{1, 2, 3, 4}}, read: []uint64{1, 2, 3}},
		{name: "the read stops short", state: jetstream.StreamState{Msgs: 5, FirstSeq: 1, LastSeq: 5},
			batches: [][]uint64{{1, 2, 3}}, wantErr: true},
		{name: "the first fetch brings nothing", state: jetstream.StreamState{Msgs: 5, FirstSeq: 1, LastSeq: 5},
			wantErr: true},
		{name: "an entry is skipped", state: jetstream.StreamState{Msgs: 5, FirstSeq: 1, LastSeq: 5},
			batches: [][]uint64{{1, 2, 3}, {5}}, wantErr: true},
		{name: "a fetch fails", state: jetstream.StreamState{Msgs: 5, FirstSeq: 1, LastSeq: 5},
			batches: [][]uint64{{1, 2}}, fetch: errors.New("no responders"), wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var read []uint64
			f := &fakeFetcher{batches: c.batches, err: c.fetch}

			err := readLedger(context.Background(), c.state, f, func(seq uint64, _ []byte) { read = append(read, seq) })

			if c.wantErr {
				require.Error(t, err, "a partial read passed for a whole ledger; read %v", read)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.read, read)
		})
	}
}
