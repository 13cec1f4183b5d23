// Package browsertest loads kwok-run's HTML pages in a real headless
// Chromium for tests: a page must load without a console error, an
// exception or any request but its own, and must fit the window's width.
package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// WindowWidth is the browser window's width in pixels.
const WindowWidth = 1280

// Start starts a headless Chromium for the test and returns the context its
// tabs open in; it is stopped when the test ends. Without chromium the test
// is skipped, loudly, unless KWOKRUN_REQUIRE_INTEGRATION is set.
func Start(t *testing.T) context.Context {
	t.Helper()
	browser, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("KWOKRUN_REQUIRE_INTEGRATION") != "" {
			t.Fatalf("chromium is required (KWOKRUN_REQUIRE_INTEGRATION is set): %v", err)
		}
		t.Skipf("BROWSER TEST NOT RUN: chromium not found (%v); install it (apt-get install chromium) to check the HTML pages in a browser", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	t.Cleanup(cancel)
	// Chromium leaves its profile and singleton socket directories behind
	// in TMPDIR: both go into the test's own directory instead.
	scratch := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.UserDataDir(filepath.Join(scratch, "profile")),
		chromedp.Env("TMPDIR="+scratch),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.WindowSize(WindowWidth, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	return allocCtx
}

// Check loads the page file in a new tab of the browser, checks that it
// loaded cleanly and fits the window, and returns its screenshot, kept as
// name.png beside the page. It keeps a second screenshot with every
// <details> open (command lines, source, per-step metrics), opened by the
// test: the pages have no script.
func Check(t *testing.T, browser context.Context, file string) image.Image {
	t.Helper()
	file, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	dir, name := filepath.Dir(file), strings.TrimSuffix(filepath.Base(file), ".html")
	url := "file://" + file

	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	tabCtx, cancelTab := chromedp.NewContext(browser, chromedp.WithListener(func(ev any) {
		// Runs in the tab's event loop: record, nothing more.
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				report("console error: %v", ev.Args)
			}
		case *runtime.EventExceptionThrown:
			report("exception: %s", ev.ExceptionDetails.Text)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				report("browser log error: %s %s", ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventLoadingFailed:
			report("request failed: %s (%s)", ev.ErrorText, ev.Type)
		case *network.EventRequestWillBeSent:
			if ev.Request.URL != url {
				report("request for %s", ev.Request.URL)
			}
		}
	}))
	defer cancelTab()

	if err := chromedp.Do(tabCtx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	shot, err := chromedp.Run(tabCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img := keep(t, dir, name+".png", shot)
	if w := img.Bounds().Dx(); w != WindowWidth {
		t.Errorf("the page is %d px wide in a %d px window: something overflows", w, WindowWidth)
	}

	open := "document.querySelectorAll('details').forEach(d => d.open = true); true"
	if _, err := chromedp.Run(tabCtx, chromedp.Evaluate[bool](open)); err != nil {
		t.Fatalf("open the details: %v", err)
	}
	shot, err = chromedp.Run(tabCtx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if w := keep(t, dir, name+"-open.png", shot).Bounds().Dx(); w != WindowWidth {
		t.Errorf("with its details open, the page is %d px wide in a %d px window: something overflows", w, WindowWidth)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	return img
}

// keep writes a PNG screenshot to dir and to
// $KWOKRUN_SCREENSHOT_DIR when set, and decodes it.
func keep(t *testing.T, dir, name string, shot []byte) image.Image {
	t.Helper()
	paths := []string{filepath.Join(dir, name)}
	if d := os.Getenv("KWOKRUN_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, filepath.Join(d, name))
	}
	for _, p := range paths {
		if err := os.WriteFile(p, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", p)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("decode the screenshot %s: %v", name, err)
	}
	return img
}

func DistinctColours(img image.Image) int {
	seen := map[[3]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[[3]uint32{r >> 8, g >> 8, bl >> 8}] = true
		}
	}
	return len(seen)
}
