package dcr

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/dcr-go/dcr/authlete"
)

// Event is what happened to one request, for Options.Audit. It never
// holds a token, a client secret or Authlete's resultMessage.
type Event struct {
	// Op is the operation; "" for a method the endpoint does not serve.
	Op Op
	// ClientID is the client of the request: from the path, or the one
	// Authlete issued when a registration succeeded. A path's ID has the
	// request's token, and any run of characters that looks like a token,
	// replaced with REDACTED.
	ClientID string
	// Status is the HTTP status of the response.
	Status int
	// Action and ResultCode are Authlete's, when Authlete was called.
	Action     authlete.Action
	ResultCode string
	// ErrorCode is the OAuth error code the client got (such as
	// InvalidRedirectURI or InvalidToken), "" on success or when the
	// error handler wrote the response.
	ErrorCode ErrorCode
	// Err is the failure that reached the error handler, if any, or the
	// failure to write the body of Authlete's answer (under
	// http.TimeoutHandler, errors.Is finds http.ErrHandlerTimeout: the
	// client did not get Status; a DELETE's 204 has no body, and its loss
	// is not seen), made safe to log: its text has neither the request's token
	// nor Authlete's resultMessage. errors.Is finds what the failure
	// wrapped, and errors.As an *authlete.Error without its ResultMessage.
	Err error
	// Duration is the time from the request reaching the handler to the
	// response being written.
	Duration time.Duration
	// ClientAddr is the client's address: see Options.ClientAddr.
	ClientAddr string
}

// eventError is a failure as an Event holds it; see Event.Err.
type eventError struct {
	text string
	err  error           // the failure, for Is only: its text is not safe
	ae   *authlete.Error // a copy of the failure's *authlete.Error, without ResultMessage
}

// safeError returns err as an Event may hold it, without token.
func safeError(err error, token string) error {
	e := &eventError{text: err.Error(), err: err}
	var ae *authlete.Error
	if errors.As(err, &ae) {
		clean := *ae
		clean.ResultMessage = ""
		e.ae = &clean
		e.text = strings.ReplaceAll(e.text, ae.Error(), clean.Error())
		if ae.ResultMessage != "" {
			e.text = strings.ReplaceAll(e.text, ae.ResultMessage, "")
		}
	}
	e.text = redact(e.text, token)
	return e
}

func (e *eventError) Error() string { return e.text }

func (e *eventError) Is(target error) bool { return errors.Is(e.err, target) }

func (e *eventError) As(target any) bool {
	if p, ok := target.(**authlete.Error); ok && e.ae != nil {
		*p = e.ae
		return true
	}
	return false
}

// LogEvents returns an Options.Audit hook that logs each Event to logger:
// at Info, or at Error for a status of 500 or more.
func LogEvents(logger *slog.Logger) func(context.Context, Event) {
	return func(ctx context.Context, e Event) {
		level := slog.LevelInfo
		if e.Status >= 500 {
			level = slog.LevelError
		}
		attrs := []slog.Attr{
			slog.String("op", string(e.Op)),
			slog.String("client_id", e.ClientID),
			slog.Int("status", e.Status),
			slog.String("action", string(e.Action)),
			slog.String("result_code", e.ResultCode),
			slog.String("error", string(e.ErrorCode)),
			slog.Duration("duration", e.Duration),
			slog.String("client_addr", e.ClientAddr),
		}
		if e.Err != nil {
			attrs = append(attrs, slog.String("err", e.Err.Error()))
		}
		logger.LogAttrs(ctx, level, "dcr: request", attrs...)
	}
}

// statusWriter remembers the status written through it.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// WriteString writes s without copying it to a []byte when the
// underlying writer can (net/http's can): io.WriteString of a body.
func (w *statusWriter) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return io.WriteString(w.ResponseWriter, s)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
