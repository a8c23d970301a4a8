// Package config is the gateway's configuration: one typed struct with
// defaults, loaded from YAML with every key overridable by a
// KANTA_GATEWAY_* environment variable, and a Validate step that names the
// bad key.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/sosmeta"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
	"github.com/helsinki-student-welfare/kanta-gateway/serverlimits"

	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// Config is the whole gateway configuration.
type Config struct {
	// Environment is test or production; production is only ever chosen
	// explicitly.
	Environment documents.Environment `mapstructure:"environment" json:"environment"`
	// TimeZone in which policy dates (go-live, release dates) are read.
	TimeZone string `mapstructure:"time_zone" json:"time_zone"`

	Spool         SpoolConfig          `mapstructure:"spool" json:"spool"`
	Queue         QueueConfig          `mapstructure:"queue" json:"queue"`
	Kanta         KantaConfig          `mapstructure:"kanta" json:"kanta"`
	Policy        PolicyConfig         `mapstructure:"policy" json:"policy"`
	Organisations []OrganisationConfig `mapstructure:"organisations" json:"organisations"`
	Documents     DocumentsConfig      `mapstructure:"documents" json:"documents"`
	Metrics       MetricsConfig        `mapstructure:"metrics" json:"metrics"`
	Log           LogConfig            `mapstructure:"log" json:"log"`
}

type SpoolConfig struct {
	// Dir is watched for batches (*.ndjson, *.ndjson.gz).
	Dir string `mapstructure:"dir" json:"dir"`
	// PollInterval bounds how long a new batch waits to be noticed.
	PollInterval time.Duration `mapstructure:"poll_interval" json:"poll_interval"`
	// Schedule is an optional cron expression (5 fields) for batch runs.
	Schedule string `mapstructure:"schedule" json:"schedule"`
	// QuarantineDir receives rejected lines (with their reasons).
	QuarantineDir string `mapstructure:"quarantine_dir" json:"quarantine_dir"`
	// DoneDir receives fully ingested batches.
	DoneDir string `mapstructure:"done_dir" json:"done_dir"`
	// MaxLineBytes caps one NDJSON line (a 1 MiB narrative, escaped, plus the rest).
	MaxLineBytes int `mapstructure:"max_line_bytes" json:"max_line_bytes"`
	// MaxFinalizedAhead is how far an entry's finalized_at may lie after the
	// time of reading (clock skew between Apotti and the gateway); a later
	// one is rejected as a clock or export error.
	MaxFinalizedAhead time.Duration `mapstructure:"max_finalized_ahead" json:"max_finalized_ahead"`
}

type QueueConfig struct {
	// Backend is sqlite (embedded default) or postgres (shared by replicas).
	Backend string `mapstructure:"backend" json:"backend"`
	// SQLitePath is the embedded store file (queue, ledger, audit).
	SQLitePath string `mapstructure:"sqlite_path" json:"sqlite_path"`
	// PostgresDSN is the PostgreSQL connection string (secret).
	PostgresDSN string `mapstructure:"postgres_dsn" json:"postgres_dsn"`
	// PostgresDSNFile names a file holding the connection string instead
	// (a mounted secret); give one of the two.
	PostgresDSNFile string `mapstructure:"postgres_dsn_file" json:"postgres_dsn_file"`
	// Workers is how many submissions run at once.
	Workers int `mapstructure:"workers" json:"workers"`
	// RetryBase and RetryCap bound the exponential backoff (full jitter).
	RetryBase time.Duration `mapstructure:"retry_base" json:"retry_base"`
	RetryCap  time.Duration `mapstructure:"retry_cap" json:"retry_cap"`
	// MaxAttempts and MaxRetryAge: a retryable failure is dead-lettered
	// only when both are used up (at least MaxAttempts attempts at Kanta
	// and at least MaxRetryAge since the first failed one). Attempts our
	// own breaker or rate limiter refused count for neither.
	MaxAttempts int           `mapstructure:"max_attempts" json:"max_attempts"`
	MaxRetryAge time.Duration `mapstructure:"max_retry_age" json:"max_retry_age"`
}

