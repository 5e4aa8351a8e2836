// Package scenarios holds Faultline's scenarios: one test a scenario, each
// readable as a runbook. They share one deployed bank per `go test` run.
//
//	go test ./scenarios                      # every scenario
//	go test ./scenarios -run CardProcessing  # one
//	go test ./scenarios -short               # every scenario, briefly
package scenarios

import (
	"os"
	"testing"

	"github.com/faultline/faultline/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
