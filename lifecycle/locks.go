package lifecycle

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// FileLocks is a LockRecord in the JSON file at path: an object of client
// IDs and the times (RFC 3339) Run locked them, such as
//
//	{"26837717140341": "2026-12-01T03:00:00Z"}
//
// A missing file is an empty record. Save writes a temporary file beside
// it, flushes it to the disk (fsync) and renames it, then flushes the
// directory, so that a run cut short, or a machine that stops, leaves the
// old record or the new one. Keep the file where every run finds it (a
// volume of the CronJob), and let one run at a time use it: FileLocks does
// not keep a second run off (dcr-janitor holds an exclusive lock on the
// file path+".lock" for the whole run).
func FileLocks(path string) LockRecord { return fileLocks(path) }

type fileLocks string

func (f fileLocks) Load() (map[string]time.Time, error) {
	data, err := os.ReadFile(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]time.Time{}, nil
	}
	if err != nil {
		return nil, err
	}
	locks := map[string]time.Time{}
	if err := json.Unmarshal(data, &locks); err != nil {
		return nil, err
	}
	return locks, nil
}

func (f fileLocks) Save(locks map[string]time.Time) error {
	data, err := json.MarshalIndent(locks, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(string(f)), filepath.Base(string(f))+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), string(f)); err != nil {
		return err
	}
	dir, err := os.Open(filepath.Dir(string(f)))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
