package binaries

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// release serves fake release files the way dl.k8s.io and GitHub lay them
// out, and counts what was fetched.
type release struct {
	files map[string][]byte
	hits  atomic.Int64
}

func (rel *release) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, ok := rel.files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	rel.hits.Add(1)
	w.Write(b)
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newResolver(t *testing.T, srv *httptest.Server, order ...Source) *Resolver {
	t.Helper()
	return &Resolver{
		CacheDir: t.TempDir(),
		Order:    order,
		Paths:    map[string]string{},
		ReleaseURLs: map[string]string{
			"kubernetes": srv.URL + "/k8s",
			"etcd":       srv.URL + "/etcd",
			"kwok":       srv.URL + "/kwok",
		},
		HTTP: srv.Client(),
		Go:   "go",
	}
}

func kubeRelease(bin, version string, content []byte, published string) *release {
	goos, goarch := platform()
	p := fmt.Sprintf("/k8s/%s/bin/%s/%s/%s", version, goos, goarch, bin)
	return &release{files: map[string][]byte{p: content, p + ".sha256": []byte(published + "\n")}}
}

func TestDownloadVerifiesAndCaches(t *testing.T) {
	content := []byte("#!/bin/sh\necho apiserver\n")
	rel := kubeRelease(KubeAPIServer, "v1.37.2", content, sum(content))
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := newResolver(t, srv, SourceCache, SourceDownload)

	p, err := r.Resolve(context.Background(), KubeAPIServer, "v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("cached file differs: %q, %v", got, err)
	}
	if info, _ := os.Stat(p); info.Mode().Perm()&0o111 == 0 {
		t.Error("the binary is not executable")
	}
	hits := rel.hits.Load()
	if _, err := r.Resolve(context.Background(), KubeAPIServer, "v1.37.2"); err != nil {
		t.Fatal(err)
	}
	if rel.hits.Load() != hits {
		t.Error("the second resolve downloaded again instead of using the cache")
	}
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*partial*"))
	if len(leftovers) > 0 {
		t.Errorf("temporary files left in the cache: %v", leftovers)
	}
}

func TestChecksumMismatchIsRefused(t *testing.T) {
	content := []byte("tampered")
	rel := kubeRelease(KubeScheduler, "v1.37.2", content, sum([]byte("the real one")))
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := newResolver(t, srv, SourceCache, SourceDownload)

	_, err := r.Resolve(context.Background(), KubeScheduler, "v1.37.2")
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("want a checksum mismatch, got %v", err)
	}
	if _, err := os.Stat(r.cache("kubernetes", "v1.37.2").path(KubeScheduler)); !os.IsNotExist(err) {
		t.Error("a binary that failed its checksum was installed")
	}
	entries, _ := os.ReadDir(r.cache("kubernetes", "v1.37.2").dir)
	if len(entries) != 0 {
		t.Errorf("the cache holds leftovers: %v", entries)
	}
}

func TestNoPublishedChecksumNoDownload(t *testing.T) {
	goos, goarch := platform()
	rel := &release{files: map[string][]byte{fmt.Sprintf("/kwok/v0.8.0/kwok-%s-%s", goos, goarch): []byte("unverifiable")}}
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := newResolver(t, srv, SourceDownload)
	_, err := r.Resolve(context.Background(), Kwok, "v0.8.0")
	if err == nil || !strings.Contains(err.Error(), "no published checksum") {
		t.Fatalf("want a refusal for lack of a checksum, got %v", err)
	}
	if rel.hits.Load() != 0 {
		t.Error("the binary was fetched although nothing could verify it")
	}
}

func TestEtcdFromArchive(t *testing.T) {
	goos, goarch := platform()
	dir := fmt.Sprintf("etcd-v3.6.16-%s-%s", goos, goarch)
	content := []byte("etcd binary")
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		body []byte
	}{{dir + "/README.md", []byte("readme")}, {dir + "/etcd", content}, {dir + "/etcdctl", []byte("ctl")}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o755, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write(f.body)
	}
	tw.Close()
	gz.Close()
	archive := buf.Bytes()
	sums := fmt.Sprintf("%s  %s.tar.gz\n%s  other.zip\n", sum(archive), dir, sum([]byte("x")))
	rel := &release{files: map[string][]byte{
		"/etcd/v3.6.16/" + dir + ".tar.gz": archive,
		"/etcd/v3.6.16/SHA256SUMS":         []byte(sums),
	}}
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := newResolver(t, srv, SourceDownload)
	p, err := r.Resolve(context.Background(), Etcd, "v3.6.16")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, content) {
		t.Errorf("extracted %q", got)
	}
}

