// Package identity is who is calling in the bank's mesh: the run's
// certificate authority, the certificate it issues each service (and the
// harness), and the TLS settings that make every call between services
// mutually authenticated.
//
// A platform makes one Authority per run and gives each process its
// Credentials (in its environment: FromEnv). A service's certificate names
// the service (its common name and its one DNS name), so a caller checks
// that it reached the service it meant to (ClientConfig sets the server
// name to the dependency's), and a server learns which service is calling
// (Caller) and authorises the route from the call graph. The link proxies
// between instances are TCP and pass TLS through untouched.
package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"time"
)

// Environment variables that carry a process's credentials, in PEM.
const (
	EnvCA     = "BANK_TLS_CA"
	EnvCert   = "BANK_TLS_CERT"
	EnvKey    = "BANK_TLS_KEY"
	EnvTicket = "BANK_TLS_TICKET_KEY" // hex; optional: without it, tickets resume on this process only
)

// Life is how long a run's certificates are valid: longer than any run,
// short enough that a leaked one is soon worthless.
const Life = 7 * 24 * time.Hour

// Authority is a run's certificate authority. Its key never leaves the
// platform that made it.
type Authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewAuthority returns a new certificate authority, valid for Life.
func NewAuthority() (*Authority, error) {
	tmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "faultline bank run CA"},
		NotAfter:              time.Now().Add(Life),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	key, der, err := newCert(tmpl, nil, nil)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Authority{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// newCert makes a P-256 key and a certificate for it from tmpl (its
// serial, start and organisation filled in), signed by parent's key, or
// by its own when parent is nil.
func newCert(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber, tmpl.NotBefore = serial, time.Now().Add(-time.Hour)
	tmpl.Subject.Organization = []string{"faultline"}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	return key, der, nil
}

// CA returns the authority's certificate in PEM.
func (a *Authority) CA() []byte { return a.pem }

// Issue returns credentials for name (a service of the mesh description,
// or the harness): a certificate naming it, good for serving and calling.
func (a *Authority) Issue(name string) (*Credentials, error) {
	if name == "" {
		return nil, errors.New("identity: a certificate needs a name")
	}
	key, der, err := newCert(&x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		DNSNames:    []string{name},
		NotAfter:    a.cert.NotAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}, a.cert, a.key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Credentials{
		CA:     a.pem,
		Cert:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		Key:    pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		Ticket: a.ticketKey(name),
	}, nil
}

// ticketKey returns the session ticket key of name's servers: the same
// for every replica of a service, so that a caller resumes its session at
// whichever replica it reaches next, and its own to each service, so that
// a service can forge tickets for no server but its own. It is derived
// from the authority's key, which only the platform holds.
func (a *Authority) ticketKey(name string) []byte {
	d, _ := a.key.Bytes()
	m := hmac.New(sha256.New, d)
	fmt.Fprintf(m, "session-tickets:%s", name)
	return m.Sum(nil)
}

// curves are the key exchanges every side offers (ServerConfig).
var curves = []tls.CurveID{tls.X25519}

// sessionCache is how many servers' sessions a caller keeps to resume.
const sessionCache = 256

// Credentials are one party's certificate and key and the run's CA, in
// PEM, and its servers' session ticket key.
type Credentials struct {
	CA, Cert, Key []byte
	Ticket        []byte // 32 bytes; nil: tickets resume on this process only
}

// Env returns the credentials as environment variables (FromEnv).
func (c *Credentials) Env() []string {
	env := []string{EnvCA + "=" + string(c.CA), EnvCert + "=" + string(c.Cert), EnvKey + "=" + string(c.Key)}
	if len(c.Ticket) > 0 {
		env = append(env, EnvTicket+"="+hex.EncodeToString(c.Ticket))
	}
	return env
}

// FromEnv returns the credentials in the environment, nil if there are
// none (the bank then speaks plain HTTP), and an error if only some are
// there.
func FromEnv() (*Credentials, error) {
	c := &Credentials{CA: []byte(os.Getenv(EnvCA)), Cert: []byte(os.Getenv(EnvCert)), Key: []byte(os.Getenv(EnvKey))}
	switch n := btoi(len(c.CA) > 0) + btoi(len(c.Cert) > 0) + btoi(len(c.Key) > 0); n {
	case 0:
		return nil, nil
	case 3:
		if _, err := c.pair(); err != nil {
			return nil, err
		}
		t, err := hex.DecodeString(os.Getenv(EnvTicket))
		if err != nil || (len(t) != 0 && len(t) != 32) {
			return nil, fmt.Errorf("identity: %s must be 32 bytes in hex", EnvTicket)
		}
		if len(t) > 0 {
			c.Ticket = t
		}
		return c, nil
	default:
		return nil, fmt.Errorf("identity: %s, %s and %s go together; %d of them are set", EnvCA, EnvCert, EnvKey, n)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Name returns the name the credentials' certificate carries.
func (c *Credentials) Name() (string, error) {
	pair, err := c.pair()
	if err != nil {
		return "", err
	}
	return pair.Leaf.Subject.CommonName, nil
}

func (c *Credentials) pair() (tls.Certificate, error) {
	pair, err := tls.X509KeyPair(c.Cert, c.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("identity: certificate and key: %w", err)
	}
	return pair, nil
}

func (c *Credentials) roots() (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(c.CA) {
		return nil, errors.New("identity: no CA certificate in the credentials")
	}
	return pool, nil
}

// ServerConfig returns the TLS settings of a server: it presents its
// certificate and verifies a caller's if the caller gives one. Whether a
// route needs one is the server's policy (some routes take callers from
// outside the mesh, and health probes come with none).
//
// Handshakes are what TLS costs the mesh: a caller whose call times out
// closes its connection (HTTP/1.1 cannot cancel a request otherwise) and
// the next call opens another, so at the moment the mesh is slowest it
// also handshakes most. So every side keeps its handshakes cheap: X25519
// alone (no post-quantum hybrid, which costs a third more for a key that
// lives one run), and callers resume their sessions (tickets), which
// skips both certificates' signatures and chain checks, at any replica of
// the service (the replicas share a ticket key: Credentials.Ticket).
func (c *Credentials) ServerConfig() (*tls.Config, error) {
	pair, err := c.pair()
	if err != nil {
		return nil, err
	}
	roots, err := c.roots()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{pair},
		ClientCAs:    roots,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"http/1.1"},
		// The kubelet's probes and outside callers negotiate X25519 too.
		CurvePreferences: curves,
	}
	if len(c.Ticket) == 32 {
		cfg.SetSessionTicketKeys([][32]byte{[32]byte(c.Ticket)})
	}
	return cfg, nil
}

// ClientConfig returns the TLS settings of a caller of service: it
// presents its certificate and accepts only service's, issued by the run's
// CA, wherever it dialled (a link proxy, a port-forward).
func (c *Credentials) ClientConfig(service string) (*tls.Config, error) {
	pair, err := c.pair()
	if err != nil {
		return nil, err
	}
	roots, err := c.roots()
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates:       []tls.Certificate{pair},
		RootCAs:            roots,
		ServerName:         service,
		MinVersion:         tls.VersionTLS13,
		NextProtos:         []string{"http/1.1"},
		CurvePreferences:   curves,
		ClientSessionCache: tls.NewLRUClientSessionCache(sessionCache),
	}, nil
}