type KantaConfig struct {
	// ArchiveURL receives HL7 V3 archive messages.
	ArchiveURL string `mapstructure:"archive_url" json:"archive_url"`
	// FHIRURL receives FHIR document Bundles.
	FHIRURL string `mapstructure:"fhir_url" json:"fhir_url"`
	// TLS client identity and trust roots; empty for plain HTTP on loopback.
	ClientCert string        `mapstructure:"client_cert" json:"client_cert"`
	ClientKey  string        `mapstructure:"client_key" json:"client_key"`
	CACert     string        `mapstructure:"ca_cert" json:"ca_cert"`
	Timeout    time.Duration `mapstructure:"timeout" json:"timeout"`
	// RateLimit is the most submissions per second toward Kanta (0 = none).
	RateLimit float64 `mapstructure:"rate_limit" json:"rate_limit"`
	// Breaker opens after this many consecutive failures and stays open
	// for BreakerOpenFor before letting one trial through.
	BreakerFailures int           `mapstructure:"breaker_failures" json:"breaker_failures"`
	BreakerOpenFor  time.Duration `mapstructure:"breaker_open_for" json:"breaker_open_for"`
	// SenderOID is the gateway's message-party OID (sender device).
	SenderOID string `mapstructure:"sender_oid" json:"sender_oid"`
	// SocialSenderOID is the sender device of social welfare frames when
	// it is not SenderOID: Helsinki's real social welfare frames send as
	// 1.2.246.10.2012566.10.40, their custodian. Empty: SenderOID.
	SocialSenderOID string `mapstructure:"social_sender_oid" json:"social_sender_oid"`
	// ReceiverOID is Kanta's device.
	ReceiverOID string `mapstructure:"receiver_oid" json:"receiver_oid"`
	// Envelope is the transport envelope of archive messages: none (bare
	// XML), soap11 or soap12. Kanta's binding is not public.
	Envelope string `mapstructure:"envelope" json:"envelope"`
	// SOAPAction and QuerySOAPAction are the SOAP actions of the archive
	// message and of the stored-document query (unconfirmed; empty = none).
	SOAPAction      string `mapstructure:"soap_action" json:"soap_action"`
	QuerySOAPAction string `mapstructure:"query_soap_action" json:"query_soap_action"`
	// QueryInteraction is the interaction id of the "is this document
	// stored?" query asked before a resend (unconfirmed placeholder).
	QueryInteraction string `mapstructure:"query_interaction" json:"query_interaction"`
	// MaxUnreadableAnswers is how many answers in a row that are no
	// acknowledgement (an HTML page, an empty body, a SOAP Fault) a
	// delivery may get before it is dead-lettered; below queue.max_attempts.
	MaxUnreadableAnswers int `mapstructure:"max_unreadable_answers" json:"max_unreadable_answers"`
}

type PolicyConfig struct {
	GuardianAgeThreshold int                                   `mapstructure:"guardian_age_threshold" json:"guardian_age_threshold"`
	AdultAge             int                                   `mapstructure:"adult_age" json:"adult_age"`
	Roles                map[documents.Role]documents.RoleRule `mapstructure:"roles" json:"roles"`
}

// OrganisationConfig is one organiser (register keeper) and its signing identity.
type OrganisationConfig struct {
	OID  string `mapstructure:"oid" json:"oid"`
	Name string `mapstructure:"name" json:"name"`
	// DocumentRoot is the OID tree under which document ids are minted
	// (e.g. 1.2.246.10.2012566 for Helsinki).
	DocumentRoot string `mapstructure:"document_root" json:"document_root"`
	// CustodianOID and CustodianName are the register keeper the documents
	// and frames name as custodian, and the serialNumber the system
	// certificate must carry; empty: oid and name. Helsinki's social
	// welfare frames name 1.2.246.10.2012566.10.40 "Helsingin sosiaali- ja
	// terveystoimi".
	CustodianOID  string `mapstructure:"custodian_oid" json:"custodian_oid"`
	CustodianName string `mapstructure:"custodian_name" json:"custodian_name"`
	// Signing identity: a PKCS#12 file with its password, or PEM cert+key.
	PKCS12         string `mapstructure:"pkcs12" json:"pkcs12"`
	PKCS12Password string `mapstructure:"pkcs12_password" json:"pkcs12_password"`
	// PKCS12PasswordFile names a file holding the password instead (a
	// mounted secret); give one of the two.
	PKCS12PasswordFile string `mapstructure:"pkcs12_password_file" json:"pkcs12_password_file"`
	CertPEM            string `mapstructure:"cert_pem" json:"cert_pem"`
	KeyPEM             string `mapstructure:"key_pem" json:"key_pem"`
	// SignatureType: 3 system signature (default), 1 professional's signature.
	SignatureType string `mapstructure:"signature_type" json:"signature_type"`
	// TrustRoots verify our own signatures before they leave (optional).
	TrustRoots string `mapstructure:"trust_roots" json:"trust_roots"`
}

