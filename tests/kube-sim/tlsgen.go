package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"time"
)

type certs struct {
	caCertPEM []byte
	caKeyPEM  []byte
	server    tls.Certificate
	caCert    *x509.Certificate
	caKey     *ecdsa.PrivateKey
}

// issueClient issues a client certificate for user cn from the CA: what a
// cluster administrator hands out for x509 client authentication. Returns
// the certificate and its key in PEM.
func issueClient(cs *certs, cn string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"system:masters"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, cs.caCert, &key.PublicKey, cs.caKey)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

// makeCerts creates (or reuses) a CA and issues a server certificate for
// the given DNS names and IPs.
func makeCerts(caCertPEM, caKeyPEM []byte, dnsNames []string, ips []net.IP) (*certs, error) {
	var caCert *x509.Certificate
	var caKey *ecdsa.PrivateKey
	now := time.Now()
	if len(caCertPEM) > 0 && len(caKeyPEM) > 0 {
		cb, _ := pem.Decode(caCertPEM)
		kb, _ := pem.Decode(caKeyPEM)
		if cb == nil || kb == nil {
			return nil, errors.New("bad CA PEM in state file")
		}
		var err error
		if caCert, err = x509.ParseCertificate(cb.Bytes); err != nil {
			return nil, err
		}
		if caKey, err = x509.ParseECPrivateKey(kb.Bytes); err != nil {
			return nil, err
		}
	} else {
		var err error
		caKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber:          serial(),
			Subject:               pkix.Name{CommonName: "kube-sim-ca"},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
			BasicConstraintsValid: true,
			IsCA:                  true,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
		if err != nil {
			return nil, err
		}
		if caCert, err = x509.ParseCertificate(der); err != nil {
			return nil, err
		}
		caCertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
		kb, err := x509.MarshalECPrivateKey(caKey)
		if err != nil {
			return nil, err
		}
		caKeyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(5 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	return &certs{
		caCertPEM: caCertPEM,
		caKeyPEM:  caKeyPEM,
		server:    tls.Certificate{Certificate: [][]byte{der, caCert.Raw}, PrivateKey: key},
		caCert:    caCert,
		caKey:     caKey,
	}, nil
}
