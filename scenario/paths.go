package scenario

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// file resolves a path the scenario names (a manifest, a kubeconfig)
// against the scenario's directory. A scenario someone else wrote reads
// only files in its own directory tree: one that named ~/.kube/config
// would play against whatever cluster that is, and a manifest path could
// copy any readable file into a run's report. --allow-outside-files lifts
// the rule. Symbolic links are followed before the check, so a link inside
// the directory is judged by where it leads.
func (d *decoder) file(path string, rng hcl.Range, what string) (string, bool) {
	full := path
	if !filepath.IsAbs(full) {
		full = filepath.Join(d.dir, full)
	}
	if d.opts.AllowOutsideFiles {
		return full, true
	}
	dir, err := realPath(d.dir)
	if err != nil {
		d.errorf(rng, "Cannot resolve the scenario's directory", "%s: %s", d.dir, err)
		return "", false
	}
	target, err := realPath(full)
	if err != nil {
		d.errorf(rng, "Cannot resolve "+what, "%s: %s", path, err)
		return "", false
	}
	if rel, err := filepath.Rel(dir, target); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		where := path + " is"
		if target != path {
			where = path + " leads to " + target + ", which is"
		}
		d.errorf(rng, strings.ToUpper(what[:1])+what[1:]+" outside the scenario's directory",
			"%s outside %s. A scenario reads only files in its own directory, so that a shared file cannot read anything else on this machine; run with --allow-outside-files if you trust this one.",
			where, dir)
		return "", false
	}
	return full, true
}

// realPath is path made absolute with every symbolic link resolved. A file
// that does not exist yet is judged by its directory, so the error the
// reader gives later ("no such file") is the one the user sees.
func realPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	real, err := filepath.EvalSymlinks(abs)
	if errors.Is(err, fs.ErrNotExist) {
		dir, err := realPath(filepath.Dir(abs))
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, filepath.Base(abs)), nil
	}
	return real, err
}
