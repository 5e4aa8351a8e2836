package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/faultline/faultline/system/topology"
)

func TestEveryServiceHasASetup(t *testing.T) {
	for _, s := range topology.Services {
		assert.Contains(t, setups, s.Name)
	}
	assert.Len(t, setups, len(topology.Services))
}

func TestPeerFlag(t *testing.T) {
	p := peerFlag{}
	assert.NoError(t, p.Set("balance=127.0.0.1:1,127.0.0.1:2;cards=dns:cards.bank.svc:8080"))
	assert.Len(t, p, 2)
	assert.Error(t, p.Set("balance"))
	assert.Error(t, p.Set("balance=nohostport"))
}

func TestUnknownCommand(t *testing.T) {
	assert.Error(t, run([]string{"no-such-service"}))
}
