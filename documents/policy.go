package documents

import (
	"fmt"
	"time"
)

// Archive is the Kanta archive an entry goes to.
type Archive string

const (
	ArchivePatient Archive = "patient" // Potilastiedon arkisto (health care patient data)
	ArchiveSocial  Archive = "social"  // Sosiaalihuollon asiakastiedon arkisto (SHARK)
)

// Register is the register an entry belongs to. The two professions'
// records are never mixed: each role maps to its own register.
type Register string

const (
	RegisterHealthCarePatient   Register = "health_care_patient"
	RegisterSocialWelfareClient Register = "social_welfare_client"
)

// Environment is the Kanta environment the gateway is aimed at.
type Environment string

const (
	EnvironmentTest       Environment = "test"
	EnvironmentProduction Environment = "production"
)

// Outcome of the policy for one entry revision.
type Outcome string

const (
	OutcomeSubmit     Outcome = "submit"
	OutcomeHold       Outcome = "hold"
	OutcomeSkip       Outcome = "skip"
	OutcomeReject     Outcome = "reject"
	OutcomeInvalidate Outcome = "invalidate"
)

// ReasonClass is a bounded classification of a decision's reason, safe to
// use as a metric label. The free-text Reason says more.
type ReasonClass string

const (
	ReasonDue                 ReasonClass = "due"
	ReasonNotYetDue           ReasonClass = "not_yet_due"
	ReasonDraft               ReasonClass = "draft"
	ReasonClosedBeforeGoLive  ReasonClass = "closed_before_go_live"
	ReasonMissingReasonCode   ReasonClass = "missing_reason_code"
	ReasonIdentityEnvironment ReasonClass = "identity_code_environment"
	ReasonRoleServiceMismatch ReasonClass = "role_service_mismatch"
	ReasonUnmappedRole        ReasonClass = "unmapped_role"
	ReasonNothingToInvalidate ReasonClass = "nothing_to_invalidate"
	ReasonInvalidInput        ReasonClass = "invalid_input"
	ReasonEnteredInError      ReasonClass = "entered_in_error"
)

// RoleRule is the configurable policy of one profession.
type RoleRule struct {
	Archive         Archive     `mapstructure:"archive" json:"archive"`
	Register        Register    `mapstructure:"register" json:"register"`
	ServiceKind     ServiceKind `mapstructure:"service_kind" json:"service_kind"`
	Confidentiality string      `mapstructure:"confidentiality" json:"confidentiality"`
	// GoLive is the first day (in the policy's time zone) this role's entries
	// may be sent. Zero means they are due as soon as they are finalized.
	GoLive Date `mapstructure:"go_live" json:"go_live"`
	// SkipClosedBeforeGoLive keeps entries of client relationships closed
	// before GoLive local, as earlier practice did.
	SkipClosedBeforeGoLive bool `mapstructure:"skip_closed_before_go_live" json:"skip_closed_before_go_live"`
	// SubmitDelay holds every entry this long after finalization (a grace
	// period for the author's own corrections). Zero by default.
	SubmitDelay time.Duration `mapstructure:"submit_delay" json:"submit_delay"`
}

// Policy decides, per entry revision, what happens to it.
type Policy struct {
	Environment Environment `mapstructure:"-" json:"-"`
	Location    *time.Location
	// GuardianAgeThreshold: under this age the guardian sees entries unless a
	// professional prohibited it; from it on only with the minor's consent.
	GuardianAgeThreshold int
	// AdultAge ends guardian access.
	AdultAge int
	Roles    map[Role]RoleRule
}

// DefaultRoles is the policy of Helsinki's student welfare as of 2026.
func DefaultRoles() map[Role]RoleRule {
	return map[Role]RoleRule{
		RolePsychologist: {
			Archive:         ArchivePatient,
			Register:        RegisterHealthCarePatient,
			ServiceKind:     ServiceSchoolPsychology,
			Confidentiality: "5",
		},
		RoleSchoolWelfareOfficer: {
			Archive:                ArchiveSocial,
			Register:               RegisterSocialWelfareClient,
			ServiceKind:            ServiceSchoolSocialWork,
			Confidentiality:        "6",
			GoLive:                 MustDate("2026-09-01"),
			SkipClosedBeforeGoLive: true,
		},
	}
}

