package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// commit is the git commit podbox was built from; the Makefile sets it with
// -X main.commit, as it sets version.
var commit = "unknown"

// Modules whose versions `podbox version` reports, as `runc --version` names
// the runtime-spec and libseccomp it was built with.
const (
	libcontainerModule = "github.com/opencontainers/runc"
	criAPIModule       = "k8s.io/cri-api"
)

// versionInfo is what `podbox version -o json` prints.
type versionInfo struct {
	Version      string `json:"version"`
	Commit       string `json:"commit"`
	Go           string `json:"go"`
	Platform     string `json:"platform"`
	Libcontainer string `json:"libcontainer"`
	CRIAPI       string `json:"criAPI"`
}

func buildVersion() versionInfo {
	v := versionInfo{
		Version:      version,
		Commit:       commit,
		Go:           runtime.Version(),
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
		Libcontainer: "none",
		CRIAPI:       "none",
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.Libcontainer = moduleVersion(bi, libcontainerModule)
		v.CRIAPI = moduleVersion(bi, criAPIModule)
	}
	return v
}

// moduleVersion is the version of the module at path linked into the
// binary (its replacement's, when replaced), or "none".
func moduleVersion(bi *debug.BuildInfo, path string) string {
	for _, m := range bi.Deps {
		if m.Path != path {
			continue
		}
		if m.Replace != nil {
			if m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Replace.Path
		}
		return m.Version
	}
	return "none"
}

func (v versionInfo) write(w io.Writer) {
	fmt.Fprintf(w, "podbox version %s\ncommit: %s\ngo: %s\nplatform: %s\nlibcontainer: %s\ncri-api: %s\n",
		v.Version, v.Commit, v.Go, v.Platform, v.Libcontainer, v.CRIAPI)
}

func init() {
	// --version prints what `podbox version` prints.
	cli.VersionPrinter = func(c *cli.Context) { buildVersion().write(c.App.Writer) }
}

var versionCommand = &cli.Command{
	Name:  "version",
	Usage: "show podbox's version, commit and the versions it was built with",
	Description: `Prints podbox's version and commit, the Go version, the platform, and the
versions of runc's libcontainer and the Kubernetes CRI API linked into the
binary ("none" for one that is not). --version prints the same.

Example:
   podbox version
   podbox version -o json`,
	Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "text or json"}},
	Action: func(c *cli.Context) error {
		if c.NArg() != 0 {
			return fmt.Errorf("version: takes no arguments")
		}
		v := buildVersion()
		switch c.String("output") {
		case "json":
			return printJSON(c, v)
		case "", "text":
			v.write(c.App.Writer)
			return nil
		default:
			return fmt.Errorf("version: -o %q: want text or json", c.String("output"))
		}
	},
}
