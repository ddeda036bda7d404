package iat

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dcr-go/dcr/internal/iattoken"
)

// Memory is a Store in memory, for tests and a single process. The zero
// value is not usable; use NewMemory.
type Memory struct {
	now    func() time.Time
	mu     sync.Mutex
	tokens map[string]*entry // by hash
}

type entry struct {
	Token
	hash string
}

// NewMemory returns an empty Memory store.
func NewMemory() *Memory { return NewMemoryAt(time.Now) }

// NewMemoryAt returns an empty Memory store whose clock is now.
func NewMemoryAt(now func() time.Time) *Memory {
	return &Memory{now: now, tokens: map[string]*entry{}}
}

func (m *Memory) Issue(_ context.Context, uses int, ttl time.Duration, note string) (string, string, error) {
	if err := iattoken.CheckIssue(uses, ttl); err != nil {
		return "", "", err
	}
	id, token := New()
	m.mu.Lock()
	defer m.mu.Unlock()
	h := iattoken.Hash(token)
	m.tokens[h] = &entry{Token{ID: id, UsesLeft: uses, Expires: m.now().Add(ttl), Note: note}, h}
	return id, token, nil
}

// live returns the entry of token if it has not expired. The caller
// holds m.mu.
func (m *Memory) live(token string) *entry {
	e := m.tokens[iattoken.Hash(token)]
	if e == nil || !m.now().Before(e.Expires) {
		return nil
	}
	return e
}

func (m *Memory) Spend(_ context.Context, token string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.live(token)
	switch {
	case e == nil:
		return ErrInvalid
	case e.UsesLeft <= 0:
		return ErrUsedUp
	}
	e.UsesLeft--
	return nil
}

func (m *Memory) Refund(_ context.Context, token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.live(token); e != nil {
		e.UsesLeft++
	}
}

func (m *Memory) List(context.Context) ([]Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Token
	for h, e := range m.tokens {
		if !m.now().Before(e.Expires) {
			delete(m.tokens, h)
			continue
		}
		out = append(out, e.Token)
	}
	slices.SortFunc(out, func(a, b Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

func (m *Memory) Revoke(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for h, e := range m.tokens {
		if e.ID == id {
			delete(m.tokens, h)
			return nil
		}
	}
	return ErrInvalid
}
