package netns

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
)

// IfNameMax is the longest interface name the kernel accepts (IFNAMSIZ-1).
const IfNameMax = 15

// minVethHex is the fewest hex digits of the pod hash a host veth name must
// carry: 24 bits keep two pods of one host from colliding in practice, and
// a collision is caught (the link exists) rather than silently shared.
const minVethHex = 6

var podIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// validatePod checks a pod id: it is written into lease files and nftables
// rule comments, so it is limited to 1-128 of [A-Za-z0-9_.-], starting with
// a letter or digit (every DNS-1123 label qualifies).
func validatePod(pod string) error {
	if !podIDRe.MatchString(pod) {
		return fmt.Errorf("pod id %q: want 1-128 characters of [A-Za-z0-9_.-], starting with a letter or digit", pod)
	}
	return nil
}

// vethName returns the host-side veth name of pod: prefix followed by as
// many hex digits of sha256(pod) as fit in IfNameMax bytes. It is derived,
// not random, so Detach finds the link of a pod whose lease is lost.
func vethName(prefix, pod string) string {
	sum := sha256.Sum256([]byte(pod))
	n := IfNameMax - len(prefix)
	return prefix + hex.EncodeToString(sum[:])[:n]
}

// checkVethPrefix reports whether prefix is a valid start of an interface
// name that leaves room for minVethHex digits of the pod hash.
func checkVethPrefix(prefix string) error {
	if len(prefix) > IfNameMax-minVethHex {
		return fmt.Errorf("veth prefix %q: longer than %d bytes leaves too little of the pod hash", prefix, IfNameMax-minVethHex)
	}
	return checkIfName("veth prefix", prefix)
}

// checkIfName reports whether name is a valid interface name.
func checkIfName(what, name string) error {
	if len(name) == 0 || len(name) > IfNameMax {
		return fmt.Errorf("%s %q: want 1-%d bytes", what, name, IfNameMax)
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c == '/' || c == ':' || c >= 0x7f {
			return fmt.Errorf("%s %q: %q is not allowed in an interface name", what, name, c)
		}
	}
	return nil
}
