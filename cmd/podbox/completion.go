package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/mounts"
	"github.com/podbox/podbox/sandbox"
)

// The scripts ask podbox itself for the candidates, as kubectl's and
// podman's do: `podbox __complete WORD... CURRENT` prints one per line: the
// verbs, the flags when CURRENT starts with "-", the pod names, the
// container names after -c, the values -o takes, image names and shells.
// Nothing printed means file names (run FILE, image import's SOURCE).

const bashCompletion = `# bash completion for podbox (podbox completion bash)
_podbox() {
	local IFS=$'\n'
	COMPREPLY=($("${COMP_WORDS[0]}" __complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null))
}
complete -o bashdefault -o default -F _podbox podbox
`

const zshCompletion = `#compdef podbox
# zsh completion for podbox (podbox completion zsh)
_podbox() {
	local -a cands
	cands=("${(@f)$(${words[1]} __complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	if [[ -n ${cands[1]} ]]; then
		compadd -- "${cands[@]}"
	else
		_files
	fi
}
if [[ ${zsh_eval_context[-1]} == loadautofunc ]]; then
	_podbox "$@"
else
	compdef _podbox podbox
fi
`

const fishCompletion = `# fish completion for podbox (podbox completion fish)
function __podbox_complete
	set -l words (commandline -opc) (commandline -ct)
	set -l cands ($words[1] __complete $words[2..-1] 2>/dev/null)
	if test (count $cands) -gt 0
		printf '%s\n' $cands
	else
		__fish_complete_path (commandline -ct)
	end
end
complete -c podbox -f -a '(__podbox_complete)'
`

var completionCommand = &cli.Command{
	Name:      "completion",
	Usage:     "print a shell completion script (bash, zsh or fish)",
	ArgsUsage: "SHELL",
	Description: `Prints the completion script for SHELL: verbs, flags, pod names, container
names after -c, -o values, image names. The scripts ask podbox (as root, since
the state root is root's) for the pods; sudo podbox completes them when sudo's
own completion runs podbox's. make install puts the scripts where the
distributions look; from a release tarball, for example:

Example:
   podbox completion bash > /etc/bash_completion.d/podbox
   podbox completion zsh > /usr/local/share/zsh/site-functions/_podbox
   podbox completion fish > /etc/fish/completions/podbox.fish`,
	Action: func(c *cli.Context) error {
		if c.NArg() != 1 {
			return fmt.Errorf("completion: want one shell: bash, zsh or fish")
		}
		return writeCompletion(c.Args().First(), c.App.Writer)
	},
}

func writeCompletion(shell string, w io.Writer) error {
	switch shell {
	case "bash":
		_, err := io.WriteString(w, bashCompletion)
		return err
	case "zsh":
		_, err := io.WriteString(w, zshCompletion)
		return err
	case "fish":
		_, err := io.WriteString(w, fishCompletion)
		return err
	default:
		return fmt.Errorf("completion: unknown shell %q: want bash, zsh or fish", shell)
	}
}

// withDescriptions puts each command's synopsis and description (what
// --help shows) into its UsageText, which is what urfave/cli's man page
// prints under a command: the page then says all that the help does.
func withDescriptions(cmds []*cli.Command, path string) {
	for _, c := range cmds {
		if c.Hidden {
			continue
		}
		p := path + " " + c.Name
		if c.UsageText == "" {
			c.UsageText = strings.TrimSpace(p + " [options] " + c.ArgsUsage)
			if c.Description != "" {
				c.UsageText += "\n\n" + c.Description
			}
		}
		withDescriptions(c.Subcommands, p)
	}
}

// manCommand prints podbox.8, generated from the commands and flags; make
// install and make release run it.
var manCommand = &cli.Command{
	Name:   "__man",
	Hidden: true,
	Usage:  "print the podbox(8) man page",
	Action: func(c *cli.Context) error {
		withDescriptions(c.App.Commands, "podbox")
		s, err := c.App.ToManWithSection(8)
		if err != nil {
			return fmt.Errorf("man page: %w", err)
		}
		_, err = io.WriteString(c.App.Writer, s)
		return err
	},
}

// completeCommand is what the completion scripts run.
var completeCommand = &cli.Command{
	Name:            "__complete",
	Hidden:          true,
	Usage:           "print the completions of a podbox command line (for the shell scripts)",
	ArgsUsage:       "WORD... CURRENT",
	SkipFlagParsing: true,
	Action: func(c *cli.Context) error {
		args := c.Args().Slice()
		if len(args) == 0 {
			args = []string{""}
		}
		for _, s := range complete(c.App, args[:len(args)-1], args[len(args)-1], completionSource{c: c}) {
			fmt.Fprintln(c.App.Writer, s)
		}
		return nil
	},
}

// completionSource finds the names that complete arguments: pods (under the
// state root the environment names), their containers, images.
type completionSource struct{ c *cli.Context }

func (s completionSource) pods() []string {
	m, err := manager(s.c)
	if err != nil {
		return nil
	}
	pods, _ := m.List(s.c.Context)
	var names []string
	for _, p := range inNamespace(s.c, pods) {
		names = append(names, p.Name)
	}
	return names
}