// History answers what the gateway has already taken in for an entry: the
// highest revision that was submitted or is held. The durable ledger
// implements it; a dry run uses what it has seen in its own input.
type History interface {
	LatestAccepted(entryID string) (revision int, ok bool)
}

// NoHistory knows nothing.
type NoHistory struct{}

func (NoHistory) LatestAccepted(string) (int, bool) { return 0, false }

// Decision is the policy's verdict on one entry revision.
type Decision struct {
	Outcome     Outcome
	ReasonClass ReasonClass
	Reason      string
	// Field is the JSON path of the input field a rejection is about
	// (quarantined with the line); empty for other outcomes.
	Field string

	Role     Role
	Archive  Archive
	Register Register
	// NotBefore is when the entry may be sent (submit, hold, invalidate).
	NotBefore time.Time

	Display         Display
	ReleaseDate     Date // MyKanta release date when delayed
	Concealed       bool // hidden from the client in MyKanta
	GuardianVisible bool
	// Guardian is why the guardian may or may not see the entry; the
	// builders map it to the national code (health care:
	// 1.2.246.537.5.40202.201901). Empty for an adult client.
	Guardian        GuardianBasis
	Confidentiality string
}

// GuardianBasis is the ground of the guardian decision for a minor client.
type GuardianBasis string

const (
	// GuardianNotApplicable: the client is of age; a guardian has no access.
	GuardianNotApplicable GuardianBasis = ""
	// GuardianMinorNotCapable: under the age threshold, not capable of
	// deciding; disclosed (code 1).
	GuardianMinorNotCapable GuardianBasis = "minor_not_capable"
	// GuardianConsentGranted: capable of deciding, allows disclosure (code 2).
	GuardianConsentGranted GuardianBasis = "consent_granted"
	// GuardianConsentRefused: capable of deciding, forbids disclosure (code 3).
	GuardianConsentRefused GuardianBasis = "consent_refused"
	// GuardianNotAssessed: capability unknown; not disclosed (code 4).
	GuardianNotAssessed GuardianBasis = "not_assessed"
	// GuardianProhibitedByProfessional: a professional forbade disclosure
	// as against the child's interests. No national code for it has been
	// seen: the builders use a configurable one.
	GuardianProhibitedByProfessional GuardianBasis = "professional_prohibited"
)

// GuardianBases lists every basis of a minor, in code order.
func GuardianBases() []GuardianBasis {
	return []GuardianBasis{GuardianMinorNotCapable, GuardianConsentGranted, GuardianConsentRefused, GuardianNotAssessed, GuardianProhibitedByProfessional}
}

// Disclosed reports whether the basis lets the guardian see the entry.
func (g GuardianBasis) Disclosed() bool {
	return g == GuardianMinorNotCapable || g == GuardianConsentGranted
}

