package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// WriteKubeconfig writes an admin kubeconfig for server with the
// certificates embedded, so the file works wherever it is copied.
func (f *Files) WriteKubeconfig(path, server, name string) error {
	ca, err := os.ReadFile(f.CACert)
	if err != nil {
		return err
	}
	cert, err := os.ReadFile(f.AdminCert)
	if err != nil {
		return err
	}
	key, err := os.ReadFile(f.AdminKey)
	if err != nil {
		return err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: ca}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: cert, ClientKeyData: key}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	raw, err := clientcmd.Write(*cfg)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o600)
}

// ClientTLS is the admin's TLS configuration: it trusts the CA and presents
// the admin certificate, for health checks and metrics scrapes.
func (f *Files) ClientTLS() (*tls.Config, error) {
	ca, err := os.ReadFile(f.CACert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("no CA certificate in " + f.CACert)
	}
	cert, err := tls.LoadX509KeyPair(f.AdminCert, f.AdminKey)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
