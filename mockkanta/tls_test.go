package mockkanta

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestMutualTLS(t *testing.T) {
	p := testPKI.paths
	s, err := New(Config{TLSCertFile: p.ServerCert, TLSKeyFile: p.ServerKey, ClientCAFile: p.CACert})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tlsCfg, err := s.TLSConfig()
	if err != nil || tlsCfg == nil {
		t.Fatalf("TLSConfig: %v, %v", tlsCfg, err)
	}
	hs := httptest.NewUnstartedServer(s.Handler())
	hs.TLS = tlsCfg
	hs.StartTLS()
	defer hs.Close()

	caPEM, _ := os.ReadFile(p.CACert)
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}

	if resp, err := client().Get(hs.URL + "/api/v1/stats"); err == nil {
		resp.Body.Close()
		t.Fatalf("client without certificate got %d, want the handshake refused", resp.StatusCode)
	}
	cert, err := tls.LoadX509KeyPair(p.ClientCert, p.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client(cert).Get(hs.URL + "/api/v1/stats")
	if err != nil {
		t.Fatalf("client with certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("client with certificate: status %d", resp.StatusCode)
	}
	// The organisation's signing certificate (no extended key usage,
	// fixtures/pki) chains to the same CA but is no TLS client certificate.
	signingCert, err := tls.LoadX509KeyPair(p.Signing[orgHelsinki].Cert, p.Signing[orgHelsinki].Key)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := client(signingCert).Get(hs.URL + "/api/v1/stats"); err == nil {
		resp.Body.Close()
		t.Fatal("a signing certificate accepted as TLS client certificate")
	}
	// A certificate from a CA the mock does not trust is refused too.
	other, err := tls.LoadX509KeyPair(testPKI.untrustedPaths.ClientCert, testPKI.untrustedPaths.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := client(other).Get(hs.URL + "/api/v1/stats"); err == nil {
		resp.Body.Close()
		t.Fatal("client certificate from an untrusted CA accepted")
	}
}

func TestListenRules(t *testing.T) {
	s, err := New(Config{Listen: "0.0.0.0:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ListenAndServe(context.Background()); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("plain HTTP on 0.0.0.0: err = %v, want refused", err)
	}
	half, err := New(Config{TLSCertFile: testPKI.paths.ServerCert, TLSKeyFile: testPKI.paths.ServerKey})
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	if err := half.ListenAndServe(context.Background()); err == nil || !strings.Contains(err.Error(), "client CA") {
		t.Errorf("TLS without client CA: err = %v, want refused", err)
	}

	// Loopback plain HTTP serves until the context ends.
	ok, err := New(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ok.ListenAndServe(ctx); err != nil {
		t.Errorf("loopback: %v", err)
	}
}