func (s completionSource) containers(pod string) []string {
	m, err := manager(s.c)
	if err != nil {
		return nil
	}
	st, err := m.Status(s.c.Context, podRef(s.c, pod))
	if err != nil {
		return nil
	}
	var names []string
	for _, list := range [][]sandbox.ContainerStatus{st.Containers, st.InitContainers} {
		for _, cs := range list {
			names = append(names, cs.Name)
		}
	}
	return names
}

func (s completionSource) images() []string {
	store, err := image.Open(s.c.String("image-root"))
	if err != nil {
		return nil
	}
	imgs, _ := store.List()
	var names []string
	for _, img := range imgs {
		names = append(names, img.Name)
	}
	return names
}

func (s completionSource) volumes() []string {
	nv, err := mounts.OpenNamedVolumes(s.c.String("volume-root"))
	if err != nil {
		return nil
	}
	vols, _ := nv.List()
	var names []string
	for _, v := range vols {
		names = append(names, v.Name)
	}
	return names
}

// names is what complete needs to know of the host.
type names interface {
	pods() []string
	containers(pod string) []string
	images() []string
	volumes() []string
}

// complete returns the candidates for cur, the word being typed, after
// words (the command line after "podbox").
func complete(app *cli.App, words []string, cur string, src names) []string {
	cmds, flags := app.Commands, app.Flags
	var cmd *cli.Command
	var path, pos []string
	takesArg := func(fl []cli.Flag, w string) bool {
		return !strings.Contains(w, "=") && takesValue(fl, w)
	}
	var valueOf string // the flag whose value cur is
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch {
		case w == "--":
			pos = append(pos, words[i+1:]...)
			i = len(words)
		case strings.HasPrefix(w, "-") && w != "-":
			fl := flags
			if flagNamed(fl, w) == nil {
				fl = app.Flags // a global flag after the verb
			}
			if takesArg(fl, w) {
				if i+1 == len(words) {
					valueOf = strings.TrimLeft(w, "-")
				}
				i++
			}
		case len(pos) == 0 && len(cmds) > 0:
			var next *cli.Command
			for _, c := range cmds {
				if c.HasName(w) {
					next = c
				}
			}
			if next == nil {
				return nil
			}
			cmd, cmds, flags = next, next.Subcommands, next.Flags
			path = append(path, next.Name)
		default:
			pos = append(pos, w)
		}
	}
	verb := strings.Join(path, " ")
	if valueOf != "" {
		switch valueOf {
		case "c", "container":
			if len(pos) > 0 {
				return prefixed(src.containers(pos[0]), cur)
			}
			return nil
		case "o", "output":
			return prefixed(outputs[verb], cur)
		case "target":
			if len(pos) > 0 {
				return prefixed(src.containers(pos[0]), cur)
			}
			return nil
		case "image":
			return prefixed(src.images(), cur)
		case "profile":
			return prefixed([]string{"general", "netadmin", "sysadmin", "restricted", "baseline", "legacy"}, cur)
		}
		return nil // a path or a free value
	}
	if strings.HasPrefix(cur, "-") {
		var out []string
		fl := flags
		if cmd != nil {
			fl = append(append([]cli.Flag{}, flags...), &cli.BoolFlag{Name: "help", Aliases: []string{"h"}})
		}
		for _, f := range fl {
			if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
				continue
			}
			for _, n := range f.Names() {
				if len(n) == 1 {
					n = "-" + n
				} else {
					n = "--" + n
				}
				if strings.HasPrefix(n, cur) {
					out = append(out, n)
				}
			}
		}
		return out
	}
	if len(cmds) > 0 && len(pos) == 0 {
		var out []string
		for _, c := range cmds {
			if !c.Hidden && strings.HasPrefix(c.Name, cur) {
				out = append(out, c.Name)
			}
		}
		return out
	}
	switch verb {
	case "logs", "inspect", "stop", "exec", "debug":
		if len(pos) == 0 {
			return prefixed(src.pods(), cur)
		}
	case "rm":
		return prefixed(src.pods(), cur)
	case "get":
		if len(pos) == 0 {
			return prefixed([]string{"pod", "pods"}, cur)
		}
		return prefixed(src.pods(), cur)
	case "image rm":
		return prefixed(src.images(), cur)
	case "volume rm", "volume inspect":
		return prefixed(src.volumes(), cur)
	case "completion":
		if len(pos) == 0 {
			return prefixed([]string{"bash", "zsh", "fish"}, cur)
		}
	}
	return nil
}

// outputs are the values -o takes, by verb.
var outputs = map[string][]string{
	"ps":      {"table", "json"},
	"get":     {"json", "yaml", "table"},
	"inspect": {"json", "namespaces"},
	"version": {"text", "json"},
	"run":     {"yaml", "json"},
}

func prefixed(cands []string, cur string) []string {
	var out []string
	for _, c := range cands {
		if strings.HasPrefix(c, cur) {
			out = append(out, c)
		}
	}
	return out
}
