package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotFound is returned by GetJSON for a missing key.
var ErrNotFound = errors.New("not found")

// GetJSON reads key from kv into v and returns its revision.
func GetJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("read %s/%s: %w", kv.Bucket(), key, err)
	}
	if err := json.Unmarshal(e.Value(), v); err != nil {
		return 0, fmt.Errorf("decode %s/%s: %w", kv.Bucket(), key, err)
	}
	return e.Revision(), nil
}

// PutJSON writes v under key.
func PutJSON(ctx context.Context, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("write %s/%s: %w", kv.Bucket(), key, err)
	}
	return nil
}

// UpdateJSON reads key into a fresh value, lets change modify it, and writes
// it back if the key did not change meanwhile, retrying on conflicts.
func UpdateJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string, create bool, change func(*T) error) (T, error) {
	for range 16 {
		var v T
		rev, err := GetJSON(ctx, kv, key, &v)
		if errors.Is(err, ErrNotFound) && create {
			err = nil
		}
		if err != nil {
			return v, err
		}
		if err := change(&v); err != nil {
			return v, err
		}
		if _, err = PutJSONAt(ctx, kv, key, rev, v); err == nil {
			return v, nil
		}
		if !IsConflict(err) {
			return v, fmt.Errorf("write %s/%s: %w", kv.Bucket(), key, err)
		}
	}
	var zero T
	return zero, fmt.Errorf("write %s/%s: too much contention", kv.Bucket(), key)
}

// PutJSONAt writes v under key only if the key is still at revision rev (0:
// only if it does not exist), and returns the revision the write made. A
// key that moved on is a conflict (IsConflict).
func PutJSONAt(ctx context.Context, kv jetstream.KeyValue, key string, rev uint64, v any) (uint64, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		return kv.Create(ctx, key, b)
	}
	return kv.Update(ctx, key, b, rev)
}
