package dlq

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// spill is the bounded append-only overflow of the writer: segment files
// "dlq-<seq>.spill" in one directory, each a run of frames
//
//	uvarint length | CRC-32C of the record (4 bytes, little endian) | record (AppendEntry)
//
// The writer appends to the current segment; re-ingestion seals it and
// reads sealed segments oldest first, deleting each once the repository
// took all of it. A torn or corrupt frame ends its segment (the frames
// before it are kept). The total size of the segments is bounded; a write
// that would pass the bound is refused.
//
// A segment deleted only after its entries were added means a crash can
// re-ingest a segment twice; Repository.Add leaves existing IDs as they
// are, so each spilled entry is stored once.
type spill struct {
	dir    string
	max    int64
	segMax int64

	mu       sync.Mutex
	cur      *os.File
	w        *bufio.Writer
	curSeq   uint64
	curBytes int64
	curN     int
	nextSeq  uint64
	sealed   []sealedSeg
	total    int64 // bytes of every segment, current included
	entries  int   // entries in every segment
	unsynced int
	buf      []byte

	syncReq  chan struct{} // asks the syncer for an fsync
	syncDone chan struct{} // closed when the syncer exits
	syncs    atomic.Uint64
}

type sealedSeg struct {
	seq   uint64
	bytes int64
	n     int // -1 when unknown (found at start)
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

const spillExt = ".spill"

func segName(seq uint64) string { return fmt.Sprintf("dlq-%020d%s", seq, spillExt) }

func openSpill(dir string, limit int64) (*spill, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	s := &spill{dir: dir, max: limit, segMax: max(limit/8, 64<<10), nextSeq: 1, syncReq: make(chan struct{}, 1), syncDone: make(chan struct{})}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, de := range des {
		name := de.Name()
		if !strings.HasPrefix(name, "dlq-") || !strings.HasSuffix(name, spillExt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "dlq-"), spillExt), 10, 64)
		if err != nil {
			continue
		}
		fi, err := de.Info()
		if err != nil {
			return nil, err
		}
		s.sealed = append(s.sealed, sealedSeg{seq: seq, bytes: fi.Size(), n: -1})
		s.total += fi.Size()
		s.nextSeq = max(s.nextSeq, seq+1)
	}
	slices.SortFunc(s.sealed, func(a, b sealedSeg) int { return cmp.Compare(a.seq, b.seq) })
	go s.syncer(s.syncReq)
	return s, nil
}

// syncer fsyncs the current segment when asked, off the writer's path, so
// that the writer keeps appending while the disk syncs (group commit: one
// fsync covers every frame written before it started).
func (s *spill) syncer(req <-chan struct{}) {
	defer close(s.syncDone)
	for range req {
		s.mu.Lock()
		f := s.cur
		s.unsynced = 0
		s.mu.Unlock()
		if f != nil {
			_ = f.Sync() // a segment sealed meanwhile was synced by seal
			s.syncs.Add(1)
		}
	}
}

// write appends entries and returns how many it took (the rest would
// pass the bound).
func (s *spill) write(entries []Entry) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range entries {
		s.buf = AppendEntry(s.buf[:0], &entries[i])
		var hdr [binary.MaxVarintLen64 + 4]byte
		n := binary.PutUvarint(hdr[:], uint64(len(s.buf)))
		binary.LittleEndian.PutUint32(hdr[n:], crc32.Checksum(s.buf, crcTable))
		size := int64(n + 4 + len(s.buf))
		if s.total+size > s.max {
			return i, nil
		}
		if s.cur == nil || s.curBytes+size > s.segMax {
			if err := s.sealLocked(); err != nil {
				return i, err
			}
			f, err := os.OpenFile(filepath.Join(s.dir, segName(s.nextSeq)), os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o600)
			if err != nil {
				return i, err
			}
			s.cur, s.curSeq, s.curBytes, s.curN = f, s.nextSeq, 0, 0
			s.nextSeq++
			if s.w == nil {
				s.w = bufio.NewWriterSize(f, 64<<10)
			} else {
				s.w.Reset(f)
			}
		}
		_, _ = s.w.Write(hdr[:n+4])
		if _, err := s.w.Write(s.buf); err != nil {
			return i, err
		}
		s.curBytes += size
		s.total += size
		s.curN++
		s.entries++
		s.unsynced++
	}
	return len(entries), nil
}

