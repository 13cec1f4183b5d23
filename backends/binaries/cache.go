package binaries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

var errNotCached = errors.New("not in the cache")

// cache is the directory of one project release:
// <CacheDir>/bin/<project>/<version>/<binary>, each with <binary>.json beside
// it recording what was installed.
type cache struct {
	dir string
}

type manifest struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// ModTime lets a check skip hashing a binary nobody touched.
	ModTime     int64     `json:"mod_time_ns"`
	Source      Source    `json:"source"`
	InstalledAt time.Time `json:"installed_at"`
}

// Digest is the sha256 of a binary: for one in the cache, from the record
// beside it (checked every time the binary is resolved); for one from
// anywhere else, hashed now. Empty when the file cannot be read.
func Digest(path string) string {
	var m manifest
	raw, err := os.ReadFile(path + ".json")
	if err == nil && json.Unmarshal(raw, &m) == nil && m.SHA256 != "" {
		return m.SHA256
	}
	sum, _ := fileSHA256(path)
	return sum
}

func (r *Resolver) cache(project, version string) cache {
	return cache{dir: filepath.Join(r.CacheDir, "bin", project, version)}
}

func (c cache) path(bin string) string { return filepath.Join(c.dir, bin) }

// check says whether bin is installed intact. Size and modification time
// match the manifest on the fast path; anything else is hashed, so a binary
// overwritten or cut short is caught and replaced rather than started.
func (c cache) check(bin string) error {
	info, err := os.Stat(c.path(bin))
	if errors.Is(err, os.ErrNotExist) {
		return errNotCached
	}
	if err != nil {
		return err
	}
	var m manifest
	raw, err := os.ReadFile(c.path(bin) + ".json")
	if err != nil {
		return fmt.Errorf("no record of how it was installed: %w", err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return fmt.Errorf("its record is unreadable: %w", err)
	}
	if info.Size() == m.Size && info.ModTime().UnixNano() == m.ModTime && info.Mode().Perm()&0o100 != 0 {
		return nil
	}
	sum, err := fileSHA256(c.path(bin))
	if err != nil {
		return err
	}
	if sum != m.SHA256 {
		os.Remove(c.path(bin))
		os.Remove(c.path(bin) + ".json")
		return fmt.Errorf("sha256 %s, installed as %s", short(sum), short(m.SHA256))
	}
	return nil
}

// install moves the file at src (in the same file system) into the cache
// under bin: renames are atomic, so a reader sees the old binary or the whole
// new one, never part of it.
func (c cache) install(bin, src string, source Source) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	sum, err := fileSHA256(src)
	if err != nil {
		return err
	}
	if err := os.Chmod(src, 0o755); err != nil {
		return err
	}
	if err := os.Rename(src, c.path(bin)); err != nil {
		return err
	}
	info, err := os.Stat(c.path(bin))
	if err != nil {
		return err
	}
	raw, err := json.MarshalIndent(manifest{
		SHA256: sum, Size: info.Size(), ModTime: info.ModTime().UnixNano(),
		Source: source, InstalledAt: time.Now().UTC(),
	}, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(c.path(bin)+".json", raw)
}

// tempFile creates a file beside the cache entries, so that install can
// rename it into place.
func (c cache) tempFile(bin string) (*os.File, error) {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, err
	}
	return os.CreateTemp(c.dir, "."+bin+".partial-*")
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return sum
}

// lock takes the cache lock for key, waiting while another kwok-run holds it
// (building the same release, say). The lock is an flock, so it is released
// by the kernel if its holder dies.
func (r *Resolver) lock(ctx context.Context, key string) (func(), error) {
	dir := filepath.Join(r.CacheDir, "locks")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the cache: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, key+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock the cache for %s: %w", key, err)
		}
		if !said {
			r.logf("waiting for another kwok-run that is preparing %s", key)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
