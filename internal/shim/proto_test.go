package shim

import (
	"os"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// Every field survives the wire, with the pipes sent beside it; a
// datagram that is not key/value pairs, or a number that is not one, is
// refused.
func TestMessages(t *testing.T) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := newSocket(pair[0], "a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.f.Close()
	b, err := newSocket(pair[1], "b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	want := Msg{
		Op: OpLogs, PID: 4242, Name: "app", Path: "/var/log/pods/ns_pod_uid/app/0.log", MaxSize: 10 << 20, MaxFiles: 5,
		Streams: []string{"stdout", "stderr"}, Status: 0x8b00, Known: true, WakeAt: 1767225600123456789, PausePID: 7, Wakes: 3,
	}
	if err := a.send(want, int(r.Fd()), int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	got, fds, err := b.recv()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if len(fds) != 2 {
		t.Fatalf("%d descriptors, want 2", len(fds))
	}
	// The pipe came through: what is written to the received write end
	// is read from the original read end.
	wf := os.NewFile(uintptr(fds[1]), "w")
	unix.Close(fds[0])
	wf.Write([]byte("x"))
	wf.Close()
	buf := make([]byte, 1)
	if n, _ := r.Read(buf); n != 1 || buf[0] != 'x' {
		t.Errorf("the passed pipe does not carry data")
	}

	for _, bad := range []string{"op\x00logs", "op\x00logs\x00pid\x00x12\x00", "pid\x00" + "99999999999999999999\x00"} {
		if _, err := decode([]byte(bad)); err == nil {
			t.Errorf("decode(%q) accepted", bad)
		}
	}
	// Unknown keys are ignored (a newer shim may say more).
	if m, err := decode([]byte("op\x00wake\x00later\x00x\x00")); err != nil || m.Op != OpWake {
		t.Errorf("decode with an unknown key: %+v, %v", m, err)
	}
}
