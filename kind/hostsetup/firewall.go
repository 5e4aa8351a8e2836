package hostsetup

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// comment marks the firewall rules this package owns.
const comment = "faultline: container traffic stays on this machine"

// chain6 is the IPv6 chain this package owns (Docker manages no IPv6 chains
// by default, so there is no DOCKER-USER to use).
const chain6 = "FAULTLINE-STAY"

// stayRules are the rules, in order, that let forwarded traffic leave only
// through a Docker bridge (to another container on this machine) and reject
// everything else: no container, node or pod can reach any address outside
// this machine, private ranges and the Service range included.
func stayRules() [][]string {
	c := []string{"-m", "comment", "--comment", comment}
	return [][]string{
		append([]string{"-o", "docker0"}, append(c, "-j", "RETURN")...),
		append([]string{"-o", "br-+"}, append(c, "-j", "RETURN")...),
		append(append([]string{}, c...), "-j", "REJECT"),
	}
}

// installFirewall puts the rules at the top of DOCKER-USER (IPv4; the chain
// dockerd always jumps to first) and of FORWARD through FAULTLINE-STAY
// (IPv6), unless they are there already in order. It returns what it
// changed.
func installFirewall(ctx context.Context) ([]string, error) {
	var changed []string
	if err := v4Firewall(ctx); err != nil {
		if err := placeRules(ctx, "iptables", "DOCKER-USER"); err != nil {
			return changed, err
		}
		changed = append(changed, "installed the IPv4 rules in DOCKER-USER: forwarded traffic leaves only through Docker bridges")
	}
	if _, err := exec.LookPath("ip6tables"); err != nil {
		// kind makes its network dual-stack: without ip6tables there is no
		// way to keep IPv6 on this machine.
		return changed, fmt.Errorf("%w: ip6tables not found (Debian's iptables package has it)", ErrUnsafe)
	}
	{
		if err := v6Firewall(ctx); err != nil {
			if err := placeRules(ctx, "ip6tables", chain6); err != nil {
				return changed, err
			}
			if jumpFirst(ctx, "ip6tables", chain6) != nil {
				_, _ = output(ctx, "ip6tables", "-D", "FORWARD", "-j", chain6)
				if _, err := output(ctx, "ip6tables", "-I", "FORWARD", "1", "-j", chain6); err != nil {
					return changed, err
				}
			}
			changed = append(changed, "installed the IPv6 rules in "+chain6+", first in FORWARD")
		}
	}
	return changed, nil
}

// placeRules makes chain exist and start with stayRules. The new rules go
// in first and older copies further down are removed after, so the chain is
// never without them.
func placeRules(ctx context.Context, cmd, chain string) error {
	if _, err := output(ctx, cmd, "-S", chain); err != nil {
		if _, err := output(ctx, cmd, "-N", chain); err != nil {
			return err
		}
	}
	rules := stayRules()
	for i := len(rules) - 1; i >= 0; i-- {
		if _, err := output(ctx, cmd, append([]string{"-I", chain, "1"}, rules[i]...)...); err != nil {
			return err
		}
	}
	out, err := output(ctx, cmd, "-S", chain)
	if err != nil {
		return err
	}
	// Rule numbers of older copies, deleted from the bottom up so the
	// numbers above stay right.
	var old []int
	n := 0
	for _, l := range strings.Split(out, "\n") {
		if !strings.HasPrefix(l, "-A "+chain+" ") {
			continue
		}
		n++
		if n > len(rules) && strings.Contains(l, comment) {
			old = append(old, n)
		}
	}
	for i := len(old) - 1; i >= 0; i-- {
		if _, err := output(ctx, cmd, "-D", chain, fmt.Sprint(old[i])); err != nil {
			return err
		}
	}
	return nil
}

// Firewall checks that container traffic cannot leave this machine: the
// rules start DOCKER-USER, FORWARD jumps to DOCKER-USER first (once dockerd
// has started), and the IPv6 rules are first in FORWARD. The kind platform
// refuses to create a cluster when it fails.
func Firewall(ctx context.Context) error {
	if err := v4Firewall(ctx); err != nil {
		return err
	}
	if err := jumpFirst(ctx, "iptables", "DOCKER-USER"); err != nil {
		return err
	}
	if _, err := exec.LookPath("ip6tables"); err != nil {
		return fmt.Errorf("%w: ip6tables not found, IPv6 cannot be kept on this machine", ErrUnsafe)
	}
	return v6Firewall(ctx)
}

func v4Firewall(ctx context.Context) error { return rulesFirst(ctx, "iptables", "DOCKER-USER") }

func v6Firewall(ctx context.Context) error {
	if err := rulesFirst(ctx, "ip6tables", chain6); err != nil {
		return err
	}
	return jumpFirst(ctx, "ip6tables", chain6)
}

// rulesFirst checks that chain starts with stayRules, in order.
func rulesFirst(ctx context.Context, cmd, chain string) error {
	out, err := output(ctx, cmd, "-S", chain)
	if err != nil {
		return fmt.Errorf("%w: the firewall rule is not installed (run `faultline kind host`)", ErrUnsafe)
	}
	var rules []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-A "+chain+" ") {
			rules = append(rules, l)
		}
	}
	want := stayRules()
	if len(rules) < len(want) {
		return fmt.Errorf("%w: %s %s has %d rules, the first %d must be faultline's (run `faultline kind host`)", ErrUnsafe, cmd, chain, len(rules), len(want))
	}
	for i, w := range want {
		if !strings.Contains(rules[i], comment) || jumpTarget(rules[i]) != w[len(w)-1] {
			return fmt.Errorf("%w: %s %s rule %d is %q, not faultline's (run `faultline kind host`)", ErrUnsafe, cmd, chain, i+1, rules[i])
		}
	}
	return nil
}

// jumpFirst checks that FORWARD's first rule jumps to chain.
func jumpFirst(ctx context.Context, cmd, chain string) error {
	out, err := output(ctx, cmd, "-S", "FORWARD")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "-A FORWARD") {
			if strings.TrimSpace(l) == "-A FORWARD -j "+chain {
				return nil
			}
			return fmt.Errorf("%w: %s FORWARD starts with %q, not a jump to %s (is dockerd running? run `faultline kind host`)", ErrUnsafe, cmd, l, chain)
		}
	}
	return fmt.Errorf("%w: %s FORWARD does not jump to %s (is dockerd running? run `faultline kind host`)", ErrUnsafe, cmd, chain)
}

// ErrUnsafe is a host on which container traffic could leave the machine.
var ErrUnsafe = errors.New("unsafe host")

// jumpTarget is the target of a rule as `iptables -S` prints it ("-j
// REJECT --reject-with icmp-port-unreachable" is REJECT).
func jumpTarget(rule string) string {
	f := strings.Fields(rule)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-j" {
			return f[i+1]
		}
	}
	return ""
}
