// Package e2e drives the admin console in a real headless Chromium from Go
// tests (chromedp), against a real admin server on 127.0.0.1:0. It is a
// module of its own so that the library's go.mod never gains a browser
// dependency. One test builds and runs the quickstart in serve mode
// (go build, on loopback ports of its own) and reads its console.
//
// The tests need a chromium (or google-chrome) binary on PATH, or its path
// in BALDUR_CHROMIUM. Without one they skip, unless CI=true or
// BALDUR_REQUIRE_BROWSER=1, where a missing browser fails them. Screenshots
// of every view go to BALDUR_SCREENSHOT_DIR when set (make
// console-screenshots sets docs/console), else to a temporary directory.
//
//	make browser-test
package e2e