// DocumentsConfig carries routes and the codes the notes leave unconfirmed.
type DocumentsConfig struct {
	// Route per archive: cda, fhir or both.
	Route map[documents.Archive]string `mapstructure:"route" json:"route"`
	// Codes overrides code values by name (see documents' code table).
	// Names contain dots ("health.view.psychology"); in the environment
	// each dot is written "__" (see EnvCodeName).
	Codes map[string]string `mapstructure:"codes" json:"codes"`
	// Social holds the social welfare document choices the public material
	// leaves open (kanta-domain.md 8.2).
	Social SocialDocumentsConfig `mapstructure:"social" json:"social"`
	// Invalidation is how an entered-in-error entry is invalidated, per
	// archive: "kela" (a new version with recordStatus 7 "Poistettu"; in the
	// patient archive also an invalidation body, as Kela's own CDA builder
	// does) or "marker" (a new version whose local header says
	// "mitätöity"). Defaults: patient kela, social marker (Kela's social
	// welfare codes for an invalidation are not public).
	Invalidation map[documents.Archive]string `mapstructure:"invalidation" json:"invalidation"`
}

// SocialDocumentsConfig tunes the SHARK documents (see cda.SocialOptions).
type SocialDocumentsConfig struct {
	// EntryTypes maps encounter.type to the client record entry's specific
	// document type (19003, 19005 or 19013; default 19005, record-only 19013).
	EntryTypes map[documents.EncounterType]string `mapstructure:"entry_types" json:"entry_types"`
	// Titles is the job title (tehtävänimike) per author role when the entry
	// has no author.title.
	Titles map[documents.Role]string `mapstructure:"titles" json:"titles"`
	// ReleaseDate of a MyKanta delay: header (releaseDateForPatientViewing
	// in the social header) or omit (reason only, as the real documents).
	ReleaseDate string `mapstructure:"release_date" json:"release_date"`
}

type MetricsConfig struct {
	// Listen serves /metrics, /healthz and /readyz (empty = off).
	Listen string `mapstructure:"listen" json:"listen"`
	// Server are the operations server's timeouts, body and connection
	// limits (metrics.server.read_timeout etc.; defaults OpsServerLimits).
	Server serverlimits.Limits `mapstructure:"server" json:"server"`
	// Console is the operators' console served on Listen (console.go).
	Console ConsoleConfig `mapstructure:"console" json:"console"`
}

// OpsServerLimits are the default limits of the operations server: a
// scrape or probe is small and quick; a slow or idle client is cut.
var OpsServerLimits = serverlimits.Limits{
	ReadHeaderTimeout: 5 * time.Second,
	ReadTimeout:       10 * time.Second,
	WriteTimeout:      30 * time.Second,
	IdleTimeout:       60 * time.Second,
	MaxBodyBytes:      64 << 10,
	MaxConnections:    32,
}

type LogConfig struct {
	// Format is json, text or auto (text on a terminal).
	Format string `mapstructure:"format" json:"format"`
	Level  string `mapstructure:"level" json:"level"`
}

