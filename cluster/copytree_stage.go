package cluster

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// stageScript builds the stage on the destination from the source's
// listing, passed as arguments (any byte but NUL survives argv; stdin would
// need a parser in sh): "d REL", "l REL TARGET", "f REL MODE SUM16", where
// SUM16 is the first 16 hex digits of the file's SHA-256.
//
// Directories and symlinks are made from the listing. A file whose path in
// the old tree holds a regular file with the same SUM16 is copied from it,
// on the node; every other file is printed as "S N" (its ordinal among this
// call's files) for the caller to send. The prefix only chooses what to
// reuse: the whole stage is verified against the full SHA-256 afterwards,
// so a collision fails the copy instead of passing a wrong file.
//
// Reused files are copied with plain cp, not hard-linked: a link would
// share the inode with the old tree, which becomes the backup, so a later
// chmod or in-place edit of /etc/opscode would change the backup too. Nor
// --reflink=auto, which would spare the copy on btrfs and XFS but is
// missing from the coreutils of Ubuntu 10.04, an Enterprise Chef 11
// platform; a config tree copies on the node's disk in milliseconds.
// Names with a quote, backslash, newline or carriage return are never
// reused, only sent: the first would need quoting that costs a process,
// the others are escaped by sha256sum, and sending is always correct.
//
// The old tree is hashed with one sha256sum over the candidates, and reused
// files are copied and chmodded by directory and mode, up to 200 a time, so
// the processes started grow with directories, not files. The hashes are
// read back in one pass over a word-split list, merged with the listing:
// read(1) would cost a system call per byte, and cutting lines off the
// front of the output would be quadratic.
//
// It prints "K N", how many listed paths exist in the old tree, and in the
// first call "O N", how many paths the old tree has, from which CopyTree
// tells how many are gone. When nothing is to be sent and it was given a
// finishing script (finishScript), it runs that too and prints "V" and its
// output: an unchanged tree costs one command. Exit 73: the stage exists
// already.
const stageScript = `stage=$1 old=$2 first=$3 finish=$4
shift 4
case $stage in /*) ;; *) stage=$PWD/$stage ;; esac
case $old in /*) ;; *) old=$PWD/$old ;; esac
nl='
' ifs=$IFS
cr=$(printf '\r')
umask 077
if [ "$first" = 1 ]; then
	if [ -e "$stage" ] || [ -h "$stage" ]; then exit 73; fi
	mkdir -- "$stage" || exit
	[ -d "$old" ] && printf 'O %s\n' "$(find "$old" -printf x | wc -c)"
fi
dirs() { while [ $# -gt 0 ]; do case $1 in
	d) printf '%s\0' "$stage/$2"; shift 2 ;; l) shift 3 ;; *) shift 4 ;; esac; done; }
links() { while [ $# -gt 0 ]; do case $1 in
	l) printf '%s\0%s\0' "$3" "$stage/$2"; shift 3 ;; d) shift 2 ;; *) shift 4 ;; esac; done; }
kept() { k=0; while [ $# -gt 0 ]; do
	if [ -e "$old/$2" ] || [ -h "$old/$2" ]; then k=$((k+1)); fi
	case $1 in d) shift 2 ;; l) shift 3 ;; *) shift 4 ;; esac; done; echo "K $k"; }
cands() { while [ $# -gt 0 ]; do case $1 in
	f) case $2 in *"'"*|*\\*|*"$nl"*|*"$cr"*) ;; *)
		if [ -f "$old/$2" ] && [ ! -h "$old/$2" ]; then printf '%s\0' "$2"; fi ;; esac
		shift 4 ;;
	d) shift 2 ;; l) shift 3 ;; esac; done; }
flush() {
	[ -n "$list" ] || return 0
	(cd "$old" && eval "cp -- $list \"\$stage/\$dir/\"" && cd "$stage" && eval "chmod $mode -- $list") || exit
	list= nlist=0
}
reuse() {
	case $1 in */*) d=${1%/*} ;; *) d=. ;; esac
	[ "$2" = "$mode" ] && [ "$d" = "$dir" ] || { flush; mode=$2 dir=$d; }
	list="$list '$1'" nlist=$((nlist+1))
	[ "$nlist" -lt 200 ] || flush
}
send() { echo "S $n"; sent=$((sent+1)); }
merge() {
	n=0 mode= dir= list= nlist=0
	set -f; IFS=$nl
	for line in $sums; do
		IFS=$ifs name=${line#*  }
		while [ $# -gt 0 ]; do case $1 in
		d) shift 2 ;; l) shift 3 ;;
		*)	if [ "$2" = "$name" ]; then
				case $line in "$4"*) reuse "$2" "$3" ;; *) send ;; esac
				n=$((n+1)); shift 4; break
			fi
			send; n=$((n+1)); shift 4 ;;
		esac; done
	done
	IFS=$ifs
	while [ $# -gt 0 ]; do case $1 in
	f) send; n=$((n+1)); shift 4 ;; d) shift 2 ;; l) shift 3 ;; esac; done
	flush
}
dirs "$@" | xargs -0 -r mkdir -- || exit
links "$@" | xargs -0 -r -n 2 ln -s -- || exit
sums= sent=0
if [ -d "$old" ]; then
	kept "$@"
	sums=$(cands "$@" | (cd "$old" && xargs -0 -r sha256sum -- 2>/dev/null))
fi
merge "$@"
if [ -n "$finish" ] && [ "$sent" = 0 ]; then echo V; (eval "$finish") || exit; fi
`

