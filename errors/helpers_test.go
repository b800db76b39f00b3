package pullerrors

// Helpers that produce real errors from the real packages: a real dial, a
// real TLS handshake, a real copy.Image, a real policy evaluation. Only the
// loopback interface is used.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/directory"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"
)

// quietLog silences the handshake errors test servers log on purpose.
var quietLog = log.New(io.Discard, "", 0)

// dialClosedPort returns the error of dialing a loopback port nobody listens on.
func dialClosedPort(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conn, err := net.Dial("tcp", addr)
	if err == nil {
		conn.Close()
		t.Fatal("dialing a closed port succeeded")
	}
	return err
}

// readTimeout returns the error of a read whose deadline passed.
func readTimeout(t *testing.T) error {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			time.Sleep(time.Second)
			c.Close()
		}
	}()
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, err = conn.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read did not time out")
	}
	return err
}

// testCert makes a self-signed certificate for 127.0.0.1 valid from notBefore
// to notAfter.
func testCert(t *testing.T, notBefore, notAfter time.Time) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "pullerrors test"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"registry.test"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, cert
}

func verifyUntrusted(t *testing.T) error {
	_, cert := testCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	_, err := cert.Verify(x509.VerifyOptions{Roots: x509.NewCertPool()})
	if err == nil {
		t.Fatal("verification succeeded")
	}
	return err
}

func verifyWrongHost(t *testing.T) error {
	_, cert := testCert(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	err := cert.VerifyHostname("other.test")
	if err == nil {
		t.Fatal("verification succeeded")
	}
	return err
}

func verifyExpired(t *testing.T) error {
	_, cert := testCert(t, time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour))
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	_, err := cert.Verify(x509.VerifyOptions{Roots: roots})
	if err == nil {
		t.Fatal("verification succeeded")
	}
	return err
}

// untrustedTLSGet GETs from a TLS server whose certificate is not trusted.
func untrustedTLSGet(t *testing.T) error {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = quietLog
	srv.StartTLS()
	defer srv.Close()
	resp, err := (&http.Client{}).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET succeeded")
	}
	return err
}

// tlsToPlainServer starts a TLS handshake with a plain HTTP server.
func tlsToPlainServer(t *testing.T) error {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err == nil {
		conn.Close()
		t.Fatal("handshake succeeded")
	}
	return err
}

// httpsToPlainServer GETs https:// from a plain HTTP server.
func httpsToPlainServer(t *testing.T) error {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	resp, err := http.Get("https://" + srv.Listener.Addr().String() + "/v2/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET succeeded")
	}
	return err
}

// tlsAlertFromServer GETs from a server that requires a client certificate
// without presenting one: the server answers with a TLS alert.
func tlsAlertFromServer(t *testing.T) error {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = quietLog
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	defer srv.Close()
	client := srv.Client()
	resp, err := client.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatal("GET succeeded")
	}
	return err
}

// platformNotFound asks a real Docker manifest list for a platform it lacks.
func platformNotFound(t *testing.T) error {
	list := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[
	  {"mediaType":"application/vnd.docker.distribution.manifest.v2+json","size":528,
	   "digest":"sha256:` + hex.EncodeToString(make([]byte, 32)) + `","platform":{"architecture":"amd64","os":"linux"}}]}`
	l, err := manifest.ListFromBlob([]byte(list), manifest.DockerV2ListMediaType)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.ChooseInstance(&types.SystemContext{ArchitectureChoice: "s390x", OSChoice: "linux"})
	if err == nil {
		t.Fatal("ChooseInstance succeeded")
	}
	return err
}

// acceptAnything is a policy context that accepts every image.
func acceptAnything(t *testing.T) *signature.PolicyContext {
	t.Helper()
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Destroy() })
	return pc
}

// corruptBlobCopy copies, with the real copy.Image, a dir: image whose layer
// does not match its digest.
func corruptBlobCopy(t *testing.T) error {
	src := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(src, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("the layer the manifest promises")
	m, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sum(config), "size": len(config)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": "sha256:" + sum(layer), "size": len(layer)}},
	})
	write("version", []byte("Directory Transport Version: 1.1\n"))
	write("manifest.json", m)
	write(sum(config), config)
	write(sum(layer), []byte("something else, same len!!!!!!")) // corrupt content

	srcRef, err := directory.NewReference(src)
	if err != nil {
		t.Fatal(err)
	}
	destRef, err := directory.NewReference(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = copy.Image(context.Background(), acceptAnything(t), destRef, srcRef, &copy.Options{ReportWriter: io.Discard})
	if err == nil {
		t.Fatal("copying a corrupt blob succeeded")
	}
	return err
}

// fixedImage is a types.UnparsedImage for policy evaluation.
type fixedImage struct{ ref types.ImageReference }

func (i fixedImage) Reference() types.ImageReference { return i.ref }
func (i fixedImage) Manifest(context.Context) ([]byte, string, error) {
	return []byte("{}"), "application/vnd.oci.image.manifest.v1+json", nil
}
func (i fixedImage) Signatures(context.Context) ([][]byte, error) { return nil, nil }

// policyRejection evaluates a real "reject" policy.
func policyRejection(t *testing.T) error {
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: signature.PolicyRequirements{signature.NewPRReject()}})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Destroy()
	ref, err := docker.ParseReference("//quay.io/foo/bar:latest")
	if err != nil {
		t.Fatal(err)
	}
	allowed, err := pc.IsRunningImageAllowed(context.Background(), fixedImage{ref})
	if allowed || err == nil {
		t.Fatal("the reject policy allowed the image")
	}
	return err
}

// invalidPolicy parses a malformed policy.json.
func invalidPolicy(t *testing.T) error {
	_, err := signature.NewPolicyFromBytes([]byte(`{"default": 1}`))
	if err == nil {
		t.Fatal("parsing succeeded")
	}
	return err
}

// shortNameCandidates resolves a short name with real c/image shortnames
// against the given unqualified-search registries.
func shortNameCandidates(t *testing.T, name string, registries ...string) *shortnames.Resolved {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "registries.conf")
	var list string
	for i, r := range registries {
		if i > 0 {
			list += ", "
		}
		list += `"` + r + `"`
	}
	if err := os.WriteFile(conf, []byte("unqualified-search-registries = ["+list+"]\nshort-name-mode = \"permissive\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mode := types.ShortNameModePermissive
	resolved, err := shortnames.Resolve(&types.SystemContext{
		SystemRegistriesConfPath:    conf,
		SystemRegistriesConfDirPath: filepath.Join(dir, "registries.conf.d"),
		UserShortNameAliasConfPath:  filepath.Join(dir, "aliases.conf"),
		ShortNameMode:               &mode,
	}, name)
	if err != nil {
		t.Fatal(err)
	}
	if len(resolved.PullCandidates) != len(registries) {
		t.Fatalf("%d candidates, want %d", len(resolved.PullCandidates), len(registries))
	}
	return resolved
}
