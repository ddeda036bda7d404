package dcr_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTrackedFilesGuard runs scripts/tracked-files.sh, the check .ci/run
// makes before the tests, on repositories of its own: one that tracks only
// sources passes, and each kind of build output fails it.
func TestTrackedFilesGuard(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	script, err := filepath.Abs("scripts/tracked-files.sh")
	require.NoError(t, err)
	elf := append([]byte{0x7f, 'E', 'L', 'F'}, make([]byte, 60)...)
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	cases := []struct {
		name  string
		path  string
		data  []byte
		mode  os.FileMode
		fails bool
	}{
		{"source", "main.go", []byte("package main\n"), 0o644, false},
		{"script", "scripts/run.sh", []byte("#!/bin/sh\n"), 0o755, false},
		{"large testdata", "policy/testdata/big.txt", big, 0o644, false},
		{"executable", "dcr-janitor", []byte("#!/bin/sh\n"), 0o755, true},
		{"ELF without the x bit", "cmd/tool/tool", elf, 0o644, true},
		{"large file", "docs/big.txt", big, 0o644, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			git := func(args ...string) {
				cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "%s", out)
			}
			git("init", "-q")
			require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("x\n"), 0o644))
			path := filepath.Join(dir, tc.path)
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, tc.data, tc.mode))
			git("add", ".")
			out, err := exec.Command("bash", script, dir).CombinedOutput()
			if tc.fails {
				require.Error(t, err, "%s", out)
				require.Contains(t, string(out), tc.path)
			} else {
				require.NoError(t, err, "%s", out)
			}
		})
	}
}
