package reports

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"

	"github.com/faultline/faultline/groundwork/result"
)

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     float64     `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      float64       `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	Output    string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

// WriteJUnit writes dir/junit.xml: one test case per scenario, failed when
// its verdict is invalid, skipped (with the reason) when it is unknown.
func WriteJUnit(dir string, run *result.Run) error {
	s := junitSuite{Name: "faultline/" + run.ID, Time: run.Duration.Seconds()}
	for _, sc := range run.Scenarios {
		c := junitCase{Name: sc.Name, ClassName: "faultline.scenarios", Time: (sc.End - sc.Start).Seconds(), Output: sc.Runbook}
		switch sc.Verdict {
		case "invalid":
			s.Failures++
			msg := "invalid"
			if len(sc.Failures) > 0 {
				msg = strings.SplitN(sc.Failures[0], "\n", 2)[0]
			}
			c.Failure = &junitMessage{Message: msg, Body: strings.Join(sc.Failures, "\n")}
		case "unknown":
			s.Skipped++
			c.Skipped = &junitMessage{Message: "verdict unknown: the checks could not decide (see the report)"}
		}
		s.Cases = append(s.Cases, c)
		s.Tests++
	}
	b, err := xml.MarshalIndent(junitSuites{Suites: []junitSuite{s}}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "junit.xml"), append([]byte(xml.Header), b...), 0o644)
}
