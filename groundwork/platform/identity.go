package platform

import (
	"crypto/tls"
	"net/http"
	"sync"
	"time"

	"github.com/faultline/faultline/system/identity"
	"github.com/faultline/faultline/system/topology"
)

// Identity is the ability to speak to a bank whose calls are mutually
// authenticated (package identity): the platform made the run's
// certificate authority and issued every service its certificate.
type Identity interface {
	// OutsideTLS is the TLS settings of a caller from outside the mesh
	// (the load's card network and customers' apps): the run's CA, no
	// certificate of its own.
	OutsideTLS() *tls.Config
	// Credentials issues name (a service, or topology.Harness) its
	// certificate, for a test that calls a service as another would.
	Credentials(name string) (*identity.Credentials, error)
}

// RunIdentity is a run's certificate authority and what it issued; the
// platforms keep one each. Safe for concurrent use.
type RunIdentity struct {
	ca      *identity.Authority
	harness *tls.Config
	outside *tls.Config

	mu     sync.Mutex
	issued map[string]*identity.Credentials
}

// NewRunIdentity makes a run's certificate authority and the harness's
// certificate.
func NewRunIdentity() (*RunIdentity, error) {
	ca, err := identity.NewAuthority()
	if err != nil {
		return nil, err
	}
	r := &RunIdentity{ca: ca, issued: map[string]*identity.Credentials{}}
	h, err := r.Credentials(topology.Harness)
	if err != nil {
		return nil, err
	}
	if r.harness, err = h.AnyService(); err != nil {
		return nil, err
	}
	if r.outside, err = identity.Outside(ca.CA()); err != nil {
		return nil, err
	}
	return r, nil
}

// Credentials issues name its certificate, once per run.
func (r *RunIdentity) Credentials(name string) (*identity.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.issued[name]; ok {
		return c, nil
	}
	c, err := r.ca.Issue(name)
	if err != nil {
		return nil, err
	}
	r.issued[name] = c
	return c, nil
}

// HarnessTLS is the harness's TLS settings (Endpoints.TLS).
func (r *RunIdentity) HarnessTLS() *tls.Config { return r.harness }

// OutsideTLS implements Identity.
func (r *RunIdentity) OutsideTLS() *tls.Config { return r.outside }

// URL returns the URL of path on the bank's server at addr, reached from
// the harness: https when the bank speaks TLS (ep.TLS).
func URL(ep Endpoints, addr, path string) string {
	if ep.TLS() != nil {
		return "https://" + addr + path
	}
	return "http://" + addr + path
}

// transports holds one transport per TLS settings, so that the harness's
// many short calls reuse their connections.
var transports sync.Map // *tls.Config -> *http.Transport

// HTTPClient returns a client for the harness's calls to the bank's
// servers (URL), with its certificate when the bank speaks TLS, each call
// bounded by timeout.
func HTTPClient(ep Endpoints, timeout time.Duration) *http.Client {
	cfg := ep.TLS()
	if cfg == nil {
		return &http.Client{Timeout: timeout}
	}
	tr, ok := transports.Load(cfg)
	if !ok {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = cfg
		t.Proxy = nil
		tr, _ = transports.LoadOrStore(cfg, t)
	}
	return &http.Client{Transport: tr.(*http.Transport), Timeout: timeout}
}