// maxCommand bounds one command line sent to a node. sshd hands the whole
// line to the login shell as one argument, and Linux caps one argument at
// 128 KiB (MAX_ARG_STRLEN); a listing longer than this goes in several calls.
const maxCommand = 96 << 10

// stagePlan is what building the stage found.
type stagePlan struct {
	send     []*treeEntry // files to send; the rest were reused
	links    []*treeEntry // symlinks the finishing script must still make
	kept     int          // listed paths the old tree has
	oldSize  int          // paths in the old tree, its root included (0: none)
	verified []byte       // the finishing script's output, when it ran already
}

// dirMaker is a node that makes a directory, or sets an existing one's
// mode, without a command: SSH (over SFTP) and Local.
type dirMaker interface {
	Mkdir(ctx context.Context, name string, perm fs.FileMode) error
}

// planStage starts the stage. With no old tree there is nothing to reuse:
// its directories are made directly, every file is to be sent, and the
// one command is the finishing script. Otherwise buildStage's script makes
// it, and finishes it too if nothing is to be sent.
func planStage(ctx context.Context, to TreeWriter, old, stage string, ents []treeEntry, owners ownership) (stagePlan, error) {
	var plan stagePlan
	if dm, ok := to.(dirMaker); ok {
		if _, err := to.Stat(ctx, old); errors.Is(err, fs.ErrNotExist) {
			if _, err := to.Stat(ctx, stage); err == nil {
				return plan, errStageExists
			} else if !errors.Is(err, fs.ErrNotExist) {
				return plan, err
			}
			dirs, links, files := sortEntries(ents)
			// 0700 until the end: a private key must not be readable in the
			// stage, even for a moment.
			for _, d := range append([]*treeEntry{&ents[0]}, dirs...) {
				if err := dm.Mkdir(ctx, path.Join(stage, d.rel), 0o700); err != nil {
					return plan, err
				}
			}
			plan.send, plan.links = files, links
			return plan, nil
		}
	}
	var finish string
	if owners == ownersWriter {
		finish = finishScript(stage, finishCommands(ents, nil, nil, ownersWriter), true)
	}
	return buildStage(ctx, to, old, stage, ents, finish)
}

