package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/kwok-run/kwok-run/backends/binaries"
	"github.com/kwok-run/kwok-run/backends/images"
)

// image is what both engines' `image inspect` say of an image, in the
// Docker-compatible JSON both print (their templates name fields apart).
type image struct {
	ID     string `json:"Id"`
	Config struct {
		Labels map[string]string
	}
}

// inspectImage describes a local image; an error when the engine has none.
func (e *Engine) inspectImage(ctx context.Context, ref string) (image, error) {
	var imgs []image
	out, err := e.Run(ctx, "image", "inspect", ref)
	if err != nil {
		return image{}, err
	}
	if err := json.Unmarshal([]byte(out), &imgs); err != nil || len(imgs) == 0 {
		return image{}, fmt.Errorf("%s image inspect %s: unreadable answer %.200q", e.Name, ref, out)
	}
	return imgs[0], nil
}

// Wanted is an image a component needs.
type Wanted struct {
	// Ref is the image the scenario names; empty means the upstream image,
	// or the packed one when that cannot be had.
	Ref             string
	Binary, Version string
}

// Resolve makes every wanted image present in the engine and returns the
// refs to run, in the order asked. An image the scenario names must be
// present or pullable. An upstream image that is neither is replaced by one
// packed from the local binaries (the cache, a download or a build), and the
// log says so.
func Resolve(ctx context.Context, e *Engine, wants []Wanted, bins *binaries.Resolver, log io.Writer) ([]string, error) {
	out := make([]string, len(wants))
	var fallback []binaries.Want
	var at []int
	// KWOK's controllers share an image: it is looked for once.
	first := map[Wanted]int{}
	same := map[int]int{}
	for i, w := range wants {
		if j, ok := first[w]; ok {
			same[i] = j
			continue
		}
		first[w] = i
		ref := w.Ref
		if ref == "" {
			ref = images.Upstream(w.Binary, w.Version)
		}
		if _, err := e.inspectImage(ctx, ref); err == nil {
			out[i] = ref
			continue
		}
		_, err := e.Run(ctx, "pull", "--quiet", ref)
		if err == nil {
			out[i] = ref
			continue
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if w.Ref != "" {
			return nil, fmt.Errorf("the scenario's image %s is not in %s and could not be pulled: %w", ref, e.Name, err)
		}
		logf(log, "%s could not be pulled (%s); using %s, packed from the local binaries", ref, lastLine(err), images.Local(w.Binary, w.Version))
		fallback = append(fallback, binaries.Want{Binary: w.Binary, Version: w.Version})
		at = append(at, i)
	}
	if len(fallback) > 0 {
		refs, err := Pack(ctx, e, bins, fallback, log)
		if err != nil {
			return nil, err
		}
		for j, i := range at {
			out[i] = refs[j]
		}
	}
	for i, j := range same {
		out[i] = out[j]
	}
	return out, nil
}

// Pack makes sure the engine holds an image of each binary, packed from the
// binary the resolver finds: an image whose binary is unchanged is kept,
// the others are packed and loaded together. It returns the refs in order.
func Pack(ctx context.Context, e *Engine, bins *binaries.Resolver, wants []binaries.Want, log io.Writer) ([]string, error) {
	refs := make([]string, len(wants))
	var todo []images.Image
	for i, w := range wants {
		path, err := bins.Resolve(ctx, w.Binary, w.Version)
		if err != nil {
			return nil, fmt.Errorf("pack an image of %s: %w", w.Binary, err)
		}
		refs[i] = images.Local(w.Binary, w.Version)
		if img, err := e.inspectImage(ctx, refs[i]); err == nil && img.Config.Labels[images.DigestLabel] == binaries.Digest(path) {
			continue
		}
		todo = append(todo, images.Image{Ref: refs[i], Binary: w.Binary, Path: path})
	}
	if len(todo) == 0 {
		return refs, nil
	}
	var names []string
	for _, im := range todo {
		names = append(names, im.Ref)
	}
	logf(log, "packing %s and loading into %s", strings.Join(names, ", "), e.Name)
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(images.Pack(pw, todo)) }()
	err := e.Load(ctx, pr)
	pr.CloseWithError(err)
	if err != nil {
		return nil, fmt.Errorf("load the packed images into %s: %w", e.Name, err)
	}
	return refs, nil
}

// lastLine is the line of an engine's error that says what failed: nerdctl
// logs its progress first and its verdict last.
func lastLine(err error) string {
	s := err.Error()
	if ce, ok := err.(*CommandError); ok && strings.TrimSpace(ce.Output) != "" {
		s = ce.Output
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}
