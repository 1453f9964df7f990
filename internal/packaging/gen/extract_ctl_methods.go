package main

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/chefha/chefha/internal/packaging"
)

// defRe is a Ruby method definition.
var defRe = regexp.MustCompile(`^\s*def\s+([A-Za-z_][A-Za-z0-9_]*)`)

// svCommandNames reads `SV_COMMAND_NAMES = %w[...]`, which may span
// lines: the sv verbs 1.2.8's own script passes to a service, and those
// omnibus-ctl defines a method for each (SV_COMMAND_NAMES.each ... def).
// It returns the names and the line of the assignment, none when the text
// has no such constant.
func svCommandNames(text, file string) ([]string, int, error) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if !svNamesRe.MatchString(l) {
			continue
		}
		chunk := ""
		for j := i; j < len(lines); j++ {
			chunk += lines[j] + "\n"
			if strings.Contains(lines[j], "]") {
				break
			}
		}
		toks, err := Tokenize(chunk)
		if err != nil {
			return nil, 0, fmt.Errorf("%s:%d: %w", file, i+1, err)
		}
		var names []string
		for _, t := range toks {
			if t.Kind == Words {
				names = append(names, t.Words...)
			}
		}
		return names, i + 1, nil
	}
	return nil, 0, nil
}

// markNoMethod flags the command-map entries omnibus-ctl has no method
// for: run sends the command's name (dashes made underscores) to itself,
// and a name that neither a def nor SV_COMMAND_NAMES defines raises
// NoMethodError (0.0.6–0.0.8 list "int", whose sv verb is "interrupt").
// Commands the project adds with add_command define their method.
func markNoMethod(cmds []packaging.Command, lib string, sv []string) {
	defined := map[string]bool{}
	for _, s := range sv {
		defined[strings.ReplaceAll(s, "-", "_")] = true
	}
	for _, l := range strings.Split(lib, "\n") {
		if m := defRe.FindStringSubmatch(l); m != nil {
			defined[m[1]] = true
		}
	}
	for i := range cmds {
		cmds[i].NoMethod = !defined[strings.ReplaceAll(cmds[i].Name, "-", "_")]
	}
}
