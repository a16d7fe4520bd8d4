package store

import (
	"bytes"
	"errors"
	"testing"
)

func TestStoreKeyEncoding(t *testing.T) {
	a := appendKey(nil, Key{Kind: "record", App: "a/b", ID: "c"})
	b := appendKey(nil, Key{Kind: "record", App: "a", ID: "b/c"})
	if bytes.Equal(a, b) {
		t.Fatal("a/b + c collides with a + b/c")
	}
	for _, k := range []Key{{}, {Kind: "k", App: "a"}, {Kind: "k", ID: "i"}, {App: "a", ID: "i"}} {
		if _, err := encodeKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("encodeKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	if _, _, err := decodeKey([]byte{5, 'a'}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("decodeKey of a truncated encoding: %v", err)
	}
}

// FuzzStoreKey checks that the key encoding round-trips and that two
// different keys never share an encoding nor one's encoding prefixes the
// other's (which would let a prefix scan of one grain reach another).
func FuzzStoreKey(f *testing.F) {
	f.Add("record", "a/b", "c", "record", "a", "b/c")
	f.Add("record", "a\x00b", "c", "record", "a", "b\x00c")
	f.Add("k", "\x01a", "", "k\x01", "a", "x")
	f.Add("topic", "app", "id", "topic", "app", "id\xff")
	f.Fuzz(func(t *testing.T, k1, a1, i1, k2, a2, i2 string) {
		x, y := Key{k1, a1, i1}, Key{k2, a2, i2}
		ex, errx := encodeKey(x)
		ey, erry := encodeKey(y)
		valid := func(k Key) bool {
			for _, p := range []string{k.Kind, k.App, k.ID} {
				if p == "" || len(p) > MaxKeyPart {
					return false
				}
			}
			return true
		}
		if (errx == nil) != valid(x) || (erry == nil) != valid(y) {
			t.Fatalf("encodeKey accepts %q: %v, %q: %v; want exactly the keys with 1..MaxKeyPart-byte parts", x, errx == nil, y, erry == nil)
		}
		if errx != nil || erry != nil {
			return
		}
		for _, c := range []struct {
			k   Key
			enc []byte
		}{{x, ex}, {y, ey}} {
			got, n, err := decodeKey(c.enc)
			if err != nil || got != c.k || n != len(c.enc) {
				t.Fatalf("decodeKey(encodeKey(%q)) = %q, %d, %v", c.k, got, n, err)
			}
			// Decoding a key followed by a suffix stops at the key.
			got, n, err = decodeKey(append(append([]byte(nil), c.enc...), "suffix"...))
			if err != nil || got != c.k || n != len(c.enc) {
				t.Fatalf("decodeKey with a suffix = %q, %d, %v", got, n, err)
			}
		}
		if x != y && (bytes.HasPrefix(ex, ey) || bytes.HasPrefix(ey, ex)) {
			t.Fatalf("encodings of %q and %q collide or nest: %x %x", x, y, ex, ey)
		}
		if x == y && !bytes.Equal(ex, ey) {
			t.Fatal("encoding is not deterministic")
		}
	})
}
