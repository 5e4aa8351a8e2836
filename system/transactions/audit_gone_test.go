package transactions

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/process"
	"github.com/faultline/faultline/system/store"
	"github.com/faultline/faultline/system/store/storetest"
)

// TestAuditOfALedgerTheStoreLost: once the ledger's stream is gone from
// the store, the audit answers (rather than failing) that it is gone and
// not OK, with no entries: every acknowledged write is then counted
// missing by the money check, instead of the check being left unknown.
func TestAuditOfALedgerTheStoreLost(t *testing.T) {
	t.Setenv("BANK_STORE_REPLICAS", "1")
	_, js := storetest.Node(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := store.EnsureStream(ctx, js, store.LedgerStream)
	require.NoError(t, err)
	s := &service{p: &process.Process{JS: js}, stream: st}

	a, err := s.run(ctx)
	require.NoError(t, err)
	assert.True(t, a.OK, "an empty ledger is a clean one")
	assert.False(t, a.Gone)

	require.NoError(t, js.DeleteStream(ctx, store.LedgerStream))
	a, err = s.run(ctx)
	require.NoError(t, err)
	assert.False(t, a.OK)
	assert.True(t, a.Gone)
	assert.Zero(t, a.Entries)
	require.Len(t, a.Problems, 1)
	assert.Contains(t, a.Problems[0], "does not exist")
}
