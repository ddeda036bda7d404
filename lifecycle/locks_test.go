package lifecycle_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dcr-go/dcr/lifecycle"
)

// TestFileLocks: the record survives in its file, and a missing file is
// an empty record.
func TestFileLocks(t *testing.T) {
	path := t.TempDir() + "/locks.json"
	rec := lifecycle.FileLocks(path)
	got, err := rec.Load()
	require.NoError(t, err)
	assert.Empty(t, got)
	at := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	require.NoError(t, rec.Save(map[string]time.Time{"123": at}))
	got, err = lifecycle.FileLocks(path).Load()
	require.NoError(t, err)
	assert.True(t, at.Equal(got["123"]))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, `{"123":"2026-12-01T03:00:00Z"}`, string(data))
	require.NoError(t, os.WriteFile(path, []byte("{"), 0o644))
	_, err = rec.Load()
	assert.Error(t, err)
	assert.Error(t, lifecycle.FileLocks(t.TempDir()+"/missing/dir/locks.json").Save(nil))

	// A directory where the file should be: neither read nor replaced.
	dir := filepath.Join(t.TempDir(), "locks.json")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "inside"), nil, 0o644))
	_, err = lifecycle.FileLocks(dir).Load()
	assert.Error(t, err)
	assert.Error(t, lifecycle.FileLocks(dir).Save(map[string]time.Time{"123": at}))
	entries, err := os.ReadDir(filepath.Dir(dir))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file left beside it")
}
