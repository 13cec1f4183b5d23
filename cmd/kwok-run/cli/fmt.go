package cli

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/kwok-run/kwok-run/scenario"
)

func newFmt(s Streams) *cobra.Command {
	var check, recursive bool
	cmd := &cobra.Command{
		Use:   "fmt [flags] [FILE|DIR|-]...",
		Short: "Rewrite scenario files in the canonical layout",
		Long: `Fmt rewrites .hcl files (the named files, the .hcl files in named directories,
the current directory by default) in the canonical layout and prints the
names of the files it changed. "-" formats standard input to standard output.
With -check nothing is written: the files that need formatting are listed and
the exit code is 1.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			f := &formatter{s: s, loader: scenario.NewLoader(), check: check}
			for _, arg := range args {
				if err := f.path(arg, recursive); err != nil {
					return exit(ExitUsage, err)
				}
			}
			switch {
			case f.broken > 0:
				return exit(ExitUsage, fmt.Errorf("%s could not be parsed", plural(f.broken, "file")))
			case check && f.changed > 0:
				return exit(ExitFailed, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "only list the files that are not formatted; exit 1 if any")
	cmd.Flags().BoolVar(&recursive, "recursive", false, "also format .hcl files in subdirectories")
	return cmd
}

type formatter struct {
	s               Streams
	loader          *scenario.Loader
	check           bool
	changed, broken int
}

func (f *formatter) path(arg string, recursive bool) error {
	if arg == "-" {
		src, err := io.ReadAll(io.LimitReader(f.s.In, scenario.MaxFileSize+1))
		if err != nil {
			return err
		}
		out, ok := f.format("<stdin>", src)
		if ok {
			_, err = f.s.Out.Write(out)
		}
		return err
	}
	info, err := os.Stat(arg)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return f.file(arg, info.Mode())
	}
	return filepath.WalkDir(arg, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != arg && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if filepath.Ext(p) != ".hcl" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return f.file(p, info.Mode())
	})
}

func (f *formatter) file(path string, mode fs.FileMode) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, ok := f.format(path, src)
	if !ok || bytes.Equal(out, src) {
		return nil
	}
	f.changed++
	fmt.Fprintln(f.s.Out, path)
	if f.check {
		return nil
	}
	return writeAtomic(path, out, mode.Perm())
}

func (f *formatter) format(name string, src []byte) ([]byte, bool) {
	if len(src) > scenario.MaxFileSize {
		fmt.Fprintf(f.s.Err, "%s: larger than %d bytes, not a scenario\n", name, scenario.MaxFileSize)
		f.broken++
		return nil, false
	}
	out, diags := f.loader.Format(name, src)
	if diags.HasErrors() {
		_ = f.loader.WriteDiagnostics(f.s.Err, diags)
		f.broken++
		return nil, false
	}
	return out, true
}

// writeAtomic replaces path so that a crash leaves the old or the new file,
// never half of one.
func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
