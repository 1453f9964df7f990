// Package pkgfile proves that a package file an operator gave for an
// upgrade hop is real before anything is touched: that it exists, is
// readable, is a .deb or .rpm whose own metadata names the package and
// version of the hop, and what its SHA-256 is (for the plan's hash).
//
// Enterprise Chef ships as the omnibus project "private-chef" (the name
// at chef-boneyard/opscode-omnibus tags 1.4.6 and 11.1.8,
// config/projects/private-chef.rb, build_iteration 1): a .deb whose
// Version field is "11.1.8-1", an rpm whose VERSION is "11.1.8" and
// RELEASE its iteration. Info.Matches("private-chef", "11.1.8") accepts
// either.
//
// What it reads, all in Go and without running dpkg or rpm:
//
//   - .deb (deb(5)): the ar archive (GNU and BSD member names), the
//     debian-binary version (2.x), the control member compressed with
//     nothing, gzip, xz or zstd, and in it the ./control file's Package,
//     Version and Architecture fields (deb-control(5)). The data member
//     must be there and whole; its contents are not read.
//   - .rpm: the lead, the signature header and the main header's NAME,
//     VERSION, RELEASE, EPOCH and ARCH tags. The file must be as long as
//     the signature's size says, and the MD5 over header and payload,
//     when present, must match.
//
// What it refuses, with a typed error:
//
//   - *FormatError: not a package at all (empty, text, an HTML error
//     page, gzip, a directory…), a source rpm, or, from Info.CheckFormat,
//     a package of the other format than the node needs.
//   - *CorruptError: a package signature with damaged, truncated or
//     hostile metadata, or a control member compressed in a way dpkg does
//     not accept. Every size and count read from the file is bounded
//     before anything is allocated or decompressed.
//   - *MismatchError, from Info.Matches: a sound package of another name
//     or version.
//
// A file that cannot be opened gives the *fs.PathError from the system.
//
// WriteDeb and WriteRPM build minimal but real packages (dpkg and rpm
// install them) for tests and the simulated cluster.
package pkgfile
