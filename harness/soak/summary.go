package soak

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/faultline/faultline/groundwork/check"
	"github.com/faultline/faultline/groundwork/result"
)

// Row is one scenario's verdicts over the soak's runs.
type Row struct {
	Scenario                string
	Valid, Invalid, Unknown int
}

// Alarm is one verdict other than valid: the run it came from and the
// first reason the run gave for it.
type Alarm struct {
	Run      int
	Scenario string
	Verdict  check.Verdict
	Reason   string
}

// Summary is a soak's verdicts, counted per scenario.
type Summary struct {
	Runs   int
	Rows   []Row   // by scenario name
	Alarms []Alarm // every invalid or unknown verdict, run by run
	// Broken are the runs that left no readable results, or whose go test
	// failed with no invalid verdict to show for it (a crash, a timeout).
	Broken []string
}

// Summarize counts each scenario's verdicts over outs.
func Summarize(outs []Outcome) Summary {
	s := Summary{Runs: len(outs)}
	rows := map[string]*Row{}
	for _, o := range outs {
		if o.Err != nil {
			s.Broken = append(s.Broken, fmt.Sprintf("run %d: %v", o.N, o.Err))
		}
		if o.Run == nil {
			continue
		}
		for _, sc := range o.Run.Scenarios {
			r := rows[sc.Name]
			if r == nil {
				r = &Row{Scenario: sc.Name}
				rows[sc.Name] = r
			}
			switch sc.Verdict {
			case check.Valid:
				r.Valid++
				continue
			case check.Invalid:
				r.Invalid++
			default:
				r.Unknown++
			}
			s.Alarms = append(s.Alarms, Alarm{Run: o.N, Scenario: sc.Name, Verdict: sc.Verdict, Reason: reason(sc)})
		}
	}
	for _, r := range rows {
		s.Rows = append(s.Rows, *r)
	}
	slices.SortFunc(s.Rows, func(a, b Row) int { return strings.Compare(a.Scenario, b.Scenario) })
	return s
}

// Failed reports whether any run had an invalid verdict or was broken.
func (s Summary) Failed() bool {
	for _, r := range s.Rows {
		if r.Invalid > 0 {
			return true
		}
	}
	return len(s.Broken) > 0
}

// reason is the first thing sc's results say about its verdict: its first
// failure, else the first check with the scenario's verdict (non-SLO
// checks first: an SLO window with too few requests alone does not make a
// scenario unknown).
func reason(sc result.Scenario) string {
	if sc.Verdict == check.Invalid && len(sc.Failures) > 0 {
		return firstLine(sc.Failures[0])
	}
	var first *check.Result
	for i, c := range sc.Checks {
		if c.Verdict != sc.Verdict {
			continue
		}
		if c.Check != "slo" {
			first = &sc.Checks[i]
			break
		}
		if first == nil {
			first = &sc.Checks[i]
		}
	}
	if first == nil {
		return "no check gave this verdict"
	}
	where := first.Check
	if first.Journey != "" {
		where += " " + first.Journey
	}
	if first.Window != "" {
		where += " in " + first.Window
	}
	return where + ": " + firstLine(first.Summary)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Write prints the table (scenario | valid | invalid | unknown), then each
// invalid or unknown verdict with its run and reason, then the broken runs.
func (s Summary) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\tvalid\tinvalid\tunknown\n")
	var total Row
	for _, r := range s.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\n", r.Scenario, r.Valid, r.Invalid, r.Unknown)
		total.Valid, total.Invalid, total.Unknown = total.Valid+r.Valid, total.Invalid+r.Invalid, total.Unknown+r.Unknown
	}
	fmt.Fprintf(tw, "all (%d runs)\t%d\t%d\t%d\n", s.Runs, total.Valid, total.Invalid, total.Unknown)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(s.Alarms) > 0 {
		fmt.Fprintln(w, "\nnot valid:")
	}
	for _, a := range s.Alarms {
		fmt.Fprintf(w, "  run %d %s %s: %s\n", a.Run, a.Scenario, a.Verdict, a.Reason)
	}
	if len(s.Broken) > 0 {
		fmt.Fprintln(w, "\nbroken runs:")
	}
	for _, b := range s.Broken {
		_, err := fmt.Fprintf(w, "  %s\n", b)
		if err != nil {
			return err
		}
	}
	return nil
}

// tally is one outcome in a few words, for progress lines.
func tally(o Outcome) string {
	if o.Run == nil {
		return fmt.Sprintf("no results (%v)", o.Err)
	}
	n := map[check.Verdict]int{}
	for _, sc := range o.Run.Scenarios {
		n[sc.Verdict]++
	}
	msg := fmt.Sprintf("%d valid, %d invalid, %d unknown", n[check.Valid], n[check.Invalid], n[check.Unknown])
	if o.Err != nil {
		msg += fmt.Sprintf(" (%v)", o.Err)
	}
	return msg
}
