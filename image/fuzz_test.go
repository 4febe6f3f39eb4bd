package image

import (
	"archive/tar"
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// FuzzExtract feeds the extractor arbitrary archives and checks the one
// property that matters: whatever the input, and whether extraction fails
// or not, nothing outside the target directory changed (a canary
// directory beside it, and the directory that holds both, are compared
// before and after) and the target is still a directory.
//
// An input is a small text program, so that mutations stay meaningful
// (a raw tar's header checksums would turn most of them into noise):
//
//	layers              first line: apply OCI whiteouts ("plain" or none: a rootfs tarball)
//	f NAME BODY         regular file
//	d NAME [MODE]       directory (octal mode; 0700 is always added so that cleanup works)
//	l NAME TARGET       symlink
//	h NAME TARGET       hard link
//	c NAME MAJ,MIN      character device (b: block device, p NAME: FIFO)
//	---                 next layer
//
// "@C" in a name or target is the canary directory's absolute path (which
// changes from run to run), "@T" the directory holding root and canary.
// An input that starts with "raw\n" is a tar stream as it is, after that
// line.
func FuzzExtract(f *testing.F) {
	for _, seed := range []string{
		// issue 12: "./" a symlink to outside, then writes through it
		"l ./ @C\nf secret pwned\nf sub/file pwned",
		"layers\nl ./ @C\n---\nf secret pwned\nd sub\nf sub/file pwned",
		"l . ../canary\nf secret pwned",
		"l / @T\nf canary/secret pwned",
		// a directory made a symlink in layer 1, written through in layer 2
		"layers\nd etc\nl etc/conf @C\n---\nf etc/conf/secret pwned\nd etc/conf/sub 755\nf etc/conf/sub/file pwned",
		"layers\nl up ../../../../../../../..\n---\nf up@C/secret pwned\nf up/../canary/secret pwned",
		// whiteouts of nothing, ".", "..", and through symlinks
		"layers\nd a\nf a/f f\n---\nf .wh.. x",
		"layers\nf .wh... x\nf .wh. x\nf a/.wh.. x\nf ./.wh... x",
		"layers\nl link @C\nl abs /\nd d\nf d/f f\n---\nf link/.wh.secret x\nf link/.wh..wh..opq x\nf abs/.wh.d x\nf .wh.link x",
		"layers\nl up ..\n---\nf up/.wh.canary x\nf up/.wh..wh..opq x\nf .wh..wh..opq x",
		"layers\nc up/canary 0,0\nc .. 0,0\nc . 0,0",
		// hard links out of the root, through symlinks, to symlinks
		"h hl ../canary/secret\nh hl2 @C/secret",
		"l s ../canary\nh hl s/secret\nl t @C\nh hl2 t/secret",
		"l s @C/secret\nh hl s\nf hl written\nh hl3 hl",
		"d d\nh hl d\nh root ./\nh root2 .",
		// symlink chains and loops
		"l a b\nl b ../c\nl c d/e\nd d\nl d/e ../../..@C\nf a/secret pwned\nf a/sub/file pwned",
		"l loop1 loop2\nl loop2 loop1\nf loop1/x x\nl self .\nf self/self/self/x x",
		// a symlink replaced, a directory replaced by a symlink after its chmod was queued
		"l f @C/secret\nf f plain\nl d @C\nd d\nf d/x x",
		"d a 700\nd a/b 700\nl a @C",
		"d ./ 700\nf x x\nd / 755",
		// absolute and ".." names
		"f @C/secret pwned\nf ../canary/secret pwned\nf a/../../canary/secret pwned\nf //etc/x x",
		// devices are refused
		"b dev/sda 8,0\nc dev/mem 1,1\np run/fifo",
		// a raw tar with a "./" symlink
		"raw\n" + string(rawTar(f, &tar.Header{Name: "./", Typeflag: tar.TypeSymlink, Linkname: "../canary"}, &tar.Header{Name: "secret", Typeflag: tar.TypeReg, Size: 5})),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, program string) {
		sb := newSandbox(t)
		layers, tars := fuzzTars(t, program, sb)
		x, err := newExtractor(sb.root, layers, ExtractOptions{MaxBytes: 1 << 20, MaxEntries: 10000})
		if err != nil {
			t.Fatal(err)
		}
		defer x.close()
		for _, data := range tars {
			if err = x.apply(ctx, bytes.NewReader(data)); err != nil {
				break
			}
		}
		if err == nil {
			err = x.finish()
		}
		sb.check(t)
	})
}

// fuzzTars turns a FuzzExtract program into its layers' tar streams.
func fuzzTars(t *testing.T, program string, sb *scratch) (layers bool, tars [][]byte) {
	if raw, ok := strings.CutPrefix(program, "raw\n"); ok {
		return false, [][]byte{[]byte(raw)}
	}
	expand := strings.NewReplacer("@C", sb.canary, "@T", sb.top).Replace
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	next := func() {
		tw.Close()
		tars = append(tars, append([]byte(nil), buf.Bytes()...))
		buf.Reset()
		tw = tar.NewWriter(&buf)
	}
	lines := strings.Split(program, "\n")
	if len(lines) > 0 && (lines[0] == "layers" || lines[0] == "plain") {
		layers = lines[0] == "layers"
		lines = lines[1:]
	}
	for _, line := range lines {
		if line == "---" {
			next()
			continue
		}
		fields := strings.SplitN(line, " ", 3)
		if len(fields) < 2 || len(fields[0]) != 1 {
			continue
		}
		arg := ""
		if len(fields) == 3 {
			arg = expand(fields[2])
		}
		hdr := &tar.Header{Name: expand(fields[1]), Mode: 0o644, ModTime: fixtureTime}
		var body string
		switch fields[0][0] {
		case 'f':
			hdr.Typeflag, body = tar.TypeReg, arg
		case 'd':
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
			if m, err := strconv.ParseInt(arg, 8, 32); err == nil {
				hdr.Mode = m&0o7777 | 0o700
			}
		case 'l':
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, arg
		case 'h':
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, arg
		case 'c', 'b':
			hdr.Typeflag = map[byte]byte{'c': tar.TypeChar, 'b': tar.TypeBlock}[fields[0][0]]
			maj, min, _ := strings.Cut(arg, ",")
			hdr.Devmajor, _ = strconv.ParseInt(maj, 10, 32)
			hdr.Devminor, _ = strconv.ParseInt(min, 10, 32)
		case 'p':
			hdr.Typeflag = tar.TypeFifo
		default:
			continue
		}
		hdr.Size = int64(len(body))
		if tw.WriteHeader(hdr) != nil {
			continue // a header the tar format can not hold: the writer is still usable
		}
		tw.Write([]byte(body))
	}
	next()
	return layers, tars
}

// rawTar is a tar stream of the headers, each file's content being "x"s.
func rawTar(t testing.TB, hdrs ...*tar.Header) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.ModTime = fixtureTime
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(bytes.Repeat([]byte("x"), int(h.Size)))
	}
	tw.Close()
	return buf.Bytes()
}
