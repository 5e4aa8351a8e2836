package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/system/cardapi"
)

// bankClient calls the bank as the app and the card network do, or as the
// harness (its certificate: it may read any route), or as a service of the
// mesh (newClientAs).
type bankClient struct {
	t    testing.TB
	http *http.Client
}

// newClient returns a client with the harness's certificate.
func newClient(t testing.TB) *bankClient {
	return &bankClient{t: t, http: harnessHTTP(t)}
}

// harnessHTTP returns an HTTP client with the harness's certificate.
func harnessHTTP(t testing.TB) *http.Client {
	require.NotNil(t, shared, "the shared bank is not started")
	harnessOnce.Do(func() {
		harnessClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: shared.TLS()}}
	})
	return harnessClient
}

var (
	harnessOnce   sync.Once
	harnessClient *http.Client
)

// newClientAs returns a client with service's certificate, issued by the
// shared bank's authority: it calls as that service does.
func newClientAs(t testing.TB, service string) *bankClient {
	require.NotNil(t, shared, "the shared bank is not started")
	creds, err := shared.Credentials(service)
	require.NoError(t, err)
	cfg, err := creds.AnyService()
	require.NoError(t, err)
	return &bankClient{t: t, http: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}}
}

// do sends a JSON request and decodes a JSON answer; it returns the status.
func (c *bankClient) do(ctx context.Context, method, url, token, key string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(c.t, err)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	req.Header.Set("Content-Type", "application/json")
	signCard(req, body)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decode %s %s (%d): %w: %s", method, url, resp.StatusCode, err, b)
		}
	}
	return resp.StatusCode, nil
}

// signCard signs a request to card-api's network route as the card network
// does, with the shared bank's key; other requests are left alone.
func signCard(req *http.Request, body io.Reader) {
	if !strings.HasSuffix(req.URL.Path, "/v1/authorisations") || shared == nil {
		return
	}
	var b []byte
	if body != nil {
		b, _ = io.ReadAll(body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.ContentLength = int64(len(b))
	}
	req.Header.Set(cardapi.HeaderMAC, cardapi.Sign(shared.CardKey(), b))
}
