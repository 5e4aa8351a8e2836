package harness

import "github.com/faultline/faultline/reports"

func renderReport(dir string) error { return reports.WriteDir(dir) }
