package pkgfile

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
)

// WriteDeb writes m as a binary .deb in the shape dpkg-deb -Zgzip builds
// (gzip, as 2014 omnibus packages used): debian-binary, control.tar.gz,
// data.tar.gz.
// The same m always gives the same bytes.
func WriteDeb(w io.Writer, m Meta) error {
	paths, err := m.check(Deb)
	if err != nil {
		return err
	}
	arch := m.Arch
	if arch == "" {
		arch = "all"
	}
	version := m.Version
	if m.Release != "" {
		version += "-" + m.Release
	}
	var installed int64
	for _, p := range paths {
		installed += (int64(len(m.Files[p])) + 1023) / 1024
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: %s\n"+
		"Maintainer: chefha <chefha@localhost>\nInstalled-Size: %d\nSection: misc\nPriority: optional\n"+
		"Description: %s %s written by chefha's pkgfile\n Stand-in package for tests and the simulated cluster.\n",
		m.Name, version, arch, installed, m.Name, version)

	ctl, err := tarGz(func(tw *tar.Writer) error {
		if err := tarDir(tw, "./"); err != nil {
			return err
		}
		return tarFile(tw, "./control", []byte(control))
	})
	if err != nil {
		return fmt.Errorf("pkgfile: control.tar.gz: %w", err)
	}
	data, err := tarGz(func(tw *tar.Writer) error {
		if err := tarDir(tw, "./"); err != nil {
			return err
		}
		for _, d := range parents(paths) {
			if err := tarDir(tw, "."+d+"/"); err != nil {
				return err
			}
		}
		for _, p := range paths {
			if err := tarFile(tw, "."+p, m.Files[p]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pkgfile: data.tar.gz: %w", err)
	}
	a := newArWriter(w)
	a.add("debian-binary", []byte("2.0\n"))
	a.add("control.tar.gz", ctl)
	a.add("data.tar.gz", data)
	return a.err
}

func tarGz(fill func(*tar.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	if err := fill(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func tarDir(tw *tar.Writer, name string) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755,
		Uname: "root", Gname: "root", ModTime: buildTime, Format: tar.FormatGNU})
}

func tarFile(tw *tar.Writer, name string, data []byte) error {
	err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)),
		Uname: "root", Gname: "root", ModTime: buildTime, Format: tar.FormatGNU})
	if err != nil {
		return err
	}
	_, err = tw.Write(data)
	return err
}