// Default is the configuration with no file at all: a test environment, a
// local mock Kanta, the embedded queue.
func Default() Config {
	return Config{
		Environment: documents.EnvironmentTest,
		TimeZone:    "Europe/Helsinki",
		Spool: SpoolConfig{
			Dir:           "spool",
			PollInterval:  500 * time.Millisecond,
			QuarantineDir: "spool/quarantine",
			DoneDir:       "spool/done",
			MaxLineBytes:  8 << 20,
			// A day: generous for clock skew, yet a finalized_at years
			// ahead (a wrong century, a test clock) never passes.
			MaxFinalizedAhead: 24 * time.Hour,
		},
		Queue: QueueConfig{
			Backend:     "sqlite",
			SQLitePath:  "data/gateway.db",
			Workers:     16,
			RetryBase:   time.Second,
			RetryCap:    10 * time.Minute,
			MaxAttempts: 25,
			MaxRetryAge: 72 * time.Hour,
		},
		Kanta: KantaConfig{
			ArchiveURL:           "http://127.0.0.1:8089/archive/v1/messages",
			FHIRURL:              "http://127.0.0.1:8089/fhir/r4/Bundle",
			Timeout:              30 * time.Second,
			BreakerFailures:      20,
			BreakerOpenFor:       30 * time.Second,
			SenderOID:            "1.2.246.10.2012566.10.0.13.2.1",
			ReceiverOID:          hl7.OIDKantaDevice,
			Envelope:             "none",
			QueryInteraction:     wire.DefaultQueryInteraction, // unconfirmed placeholder
			MaxUnreadableAnswers: 5,
		},
		Policy: PolicyConfig{
			GuardianAgeThreshold: 12,
			AdultAge:             18,
			Roles:                documents.DefaultRoles(),
		},
		Organisations: []OrganisationConfig{{
			OID:           "1.2.246.10.2012566.19.1",
			Name:          "Helsingin kaupunki",
			DocumentRoot:  "1.2.246.10.2012566",
			SignatureType: "3",
		}},
		Documents: DocumentsConfig{
			Route: map[documents.Archive]string{documents.ArchivePatient: "cda", documents.ArchiveSocial: "cda"},
			Codes: map[string]string{},
			Social: SocialDocumentsConfig{
				EntryTypes: map[documents.EncounterType]string{
					documents.EncounterVisit: "19005", documents.EncounterPhone: "19005", documents.EncounterRemote: "19005",
					documents.EncounterConsultation: "19005", documents.EncounterRecordOnly: "19013",
				},
				Titles:      map[documents.Role]string{documents.RoleSchoolWelfareOfficer: "koulukuraattori", documents.RolePsychologist: "koulupsykologi"},
				ReleaseDate: "header",
			},
			Invalidation: map[documents.Archive]string{
				documents.ArchivePatient: InvalidationKela,
				documents.ArchiveSocial:  InvalidationMarker,
			},
		},
		Metrics: MetricsConfig{Listen: "127.0.0.1:9464", Server: OpsServerLimits, Console: DefaultConsole},
		Log:     LogConfig{Format: "auto", Level: "info"},
	}
}

// Invalidation styles (documents.invalidation).
const (
	InvalidationKela   = "kela"
	InvalidationMarker = "marker"
)

// FieldError names the configuration key that is wrong.
type FieldError struct {
	Key    string
	Reason string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Reason }

// ValidOID reports whether s is a dotted-decimal OID.
func ValidOID(s string) bool { return documents.ValidOID(s) }

