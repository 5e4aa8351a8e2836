package identity

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serve starts a TLS server as name that answers the caller's name.
func serve(t *testing.T, ca *Authority, name string) string {
	t.Helper()
	creds, err := ca.Issue(name)
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, Caller(r))
	}))
	srv.TLS, err = creds.ServerConfig()
	require.NoError(t, err)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func call(t *testing.T, url string, cfg *tls.Config) (string, error) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestAServerLearnsWhichServiceCalls(t *testing.T) {
	ca, err := NewAuthority()
	require.NoError(t, err)
	url := serve(t, ca, "balance")
	cp, err := ca.Issue("card-processing")
	require.NoError(t, err)
	cfg, err := cp.ClientConfig("balance")
	require.NoError(t, err)
	who, err := call(t, url, cfg)
	require.NoError(t, err)
	assert.Equal(t, "card-processing", who)

	// A caller with no certificate is served, unnamed: the route decides.
	out, err := Outside(ca.CA())
	require.NoError(t, err)
	who, err = call(t, url, out)
	require.NoError(t, err)
	assert.Empty(t, who)
}

func TestACallerRefusesAServerThatIsNotTheOneItMeant(t *testing.T) {
	ca, err := NewAuthority()
	require.NoError(t, err)
	url := serve(t, ca, "cards")
	cp, err := ca.Issue("card-processing")
	require.NoError(t, err)
	cfg, err := cp.ClientConfig("balance")
	require.NoError(t, err)
	_, err = call(t, url, cfg)
	assert.ErrorContains(t, err, "certificate is valid for cards, not balance")

	// The harness takes any service of the run.
	any, err := cp.AnyService()
	require.NoError(t, err)
	_, err = call(t, url, any)
	assert.NoError(t, err)
}

func TestAnotherRunsCertificatesAreRefusedBothWays(t *testing.T) {
	ours, err := NewAuthority()
	require.NoError(t, err)
	theirs, err := NewAuthority()
	require.NoError(t, err)
	url := serve(t, ours, "balance")

	stranger, err := theirs.Issue("card-processing")
	require.NoError(t, err)
	cfg, err := stranger.ClientConfig("balance")
	require.NoError(t, err)
	_, err = call(t, url, cfg)
	assert.Error(t, err, "the stranger does not trust our server")

	// A stranger's certificate presented to our server, trusting our CA:
	// the handshake fails on the server's side.
	mixed := &Credentials{CA: ours.CA(), Cert: stranger.Cert, Key: stranger.Key}
	cfg, err = mixed.ClientConfig("balance")
	require.NoError(t, err)
	_, err = call(t, url, cfg)
	assert.Error(t, err, "our server does not take the stranger's certificate")

	anyOfTheirs, err := Outside(theirs.CA())
	require.NoError(t, err)
	_, err = call(t, url, anyOfTheirs)
	assert.Error(t, err, "Outside checks the chain even though it skips the name")
}

func TestCredentialsTravelInTheEnvironment(t *testing.T) {
	ca, err := NewAuthority()
	require.NoError(t, err)
	c, err := ca.Issue("cards")
	require.NoError(t, err)
	for _, kv := range c.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	got, err := FromEnv()
	require.NoError(t, err)
	name, err := got.Name()
	require.NoError(t, err)
	assert.Equal(t, "cards", name)

	t.Setenv(EnvKey, "")
	_, err = FromEnv()
	assert.ErrorContains(t, err, "2 of them are set")
	t.Setenv(EnvCA, "")
	t.Setenv(EnvCert, "")
	got, err = FromEnv()
	assert.NoError(t, err)
	assert.Nil(t, got, "none set: plain HTTP")
}

// A caller resumes its session on its next connection, at either replica
// of the service (they share a ticket key), and the server still knows who
// is calling: the verified certificate travels in the ticket.
func TestAResumedSessionStillNamesTheCaller(t *testing.T) {
	ca, err := NewAuthority()
	require.NoError(t, err)
	resumed := make(chan bool, 4)
	var urls []string
	for range 2 {
		creds, err := ca.Issue("balance") // each replica its own certificate
		require.NoError(t, err)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			resumed <- r.TLS.DidResume
			_, _ = io.WriteString(w, Caller(r))
		}))
		srv.TLS, err = creds.ServerConfig()
		require.NoError(t, err)
		srv.StartTLS()
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	cp, err := ca.Issue("card-processing")
	require.NoError(t, err)
	cfg, err := cp.ClientConfig("balance")
	require.NoError(t, err)
	for i := range 4 {
		// A new transport each time: a new connection, the same session cache.
		who, err := call(t, urls[i%2], cfg)
		require.NoError(t, err)
		assert.Equal(t, "card-processing", who)
		assert.Equal(t, i > 0, <-resumed, "connection %d resumed", i)
	}
}