// AnyService returns the TLS settings of a caller that reaches many
// services at addresses that do not say which (the harness): it presents
// its certificate and accepts any certificate the run's CA issued.
func (c *Credentials) AnyService() (*tls.Config, error) {
	cfg, err := c.ClientConfig("")
	if err != nil {
		return nil, err
	}
	return anyName(cfg, cfg.RootCAs), nil
}

// Outside returns the TLS settings of a caller from outside the mesh (the
// card network, a customer's app): no certificate of its own; it accepts
// any certificate the run's CA issued, which stands in for the public CA
// a bank's entry points would have.
func Outside(ca []byte) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("identity: no CA certificate given")
	}
	return anyName(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13, NextProtos: []string{"http/1.1"},
		CurvePreferences: curves, ClientSessionCache: tls.NewLRUClientSessionCache(sessionCache)}, pool), nil
}

// anyName makes cfg verify the server's chain against roots but not its
// name.
func anyName(cfg *tls.Config, roots *x509.CertPool) *tls.Config {
	cfg.InsecureSkipVerify = true // the chain is verified below, the name is not
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("identity: the server gave no certificate")
		}
		opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		for _, c := range cs.PeerCertificates[1:] {
			opts.Intermediates.AddCert(c)
		}
		_, err := cs.PeerCertificates[0].Verify(opts)
		return err
	}
	return cfg
}

// Caller returns the name in the verified certificate r's caller gave, or
// "" if it gave none (or r did not come over TLS).
func Caller(r *http.Request) string {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return ""
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName
}
