package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// dryRunValue is --dry-run as kubectl takes it: none, client (server is
// kubectl's API server's), or alone, the old form, for client.
type dryRunValue struct{ mode string }

func (d *dryRunValue) String() string   { return d.mode }
func (d *dryRunValue) IsBoolFlag() bool { return true } // --dry-run alone: "true"
func (d *dryRunValue) Set(s string) error {
	switch s {
	case "true", "client":
		d.mode = "client"
	case "false", "none":
		d.mode = ""
	case "server":
		return errors.New(`"server" needs an API server: podbox has "client" (print the manifest) or "none"`)
	default:
		return fmt.Errorf("%q: want none or client", s)
	}
	return nil
}

// kubectlRunManifest is the v1.Pod kubectl run makes of podbox run NAME
// --image IMAGE [flags] [-- ARG...], as YAML.
func kubectlRunManifest(c *cli.Context) ([]byte, error) {
	args := c.Args().Slice()
	if len(args) == 0 || args[0] == "--" {
		return nil, errors.New("run: --image wants the pod's NAME (see podbox run --help)")
	}
	name, rest := args[0], args[1:]
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	if c.String("name") != "" && c.String("name") != name {
		return nil, fmt.Errorf("run: --name %q and NAME %q: give one", c.String("name"), name)
	}
	ctr := v1.Container{Name: name, Image: c.String("image")}
	if c.Bool("command") {
		ctr.Command = rest
	} else {
		ctr.Args = rest
	}
	if p := c.Int("port"); c.IsSet("port") {
		ctr.Ports = []v1.ContainerPort{{ContainerPort: int32(p)}}
	}
	for _, kv := range c.StringSlice("env") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("run: --env %q: want KEY=VALUE", kv)
		}
		ctr.Env = append(ctr.Env, v1.EnvVar{Name: k, Value: v})
	}
	labels := map[string]string{"run": name}
	if l := c.String("labels"); l != "" {
		labels = map[string]string{}
		for _, kv := range strings.Split(l, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("run: --labels %q: want KEY=VALUE,...", l)
			}
			labels[k] = v
		}
	}
	pod := v1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: v1.PodSpec{
			Containers:    []v1.Container{ctr},
			RestartPolicy: v1.RestartPolicy(c.String("restart")),
			DNSPolicy:     v1.DNSClusterFirst,
		},
	}
	return yaml.Marshal(&pod)
}

// printManifest writes the manifest (YAML) as -o asks.
func printManifest(c *cli.Context, data []byte) error {
	switch c.String("output") {
	case "", "yaml":
		_, err := c.App.Writer.Write(data)
		return err
	case "json":
		b, err := yaml.YAMLToJSON(data)
		if err != nil {
			return err
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		out, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(c.App.Writer, "%s\n", out)
		return err
	}
	return fmt.Errorf("run: -o %q: want yaml or json", c.String("output"))
}
