// Package adapter reads Apotti export batches (NDJSON, optionally gzip
// compressed) as a stream and turns every line into either a validated
// documents.Entry or a Rejection that names the bad field without repeating
// personal data.
//
// Readings of the contract (spec/apotti-export.md) that the adapter fixes:
//   - amends.revision must be exactly revision-1: revisions count up by one,
//     so an amendment always replaces the revision just before it; amends
//     must be absent for revision 1, and status amended needs revision > 1.
//   - "up to 1 MiB" of narrative is counted in bytes (the stricter reading of
//     the schema's maxLength in characters).
//   - A missing or null value and an empty string are the same to a required
//     string field; display and minor_consent left empty take their defaults.
//   - Defects the policy names better pass the adapter: a delayed or hidden
//     entry without a reason code, and a social work entry by another role
//     than school_welfare_officer (which needs no client relationship here;
//     the policy rejects it for mixing registers).
//   - Keys are matched case-sensitively (encoding/json/v2 semantics): "CLIENT"
//     is an unknown key and ignored; a key given twice in one object rejects
//     the entry, naming the key's path.
//   - Limits the contract leaves open are bounded here (validate.go): ids
//     and codes 128 characters, the unit name 200, free-text reasons 2000;
//     ids and codes must be printable (no control, format or separator
//     characters).
//   - A finalized_at more than Options.MaxFinalizedAhead after Options.Now
//     is rejected, not warned about: archived, it could only be corrected
//     by an amendment.
package adapter

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

// DefaultMaxLineBytes is the longest line accepted when Options leaves it 0:
// a 1 MiB narrative, escaped, with every other field, fits comfortably.
const DefaultMaxLineBytes = 8 << 20

// readBufferBytes is the size of the read buffer. Lines longer than it are
// assembled in a reusable line buffer.
const readBufferBytes = 64 << 10

// Options tune the reader.
type Options struct {
	// MaxLineBytes is the longest line (without its line terminator) that
	// is parsed; a longer one is skipped without being held in memory and
	// rejected. 0 means DefaultMaxLineBytes.
	MaxLineBytes int
	// Now, when set, is the time of reading: a finalized_at more than
	// MaxFinalizedAhead after it is rejected. Nil turns the check off (a
	// reader of old batches, a benchmark).
	Now func() time.Time
	// MaxFinalizedAhead is how far finalized_at may lie after Now (clock
	// skew between Apotti and the gateway). 0 means
	// DefaultMaxFinalizedAhead.
	MaxFinalizedAhead time.Duration
	// KeepRaw keeps a copy of every entry's line in Item.Raw, so that a
	// later rejection (policy, build) can quarantine the line itself.
	KeepRaw bool
}

// DefaultMaxFinalizedAhead is the bound on finalized_at when Options leaves
// MaxFinalizedAhead 0.
const DefaultMaxFinalizedAhead = 24 * time.Hour

// Item is the outcome of one non-empty line: exactly one of Entry and
// Rejection is set.
type Item struct {
	File      string
	Line      int // 1-based physical line number
	Entry     *documents.Entry
	Rejection *Rejection
	// Raw is a copy of an entry's line when Options.KeepRaw is set. It
	// holds personal data and must never be logged.
	Raw []byte
}

// Rejection says why a line was refused. Reason never holds the value of an
// identity code, a name or entry text; Raw does (it is the line itself, for
// the quarantine file) and must never be logged.
type Rejection struct {
	File     string
	Line     int
	EntryID  string // when it could be read (an entry id is not personal data)
	Revision int    // when it could be read; 0 otherwise
	Field    string // JSON path of the bad field; "" for whole-line problems
	Reason   string
	// Raw is a copy of the line without its terminator. It is nil for a
	// line over MaxLineBytes: such a line is never held in memory whole.
	Raw []byte
}

// Error formats "file:line: field: reason", with the entry key when known.
func (r *Rejection) Error() string {
	var b []byte
	b = append(b, r.File...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(r.Line), 10)
	b = append(b, ": "...)
	if r.EntryID != "" {
		b = append(b, "entry "...)
		b = append(b, r.EntryID...)
		if r.Revision > 0 {
			b = append(b, '#')
			b = strconv.AppendInt(b, int64(r.Revision), 10)
		}
		b = append(b, ": "...)
	}
	if r.Field != "" {
		b = append(b, r.Field...)
		b = append(b, ": "...)
	}
	b = append(b, r.Reason...)
	return string(b)
}

// Reader yields one Item per non-empty line of a batch. It is not safe for
// concurrent use.
type Reader struct {
	file    string
	maxLine int
	br      *bufio.Reader
	closer  io.Closer // the file opened by Open
	gz      *gzip.Reader
	started bool
	keepRaw bool

	line    int
	lineBuf []byte // reused for lines longer than the read buffer
	err     error  // sticky stream error (io.EOF at the end)
	parser  parser
}