// Validate checks every key; the error names the first bad one.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &FieldError{Key: key, Reason: fmt.Sprintf(format, a...)})
	}
	switch c.Environment {
	case documents.EnvironmentTest, documents.EnvironmentProduction:
	default:
		bad("environment", "must be test or production, not %q", c.Environment)
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		bad("time_zone", "unknown time zone %q", c.TimeZone)
	}
	if c.Spool.Dir == "" {
		bad("spool.dir", "must be set")
	}
	// Without them a read batch would have nowhere to go and a rejected
	// line would be dropped: both are required.
	if c.Spool.DoneDir == "" {
		bad("spool.done_dir", "must be set (fully read batches are moved there)")
	}
	if c.Spool.QuarantineDir == "" {
		bad("spool.quarantine_dir", "must be set (rejected lines and corrupt batches are kept there)")
	}
	if c.Spool.PollInterval <= 0 {
		bad("spool.poll_interval", "must be positive")
	}
	if c.Spool.MaxLineBytes < 1<<20 {
		bad("spool.max_line_bytes", "must be at least 1 MiB (narratives may be 1 MiB)")
	}
	if c.Spool.MaxFinalizedAhead <= 0 {
		bad("spool.max_finalized_ahead", "must be positive")
	}
	if c.Spool.Schedule != "" && len(strings.Fields(c.Spool.Schedule)) != 5 {
		bad("spool.schedule", "must be a 5-field cron expression")
	}
	switch c.Queue.Backend {
	case "sqlite":
		if c.Queue.SQLitePath == "" {
			bad("queue.sqlite_path", "must be set for the sqlite backend")
		}
	case "postgres":
		if c.Queue.PostgresDSN == "" {
			bad("queue.postgres_dsn", "must be set for the postgres backend")
		}
	default:
		bad("queue.backend", "must be sqlite or postgres, not %q", c.Queue.Backend)
	}
	if c.Queue.Workers < 1 {
		bad("queue.workers", "must be at least 1")
	}
	if c.Queue.RetryBase <= 0 {
		bad("queue.retry_base", "must be positive")
	}
	if c.Queue.RetryCap < c.Queue.RetryBase {
		bad("queue.retry_cap", "must be at least queue.retry_base")
	}
	if c.Queue.MaxAttempts < 1 {
		bad("queue.max_attempts", "must be at least 1")
	}
	if c.Queue.MaxRetryAge < 0 {
		bad("queue.max_retry_age", "must not be negative")
	}
	// Every URL toward Kanta, in a fixed order so the first bad key named is
	// always the same.
	kantaURLs := []struct{ key, raw string }{{"kanta.archive_url", c.Kanta.ArchiveURL}, {"kanta.fhir_url", c.Kanta.FHIRURL}}
	for _, k := range kantaURLs {
		if u, err := url.Parse(k.raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(k.key, "must be an http or https URL")
		}
	}
	if (c.Kanta.ClientCert == "") != (c.Kanta.ClientKey == "") {
		bad("kanta.client_key", "client_cert and client_key go together")
	}
	if c.Environment == documents.EnvironmentProduction {
		// Documents and the client certificate's session travel to every
		// one of them: plain HTTP is refused for each, FHIR included.
		for _, k := range kantaURLs {
			if u, err := url.Parse(k.raw); err == nil && u.Scheme != "https" {
				bad(k.key, "production requires https")
			}
		}
		if c.Kanta.ClientCert == "" {
			bad("kanta.client_cert", "production requires a client certificate")
		}
	}
	c.validateConsole(bad)
	if err := c.Metrics.Server.Validate(); err != nil {
		var fe *serverlimits.FieldError
		if errors.As(err, &fe) {
			bad("metrics.server."+fe.Key, "%s", strings.TrimPrefix(err.Error(), fe.Key+": "))
		}
	}
	if c.Kanta.Timeout <= 0 {
		bad("kanta.timeout", "must be positive")
	}
	if c.Kanta.RateLimit < 0 {
		bad("kanta.rate_limit", "must not be negative")
	}
	if c.Kanta.BreakerFailures < 1 {
		bad("kanta.breaker_failures", "must be at least 1")
	}
	if c.Kanta.BreakerOpenFor <= 0 {
		bad("kanta.breaker_open_for", "must be positive")
	}
	if !ValidOID(c.Kanta.SenderOID) {
		bad("kanta.sender_oid", "must be an OID")
	}
	switch c.Kanta.Envelope {
	case "none", "soap11", "soap12":
	default:
		bad("kanta.envelope", "must be none, soap11 or soap12, not %q", c.Kanta.Envelope)
	}
	if !validInteraction(c.Kanta.QueryInteraction) {
		bad("kanta.query_interaction", "must be an HL7 V3 interaction id such as RCMR_IN000029UV01, not %q", c.Kanta.QueryInteraction)
	}
	if c.Kanta.MaxUnreadableAnswers < 1 || c.Kanta.MaxUnreadableAnswers >= c.Queue.MaxAttempts {
		bad("kanta.max_unreadable_answers", "must be at least 1 and below queue.max_attempts (%d)", c.Queue.MaxAttempts)
	}
	if !ValidOID(c.Kanta.ReceiverOID) {
		bad("kanta.receiver_oid", "must be an OID")
	}
	if c.Kanta.SocialSenderOID != "" && !ValidOID(c.Kanta.SocialSenderOID) {
		bad("kanta.social_sender_oid", "must be an OID (or empty for kanta.sender_oid)")
	}
	if c.Policy.GuardianAgeThreshold < 1 || c.Policy.GuardianAgeThreshold > c.Policy.AdultAge {
		bad("policy.guardian_age_threshold", "must be between 1 and policy.adult_age")
	}
	if c.Policy.AdultAge < 1 {
		bad("policy.adult_age", "must be positive")
	}
	if len(c.Policy.Roles) == 0 {
		bad("policy.roles", "must map at least one role")
	}
	roles := make([]string, 0, len(c.Policy.Roles))
	for r := range c.Policy.Roles {
		roles = append(roles, string(r))
	}
	sort.Strings(roles)
	for _, r := range roles {
		rule := c.Policy.Roles[documents.Role(r)]
		key := "policy.roles." + r
		switch documents.Role(r) {
		case documents.RolePsychologist, documents.RoleSchoolWelfareOfficer:
		default:
			bad(key, "unknown role (psychologist, school_welfare_officer)")
		}
		switch rule.Archive {
		case documents.ArchivePatient, documents.ArchiveSocial:
		default:
			bad(key+".archive", "must be patient or social, not %q", rule.Archive)
		}
		switch rule.Register {
		case documents.RegisterHealthCarePatient, documents.RegisterSocialWelfareClient:
		default:
			bad(key+".register", "must be health_care_patient or social_welfare_client, not %q", rule.Register)
		}
		if rule.Confidentiality == "" {
			bad(key+".confidentiality", "must be set")
		}
		if rule.SubmitDelay < 0 {
			bad(key+".submit_delay", "must not be negative")
		}
	}
	if len(c.Organisations) == 0 {
		bad("organisations", "must name at least one organiser")
	}
	seen := map[string]bool{}
	for i, o := range c.Organisations {
		key := fmt.Sprintf("organisations[%d]", i)
		if !ValidOID(o.OID) {
			bad(key+".oid", "must be an OID")
		}
		if seen[o.OID] {
			bad(key+".oid", "organiser listed twice")
		}
		seen[o.OID] = true
		if !ValidOID(o.DocumentRoot) {
			bad(key+".document_root", "must be an OID")
		}
		if o.CustodianOID != "" && !ValidOID(o.CustodianOID) {
			bad(key+".custodian_oid", "must be an OID (or empty for the organisation's oid)")
		}
		if o.PKCS12 != "" && (o.CertPEM != "" || o.KeyPEM != "") {
			bad(key+".pkcs12", "give either pkcs12 or cert_pem+key_pem, not both")
		}
		if (o.CertPEM == "") != (o.KeyPEM == "") {
			bad(key+".key_pem", "cert_pem and key_pem go together")
		}
		switch o.SignatureType {
		case "1", "3":
		default:
			bad(key+".signature_type", "must be 1 (professional) or 3 (system), not %q", o.SignatureType)
		}
	}
	for a, r := range c.Documents.Route {
		switch r {
		case "cda", "fhir", "both":
		default:
			bad("documents.route."+string(a), "must be cda, fhir or both, not %q", r)
		}
		if a != documents.ArchivePatient && a != documents.ArchiveSocial {
			bad("documents.route."+string(a), "unknown archive (patient, social)")
		}
	}
	for et, code := range c.Documents.Social.EntryTypes {
		switch et {
		case documents.EncounterVisit, documents.EncounterPhone, documents.EncounterRemote, documents.EncounterConsultation, documents.EncounterRecordOnly:
		default:
			bad("documents.social.entry_types."+string(et), "unknown encounter type")
		}
		if _, ok := sosmeta.EntryTypeOf(code); !ok {
			bad("documents.social.entry_types."+string(et), "must be one of %s, not %q", strings.Join(sosmeta.EntryTypeCodes(), ", "), code)
		}
	}
	for role, title := range c.Documents.Social.Titles {
		if role != documents.RoleSchoolWelfareOfficer && role != documents.RolePsychologist {
			bad("documents.social.titles."+string(role), "unknown role")
		}
		if strings.TrimSpace(title) == "" || len(title) > 200 {
			bad("documents.social.titles."+string(role), "must be 1 to 200 characters")
		}
	}
	switch c.Documents.Social.ReleaseDate {
	case "", "header", "omit":
	default:
		bad("documents.social.release_date", "must be header or omit, not %q", c.Documents.Social.ReleaseDate)
	}
	for a, style := range c.Documents.Invalidation {
		key := "documents.invalidation." + string(a)
		switch {
		case a != documents.ArchivePatient && a != documents.ArchiveSocial:
			bad(key, "unknown archive (patient, social)")
		case style != InvalidationKela && style != InvalidationMarker:
			bad(key, "must be kela or marker, not %q", style)
		}
	}
	switch c.Log.Format {
	case "json", "text", "auto":
	default:
		bad("log.format", "must be json, text or auto")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error")
	}
	return errors.Join(errs...)
}

