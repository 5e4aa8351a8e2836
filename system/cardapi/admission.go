package cardapi

import (
	"time"

	"github.com/faultline/faultline/system/mesh"
)

// Admission of authorisations to card-processing, per card-api replica.
//
// Under the suite's load a replica has 1-5 authorisations in flight, each
// answered in 10-300 ms. When card-processing stops answering within its
// Deadline, in flight grows at once (Little's law: 25/s for 800 ms is 20),
// and every one of those authorisations holds card-processing, balance and
// the store busy for its whole budget before it times out and is voided.
// After the first timeouts card-api admits only a few at once and declines
// the excess "issuer unavailable" at once, without sending it on; the path
// recovers as soon as the cause is gone. A shed decline still queues its
// void (an earlier attempt at the same message may be applied late), and
// the void worker yields to live traffic. Answers that are slow but in time
// shed nothing (mesh.Admission), and neither does the ordinary burst: the
// limit never falls below admitMin, above the 10 or so in flight a replica
// sees at the suite's p99, so a stray timeout does not make card-api shed
// the traffic it would have answered (with a floor of 4, a healthy bank on
// a busy host shed 7-164 authorisations a scenario).
const (
	admitCooldown = Deadline / 2
	admitMin      = 16
	admitMax      = 64
	// voidPatience is how long a void waits for live authorisations to
	// leave room before it is sent anyway.
	voidPatience = 2 * time.Second
)

// ShedReason is the reason given with the "91 issuer unavailable" of an
// authorisation card-api shed: the network sees the code, an operator (and
// the harness) can tell a shed decline from one that ran out of time.
const ShedReason = "issuer unavailable: load shed"

func newAdmission() *mesh.Admission { return mesh.NewAdmission(admitCooldown, admitMin, admitMax) }
