package pkgfile_test

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/chefha/chefha/internal/pkgfile"
)

// A runner checks the file given for the 11.1.8 hop of a Debian cluster.
func Example() {
	dir, err := os.MkdirTemp("", "pkgfile-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "private-chef_11.1.8-1_amd64.deb")
	var buf bytes.Buffer
	err = pkgfile.WriteDeb(&buf, pkgfile.Meta{Name: "private-chef", Version: "11.1.8", Release: "1", Arch: "amd64",
		Files: map[string][]byte{"/opt/opscode/version-manifest.txt": []byte("private-chef 11.1.8\n")}})
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		log.Fatal(err)
	}

	info, err := pkgfile.Inspect(path)
	if err != nil {
		log.Fatal(err) // *FormatError, *CorruptError or the *fs.PathError
	}
	fmt.Println(info.Format, info.Name, info.Version, info.Release, info.Arch, len(info.SHA256))
	fmt.Println("deb node:", info.CheckFormat(pkgfile.Deb))
	fmt.Println("11.1.8 hop:", info.Matches("private-chef", "11.1.8"))

	err = info.Matches("private-chef", "11.2.0")
	var mismatch *pkgfile.MismatchError
	if errors.As(err, &mismatch) {
		fmt.Println("11.2.0 hop: the file holds", mismatch.HasName, mismatch.HasVersion)
	}

	_, err = pkgfile.Read(bytes.NewReader([]byte("<html>404</html>")), 16)
	fmt.Println(err)
	// Output:
	// deb private-chef 11.1.8 1 amd64 64
	// deb node: <nil>
	// 11.1.8 hop: <nil>
	// 11.2.0 hop: the file holds private-chef 11.1.8-1
	// package file is an HTML or XML document (a download error page?), not a .deb or .rpm package: give the package file built for the node's platform
}

// WriteRPM makes a real rpm for the simulated cluster: rpm -qp, rpm -K
// and rpm -i take it.
func ExampleWriteRPM() {
	var buf bytes.Buffer
	err := pkgfile.WriteRPM(&buf, pkgfile.Meta{Name: "private-chef", Version: "11.1.8", Release: "1", Arch: "x86_64",
		Files: map[string][]byte{"/opt/opscode/version-manifest.txt": []byte("private-chef 11.1.8\n")}})
	if err != nil {
		log.Fatal(err)
	}
	info, err := pkgfile.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(info.Format, info.RawVersion, info.Arch)
	// Output: rpm 11.1.8-1 x86_64
}
