package cluster

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// kubeadm's Corefile for Kubernetes 1.34.
const kubeadmCorefile = `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    loop
    reload
    loadbalance
}
`

func TestWithoutForward(t *testing.T) {
	out, changed := withoutForward(kubeadmCorefile)
	require.True(t, changed)
	require.NotContains(t, out, "forward")
	require.NotContains(t, out, "max_concurrent")
	require.Contains(t, out, "kubernetes cluster.local")
	require.Contains(t, out, "prometheus :9153\n    cache 30 {")
	again, changed := withoutForward(out)
	require.False(t, changed)
	require.Equal(t, out, again)

	one, changed := withoutForward(".:53 {\n    kubernetes cluster.local\n    forward . 8.8.8.8\n    cache 30\n}\n")
	require.True(t, changed)
	require.Equal(t, ".:53 {\n    kubernetes cluster.local\n    cache 30\n}\n", one)
}
