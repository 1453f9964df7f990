package clustertest

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/chefha/chefha/internal/pkgfile"
)

// WritePackage writes a real Enterprise Chef package of version into dir
// and returns its path: a .deb for family "debian", an .rpm for "rhel"
// (the families upgrade.NodeFacts.Family names).
//
// The simulation's package-file convention is the one Chef's omnibus
// builds follow (chef-boneyard/opscode-omnibus, config/projects/
// private-chef.rb: project "private-chef", build_iteration 1):
//
//	debian  private-chef_VERSION-1_amd64.deb        Package private-chef, Version VERSION-1, Architecture amd64
//	rhel    private-chef-VERSION-1.el6.x86_64.rpm   NAME private-chef, VERSION VERSION, RELEASE 1.el6, ARCH x86_64
//
// A simulated node's `dpkg -i FILE` or `rpm -Uvh FILE` reads the name and
// version from the package's own metadata, as dpkg and rpm do (the file
// name is only a convention), and installs that release of the model:
// version must be one the simulation knows ("1.4.6", "11.0.2", "11.1.8",
// …), though WritePackage writes any version dpkg and rpm accept. The
// packages are tiny (one file in the payload) and dpkg and rpm install
// them for real. The file is written 0644: a package is not a secret.
func WritePackage(dir, family, version string) (path string, err error) {
	if !validVersion(version) {
		return "", fmt.Errorf("clustertest: package version %q: want letters, digits and \".+~\", such as 11.1.8", version)
	}
	var write func(*os.File) error
	switch family {
	case "debian":
		path = filepath.Join(dir, "private-chef_"+version+"-1_amd64.deb")
		write = func(f *os.File) error {
			return pkgfile.WriteDeb(f, pkgfile.Meta{Name: "private-chef", Version: version, Release: "1", Arch: "amd64", Files: payload(version)})
		}
	case "rhel":
		path = filepath.Join(dir, "private-chef-"+version+"-1.el6.x86_64.rpm")
		write = func(f *os.File) error {
			return pkgfile.WriteRPM(f, pkgfile.Meta{Name: "private-chef", Version: version, Release: "1.el6", Arch: "x86_64", Files: payload(version)})
		}
	default:
		return "", fmt.Errorf("clustertest: package family %q: want debian (a .deb) or rhel (an .rpm)", family)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	err = write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("clustertest: %s: %w", path, err)
	}
	return path, nil
}

// payload is what the package installs: the version manifest's first
// line, as an omnibus package's /opt/opscode/version-manifest.txt has it.
func payload(version string) map[string][]byte {
	return map[string][]byte{"/opt/opscode/version-manifest.txt": []byte("private-chef " + version + "\n")}
}

// validVersion accepts what both dpkg's upstream version and rpm's VERSION
// allow (no hyphen: it separates the revision), and never a path.
func validVersion(v string) bool {
	if v == "" || !(v[0] >= '0' && v[0] <= '9') {
		return false
	}
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '+' || c == '~') {
			return false
		}
	}
	return true
}
