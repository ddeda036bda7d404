package authletetest

import (
	"testing"

	"github.com/dcr-go/dcr/internal/authleteapi"
)

// TestEveryOperationHasARoute: the emulator answers each operation that
// package authlete sends (Check is Get for Authlete).
func TestEveryOperationHasARoute(t *testing.T) {
	for op := authleteapi.Register; op <= authleteapi.GetService; op++ {
		if _, ok := routes[op]; !ok && op != authleteapi.Check {
			t.Errorf("no route for %v", op)
		}
	}
	if len(routes) != int(authleteapi.GetService) {
		t.Errorf("%d routes for %d operations", len(routes), authleteapi.GetService)
	}
}
