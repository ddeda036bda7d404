package dcr_test

import (
	"context"
	"sync"

	"github.com/dcr-go/dcr/authlete"
)

// call is one Backend call as the scripted backend saw it.
type call struct {
	op  string
	req authlete.Request
}

// scripted is a Backend that records its calls and answers each with resp
// and err.
type scripted struct {
	resp *authlete.Response
	err  error

	mu    sync.Mutex
	calls []call
}

func (s *scripted) answer(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error) {
	s.mu.Lock()
	s.calls = append(s.calls, call{op, *req})
	s.mu.Unlock()
	return s.resp, s.err
}

func (s *scripted) Register(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "register", req)
}

func (s *scripted) Get(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "get", req)
}

func (s *scripted) Update(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "update", req)
}

func (s *scripted) Delete(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return s.answer(ctx, "delete", req)
}

func (s *scripted) recorded() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

// backendFunc is a Backend that answers every call with f, told which
// call it is.
type backendFunc func(ctx context.Context, op string, req *authlete.Request) (*authlete.Response, error)

func (f backendFunc) Register(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "register", req)
}

func (f backendFunc) Get(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "get", req)
}

func (f backendFunc) Update(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "update", req)
}

func (f backendFunc) Delete(ctx context.Context, req *authlete.Request) (*authlete.Response, error) {
	return f(ctx, "delete", req)
}
