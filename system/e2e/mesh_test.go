// Package e2e_test runs the whole bank as local processes (3 store nodes and
// every service, 2 replicas of each critical one) and uses it end to end.
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/groundwork/journal"
	"github.com/faultline/faultline/groundwork/platform/local"
	"github.com/faultline/faultline/system/seed"
	"github.com/faultline/faultline/system/transactions"
)

var (
	shared     *local.Platform
	sharedData seed.Data
	sharedOnce sync.Once
	sharedErr  error
)

// The tests share one seeded bank, so each owns its customers. Customers
// 0-9 belong to tests that follow one customer's money; the load tests
// (burst, shed) take customers loadCustomers up to loadCustomers+
// loadCustomerCount-1, whose voids may still land after the test ends; 40-49
// belong to tests that need an account no other test writes to, not even
// late.
const (
	loadCustomers     = 10
	loadCustomerCount = 30
)

// bank returns the mesh shared by this package's tests, starting it once.
func bank(t *testing.T) (*local.Platform, seed.Data) {
	t.Helper()
	if testing.Short() {
		t.Skip("the whole mesh does not run in -short")
	}
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "faultline-e2e-")
		if err != nil {
			sharedErr = err
			return
		}
		j, err := journal.Open(journal.DefaultDir(), filepath.Base(dir))
		if err != nil {
			sharedErr = err
			return
		}
		_, _ = journal.Reap(journal.DefaultDir())
		shared, sharedErr = local.New(local.Options{RunDir: dir, Journal: j,
			Progress: func(f string, a ...any) { fmt.Printf("e2e: "+f+"\n", a...) }})
		if sharedErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if sharedErr = shared.Start(ctx); sharedErr != nil {
			return
		}
		sharedData, sharedErr = shared.Seed(ctx, 50, 1)
	})
	require.NoError(t, sharedErr)
	return shared, sharedData
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Stop(context.Background())
	}
	os.Exit(code)
}

// audit fetches the ledger audit, waiting until transfers have settled.
func audit(t *testing.T, p *local.Platform) transactions.Audit {
	t.Helper()
	c := newClient(t)
	addr := p.Instances("transactions")[0].Addr
	var a transactions.Audit
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, err := c.do(context.Background(), "GET", "https://"+addr+"/v1/audit?detail=1", "", "", nil, &a)
		if err == nil && status == 200 && a.Unsettled == 0 {
			return a
		}
		if time.Now().After(deadline) {
			require.NoError(t, err)
			require.Equal(t, 200, status)
			return a
		}
		time.Sleep(200 * time.Millisecond)
	}
}