// Decide applies the policy to a validated entry at the time now.
func (p *Policy) Decide(e *Entry, now time.Time, h History) Decision {
	if h == nil {
		h = NoHistory{}
	}
	rule, ok := p.Roles[e.Author.Role]
	if !ok {
		return reject(ReasonUnmappedRole, "author.role", fmt.Sprintf("author.role %q has no policy", e.Author.Role))
	}
	d := Decision{
		Role:            e.Author.Role,
		Archive:         rule.Archive,
		Register:        rule.Register,
		Confidentiality: rule.Confidentiality,
		Display:         e.MyKanta.Display,
	}
	if d.Display == "" {
		d.Display = DisplayVisible
	}

	if info, err := ParseHetu(e.Client.Hetu); err != nil {
		return d.rejected(ReasonInvalidInput, "client.hetu", "client.hetu: "+err.Error())
	} else if p.Environment == EnvironmentProduction && info.IsTestCode() {
		return d.rejected(ReasonIdentityEnvironment, "client.hetu", "client.hetu: test identity code refused in production")
	} else if p.Environment != EnvironmentProduction && !info.IsTestCode() {
		return d.rejected(ReasonIdentityEnvironment, "client.hetu", "client.hetu: only test identity codes (individual number 900-999) are accepted in the test environment")
	}
	if rule.ServiceKind != "" && e.Service.Kind != rule.ServiceKind {
		return d.rejected(ReasonRoleServiceMismatch, "service.kind", fmt.Sprintf("service.kind %q does not belong to author.role %q (registers are never mixed)", e.Service.Kind, e.Author.Role))
	}

	switch e.Status {
	case StatusDraft:
		return d.skipped(ReasonDraft, "draft entries are not submitted")
	case StatusEnteredInError:
		if _, known := h.LatestAccepted(e.ID); !known {
			return d.skipped(ReasonNothingToInvalidate, "entered-in-error, but no earlier revision was submitted")
		}
	}

	if d.Display == DisplayDelayed || d.Display == DisplayHidden {
		if e.MyKanta.ReasonCode == "" {
			return d.rejected(ReasonMissingReasonCode, "restrictions.mykanta.reason_code", fmt.Sprintf("restrictions.mykanta.reason_code is required when display is %s", d.Display))
		}
	}
	d.Concealed = d.Display == DisplayHidden
	if d.Display == DisplayDelayed {
		d.ReleaseDate = e.MyKanta.ReleaseDate
	}

	if rule.SkipClosedBeforeGoLive && !rule.GoLive.IsZero() {
		if cr := e.ClientRelationship; cr != nil && cr.Closed != nil && cr.Closed.Before(rule.GoLive) {
			return d.skipped(ReasonClosedBeforeGoLive, "closed before social welfare go-live")
		}
	}

	d.Guardian = p.guardianBasis(e)
	d.GuardianVisible = d.Guardian.Disclosed()

	notBefore := e.FinalizedAt.Add(rule.SubmitDelay)
	if e.FinalizedAt.IsZero() {
		notBefore = now
	}
	if !rule.GoLive.IsZero() {
		if goLive := rule.GoLive.Start(p.location()); goLive.After(notBefore) {
			notBefore = goLive
		}
	}
	d.NotBefore = notBefore

	if e.Status == StatusEnteredInError {
		d.Outcome, d.ReasonClass, d.Reason = OutcomeInvalidate, ReasonEnteredInError, "entered in error: earlier revisions are invalidated"
		return d
	}
	if notBefore.After(now) {
		d.Outcome, d.ReasonClass = OutcomeHold, ReasonNotYetDue
		d.Reason = "not due before " + notBefore.In(p.location()).Format(time.RFC3339)
		return d
	}
	d.Outcome, d.ReasonClass, d.Reason = OutcomeSubmit, ReasonDue, "due"
	return d
}

// guardianBasis applies the guardian rules at the entry's date (the day
// it was finalized, or the encounter's day for lines without that).
func (p *Policy) guardianBasis(e *Entry) GuardianBasis {
	at := e.FinalizedAt
	if at.IsZero() {
		at = e.Encounter.Start
	}
	age := e.Client.BirthDate.AgeOn(DateOf(at.In(p.location())))
	switch {
	case age >= p.AdultAge:
		return GuardianNotApplicable
	case e.Guardian.ProhibitedByProfessional:
		return GuardianProhibitedByProfessional
	case age < p.GuardianAgeThreshold:
		return GuardianMinorNotCapable
	}
	switch e.Guardian.MinorConsent {
	case ConsentGranted:
		return GuardianConsentGranted
	case ConsentRefused:
		return GuardianConsentRefused
	default:
		return GuardianNotAssessed
	}
}

func (p *Policy) location() *time.Location {
	if p.Location == nil {
		return time.UTC
	}
	return p.Location
}

func reject(c ReasonClass, field, reason string) Decision {
	return Decision{Outcome: OutcomeReject, ReasonClass: c, Reason: reason, Field: field}
}

func (d Decision) rejected(c ReasonClass, field, reason string) Decision {
	d.Outcome, d.ReasonClass, d.Reason, d.Field = OutcomeReject, c, reason, field
	d.GuardianVisible, d.Guardian, d.Concealed, d.ReleaseDate = false, GuardianNotApplicable, false, Date{}
	return d
}

func (d Decision) skipped(c ReasonClass, reason string) Decision {
	d.Outcome, d.ReasonClass, d.Reason = OutcomeSkip, c, reason
	return d
}