// zones holds the time zones loaded so far, by name: time.LoadLocation
// opens and parses the zone file on every call (~10 µs), and the builder
// asks for the policy zone once per held document.
var zones sync.Map

// Location is the policy time zone (Validate has checked it).
func (c *Config) Location() *time.Location {
	if loc, ok := zones.Load(c.TimeZone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	zones.Store(c.TimeZone, loc)
	return loc
}

// Policy builds the policy engine from the configuration.
func (c *Config) PolicyEngine() *documents.Policy {
	return &documents.Policy{
		Environment:          c.Environment,
		Location:             c.Location(),
		GuardianAgeThreshold: c.Policy.GuardianAgeThreshold,
		AdultAge:             c.Policy.AdultAge,
		Roles:                c.Policy.Roles,
	}
}

// Custodian returns the register keeper's OID and name: custodian_oid and
// custodian_name, defaulting to oid and name.
func (o OrganisationConfig) Custodian() (oid, name string) {
	return documents.Organisation{OID: o.OID, Name: o.Name, CustodianOID: o.CustodianOID, CustodianName: o.CustodianName}.Custodian()
}

// SenderFor returns the sender device of an archive's frames.
func (k KantaConfig) SenderFor(archive documents.Archive) string {
	if archive == documents.ArchiveSocial && k.SocialSenderOID != "" {
		return k.SocialSenderOID
	}
	return k.SenderOID
}

// Organisation returns the organiser with the given OID.
func (c *Config) Organisation(oid string) (*OrganisationConfig, bool) {
	for i := range c.Organisations {
		if c.Organisations[i].OID == oid {
			return &c.Organisations[i], true
		}
	}
	return nil, false
}

const redacted = "<redacted>"

// Redacted returns a copy safe to print: secrets are replaced, and a
// secret read from a *_file key is left out (the file key is printed).
func (c Config) Redacted() Config {
	out := c
	switch {
	case out.Queue.PostgresDSNFile != "":
		out.Queue.PostgresDSN = ""
	case out.Queue.PostgresDSN != "":
		out.Queue.PostgresDSN = redactDSN(out.Queue.PostgresDSN)
	}
	out.Organisations = append([]OrganisationConfig(nil), c.Organisations...)
	for i := range out.Organisations {
		o := &out.Organisations[i]
		switch {
		case o.PKCS12PasswordFile != "":
			o.PKCS12Password = ""
		case o.PKCS12Password != "":
			o.PKCS12Password = redacted
		}
	}
	if len(c.Metrics.Console.Users) > 0 {
		out.Metrics.Console.Users = append([]ConsoleUser(nil), c.Metrics.Console.Users...)
	}
	for i := range out.Metrics.Console.Users {
		out.Metrics.Console.Users[i].PasswordBcrypt = redacted
	}
	return out
}

// JSON renders the configuration (durations as Go duration strings).
func (c Config) JSON() ([]byte, error) {
	return json.MarshalIndent(c, "", "  ")
}

// validInteraction reports whether s can be an XML element name of an
// HL7 V3 interaction: letters, digits and underscores, a letter first.
func validInteraction(s string) bool {
	if s == "" || !(s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
