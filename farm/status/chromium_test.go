package status_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/farmhand/farmhand/internal/testproc"
)

const chromiumBinary = "/usr/bin/chromium"

// chromium runs headless Chromium with args, under a timeout, in a
// process group of its own that is killed afterwards (its helpers
// included), and returns its standard output.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	testproc.Require(t, "status", chromiumBinary, "chromium")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir()}
	if os.Geteuid() == 0 {
		base = append(base, "--no-sandbox") // Chromium refuses to run as root without it
	}
	cmd := exec.CommandContext(ctx, chromiumBinary, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, tail(stderr.String(), 2000))
	}
	return stdout.Bytes()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var stepPattern = regexp.MustCompile(`<circle class="step" data-time="([^"]+)" data-count="(\d+)"`)

func TestFarmPageRendersInChromium(t *testing.T) {
	s := theSite(t)
	dom := string(chromium(t, "--dump-dom", s.base+"farms/shop"))

	// The browser built the page: the tables and the chart are in its DOM.
	for _, want := range []string{
		`<h1>farm shop`, `<table id="servers">`, `<table id="events">`, `<table id="script-failures">`, `<table id="backups">`, `dump-2026-03-02`,
		`config file missing`, `<svg xmlns="http://www.w3.org/2000/svg" class="capacity-chart" data-role="app"`,
		`<path class="capacity"`,
	} {
		if !bytes.Contains([]byte(dom), []byte(want)) {
			t.Errorf("the rendered DOM lacks %q", want)
		}
	}
	// The chart shows the recorded capacity steps, at their times.
	got := stepPattern.FindAllStringSubmatch(dom, -1)
	if len(got) != len(s.steps) {
		t.Fatalf("chart steps %v, want %d steps %v", got, len(s.steps), s.steps)
	}
	for i, m := range got {
		n, _ := strconv.Atoi(m[2])
		if m[1] != s.steps[i].at.Format(time.RFC3339) || n != s.steps[i].count {
			t.Errorf("chart step %d = %s count %s, want %s count %d", i, m[1], m[2], s.steps[i].at.Format(time.RFC3339), s.steps[i].count)
		}
	}

	// A screenshot shows the page: many non-white pixels, and the chart's
	// blue line among them.
	shot := filepath.Join(t.TempDir(), "farm.png")
	chromium(t, "--screenshot="+shot, "--window-size=1280,1800", "--hide-scrollbars", s.base+"farms/shop")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	inked, blue, total := countPixels(img)
	t.Logf("screenshot %v: %d of %d pixels not white, %d of the chart's blue", img.Bounds().Size(), inked, total, blue)
	if inked < total/50 {
		t.Errorf("the screenshot is nearly blank: %d of %d pixels not white", inked, total)
	}
	if blue < 300 {
		t.Errorf("the screenshot shows %d pixels of the chart's line colour, want a drawn line", blue)
	}
	if os.Getenv("FARMHAND_KEEP_SCREENSHOT") != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(os.Getenv("FARMHAND_KEEP_SCREENSHOT"), b, 0o644)
	}
}

// countPixels counts the pixels that are not white, and those close to the
// chart's line colour (#2563eb).
func countPixels(img image.Image) (inked, blue, total int) {
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			total++
			if r < 245 || g < 245 || bl < 245 {
				inked++
			}
			if near(r, 0x25) && near(g, 0x63) && near(bl, 0xeb) {
				blue++
			}
		}
	}
	return inked, blue, total
}

func near(v, want uint32) bool { return v+24 >= want && v <= want+24 }
