package check

import (
	"fmt"

	"github.com/faultline/faultline/groundwork/history"
	"github.com/faultline/faultline/system/cardprocessing"
)

// ImpossibleAnswers are card authorisation answers that are wrong for every
// message the load sends: it only uses seeded cards that exist and that no
// journey freezes, so "invalid card" or "card restricted" means the bank
// gave a wrong answer (for example a starting replica answering 404 for a
// route it has not registered yet), not a decline.
var ImpossibleAnswers = map[string]string{
	cardprocessing.CodeInvalidCard: "invalid card",
	cardprocessing.CodeRestricted:  "card restricted",
}

// Answers checks that the bank never gave an answer that contradicts the
// seeded data: an existing, active card declined as invalid or restricted.
// Such answers are not failures to serve (the SLO counts those) but wrong
// answers, and one is enough to fail the scenario.
func Answers(ops []history.Op) Result {
	r := Result{Check: "answers", Verdict: Valid}
	n, wrong := 0, 0
	for _, o := range ops {
		if o.Journey != "card-auth" {
			continue
		}
		n++
		if why, ok := ImpossibleAnswers[o.Result]; ok {
			wrong++
			r.Verdict = Invalid
			if len(r.Examples) < MaxExamples {
				r.Examples = append(r.Examples, fmt.Sprintf("%s at %v: %s (%s) for a card that exists and is active", o.Key, o.Start, o.Result, why))
			}
		}
	}
	r.Summary = fmt.Sprintf("%d of %d card authorisations answered with a code the seeded data rules out", wrong, n)
	return r
}
