package mockkanta

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/privatefs"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// Format is the representation a document arrived in: a CDA document in an
// HL7 V3 archive message, or a FHIR R4 document Bundle.
type Format string

const (
	FormatCDA  Format = "cda"
	FormatFHIR Format = "fhir"
)

// Document is an archived document version as the store needs it: metadata
// already inspected and checked by a format-specific front (CDA message or
// FHIR Bundle), plus the exact bytes received.
type Document struct {
	// ID is the store's key: the CDA document id, or the Bundle resource id
	// (documents.FHIRBundleID). The gateway's route "both" sends one entry
	// revision as CDA and as FHIR; both copies carry the same document id,
	// so the FHIR copy needs a key of its own.
	ID string
	// DocumentID is the document's logical id (the CDA id; the FHIR
	// Bundle.identifier), which a replacing version names. Empty means ID.
	DocumentID         string
	SetID              string
	Version            int
	Archive            documents.Archive
	Interaction        string
	Hetu               string
	AuthorRole         documents.Role
	ReleaseDate        documents.Date
	Concealed          bool
	GuardianDisclosure bool
	Confidentiality    string
	SignatureType      string
	EnteredInError     bool
	Format             Format
	// ReplacesID is the document id of the version this one replaces
	// (empty for version 1).
	ReplacesID      string
	ReplacesVersion int
	// Social welfare archive (CDA route): the frame's service request
	// (SP1, SP17), the document group and the custodian (register keeper)
	// OID; see shark.go.
	ServiceRequest string
	DocumentGroup  string
	Custodian      string
	Content        []byte
	// Filled by the store.
	ReceivedAt  time.Time
	Submissions int
	// Sequence is the order the archive stored the document in (its row
	// id): documents received within one clock tick stay ordered.
	Sequence int64
}

// store keeps the archive in one SQLite file. Writes are serialised by mu so
// the version checks and the insert of a submission see one consistent set.
type store struct {
	db *sql.DB
	mu sync.Mutex
	// Prepared once: the archive path runs them for every message.
	stmtSum, stmtSet, stmtDuplicate, stmtInsert *sql.Stmt
}

// schema: versions are sequenced per (set, format), so the CDA and the
// FHIR copy of a set do not take each other's version numbers.
const schema = `
CREATE TABLE IF NOT EXISTS documents (
	id                  TEXT PRIMARY KEY,
	document_id         TEXT NOT NULL,
	set_id              TEXT NOT NULL,
	version             INTEGER NOT NULL,
	archive             TEXT NOT NULL,
	interaction         TEXT NOT NULL,
	hetu                TEXT NOT NULL,
	author_role         TEXT NOT NULL,
	release_date        TEXT NOT NULL,
	concealed           INTEGER NOT NULL,
	guardian_disclosure INTEGER NOT NULL,
	confidentiality     TEXT NOT NULL,
	signature_type      TEXT NOT NULL,
	entered_in_error    INTEGER NOT NULL,
	format              TEXT NOT NULL,
	replaces_id         TEXT NOT NULL,
	received_at         TEXT NOT NULL,
	submissions         INTEGER NOT NULL,
	content_sha256      BLOB NOT NULL,
	content             BLOB NOT NULL,
	service_request     TEXT NOT NULL DEFAULT '',
	document_group      TEXT NOT NULL DEFAULT '',
	custodian           TEXT NOT NULL DEFAULT '',
	UNIQUE (set_id, format, version)
);
CREATE INDEX IF NOT EXISTS documents_hetu ON documents (hetu);
`

