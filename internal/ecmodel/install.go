package ecmodel

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/chefha/chefha/internal/pkgfile"
)

// Install is `dpkg -i FILE` (argv[0] "dpkg") or `rpm -Uvh FILE` ("rpm") of
// a private-chef package on a node: the version comes from the package's
// own metadata (a real .deb or .rpm, as internal/pkgfile writes them), the
// version manifest is the package's, and the postinst links
// /usr/bin/private-chef-ctl and prints its message (package-scripts/
// private-chef/postinst). A node's package tool is its OS family's: dpkg
// on Debian and Ubuntu, rpm on RHEL (/etc/os-release).
func Install(h Host, argv []string, io IO) int {
	want := map[string]string{"dpkg": "debian", "rpm": "rhel"}[argv[0]]
	if len(argv) != 3 || (argv[1] != "-i" && argv[1] != "-Uvh") {
		fmt.Fprintf(io.Stderr, "%s: only %s -i FILE and rpm -Uvh FILE install a private-chef package here\n", argv[0], argv[0])
		return 2
	}
	if want != OSFamily(h) {
		fmt.Fprintf(io.Stderr, "%s: command not found\n", argv[0])
		return 127
	}
	b, err := h.ReadFile(argv[2])
	if err != nil {
		fmt.Fprintf(io.Stderr, "%s: error: cannot access archive '%s': No such file or directory\n", argv[0], argv[2])
		return 2
	}
	info, err := pkgfile.Read(bytes.NewReader(b), int64(len(b)))
	if err == nil && info.Name != "private-chef" {
		err = fmt.Errorf("%s is not a private-chef package", info.Name)
	}
	if err != nil {
		fmt.Fprintf(io.Stderr, "%s: error: %s: %v\n", argv[0], argv[2], err)
		return 2
	}
	rel, ok := Releases()[info.Version]
	if !ok {
		fmt.Fprintf(io.Stderr, "%s: the node model has no release %s\n", argv[0], info.Version)
		return 2
	}
	h.Remove(ModelDir + "/redis_lb-restarted")
	if err := WriteVersionFile(h, info.Version); err != nil {
		fmt.Fprintf(io.Stderr, "%s: error: %v\n", argv[0], err)
		return 2
	}
	if _, err := h.Lstat("/usr/bin/private-chef-ctl"); err != nil {
		h.Symlink(CtlPath, "/usr/bin/private-chef-ctl") // a host may keep /usr/bin its own
	}
	_, err = h.Lstat(RunningJSON)
	if argv[0] == "dpkg" {
		fmt.Fprintf(io.Stdout, "(Reading database ... 84211 files and directories currently installed.)\nPreparing to unpack %s ...\n"+
			"Unpacking private-chef (%s) ...\nSetting up private-chef (%[2]s) ...\n", argv[2], info.RawVersion)
	} else {
		fmt.Fprintf(io.Stdout, "Preparing...                ########################################### [100%%]\n"+
			"   1:private-chef           ########################################### [100%%]\n")
	}
	fmt.Fprint(io.Stdout, rel.Postinst(err == nil))
	return 0
}

// OSFamily is the node's package family as /etc/os-release says: "rhel"
// for RHEL, CentOS and Fedora, else "debian".
func OSFamily(h Files) string {
	b, _ := h.ReadFile("/etc/os-release")
	for _, id := range []string{"rhel", "centos", "fedora"} {
		if strings.Contains(string(b), id) {
			return "rhel"
		}
	}
	return "debian"
}
