package authleteapi

import (
	"net/url"
	"testing"
)

// TestOperationsRoundTrip: the path each operation is sent to names that
// operation again, with its client ID, so that the client and the
// emulator cannot disagree on a call.
func TestOperationsRoundTrip(t *testing.T) {
	for op := range operations {
		op := Op(op)
		// A client ID with a slash is escaped, but the emulator reads the
		// path unescaped: it is no client's ID there (404).
		for _, id := range []string{"42", "alias", "ü"} {
			path := op.URL(id, url.Values{"start": {"0"}})
			u, err := url.Parse(path)
			if err != nil {
				t.Fatal(err)
			}
			got, gotID, ok := Match(u.Path)
			want, wantID := op, ""
			if op == Check {
				want = Get
			}
			if op.Spec().Param {
				wantID = id
			}
			if !ok || got != want || gotID != wantID {
				t.Errorf("%v %q: Match(%q) = %v %q %v, want %v %q", op, id, u.Path, got, gotID, ok, want, wantID)
			}
		}
	}
}

// TestOperationNamesAreUnique: no two operations share a name, in errors
// or in the emulator's counts (but Check, which is Get for Authlete).
func TestOperationNamesAreUnique(t *testing.T) {
	names, calls := map[string]Op{}, map[string]Op{}
	for op, o := range operations {
		if o.Name == "" || o.Call == "" || o.Method == "" || o.Path == "" {
			t.Errorf("%d: %+v is incomplete", op, o)
		}
		if prev, dup := names[o.Name]; dup {
			t.Errorf("%v and %v share the name %q", prev, Op(op), o.Name)
		}
		names[o.Name] = Op(op)
		if prev, dup := calls[o.Call]; dup && Op(op) != Check {
			t.Errorf("%v and %v share the call %q", prev, Op(op), o.Call)
		}
		calls[o.Call] = Op(op)
	}
}

func TestMatchRefuses(t *testing.T) {
	for _, path := range []string{"", "/", "/client", "/client/get/", "/client/get/1/2", "/client/registration/", "/client/delete",
		"/service/get/1", "/auth/token/create/1", "client/registration"} {
		if op, id, ok := Match(path); ok {
			t.Errorf("Match(%q) = %v %q", path, op, id)
		}
	}
	if op, id, ok := Match("/client/get/list"); !ok || op != ListClients || id != "" {
		t.Errorf("/client/get/list is the list, not the client \"list\": %v %q %v", op, id, ok)
	}
}

func TestIsDigits(t *testing.T) {
	for s, want := range map[string]bool{"0": true, "21653835348762": true, "": false, "1a": false, "-1": false, "١": false, " 1": false} {
		if IsDigits(s) != want {
			t.Errorf("IsDigits(%q) = %v", s, !want)
		}
	}
}
