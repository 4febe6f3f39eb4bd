package image

import (
	"fmt"
	"regexp"
	"strings"
)

// DefaultTag is the tag a name without one gets.
const DefaultTag = "latest"

var (
	// A path component, as in the docker reference grammar: lowercase
	// alphanumerics separated by one of ".", "_", "__" or a run of "-".
	componentRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	// A registry host: DNS labels (any case) separated by dots, or an
	// IPv6 address in brackets, with an optional port.
	hostRE   = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$`)
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// maxNameLen bounds a normalized name so that its entry in the store stays
// a valid file name.
const maxNameLen = 200

// NormalizeName checks name against the docker reference grammar (loosely:
// no default registry) and returns it as "repository:tag", adding the tag
// "latest" when name has none, or as "repository@sha256:HEX" for a
// reference by digest (a tag beside the digest is dropped: the digest
// names the image). Valid names are "busybox", "busybox:1.36",
// "example.com/team/app:v1", "localhost:5000/app" and
// "localhost:5000/app@sha256:<64 hex>". The returned error wraps
// ErrInvalidName and names the name.
func NormalizeName(name string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w %q: %s", ErrInvalidName, name, why)
	}
	if name == "" {
		return bad("empty")
	}
	rest, digest, byDigest := strings.Cut(name, "@")
	if byDigest && !digestRE.MatchString(digest) {
		return bad("digest must be sha256: and 64 lowercase hex digits")
	}
	repo, tag := rest, DefaultTag
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		repo, tag = rest[:i], rest[i+1:]
		if !tagRE.MatchString(tag) {
			return bad("tag must be 1 to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'")
		}
	}
	parts := strings.Split(repo, "/")
	// As docker does, the first of several components is a registry host
	// when it has a dot or a port, or is "localhost".
	if len(parts) > 1 && (strings.ContainsAny(parts[0], ".:") || parts[0] == "localhost") {
		if !hostRE.MatchString(parts[0]) {
			return bad(fmt.Sprintf("registry host %q is not HOST[:PORT]", parts[0]))
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !componentRE.MatchString(p) {
			return bad(fmt.Sprintf("path component %q must be lowercase letters, digits and separators [._-]", p))
		}
	}
	full := repo + ":" + tag
	if byDigest {
		full = repo + "@" + digest
	}
	if len(full) > maxNameLen {
		return bad(fmt.Sprintf("longer than %d characters", maxNameLen))
	}
	return full, nil
}

// SplitName splits a normalized name into repository and tag, or
// repository and digest for a reference by digest.
func SplitName(normalized string) (repo, tag, digest string) {
	if r, d, ok := strings.Cut(normalized, "@"); ok {
		return r, "", d
	}
	i := strings.LastIndexByte(normalized, ':')
	return normalized[:i], normalized[i+1:], ""
}