// flush writes the buffer out to the file and, when 64 entries are
// unsynced or idle is set (the outbox is empty), asks the syncer for an
// fsync.
func (s *spill) flush(idle bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if s.unsynced >= 64 || (idle && s.unsynced > 0) {
		select {
		case s.syncReq <- struct{}{}:
		default: // one is pending; it will cover these frames
		}
	}
	return nil
}

func (s *spill) flushLocked(sync bool) error {
	if s.cur == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return err
	}
	if sync {
		s.unsynced = 0
		return s.cur.Sync()
	}
	return nil
}

// seal closes the current segment, so that it can be re-ingested.
func (s *spill) seal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked()
}

func (s *spill) sealLocked() error {
	if s.cur == nil {
		return nil
	}
	err := s.flushLocked(true)
	if cerr := s.cur.Close(); err == nil {
		err = cerr
	}
	s.sealed = append(s.sealed, sealedSeg{seq: s.curSeq, bytes: s.curBytes, n: s.curN})
	s.cur = nil
	return err
}

// pending reports whether anything waits for re-ingestion.
func (s *spill) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sealed) > 0 || s.curN > 0
}

// count returns the entries known to be in the segments.
func (s *spill) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.entries
}

// oldest returns the oldest sealed segment's entries; ok false when there
// is none. bad counts the frames that did not decode.
func (s *spill) oldest() (seq uint64, entries []Entry, bad int, ok bool, err error) {
	s.mu.Lock()
	if len(s.sealed) == 0 {
		s.mu.Unlock()
		return 0, nil, 0, false, nil
	}
	seg := s.sealed[0]
	s.mu.Unlock()
	f, err := os.Open(filepath.Join(s.dir, segName(seg.seq)))
	if err != nil {
		return seg.seq, nil, 0, true, err
	}
	defer f.Close()
	entries, bad, err = readSegment(bufio.NewReader(io.LimitReader(f, s.max+1)))
	return seg.seq, entries, bad, true, err
}

// readSegment decodes frames until the end or the first damaged frame.
func readSegment(r *bufio.Reader) (entries []Entry, bad int, err error) {
	var buf []byte
	for {
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return entries, bad, nil
		}
		if err != nil || n > 1<<20 {
			return entries, bad + 1, nil
		}
		var sum [4]byte
		if _, err := io.ReadFull(r, sum[:]); err != nil {
			return entries, bad + 1, nil
		}
		buf = slices.Grow(buf[:0], int(n))[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return entries, bad + 1, nil
		}
		if crc32.Checksum(buf, crcTable) != binary.LittleEndian.Uint32(sum[:]) {
			return entries, bad + 1, nil
		}
		e, err := DecodeEntry(buf)
		if err != nil {
			bad++
			continue
		}
		entries = append(entries, e)
	}
}

// done deletes a re-ingested segment.
func (s *spill) done(seq uint64, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.sealed, func(g sealedSeg) bool { return g.seq == seq })
	if i < 0 {
		return errors.New("dlq: spill segment not sealed")
	}
	g := s.sealed[i]
	if err := os.Remove(filepath.Join(s.dir, segName(seq))); err != nil && !os.IsNotExist(err) {
		return err
	}
	s.sealed = slices.Delete(s.sealed, i, i+1)
	s.total -= g.bytes
	if g.n >= 0 {
		s.entries -= g.n
	} else {
		s.entries = max(s.entries-n, 0)
	}
	return nil
}

func (s *spill) close() error {
	err := s.seal()
	s.mu.Lock()
	if s.syncReq != nil {
		close(s.syncReq)
		s.syncReq = nil
	}
	s.mu.Unlock()
	<-s.syncDone
	return err
}
