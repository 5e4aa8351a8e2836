// Package harness runs Faultline scenarios: it deploys the bank on a
// platform once per test binary, drives load at it, injects each scenario's
// faults on schedule, judges the history with the checkers and saves the
// run (history, results, logs) for the report.
//
// Scenarios call Run from plain Go tests; TestMain calls Main. A scenario
// reads as a runbook: steady state, fault schedule, expectations.
//
//	func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
//
//	func TestCardProcessingReplicaKilled(t *testing.T) {
//		harness.Run(t, harness.Scenario{
//			Runbook: "Kill one card-processing replica; card payments keep working.",
//			Faults:  []harness.Step{{At: 0, For: 8 * time.Second, Fault: &faults.Kill{Target: faults.One("card-processing")}}},
//			Hold:    []string{"card-auth"},
//		})
//	}
package harness
