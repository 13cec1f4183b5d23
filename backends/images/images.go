// Package images names the container images of a control plane and packs
// executables into images without a registry, a Dockerfile or a base image,
// so container backends work where no registry can be reached.
package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kwok-run/kwok-run/backends/binaries"
)

// BinDir is where every image, upstream or packed here, keeps its
// executable: command lines name /usr/local/bin/<binary> and work on both.
const BinDir = "/usr/local/bin"

// Entrypoint is the executable of binary inside an image.
func Entrypoint(binary string) string { return path.Join(BinDir, binary) }

// Upstream is the image the project publishes for binary at version.
func Upstream(binary, version string) string {
	switch binary {
	case binaries.Etcd:
		// etcd's images carry Kubernetes' packaging revision.
		return fmt.Sprintf("registry.k8s.io/etcd:%s-0", strings.TrimPrefix(version, "v"))
	case binaries.Kwok:
		return "registry.k8s.io/kwok/kwok:" + version
	}
	return fmt.Sprintf("registry.k8s.io/%s:%s", binary, version)
}

// Local is the image Pack makes of binary at version. It names no registry
// host that could be pulled from, so it is never mistaken for the upstream.
func Local(binary, version string) string {
	return fmt.Sprintf("kwok-run/%s:%s", binary, version)
}

// DigestLabel holds the sha256 of the executable a packed image carries: an
// image whose binary changed in the cache is packed again.
const DigestLabel = "kwok-run.binary-sha256"

// Image is one image to pack.
type Image struct {
	// Ref is the name the engine will know it by.
	Ref string
	// Binary is the executable's name inside the image, Path its file here.
	Binary, Path string
}

// Pack writes the images as one tarball in the format `docker load` and
// `nerdctl load` read: a single layer each, with the executable, an empty
// /tmp and the name-service order Go's resolver reads.
func Pack(w io.Writer, imgs []Image) error {
	refs := make(map[name.Reference]v1.Image, len(imgs))
	for _, im := range imgs {
		ref, err := name.NewTag(im.Ref)
		if err != nil {
			return fmt.Errorf("image name %q: %w", im.Ref, err)
		}
		img, err := build(im)
		if err != nil {
			return fmt.Errorf("pack %s: %w", im.Ref, err)
		}
		refs[ref] = img
	}
	return tarball.MultiRefWrite(refs, w)
}

func build(im Image) (v1.Image, error) {
	info, err := os.Stat(im.Path)
	if err != nil {
		return nil, err
	}
	if info.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("%s is not executable", im.Path)
	}
	digest := binaries.Digest(im.Path)
	// Stored, not compressed: the tarball goes straight into the engine
	// through a pipe, and compressing five binaries took 8 of 12 seconds.
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return layerTar(im.Binary, im.Path, info.Size())
	}, tarball.WithCompressionLevel(gzip.NoCompression))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = runtime.GOARCH, "linux"
	cfg.Config.Entrypoint = []string{Entrypoint(im.Binary)}
	cfg.Config.Env = []string{"PATH=" + BinDir + ":/usr/bin:/bin"}
	cfg.Config.Labels = map[string]string{DigestLabel: digest}
	// A fixed date keeps the image's digest a function of its binary.
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	return mutate.ConfigFile(img, cfg)
}

// layerTar streams the layer: the binary is read from disk each time the
// layer is, never held in memory (kube-apiserver is about 100 MB).
func layerTar(binary, file string, size int64) (io.ReadCloser, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	go func() {
		defer f.Close()
		tw := tar.NewWriter(pw)
		epoch := time.Unix(0, 0)
		nsswitch := []byte("hosts: files dns\n")
		hdrs := []struct {
			h    tar.Header
			body io.Reader
		}{
			{tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}, nil},
			{tar.Header{Name: "etc/nsswitch.conf", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(nsswitch)), ModTime: epoch}, bytes.NewReader(nsswitch)},
			{tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: epoch}, nil},
			{tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}, nil},
			{tar.Header{Name: "usr/local/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}, nil},
			{tar.Header{Name: "usr/local/bin/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}, nil},
			{tar.Header{Name: strings.TrimPrefix(Entrypoint(binary), "/"), Typeflag: tar.TypeReg, Mode: 0o755, Size: size, ModTime: epoch}, f},
		}
		for _, e := range hdrs {
			if err := tw.WriteHeader(&e.h); err != nil {
				pw.CloseWithError(err)
				return
			}
			if e.body != nil {
				if _, err := io.CopyN(tw, e.body, e.h.Size); err != nil {
					pw.CloseWithError(fmt.Errorf("read %s: %w", file, err))
					return
				}
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr, nil
}
