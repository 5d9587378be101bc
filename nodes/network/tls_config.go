package network

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/runnel-io/runnel/engine"
)

// TLSConfigConfig is the configuration of a tls-config config node, with
// Node-RED's property names: certificate, key and CA as file paths (cert,
// key, ca) or inline PEM in the node's credentials (certdata, keydata,
// cadata, as Node-RED keeps uploaded files; certname, keyname and caname
// are those files' names).
type TLSConfigConfig struct {
	Cert             string `json:"cert" label:"Certificate file" help:"Client certificate (PEM), for brokers that require one"`
	Key              string `json:"key" label:"Private key file" help:"The client certificate's key (PEM)"`
	CA               string `json:"ca" label:"CA certificate file" help:"Empty: the system's CAs"`
	CertName         string `json:"certname" label:"Uploaded certificate" kind:"hidden"`
	KeyName          string `json:"keyname" label:"Uploaded key" kind:"hidden"`
	CAName           string `json:"caname" label:"Uploaded CA certificate" kind:"hidden"`
	ServerName       string `json:"servername" label:"Server name" help:"For SNI and certificate checks; empty: the broker's host name"`
	VerifyServerCert bool   `json:"verifyservercert" label:"Verify server certificate" default:"true"`
	ALPNProtocol     string `json:"alpnprotocol" label:"ALPN protocol"`
}

// TLSConfigNode is a built tls-config config node.
type TLSConfigNode struct {
	h   *engine.Host
	cfg *tls.Config
	key string // a hash of the settings and material, to compare deploys
	// err is set when a certificate file could not be read: the flows
	// deploy (with a warning), and every connection that uses the node
	// fails its handshake with err, as Node-RED marks the node invalid and
	// its connections fail.
	err error
}

// Config returns a copy of the node's TLS configuration. When a file could
// not be read (see Err) every handshake with it fails with that error.
func (t *TLSConfigNode) Config() *tls.Config { return t.cfg.Clone() }

// Err returns why the node's certificate files could not be read, or nil.
func (t *TLSConfigNode) Err() error { return t.err }

// Start reports a file that could not be read as the node's error, as
// Node-RED's tls-config does when it loads; the deploy goes ahead.
func (t *TLSConfigNode) Start(context.Context) error {
	if t.err != nil {
		t.h.Error(t.err, nil)
	}
	return nil
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "tls-config",
		Category: "config",
		Label:    "TLS configuration",
		Config:   true,
		Help: `TLS settings for connections to remote brokers: a CA certificate to trust, a client certificate
and key, the server name, and whether to verify the server's certificate. Files are read at deploy; a file
that is not there (a flow made on another machine) deploys with a warning, and the connections that use the
node fail with an error naming the file until it is there and the node is deployed again.`,
	}, newTLSConfig))
}

func newTLSConfig(cfg *TLSConfigConfig, h *engine.Host) (engine.Node, error) {
	creds := h.Credentials()
	// A file that cannot be read (not on this machine, not readable) does
	// not refuse the deploy: Node-RED loads such a flow, logs the error and
	// marks the node invalid, and so does Runnel, with a warning.
	var unread []string
	read := func(field, path, inline string) []byte {
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				h.Warn(field, "%v: connections that use this TLS configuration fail until the file is there", err)
				unread = append(unread, err.Error())
			}
			return b
		}
		if inline != "" {
			return []byte(inline)
		}
		return nil
	}
	cert := read("cert", cfg.Cert, creds["certdata"])
	key := read("key", cfg.Key, creds["keydata"])
	ca := read("ca", cfg.CA, creds["cadata"])
	if len(unread) > 0 {
		err := fmt.Errorf("tls-config %q: %s", h.ID(), strings.Join(unread, "; "))
		tc := &tls.Config{
			MinVersion: tls.VersionTLS12,
			// Refuse every handshake, once the server has answered, with
			// the error that names the file. VerifyConnection runs after
			// the usual certificate checks, which would fail first with a
			// less useful error; skipping them is safe because
			// VerifyConnection refuses every connection.
			InsecureSkipVerify: true,
			VerifyConnection:   func(tls.ConnectionState) error { return err },
		}
		sum := sha256.Sum256(fmt.Appendf(nil, "%#v\x00%s", *cfg, err))
		return &TLSConfigNode{h: h, cfg: tc, key: hex.EncodeToString(sum[:]), err: err}, nil
	}
	tc := &tls.Config{ServerName: cfg.ServerName, InsecureSkipVerify: !cfg.VerifyServerCert, MinVersion: tls.VersionTLS12}
	if cfg.ALPNProtocol != "" {
		tc.NextProtos = []string{cfg.ALPNProtocol}
	}
	if len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, engine.ErrFieldf("ca", "no PEM certificate found in the CA certificate")
		}
		tc.RootCAs = pool
	}
	if len(cert) > 0 || len(key) > 0 {
		if len(cert) == 0 || len(key) == 0 {
			return nil, engine.ErrFieldf("cert", "a client certificate needs both the certificate and its key")
		}
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return nil, engine.ErrFieldf("cert", "client certificate and key: %v", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	sum := sha256.Sum256(fmt.Appendf(nil, "%#v\x00%s\x00%s\x00%s", *cfg, cert, key, ca))
	return &TLSConfigNode{h: h, cfg: tc, key: hex.EncodeToString(sum[:])}, nil
}

// tlsDefault is the TLS configuration of a broker with usetls and no
// tls-config node: the system's CAs.
func tlsDefault(host string, verify bool) *tls.Config {
	return &tls.Config{ServerName: host, InsecureSkipVerify: !verify, MinVersion: tls.VersionTLS12}
}