// Open opens a batch file. A gzip stream is recognised by its magic bytes,
// whatever the file is called. Close closes the file.
func Open(path string, opts Options) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := NewReader(f, path, opts)
	r.closer = f
	return r, nil
}

// NewReader reads a batch from an already open stream; file is the name
// used in rejections. The stream may be gzip compressed.
func NewReader(rd io.Reader, file string, opts Options) *Reader {
	max := opts.MaxLineBytes
	if max <= 0 {
		max = DefaultMaxLineBytes
	}
	ahead := opts.MaxFinalizedAhead
	if ahead <= 0 {
		ahead = DefaultMaxFinalizedAhead
	}
	return &Reader{
		file:    file,
		maxLine: max,
		keepRaw: opts.KeepRaw,
		br:      bufio.NewReaderSize(rd, readBufferBytes),
		parser:  parser{now: opts.Now, maxAhead: ahead},
	}
}

// Close releases the gzip reader and closes the file opened by Open.
func (r *Reader) Close() error {
	var errs []error
	if r.gz != nil {
		errs = append(errs, r.gz.Close())
	}
	if r.closer != nil {
		errs = append(errs, r.closer.Close())
		r.closer = nil
	}
	return errors.Join(errs...)
}

var gzipMagic = []byte{0x1f, 0x8b}

// start switches to a gzip reader when the stream begins with gzip's magic.
func (r *Reader) start() error {
	r.started = true
	magic, err := r.br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if !bytes.Equal(magic, gzipMagic) {
		return nil
	}
	gz, err := gzip.NewReader(r.br)
	if err != nil {
		return fmt.Errorf("%s: gzip: %w", r.file, err)
	}
	r.gz = gz
	r.br = bufio.NewReaderSize(gz, readBufferBytes)
	return nil
}

// Next returns the next non-empty line's Item. It returns io.EOF at the end
// of the batch; any other error is a failure of the stream as a whole (an
// unreadable file, a corrupt gzip stream), never a bad line.
func (r *Reader) Next() (Item, error) {
	if r.err != nil {
		return Item{}, r.err
	}
	if !r.started {
		if err := r.start(); err != nil {
			r.err = err
			return Item{}, err
		}
	}
	for {
		line, overLong, err := r.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			// A stream failure: the partial line read so far is not
			// trustworthy (it may be cut mid-record), so it is dropped.
			r.err = fmt.Errorf("%s: line %d: read: %w", r.file, r.line, err)
			return Item{}, r.err
		}
		if err != nil && line == nil && !overLong {
			r.err = io.EOF
			return Item{}, io.EOF
		}
		if err != nil {
			// The last line had no newline: handle it, and end next time.
			r.err = io.EOF
		}
		if overLong {
			return Item{File: r.file, Line: r.line, Rejection: &Rejection{
				File: r.file, Line: r.line,
				Reason: "line is longer than " + strconv.Itoa(r.maxLine) + " bytes; skipped",
			}}, nil
		}
		if r.line == 1 {
			line = bytes.TrimPrefix(line, utf8BOM)
		}
		if blank(line) {
			if r.err != nil {
				return Item{}, r.err
			}
			continue
		}
		it := r.parser.parse(line, r.file, r.line)
		if r.keepRaw && it.Entry != nil {
			it.Raw = append([]byte(nil), line...)
		}
		return it, nil
	}
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readLine returns the next physical line without "\n" or "\r\n". The slice
// is valid until the next call. A line over the limit is consumed without
// being stored and reported as overLong. err is io.EOF when the stream ended
// (line then holds a last line without newline, or is nil).
func (r *Reader) readLine() (line []byte, overLong bool, err error) {
	chunk, err := r.br.ReadSlice('\n')
	if len(chunk) == 0 && err != nil && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, false, err
	}
	r.line++
	if err == nil || !errors.Is(err, bufio.ErrBufferFull) {
		// The whole line was in the read buffer (the common case: no copy).
		line = trimEOL(chunk)
		if len(line) > r.maxLine {
			return nil, true, err
		}
		return line, false, err
	}
	// A long line: assemble it, giving up once it exceeds the limit (+1
	// for a '\r' that may turn out to be part of the terminator).
	r.lineBuf = append(r.lineBuf[:0], chunk...)
	for errors.Is(err, bufio.ErrBufferFull) {
		chunk, err = r.br.ReadSlice('\n')
		if len(r.lineBuf)+len(chunk) > r.maxLine+2 {
			r.lineBuf = r.lineBuf[:0]
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = r.br.ReadSlice('\n')
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, false, err
			}
			return nil, true, err
		}
		r.lineBuf = append(r.lineBuf, chunk...)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	line = trimEOL(r.lineBuf)
	if len(line) > r.maxLine {
		return nil, true, err
	}
	return line, false, err
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// blank reports whether a line holds only spaces, tabs and carriage returns.
func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
