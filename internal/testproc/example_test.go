package testproc_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/farmhand/farmhand/internal/testproc"
)

// A server is ready when it has said so in its log; Stop ends it.
func ExampleStart() {
	dir, cleanup := tempDir()
	defer cleanup()
	log := filepath.Join(dir, "server.log")
	cmd := exec.Command("/bin/sh", "-c", "echo listening; exec sleep 60")
	p, err := testproc.Start(context.Background(), cmd, log, 10*time.Second, func(context.Context) error {
		if !strings.Contains(readLog(log), "listening") {
			return errors.New("not listening yet")
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(p.Log())
	fmt.Println("stop:", p.Stop(5*time.Second))
	// Output:
	// listening
	// stop: <nil>
}
