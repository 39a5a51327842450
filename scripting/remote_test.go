package scripting

import (
	"os/exec"
	"strings"
	"testing"
)

func TestHeaderWriterTakesThePIDLineOffInAnyChunking(t *testing.T) {
	stream := "farmhand-pid 4242\nhello\nworld\n"
	for split := 0; split <= len(stream); split++ {
		w := &headerWriter{out: capWriter{max: 100}, pidKnown: make(chan struct{})}
		w.Write([]byte(stream[:split]))
		w.Write([]byte(stream[split:]))
		if w.pid != 4242 || w.out.String() != "hello\nworld\n" {
			t.Fatalf("split at %d: pid %d output %q; want 4242 and the rest", split, w.pid, w.out.String())
		}
	}
}

func TestHeaderWriterKeepsOutputThatIsNotAHeader(t *testing.T) {
	w := &headerWriter{out: capWriter{max: 100}, pidKnown: make(chan struct{})}
	w.Write([]byte("Welcome!\nhello\n"))
	if w.pid != 0 || w.out.String() != "Welcome!\nhello\n" {
		t.Errorf("pid %d output %q; want no pid and the output untouched", w.pid, w.out.String())
	}
	select {
	case <-w.pidKnown:
	default:
		t.Error("pidKnown was not closed after the first line")
	}
}

// TestRemoteCommandRunsInALocalShell runs the generated command and the
// wrapped body with the local /bin/sh, as sshd's login shell would.
func TestRemoteCommandRunsInALocalShell(t *testing.T) {
	cmd := exec.Command("sh", "-c", remoteCommand(Vars{"role_name": "app", "q": "it's"}, "", "", false, false))
	cmd.Stdin = strings.NewReader(wrapBody(`echo "$FARM_ROLE_NAME $FARM_Q"; read x; echo "read: $x"`))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	pidLine, rest, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(pidLine, pidHeader) || rest != "app it's\nread: \n" {
		t.Errorf("output %q; want the pid line, the variables, and an empty read", out)
	}
}
