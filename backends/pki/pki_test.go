package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(raw)
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	f, err := Generate(dir, Options{Hosts: []string{"apiserver"}, IPs: []net.IP{net.ParseIP("10.96.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(dir); info.Mode().Perm() != 0o700 {
		t.Errorf("pki dir mode %v, want 0700", info.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 8 {
		t.Errorf("want 8 files, got %d", len(entries))
	}
	for _, e := range entries {
		if info, _ := e.Info(); info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), info.Mode().Perm())
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, f.CACert))
	server := readCert(t, f.ServerCert)
	for _, host := range []string{"localhost", "127.0.0.1", "apiserver", "10.96.0.1", "kubernetes.default.svc"} {
		if _, err := server.Verify(x509.VerifyOptions{Roots: pool, DNSName: host}); err != nil {
			t.Errorf("serving certificate not valid for %s: %v", host, err)
		}
	}
	admin := readCert(t, f.AdminCert)
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate: %v", err)
	}
	if admin.Subject.CommonName != AdminUser || len(admin.Subject.Organization) != 1 || admin.Subject.Organization[0] != "system:masters" {
		t.Errorf("admin subject %v", admin.Subject)
	}
}

// A TLS server with the serving certificate accepts the admin client and
// refuses one without a certificate: the pair works as the apiserver uses it.
func TestMutualTLS(t *testing.T) {
	f, err := Generate(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := tls.LoadX509KeyPair(f.ServerCert, f.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	clientTLS, err := f.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clientTLS.RootCAs}
	srv.StartTLS()
	defer srv.Close()

	ok := &http.Client{Transport: &http.Transport{TLSClientConfig: clientTLS}}
	resp, err := ok.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	anonymous := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: clientTLS.RootCAs}}}
	if resp, err := anonymous.Get(srv.URL); err == nil {
		resp.Body.Close()
		t.Error("a client without a certificate was accepted")
	}

	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := f.WriteKubeconfig(kc, srv.URL, "test"); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(kc); info.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig mode %v", info.Mode().Perm())
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != srv.URL || len(cfg.CAData) == 0 || len(cfg.CertData) == 0 {
		t.Errorf("kubeconfig incomplete: %+v", cfg)
	}
}
