package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dcr-go/dcr"
	"github.com/dcr-go/dcr/authlete"
	"github.com/dcr-go/dcr/authletetest"
)

// BenchmarkEndToEndCPU measures the server CPU per registration of the
// built example (handler, policies, middleware, request log, metrics; rate
// limits off) against the minimal Go handler of internal/baseline, both
// calling the same standalone emulator over loopback, side by side in one
// run: the servers take turns in chunks, so that what else the machine
// does falls on both alike. It reports each server's CPU per registration
// (user + system time from /proc, in µs) and their ratio.
//
//	go test -run X -bench EndToEndCPU -benchtime 6000x
func BenchmarkEndToEndCPU(b *testing.B) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		b.Skip("needs /proc")
	}
	port := freePort(b)
	emu := start(b, binary(b, "github.com/dcr-go/dcr/cmd/authlete-emulator", false), nil, "-addr", "127.0.0.1:"+port, "-max-clients", "-1")
	emu.waitFor(b, regexp.MustCompile(`(AUTHLETE_BASE_URL)`), 30*time.Second)
	env := emulatorEnv("http://127.0.0.1:"+port, authletetest.DefaultAccessToken)
	example, exampleProc := startExampleBinary(b, append(env, "DCR_RATE_LIMIT=0", "DCR_MANAGEMENT_RATE_LIMIT=0"), "")
	baselineProc := start(b, binary(b, "./internal/baseline", false), env, "-addr", "127.0.0.1:0")
	listen := baselineProc.waitFor(b, listenRE, 30*time.Second)
	_, baselinePort, _ := net.SplitHostPort(listen)
	baseline := "http://127.0.0.1:" + baselinePort

	const concurrency = 16
	transport := &http.Transport{MaxConnsPerHost: concurrency, MaxIdleConnsPerHost: concurrency}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: time.Minute}
	body := benchRegistration
	register := func(base string, n int) {
		var wg sync.WaitGroup
		work := make(chan struct{})
		var failed sync.Once
		for i := 0; i < concurrency; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					resp, err := client.Post(base+"/register", "application/json", strings.NewReader(body))
					if err != nil {
						failed.Do(func() { b.Error(err) })
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						failed.Do(func() { b.Errorf("%s: status %d", base, resp.StatusCode) })
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
	}
	register(example, 200) // warm: connections, pools, caches
	register(baseline, 200)

	const chunk = 250
	var exampleCPU, baselineCPU time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		n := min(chunk, b.N-done)
		for _, s := range []struct {
			base string
			p    *process
			cpu  *time.Duration
		}{{example, exampleProc, &exampleCPU}, {baseline, baselineProc, &baselineCPU}} {
			before := cpuTime(b, s.p)
			register(s.base, n)
			*s.cpu += cpuTime(b, s.p) - before
		}
	}
	b.StopTimer()
	perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
	b.ReportMetric(perOp(exampleCPU), "example-cpu-µs/op")
	b.ReportMetric(perOp(baselineCPU), "baseline-cpu-µs/op")
	if baselineCPU > 0 {
		b.ReportMetric(float64(exampleCPU)/float64(baselineCPU), "cpu-ratio")
	}
}

// benchRegistration is the registration both benchmarks send: a desktop
// client's, with a loopback redirect URI.
const benchRegistration = `{"client_name":"Bench","redirect_uris":["http://127.0.0.1:33418/cb"],"token_endpoint_auth_method":"none"}`

// clockTicks is the unit of /proc's times: USER_HZ, 100 on Linux.
const clockTicks = 100

// cpuTime is the user and system time p has used, all its threads
// together, from /proc/PID/stat.
func cpuTime(b *testing.B, p *process) time.Duration {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		b.Fatal(err)
	}
	// The fields after the command's name, in parentheses: utime and
	// stime are the 14th and 15th of the line, the 12th and 13th here.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("cannot read %q", data)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// cannedBackend answers every registration at once with the answer it
// holds: BenchmarkRouterRegister measures the router without Authlete.
type cannedBackend struct {
	dcr.Backend
	resp authlete.Response
}

func (c *cannedBackend) Register(context.Context, *authlete.Request) (*authlete.Response, error) {
	resp := c.resp
	return &resp, nil
}

// BenchmarkRouterRegister is the in-process share of a registration in
// the example's router (policies, middleware, the request log to
// /dev/null, metrics; rate limits off), in front of a backend that gives
// the emulator's answer at once: what BenchmarkEndToEndCPU's example spends
// beyond the baseline, to profile.
//
//	go test -run X -bench RouterRegister -benchmem -cpuprofile cpu.out
func BenchmarkRouterRegister(b *testing.B) {
	emu := httptest.NewServer(authletetest.New(authletetest.Options{MaxClients: -1}))
	defer emu.Close()
	client, err := authlete.New(authlete.Config{BaseURL: emu.URL, ServiceAPIKey: authletetest.DefaultServiceID,
		ServiceAccessToken: authletetest.DefaultAccessToken})
	if err != nil {
		b.Fatal(err)
	}
	resp, err := client.Register(context.Background(), &authlete.Request{JSON: benchRegistration})
	if err != nil {
		b.Fatal(err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer devNull.Close()
	s := settings{CORSOrigins: []string{"*"}}
	h := newRouter(&cannedBackend{resp: *resp}, s, slog.New(newLineHandler(devNull)), newMetrics(), nil, nil) // the example's logger, as main makes it
	b.ReportAllocs()
	before := processCPU(b)
	for b.Loop() {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/register", strings.NewReader(benchRegistration))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = "127.0.0.1:40000"
		h.ServeHTTP(w, req)
		if w.Code != http.StatusCreated {
			b.Fatal(w.Code, w.Body.String())
		}
	}
	reportCPU(b, before)
}

// reportCPU reports the CPU time the process has used since before, per
// operation: on a busy machine, where ns/op counts the time waited for a
// core as well.
func reportCPU(b *testing.B, before time.Duration) {
	b.ReportMetric(float64((processCPU(b)-before).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU is the user and system time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
