package hostsetup

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLacksCap(t *testing.T) {
	full := "Name:\tx\nCapBnd:\t000001ffffffffff\n"
	lacks, err := lacksCap(full, capSysResource)
	require.NoError(t, err)
	require.False(t, lacks)
	// Every capability but CAP_SYS_RESOURCE (bit 24).
	without := "CapBnd:\t000001fffeffffff\n"
	lacks, err = lacksCap(without, capSysResource)
	require.NoError(t, err)
	require.True(t, lacks)
	_, err = lacksCap("Name:\tx\n", capSysResource)
	require.Error(t, err)
}

func TestStayRulesEndInReject(t *testing.T) {
	rules := stayRules()
	require.Len(t, rules, 3)
	require.Equal(t, []string{"-o", "docker0"}, rules[0][:2])
	require.Equal(t, []string{"-o", "br-+"}, rules[1][:2])
	require.Equal(t, "REJECT", rules[2][len(rules[2])-1])
	for _, r := range rules {
		require.Contains(t, r, comment)
	}
}

func TestJumpTarget(t *testing.T) {
	require.Equal(t, "REJECT", jumpTarget(`-A DOCKER-USER -m comment --comment "faultline: x" -j REJECT --reject-with icmp-port-unreachable`))
	require.Equal(t, "RETURN", jumpTarget(`-A DOCKER-USER -o br-+ -m comment --comment "faultline: x" -j RETURN`))
	require.Equal(t, "", jumpTarget(`-N DOCKER-USER`))
}