func openStore(dataDir string, log *slog.Logger) (*store, error) {
	var dsn string
	if dataDir == "" {
		// In-memory: one shared connection keeps one database.
		dsn = "file::memory:"
	} else {
		// The archive holds children's records: 0700 directory, 0600 files
		// (SQLite gives -wal the database's mode), whatever the umask.
		if err := privatefs.Dir(dataDir, log); err != nil {
			return nil, fmt.Errorf("mockkanta: data dir: %w", err)
		}
		file := filepath.Join(dataDir, "mock-kanta.sqlite")
		if err := privatefs.Create(file, log); err != nil {
			return nil, fmt.Errorf("mockkanta: data dir: %w", err)
		}
		for _, side := range []string{"-wal", "-shm", "-journal"} {
			if err := privatefs.File(file+side, log); err != nil {
				return nil, fmt.Errorf("mockkanta: data dir: %w", err)
			}
		}
		// synchronous(OFF): the archive survives a process restart (the OS
		// has the pages) but not an OS crash, which a test double need not;
		// fsyncs at WAL checkpoints otherwise halved the message rate.
		// locking_mode(EXCLUSIVE), set before WAL: one process owns the
		// archive, and no file-lock and shared-memory calls per transaction
		// (they were a fifth of the time per message on this VM).
		dsn = "file:" + file +
			"?_pragma=locking_mode(EXCLUSIVE)&_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=busy_timeout(1000)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("mockkanta: open store: %w", err)
	}
	// One connection: writes are serialised anyway, and an in-memory
	// database lives exactly as long as its connection.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := migrate(db); err != nil {
		db.Close()
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
			return nil, fmt.Errorf("mockkanta: data directory %s is in use by another mock-kanta: %w", dataDir, err)
		}
		return nil, fmt.Errorf("mockkanta: migrate archive: %w", err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("mockkanta: create schema: %w", err)
	}
	s := &store{db: db}
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		{&s.stmtSum, `SELECT content_sha256 FROM documents WHERE id = ?`},
		{&s.stmtSet, `SELECT (SELECT document_id FROM documents WHERE set_id = ?1 AND format = ?2 ORDER BY version DESC LIMIT 1),
			MAX(version), MAX(entered_in_error), COUNT(*) FROM documents WHERE set_id = ?1 AND format = ?2`},
		{&s.stmtDuplicate, `UPDATE documents SET submissions = submissions + 1 WHERE id = ?`},
		{&s.stmtInsert, `INSERT INTO documents (id, document_id, set_id, version, archive, interaction, hetu,
			author_role, release_date, concealed, guardian_disclosure, confidentiality, signature_type,
			entered_in_error, format, replaces_id, received_at, submissions, content_sha256, content,
			service_request, document_group, custodian)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,1,?,?,?,?,?)`},
	} {
		if *p.stmt, err = db.Prepare(p.sql); err != nil {
			db.Close()
			return nil, fmt.Errorf("mockkanta: prepare: %w", err)
		}
	}
	return s, nil
}

func (s *store) close() error {
	for _, st := range []*sql.Stmt{s.stmtSum, s.stmtSet, s.stmtDuplicate, s.stmtInsert} {
		st.Close()
	}
	return s.db.Close()
}

