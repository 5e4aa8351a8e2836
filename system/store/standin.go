package store

import (
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The stand-in journal is card-api's record of the authorisations it
// answered alone, while the card path's streams and buckets were electing
// leaders (docs/BANK.md, "Stand-in"). It must take a record while any one
// store node is lost, so it is not one replicated stream, which would have
// a leader to lose, but one single-replica stream per store node, pinned to
// that node by the node's tag (NodeTag). A single-replica stream has no
// election: while one node is killed, paused or cut off from the others,
// the journals on the other two take a record at once. card-api writes
// each record to every journal, over a connection to each node
// (ConnectEach), and counts it durable once a majority has it.
const (
	standInPrefix   = "STANDIN_"
	standInSubjects = "standin.>" // every journal's subjects
	// standInMaxRecords bounds each journal: a full journal refuses new
	// records, and a stand-in answer that a majority of the journals do not
	// take is not given (card-api answers 503 and the network resends): the
	// bank's last bound on answers it has not yet settled.
	standInMaxRecords = 100_000
)

// StandInJournal is the stand-in journal kept on one store node.
type StandInJournal struct {
	Stream string // STANDIN_<k>
	Node   string // the store node that holds it (store-<k>); "" when the store is one node
	Prefix string // its subjects are Prefix + the network's message id
}

// StandInJournals returns the journals, one per store node (Replicas),
// or one unpinned journal when the store is a single node.
func StandInJournals() []StandInJournal {
	n := Replicas()
	out := make([]StandInJournal, n)
	for k := range n {
		out[k] = StandInJournal{Stream: fmt.Sprintf("%s%d", standInPrefix, k), Prefix: fmt.Sprintf("standin.%d.", k)}
		if n > 1 {
			out[k].Node = fmt.Sprintf("store-%d", k)
		}
	}
	return out
}

// Subject is the subject of msgid's record in j.
func (j StandInJournal) Subject(msgid string) string { return j.Prefix + msgid }

// NodeTag is the placement tag a store node carries: a stream placed with
// it lives on that node alone.
func NodeTag(node string) string { return "node:" + node }

// standInStream returns the configuration of the journal named name, and
// whether name is one.
func standInStream(name string) (jetstream.StreamConfig, bool) {
	for _, j := range StandInJournals() {
		if j.Stream != name {
			continue
		}
		cfg := jetstream.StreamConfig{
			Name:     j.Stream,
			Subjects: []string{j.Prefix + ">"},
			Replicas: 1,
			Storage:  jetstream.FileStorage,
			// Settled records are removed (work queue); an unsettled one is
			// never dropped, so a full journal refuses new ones instead.
			Retention:  jetstream.WorkQueuePolicy,
			Duplicates: DedupWindow,
			MaxMsgs:    standInMaxRecords,
			Discard:    jetstream.DiscardNew,
			// Any node may answer a read of a record: there is one replica.
			AllowDirect: true,
		}
		if j.Node != "" {
			cfg.Placement = &jetstream.Placement{Tags: []string{NodeTag(j.Node)}}
		}
		return cfg, true
	}
	return jetstream.StreamConfig{}, false
}

// StandInWait is how long a journal write waits for its node's
// acknowledgement: the node is local to the write (no replication), so an
// answer takes a few milliseconds, and one that takes longer is from a
// node that is paused or overloaded, which the other journals cover.
const StandInWait = 150 * time.Millisecond

// ConsumerReplicas returns how many replicas a durable consumer on stream
// has: as many as the stream's, which for a stand-in journal is one.
func ConsumerReplicas(stream string) int {
	if _, ok := standInStream(stream); ok {
		return 1
	}
	return Replicas()
}
