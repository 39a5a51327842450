// Package actionlog records who acted on which farm and when, and finds
// double actions in the record: two controllers acting on one farm in
// overlapping time. The HA tests and benchmark stamp every action (a cloud
// call, a state write) with the acting controller and the revision of its
// ownership key, the epoch, and check the whole record at the end.
//
// A record is kept in memory (Log) or in a file per process (File), one
// line per action: "farm member epoch start-ns end-ns".
package actionlog

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Action is one action on a farm.
type Action struct {
	Farm   string
	Member string
	// Epoch is the revision of the ownership key the member acted under;
	// a later owner has a greater epoch.
	Epoch int64
	// Start and End bound the action: taken before the member checked its
	// ownership, and after the action returned.
	Start, End time.Time
}

// Double is a pair of ownerships of one farm whose actions overlap in
// time: the earlier owner still acted after the later one started.
type Double struct {
	Farm string
	// Earlier and Later are the last action of the earlier owner and the
	// first action of the later one.
	Earlier, Later Action
}

func (d Double) String() string {
	return fmt.Sprintf("farm %s: %s (epoch %d) acted until %s, after %s (epoch %d) started at %s",
		d.Farm, d.Earlier.Member, d.Earlier.Epoch, d.Earlier.End.Format(time.RFC3339Nano),
		d.Later.Member, d.Later.Epoch, d.Later.Start.Format(time.RFC3339Nano))
}

// Doubles returns the double actions in actions: for each farm, each pair
// of epochs held by different members where an action of the earlier epoch
// ended after the first action of the later epoch started. One member
// taking a farm back under a new epoch is not a double action with itself.
func Doubles(actions []Action) []Double {
	type span struct {
		member      string
		first, last Action
	}
	byFarm := map[string]map[int64]*span{}
	for _, a := range actions {
		epochs := byFarm[a.Farm]
		if epochs == nil {
			epochs = map[int64]*span{}
			byFarm[a.Farm] = epochs
		}
		s := epochs[a.Epoch]
		if s == nil {
			epochs[a.Epoch] = &span{member: a.Member, first: a, last: a}
			continue
		}
		if a.Start.Before(s.first.Start) {
			s.first = a
		}
		if a.End.After(s.last.End) {
			s.last = a
		}
	}
	var out []Double
	farms := make([]string, 0, len(byFarm))
	for f := range byFarm {
		farms = append(farms, f)
	}
	sort.Strings(farms)
	for _, f := range farms {
		epochs := make([]int64, 0, len(byFarm[f]))
		for e := range byFarm[f] {
			epochs = append(epochs, e)
		}
		sort.Slice(epochs, func(i, j int) bool { return epochs[i] < epochs[j] })
		for i, e1 := range epochs {
			for _, e2 := range epochs[i+1:] {
				a, b := byFarm[f][e1], byFarm[f][e2]
				if a.member != b.member && a.last.End.After(b.first.Start) {
					out = append(out, Double{Farm: f, Earlier: a.last, Later: b.first})
				}
			}
		}
	}
	return out
}

// Log is a record in memory, safe for concurrent use.
type Log struct {
	mu      sync.Mutex
	actions []Action
}

// Record adds an action.
func (l *Log) Record(a Action) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.actions = append(l.actions, a)
}

// Actions returns a copy of the record.
func (l *Log) Actions() []Action {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Action(nil), l.actions...)
}

// File appends actions to a file, one line each, written with one write
// call so that a process killed mid-way leaves whole lines.
type File struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFile opens path for appending, creating it.
func OpenFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &File{f: f}, nil
}

// Record appends an action.
func (w *File) Record(a Action) error {
	line := fmt.Sprintf("%s %s %d %d %d\n", a.Farm, a.Member, a.Epoch, a.Start.UnixNano(), a.End.UnixNano())
	w.mu.Lock()
	defer w.mu.Unlock()
	_, err := w.f.WriteString(line)
	return err
}

// Close closes the file.
func (w *File) Close() error { return w.f.Close() }

// ReadFiles reads the actions of every file; a last line cut short by a
// kill is skipped.
func ReadFiles(paths ...string) ([]Action, error) {
	var out []Action
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) != 5 {
				continue
			}
			epoch, err1 := strconv.ParseInt(fs[2], 10, 64)
			start, err2 := strconv.ParseInt(fs[3], 10, 64)
			end, err3 := strconv.ParseInt(fs[4], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				continue
			}
			out = append(out, Action{Farm: fs[0], Member: fs[1], Epoch: epoch, Start: time.Unix(0, start), End: time.Unix(0, end)})
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
	}
	return out, nil
}
