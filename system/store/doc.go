// Package store is the bank's replicated store: a NATS JetStream cluster
// (nats-server embedded in `bank store`), the buckets and streams every
// service owns (database per service), and how a process connects to it.
//
// Every bucket and stream is replicated to Replicas() nodes (3 by default),
// so losing any one store node loses no acknowledged write.
//
// It is not an ORM: services use the jetstream API directly.
package store
