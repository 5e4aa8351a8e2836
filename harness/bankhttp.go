package harness

import (
	"net/http"
	"sync"
	"time"

	"github.com/faultline/faultline/groundwork/platform"
)

// bankTimeout bounds each of the harness's own calls to the bank's
// servers (the audit, the answers list, metrics, readiness, admin).
const bankTimeout = 20 * time.Second

var plainHTTP = &http.Client{Timeout: bankTimeout}

// url returns path on the bank's server at addr (an Endpoints address) as
// the harness reaches it: https when the bank speaks TLS.
func (s *suite) url(addr, path string) string {
	if ep, ok := s.plat.(platform.Endpoints); ok {
		return platform.URL(ep, addr, path)
	}
	return "http://" + addr + path
}

// http returns the harness's client for the bank's servers: with the
// harness's certificate when the bank speaks TLS.
func (s *suite) http() *http.Client {
	if ep, ok := s.plat.(platform.Endpoints); ok {
		return platform.HTTPClient(ep, bankTimeout)
	}
	return plainHTTP
}

// customerHTTP returns a client for calls from outside the mesh, as the
// load's customers make them (the ingress's TLS settings).
func (s *suite) customerHTTP() *http.Client {
	s.outsideOnce.Do(func() {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy, tr.TLSClientConfig = nil, s.ingress.TLS
		s.outside = &http.Client{Transport: tr, Timeout: bankTimeout}
	})
	return s.outside
}

// outsideClient is the suite's client for calls from outside the mesh.
type outsideClient struct {
	outsideOnce sync.Once
	outside     *http.Client
}
