package nodes

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"

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
	cfg *tls.Config
	key string // a hash of the settings and material, to compare deploys
}

// Config returns a copy of the node's TLS configuration.
func (t *TLSConfigNode) Config() *tls.Config { return t.cfg.Clone() }

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "tls-config",
		Category: "config",
		Label:    "TLS configuration",
		Config:   true,
		Help: `TLS settings for connections to remote brokers: a CA certificate to trust, a client certificate
and key, the server name, and whether to verify the server's certificate. Files are read at deploy.`,
	}, newTLSConfig))
}

func newTLSConfig(cfg *TLSConfigConfig, h *engine.Host) (engine.Node, error) {
	creds := h.Credentials()
	read := func(field, path, inline string) ([]byte, error) {
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, engine.ErrFieldf(field, "%v", err)
			}
			return b, nil
		}
		if inline != "" {
			return []byte(inline), nil
		}
		return nil, nil
	}
	cert, err := read("cert", cfg.Cert, creds["certdata"])
	if err != nil {
		return nil, err
	}
	key, err := read("key", cfg.Key, creds["keydata"])
	if err != nil {
		return nil, err
	}
	ca, err := read("ca", cfg.CA, creds["cadata"])
	if err != nil {
		return nil, err
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
	return &TLSConfigNode{cfg: tc, key: hex.EncodeToString(sum[:])}, nil
}

// tlsDefault is the TLS configuration of a broker with usetls and no
// tls-config node: the system's CAs.
func tlsDefault(host string, verify bool) *tls.Config {
	return &tls.Config{ServerName: host, InsecureSkipVerify: !verify, MinVersion: tls.VersionTLS12}
}
