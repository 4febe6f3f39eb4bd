package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask podbox itself for the candidates: urfave/cli
// prints the verbs, or the flags when the word starts with "-", of the
// command line it is given followed by --generate-bash-completion.

const bashCompletion = `# bash completion for podbox (podbox completion bash)
_podbox() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
	[[ $cur == -* ]] && args+=("$cur")
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${args[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _podbox podbox
`

const zshCompletion = `#compdef podbox
# zsh completion for podbox (podbox completion zsh)
_podbox() {
	local cur=${words[CURRENT]}
	local -a args=("${(@)words[2,CURRENT-1]}") cands
	[[ $cur == -* ]] && args+=("$cur")
	cands=("${(@f)$(${words[1]} "${args[@]}" --generate-bash-completion 2>/dev/null)}")
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

var completionCommand = &cli.Command{
	Name:      "completion",
	Usage:     "print a shell completion script (bash, zsh or fish)",
	ArgsUsage: "SHELL",
	Description: `Prints the completion script for SHELL. make install puts them where the
distributions look; from a release tarball, for example:

Example:
   podbox completion bash > /etc/bash_completion.d/podbox
   podbox completion zsh > /usr/local/share/zsh/site-functions/_podbox
   podbox completion fish > /etc/fish/completions/podbox.fish`,
	Action: func(c *cli.Context) error {
		if c.NArg() != 1 {
			return fmt.Errorf("completion: want one shell: bash, zsh or fish")
		}
		return writeCompletion(c.App, c.Args().First(), c.App.Writer)
	},
}

func writeCompletion(app *cli.App, shell string, w io.Writer) error {
	switch shell {
	case "bash":
		_, err := io.WriteString(w, bashCompletion)
		return err
	case "zsh":
		_, err := io.WriteString(w, zshCompletion)
		return err
	case "fish":
		s, err := app.ToFishCompletion()
		if err != nil {
			return fmt.Errorf("completion fish: %w", err)
		}
		_, err = io.WriteString(w, s)
		return err
	default:
		return fmt.Errorf("completion: unknown shell %q: want bash, zsh or fish", shell)
	}
}

// manCommand prints podbox.8, generated from the commands and flags; make
// install and make release run it.
var manCommand = &cli.Command{
	Name:   "__man",
	Hidden: true,
	Usage:  "print the podbox(8) man page",
	Action: func(c *cli.Context) error {
		s, err := c.App.ToManWithSection(8)
		if err != nil {
			return fmt.Errorf("man page: %w", err)
		}
		_, err = io.WriteString(c.App.Writer, s)
		return err
	},
}
