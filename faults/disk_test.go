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

// TestDataDamageIsValidated: data damage names a store node, a known kind
// of damage, and for corruption the stream whose files it hits.
func TestDataDamageIsValidated(t *testing.T) {
	assert.NoError(t, faults.LoseDisk(1).Validate())
	assert.NoError(t, faults.CorruptStream(0, faults.FlipBits, "LEDGER").Validate())
	assert.Error(t, faults.CorruptStream(1, faults.TruncateData, "").Validate(), "no stream")
	assert.Error(t, (&faults.Data{Node: "store-7", Damage: faults.WipeData}).Validate(), "no such node")
	assert.Error(t, (&faults.Data{Node: "store-1", Damage: "melted"}).Validate())
	assert.Equal(t, "store-1's LEDGER data files truncated", faults.CorruptStream(1, faults.TruncateData, "LEDGER").Name())
}