// sortEntries splits ents, the root left out: directories parent first,
// symlinks, and files grouped by mode, so that the script chmods each group
// with one command.
func sortEntries(ents []treeEntry) (dirs, links, files []*treeEntry) {
	for i := range ents {
		switch e := &ents[i]; {
		case e.rel == "":
		case e.typ == 'd':
			dirs = append(dirs, e)
		case e.typ == 'l':
			links = append(links, e)
		default:
			files = append(files, e)
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return dirs[i].rel < dirs[j].rel })
	sort.Slice(links, func(i, j int) bool { return links[i].rel < links[j].rel })
	sort.Slice(files, func(i, j int) bool {
		if files[i].mode != files[j].mode {
			return files[i].mode < files[j].mode
		}
		return files[i].rel < files[j].rel
	})
	return dirs, links, files
}

// buildStage makes the stage on to from ents with stageScript, reusing
// what the old tree at old already holds; the last call gets finish. It
// returns errStageExists when the stage is there.
func buildStage(ctx context.Context, to Node, old, stage string, ents []treeEntry, finish string) (stagePlan, error) {
	dirs, links, files := sortEntries(ents)
	var plan stagePlan
	budget := maxCommand - len(ShellJoin(scriptArgv(stageScript, stage, old, "0", finish))) - 8
	first := true
	var args []string
	var chunkFiles []*treeEntry
	size := 0
	run := func(last bool) error {
		flag, fin := "0", ""
		if first {
			flag = "1"
		}
		if last && len(plan.send) == 0 {
			fin = finish
		}
		res, err := runScript(ctx, to, "build "+stage, stageScript, append([]string{stage, old, flag, fin}, args...)...)
		if err != nil {
			var ee *ExitError
			if errors.As(err, &ee) && ee.Result.ExitCode == 73 {
				return errStageExists
			}
			return err
		}
		if err := plan.read(res.Stdout, chunkFiles); err != nil {
			return fmt.Errorf("%s: build %s: %w", to.Name(), stage, err)
		}
		first, args, chunkFiles, size = false, nil, nil, 0
		return nil
	}
	add := func(e *treeEntry, fields ...string) error {
		n := 0
		for _, f := range fields {
			n += len(ShellQuote(f)) + 1
		}
		if size+n > budget && len(args) > 0 {
			if err := run(false); err != nil {
				return err
			}
		}
		if n > budget {
			return fmt.Errorf("%s: path too long to pass in one command", e.rel)
		}
		args = append(args, fields...)
		size += n
		if e.typ == 'f' {
			chunkFiles = append(chunkFiles, e)
		}
		return nil
	}
	for _, e := range dirs {
		if err := add(e, "d", e.rel); err != nil {
			return plan, err
		}
	}
	for _, e := range links {
		if err := add(e, "l", e.rel, e.target); err != nil {
			return plan, err
		}
	}
	for _, e := range files {
		if err := add(e, "f", e.rel, e.mode, hex.EncodeToString(e.sum[:8])); err != nil {
			return plan, err
		}
	}
	if first || len(args) > 0 {
		if err := run(true); err != nil {
			return plan, err
		}
	}
	return plan, nil
}

var errStageExists = errors.New("stage exists")

// read takes one stageScript call's output: "S N" lines name the files of
// this call to send, "K N" and "O N" count the old tree, and "V" starts
// the finishing script's output.
func (p *stagePlan) read(out []byte, files []*treeEntry) error {
	if i := bytes.Index(out, []byte("V\n")); i == 0 || i > 0 && out[i-1] == '\n' {
		p.verified = out[i+2:]
		out = out[:i]
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if line == "" {
			continue
		}
		tag, num, ok := strings.Cut(line, " ")
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if !ok || err != nil || n < 0 {
			return fmt.Errorf("unexpected output %q", line)
		}
		switch tag {
		case "S":
			if n >= len(files) {
				return fmt.Errorf("asked to send file %d of %d", n, len(files))
			}
			p.send = append(p.send, files[n])
		case "K":
			p.kept += n
		case "O":
			p.oldSize = n
		default:
			return fmt.Errorf("unexpected output %q", line)
		}
	}
	return nil
}
