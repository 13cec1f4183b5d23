// Package binaries finds the executables of a control plane by name and
// version: an explicit path, the cache, the official release (checked against
// its published sha256), or a build from source with the Go toolchain, which
// works wherever a Go module proxy is reachable. The cache is locked per
// release so concurrent runs do not build twice, and written atomically.
package binaries

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Binary names.
const (
	KubeAPIServer         = "kube-apiserver"
	KubeScheduler         = "kube-scheduler"
	KubeControllerManager = "kube-controller-manager"
	// Kubectl is not part of a cluster; it is built alongside, so that
	// users of `kwok-run up` have a client of the same version.
	Kubectl = "kubectl"
	Etcd    = "etcd"
	Kwok    = "kwok"
	// Kwokctl is KWOK's own cluster tool, built alongside KWOK for the
	// benchmark that sets kwok-run beside it on the same binaries.
	Kwokctl = "kwokctl"
)

// Source is a place binaries come from.
type Source string

const (
	SourceCache    Source = "cache"
	SourceDownload Source = "download"
	SourceBuild    Source = "build"
)

// DefaultOrder is tried after an explicit path: the cache, then the release
// download, then a build from source.
var DefaultOrder = []Source{SourceCache, SourceDownload, SourceBuild}

// Resolver finds binaries. The zero value is not usable; see FromEnv.
type Resolver struct {
	// CacheDir holds bin/<project>/<version>/<binary>, build work trees and
	// locks.
	CacheDir string
	// Order lists the sources to try, in order.
	Order []Source
	// Paths maps a binary name to an executable to use as is.
	Paths map[string]string
	// ReleaseURLs overrides the base URL of a project's releases
	// ("kubernetes", "etcd", "kwok").
	ReleaseURLs map[string]string
	HTTP        *http.Client
	// Go is the go command used to build from source.
	Go string
	// Log receives progress lines: downloads and builds take minutes.
	Log io.Writer
	// ProgressEvery is how often a long download or build reports.
	ProgressEvery time.Duration
}

// Environment variables the resolver reads.
const (
	EnvSources = "KWOKRUN_BINARY_SOURCES" // e.g. "cache,build"
	EnvBinary  = "KWOKRUN_BIN_"           // KWOKRUN_BIN_KUBE_APISERVER=/path
	EnvRelease = "KWOKRUN_RELEASE_URL_"   // KWOKRUN_RELEASE_URL_KUBERNETES=https://mirror/release
)

// FromEnv returns a resolver configured from the environment: the cache under
// $XDG_CACHE_HOME/kwok-run (~/.cache/kwok-run), the sources in
// KWOKRUN_BINARY_SOURCES, explicit paths in KWOKRUN_BIN_<NAME>, release mirrors
// in KWOKRUN_RELEASE_URL_<PROJECT>.
func FromEnv(log io.Writer) (*Resolver, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("find the cache directory: %w", err)
	}
	r := &Resolver{
		CacheDir:      filepath.Join(cache, "kwok-run"),
		Order:         DefaultOrder,
		Paths:         map[string]string{},
		ReleaseURLs:   map[string]string{},
		HTTP:          &http.Client{Timeout: 30 * time.Minute},
		Go:            "go",
		Log:           log,
		ProgressEvery: 30 * time.Second,
	}
	if s := os.Getenv(EnvSources); s != "" {
		order, err := ParseSources(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSources, err)
		}
		r.Order = order
	}
	for _, p := range projects {
		for _, bin := range p.binaries {
			if path := os.Getenv(EnvBinary + envName(bin)); path != "" {
				r.Paths[bin] = path
			}
		}
		if u := os.Getenv(EnvRelease + envName(p.name)); u != "" {
			r.ReleaseURLs[p.name] = u
		}
	}
	return r, nil
}

func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

// ParseSources reads a comma-separated list of sources.
func ParseSources(s string) ([]Source, error) {
	var out []Source
	for _, part := range strings.Split(s, ",") {
		src := Source(strings.TrimSpace(part))
		if !slices.Contains(DefaultOrder, src) {
			return nil, fmt.Errorf("unknown binary source %q: use cache, download and build", src)
		}
		out = append(out, src)
	}
	return out, nil
}

// Versions names the release of each project a cluster uses.
type Versions struct {
	Kubernetes, Etcd, Kwok string
}

// Want is one binary at one version.
type Want struct {
	Binary, Version string
}

// Wants lists the binaries of a full control plane.
func (v Versions) Wants() []Want {
	return []Want{
		{Etcd, v.Etcd}, {KubeAPIServer, v.Kubernetes}, {KubeScheduler, v.Kubernetes},
		{KubeControllerManager, v.Kubernetes}, {Kwok, v.Kwok},
	}
}

// ResolveAll resolves every wanted binary, returning their paths by name.
func (r *Resolver) ResolveAll(ctx context.Context, wants []Want) (map[string]string, error) {
	paths := make(map[string]string, len(wants))
	for _, w := range wants {
		p, err := r.Resolve(ctx, w.Binary, w.Version)
		if err != nil {
			return nil, err
		}
		paths[w.Binary] = p
	}
	return paths, nil
}

// Resolve returns the path of bin at version, fetching or building it when
// needed.
func (r *Resolver) Resolve(ctx context.Context, bin, version string) (string, error) {
	if p, ok := r.Paths[bin]; ok {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("%s: the explicit path %s: %w", bin, p, err)
		}
		return p, nil
	}
	proj, ok := projectOf(bin)
	if !ok {
		return "", fmt.Errorf("unknown binary %q", bin)
	}
	if !validVersion(version) {
		return "", fmt.Errorf("%s: %q is not a release version (vMAJOR.MINOR.PATCH)", bin, version)
	}
	unlock, err := r.lock(ctx, proj.name+"-"+version)
	if err != nil {
		return "", err
	}
	defer unlock()

	c := r.cache(proj.name, version)
	var failures []error
	for _, src := range r.Order {
		var err error
		switch src {
		case SourceCache:
			if err = c.check(bin); err == nil {
				return c.path(bin), nil
			}
			if !errors.Is(err, errNotCached) {
				r.logf("%s %s in the cache is unusable (%v); getting it again", bin, version, err)
			}
		case SourceDownload:
			if err = r.download(ctx, proj, version, bin, c); err == nil {
				return c.path(bin), nil
			}
		case SourceBuild:
			if err = r.build(ctx, proj, version, c); err == nil {
				if err = c.check(bin); err == nil {
					return c.path(bin), nil
				}
			}
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if src == SourceDownload {
			r.logf("could not download %s %s: %v", bin, version, err)
		}
		failures = append(failures, fmt.Errorf("%s: %w", src, err))
	}
	return "", fmt.Errorf("no %s %s: %w", bin, version, errors.Join(failures...))
}

func checkExecutable(p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}

func validVersion(v string) bool {
	if !strings.HasPrefix(v, "v") {
		return false
	}
	parts := strings.SplitN(strings.SplitN(v[1:], "-", 2)[0], ".", 3)
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

func (r *Resolver) logf(format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, format+"\n", args...)
	}
}

// platform is the os/arch binaries are fetched and built for: the machine's.
func platform() (string, string) { return runtime.GOOS, runtime.GOARCH }
