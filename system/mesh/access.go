package mesh

import (
	"crypto/tls"
	"net/http"
	"strconv"

	"github.com/faultline/faultline/system/identity"
)

// Policy says who may call a server's routes: the mesh description's
// (topology.MayCall and topology.MayActFor, for one service). Callers are
// named by their verified certificate ("" for a caller with none).
type Policy interface {
	// MayCall returns why caller may not call the route pattern, or nil.
	MayCall(caller, pattern string) error
	// MayActFor returns why caller may not make a call for a customer
	// (customer true: it sent X-Customer) or for none, or nil.
	MayActFor(caller string, customer bool) error
}

// WithTLS makes the server speak TLS with cfg (identity.ServerConfig) and
// authorise every route but the process's own (health, readiness, metrics,
// admin: see internalRoute) by policy, from the certificate its caller
// gave.
func WithTLS(cfg *tls.Config, policy Policy) ServerOption {
	return func(s *Server) {
		s.tls, s.policy = cfg.Clone(), policy
		verify := cfg.VerifyConnection
		s.tls.VerifyConnection = func(cs tls.ConnectionState) error {
			if verify != nil {
				if err := verify(cs); err != nil {
					return err
				}
			}
			s.metrics.handshakes.WithLabelValues(strconv.FormatBool(cs.DidResume)).Inc()
			return nil
		}
	}
}

// TLSConfig returns the server's TLS settings, nil when it speaks plain
// HTTP.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// authorised reports whether r's caller may call pattern, and answers 401
// (no certificate) or 403 when it may not.
func (s *Server) authorised(w http.ResponseWriter, r *http.Request, pattern string) bool {
	if s.policy == nil || pattern == "unmatched" {
		return true
	}
	caller := identity.Caller(r)
	err := s.policy.MayCall(caller, pattern)
	if err == nil && caller != "" {
		err = s.policy.MayActFor(caller, r.Header.Get(HeaderCustomer) != "")
	}
	switch {
	case err == nil:
		return true
	case caller == "":
		s.metrics.refused.WithLabelValues(pattern, "unauthenticated").Inc()
		WriteJSON(w, http.StatusUnauthorized, &Error{Code: "unauthenticated", Detail: err.Error()})
	default:
		s.metrics.refused.WithLabelValues(pattern, "forbidden").Inc()
		WriteJSON(w, http.StatusForbidden, &Error{Code: "forbidden", Detail: err.Error()})
	}
	return false
}
