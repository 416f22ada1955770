package e2e

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The demo itself: go run ./examples/quickstart -serve gives its console
// every service, and no view of it says "not configured".
func TestQuickstartServeConsoleHasEveryService(t *testing.T) {
	if chromium() == "" && !mustBrowser() {
		t.Skip("no chromium on PATH") // before the build; tab says more
	}
	bin := t.TempDir() + "/quickstart"
	build := exec.Command("go", "build", "-o", bin, "github.com/baldur-go/baldur/examples/quickstart")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	run, stop := context.WithCancel(context.Background())
	cmd := exec.CommandContext(run, bin, "-serve", "-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0")
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { stop(); _ = cmd.Wait() })
	var console, viewer string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "A built-in load runs") {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 2 && f[0] == "console":
			console = f[1]
		case len(f) >= 3 && f[0] == "viewer" && f[1] == "key":
			viewer = f[2]
		}
	}
	go func() { // the services' log lines, until the process ends
		for sc.Scan() {
		}
	}()
	require.NotEmpty(t, console)
	require.NotEmpty(t, viewer)

	ctx := tab(t) // after the build: its timeout is for the browser

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(console+"#overview"), chromedp.WaitVisible(chromedp.CSS(`#key-input`))))
	poll(t, ctx, `document.body.dataset.loaded !== undefined`)
	gen := eval[string](t, ctx, `document.body.dataset.loaded || '0'`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#key-input`), viewer),
		chromedp.Click(chromedp.CSS(`#key-form button[type=submit]`))))
	poll(t, ctx, `document.body.dataset.access === 'VIEWER' && document.body.dataset.loaded !== '`+gen+`'`)
	settled(t, ctx)
	for _, view := range []string{"dlq", "canary", "chaos", "watchdog", "notifications"} {
		goView(t, ctx, view)
		assert.Zero(t, eval[int](t, ctx, `document.querySelectorAll('#view .notconfigured').length`), view)
		assert.NotZero(t, eval[int](t, ctx, `document.querySelectorAll('#view tbody tr').length`), "%s shows no row", view)
	}
}