func TestCorruptCacheIsReplaced(t *testing.T) {
	content := []byte("the good binary")
	rel := kubeRelease(KubeControllerManager, "v1.37.2", content, sum(content))
	srv := httptest.NewServer(rel)
	defer srv.Close()
	r := newResolver(t, srv, SourceCache, SourceDownload)
	p, err := r.Resolve(context.Background(), KubeControllerManager, "v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite it in place, as a disk error or an interrupted copy would.
	if err := os.WriteFile(p, []byte("garbage"), 0o755); err != nil {
		t.Fatal(err)
	}
	p2, err := r.Resolve(context.Background(), KubeControllerManager, "v1.37.2")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(p2); !bytes.Equal(got, content) {
		t.Errorf("the corrupt binary was used: %q", got)
	}
	if rel.hits.Load() != 4 {
		t.Errorf("want the binary and its checksum fetched twice, got %d requests", rel.hits.Load())
	}

	// Only the cache as source: a corrupt entry is an error, never used.
	if err := os.WriteFile(p, []byte("garbage again"), 0o755); err != nil {
		t.Fatal(err)
	}
	r.Order = []Source{SourceCache}
	if _, err := r.Resolve(context.Background(), KubeControllerManager, "v1.37.2"); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("want the corruption reported, got %v", err)
	}
}

func TestConcurrentResolvesDownloadOnce(t *testing.T) {
	content := bytes.Repeat([]byte("x"), 1<<20)
	rel := kubeRelease(KubeAPIServer, "v1.37.2", content, sum(content))
	srv := httptest.NewServer(rel)
	defer srv.Close()
	cacheDir := t.TempDir()
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		// Separate resolvers, as separate kwok-run processes would be.
		r := newResolver(t, srv, SourceCache, SourceDownload)
		r.CacheDir = cacheDir
		wg.Go(func() {
			_, err := r.Resolve(context.Background(), KubeAPIServer, "v1.37.2")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if rel.hits.Load() != 2 {
		t.Errorf("want one download (binary and checksum), got %d requests", rel.hits.Load())
	}
}

func TestLockWaitsAndHonoursCancellation(t *testing.T) {
	r := &Resolver{CacheDir: t.TempDir()}
	unlock, err := r.lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := r.lock(ctx, "k"); err == nil {
		t.Fatal("a held lock was taken twice")
	}
	unlock()
	unlock2, err := r.lock(context.Background(), "k")
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}

func TestExplicitPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "my-apiserver")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	notExe := filepath.Join(dir, "data")
	os.WriteFile(notExe, []byte("x"), 0o644)
	r := &Resolver{CacheDir: t.TempDir(), Paths: map[string]string{KubeAPIServer: exe, Etcd: notExe}}
	if p, err := r.Resolve(context.Background(), KubeAPIServer, "v1.37.2"); err != nil || p != exe {
		t.Errorf("got %s, %v", p, err)
	}
	if _, err := r.Resolve(context.Background(), Etcd, "v3.6.16"); err == nil {
		t.Error("a non-executable explicit path was accepted")
	}
}

func TestEveryFailureIsReported(t *testing.T) {
	srv := httptest.NewServer(&release{files: map[string][]byte{}})
	defer srv.Close()
	r := newResolver(t, srv, SourceCache, SourceDownload)
	_, err := r.Resolve(context.Background(), KubeAPIServer, "v1.37.2")
	if err == nil || !strings.Contains(err.Error(), "cache: not in the cache") || !strings.Contains(err.Error(), "download: no published checksum") {
		t.Errorf("want each source's failure, got %v", err)
	}
	if _, err := r.Resolve(context.Background(), KubeAPIServer, "1.37"); err == nil {
		t.Error("a malformed version was accepted")
	}
}

func TestParseSources(t *testing.T) {
	if got, err := ParseSources("build, cache"); err != nil || len(got) != 2 || got[0] != SourceBuild {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := ParseSources("cache,internet"); err == nil {
		t.Error("unknown source accepted")
	}
}
