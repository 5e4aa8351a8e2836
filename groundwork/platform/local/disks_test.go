package local

import (
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestFaultFSCarriesAShareOfTheLoad: without the fault filesystem the
// local bank carries the default load; with it, a machine of fewer than
// faultFSFullLoadCores cores carries its share, and says why.
func TestFaultFSCarriesAShareOfTheLoad(t *testing.T) {
	t.Setenv(FaultFSEnv, "")
	share, why := loadShare()
	assert.Equal(t, 1.0, share)
	assert.Empty(t, why)
	t.Setenv(FaultFSEnv, "on")
	share, why = loadShare()
	if n := runtime.NumCPU(); n < faultFSFullLoadCores {
		assert.Equal(t, float64(n)/faultFSFullLoadCores, share)
		assert.Contains(t, why, FaultFSEnv)
	} else {
		assert.Equal(t, 1.0, share)
	}
}
