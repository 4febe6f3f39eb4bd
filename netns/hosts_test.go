package netns

import (
	"net/netip"
	"testing"
)

const localhostLines = "# Kubernetes-managed hosts file.\n" +
	"127.0.0.1\tlocalhost\n" +
	"::1\tlocalhost ip6-localhost ip6-loopback\n" +
	"fe00::0\tip6-localnet\n" +
	"fe00::0\tip6-mcastprefix\n" +
	"fe00::1\tip6-allnodes\n" +
	"fe00::2\tip6-allrouters\n"

func TestHostsFile(t *testing.T) {
	ip := netip.MustParseAddr("10.88.0.7")
	aliases := []HostAlias{
		{IP: "127.0.0.1", Hostnames: []string{"foo.local", "bar.local"}},
		{IP: "10.1.2.3", Hostnames: []string{"foo.remote"}},
	}
	cases := []struct {
		name string
		got  []byte
		want string
	}{
		{"plain", HostsFile(ip, "web", "", nil), localhostLines + "10.88.0.7\tweb\n"},
		{"subdomain", HostsFile(ip, "web", "sub.default.svc.cluster.local", nil),
			localhostLines + "10.88.0.7\tweb.sub.default.svc.cluster.local\tweb\n"},
		{"aliases", HostsFile(ip, "web", "", aliases), localhostLines + "10.88.0.7\tweb\n" +
			"\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n"},
		{"no ip", HostsFile(netip.Addr{}, "web", "", nil), localhostLines},
		{"host network", HostNetworkHostsFile([]byte("127.0.0.1 localhost\n10.0.0.5 myhost"), aliases[1:]),
			"# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n10.0.0.5 myhost\n" +
				"\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\n"},
	}
	for _, c := range cases {
		if string(c.got) != c.want {
			t.Errorf("%s:\n got: %q\nwant: %q", c.name, c.got, c.want)
		}
	}
}
