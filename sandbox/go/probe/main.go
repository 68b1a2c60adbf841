// Command wget is a minimal stand-in for `wget` inside the sandbox registry image, for
// container health checks such as
//
//	wget -q --spider --no-check-certificate https://127.0.0.1:5000/
//
// busybox-static's own wget speaks TLS 1.2 without the signature_algorithms extension,
// which Go 1.25+ servers (the registry) reject, so the image carries this probe instead.
// Supported: -q, --spider (GET, body discarded), --no-check-certificate, -T/--timeout SECONDS, -O FILE (- = stdout).
// Exit status 0 for a 2xx answer, 1 otherwise.
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	quiet, spider, insecure := false, false, false
	timeout := 10 * time.Second
	output := ""
	var url string
	for i := 0; i < len(args); i++ {
		a := args[i]
		next := func() (string, bool) {
			if i+1 >= len(args) {
				return "", false
			}
			i++
			return args[i], true
		}
		switch {
		case a == "-q" || a == "--quiet":
			quiet = true
		case a == "--spider":
			spider = true
		case a == "--no-check-certificate":
			insecure = true
		case a == "-T" || a == "--timeout":
			v, ok := next()
			n, err := strconv.Atoi(v)
			if !ok || err != nil {
				return usage("bad timeout")
			}
			timeout = time.Duration(n) * time.Second
		case strings.HasPrefix(a, "--timeout="):
			n, err := strconv.Atoi(strings.TrimPrefix(a, "--timeout="))
			if err != nil {
				return usage("bad timeout")
			}
			timeout = time.Duration(n) * time.Second
		case a == "-O":
			v, ok := next()
			if !ok {
				return usage("-O needs a file")
			}
			output = v
		case strings.HasPrefix(a, "-"):
			return usage("unsupported option " + a)
		default:
			url = a
		}
	}
	if url == "" {
		return usage("no URL")
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // health probe option
	client := &http.Client{Timeout: timeout, Transport: transport}
	// GET even for --spider (as busybox does): some servers answer HEAD differently.
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return fail(quiet, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(quiet, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(quiet, fmt.Errorf("server returned %s", resp.Status))
	}
	if spider {
		return 0
	}
	var w io.Writer = os.Stdout
	if output != "-" {
		if output == "" {
			output = "index.html"
		}
		f, err := os.Create(output)
		if err != nil {
			return fail(quiet, err)
		}
		defer f.Close()
		w = f
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fail(quiet, err)
	}
	return 0
}

func usage(msg string) int {
	fmt.Fprintln(os.Stderr, "wget:", msg)
	fmt.Fprintln(os.Stderr, "usage: wget [-q] [--spider] [--no-check-certificate] [-T SECONDS] [-O FILE] URL")
	return 2
}

func fail(quiet bool, err error) int {
	if !quiet {
		fmt.Fprintln(os.Stderr, "wget:", err)
	}
	return 1
}
