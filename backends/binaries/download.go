package binaries

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"
	"sync/atomic"
	"time"
)

// download fetches bin from the project's release, checks it against the
// published sha256 and installs it in the cache.
func (r *Resolver) download(ctx context.Context, p project, version, bin string, c cache) error {
	a := p.release(r.releaseBase(p), version, bin)
	want, err := r.publishedSum(ctx, a)
	if err != nil {
		return err
	}
	tmp, err := c.tempFile(bin)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	got, err := r.fetch(ctx, a.url, tmp, fmt.Sprintf("%s %s", bin, version))
	tmp.Close()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("checksum mismatch for %s: downloaded sha256 %s, published %s", a.url, got, want)
	}
	if a.inArchive != "" {
		extracted, err := c.tempFile(bin)
		if err != nil {
			return err
		}
		defer os.Remove(extracted.Name())
		err = extract(tmp.Name(), a.inArchive, extracted)
		extracted.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", a.url, err)
		}
		return c.install(bin, extracted.Name(), SourceDownload)
	}
	return c.install(bin, tmp.Name(), SourceDownload)
}

// publishedSum reads the sha256 of the artifact from its checksum file: a
// bare hex digest, or "digest  filename" lines.
func (r *Resolver) publishedSum(ctx context.Context, a artifact) (string, error) {
	body, err := r.get(ctx, a.sumURL)
	if err != nil {
		return "", fmt.Errorf("no published checksum: %w", err)
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("read %s: %w", a.sumURL, err)
	}
	name := path.Base(a.url)
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 1 && isHexSHA256(f[0]):
			return strings.ToLower(f[0]), nil
		case len(f) == 2 && isHexSHA256(f[0]) && strings.TrimPrefix(f[1], "*") == name:
			return strings.ToLower(f[0]), nil
		}
	}
	return "", fmt.Errorf("%s lists no sha256 for %s", a.sumURL, name)
}

func isHexSHA256(s string) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

func (r *Resolver) get(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

// fetch copies url into w and returns the sha256 of what it copied,
// reporting progress while it runs.
func (r *Resolver) fetch(ctx context.Context, url string, w io.Writer, what string) (string, error) {
	body, err := r.get(ctx, url)
	if err != nil {
		return "", err
	}
	defer body.Close()
	var n atomic.Int64
	stop := r.every(func(elapsed time.Duration) {
		r.logf("downloading %s: %.1f MiB after %s", what, float64(n.Load())/(1<<20), elapsed.Round(time.Second))
	})
	defer stop()
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(w, h, counter{&n}), body)
	if err != nil {
		return "", fmt.Errorf("download %s: %w", url, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

type counter struct{ n *atomic.Int64 }

func (c counter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// extract copies the file at name inside the .tar.gz at archive into w.
func extract(archive, name string, w io.Writer) error {
	f, err := os.Open(archive)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("the archive has no %s", name)
		}
		if err != nil {
			return err
		}
		if path.Clean(h.Name) == name && h.Typeflag == tar.TypeReg {
			_, err := io.Copy(w, tr)
			return err
		}
	}
}

// every calls report every ProgressEvery until the returned stop is called.
func (r *Resolver) every(report func(elapsed time.Duration)) (stop func()) {
	if r.ProgressEvery <= 0 {
		return func() {}
	}
	start := time.Now()
	done := make(chan struct{})
	t := time.NewTicker(r.ProgressEvery)
	go func() {
		for {
			select {
			case <-done:
				return
			case <-t.C:
				report(time.Since(start))
			}
		}
	}()
	return func() {
		t.Stop()
		close(done)
	}
}
