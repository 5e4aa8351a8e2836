package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
)

// The store's users. Every bank process connects as its service's user,
// the seeder as SeedUser, the harness as HarnessUser; each has a password
// derived from the run's store key (KeyEnv, which only the store nodes
// and the platform hold), so a service knows its own password and no
// other. A node started without the key takes no users and no passwords:
// that is for the store's own tests only (`bank store` refuses to start
// without it).
const (
	KeyEnv      = "BANK_STORE_KEY"      // hex: the store nodes' key
	PasswordEnv = "BANK_STORE_PASSWORD" // a process's own password
	SeedUser    = "seed"
	HarnessUser = "harness"
	// MinKeyBytes is the shortest store key a node takes.
	MinKeyBytes = 16
)

// Password returns user's password under the store key.
func Password(key []byte, user string) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "store-user:%s", user)
	return hex.EncodeToString(m.Sum(nil)[:24])
}

// KeyFromEnv reads the store key from KeyEnv.
func KeyFromEnv() ([]byte, error) {
	key, err := hex.DecodeString(os.Getenv(KeyEnv))
	if err != nil || len(key) < MinKeyBytes {
		return nil, fmt.Errorf("a store node needs the run's store key in %s: hex, at least %d bytes", KeyEnv, MinKeyBytes)
	}
	return key, nil
}

// writers names who may write each stream's subjects and each bucket:
// the one service that owns it, and the seeder for what it seeds. Nobody
// else may publish there, so no other process can put an entry in the
// ledger, an answer in card-api's record or an outcome in balance's.
var writers = map[string][]string{
	"ledger.>":                       {"transactions", SeedUser},
	"voids.>":                        {"card-api"},
	"events.>":                       {"transaction-enrichment"},
	"support.>":                      {"support"},
	"$KV." + BucketAccounts + ".>":   {"accounts", SeedUser},
	"$KV." + BucketAnswers + ".>":    {"card-api"},
	"$KV." + BucketCards + ".>":      {"cards", SeedUser},
	"$KV." + BucketBalance + ".>":    {"balance"},
	"$KV." + BucketBalanceIdm + ".>": {"balance"},
	"$KV." + BucketSessions + ".>":   {SeedUser},
	"$KV." + BucketMerchants + ".>":  {"merchant", "transaction-enrichment", SeedUser},
	"$KV." + BucketFeed + ".>":       {"feed-generator", "feed"},
	"$KV." + BucketNotified + ".>":   {"notifications"},
	"$KV." + BucketEmoji + ".>":      {"emoji"},
	"$KV." + BucketProfile + ".>":    {"profile"},
	"$KV." + BucketPots + ".>":       {"pots"},
	standInSubjects:                  {"card-api"},
}

// streamOf names the stream that holds a subject of writers.
var streamOf = map[string]string{"ledger.>": LedgerStream, "voids.>": VoidsStream, "events.>": EventsStream, "support.>": SupportStr}

// configurers returns who may change each stream's configuration (a
// bucket's is its stream's, KV_<bucket>): its writers, and for the
// sessions bucket edge too, which opens it at start, before the seeder has
// written it. Anyone else who uses a stream binds to it as it is
// (EnsureStream, EnsureKV), and fails, to retry, when it is not as the
// bank wants it: no service but the owner can shorten the ledger's
// retention or turn its deduplication off.
func configurers() map[string][]string {
	out := map[string][]string{}
	for subject, who := range writers {
		if subject == standInSubjects {
			continue // one stream per store node, below
		}
		name, ok := streamOf[subject]
		if !ok {
			bucket := strings.TrimSuffix(strings.TrimPrefix(subject, "$KV."), ".>")
			name = "KV_" + bucket
		}
		out[name] = slices.Clone(who)
	}
	for _, j := range StandInJournals() {
		out[j.Stream] = slices.Clone(writers[standInSubjects])
	}
	out["KV_"+BucketSessions] = append(out["KV_"+BucketSessions], "edge")
	return out
}

// destructive is what only the harness may do: delete or purge a stream
// or its messages, or act on the cluster's meta layer.
var destructive = []string{
	"$JS.API.STREAM.DELETE.>",
	"$JS.API.STREAM.PURGE.>",
	"$JS.API.STREAM.MSG.DELETE.>",
	"$JS.API.ACCOUNT.PURGE.>",
	"$JS.API.META.>",
	"$JS.API.SERVER.>",
}

// users returns the store's users under key: one per service, the seeder
// and the harness, each allowed to publish anywhere but where it must not
// write (writers, destructive).
func users(key []byte, services []string) []*server.User {
	names := append(slices.Clone(services), SeedUser, HarnessUser)
	config := configurers()
	var out []*server.User
	for _, name := range names {
		var deny []string
		if name != HarnessUser {
			deny = slices.Clone(destructive)
			for subject, who := range writers {
				if !slices.Contains(who, name) {
					deny = append(deny, subject)
				}
			}
			for stream, who := range config {
				if !slices.Contains(who, name) {
					deny = append(deny, "$JS.API.STREAM.UPDATE."+stream)
				}
			}
			slices.Sort(deny)
		}
		out = append(out, &server.User{Username: name, Password: Password(key, name),
			Permissions: &server.Permissions{Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: deny}}})
	}
	return out
}
