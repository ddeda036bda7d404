package authletetest

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/dcr-go/dcr/authlete"
)

// Fault is a misbehaviour the emulator shows on demand, for an
// application's tests of Authlete's bad days. The first of its fields that
// is set, in the order below, decides the answer; Delay adds to any.
type Fault struct {
	// Op limits the fault to one call, named as Emulator.Calls names it
	// ("register", "get", "service/get", ...). Empty means every call.
	Op string
	// Times is how many calls the fault applies to. Zero means every call
	// until ClearFaults.
	Times int
	// Delay holds the answer back, or until the caller gives up.
	Delay time.Duration

	// Drop closes the connection without an answer.
	Drop bool
	// Status refuses the call at the HTTP level, as Authlete does for bad
	// credentials (401), a locked service (403), rate limiting (429) or its
	// own failure (500): {"resultCode","resultMessage"} with this status.
	Status int
	// RetryAfter is the Retry-After header sent with Status, e.g. "3".
	RetryAfter string
	// Body is sent as it is with HTTP 200, e.g. something undecodable.
	Body string
	// Action is answered with HTTP 200 in place of the real answer, with
	// ResponseContent as its body (it may be any action, even an unknown
	// one).
	Action          authlete.Action
	ResponseContent string
}

// Inject adds f to the faults; the oldest fault that matches a call
// applies to it.
func (e *Emulator) Inject(f Fault) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &f)
}

// ClearFaults removes every fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// takeFault returns the fault that applies to a call of op, if any, and
// counts the call against it.
func (e *Emulator) takeFault(op string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Op != "" && f.Op != op {
			continue
		}
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				e.faults = append(e.faults[:i:i], e.faults[i+1:]...)
			}
		}
		return f
	}
	return nil
}

// refusalCodes are result codes of Authlete's HTTP-level refusals.
var refusalCodes = map[int]string{400: "A001201", 401: "A001202", 403: "A001215", 429: "A001106", 500: "A001101"}

// injectFault answers r as the matching fault says. It reports whether
// the call has been answered.
func (e *Emulator) injectFault(w http.ResponseWriter, r *http.Request, op string) bool {
	f := e.takeFault(op)
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		// Reading the body lets the server notice a caller that goes away.
		body, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequestBytes))
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true
		}
	}
	switch {
	case f.Drop:
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
	case f.Status != 0:
		code, ok := refusalCodes[f.Status]
		if !ok {
			code = "A001100"
		}
		refuse(w, f.Status, code, "Injected fault: HTTP "+strconv.Itoa(f.Status)+".", f.RetryAfter)
	case f.Body != "":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, f.Body)
	case f.Action != "":
		writeJSON(w, http.StatusOK, &authlete.Response{ResultCode: "A000000", ResultMessage: "[A000000] Injected action.",
			Action: f.Action, ResponseContent: f.ResponseContent})
	default:
		return false // a delay alone: answer normally
	}
	return true
}
