package local

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Instance ports come from below the kernel's ephemeral range, so that
// neither a sidecar proxy (bound to port 0) nor the source port of an
// outgoing connection can take the port of an instance while it restarts.
const (
	portLow  = 20000
	portHigh = 32000
)

// ephemeralLow is the bottom of the kernel's ephemeral port range.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}

// freePorts returns n distinct ports on 127.0.0.1 that are free now, from a
// random place in [portLow, min(portHigh, ephemeral range)).
func freePorts(n int) ([]int, error) {
	high := min(portHigh, ephemeralLow())
	span := high - portLow
	if span < n {
		return nil, fmt.Errorf("only %d ports below the ephemeral range, need %d", span, n)
	}
	start := rand.IntN(span)
	ports := make([]int, 0, n)
	for i := 0; i < span && len(ports) < n; i++ {
		p := portLow + (start+i)%span
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, fmt.Errorf("found %d free ports, need %d", len(ports), n)
	}
	return ports, nil
}
