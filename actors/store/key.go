package store

import (
	"encoding/binary"
	"fmt"
)

// MaxKeyPart is the largest accepted length, in bytes, of each Key component.
const MaxKeyPart = 4096

// MaxMember is the largest accepted length, in bytes, of an index member.
const MaxMember = 4096

// validate reports ErrInvalidKey for an empty or oversized component.
func (k Key) validate() error {
	for _, p := range [...]struct{ name, v string }{{"kind", k.Kind}, {"app", k.App}, {"id", k.ID}} {
		if p.v == "" {
			return fmt.Errorf("%w: empty %s", ErrInvalidKey, p.name)
		}
		if len(p.v) > MaxKeyPart {
			return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidKey, p.name, MaxKeyPart)
		}
	}
	return nil
}

// appendKey appends the encoding of k to b: each component as a uvarint
// length followed by its bytes. The encoding is injective and prefix-free (no
// key's encoding is a prefix of another's), so keys that embed it followed by
// more bytes never collide across grains.
func appendKey(b []byte, k Key) []byte {
	for _, p := range [...]string{k.Kind, k.App, k.ID} {
		b = binary.AppendUvarint(b, uint64(len(p)))
		b = append(b, p...)
	}
	return b
}

// encodeKey validates k and returns its encoding.
func encodeKey(k Key) ([]byte, error) {
	if err := k.validate(); err != nil {
		return nil, err
	}
	return appendKey(make([]byte, 0, 3+len(k.Kind)+len(k.App)+len(k.ID)), k), nil
}

// decodeKey parses an encoding made by appendKey and returns the key and the
// number of bytes consumed.
func decodeKey(b []byte) (Key, int, error) {
	var parts [3]string
	n := 0
	for i := range parts {
		l, m := binary.Uvarint(b[n:])
		if m <= 0 || l > uint64(len(b)-n-m) {
			return Key{}, 0, fmt.Errorf("%w: malformed encoding", ErrInvalidKey)
		}
		n += m
		parts[i] = string(b[n : n+int(l)])
		n += int(l)
	}
	return Key{Kind: parts[0], App: parts[1], ID: parts[2]}, n, nil
}

// checkEpoch rejects epoch 0, which no Acquire ever returns.
func checkEpoch(epoch uint64) error {
	if epoch == 0 || epoch > 1<<62 {
		return ErrFenced
	}
	return nil
}

// checkMember validates an index member.
func checkMember(m string) error {
	if m == "" {
		return fmt.Errorf("%w: empty member", ErrInvalidArgument)
	}
	if len(m) > MaxMember {
		return fmt.Errorf("%w: member longer than %d bytes", ErrInvalidArgument, MaxMember)
	}
	return nil
}

// newVersion returns the version a Put stores, or ErrInvalidArgument.
func newVersion(expect int64, doc Doc) (int64, error) {
	if expect < 0 {
		return 0, fmt.Errorf("%w: negative expected version", ErrInvalidArgument)
	}
	if doc.Version == 0 {
		return expect + 1, nil
	}
	if doc.Version <= expect {
		return 0, fmt.Errorf("%w: doc version %d does not exceed expected %d", ErrInvalidArgument, doc.Version, expect)
	}
	return doc.Version, nil
}

// checkLimit validates a read limit.
func checkLimit(limit int) error {
	if limit <= 0 {
		return fmt.Errorf("%w: limit must be positive", ErrInvalidArgument)
	}
	return nil
}