// migrate brings an archive written before the FHIR route (no document_id
// column, versions unique per set only) to the current schema, keeping its
// documents.
func migrate(db *sql.DB) error {
	var tables, hasDocID int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'documents'`).Scan(&tables); err != nil {
		return err
	}
	if tables == 0 {
		return nil
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('documents') WHERE name = 'document_id'`).Scan(&hasDocID); err != nil {
		return err
	}
	if hasDocID > 0 {
		return addSocialColumns(db)
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	const cols = `id, set_id, version, archive, interaction, hetu, author_role, release_date, concealed,
		guardian_disclosure, confidentiality, signature_type, entered_in_error, format, replaces_id,
		received_at, submissions, content_sha256, content`
	for _, q := range []string{
		`ALTER TABLE documents RENAME TO documents_old`,
		`DROP INDEX IF EXISTS documents_hetu`,
		schema,
		`INSERT INTO documents (document_id, ` + cols + `) SELECT id, ` + cols + ` FROM documents_old`,
		`DROP TABLE documents_old`,
	} {
		if _, err := tx.Exec(q); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// submit archives a checked document, applying idempotency and the version
// rules of its set in its format. It returns the acknowledgement detail code: ACCEPTED,
// DUPLICATE, or the reason it was not stored.
func (s *store) submit(ctx context.Context, d *Document, now time.Time) (string, error) {
	sum := sha256.Sum256(d.Content)
	s.mu.Lock()
	defer s.mu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()

	// Same id again: identical bytes are a duplicate, anything else a conflict.
	var storedSum []byte
	err = tx.StmtContext(ctx, s.stmtSum).QueryRowContext(ctx, d.ID).Scan(&storedSum)
	switch {
	case err == nil:
		if string(storedSum) != string(sum[:]) {
			return wire.DetailVersionConflict, nil
		}
		if _, err := tx.StmtContext(ctx, s.stmtDuplicate).ExecContext(ctx, d.ID); err != nil {
			return "", err
		}
		return wire.DetailDuplicate, tx.Commit()
	case !errors.Is(err, sql.ErrNoRows):
		return "", err
	}
	if detail, err := relationshipStored(ctx, tx, d); err != nil || detail != "" {
		return detail, err
	}

	var current struct {
		id           string
		version      int
		invalidated  bool
		versionCount int
	}
	var invalid sql.NullInt64
	var curID sql.NullString
	var curVersion sql.NullInt64
	err = tx.StmtContext(ctx, s.stmtSet).QueryRowContext(ctx, d.SetID, string(d.Format)).Scan(&curID, &curVersion, &invalid, &current.versionCount)
	if err != nil {
		return "", err
	}
	current.id, current.version, current.invalidated = curID.String, int(curVersion.Int64), invalid.Int64 == 1

	switch {
	case current.invalidated:
		return wire.DetailSetInvalidated, nil
	case d.Version == 1:
		if current.versionCount > 0 {
			return wire.DetailVersionConflict, nil
		}
	case current.versionCount == 0 || current.version < d.Version-1:
		// An earlier version has not arrived (yet): it may, so AE.
		return wire.DetailVersionOutOfOrder, nil
	case current.version >= d.Version:
		return wire.DetailVersionConflict, nil
	case d.ReplacesID != current.id || d.ReplacesVersion != current.version:
		// A replacement must name the current version of its set.
		return wire.DetailVersionConflict, nil
	}

	docID := d.DocumentID
	if docID == "" {
		docID = d.ID
	}
	_, err = tx.StmtContext(ctx, s.stmtInsert).ExecContext(ctx, d.ID, docID, d.SetID, d.Version, string(d.Archive), d.Interaction, d.Hetu,
		string(d.AuthorRole), d.ReleaseDate.String(), d.Concealed, d.GuardianDisclosure, d.Confidentiality,
		d.SignatureType, d.EnteredInError, string(d.Format), d.ReplacesID,
		now.UTC().Format(receivedFormat), sum[:], d.Content, d.ServiceRequest, d.DocumentGroup, d.Custodian)
	if err != nil {
		return "", err
	}
	return wire.DetailAccepted, tx.Commit()
}

// receivedFormat is fixed-width UTC so the text column sorts in time order.
const receivedFormat = "2006-01-02T15:04:05.000000000Z"

const docColumns = `id, document_id, set_id, version, archive, interaction, hetu, author_role, release_date,
	concealed, guardian_disclosure, confidentiality, signature_type, entered_in_error, format,
	replaces_id, received_at, submissions, service_request, document_group, custodian, rowid`

func scanDocument(row interface{ Scan(...any) error }) (*Document, error) {
	var d Document
	var archive, role, release, format, received string
	err := row.Scan(&d.ID, &d.DocumentID, &d.SetID, &d.Version, &archive, &d.Interaction, &d.Hetu, &role, &release,
		&d.Concealed, &d.GuardianDisclosure, &d.Confidentiality, &d.SignatureType, &d.EnteredInError,
		&format, &d.ReplacesID, &received, &d.Submissions, &d.ServiceRequest, &d.DocumentGroup, &d.Custodian, &d.Sequence)
	if err != nil {
		return nil, err
	}
	d.Archive, d.AuthorRole, d.Format = documents.Archive(archive), documents.Role(role), Format(format)
	if release != "" {
		if d.ReleaseDate, err = documents.ParseDate(release); err != nil {
			return nil, fmt.Errorf("stored release date: %w", err)
		}
	}
	if d.ReceivedAt, err = time.Parse(receivedFormat, received); err != nil {
		return nil, fmt.Errorf("stored received_at: %w", err)
	}
	return &d, nil
}

// list returns stored versions, oldest first, filtered by client and archive
// when those are non-empty.
func (s *store) list(ctx context.Context, hetu string, archive documents.Archive) ([]*Document, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+docColumns+` FROM documents
		WHERE (?1 = '' OR hetu = ?1) AND (?2 = '' OR archive = ?2)
		ORDER BY received_at, set_id, version`, hetu, string(archive))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Document
	for rows.Next() {
		d, err := scanDocument(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

var errNotFound = errors.New("document not found")

func (s *store) get(ctx context.Context, id string) (*Document, error) {
	d, err := scanDocument(s.db.QueryRowContext(ctx, `SELECT `+docColumns+` FROM documents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return d, err
}

func (s *store) content(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRowContext(ctx, `SELECT content FROM documents WHERE id = ?`, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	return b, err
}

func (s *store) reset(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.db.ExecContext(ctx, `DELETE FROM documents`)
	return err
}
