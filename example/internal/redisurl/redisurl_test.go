package redisurl

import (
	"strings"
	"testing"
)

func TestParseNeverRepeatsThePassword(t *testing.T) {
	for _, raw := range []string{"redis://:s3cr3t@[::1/0", "redis://:s3cr3t%zz@127.0.0.1:6379/0", "redis://u:s3cr3t@127.0.0.1:6379/x",
		"redis://:s3cr3t@127.0.0.1:6379/0?foo=bar", "http://:s3cr3t@127.0.0.1/0", "redis://:s3cr3t@host\x7f/0"} {
		if _, err := Parse(raw); err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Parse(%q): %v", raw, err)
		}
	}
	opts, err := Parse("redis://:s3cr3t@127.0.0.1:6379/2")
	if err != nil || opts.Password != "s3cr3t" || opts.Addr != "127.0.0.1:6379" || opts.DB != 2 {
		t.Errorf("a good URL: %+v, %v", opts, err)
	}
}
