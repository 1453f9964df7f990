package pkgfile

import (
	"bytes"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRead measures reading the committed fixtures: the metadata
// work, the hash being negligible at their size.
func BenchmarkRead(b *testing.B) {
	for _, f := range fixtures {
		data, err := os.ReadFile(filepath.Join("testdata", f.file))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.file, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := Read(bytes.NewReader(data), int64(len(data))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInspectLarge measures Inspect on 32 MiB packages of random
// payload, where hashing (and for rpm the MD5 check) dominates; a real
// private-chef package is ~200-400 MB.
func BenchmarkInspectLarge(b *testing.B) {
	payload := make([]byte, 32<<20)
	rand.New(rand.NewSource(1)).Read(payload)
	m := Meta{Name: "private-chef", Version: "11.1.8", Release: "1", Files: map[string][]byte{"/opt/opscode/blob": payload}}
	for _, f := range []Format{Deb, RPM} {
		var buf bytes.Buffer
		write := WriteDeb
		if f == RPM {
			write = WriteRPM
		}
		if err := write(&buf, m); err != nil {
			b.Fatal(err)
		}
		path := filepath.Join(b.TempDir(), "p."+string(f))
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		b.Run(string(f), func(b *testing.B) {
			b.SetBytes(int64(buf.Len()))
			for b.Loop() {
				if _, err := Inspect(path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
