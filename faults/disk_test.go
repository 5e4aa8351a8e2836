package faults_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/faults"
	"github.com/faultline/faultline/system/topology"
)

// TestDiskFaultsAreForStoreNodesOnly: disk and power faults name store
// nodes; anything else is refused before a run starts.
func TestDiskFaultsAreForStoreNodesOnly(t *testing.T) {
	for _, f := range []faults.Fault{
		faults.FailingDisk(faults.One("card-api")),
		faults.SlowDisk(faults.Instance("balance-0"), time.Millisecond, 0),
		&faults.PowerLoss{Target: faults.All("cards")},
	} {
		assert.Error(t, f.Validate(), f.Name())
	}
	for _, f := range []faults.Fault{
		faults.FailingDisk(faults.Instance(topology.Store + "-1")),
		faults.FullDisk(faults.One(topology.Store)),
		faults.SlowDisk(faults.All(topology.Store), 5*time.Millisecond, 50*time.Millisecond),
		faults.PowerFailure(),
		faults.PowerLossOf(2),
	} {
		assert.NoError(t, f.Validate(), f.Name())
	}
	assert.Error(t, (&faults.Disk{Target: faults.All(topology.Store)}).Validate(), "a disk fault with nothing wrong")
	assert.Equal(t, "disk: writes +5ms, fsyncs +50ms on all of store",
		faults.SlowDisk(faults.All(topology.Store), 5*time.Millisecond, 50*time.Millisecond).Name())
}

// TestDiskFaultsNeedDisks: on a platform with no fault filesystem the
// faults are unsupported (judged unknown), and nothing is journaled.
func TestDiskFaultsNeedDisks(t *testing.T) {
	p := newFake()
	for _, f := range []faults.Fault{faults.FullDisk(faults.All("svc")), &faults.PowerLoss{Target: faults.All("svc")}} {
		env := newEnv(t, p, "d1")
		err := f.Inject(context.Background(), env)
		require.ErrorIs(t, err, faults.ErrUnsupported, f.Name())
		active, err := env.Journal.Active()
		require.NoError(t, err)
		assert.Empty(t, active)
		assert.NoError(t, f.Recover(context.Background(), env))
	}
}
