package iat_test

import (
	"context"
	"fmt"
	"time"

	"github.com/dcr-go/dcr/iat"
)

func ExampleMemory() {
	ctx := context.Background()
	store := iat.NewMemory()
	id, token, _ := store.Issue(ctx, 2, 7*24*time.Hour, "partner X")

	fmt.Println(store.Spend(ctx, token)) // a registration
	store.Refund(ctx, token)             // ... that created no client
	fmt.Println(store.Spend(ctx, token), store.Spend(ctx, token), store.Spend(ctx, token))
	tokens, _ := store.List(ctx)
	fmt.Println(tokens[0].ID == id, tokens[0].UsesLeft, tokens[0].Note)
	store.Revoke(ctx, id)
	fmt.Println(store.Spend(ctx, token))
	// Output:
	// <nil>
	// <nil> <nil> iat: initial access token used up
	// true 0 partner X
	// iat: unknown, expired or revoked initial access token
}
